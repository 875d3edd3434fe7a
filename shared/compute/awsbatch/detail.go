package awsbatch

import (
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/batch/types"

	"github.com/openrescale/platform/shared/compute"
	"github.com/openrescale/platform/shared/compute/agentspec"
)

// Detail is what the adapter reads of a Batch job: the detail of a "Batch
// Job State Change" event, which has the shape of DescribeJobs' JobDetail
// (times in milliseconds since the epoch). Other fields are ignored, so
// fields Batch adds later do not break decoding.
type Detail struct {
	JobID        string            `json:"jobId"`
	JobName      string            `json:"jobName"`
	JobQueue     string            `json:"jobQueue"`
	Status       string            `json:"status"`
	StatusReason string            `json:"statusReason"`
	CreatedAt    int64             `json:"createdAt"`
	StartedAt    int64             `json:"startedAt"`
	StoppedAt    int64             `json:"stoppedAt"`
	Parameters   map[string]string `json:"parameters"`
	Container    *Container        `json:"container"`
	Attempts     []Attempt         `json:"attempts"`
}

// Container is the part of a job's (or attempt's) container detail that
// says how it ended.
type Container struct {
	ExitCode *int   `json:"exitCode"`
	Reason   string `json:"reason"`
}

// Attempt is one attempt of a job.
type Attempt struct {
	Container    *Container `json:"container"`
	StartedAt    int64      `json:"startedAt"`
	StoppedAt    int64      `json:"stoppedAt"`
	StatusReason string     `json:"statusReason"`
}

// DetailOf converts DescribeJobs' answer to a Detail.
func DetailOf(d types.JobDetail) Detail {
	out := Detail{
		JobID: aws.ToString(d.JobId), JobName: aws.ToString(d.JobName), JobQueue: aws.ToString(d.JobQueue),
		Status: string(d.Status), StatusReason: aws.ToString(d.StatusReason),
		CreatedAt: aws.ToInt64(d.CreatedAt), StartedAt: aws.ToInt64(d.StartedAt), StoppedAt: aws.ToInt64(d.StoppedAt),
		Parameters: d.Parameters,
	}
	conv := func(exit *int32, reason *string) *Container {
		c := &Container{Reason: aws.ToString(reason)}
		if exit != nil {
			v := int(*exit)
			c.ExitCode = &v
		}
		return c
	}
	if d.Container != nil {
		out.Container = conv(d.Container.ExitCode, d.Container.Reason)
	}
	for _, a := range d.Attempts {
		at := Attempt{StartedAt: aws.ToInt64(a.StartedAt), StoppedAt: aws.ToInt64(a.StoppedAt), StatusReason: aws.ToString(a.StatusReason)}
		if a.Container != nil {
			at.Container = conv(a.Container.ExitCode, a.Container.Reason)
		}
		out.Attempts = append(out.Attempts, at)
	}
	return out
}

// systemStatusReasons start a job's statusReason when the platform, not the
// command, ended it (from the AWS Batch and Amazon ECS troubleshooting
// guides): the instance went away (on-demand failure or a Spot reclaim
// both read "Host EC2 (instance i-…) terminated."), the task never started,
// the job waited for capacity until the queue's job state time limit ended
// it, or its network interface was not provisioned in time.
var systemStatusReasons = []string{
	"Host EC2",
	"Task failed to start",
	"Terminated by JobStateTimeLimit",
	"Timeout waiting for network interface",
	"Waiting for the network interface",
}

// systemContainerReasons start a container's reason (Amazon ECS stopped
// task errors) when the container could not be created, pulled, started or
// stopped, or ECS itself failed.
var systemContainerReasons = []string{
	"CannotPullContainerError",
	"CannotCreateContainerError",
	"CannotStartContainerError",
	"CannotInspectContainerError",
	"CannotStopContainerError",
	"ContainerRuntimeError",
	"ContainerRuntimeTimeoutError",
	"DockerTimeoutError",
	"ResourceInitializationError",
	"InternalError",
	"TaskFailedToStart",
	"SpotInterruption",
}

// timeoutReason is Batch's statusReason for a job past its
// attemptDurationSeconds.
const timeoutReason = "Job attempt duration exceeded timeout"

func hasPrefixFold(s string, prefixes []string) bool {
	for _, p := range prefixes {
		if len(s) >= len(p) && strings.EqualFold(s[:len(p)], p) {
			return true
		}
	}
	return false
}

// ids returns the run a Batch job belongs to: its parameters, or for the
// job and run its name.
func (d Detail) ids() (job, run, owner string) {
	job, run, owner = d.Parameters[ParamJobID], d.Parameters[ParamRunID], d.Parameters[ParamOwnerID]
	if job == "" || run == "" {
		if rest, ok := strings.CutPrefix(d.JobName, "job-"); ok {
			if i := strings.LastIndex(rest, "-run"); i > 0 {
				job, run = rest[:i], rest[i+len("-run"):]
			}
		}
	}
	return job, run, owner
}

