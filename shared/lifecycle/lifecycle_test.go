package lifecycle

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/openrescale/platform/shared/accounts"
	"github.com/openrescale/platform/shared/catalog"
	"github.com/openrescale/platform/shared/compute"
	"github.com/openrescale/platform/shared/errs"
	"github.com/openrescale/platform/shared/files"
	"github.com/openrescale/platform/shared/folders"
	"github.com/openrescale/platform/shared/jobs"
	"github.com/openrescale/platform/shared/store"
	"github.com/openrescale/platform/shared/store/dynamostore/dynamolocal"
	"github.com/openrescale/platform/shared/store/enginetest"
)

func TestMain(m *testing.M) { dynamolocal.Main(m) }

func TestTransitionTable(t *testing.T) {
	for _, tc := range []struct {
		from, to string
		ok       bool
	}{
		{jobs.StatusSaved, jobs.StatusPending, true},
		{jobs.StatusSaved, jobs.StatusExecuting, false},
		{jobs.StatusPending, jobs.StatusQueued, true},
		{jobs.StatusPending, jobs.StatusWaitingForQueue, true},
		{jobs.StatusWaitingForQueue, jobs.StatusQueued, true},
		{jobs.StatusQueued, jobs.StatusPending, false},
		{jobs.StatusQueued, jobs.StatusStarted, true},
		{jobs.StatusStarted, jobs.StatusValidated, true},
		{jobs.StatusValidated, jobs.StatusExecuting, true},
		{jobs.StatusExecuting, jobs.StatusValidated, false},
		{jobs.StatusExecuting, jobs.StatusStopping, true},
		{jobs.StatusPending, jobs.StatusStopping, true},
		{jobs.StatusStopping, jobs.StatusExecuting, false},
		{jobs.StatusStopping, jobs.StatusCompleted, true},
		{jobs.StatusCompleted, jobs.StatusPending, false},
		{jobs.StatusCompleted, jobs.StatusStopping, false},
	} {
		if got := Allowed(tc.from, tc.to); got != tc.ok {
			t.Errorf("Allowed(%q, %q) = %v, want %v", tc.from, tc.to, got, tc.ok)
		}
	}
	// Every status but Completed can stop and complete: stop works in
	// every state, a failure ends a job from anywhere.
	for from := range transitions {
		if from == jobs.StatusSaved || from == jobs.StatusCompleted {
			continue
		}
		if !Allowed(from, jobs.StatusCompleted) {
			t.Errorf("%s cannot complete", from)
		}
		if from != jobs.StatusStopping && !Allowed(from, jobs.StatusStopping) {
			t.Errorf("%s cannot stop", from)
		}
	}
}

// recordingOrchestrator records starts; the steps are driven by the test.
type recordingOrchestrator struct {
	mu      sync.Mutex
	started []string
	answers map[string]string // token → "success" or error name
}

func (o *recordingOrchestrator) Start(ctx context.Context, name string, input json.RawMessage) (bool, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.started = append(o.started, name)
	return true, nil
}

func (o *recordingOrchestrator) SendTaskSuccess(ctx context.Context, token string, out json.RawMessage) error {
	return o.answer(token, "success")
}

func (o *recordingOrchestrator) SendTaskFailure(ctx context.Context, token, name, cause string) error {
	return o.answer(token, name)
}

func (o *recordingOrchestrator) answer(token, v string) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.answers == nil {
		o.answers = map[string]string{}
	}
	if _, ok := o.answers[token]; ok {
		return errs.E(errs.NotFound, "task already answered")
	}
	o.answers[token] = v
	return nil
}

func (o *recordingOrchestrator) Status(ctx context.Context, name string) (string, error) {
	return "RUNNING", nil
}

// nullCompute accepts everything and runs nothing; events are injected.
type nullCompute struct{ stops atomic.Int32 }

