package lifecycle

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/openrescale/platform/shared/compute"
	"github.com/openrescale/platform/shared/errs"
	"github.com/openrescale/platform/shared/jobs"
	"github.com/openrescale/platform/shared/store"
)

// owned returns the caller's job; a job shared with them is readable but
// not theirs to run or stop (403).
func (s *Service) owned(ctx context.Context, uid, jobID string) (jobs.Job, error) {
	j, owned, err := s.cfg.Jobs.Get(ctx, uid, jobID)
	if err != nil {
		return jobs.Job{}, err
	}
	if !owned {
		return jobs.Job{}, errs.E(errs.Forbidden, "You do not have permission to perform this action.")
	}
	return j, nil
}

// executionInput is the state machine's input: ids only.
func executionInput(j jobs.Job) json.RawMessage {
	b, _ := json.Marshal(map[string]string{"jobId": j.ID, "ownerId": j.OwnerID})
	return b
}

// Submit starts a saved job. Submitting a job that has been submitted
// already does nothing: it never runs twice.
func (s *Service) Submit(ctx context.Context, uid, jobID string) error {
	j, err := s.owned(ctx, uid, jobID)
	if err != nil {
		return err
	}
	if !j.Saved() {
		return nil
	}
	// A DOE job whose parameter file or variables cannot make runs is
	// refused here, with the field and line, rather than failing later.
	seed := rand.Uint64()
	if _, err := s.planRuns(ctx, j, seed); err != nil {
		return err
	}
	var wrote bool
	j, _, err = s.apply(ctx, uid, jobID, change{create: true, to: jobs.StatusPending, wrote: &wrote, edit: func(_ jobs.Job, r *Record) error {
		if len(r.Cluster) == 0 {
			s.clusterStatus(r, "Not Started")
			r.Seed = seed
		}
		return nil
	}})
	if err != nil {
		if errs.Is(err, errs.Conflict) && !j.Saved() {
			return nil // a racing submit won
		}
		return err
	}
	if !wrote {
		return nil // a racing submit won and starts it
	}
	// A crash between the status and the start leaves a Pending job
	// without an execution; the reconciler starts it.
	if _, err := s.cfg.Orchestrator.Start(ctx, jobID, executionInput(j)); err != nil {
		return fmt.Errorf("start job %s: %w", jobID, err)
	}
	return nil
}

// strength orders stop modes: a stronger stop may follow a weaker one.
func strength(m compute.StopMode) int {
	switch m {
	case compute.Graceful:
		return 1
	case compute.Force:
		return 2
	case compute.Discard:
		return 3
	}
	return 0
}

// Stop asks a submitted job to stop, in any state. A job already
// completed is left as it is; stopping again with a stronger mode
// escalates (stop, then shutdown).
func (s *Service) Stop(ctx context.Context, uid, jobID string, mode compute.StopMode) error {
	if !mode.Valid() {
		return errs.E(errs.Invalid, "unknown stop mode %q", mode)
	}
	j, err := s.owned(ctx, uid, jobID)
	if err != nil {
		return err
	}
	if j.Saved() {
		return errs.E(errs.Conflict, "job %s has not been submitted; there is nothing to stop", jobID)
	}
	if j.Status == jobs.StatusCompleted {
		return nil
	}
	to := jobs.StatusStopping
	if j.Status == jobs.StatusStopping {
		to = ""
	}
	_, _, err = s.apply(ctx, uid, jobID, change{to: to, edit: func(_ jobs.Job, r *Record) error {
		if strength(mode) > strength(r.Stop) {
			r.Stop = mode
			s.addLog(r, "INFO", scheduler, "Stop requested ("+string(mode)+")")
		}
		return nil
	}})
	if errs.Is(err, errs.Conflict) {
		// It completed meanwhile: nothing left to stop.
		if j2, _, gerr := s.cfg.Jobs.Get(ctx, uid, jobID); gerr == nil && j2.Status == jobs.StatusCompleted {
			return nil
		}
	}
	if err != nil {
		return err
	}
	return s.cfg.Compute.Stop(ctx, jobID, "", mode)
}

// StopRun stops one run of a running job; the job goes on with its other
// runs.
func (s *Service) StopRun(ctx context.Context, uid, jobID, runID string) error {
	j, err := s.owned(ctx, uid, jobID)
	if err != nil {
		return err
	}
	if _, err := s.getRun(ctx, j.OwnerID, jobID, runID); err != nil {
		return err
	}
	return s.cfg.Compute.Stop(ctx, jobID, runID, compute.Graceful)
}

