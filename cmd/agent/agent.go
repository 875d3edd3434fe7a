package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/openrescale/platform/shared/blob"
	"github.com/openrescale/platform/shared/compute/agentspec"
	"github.com/openrescale/platform/shared/worker"
)

// Node is where this container sits in its Batch job: AWS Batch's
// AWS_BATCH_JOB_NODE_INDEX, AWS_BATCH_JOB_MAIN_NODE_INDEX,
// AWS_BATCH_JOB_NUM_NODES and (on the other nodes only)
// AWS_BATCH_JOB_MAIN_NODE_PRIVATE_IPV4_ADDRESS. A single-node job has none
// of them: it is its own main node.
type Node struct {
	Index, Main, Count int
	MainAddress        string
}

// IsMain reports whether this node runs the command.
func (n Node) IsMain() bool { return n.Index == n.Main }

// Config is everything the agent needs, read once by main.
type Config struct {
	Spec   agentspec.Spec
	Bucket blob.Bucket
	// Software says how analysis versions run in this image.
	Software worker.SoftwareMap
	Sandbox  worker.Sandbox
	// Root holds the run's directories (the instance's scratch volume).
	Root string
	// LogInterval is how often process_output.log is uploaded while the
	// command runs, so the tail endpoint shows progress.
	LogInterval time.Duration
	// Grace is a graceful stop's SIGTERM → SIGKILL wait; it and the
	// uploads after it must fit in ECS's stop timeout (30 s by default),
	// after which the container is killed.
	Grace time.Duration
	Node  Node
	Log   *slog.Logger
}

// Agent performs one run.
type Agent struct {
	cfg Config
}

// New returns an Agent.
func New(cfg Config) *Agent {
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.LogInterval <= 0 {
		cfg.LogInterval = 10 * time.Second
	}
	if cfg.Sandbox == nil {
		cfg.Sandbox = worker.None{}
	}
	return &Agent{cfg: cfg}
}

// Run performs the run and returns the container's exit code (see
// agentspec). term is closed when the container is asked to stop
// (SIGTERM: Batch's TerminateJob): the command is stopped gracefully and
// the outputs are uploaded before Run returns.
func (a *Agent) Run(ctx context.Context, term <-chan struct{}) int {
	s, log := a.cfg.Spec, a.cfg.Log.With("job", a.cfg.Spec.JobID, "run", a.cfg.Spec.RunID)
	if !a.cfg.Node.IsMain() {
		// The main node runs the command (its mpirun reaches this node);
		// Batch ends this container when the main node's ends.
		log.Info("not the main node: waiting", "node", a.cfg.Node.Index, "main", a.cfg.Node.Main)
		select {
		case <-term:
		case <-ctx.Done():
		}
		return 0
	}
	base := filepath.Join(a.cfg.Root, "job_"+s.JobID, "run"+s.RunID)
	dir := filepath.Join(base, "work")
	if err := os.RemoveAll(base); err != nil {
		log.Error("clear run directory", "err", err)
		return agentspec.ExitSystem
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		log.Error("create run directory", "err", err)
		return agentspec.ExitSystem
	}
	logPath := filepath.Join(dir, worker.LogName)

	sw, hasSW, err := a.cfg.Software.Find(s.Analysis, s.AnalysisVersion, "")
	if err != nil {
		return a.failEarly(ctx, log, logPath, agentspec.ExitSystem, fmt.Errorf("this image cannot run the job: %w", err))
	}
	inputs := make([]worker.Input, len(s.Inputs))
	var executable []string
	for i, in := range s.Inputs {
		key := in.Key
		inputs[i] = worker.Input{Name: in.Name, Open: func(ctx context.Context) (io.ReadCloser, error) {
			return a.cfg.Bucket.NewRangeReader(ctx, key, 0, -1)
		}}
		if in.Executable {
			executable = append(executable, in.Name)
		}
	}
	cores := s.Cores
	if s.Nodes > 1 {
		cores = s.CoresPerNode // the worker's hostfile lists this machine only
	}
	job := worker.Job{
		Inputs: inputs, Executable: executable, StorageBytes: s.StorageBytes,
		Spec: worker.Spec{
			Dir: dir, Command: s.Command, PreCommand: s.PreCommand, PostCommand: s.PostCommand,
			Env: a.env(), Cores: max(cores, 1), UseMPI: s.UseMPI,
			Walltime: time.Duration(s.WalltimeSeconds) * time.Second,
			Log:      logPath, Sandbox: a.cfg.Sandbox, Grace: a.cfg.Grace, Scratch: base,
		},
	}
	if hasSW {
		job.Spec.Software = &sw
	}
	// The command's context is not ctx: a stop must let the command and
	// the uploads finish, so only term stops it.
	x := worker.Execute(context.WithoutCancel(ctx), job, func() { log.Info("command started") })
	go func() {
		select {
		case <-term:
			log.Info("asked to stop: stopping the command gracefully")
			x.Stop(worker.Graceful)
		case <-x.Done():
		}
	}()
	streamed := a.streamLog(ctx, log, logPath, x.Done())
	out := x.Wait()
	<-streamed

	upCtx := context.WithoutCancel(ctx)
	if !out.Started && out.Err != nil {
		code := agentspec.ExitSystem
		if errors.Is(out.Err, worker.ErrUnsafePath) {
			code = agentspec.ExitInputs
		}
		return a.failEarly(upCtx, log, logPath, code, out.Err)
	}
	code := exitCode(out)
	log.Info("command ended", "exitCode", out.Result.ExitCode, "signal", out.Result.Signal,
		"walltime", out.Result.WalltimeExceeded, "stopped", out.Stopped.String(), "err", out.Result.Err)
	if err := a.upload(upCtx, dir, out.Staged); err != nil {
		log.Error("upload outputs", "err", err)
		return agentspec.ExitSystem
	}
	return code
}

