// Package localexec is the compute adapter of rescale-local: runs are real
// processes on this machine, each in its own working directory and
// sandbox (shared/worker), and the machine's cores are the cluster.
//
// A job reserves slots × coresPerSlot cores for its whole life; jobs that
// do not fit wait in submission order (first come, first served: a small
// job never overtakes a large one that waits, so the large one cannot
// starve). Runs report Running and Exited through the Sink; outputs are
// written to the bucket under the run's output prefix before Exited is
// reported, so the collect step finds all of them.
package localexec

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/openrescale/platform/shared/blob"
	"github.com/openrescale/platform/shared/compute"
	"github.com/openrescale/platform/shared/errs"
	"github.com/openrescale/platform/shared/worker"
)

// Software says how analysis versions run here (the job agent reads the
// same map): analysis code → version code (or "*" for any version) → how
// to set it up.
type Software = worker.SoftwareMap

// Config holds the executor's dependencies and settings.
type Config struct {
	// Root holds one directory per run: <Root>/<job>/run<n>/work.
	Root     string
	Cores    int
	Software Software
	Sandbox  worker.Sandbox
	Bucket   blob.Bucket
	Sink     compute.Sink
	// Grace is a graceful stop's SIGTERM → SIGKILL wait.
	Grace time.Duration
	// KeepRunDirs keeps working directories after their outputs are saved
	// (debugging); by default they are removed.
	KeepRunDirs bool
	Log         *slog.Logger
}

// Executor is the adapter.
type Executor struct {
	cfg Config
	log *slog.Logger

	mu       sync.Mutex
	used     int
	reserved map[string]int              // job → cores
	queue    []*waiter                   // FIFO
	stopped  map[string]compute.StopMode // jobs stopped: no new runs, no reservations
	runs     map[string]*run             // job/run → running
	slots    map[string]chan struct{}    // job → its runs' share of its reservation
	closing  bool
	wg       sync.WaitGroup
	ctx      context.Context
	cancel   context.CancelFunc
}

type waiter struct {
	job   string
	cores int
	ready chan error // buffered 1
}

type run struct {
	spec  compute.Run
	dir   string
	slot  chan struct{}
	mu    sync.Mutex
	exec  *worker.Execution
	stop  compute.StopMode
	stopc chan struct{} // closed when stop is first set
}

var (
	_ compute.Compute = (*Executor)(nil)
	_ compute.Live    = (*Executor)(nil)
)

// New returns an Executor.
func New(cfg Config) (*Executor, error) {
	if cfg.Grace <= 0 {
		// Zero means no grace, not the worker's default.
		cfg.Grace = time.Millisecond
	}
	if cfg.Cores < 1 {
		return nil, fmt.Errorf("localexec: cores must be at least 1, not %d", cfg.Cores)
	}
	if cfg.Sandbox == nil {
		return nil, errors.New("localexec: a sandbox is required (worker.None to run unsandboxed)")
	}
	// Runs start in their own directory with commands that may cd, and
	// the worker takes absolute paths only: "./data" (the default data
	// directory) must not reach it as given.
	root, err := filepath.Abs(cfg.Root)
	if err != nil {
		return nil, fmt.Errorf("localexec: %w", err)
	}
	cfg.Root = root
	if err := os.MkdirAll(cfg.Root, 0o700); err != nil {
		return nil, fmt.Errorf("localexec: %w", err)
	}
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Executor{cfg: cfg, log: log, reserved: map[string]int{}, stopped: map[string]compute.StopMode{},
		runs: map[string]*run{}, slots: map[string]chan struct{}{}, ctx: ctx, cancel: cancel}, nil
}

// Close kills every run without reporting it: the server is going away,
// and on its next start the reconciler finds the runs gone and the state
// machine retries them.
func (e *Executor) Close() error {
	e.mu.Lock()
	e.closing = true
	for _, w := range e.queue {
		w.ready <- errs.E(errs.Unavailable, "the server is shutting down")
	}
	e.queue = nil
	e.mu.Unlock()
	e.cancel()
	e.wg.Wait()
	return nil
}

