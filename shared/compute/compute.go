// Package compute is the port through which a job's lifecycle uses
// compute: check that a job can run here, wait for capacity, start a run,
// stop a job's runs, and find out whether a run still exists. Adapters:
// localexec (real processes on this machine) and, in AWS, Batch.
//
// A run's progress comes back as Events through the Sink an adapter is
// built with, never as return values, so the same events handler records
// them whether a local process exited or AWS Batch reported a job state
// change. Every method returns errs codes: errs.Invalid for a request this
// compute cannot honour (the message is the user-facing reason),
// errs.NotFound for an unknown run, errs.Unavailable for a transient
// failure of the compute itself.
package compute

import (
	"context"
	"errors"
	"io"
	"time"
)

// StopMode says how a job is stopped, after the spec's three stop
// endpoints.
type StopMode string

const (
	// Graceful: SIGTERM, a grace period, SIGKILL; outputs saved (stop/).
	Graceful StopMode = "stop"
	// Force: terminate without the grace period; outputs saved (force_stop/).
	Force StopMode = "force_stop"
	// Discard: kill at once; outputs discarded (shutdown/).
	Discard StopMode = "shutdown"
)

// Valid reports whether m is one of the modes.
func (m StopMode) Valid() bool { return m == Graceful || m == Force || m == Discard }

// Requirements are what a job needs of compute, checked before it queues.
type Requirements struct {
	Analysis     string // analysis code, e.g. "openfoam"
	Version      string // the version's versionCode, e.g. "v1912-openmpi"
	VersionName  string // its display version, e.g. "v1912", for messages
	CoreType     string
	Cores        int   // slots × coresPerSlot
	StorageBytes int64 // storagePerNode, 0 if not asked for
}

// File is one input of a run: the blob to stage and its name in the
// working directory.
type File struct {
	Name string
	Key  string
	// Executable files are staged with their execute bits set (rendered
	// templates, which a command may run).
	Executable bool
}

// Run is what starting one run needs.
type Run struct {
	JobID   string
	OwnerID string
	RunID   string // "1", "2", …
	Req     Requirements
	// Command is the analysis command with templates already filled.
	Command     string
	PreCommand  string
	PostCommand string
	// Scripts are pre/post-process script files staged next to inputs.
	Inputs []File
	// Cores is what this run uses of the job's reservation: all of it
	// for a job of one run, coresPerSlot for each run of a DOE job, whose
	// slots run side by side.
	Cores  int
	Env    map[string]string
	UseMPI bool
	// Walltime bounds the command (0: none).
	Walltime time.Duration
	// OutputPrefix is the blob prefix outputs are written under,
	// user/user_<uid>/output/job_<jid>/run<n>/.
	OutputPrefix string
	// Filters choose which outputs are kept (Rescale's resourceFilters
	// and archiveFilters: include/exclude glob patterns).
	Include, Exclude []string
}

// State is where a run is.
type State string

const (
	Running State = "running"
	Exited  State = "exited"
)

// Event is a run's progress as compute reports it.
type Event struct {
	JobID   string
	OwnerID string
	RunID   string
	State   State
	Time    time.Time
	// For Exited:
	ExitCode int
	// Stopped is the stop mode that ended the run, "" if it ended by itself.
	Stopped StopMode
	// System is set when the run failed for a reason of the platform's,
	// not the user's (sandbox setup, staging, disk, lost process): such
	// runs are retried; a failing command is not.
	System bool
	// WalltimeExceeded: the run was stopped at its walltime.
	WalltimeExceeded bool
	// Reason explains a failure in words for the job's statuses.
	Reason string
}

// Sink receives events; an adapter calls it from its own goroutines.
type Sink func(ctx context.Context, ev Event) error

// Compute is the port.
type Compute interface {
	// Check returns errs.Invalid with a user-facing reason when this
	// compute cannot run the job at all (software not installed, more
	// cores than it has, not enough disk).
	Check(ctx context.Context, req Requirements) error
	// Reserve waits until capacity for the job is available, calling
	// waiting once if it must wait; ErrStopped if the job is stopped
	// meanwhile. Capacity stays reserved until Release.
	Reserve(ctx context.Context, jobID string, cores int, waiting func()) error
	// Release frees the job's capacity; releasing twice is not an error.
	Release(ctx context.Context, jobID string) error
	// StartRun starts a run and returns at once; its progress arrives as
	// events. Starting a run that is already running is not an error. A
	// run of a stopped job is refused with ErrStopped.
	StartRun(ctx context.Context, r Run) error
	// Stop ends runs in the given mode; they end with an Exited event
	// whose Stopped is set. With runID "" it stops every run of the job
	// and refuses new ones (ErrStopped); with a run id, only that run.
	Stop(ctx context.Context, jobID, runID string, mode StopMode) error
	// Alive reports whether the run still exists on this compute (false
	// after the process or its instance is gone), for the reconciler.
	Alive(ctx context.Context, jobID, runID string) (bool, error)
}

// ErrStopped is returned for work of a job that has been stopped.
var ErrStopped = errors.New("job stopped")

// Live reads a running run's working directory, where a compute can
// (locally: the directory on disk). Paths are relative to the working
// directory and never escape it; a run that is not running is
// errs.NotFound.
type Live interface {
	List(ctx context.Context, jobID, runID, rel string) ([]Entry, error)
	// Tail writes the last lines of a file, reading only its end.
	Tail(ctx context.Context, jobID, runID, rel string, lines int, w io.Writer) error
	// Open reads a whole regular file.
	Open(ctx context.Context, jobID, runID, rel string) (io.ReadCloser, error)
	// Snapshot writes a zip of the whole working directory.
	Snapshot(ctx context.Context, jobID, runID string, w io.Writer) error
}

// Entry is one file or directory in a run's working directory.
type Entry struct {
	Path    string    `json:"path"`
	IsDir   bool      `json:"isDirectory"`
	Size    int64     `json:"size"`
	ModTime time.Time `json:"modified"`
}