// outcome is how the job's container ended: from the job, else from its
// last attempt (for a multi-node job, Batch fills both from the main node).
func (d Detail) outcome() (exit *int, reason string, stopped int64) {
	stopped = d.StoppedAt
	if d.Container != nil {
		exit, reason = d.Container.ExitCode, d.Container.Reason
	}
	if n := len(d.Attempts); n > 0 {
		last := d.Attempts[n-1]
		if last.Container != nil {
			if exit == nil {
				exit = last.Container.ExitCode
			}
			if reason == "" {
				reason = last.Container.Reason
			}
		}
		if stopped == 0 {
			stopped = last.StoppedAt
		}
	}
	return exit, reason, stopped
}

func millis(ms int64) time.Time {
	if ms == 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms).UTC()
}

// OutputPrefix is the run's output prefix as the job's parameters carry
// it, "" if they do not.
func (d Detail) OutputPrefix() string { return d.Parameters[ParamOutputPrefix] }

// EventOf translates a Batch job's state into its run's event, without
// looking anything up (Compute.Event also drops superseded attempts). ok is
// false for states that are not news (SUBMITTED, PENDING, RUNNABLE,
// STARTING), for Batch jobs that are not runs, for the nodes of a
// multi-node job (ids "<job>#<node>") and for duplicates the adapter ended.
// The event's Time is when the job started or stopped, zero if the detail
// does not say.
func EventOf(d Detail) (compute.Event, bool) {
	if strings.Contains(d.JobID, "#") || strings.Contains(d.JobID, ":") {
		return compute.Event{}, false // a node of a multi-node job, or an array child
	}
	job, run, owner := d.ids()
	if job == "" || run == "" || owner == "" {
		return compute.Event{}, false
	}
	ev := compute.Event{JobID: job, RunID: run, OwnerID: owner}
	switch types.JobStatus(d.Status) {
	case types.JobStatusRunning:
		ev.State, ev.Time = compute.Running, millis(d.StartedAt)
		return ev, true
	case types.JobStatusSucceeded, types.JobStatusFailed:
	default:
		return compute.Event{}, false
	}
	exit, containerReason, stopped := d.outcome()
	ev.State, ev.Time, ev.ExitCode = compute.Exited, millis(stopped), -1
	if exit != nil {
		ev.ExitCode = *exit
	}
	if d.Status == string(types.JobStatusSucceeded) {
		ev.ExitCode = 0
		return ev, true
	}
	status := d.StatusReason
	switch {
	case status == duplicateReason:
		return compute.Event{}, false
	case strings.HasPrefix(status, stopReasonPrefix):
		mode := compute.StopMode(strings.TrimPrefix(status, stopReasonPrefix))
		if !mode.Valid() {
			mode = compute.Graceful
		}
		ev.Stopped = mode
	case strings.HasPrefix(status, timeoutReason) || exit != nil && *exit == agentspec.ExitWalltime:
		ev.WalltimeExceeded = true
	case hasPrefixFold(status, systemStatusReasons):
		ev.System, ev.Reason = true, reasonOf(status, containerReason)
	case hasPrefixFold(containerReason, systemContainerReasons):
		ev.System, ev.Reason = true, reasonOf(containerReason, status)
	case exit == nil:
		// The container never reported an exit: it did not run, or was
		// ended by something other than its command.
		ev.System = true
		ev.Reason = reasonOf(status, containerReason)
		if ev.Reason == "" {
			ev.Reason = "the Batch job failed without an exit code"
		}
	case *exit == agentspec.ExitSystem:
		ev.System, ev.Reason = true, "the job agent failed on the platform's side (see process_output.log)"
	case *exit == agentspec.ExitInputs:
		ev.Reason = "staging the inputs failed (see process_output.log)"
	default:
		// The command's own failure. ECS's reason is kept when it says
		// more than that the container exited (out of memory, say).
		if containerReason != "" && !strings.HasPrefix(containerReason, "Essential container in task exited") {
			ev.Reason = containerReason
		}
	}
	return ev, true
}

// reasonOf joins the two reasons Batch gives, either of which may be empty.
func reasonOf(first, second string) string {
	first, second = strings.TrimSpace(first), strings.TrimSpace(second)
	switch {
	case first == "":
		return second
	case second == "" || second == first || strings.HasPrefix(second, "Essential container in task exited"):
		return first
	}
	return fmt.Sprintf("%s (%s)", first, second)
}