// Reconcile compares every job that is not Completed with its execution
// and compute: a Pending job whose execution never started is started, a
// job whose execution has ended is completed with a reason, and a run
// whose compute is gone fails (as a system error, so the state machine
// retries it). It returns how many jobs it changed.
func (s *Service) Reconcile(ctx context.Context) (int, error) {
	res, err := s.cfg.Store.Query(ctx, store.Query{Index: store.GSI1, PK: activePK})
	if err != nil {
		return 0, fmt.Errorf("active jobs: %w", err)
	}
	changed := 0
	for _, it := range res.Items {
		var rec Record
		if err := json.Unmarshal(it.Data, &rec); err != nil {
			return changed, fmt.Errorf("decode lifecycle %s: %w", it.SK, err)
		}
		n, err := s.reconcileJob(ctx, rec)
		if err != nil {
			s.log.WarnContext(ctx, "reconcile job", "job", rec.JobID, "err", err)
			continue
		}
		changed += n
	}
	return changed, nil
}

func (s *Service) reconcileJob(ctx context.Context, rec Record) (int, error) {
	j, _, err := s.cfg.Jobs.Get(ctx, rec.OwnerID, rec.JobID)
	if err != nil {
		return 0, err
	}
	if j.Status == jobs.StatusCompleted {
		return 0, nil
	}
	status, err := s.cfg.Orchestrator.Status(ctx, j.ID)
	switch {
	case errs.Is(err, errs.NotFound):
		if _, err := s.cfg.Orchestrator.Start(ctx, j.ID, executionInput(j)); err != nil {
			return 0, err
		}
		s.log.InfoContext(ctx, "reconciler started a job's lost execution", "job", j.ID)
		return 1, nil
	case err != nil:
		return 0, err
	case status != "RUNNING":
		return 1, s.abandon(ctx, j, fmt.Sprintf("Job failed: its lifecycle ended unexpectedly (%s)", status))
	}
	// A stop that has not finished in time is escalated, and a job whose
	// stop never completes is ended: "Stopping" must not last for days.
	if j.Status == jobs.StatusStopping && len(rec.Statuses) > 0 {
		since := s.now().Sub(rec.Statuses[len(rec.Statuses)-1].Date)
		switch {
		case since > abandonStoppingAfter:
			return 1, s.abandon(ctx, j, "Job was stopped; its processes did not end in time and were killed")
		case since > escalateStopAfter:
			// Force, not shutdown: the stop asked for keeps its outputs.
			if err := s.cfg.Compute.Stop(ctx, j.ID, "", compute.Force); err != nil {
				return 0, err
			}
		}
	}
	runs, _, err := s.listRuns(ctx, j.OwnerID, j.ID, 0, 0)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, r := range runs {
		if r.State != RunRunning || r.Token == "" {
			continue
		}
		alive, err := s.cfg.Compute.Alive(ctx, j.ID, r.ID)
		if err != nil || alive {
			continue
		}
		s.log.WarnContext(ctx, "run's compute is gone", "job", j.ID, "run", r.ID)
		err = s.RecordEvent(ctx, compute.Event{JobID: j.ID, OwnerID: j.OwnerID, RunID: r.ID, State: compute.Exited,
			Time: s.now(), ExitCode: -1, System: true, Reason: "its process was lost (the server or its instance stopped)"})
		if err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// Time limits of the Stopping state, checked by the reconciler.
const (
	escalateStopAfter    = 10 * time.Minute
	abandonStoppingAfter = 30 * time.Minute
)

// abandon ends a job nothing drives any more.
func (s *Service) abandon(ctx context.Context, j jobs.Job, reason string) error {
	_ = s.cfg.Compute.Stop(ctx, j.ID, "", compute.Discard)
	_ = s.cfg.Compute.Release(ctx, j.ID)
	if err := s.cfg.Keys.ExpireJobKeys(ctx, j.OwnerID, j.ID); err != nil {
		return err
	}
	_, _, err := s.apply(ctx, j.OwnerID, j.ID, change{to: jobs.StatusCompleted, reason: reason, edit: func(_ jobs.Job, r *Record) error {
		r.Failed = true
		if r.Started {
			s.clusterStatus(r, "Stopped")
		}
		return nil
	}})
	return err
}
