package lifecycle

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/openrescale/platform/shared/errs"
	"github.com/openrescale/platform/shared/files"
	"github.com/openrescale/platform/shared/jobs"
	"github.com/openrescale/platform/shared/store"
)

// readable returns a job the caller owns or that is shared with them.
func (s *Service) readable(ctx context.Context, uid, jobID string) (jobs.Job, error) {
	j, _, err := s.cfg.Jobs.Get(ctx, uid, jobID)
	return j, err
}

// History is a job's status histories; a saved job has none.
func (s *Service) History(ctx context.Context, uid, jobID string) (Record, error) {
	j, err := s.readable(ctx, uid, jobID)
	if err != nil {
		return Record{}, err
	}
	rec, err := s.getRecord(ctx, j.OwnerID, j.ID)
	if errs.Is(err, errs.NotFound) {
		return Record{JobID: j.ID, OwnerID: j.OwnerID}, nil
	}
	return rec, err
}

// Newest returns statuses newest first.
func Newest(st []Status) []Status {
	out := slices.Clone(st)
	slices.Reverse(out)
	return out
}

// ExtendedLog is one line of the spec's extendedlogs: statuses and log
// lines merged by time.
type ExtendedLog struct {
	ID      string
	Time    time.Time
	Level   string
	Message string
	Source  string
}

// ExtendedLogs merges a record's statuses and log lines, oldest first.
func ExtendedLogs(rec Record) []ExtendedLog {
	out := make([]ExtendedLog, 0, len(rec.Statuses)+len(rec.Logs))
	for i, st := range rec.Statuses {
		msg := st.Status
		if st.Reason != nil && *st.Reason != "" {
			msg += ": " + *st.Reason
		}
		out = append(out, ExtendedLog{ID: fmt.Sprintf("s%d", i+1), Time: st.Date, Level: "status", Message: msg, Source: scheduler})
	}
	for _, l := range rec.Logs {
		out = append(out, ExtendedLog{ID: l.ID, Time: l.Time, Level: l.Level, Message: l.Message, Source: l.Source})
	}
	slices.SortStableFunc(out, func(a, b ExtendedLog) int { return a.Time.Compare(b.Time) })
	return out
}

// Runs returns a page of the job's runs.
func (s *Service) Runs(ctx context.Context, uid, jobID string, offset, limit int) ([]Run, int, error) {
	j, err := s.readable(ctx, uid, jobID)
	if err != nil {
		return nil, 0, err
	}
	return s.listRuns(ctx, j.OwnerID, j.ID, offset, limit)
}

// Run returns one run.
func (s *Service) Run(ctx context.Context, uid, jobID, runID string) (Run, error) {
	j, err := s.readable(ctx, uid, jobID)
	if err != nil {
		return Run{}, err
	}
	return s.getRun(ctx, j.OwnerID, j.ID, runID)
}

// Outputs returns a page of a job's output files (of one run, or of all
// runs in run order), those whose relative path contains search
// (case-insensitive) when it is set.
func (s *Service) Outputs(ctx context.Context, uid, jobID, runID, search string, offset, limit int) ([]files.File, int, error) {
	j, err := s.readable(ctx, uid, jobID)
	if err != nil {
		return nil, 0, err
	}
	var runs []Run
	if runID != "" {
		r, err := s.getRun(ctx, j.OwnerID, j.ID, runID)
		if err != nil {
			return nil, 0, err
		}
		runs = []Run{r}
	} else if runs, _, err = s.listRuns(ctx, j.OwnerID, j.ID, 0, 0); err != nil {
		return nil, 0, err
	}
	search = strings.ToLower(search)
	var page []files.File
	total := 0
	for _, r := range runs {
		if r.FolderID == "" {
			continue
		}
		res, err := s.cfg.Store.Query(ctx, store.Query{Index: store.GSI2, PK: files.FolderIndexPK(j.OwnerID, r.FolderID)})
		if err != nil {
			return nil, 0, fmt.Errorf("outputs of run %s: %w", r.ID, err)
		}
		list := make([]files.File, 0, len(res.Items))
		for _, it := range res.Items {
			f, err := files.Decode(it)
			if err != nil {
				return nil, 0, err
			}
			if f.IsDeleted || (search != "" && !strings.Contains(strings.ToLower(f.RelativePath), search)) {
				continue
			}
			list = append(list, f)
		}
		slices.SortFunc(list, func(a, b files.File) int { return strings.Compare(a.RelativePath, b.RelativePath) })
		for _, f := range list {
			if total >= offset && (limit <= 0 || len(page) < limit) {
				page = append(page, f)
			}
			total++
		}
	}
	return page, total, nil
}

// LiveRun checks that the caller may read a run that is running now, for
// the live directory, tail and snapshot endpoints.
func (s *Service) LiveRun(ctx context.Context, uid, jobID, runID string) (Run, error) {
	r, err := s.Run(ctx, uid, jobID, runID)
	if err != nil {
		return Run{}, err
	}
	if r.State != RunRunning {
		return Run{}, errs.E(errs.Conflict, "run %s of job %s is not running; its files are in the job's outputs", runID, jobID)
	}
	return r, nil
}

// JobName is the job's name, for the cluster listing.
func (s *Service) JobName(ctx context.Context, uid, jobID string) (string, error) {
	j, err := s.readable(ctx, uid, jobID)
	return j.Spec.Name, err
}

// SaveSnapshot stores what write produces (a zip of a running run's
// working directory) as an output file of the run, streamed: the archive
// is never held in memory.
func (s *Service) SaveSnapshot(ctx context.Context, uid, jobID, runID, name string, write func(w io.Writer) error) (files.File, error) {
	j, err := s.owned(ctx, uid, jobID)
	if err != nil {
		return files.File{}, err
	}
	run, err := s.getRun(ctx, j.OwnerID, j.ID, runID)
	if err != nil {
		return files.File{}, err
	}
	key := outputPrefix(j.OwnerID, j.ID, runID) + name
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(write(pw)) }()
	a, err := s.cfg.Bucket.Put(ctx, key, pr, "application/zip")
	pr.CloseWithError(err)
	if err != nil {
		return files.File{}, fmt.Errorf("snapshot of run %s: %w", runID, err)
	}
	if err := s.registerOutput(ctx, j, run, name, a); err != nil {
		return files.File{}, err
	}
	return s.cfg.Files.ByKey(ctx, key)
}
