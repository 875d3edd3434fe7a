// Package lifecycle runs submitted jobs: the steps the job state machine
// (statemachines/job.asl.json) calls, the status machine they move a job
// through, stop requests, the events compute reports, and the reconciler
// that ends jobs whose compute is gone. The same code serves both
// deployments: locally the ASL runner calls the steps in-process and the
// local executor reports events; in AWS Lambda functions call them and
// Batch state changes are the events.
//
// Store layout (single table; every key carries the owner, and everything
// sits under JOB#<id>#, so deleting a job removes it):
//
//	USER#<uid> / JOB#<id>#LIFECYCLE   statuses, cluster statuses, log lines, stop request;
//	                                  GSI1 LIFECYCLE#ACTIVE / <id> while the job is not Completed
//	USER#<uid> / JOB#<id>#RUN#<n>     one run: dates, result, outputs, the state machine's task token
package lifecycle

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	"github.com/openrescale/platform/shared/accounts"
	"github.com/openrescale/platform/shared/blob"
	"github.com/openrescale/platform/shared/catalog"
	"github.com/openrescale/platform/shared/compute"
	"github.com/openrescale/platform/shared/errs"
	"github.com/openrescale/platform/shared/files"
	"github.com/openrescale/platform/shared/folders"
	"github.com/openrescale/platform/shared/jobs"
	"github.com/openrescale/platform/shared/store"
)

// Orchestrator runs job state machines: the ASL runner locally, Step
// Functions in AWS. Executions are named after their job.
type Orchestrator interface {
	// Start begins the job's execution; an existing one is left alone
	// (started false).
	Start(ctx context.Context, name string, input json.RawMessage) (started bool, err error)
	SendTaskSuccess(ctx context.Context, token string, output json.RawMessage) error
	SendTaskFailure(ctx context.Context, token, errName, cause string) error
	// Status is the execution's status ("RUNNING", "SUCCEEDED", "FAILED",
	// "TIMED_OUT", "ABORTED"), errs.NotFound if there is none.
	Status(ctx context.Context, name string) (string, error)
}

// Keys issues and ends the job-scoped API keys injected as RESCALE_API_KEY.
type Keys interface {
	CreateKey(ctx context.Context, userID string, opts accounts.KeyOptions) (accounts.APIKey, string, error)
	ExpireJobKeys(ctx context.Context, userID, jobID string) error
}

// Catalog resolves a job's analysis version.
type Catalog interface {
	FindVersion(code, version string) (catalog.Analysis, catalog.AnalysisVersion, error)
}

// Config holds the Service's dependencies.
type Config struct {
	Store   store.Store
	Jobs    *jobs.Service
	Files   *files.Repo
	Folders *folders.Service
	Bucket  blob.Bucket
	Keys    Keys
	Catalog Catalog
	Compute compute.Compute
	// Orchestrator is set after construction when the orchestrator itself
	// needs the Service's steps (the local runner): SetOrchestrator.
	Orchestrator Orchestrator
	// APIURL is the API base jobs call with their key, as Rescale's SDK
	// reads RESCALE_API_URL: "http://127.0.0.1:8080/api/v2/".
	APIURL string
	// KeyTTL bounds a job key's life even if the job never ends cleanly.
	KeyTTL time.Duration
	Now    func() time.Time
	Log    *slog.Logger
}

// Service is the lifecycle.
type Service struct {
	cfg Config
	now func() time.Time
	log *slog.Logger
}

// New returns a Service.
func New(cfg Config) *Service {
	s := &Service{cfg: cfg, now: cfg.Now, log: cfg.Log}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.cfg.KeyTTL == 0 {
		s.cfg.KeyTTL = 30 * 24 * time.Hour
	}
	return s
}

// SetOrchestrator completes a Service whose orchestrator is built from it.
func (s *Service) SetOrchestrator(o Orchestrator) { s.cfg.Orchestrator = o }

