package lifecycle

import (
	"context"
	"fmt"
	"slices"
	"strconv"

	"github.com/openrescale/platform/shared/errs"
	"github.com/openrescale/platform/shared/ids"
	"github.com/openrescale/platform/shared/jobs"
	"github.com/openrescale/platform/shared/store"
)

// transitions is the job status machine: the statuses each status may
// move to. Statuses only move forward; every non-final status may go to
// Stopping (stop works in every state) and to Completed (a failure ends
// the job from wherever it is).
var transitions = map[string][]string{
	jobs.StatusSaved:           {jobs.StatusPending},
	jobs.StatusPending:         {jobs.StatusWaitingForQueue, jobs.StatusQueued, jobs.StatusStopping, jobs.StatusCompleted},
	jobs.StatusWaitingForQueue: {jobs.StatusQueued, jobs.StatusStopping, jobs.StatusCompleted},
	jobs.StatusQueued:          {jobs.StatusStarted, jobs.StatusStopping, jobs.StatusCompleted},
	jobs.StatusStarted:         {jobs.StatusValidated, jobs.StatusStopping, jobs.StatusCompleted},
	jobs.StatusValidated:       {jobs.StatusExecuting, jobs.StatusStopping, jobs.StatusCompleted},
	jobs.StatusExecuting:       {jobs.StatusStopping, jobs.StatusCompleted},
	jobs.StatusStopping:        {jobs.StatusCompleted},
	jobs.StatusCompleted:       {},
}

// Allowed reports whether a job may move from one status to another.
func Allowed(from, to string) bool { return slices.Contains(transitions[from], to) }

// order ranks statuses along the normal path, so a retried step that finds
// its job already further along knows it has nothing to do.
var order = []string{
	jobs.StatusSaved, jobs.StatusPending, jobs.StatusWaitingForQueue, jobs.StatusQueued,
	jobs.StatusStarted, jobs.StatusValidated, jobs.StatusExecuting, jobs.StatusStopping, jobs.StatusCompleted,
}

func rank(status string) int { return slices.Index(order, status) }

// Ended reports whether the job is stopping or done: steps that would
// start work refuse then.
func Ended(status string) bool {
	return status == jobs.StatusStopping || status == jobs.StatusCompleted
}

// errNotAllowed is the Conflict of a transition the machine forbids.
func errNotAllowed(j jobs.Job, to string) error {
	from := jobs.StatusDisplay(j.Status)
	if from == "" {
		from = "saved"
	}
	return errs.E(errs.Conflict, "job %s is %s; it cannot become %s", j.ID, from, jobs.StatusDisplay(to))
}

// change is one atomic lifecycle write: a new job status (or none), and
// edits of the lifecycle record.
type change struct {
	// to is the new status; "" changes only the record.
	to     string
	reason string
	// edit may change the record; an error aborts the write.
	edit func(j jobs.Job, r *Record) error
	// create starts the record (submit).
	create bool
	// wrote, when set, learns whether this call made the write (false
	// when the job was there already).
	wrote *bool
}