// Check refuses what this machine cannot run.
func (e *Executor) Check(ctx context.Context, req compute.Requirements) error {
	if req.Cores > e.cfg.Cores {
		return errs.E(errs.Invalid, "the job asks for %d cores and this machine has %d", req.Cores, e.cfg.Cores)
	}
	sw, ok, err := e.software(req)
	if err != nil {
		return err
	}
	if ok {
		if err := sw.Check(ctx); err != nil {
			// The worker's own prefixes mean nothing to the job's owner.
			msg := strings.ReplaceAll(err.Error(), "worker: ", "")
			return errs.E(errs.Invalid, "%s %s is configured on this machine but cannot run: %s", req.Analysis, req.VersionName, msg)
		}
	}
	if req.StorageBytes > 0 {
		if err := worker.CheckDisk(e.cfg.Root, req.StorageBytes); err != nil {
			return errs.E(errs.Invalid, "the job asks for %d bytes of storage: %v", req.StorageBytes, err)
		}
	}
	return nil
}

// software finds how an analysis version runs here; ok is false for
// analyses that need nothing (user_included).
func (e *Executor) software(req compute.Requirements) (worker.Software, bool, error) {
	sw, ok, err := e.cfg.Software.Find(req.Analysis, req.Version, req.VersionName)
	if err != nil {
		return worker.Software{}, false, errs.E(errs.Invalid, "%s", err.Error())
	}
	return sw, ok, nil
}

// Reserve waits for the job's cores in submission order.
func (e *Executor) Reserve(ctx context.Context, jobID string, cores int, waiting func()) error {
	e.mu.Lock()
	if _, ok := e.stopped[jobID]; ok {
		e.mu.Unlock()
		return compute.ErrStopped
	}
	if _, ok := e.reserved[jobID]; ok {
		e.mu.Unlock()
		return nil
	}
	if cores > e.cfg.Cores {
		e.mu.Unlock()
		return errs.E(errs.Invalid, "the job asks for %d cores and this machine has %d", cores, e.cfg.Cores)
	}
	if len(e.queue) == 0 && e.used+cores <= e.cfg.Cores {
		e.grant(jobID, cores)
		e.mu.Unlock()
		return nil
	}
	w := &waiter{job: jobID, cores: cores, ready: make(chan error, 1)}
	e.queue = append(e.queue, w)
	e.mu.Unlock()
	if waiting != nil {
		waiting()
	}
	select {
	case err := <-w.ready:
		return err
	case <-ctx.Done():
		e.mu.Lock()
		defer e.mu.Unlock()
		if i := slices.Index(e.queue, w); i >= 0 {
			e.queue = slices.Delete(e.queue, i, i+1)
			e.admit()
			return ctx.Err()
		}
		// Granted or refused meanwhile.
		if err := <-w.ready; err != nil {
			return err
		}
		e.releaseLocked(jobID)
		return ctx.Err()
	}
}

func (e *Executor) grant(job string, cores int) {
	e.reserved[job] = cores
	e.used += cores
}

// admit grants waiting jobs from the head of the queue while they fit.
func (e *Executor) admit() {
	for len(e.queue) > 0 && e.used+e.queue[0].cores <= e.cfg.Cores {
		w := e.queue[0]
		e.queue = e.queue[1:]
		e.grant(w.job, w.cores)
		w.ready <- nil
	}
}

// Release frees the job's cores and forgets it was stopped.
func (e *Executor) Release(ctx context.Context, jobID string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.releaseLocked(jobID)
	delete(e.stopped, jobID)
	delete(e.slots, jobID)
	return nil
}

func (e *Executor) releaseLocked(jobID string) {
	if n, ok := e.reserved[jobID]; ok {
		delete(e.reserved, jobID)
		e.used -= n
	}
	e.admit()
}