func (*nullCompute) Check(context.Context, compute.Requirements) error { return nil }
func (*nullCompute) Reserve(context.Context, string, int, func()) error {
	return nil
}
func (*nullCompute) Release(context.Context, string) error       { return nil }
func (*nullCompute) StartRun(context.Context, compute.Run) error { return nil }
func (c *nullCompute) Stop(context.Context, string, string, compute.StopMode) error {
	c.stops.Add(1)
	return nil
}
func (*nullCompute) Alive(context.Context, string, string) (bool, error) { return true, nil }

type fixture struct {
	svc   *Service
	orch  *recordingOrchestrator
	comp  *nullCompute
	jobs  *jobs.Service
	owner accounts.User
}

func newFixture(t *testing.T, st store.Store) fixture {
	t.Helper()
	cat, err := catalog.Load()
	if err != nil {
		t.Fatal(err)
	}
	acc := accounts.New(st, time.Now)
	u, err := acc.EnsureUser(t.Context(), "alice@example.com")
	if err != nil {
		t.Fatal(err)
	}
	fr := files.NewRepo(st)
	fsvc := &files.Service{Repo: fr, Now: time.Now}
	js := jobs.New(st, cat, fr, fsvc, time.Now)
	f := fixture{orch: &recordingOrchestrator{}, comp: &nullCompute{}, jobs: js, owner: u}
	f.svc = New(Config{Store: st, Jobs: js, Files: fr, Folders: folders.New(st, fsvc, time.Now), Keys: acc, Catalog: cat,
		Compute: f.comp, Orchestrator: f.orch, APIURL: "http://127.0.0.1/api/v2/"})
	return f
}

func (f fixture) job(t *testing.T) jobs.Job {
	t.Helper()
	spec, err := jobs.ParseSpec([]byte(`{"name": "j", "jobanalyses": [{"analysis": {"code": "user_included"},
		"command": "true", "hardware": {"coreType": "standard-plus", "coresPerSlot": 1}}]}`))
	if err != nil {
		t.Fatal(err)
	}
	j, err := f.jobs.Create(t.Context(), jobs.Owner{UserID: f.owner.ID, Email: f.owner.Email}, spec)
	if err != nil {
		t.Fatal(err)
	}
	return j
}

func (f fixture) statuses(t *testing.T, id string) []string {
	t.Helper()
	rec, err := f.svc.History(t.Context(), f.owner.ID, id)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, s := range rec.Statuses {
		out = append(out, s.Status)
	}
	return out
}