func userPK(uid string) string        { return "USER#" + uid }
func lifecycleSK(jobID string) string { return "JOB#" + jobID + "#LIFECYCLE" }
func runSK(jobID, run string) string  { return "JOB#" + jobID + "#RUN#" + run }
func runPrefix(jobID string) string   { return "JOB#" + jobID + "#RUN#" }
func outputPrefix(uid, jobID, run string) string {
	return files.UserPrefix(uid) + "output/job_" + jobID + "/run" + run + "/"
}

const activePK = "LIFECYCLE#ACTIVE"

// maxLogLines bounds a job's log records: a chatty job must not grow its
// record without limit (its process output goes to process_output.log).
const maxLogLines = 200

// Status is one entry of a job's or cluster's status history.
type Status struct {
	Status string    `json:"status"`
	Date   time.Time `json:"statusDate"`
	Reason *string   `json:"statusReason"`
}

// LogLine is one line of a job's own log (extendedlogs).
type LogLine struct {
	ID      string    `json:"id"`
	Time    time.Time `json:"time"`
	Level   string    `json:"level"`
	Message string    `json:"message"`
	Source  string    `json:"source"`
}

// Record is a submitted job's lifecycle state.
type Record struct {
	JobID    string    `json:"jobId"`
	OwnerID  string    `json:"ownerId"`
	Statuses []Status  `json:"statuses"` // oldest first
	Cluster  []Status  `json:"cluster"`  // oldest first
	Logs     []LogLine `json:"logs"`
	// Stop is the stop requested, "" if none.
	Stop    compute.StopMode `json:"stop,omitempty"`
	Runs    []string         `json:"runs"`
	Cores   int              `json:"cores"`
	Started bool             `json:"clusterStarted"`
	// Reason is why the job ended, once it has; Failed says whether
	// that was a failure (a stop is not).
	Reason string `json:"reason,omitempty"`
	Failed bool   `json:"failed,omitempty"`
	// Seed drives the job's random generators (Monte Carlo): drawn at
	// submit, so a retried or resumed job plans the same runs.
	Seed    uint64 `json:"seed"`
	Version int64  `json:"-"`
}

// Run is one run of a job, as the spec's Runs show it plus what the
// lifecycle needs.
type Run struct {
	JobID         string     `json:"jobId"`
	OwnerID       string     `json:"ownerId"`
	ID            string     `json:"id"`
	DisplayOrder  int        `json:"displayOrder"`
	Type          int        `json:"type"`
	Variables     []Variable `json:"variables"`
	DateStarted   *time.Time `json:"dateStarted"`
	DateCompleted *time.Time `json:"dateCompleted"`
	OutputCount   int        `json:"outputFileCount"`
	OutputBytes   *int64     `json:"outputFileSize"`
	Parent        *string    `json:"parent"`
	IsOptimal     bool       `json:"isOptimal"`
	// State: pending, running, succeeded, failed, stopped.
	State    string `json:"state"`
	ExitCode *int   `json:"exitCode,omitempty"`
	Reason   string `json:"reason,omitempty"`
	// Token answers the state machine's Run task when the run ends.
	Token    string `json:"token,omitempty"`
	Attempts int    `json:"attempts"`
	FolderID string `json:"folderId"`
	Version  int64  `json:"-"`
}

// Variable is a DOE variable's value in a run.
type Variable struct {
	Name         string  `json:"name"`
	Value        float64 `json:"value"`
	DisplayValue string  `json:"displayValue"`
	IsRelative   bool    `json:"isRelative"`
}

// Run states.
const (
	RunPending   = "pending"
	RunRunning   = "running"
	RunSucceeded = "succeeded"
	RunFailed    = "failed"
	RunStopped   = "stopped"
)

// RunTypeCase is the spec's run type 3 ("Case"): a run of a plain job or a
// DOE case.
const RunTypeCase = 3