func runKey(jobID, runID string) string { return jobID + "/" + runID }

// StartRun stages and starts the run in the background.
func (e *Executor) StartRun(ctx context.Context, r compute.Run) error {
	if _, _, err := e.software(r.Req); err != nil {
		return err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closing {
		return errs.E(errs.Unavailable, "the server is shutting down")
	}
	if _, ok := e.stopped[r.JobID]; ok {
		return compute.ErrStopped
	}
	k := runKey(r.JobID, r.RunID)
	if _, ok := e.runs[k]; ok {
		return nil
	}
	base := filepath.Join(e.cfg.Root, r.JobID, "run"+r.RunID)
	// A previous attempt's directory (a retried run) is started afresh.
	if err := os.RemoveAll(base); err != nil {
		return errs.Wrap(errs.Unavailable, err, "clear run directory")
	}
	dir := filepath.Join(base, "work")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return errs.Wrap(errs.Unavailable, err, "create run directory")
	}
	ru := &run{spec: r, dir: dir}
	e.runs[k] = ru
	if _, ok := e.slots[r.JobID]; !ok {
		// A job's runs share its reserved cores: as many run at once as
		// fit, the others wait for a slot.
		n := 1
		if res, per := e.reserved[r.JobID], r.Cores; res > 0 && per > 0 {
			n = max(1, res/per)
		}
		e.slots[r.JobID] = make(chan struct{}, n)
	}
	ru.slot = e.slots[r.JobID]
	e.wg.Add(1)
	go e.execute(ru, base)
	return nil
}

// execute is one run's life: stage, run, save outputs, report.
func (e *Executor) execute(ru *run, base string) {
	defer e.wg.Done()
	r := ru.spec
	ctx := e.ctx
	ev := compute.Event{JobID: r.JobID, OwnerID: r.OwnerID, RunID: r.RunID, State: compute.Exited, ExitCode: -1}
	defer func() {
		e.mu.Lock()
		delete(e.runs, runKey(r.JobID, r.RunID))
		e.mu.Unlock()
		if !e.cfg.KeepRunDirs {
			if err := os.RemoveAll(base); err != nil {
				e.log.Warn("remove run directory", "dir", base, "err", err)
			}
		}
	}()
	fail := func(reason string) {
		ev.System, ev.Reason = true, reason
		e.report(ev)
	}
	select {
	case ru.slot <- struct{}{}:
		defer func() { <-ru.slot }()
	case <-ctx.Done():
		return
	case <-ru.stopped():
		ev.Stopped, ev.Time = ru.stopMode(), time.Now()
		e.report(ev)
		return
	}
	inputs := make([]worker.Input, len(r.Inputs))
	var executable []string
	for i, f := range r.Inputs {
		key := f.Key
		inputs[i] = worker.Input{Name: f.Name, Open: func(ctx context.Context) (io.ReadCloser, error) {
			return e.cfg.Bucket.NewRangeReader(ctx, key, 0, -1)
		}}
		if f.Executable {
			executable = append(executable, f.Name)
		}
	}
	sw, hasSW, err := e.software(r.Req)
	if err != nil {
		fail(err.Error())
		return
	}
	job := worker.Job{
		Inputs: inputs, Executable: executable, StorageBytes: r.Req.StorageBytes,
		Spec: worker.Spec{
			Dir: ru.dir, Command: r.Command, PreCommand: r.PreCommand, PostCommand: r.PostCommand,
			Env: r.Env, Cores: r.Req.Cores, UseMPI: r.UseMPI, Walltime: r.Walltime,
			Sandbox: e.cfg.Sandbox, Grace: e.cfg.Grace, Scratch: base,
		},
	}
	if hasSW {
		job.Spec.Software = &sw
	}
	x := worker.Execute(ctx, job, func() {
		e.report(compute.Event{JobID: r.JobID, OwnerID: r.OwnerID, RunID: r.RunID, State: compute.Running, Time: time.Now()})
	})
	ru.mu.Lock()
	ru.exec = x
	if ru.stop != "" {
		x.Stop(workerMode(ru.stop))
	}
	ru.mu.Unlock()
	out := x.Wait()
	ru.mu.Lock()
	stop := ru.stop
	ru.mu.Unlock()
	if !out.Started {
		switch {
		case out.Err != nil && errors.Is(out.Err, worker.ErrUnsafePath):
			// The user's archive is at fault: not worth a retry.
			ev.ExitCode, ev.Reason = 1, out.Err.Error()
			e.report(ev)
		case out.Err != nil:
			fail(out.Err.Error())
		default: // stopped before the commands started
			ev.Stopped, ev.Time = stop, time.Now()
			e.saveOutputs(ctx, ru, out.Staged, &ev)
			e.report(ev)
		}
		return
	}
	res := out.Result
	ev.ExitCode, ev.Time = res.ExitCode, res.Ended
	switch {
	case res.WalltimeExceeded:
		ev.WalltimeExceeded = true
	case stop != "":
		ev.Stopped = stop
	case res.Err != nil:
		ev.System, ev.Reason = true, res.Err.Error()
	case res.Signal != "":
		ev.Reason = "killed by " + res.Signal
	}
	if ctx.Err() != nil {
		return // shutting down: the reconciler deals with it after a restart
	}
	e.saveOutputs(ctx, ru, out.Staged, &ev)
	e.report(ev)
}