// exitCode is what the container reports for a run whose commands
// started: see agentspec.
func exitCode(out worker.Outcome) int {
	res := out.Result
	switch {
	case res.WalltimeExceeded:
		return agentspec.ExitWalltime
	case res.Err != nil:
		return agentspec.ExitSystem
	case res.Signal != "":
		return 128 + worker.SignalNumber(res.Signal)
	case res.ExitCode < 0:
		return agentspec.ExitSystem
	}
	return res.ExitCode
}

// env is the command's environment: the spec's, plus where the job's
// nodes are for a multi-node run.
func (a *Agent) env() map[string]string {
	env := make(map[string]string, len(a.cfg.Spec.Env)+3)
	for k, v := range a.cfg.Spec.Env {
		env[k] = v
	}
	if n := a.cfg.Node; n.Count > 1 {
		env["RESCALE_NODE_COUNT"] = strconv.Itoa(n.Count)
		env["RESCALE_NODE_INDEX"] = strconv.Itoa(n.Index)
	}
	return env
}

// failEarly records why the run could not start in its log, uploads the
// log alone (the reason the job's status points at) and returns code.
func (a *Agent) failEarly(ctx context.Context, log *slog.Logger, logPath string, code int, why error) int {
	log.Error("the run could not start", "err", why)
	f, err := os.OpenFile(logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err == nil {
		fmt.Fprintf(f, "%s\n", why)
		err = f.Close()
	}
	if err == nil {
		err = a.putFile(ctx, logPath, a.cfg.Spec.OutputPrefix+worker.LogName)
	}
	if err != nil {
		log.Error("upload process_output.log", "err", err)
		return agentspec.ExitSystem
	}
	return code
}

// putFile uploads the file's current length: a log still being written
// grows after the size is taken, and the rest goes up next time.
func (a *Agent) putFile(ctx context.Context, path, key string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	_, err = a.cfg.Bucket.Put(ctx, key, io.NewSectionReader(f, 0, fi.Size()), "")
	return err
}

// streamLog uploads the log every LogInterval while the command runs,
// when it has changed; the returned channel is closed once it has
// stopped, after done. The final log goes up with the outputs.
func (a *Agent) streamLog(ctx context.Context, log *slog.Logger, logPath string, done <-chan struct{}) <-chan struct{} {
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		t := time.NewTicker(a.cfg.LogInterval)
		defer t.Stop()
		var last struct {
			size int64
			mod  time.Time
		}
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-t.C:
			}
			fi, err := os.Stat(logPath)
			if err != nil || fi.Size() == last.size && fi.ModTime().Equal(last.mod) {
				continue
			}
			if err := a.putFile(ctx, logPath, a.cfg.Spec.OutputPrefix+worker.LogName); err != nil {
				// The next tick tries again; the outputs' upload is what
				// must succeed.
				log.Warn("upload process_output.log while running", "err", err)
				continue
			}
			last.size, last.mod = fi.Size(), fi.ModTime()
		}
	}()
	return stopped
}

// uploadWorkers is how many outputs go up at once: each S3 PUT waits on a
// round trip, and a stopped container has seconds for all of them.
const uploadWorkers = 16

// upload puts the outputs under the output prefix, as the local executor
// does, and removes the live copy of the log if the filters leave it out.
func (a *Agent) upload(ctx context.Context, dir string, staged worker.Staged) error {
	s := a.cfg.Spec
	filter := worker.Filter{Include: s.Include, Exclude: s.Exclude, Skip: staged.Archives}
	var logPut atomic.Bool
	n, bytes, err := worker.CollectConcurrently(ctx, dir, filter, uploadWorkers, func(ctx context.Context, rel string, size int64, body io.Reader) error {
		if rel == worker.LogName {
			logPut.Store(true)
		}
		_, err := a.cfg.Bucket.Put(ctx, s.OutputPrefix+rel, body, "")
		return err
	})
	if err != nil {
		return err
	}
	if !logPut.Load() {
		if err := a.cfg.Bucket.Delete(ctx, s.OutputPrefix+worker.LogName); err != nil {
			return err
		}
	}
	a.cfg.Log.Info("outputs uploaded", "files", n, "bytes", bytes)
	return nil
}
