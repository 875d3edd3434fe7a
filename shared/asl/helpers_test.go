package asl_test

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/openrescale/platform/shared/asl"
	"github.com/openrescale/platform/shared/store"
	"github.com/openrescale/platform/shared/store/dynamostore/dynamolocal"
	"github.com/openrescale/platform/shared/store/enginetest"
)

func TestMain(m *testing.M) { dynamolocal.Main(m) }

// boltStore is a fresh embedded store: the semantics tests need no
// second engine (persistence_test runs on both).
func boltStore(t *testing.T) store.Store { return enginetest.Engines()[0].Open(t) }

// sleeps records the durations the runner sleeps, returning at once.
type sleeps struct {
	mu sync.Mutex
	d  []time.Duration
}

func (s *sleeps) sleep(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	s.d = append(s.d, d)
	s.mu.Unlock()
	return ctx.Err()
}

func (s *sleeps) got() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Duration(nil), s.d...)
}

// never is an After whose timers never fire: no TimeoutSeconds expires
// unless a test says so.
func never(time.Duration) <-chan time.Time { return nil }

// fireAt is an After whose timers of exactly d fire at once.
func fireAt(d time.Duration) func(time.Duration) <-chan time.Time {
	return func(x time.Duration) <-chan time.Time {
		if x != d {
			return nil
		}
		ch := make(chan time.Time, 1)
		ch <- time.Time{}
		return ch
	}
}

type setup struct {
	st     store.Store
	subs   map[string]string
	sleeps *sleeps
	cfg    func(*asl.Config)
}

// newRunner parses def and builds a Runner over st (a fresh bolt store when
// nil), closed at the end of the test.
func newRunner(t *testing.T, def string, tasks map[string]asl.TaskFunc, s setup) *asl.Runner {
	t.Helper()
	m, err := asl.Parse([]byte(def), s.subs)
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	if s.st == nil {
		s.st = boltStore(t)
	}
	if s.sleeps == nil {
		s.sleeps = &sleeps{}
	}
	cfg := asl.Config{Machine: m, Tasks: tasks, Store: s.st, Sleep: s.sleeps.sleep, After: never}
	if s.cfg != nil {
		s.cfg(&cfg)
	}
	r, err := asl.New(cfg)
	if err != nil {
		t.Fatalf("new runner: %v", err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

func startAndWait(t *testing.T, r *asl.Runner, name, input string) asl.Execution {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	started, err := r.Start(ctx, name, json.RawMessage(input))
	if err != nil || !started {
		t.Fatalf("start %s: %v %v", name, started, err)
	}
	e, err := r.Wait(ctx, name)
	if err != nil {
		t.Fatalf("wait %s: %v", name, err)
	}
	return e
}

// outcome is one scripted result of a task call.
type outcome struct {
	out   string // JSON
	err   string // error name; "" for success
	cause string
	plain bool // return a plain Go error rather than an *asl.Error
}

// scripted answers calls with the outcomes in turn, the last repeating,
// and records the inputs it was called with.
type scripted struct {
	mu       sync.Mutex
	outcomes []outcome
	calls    []string
}

func script(o ...outcome) *scripted { return &scripted{outcomes: o} }

func (s *scripted) fn(_ context.Context, in json.RawMessage, _ string) (json.RawMessage, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o := s.outcomes[min(len(s.calls), len(s.outcomes)-1)]
	s.calls = append(s.calls, string(in))
	switch {
	case o.plain:
		return nil, errors.New(o.cause)
	case o.err != "":
		return nil, asl.Errorf(o.err, "%s", o.cause)
	case o.out == "":
		return json.RawMessage(`{}`), nil
	}
	return json.RawMessage(o.out), nil
}

func (s *scripted) inputs() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.calls...)
}

func ok(out string) outcome           { return outcome{out: out} }
func fail(name, cause string) outcome { return outcome{err: name, cause: cause} }

// jsonEqual compares two JSON texts by value.
func jsonEqual(t *testing.T, got []byte, want string) bool {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("got invalid JSON %q: %v", got, err)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("want invalid JSON %q: %v", want, err)
	}
	return reflect.DeepEqual(g, w)
}

// trail is the top-level "Type State" sequence of a history, for the
// event types that say where an execution went.
func trail(evs []asl.Event, index ...int) []string {
	var out []string
	for _, e := range evs {
		if !slices.Equal(e.Index, index) {
			continue
		}
		switch e.Type {
		case asl.EventStateEntered, asl.EventStateExited, asl.EventStateRetried, asl.EventStateCaught:
			out = append(out, e.Type+" "+e.State)
		case asl.EventStateFailed:
			out = append(out, e.Type+" "+e.State+" "+e.Error)
		}
	}
	return out
}

func history(t *testing.T, r *asl.Runner, name string) []asl.Event {
	t.Helper()
	h, err := r.History(t.Context(), name)
	if err != nil {
		t.Fatalf("history %s: %v", name, err)
	}
	return h
}