// stopped is closed once the run is asked to stop.
func (ru *run) stopped() <-chan struct{} {
	ru.mu.Lock()
	defer ru.mu.Unlock()
	if ru.stopc == nil {
		ru.stopc = make(chan struct{})
		if ru.stop != "" {
			close(ru.stopc)
		}
	}
	return ru.stopc
}

func (ru *run) stopMode() compute.StopMode {
	ru.mu.Lock()
	defer ru.mu.Unlock()
	return ru.stop
}

// saveOutputs writes the run's outputs to the bucket, unless the job was
// shut down (its outputs are discarded).
func (e *Executor) saveOutputs(ctx context.Context, ru *run, staged worker.Staged, ev *compute.Event) {
	if ev.Stopped == compute.Discard {
		return
	}
	r := ru.spec
	filter := worker.Filter{Include: r.Include, Exclude: r.Exclude, Skip: staged.Archives}
	_, _, err := worker.Collect(ctx, ru.dir, filter, func(ctx context.Context, rel string, size int64, body io.Reader) error {
		_, err := e.cfg.Bucket.Put(ctx, r.OutputPrefix+rel, body, "")
		return err
	})
	if err != nil && ctx.Err() == nil {
		ev.System, ev.Reason = true, "saving the outputs failed: "+err.Error()
	}
}

func (e *Executor) report(ev compute.Event) {
	if ev.Time.IsZero() {
		ev.Time = time.Now()
	}
	e.mu.Lock()
	closing := e.closing
	e.mu.Unlock()
	if closing || e.cfg.Sink == nil {
		return
	}
	if err := e.cfg.Sink(e.ctx, ev); err != nil {
		e.log.Error("record run event", "job", ev.JobID, "run", ev.RunID, "state", ev.State, "err", err)
	}
}

