package batchstate_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/batch"

	"github.com/openrescale/platform/events/batchstate"
	"github.com/openrescale/platform/events/runstate"
	"github.com/openrescale/platform/shared/blob"
	"github.com/openrescale/platform/shared/blob/fileblob"
	"github.com/openrescale/platform/shared/compute"
	"github.com/openrescale/platform/shared/compute/awsbatch"
	"github.com/openrescale/platform/shared/store/boltstore"
)

// fixture reads a recorded event from events/fixtures/batch.
func fixture(t *testing.T, name string) events.CloudWatchEvent {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "fixtures", "batch", name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	var e events.CloudWatchEvent
	if err := json.Unmarshal(b, &e); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return e
}

// recorder stands in for the lifecycle behind runstate.
type recorder struct{ got []compute.Event }

func (r *recorder) RecordEvent(ctx context.Context, ev compute.Event) error {
	r.got = append(r.got, ev)
	return nil
}

// adapter is the Batch adapter with an empty store: no run has a newer
// attempt and no job was stopped, so Event is EventOf. Its Batch client is
// never called.
func adapter(t *testing.T) *awsbatch.Compute {
	t.Helper()
	st, err := boltstore.Open(filepath.Join(t.TempDir(), "store.db"), boltstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	c, err := awsbatch.New(awsbatch.Config{Client: batch.New(batch.Options{Region: "us-east-1"}), Store: st, Bucket: "data"})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func handler(t *testing.T, rec *recorder, bucket blob.Bucket) batchstate.Handler {
	return batchstate.Handler{Runs: adapter(t), Record: runstate.Handler{Lifecycle: rec}.Handle, Bucket: bucket}
}

func ms(v int64) time.Time { return time.UnixMilli(v).UTC() }

func TestFixtures(t *testing.T) {
	run := compute.Event{JobID: "kXyZ12", OwnerID: "uAbC34", RunID: "1"}
	with := func(edit func(*compute.Event)) *compute.Event {
		ev := run
		edit(&ev)
		return &ev
	}
	for _, tc := range []struct {
		fixture string
		want    *compute.Event // nil: no event
	}{
		{"running", with(func(e *compute.Event) { e.State, e.Time = compute.Running, ms(1741944321113) })},
		{"succeeded", with(func(e *compute.Event) { e.State, e.Time, e.ExitCode = compute.Exited, ms(1741946112774), 0 })},
		{"failed-exit-code", with(func(e *compute.Event) { e.State, e.Time, e.ExitCode = compute.Exited, ms(1741946112774), 3 })},
		{"failed-host-terminated", with(func(e *compute.Event) {
			e.State, e.Time, e.ExitCode, e.System = compute.Exited, ms(1741945267391), -1, true
			e.Reason = "Host EC2 (instance i-0a1b2c3d4e5f67890) terminated."
		})},
		{"failed-stopped", with(func(e *compute.Event) {
			e.State, e.Time, e.ExitCode, e.Stopped = compute.Exited, ms(1741945650128), 143, compute.Force
		})},
		{"runnable", nil},
	} {
		t.Run(tc.fixture, func(t *testing.T) {
			rec := &recorder{}
			if err := handler(t, rec, nil).Handle(t.Context(), fixture(t, tc.fixture)); err != nil {
				t.Fatal(err)
			}
			switch {
			case tc.want == nil && len(rec.got) != 0:
				t.Fatalf("recorded %+v, want nothing", rec.got)
			case tc.want == nil:
			case len(rec.got) != 1:
				t.Fatalf("recorded %d events", len(rec.got))
			case rec.got[0] != *tc.want:
				t.Fatalf("recorded\n %+v\nwant\n %+v", rec.got[0], *tc.want)
			}
		})
	}
}

// Variants of the recorded events: reasons and exit codes that change
// what an ended run means.
func TestFailureReasons(t *testing.T) {
	for _, tc := range []struct {
		name   string
		edit   func(d map[string]any)
		check  func(ev compute.Event) bool
		ignore bool
	}{
		{"image pull failure", func(d map[string]any) {
			setAttempt(d, nil, "CannotPullContainerError: pull image manifest has been retried 5 time(s)")
			d["statusReason"] = "Task failed to start"
		}, func(ev compute.Event) bool {
			return ev.System && strings.HasPrefix(ev.Reason, "Task failed to start (CannotPullContainerError")
		}, false},
		{"container start failure", func(d map[string]any) {
			setAttempt(d, nil, "CannotStartContainerError: Error response from daemon")
			d["statusReason"] = "Essential container in task exited"
		}, func(ev compute.Event) bool {
			return ev.System && strings.HasPrefix(ev.Reason, "CannotStartContainerError")
		}, false},
		{"capacity wait ended", func(d map[string]any) {
			delete(d, "attempts")
			d["container"] = map[string]any{}
			d["statusReason"] = "Terminated by JobStateTimeLimit action due to reason: CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY"
		}, func(ev compute.Event) bool { return ev.System && ev.ExitCode == -1 }, false},
		{"walltime backstop", func(d map[string]any) {
			setAttempt(d, ptr(137), "")
			d["statusReason"] = "Job attempt duration exceeded timeout"
		}, func(ev compute.Event) bool { return ev.WalltimeExceeded && !ev.System && ev.Stopped == "" }, false},
		{"agent: walltime", func(d map[string]any) { setAttempt(d, ptr(251), "") },
			func(ev compute.Event) bool { return ev.WalltimeExceeded && ev.ExitCode == 251 }, false},
		{"agent: platform failure", func(d map[string]any) { setAttempt(d, ptr(250), "") },
			func(ev compute.Event) bool { return ev.System && strings.Contains(ev.Reason, "job agent") }, false},
		{"agent: unsafe inputs", func(d map[string]any) { setAttempt(d, ptr(252), "") },
			func(ev compute.Event) bool {
				return !ev.System && ev.ExitCode == 252 && strings.Contains(ev.Reason, "staging")
			}, false},
		{"out of memory", func(d map[string]any) {
			setAttempt(d, ptr(137), "OutOfMemoryError: Container killed due to memory usage")
		}, func(ev compute.Event) bool {
			return !ev.System && ev.ExitCode == 137 && strings.HasPrefix(ev.Reason, "OutOfMemoryError")
		}, false},
		{"terminated by someone else", func(d map[string]any) {
			setAttempt(d, nil, "")
			d["statusReason"] = "Terminated by operator"
		}, func(ev compute.Event) bool { return ev.System && ev.Reason == "Terminated by operator" }, false},
		{"duplicate the adapter ended", func(d map[string]any) { d["statusReason"] = "rescale:duplicate" }, nil, true},
		{"node of a multi-node job", func(d map[string]any) { d["jobId"] = d["jobId"].(string) + "#1" }, nil, true},
		{"not a run", func(d map[string]any) {
			d["parameters"] = map[string]any{}
			d["jobName"] = "nightly-backup"
		}, nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := fixture(t, "failed-exit-code")
			var d map[string]any
			if err := json.Unmarshal(e.Detail, &d); err != nil {
				t.Fatal(err)
			}
			tc.edit(d)
			e.Detail, _ = json.Marshal(d)
			rec := &recorder{}
			if err := handler(t, rec, nil).Handle(t.Context(), e); err != nil {
				t.Fatal(err)
			}
			if tc.ignore {
				if len(rec.got) != 0 {
					t.Fatalf("recorded %+v, want nothing", rec.got)
				}
				return
			}
			if len(rec.got) != 1 || !tc.check(rec.got[0]) {
				t.Fatalf("recorded %+v", rec.got)
			}
		})
	}
}

func ptr(v int) *int { return &v }

// setAttempt makes the job's only attempt end with exit (nil: none) and
// reason, as Batch fills both the job's container and its attempt.
func setAttempt(d map[string]any, exit *int, reason string) {
	c := map[string]any{"reason": reason}
	if exit != nil {
		c["exitCode"] = *exit
	}
	if reason == "" {
		delete(c, "reason")
	}
	d["container"] = c
	d["attempts"] = []any{map[string]any{"container": c, "startedAt": 1741944321113, "stoppedAt": 1741946112774}}
}

// The job's name says which run it is when its parameters do not (the
// owner must come from the parameters).
func TestNameFallback(t *testing.T) {
	e := fixture(t, "succeeded")
	var d map[string]any
	_ = json.Unmarshal(e.Detail, &d)
	d["parameters"] = map[string]any{"rescaleOwnerId": "uAbC34"}
	d["jobName"] = "job-kXyZ12-run7"
	e.Detail, _ = json.Marshal(d)
	rec := &recorder{}
	if err := handler(t, rec, nil).Handle(t.Context(), e); err != nil {
		t.Fatal(err)
	}
	if len(rec.got) != 1 || rec.got[0].JobID != "kXyZ12" || rec.got[0].RunID != "7" {
		t.Fatalf("recorded %+v", rec.got)
	}
}

func TestOtherEventsAreIgnored(t *testing.T) {
	e := fixture(t, "succeeded")
	e.DetailType = "Batch Job Queue Blocked"
	rec := &recorder{}
	if err := handler(t, rec, nil).Handle(t.Context(), e); err != nil || len(rec.got) != 0 {
		t.Fatalf("queue event: %v, %+v", err, rec.got)
	}
	e = fixture(t, "succeeded")
	e.Detail = json.RawMessage(`{"jobId": 7}`)
	if err := handler(t, rec, nil).Handle(t.Context(), e); err == nil {
		t.Fatal("an undecodable detail was accepted")
	}
}

// A failure to record is returned, so EventBridge retries the invocation.
func TestRecordFailureIsReturned(t *testing.T) {
	boom := errors.New("store unavailable")
	h := batchstate.Handler{Runs: adapter(t), Record: func(context.Context, compute.Event) error { return boom }}
	if err := h.Handle(t.Context(), fixture(t, "succeeded")); !errors.Is(err, boom) {
		t.Fatalf("Handle: %v", err)
	}
}

// A run ended by a shutdown keeps no outputs, whatever the agent saved
// before its container was killed; a stop keeps them.
func TestShutdownDiscardsOutputs(t *testing.T) {
	ctx := t.Context()
	b, err := fileblob.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	prefix := "user/user_uAbC34/output/job_kXyZ12/run1/"
	for _, k := range []string{prefix + "result.txt", prefix + "process_output.log", "user/user_uAbC34/output/job_kXyZ12/run2/keep.txt"} {
		if _, err := b.Put(ctx, k, strings.NewReader("x"), ""); err != nil {
			t.Fatal(err)
		}
	}
	count := func(p string) int {
		n := 0
		_ = b.List(ctx, p, func(blob.Attrs) error { n++; return nil })
		return n
	}
	rec := &recorder{}
	if err := handler(t, rec, b).Handle(ctx, fixture(t, "failed-stopped")); err != nil { // force_stop
		t.Fatal(err)
	}
	if count(prefix) != 2 {
		t.Fatal("a force_stop removed outputs")
	}
	e := fixture(t, "failed-stopped")
	var d map[string]any
	_ = json.Unmarshal(e.Detail, &d)
	d["statusReason"] = awsbatch.StopReason(compute.Discard)
	e.Detail, _ = json.Marshal(d)
	if err := handler(t, rec, b).Handle(ctx, e); err != nil {
		t.Fatal(err)
	}
	if n := count(prefix); n != 0 {
		t.Fatalf("%d outputs left after a shutdown", n)
	}
	if count("user/user_uAbC34/output/job_kXyZ12/run2/") != 1 {
		t.Fatal("another run's outputs were removed")
	}
	if got := rec.got[len(rec.got)-1]; got.Stopped != compute.Discard {
		t.Fatalf("recorded %+v", got)
	}
	// A prefix that is not the job's is refused, not emptied.
	d["parameters"].(map[string]any)["rescaleOutputPrefix"] = "user/user_uAbC34/"
	e.Detail, _ = json.Marshal(d)
	if err := handler(t, rec, b).Handle(ctx, e); err == nil {
		t.Fatal("a shutdown with a foreign output prefix was accepted")
	}
}