func (s *Service) getRecord(ctx context.Context, uid, jobID string) (Record, error) {
	it, err := s.cfg.Store.Get(ctx, userPK(uid), lifecycleSK(jobID))
	if err != nil {
		if errs.Is(err, errs.NotFound) {
			return Record{}, errs.E(errs.NotFound, "job %s has not been submitted", jobID)
		}
		return Record{}, fmt.Errorf("lifecycle of job %s: %w", jobID, err)
	}
	var r Record
	if err := json.Unmarshal(it.Data, &r); err != nil {
		return Record{}, fmt.Errorf("decode lifecycle of job %s: %w", jobID, err)
	}
	r.Version = it.Version
	return r, nil
}

func (s *Service) recordItem(r Record, active bool) (store.Item, error) {
	data, err := json.Marshal(r)
	if err != nil {
		return store.Item{}, fmt.Errorf("encode lifecycle of job %s: %w", r.JobID, err)
	}
	it := store.Item{PK: userPK(r.OwnerID), SK: lifecycleSK(r.JobID), Data: data}
	if active {
		it.GSI1PK, it.GSI1SK = activePK, r.JobID
	}
	return it, nil
}

func (s *Service) getRun(ctx context.Context, uid, jobID, run string) (Run, error) {
	it, err := s.cfg.Store.Get(ctx, userPK(uid), runSK(jobID, run))
	if err != nil {
		if errs.Is(err, errs.NotFound) {
			return Run{}, errs.E(errs.NotFound, "Not found.")
		}
		return Run{}, fmt.Errorf("run %s of job %s: %w", run, jobID, err)
	}
	return decodeRun(it)
}

func decodeRun(it store.Item) (Run, error) {
	var r Run
	if err := json.Unmarshal(it.Data, &r); err != nil {
		return Run{}, fmt.Errorf("decode run %s: %w", it.SK, err)
	}
	r.Version = it.Version
	if r.Variables == nil {
		r.Variables = []Variable{}
	}
	return r, nil
}

func (s *Service) runItem(r Run) (store.Item, error) {
	data, err := json.Marshal(r)
	if err != nil {
		return store.Item{}, fmt.Errorf("encode run %s of job %s: %w", r.ID, r.JobID, err)
	}
	return store.Item{PK: userPK(r.OwnerID), SK: runSK(r.JobID, r.ID), Data: data}, nil
}

// updateRun applies change to the run's current version until it commits.
func (s *Service) updateRun(ctx context.Context, uid, jobID, run string, change func(*Run) error) (Run, error) {
	for range 16 {
		r, err := s.getRun(ctx, uid, jobID, run)
		if err != nil {
			return Run{}, err
		}
		if err := change(&r); err != nil {
			return Run{}, err
		}
		it, err := s.runItem(r)
		if err != nil {
			return Run{}, err
		}
		out, err := s.cfg.Store.Put(ctx, it, store.Cond{IfVersion: r.Version})
		if errs.Is(err, errs.Conflict) {
			continue
		}
		if err != nil {
			return Run{}, fmt.Errorf("update run %s of job %s: %w", run, jobID, err)
		}
		r.Version = out.Version
		return r, nil
	}
	return Run{}, errs.E(errs.Conflict, "run %s of job %s is being changed concurrently", run, jobID)
}

// listRuns returns a page of the job's runs in run order.
func (s *Service) listRuns(ctx context.Context, uid, jobID string, offset, limit int) ([]Run, int, error) {
	res, err := s.cfg.Store.Query(ctx, store.Query{PK: userPK(uid), SKPrefix: runPrefix(jobID)})
	if err != nil {
		return nil, 0, fmt.Errorf("runs of job %s: %w", jobID, err)
	}
	runs := make([]Run, 0, len(res.Items))
	for _, it := range res.Items {
		r, err := decodeRun(it)
		if err != nil {
			return nil, 0, err
		}
		runs = append(runs, r)
	}
	// Sort keys are strings ("10" < "2"); runs go by display order.
	sortRuns(runs)
	total := len(runs)
	start := min(offset, total)
	end := total
	if limit > 0 {
		end = min(start+limit, total)
	}
	return runs[start:end], total, nil
}