// Stop stops the job's runs (or one run) and, for the whole job, refuses
// its reservation and new runs.
func (e *Executor) Stop(ctx context.Context, jobID, runID string, mode compute.StopMode) error {
	if !mode.Valid() {
		return errs.E(errs.Invalid, "unknown stop mode %q", mode)
	}
	e.mu.Lock()
	var targets []*run
	if runID == "" {
		if cur, ok := e.stopped[jobID]; !ok || strength(mode) > strength(cur) {
			e.stopped[jobID] = mode
		}
		for i := 0; i < len(e.queue); i++ {
			if w := e.queue[i]; w.job == jobID {
				e.queue = slices.Delete(e.queue, i, i+1)
				w.ready <- compute.ErrStopped
				i--
			}
		}
		e.admit()
		prefix := jobID + "/"
		for k, ru := range e.runs {
			if strings.HasPrefix(k, prefix) {
				targets = append(targets, ru)
			}
		}
	} else if ru, ok := e.runs[runKey(jobID, runID)]; ok {
		targets = append(targets, ru)
	}
	e.mu.Unlock()
	for _, ru := range targets {
		ru.mu.Lock()
		if strength(mode) > strength(ru.stop) {
			if ru.stop == "" && ru.stopc != nil {
				close(ru.stopc)
			}
			ru.stop = mode
		}
		x := ru.exec
		ru.mu.Unlock()
		if x != nil {
			x.Stop(workerMode(mode))
		}
	}
	return nil
}

func strength(m compute.StopMode) int {
	return slices.Index([]compute.StopMode{"", compute.Graceful, compute.Force, compute.Discard}, m)
}

func workerMode(m compute.StopMode) worker.StopMode {
	switch m {
	case compute.Force:
		return worker.Force
	case compute.Discard:
		return worker.Kill
	}
	return worker.Graceful
}

// Alive reports whether the run is still here: until its Exited event has
// been recorded, so the reconciler never races a run's own report.
func (e *Executor) Alive(ctx context.Context, jobID, runID string) (bool, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	_, ok := e.runs[runKey(jobID, runID)]
	return ok, nil
}

func (e *Executor) liveDir(jobID, runID string) (string, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	ru, ok := e.runs[runKey(jobID, runID)]
	if !ok {
		return "", errs.E(errs.NotFound, "run %s of job %s is not running", runID, jobID)
	}
	return ru.dir, nil
}

// List lists a directory of a running run.
func (e *Executor) List(ctx context.Context, jobID, runID, rel string) ([]compute.Entry, error) {
	dir, err := e.liveDir(jobID, runID)
	if err != nil {
		return nil, err
	}
	list, err := worker.ListDir(dir, rel)
	if err != nil {
		return nil, pathErr(err, rel)
	}
	out := make([]compute.Entry, len(list))
	for i, en := range list {
		out[i] = compute.Entry{Path: en.Path, IsDir: en.Dir, Size: en.Size, ModTime: en.ModTime}
	}
	return out, nil
}

// Tail writes the last lines of a running run's file.
func (e *Executor) Tail(ctx context.Context, jobID, runID, rel string, lines int, w io.Writer) error {
	dir, err := e.liveDir(jobID, runID)
	if err != nil {
		return err
	}
	return pathErr(worker.Tail(dir, rel, lines, w), rel)
}

// Open reads a regular file of a running run; the os.Root keeps the path
// inside the working directory, symlinks included.
func (e *Executor) Open(ctx context.Context, jobID, runID, rel string) (io.ReadCloser, error) {
	dir, err := e.liveDir(jobID, runID)
	if err != nil {
		return nil, err
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	defer root.Close()
	f, err := root.Open(filepath.FromSlash(strings.TrimPrefix(rel, "/")))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, pathErr(err, rel)
		}
		return nil, errs.Field("path", "path %q is outside the run's working directory or unreadable", rel)
	}
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		f.Close()
		return nil, errs.Field("path", "%q is not a regular file", rel)
	}
	return f, nil
}

// Snapshot zips a running run's working directory.
func (e *Executor) Snapshot(ctx context.Context, jobID, runID string, w io.Writer) error {
	dir, err := e.liveDir(jobID, runID)
	if err != nil {
		return err
	}
	return worker.Snapshot(ctx, dir, w)
}

func pathErr(err error, rel string) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, worker.ErrUnsafePath):
		return errs.Field("path", "path %q is outside the run's working directory", rel)
	case errors.Is(err, os.ErrNotExist):
		return errs.E(errs.NotFound, "no file %q in the run's working directory", rel)
	}
	return err
}