// TestRacingSubmitsAndTransitions: concurrent submits start one execution
// and write one Pending; racing transitions to the same status commit
// once; a stop racing the end leaves exactly one Completed.
func TestRacingSubmitsAndTransitions(t *testing.T) {
	enginetest.Run(t, func(t *testing.T, st store.Store) {
		f := newFixture(t, st)
		j := f.job(t)
		ctx := t.Context()
		var wg sync.WaitGroup
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := f.svc.Submit(ctx, f.owner.ID, j.ID); err != nil {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		if len(f.orch.started) != 1 {
			t.Fatalf("%d executions started", len(f.orch.started))
		}
		var won atomic.Int32
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, _, err := f.svc.advance(ctx, f.owner.ID, j.ID, jobs.StatusQueued, func(_ jobs.Job, r *Record) error {
					won.Add(1) // may run for attempts that then lose
					return nil
				})
				if err != nil {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		if got := fmt.Sprint(f.statuses(t, j.ID)); got != "[Pending Queued]" {
			t.Fatalf("statuses %s", got)
		}
		// A stop and the end race: one Completed, whoever wins.
		for i := range 6 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				var err error
				if i%2 == 0 {
					err = f.svc.Stop(ctx, f.owner.ID, j.ID, compute.Graceful)
				} else {
					_, err = f.svc.Finish(ctx, Ref{JobID: j.ID, OwnerID: f.owner.ID})
				}
				if err != nil {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		completed := 0
		for _, s := range f.statuses(t, j.ID) {
			if s == "Completed" {
				completed++
			}
		}
		if completed != 1 {
			t.Fatalf("statuses %v", f.statuses(t, j.ID))
		}
		got, _, err := f.jobs.Get(ctx, f.owner.ID, j.ID)
		if err != nil || got.Status != jobs.StatusCompleted {
			t.Fatalf("job status %q %v", got.Status, err)
		}
		// A completed job is not active: the reconciler does not see it.
		res, err := st.Query(ctx, store.Query{Index: store.GSI1, PK: activePK})
		if err != nil || res.Total != 0 {
			t.Fatalf("active jobs %d %v", res.Total, err)
		}
	})
}

// TestRunEventsAnswerTheTask: a run's Exited event answers its task once,
// with the outcome's error name.
func TestRunEventsAnswerTheTask(t *testing.T) {
	enginetest.Run(t, func(t *testing.T, st store.Store) {
		f := newFixture(t, st)
		ctx := t.Context()
		for _, tc := range []struct {
			ev   compute.Event
			want string
		}{
			{compute.Event{ExitCode: 0}, "success"},
			{compute.Event{ExitCode: 3}, ErrUserCommand},
			{compute.Event{ExitCode: -1, System: true, Reason: "sandbox"}, ErrSystem},
			{compute.Event{ExitCode: 143, Stopped: compute.Graceful}, ErrStopped},
			{compute.Event{ExitCode: 143, WalltimeExceeded: true}, ErrUserCommand},
		} {
			j := f.job(t)
			if err := f.svc.Submit(ctx, f.owner.ID, j.ID); err != nil {
				t.Fatal(err)
			}
			ref := Ref{JobID: j.ID, OwnerID: f.owner.ID}
			if _, err := f.svc.Validate(ctx, ref); err != nil {
				t.Fatal(err)
			}
			if err := f.svc.Queue(ctx, ref); err != nil {
				t.Fatal(err)
			}
			if err := f.svc.StartCluster(ctx, ref); err != nil {
				t.Fatal(err)
			}
			ref.Run = "1"
			token := "tok-" + j.ID
			if err := f.svc.StartRun(ctx, ref, token); err != nil {
				t.Fatal(err)
			}
			tc.ev.JobID, tc.ev.OwnerID, tc.ev.RunID, tc.ev.State, tc.ev.Time = j.ID, f.owner.ID, "1", compute.Exited, time.Now()
			for range 2 { // a duplicate event answers nothing
				if err := f.svc.RecordEvent(ctx, tc.ev); err != nil {
					t.Fatal(err)
				}
			}
			if got := f.orch.answers[token]; got != tc.want {
				t.Errorf("event %+v answered %q, want %q", tc.ev, got, tc.want)
			}
		}
	})
}

func TestOutputFilters(t *testing.T) {
	raw := func(s ...string) []json.RawMessage {
		out := make([]json.RawMessage, len(s))
		for i, x := range s {
			out[i] = json.RawMessage(x)
		}
		return out
	}
	for _, tc := range []struct {
		name         string
		in           []json.RawMessage
		include, exc string
	}{
		{"none", nil, "[]", "[]"},
		{"tutorial's categories keep everything", raw(`{"caseSensitive":false,"include":true,"filterType":"Analysis generated files","selector":"Analysis generated files"}`,
			`{"include":true,"filterType":"Input files","selector":"Input files"}`), "[]", "[]"},
		{"globs", raw(`{"include":true,"filterType":"Glob","selector":"*.log"}`, `{"include":false,"filterType":"Glob","selector":"processor*"}`), "[*.log]", "[processor*]"},
		{"malformed ignored", raw(`"x"`, `{"include":true}`), "[]", "[]"},
	} {
		inc, exc := outputFilters(tc.in)
		if fmt.Sprint(inc) != tc.include && !(len(inc) == 0 && tc.include == "[]") || fmt.Sprint(exc) != tc.exc && !(len(exc) == 0 && tc.exc == "[]") {
			t.Errorf("%s: include %v exclude %v", tc.name, inc, exc)
		}
	}
}
