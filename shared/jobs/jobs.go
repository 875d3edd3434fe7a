// Package jobs keeps jobs as saved objects: a validated Spec (what the
// client asked for), its owner, status, tags and shares.
//
// Store layout (single table; every key carries the owner):
//
//	USER#<uid>  / JOB#<id>                   the job; GSI1 USER#<uid>#JOBS / <dateInserted>#<id>
//	USER#<uid>  / JOB#<id>#SHARE#<rid>       a share with user rid; GSI1 USER#<rid>#SHAREDJOBS / <dateInserted>#<id>
//	USER#<uid>  / JOB#<id>#CUSTOMFIELDS      its custom fields (shared/customfields); deleted with the job
//	JOBID#<id>  / JOBID                      id → owner, so ids are unique across users and
//	                                         a recipient (or a Batch event) can find a job by id
package jobs

import (
	"slices"
	"time"

	"github.com/openrescale/platform/shared/errs"
	"github.com/openrescale/platform/shared/files"
)

// Statuses, as the spec's job_status filter names them. A saved job that
// was never submitted has no status: the spec's listing shows such a job
// ("MPI Hello") with jobStatus content "".
const (
	StatusSaved             = ""
	StatusPending           = "PENDING"
	StatusQueued            = "QUEUED"
	StatusStarted           = "STARTED"
	StatusValidated         = "VALIDATED"
	StatusExecuting         = "EXECUTING"
	StatusCompleted         = "COMPLETED"
	StatusStopping          = "STOPPING"
	StatusWaitingForCluster = "WAITING_FOR_CLUSTER"
	StatusForceStop         = "FORCE_STOP"
	StatusWaitingForQueue   = "WAITING_FOR_QUEUE"
)

// statusDisplay is the jobStatus "content" of each status, in the
// spec's capitalisation ("Completed", "Executing", ...).
var statusDisplay = map[string]string{
	StatusSaved:             "",
	StatusPending:           "Pending",
	StatusQueued:            "Queued",
	StatusStarted:           "Started",
	StatusValidated:         "Validated",
	StatusExecuting:         "Executing",
	StatusCompleted:         "Completed",
	StatusStopping:          "Stopping",
	StatusWaitingForCluster: "Waiting for Cluster",
	StatusForceStop:         "Force Stop",
	StatusWaitingForQueue:   "Waiting for Queue",
}

// ValidStatus reports whether s is a status the job_status filter accepts.
func ValidStatus(s string) bool {
	_, ok := statusDisplay[s]
	return ok && s != StatusSaved
}

// StatusDisplay is the human status of s.
func StatusDisplay(s string) string { return statusDisplay[s] }

// Job is a stored job.
type Job struct {
	ID           string    `json:"id"`
	OwnerID      string    `json:"ownerId"`
	OwnerEmail   string    `json:"owner"`
	DateInserted time.Time `json:"dateInserted"`
	Status       string    `json:"status"`
	// ClusterStatus is the latest cluster status ("Started", "Stopped"),
	// kept here by the lifecycle so listings need not read its records.
	ClusterStatus string      `json:"clusterStatus,omitempty"`
	Spec          Spec        `json:"spec"`
	Tags          []files.Tag `json:"userTags"`
	// SharedWith holds recipients' emails, for rendering; the share items
	// are what grants access.
	SharedWith []string `json:"sharedWith"`
	// InputBytes is the size of the job's input files when it was saved,
	// the listing's "storage" until outputs exist.
	InputBytes int64 `json:"inputBytes"`

	// Version is the store version read, for optimistic updates.
	Version int64 `json:"-"`
}

// Saved reports whether the job was never submitted.
func (j Job) Saved() bool { return j.Status == StatusSaved }

// Deletable: a job that is queued or running must be stopped first (spec).
func (j Job) Deletable() bool { return j.Status == StatusSaved || j.Status == StatusCompleted }

// Completed is the state=completed filter.
func (j Job) Completed() bool { return j.Status == StatusCompleted }

// editableAfterSubmit are the fields a submitted job may still change: a
// job's inputs, software and hardware are what ran, so they are history;
// its name (and tags and custom fields, which have their own endpoints)
// are labels.
var editableAfterSubmit = []string{"name"}

// CheckEditable refuses changes to fields a submitted job fixes.
func (j Job) CheckEditable(fields []string) error {
	if j.Saved() {
		return nil
	}
	for _, f := range fields {
		if !slices.Contains(editableAfterSubmit, f) {
			return errs.E(errs.Conflict, "job %s has been submitted; only its name, tags and custom fields can change, not %s", j.ID, f)
		}
	}
	return nil
}

// AnalysisCodes lists the job's analysis codes.
func (j Job) AnalysisCodes() []string {
	out := make([]string, len(j.Spec.JobAnalyses))
	for i, ja := range j.Spec.JobAnalyses {
		out[i] = ja.Analysis.Code
	}
	return out
}

// FileIDs lists every file the job refers to (inputs, templates, scripts,
// DOE files), each once.
func (s Spec) FileIDs() []string {
	var out []string
	add := func(f *FileRef) {
		if f != nil && f.ID != "" && !slices.Contains(out, f.ID) {
			out = append(out, f.ID)
		}
	}
	add(s.ParamFile)
	add(s.CaseFile)
	for _, ja := range s.JobAnalyses {
		for i := range ja.InputFiles {
			add(&ja.InputFiles[i])
		}
		for _, t := range ja.TemplateTasks {
			add(t.TemplateFile)
		}
		add(ja.PreProcessScript)
		add(ja.PostProcessScript)
	}
	return out
}

// InputFileIDs lists the jobanalyses' input files, each once.
func (s Spec) InputFileIDs() []string {
	var out []string
	for _, ja := range s.JobAnalyses {
		for _, f := range ja.InputFiles {
			if !slices.Contains(out, f.ID) {
				out = append(out, f.ID)
			}
		}
	}
	return out
}
