// Package runstate applies compute's run state events to the job
// lifecycle: the local executor's events in rescale-local, and in AWS the
// Batch "Job State Change" events translated to the same compute.Event.
// One handler, so a run's end is recorded the same way in both.
package runstate

import (
	"context"
	"fmt"

	"github.com/openrescale/platform/shared/compute"
)

// Recorder is what the handler feeds; *lifecycle.Service is one.
type Recorder interface {
	RecordEvent(ctx context.Context, ev compute.Event) error
}

// Handler records run events.
type Handler struct {
	Lifecycle Recorder
}

// Handle records one event; it is a compute.Sink.
func (h Handler) Handle(ctx context.Context, ev compute.Event) error {
	if ev.JobID == "" || ev.OwnerID == "" || ev.RunID == "" {
		return fmt.Errorf("run event without job, owner or run: %+v", ev)
	}
	if err := h.Lifecycle.RecordEvent(ctx, ev); err != nil {
		return fmt.Errorf("record %s event of run %s of job %s: %w", ev.State, ev.RunID, ev.JobID, err)
	}
	return nil
}

var _ compute.Sink = Handler{}.Handle