// apply writes c: the job item (if its status changes) and the lifecycle
// record in one transaction, both at the versions read, retried on
// conflict from a fresh read. Of two racing transitions exactly one
// commits; the other re-reads and finds its transition no longer allowed
// (Conflict) or already made (no-op).
func (s *Service) apply(ctx context.Context, uid, jobID string, c change) (jobs.Job, Record, error) {
	for range 16 {
		j, _, err := s.cfg.Jobs.Get(ctx, uid, jobID)
		if err != nil {
			return jobs.Job{}, Record{}, err
		}
		var rec Record
		if c.create {
			rec = Record{JobID: jobID, OwnerID: uid}
		} else if rec, err = s.getRecord(ctx, uid, jobID); err != nil {
			return jobs.Job{}, Record{}, err
		}
		if c.to != "" {
			if j.Status == c.to {
				return j, rec, nil
			}
			if !Allowed(j.Status, c.to) {
				return j, rec, errNotAllowed(j, c.to)
			}
		}
		if c.edit != nil {
			if err := c.edit(j, &rec); err != nil {
				return j, rec, err
			}
		}
		now := s.now().UTC()
		status := j.Status
		if c.to != "" {
			status = c.to
			var reason *string
			if c.reason != "" {
				reason = &c.reason
			}
			rec.Statuses = append(rec.Statuses, Status{Status: jobs.StatusDisplay(c.to), Date: now, Reason: reason})
			if c.to == jobs.StatusCompleted {
				rec.Reason = c.reason
			}
		}
		it, err := s.recordItem(rec, status != jobs.StatusCompleted)
		if err != nil {
			return j, rec, err
		}
		cluster := ""
		if n := len(rec.Cluster); n > 0 {
			cluster = rec.Cluster[n-1].Status
		}
		// The job item is written every time, at the version read: its
		// status and cluster status are what listings show, and the
		// condition makes every lifecycle change serialise on the job.
		op, err := s.cfg.Jobs.StatusOp(j, status, cluster)
		if err != nil {
			return j, rec, err
		}
		ops := []store.Op{{Kind: store.OpPut, Item: it, Cond: store.Cond{IfVersion: rec.Version, IfAbsent: c.create}}, op}
		if err := s.cfg.Store.Transact(ctx, ops); err != nil {
			if errs.Is(err, errs.Conflict) {
				if c.create {
					// Someone else submitted it first: their record stands.
					c.create = false
				}
				continue
			}
			return j, rec, fmt.Errorf("job %s: %w", jobID, err)
		}
		if c.wrote != nil {
			*c.wrote = true
		}
		j.Status = status
		j.Version++
		rec.Version++
		if c.create {
			rec.Version = 1
		}
		return j, rec, nil
	}
	return jobs.Job{}, Record{}, errs.E(errs.Conflict, "job %s is being changed concurrently; try again", jobID)
}

// advance moves the job forward to status unless it is already there or
// beyond; a job that is stopping or done refuses (errStopped).
func (s *Service) advance(ctx context.Context, uid, jobID, to string, edit func(j jobs.Job, r *Record) error) (jobs.Job, Record, error) {
	j, _, err := s.cfg.Jobs.Get(ctx, uid, jobID)
	if err != nil {
		return jobs.Job{}, Record{}, err
	}
	if Ended(j.Status) {
		return j, Record{}, errStopped(j)
	}
	if rank(j.Status) >= rank(to) {
		rec, err := s.getRecord(ctx, uid, jobID)
		return j, rec, err
	}
	j, rec, err := s.apply(ctx, uid, jobID, change{to: to, edit: edit})
	if errs.Is(err, errs.Conflict) && Ended(j.Status) {
		return j, rec, errStopped(j)
	}
	return j, rec, err
}

// addLog appends a line to the job's log, dropping the oldest beyond the
// cap but keeping the first lines, which say how the job started.
func (s *Service) addLog(r *Record, level, source, msg string) {
	if len(r.Logs) >= maxLogLines {
		keep := maxLogLines / 4
		r.Logs = append(r.Logs[:keep], r.Logs[len(r.Logs)-(maxLogLines-keep-1):]...)
	}
	r.Logs = append(r.Logs, LogLine{ID: ids.Short(), Time: s.now().UTC(), Level: level, Message: msg, Source: source})
}

// clusterStatus appends a cluster status unless it is the latest already.
func (s *Service) clusterStatus(r *Record, status string) {
	if n := len(r.Cluster); n > 0 && r.Cluster[n-1].Status == status {
		return
	}
	r.Cluster = append(r.Cluster, Status{Status: status, Date: s.now().UTC()})
}

func sortRuns(runs []Run) {
	slices.SortFunc(runs, func(a, b Run) int {
		if a.DisplayOrder != b.DisplayOrder {
			return a.DisplayOrder - b.DisplayOrder
		}
		x, _ := strconv.Atoi(a.ID)
		y, _ := strconv.Atoi(b.ID)
		return x - y
	})
}
