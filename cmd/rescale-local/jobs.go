package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/openrescale/platform/events/runstate"
	"github.com/openrescale/platform/shared/asl"
	"github.com/openrescale/platform/shared/compute"
	"github.com/openrescale/platform/shared/compute/localexec"
	"github.com/openrescale/platform/shared/errs"
	"github.com/openrescale/platform/shared/lifecycle"
	"github.com/openrescale/platform/shared/worker"
	"github.com/openrescale/platform/statemachines"
)

// debianOpenFOAM is the environment of Debian's openfoam package
// (OpenFOAM v1912), the software map's entry when it is installed and no
// --software file is given.
const debianOpenFOAM = "/usr/share/openfoam/etc/bashrc"

// loadSoftware reads the software map: how each analysis version runs on
// this machine. Without a file, Debian's OpenFOAM is used if installed.
func loadSoftware(path string) (localexec.Software, error) {
	if path == "" {
		sw := localexec.Software{}
		if _, err := os.Stat(debianOpenFOAM); err == nil {
			sw["openfoam"] = map[string]worker.Software{
				"v1912-openmpi": {EnvScript: debianOpenFOAM, Requires: []string{"simpleFoam"}, OpenFOAM: true},
			}
		}
		return sw, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("software map: %w", err)
	}
	var sw localexec.Software
	if err := json.Unmarshal(b, &sw); err != nil {
		return nil, fmt.Errorf("software map %s: %w", path, err)
	}
	return sw, nil
}

// sandboxFor picks how jobs are isolated: bubblewrap unless the operator
// explicitly opts out.
func sandboxFor(name string) (worker.Sandbox, error) {
	switch name {
	case "bwrap":
		p, err := exec.LookPath("bwrap")
		if err != nil {
			return nil, errors.New("jobs run in a bubblewrap sandbox and bwrap is not installed (apt-get install bubblewrap), or start with --sandbox=none to run jobs unisolated")
		}
		return worker.Bubblewrap{Path: p}, nil
	case "none":
		return worker.None{}, nil
	}
	return nil, fmt.Errorf("--sandbox must be bwrap or none, not %q", name)
}

// orchestrator adapts the ASL runner to the lifecycle's port.
type orchestrator struct{ r *asl.Runner }

func (o orchestrator) Start(ctx context.Context, name string, input json.RawMessage) (bool, error) {
	return o.r.Start(ctx, name, input)
}

func (o orchestrator) SendTaskSuccess(ctx context.Context, token string, out json.RawMessage) error {
	return o.r.SendTaskSuccess(ctx, token, out)
}

func (o orchestrator) SendTaskFailure(ctx context.Context, token, name, cause string) error {
	return o.r.SendTaskFailure(ctx, token, name, cause)
}

func (o orchestrator) Status(ctx context.Context, name string) (string, error) {
	ex, err := o.r.Describe(ctx, name)
	if err != nil {
		return "", err
	}
	return ex.Status, nil
}

// aslTask turns a lifecycle step into a runner task: a step's named
// failure becomes the error name the definition's Retry and Catch match.
func aslTask(fn lifecycle.StepFunc) asl.TaskFunc {
	return func(ctx context.Context, in json.RawMessage, token string) (json.RawMessage, error) {
		out, err := fn(ctx, in, token)
		var se *lifecycle.StepError
		if errors.As(err, &se) {
			return nil, &asl.Error{Name: se.Name, Cause: se.Cause}
		}
		return out, err
	}
}

// jobRunner is what runs jobs locally: the executor, the lifecycle and
// the ASL runner over the one state machine definition.
type jobRunner struct {
	exec      *localexec.Executor
	lifecycle *lifecycle.Service
	runner    *asl.Runner
	log       *slog.Logger
	stop      chan struct{}
}

// reconcileEvery is how often the reconciler compares running jobs with
// their processes, besides at start-up.
const reconcileEvery = time.Minute

func (m *Main) openJobRunner(lc lifecycle.Config, software localexec.Software, sandbox worker.Sandbox) (*jobRunner, error) {
	jr := &jobRunner{log: m.log, stop: make(chan struct{})}
	var svc *lifecycle.Service
	sink := func(ctx context.Context, ev compute.Event) error {
		return runstate.Handler{Lifecycle: svc}.Handle(ctx, ev)
	}
	ex, err := localexec.New(localexec.Config{
		Root: filepath.Join(m.cfg.DataDir, "runs"), Cores: m.cfg.Cores, Software: software, Sandbox: sandbox,
		Bucket: lc.Bucket, Sink: sink, Grace: m.cfg.StopGrace, Log: m.log,
	})
	if err != nil {
		return nil, err
	}
	jr.exec = ex
	lc.Compute = ex
	svc = lifecycle.New(lc)
	jr.lifecycle = svc
	def, err := asl.Parse(statemachines.Job, lifecycle.Placeholders())
	if err != nil {
		ex.Close()
		return nil, fmt.Errorf("job state machine: %w", err)
	}
	tasks := map[string]asl.TaskFunc{}
	for name, fn := range svc.Steps() {
		tasks[name] = aslTask(fn)
	}
	jr.runner, err = asl.New(asl.Config{Machine: def, Tasks: tasks, Store: lc.Store, Now: time.Now, Sleep: sleep, Log: m.log})
	if err != nil {
		ex.Close()
		return nil, fmt.Errorf("job state machine: %w", err)
	}
	svc.SetOrchestrator(orchestrator{jr.runner})
	return jr, nil
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// start resumes the executions a previous server left running, then
// reconciles every unfinished job with its compute, now and on a schedule.
func (jr *jobRunner) start(ctx context.Context) error {
	n, err := jr.runner.Resume(ctx)
	if err != nil {
		return fmt.Errorf("resume job executions: %w", err)
	}
	if n > 0 {
		jr.log.Info("resumed job executions", "count", n)
	}
	jr.reconcile(ctx)
	go func() {
		t := time.NewTicker(reconcileEvery)
		defer t.Stop()
		for {
			select {
			case <-jr.stop:
				return
			case <-t.C:
				jr.reconcile(context.Background())
			}
		}
	}()
	return nil
}

func (jr *jobRunner) reconcile(ctx context.Context) {
	n, err := jr.lifecycle.Reconcile(ctx)
	if err != nil && !errs.Is(err, errs.Unavailable) {
		jr.log.Warn("reconcile jobs", "err", err)
	}
	if n > 0 {
		jr.log.Info("reconciled jobs", "changed", n)
	}
}

// close kills running processes without reporting them (a restart's
// reconciler finds them gone and the state machine retries them), then
// stops the runner; executions stay persisted for the next start.
func (jr *jobRunner) close() error {
	select {
	case <-jr.stop:
	default:
		close(jr.stop)
	}
	err := jr.exec.Close()
	return errors.Join(err, jr.runner.Close())
}
