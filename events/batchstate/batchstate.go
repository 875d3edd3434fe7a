// Package batchstate turns AWS Batch's "Batch Job State Change" events,
// delivered by an EventBridge rule to a Lambda function, into the runs'
// compute events and records them through the same handler the local
// executor's events go through (events/runstate). Which Batch job belongs
// to which run, and what its states and reasons mean, is the Batch
// adapter's knowledge (shared/compute/awsbatch); this package unwraps the
// event and applies one rule of its own: a run ended by a shutdown
// (compute.Discard) keeps no outputs.
//
// Errors are returned, so the Lambda invocation fails and EventBridge
// retries it (and finally sends it to the rule's dead-letter queue);
// events that are not a run's news are dropped without error.
package batchstate

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"

	"github.com/aws/aws-lambda-go/events"

	"github.com/openrescale/platform/shared/blob"
	"github.com/openrescale/platform/shared/compute"
	"github.com/openrescale/platform/shared/compute/awsbatch"
)

// The event's source and detail type, as the EventBridge rule matches them.
const (
	Source     = "aws.batch"
	DetailType = "Batch Job State Change"
)

// Runs translates a Batch job's state into its run's event; the Batch
// adapter, *awsbatch.Compute, is one.
type Runs interface {
	Event(ctx context.Context, d awsbatch.Detail) (compute.Event, bool, error)
}

// Handler handles state change events.
type Handler struct {
	Runs Runs
	// Record records an event: runstate.Handler{Lifecycle: svc}.Handle.
	Record compute.Sink
	// Bucket holds the runs' outputs. The agent cannot tell a shutdown
	// from a stop (Batch sends SIGTERM for both) and may save outputs;
	// the handler removes them once the Batch job has ended, before the
	// event is recorded. Nil leaves them.
	Bucket blob.Bucket
	Log    *slog.Logger
}

// Handle handles one event; it is the Lambda function's handler.
func (h Handler) Handle(ctx context.Context, e events.CloudWatchEvent) error {
	log := h.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if e.Source != Source || e.DetailType != DetailType {
		log.WarnContext(ctx, "not a Batch job state change", "source", e.Source, "detailType", e.DetailType, "id", e.ID)
		return nil
	}
	var d awsbatch.Detail
	if err := json.Unmarshal(e.Detail, &d); err != nil {
		// The detail carries the run's spec and key: never log it.
		return fmt.Errorf("decode Batch job state change %s: %w", e.ID, err)
	}
	ev, ok, err := h.Runs.Event(ctx, d)
	if err != nil {
		return fmt.Errorf("Batch job %s (%s): %w", d.JobID, d.Status, err)
	}
	if !ok {
		log.DebugContext(ctx, "Batch job state change ignored", "batchJob", d.JobID, "name", d.JobName, "status", d.Status)
		return nil
	}
	if ev.Time.IsZero() {
		ev.Time = e.Time
	}
	if ev.State == compute.Exited && ev.Stopped == compute.Discard && h.Bucket != nil {
		if err := h.discard(ctx, ev, d.OutputPrefix()); err != nil {
			return err
		}
	}
	return h.Record(ctx, ev)
}

// discard removes what a shut-down run saved under its output prefix, as
// the Batch job's parameters give it.
func (h Handler) discard(ctx context.Context, ev compute.Event, prefix string) error {
	// Remove nothing but the run's own outputs, whatever the parameters say.
	if !strings.HasPrefix(prefix, "user/user_"+ev.OwnerID+"/output/job_"+ev.JobID+"/") || !strings.HasSuffix(prefix, "/") {
		return fmt.Errorf("run %s of job %s: output prefix %q is not the job's", ev.RunID, ev.JobID, prefix)
	}
	var keys []string
	if err := h.Bucket.List(ctx, prefix, func(a blob.Attrs) error {
		keys = append(keys, a.Key)
		return nil
	}); err != nil {
		return fmt.Errorf("list outputs of shut-down run %s of job %s: %w", ev.RunID, ev.JobID, err)
	}
	for _, k := range keys {
		if err := h.Bucket.Delete(ctx, k); err != nil {
			return fmt.Errorf("remove output %s of shut-down run: %w", k, err)
		}
	}
	return nil
}
