package asl_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/openrescale/platform/shared/asl"
	"github.com/openrescale/platform/shared/errs"
)

func TestDataFlow(t *testing.T) {
	tests := []struct {
		name     string
		states   string
		result   outcome
		input    string
		wantIn   string // what the task saw; "" when there is no task
		wantOut  string
		wantSucc bool
	}{
		{
			name:    "InputPath, Parameters, ResultSelector, ResultPath, OutputPath",
			states:  `"S":{"Type":"Task","Resource":"fn","InputPath":"$.job","Parameters":{"id.$":"$.id","exec.$":"$$.Execution.Name","state.$":"$$.State.Name","fixed":[1,{"n.$":"$.n"}]},"ResultSelector":{"count.$":"States.ArrayLength($.items)","first.$":"$.items[0]"},"ResultPath":"$.job.result","OutputPath":"$.job","End":true}`,
			result:  ok(`{"items":["a","b"],"noise":true}`),
			input:   `{"job":{"id":"j1","n":2},"other":1}`,
			wantIn:  `{"id":"j1","exec":"e","state":"S","fixed":[1,{"n":2}]}`,
			wantOut: `{"id":"j1","n":2,"result":{"count":2,"first":"a"}}`,
		},
		{
			name:    "ResultPath null keeps the input",
			states:  `"S":{"Type":"Task","Resource":"fn","ResultPath":null,"End":true}`,
			result:  ok(`{"x":1}`),
			input:   `{"a":1}`,
			wantIn:  `{"a":1}`,
			wantOut: `{"a":1}`,
		},
		{
			name:    "no ResultPath replaces the input",
			states:  `"S":{"Type":"Task","Resource":"fn","End":true}`,
			result:  ok(`{"x":1}`),
			input:   `{"a":1}`,
			wantIn:  `{"a":1}`,
			wantOut: `{"x":1}`,
		},
		{
			name:    "InputPath null gives {}",
			states:  `"S":{"Type":"Task","Resource":"fn","InputPath":null,"ResultPath":"$.r","End":true}`,
			result:  ok(`2`),
			input:   `{"a":1}`,
			wantIn:  `{}`,
			wantOut: `{"a":1,"r":2}`,
		},
		{
			name:    "OutputPath null gives {}",
			states:  `"S":{"Type":"Task","Resource":"fn","OutputPath":null,"End":true}`,
			result:  ok(`2`),
			input:   `{"a":1}`,
			wantIn:  `{"a":1}`,
			wantOut: `{}`,
		},
		{
			name:    "lambda:invoke gets the Payload and gives Payload and StatusCode",
			states:  `"S":{"Type":"Task","Resource":"arn:aws:states:::lambda:invoke","Parameters":{"FunctionName":"fn","Payload":{"id.$":"$.a"}},"ResultSelector":{"p.$":"$.Payload","code.$":"$.StatusCode"},"End":true}`,
			result:  ok(`{"done":true}`),
			input:   `{"a":1}`,
			wantIn:  `{"id":1}`,
			wantOut: `{"p":{"done":true},"code":200}`,
		},
		{
			name:    "Pass Result into ResultPath",
			states:  `"S":{"Type":"Pass","Result":{"v":[1,2]},"ResultPath":"$.r","Next":"T"},"T":{"Type":"Succeed","OutputPath":"$.r"}`,
			input:   `{"a":1}`,
			wantOut: `{"v":[1,2]}`,
		},
		{
			name:    "Pass Parameters with intrinsics",
			states:  `"S":{"Type":"Pass","Parameters":{"m.$":"States.Format('{}-{}', $.a, $$.Execution.Name)","n.$":"States.MathAdd($.a, 1)"},"End":true}`,
			input:   `{"a":1}`,
			wantOut: `{"m":"1-e","n":2}`,
		},
		{
			name:    "Pass without fields passes its input",
			states:  `"S":{"Type":"Pass","InputPath":"$.a","End":true}`,
			input:   `{"a":{"b":1}}`,
			wantOut: `{"b":1}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fn := script(tt.result)
			tasks := map[string]asl.TaskFunc{}
			if tt.wantIn != "" {
				tasks["fn"] = fn.fn
			}
			r := newRunner(t, machine(tt.states), tasks, setup{})
			e := startAndWait(t, r, "e", tt.input)
			if e.Status != asl.StatusSucceeded {
				t.Fatalf("status %s %s %s", e.Status, e.Error, e.Cause)
			}
			if !jsonEqual(t, e.Output, tt.wantOut) {
				t.Errorf("output %s, want %s", e.Output, tt.wantOut)
			}
			if tt.wantIn != "" {
				in := fn.inputs()
				if len(in) != 1 || !jsonEqual(t, []byte(in[0]), tt.wantIn) {
					t.Errorf("task input %v, want %s", in, tt.wantIn)
				}
			}
		})
	}
}

func TestRetryBackoff(t *testing.T) {
	s := time.Second
	tests := []struct {
		name       string
		retry      string
		outcomes   []outcome
		wantSleeps []time.Duration
		wantStatus string
		wantError  string
		wantCalls  int
	}{
		{
			name:       "defaults: 3 retries, 1s doubling",
			retry:      `[{"ErrorEquals":["E"]}]`,
			outcomes:   []outcome{fail("E", "c")},
			wantSleeps: []time.Duration{1 * s, 2 * s, 4 * s},
			wantStatus: asl.StatusFailed, wantError: "E", wantCalls: 4,
		},
		{
			name:       "succeeds on a retry",
			retry:      `[{"ErrorEquals":["E"],"IntervalSeconds":3,"BackoffRate":1.5,"MaxAttempts":5}]`,
			outcomes:   []outcome{fail("E", "c"), fail("E", "c"), ok(`{}`)},
			wantSleeps: []time.Duration{3 * s, 4500 * time.Millisecond},
			wantStatus: asl.StatusSucceeded, wantCalls: 3,
		},
		{
			name:       "MaxAttempts 0 never retries",
			retry:      `[{"ErrorEquals":["E"],"MaxAttempts":0}]`,
			outcomes:   []outcome{fail("E", "c")},
			wantStatus: asl.StatusFailed, wantError: "E", wantCalls: 1,
		},
		{
			name:       "MaxDelaySeconds caps the backoff",
			retry:      `[{"ErrorEquals":["E"],"IntervalSeconds":2,"BackoffRate":3,"MaxAttempts":4,"MaxDelaySeconds":10}]`,
			outcomes:   []outcome{fail("E", "c")},
			wantSleeps: []time.Duration{2 * s, 6 * s, 10 * s, 10 * s},
			wantStatus: asl.StatusFailed, wantError: "E", wantCalls: 5,
		},
		{
			name:       "other errors are not retried",
			retry:      `[{"ErrorEquals":["E"]}]`,
			outcomes:   []outcome{fail("Other", "c")},
			wantStatus: asl.StatusFailed, wantError: "Other", wantCalls: 1,
		},
		{
			name:       "a plain error is States.TaskFailed",
			retry:      `[{"ErrorEquals":["States.TaskFailed"],"MaxAttempts":1}]`,
			outcomes:   []outcome{{plain: true, cause: "boom"}},
			wantSleeps: []time.Duration{1 * s},
			wantStatus: asl.StatusFailed, wantError: "States.TaskFailed", wantCalls: 2,
		},
		{
			name:       "States.ALL retries any name",
			retry:      `[{"ErrorEquals":["X"],"MaxAttempts":1},{"ErrorEquals":["States.ALL"],"MaxAttempts":1,"IntervalSeconds":5}]`,
			outcomes:   []outcome{fail("Y", "c")},
			wantSleeps: []time.Duration{5 * s},
			wantStatus: asl.StatusFailed, wantError: "Y", wantCalls: 2,
		},
		{
			name:       "each retrier counts its own attempts",
			retry:      `[{"ErrorEquals":["A"],"MaxAttempts":1,"IntervalSeconds":1},{"ErrorEquals":["B"],"MaxAttempts":1,"IntervalSeconds":7}]`,
			outcomes:   []outcome{fail("A", ""), fail("B", ""), fail("A", "")},
			wantSleeps: []time.Duration{1 * s, 7 * s},
			wantStatus: asl.StatusFailed, wantError: "A", wantCalls: 3,
		},
		{
			name:       "the first matching retrier decides, even used up",
			retry:      `[{"ErrorEquals":["A"],"MaxAttempts":1},{"ErrorEquals":["States.ALL"],"MaxAttempts":5}]`,
			outcomes:   []outcome{fail("A", "")},
			wantSleeps: []time.Duration{1 * s},
			wantStatus: asl.StatusFailed, wantError: "A", wantCalls: 2,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fn := script(tt.outcomes...)
			sl := &sleeps{}
			def := machine(`"S":{"Type":"Task","Resource":"fn","Retry":` + tt.retry + `,"End":true}`)
			r := newRunner(t, def, map[string]asl.TaskFunc{"fn": fn.fn}, setup{sleeps: sl})
			e := startAndWait(t, r, "e", `{}`)
			if e.Status != tt.wantStatus || e.Error != tt.wantError {
				t.Fatalf("status %s %s (%s), want %s %s", e.Status, e.Error, e.Cause, tt.wantStatus, tt.wantError)
			}
			if got := sl.got(); !slices.Equal(got, tt.wantSleeps) {
				t.Errorf("sleeps %v, want %v", got, tt.wantSleeps)
			}
			if n := len(fn.inputs()); n != tt.wantCalls {
				t.Errorf("%d calls, want %d", n, tt.wantCalls)
			}
			retried := 0
			for _, ev := range history(t, r, "e") {
				if ev.Type == asl.EventStateRetried {
					retried++
				}
			}
			if retried != len(tt.wantSleeps) {
				t.Errorf("%d StateRetried events, want %d", retried, len(tt.wantSleeps))
			}
		})
	}
}

func TestCatch(t *testing.T) {
	after := `"After":{"Type":"Pass","End":true}`
	tests := []struct {
		name       string
		task       string // the S state's extra fields
		outcome    outcome
		wantStatus string
		wantOut    string
		wantError  string // of the execution, or of the caught error
	}{
		{
			name:       "by name, into ResultPath",
			task:       `"Catch":[{"ErrorEquals":["Other"],"Next":"After"},{"ErrorEquals":["E"],"ResultPath":"$.failure","Next":"After"}]`,
			outcome:    fail("E", "why"),
			wantStatus: asl.StatusSucceeded, wantError: "E",
			wantOut: `{"a":1,"failure":{"Error":"E","Cause":"why"}}`,
		},
		{
			name:       "no ResultPath replaces the input",
			task:       `"Catch":[{"ErrorEquals":["States.ALL"],"Next":"After"}]`,
			outcome:    outcome{plain: true, cause: "boom"},
			wantStatus: asl.StatusSucceeded, wantError: "States.TaskFailed",
			wantOut: `{"Error":"States.TaskFailed","Cause":"boom"}`,
		},
		{
			name:       "ResultPath null keeps the input",
			task:       `"Catch":[{"ErrorEquals":["States.TaskFailed"],"ResultPath":null,"Next":"After"}]`,
			outcome:    fail("E", ""),
			wantStatus: asl.StatusSucceeded, wantError: "E",
			wantOut: `{"a":1}`,
		},
		{
			name:       "uncaught fails the execution",
			task:       `"Catch":[{"ErrorEquals":["Other"],"Next":"After"}]`,
			outcome:    fail("E", "why"),
			wantStatus: asl.StatusFailed, wantError: "E",
		},
		{
			// Step Functions: States.ALL does not catch States.Runtime,
			// which fails the execution.
			name:       "States.Runtime is not caught by States.ALL",
			task:       `"Parameters":{"x.$":"$.missing"},"Retry":[{"ErrorEquals":["States.ALL"]}],"Catch":[{"ErrorEquals":["States.ALL"],"Next":"After"}]`,
			outcome:    ok(`{}`),
			wantStatus: asl.StatusFailed, wantError: "States.Runtime",
		},
		{
			name:       "nor by naming it",
			task:       `"ResultSelector":{"x.$":"$.missing"},"Catch":[{"ErrorEquals":["States.Runtime"],"Next":"After"}]`,
			outcome:    ok(`{}`),
			wantStatus: asl.StatusFailed, wantError: "States.Runtime",
		},
		{
			name:       "ResultPathMatchFailure is catchable",
			task:       `"ResultPath":"$.a.b","Catch":[{"ErrorEquals":["States.ResultPathMatchFailure"],"ResultPath":"$.f","Next":"After"}]`,
			outcome:    ok(`{}`),
			wantStatus: asl.StatusSucceeded, wantError: "States.ResultPathMatchFailure",
			wantOut: `{"a":1,"f":{"Error":"States.ResultPathMatchFailure","Cause":"unable to apply ResultPath $.a.b to the state's input: a number is in the way"}}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fn := script(tt.outcome)
			def := machine(`"S":{"Type":"Task","Resource":"fn",` + tt.task + `,"End":true},` + after)
			r := newRunner(t, def, map[string]asl.TaskFunc{"fn": fn.fn}, setup{})
			e := startAndWait(t, r, "e", `{"a":1}`)
			if e.Status != tt.wantStatus || (e.Status == asl.StatusFailed && e.Error != tt.wantError) {
				t.Fatalf("status %s %s (%s), want %s %s", e.Status, e.Error, e.Cause, tt.wantStatus, tt.wantError)
			}
			if tt.wantOut != "" && !jsonEqual(t, e.Output, tt.wantOut) {
				t.Errorf("output %s, want %s", e.Output, tt.wantOut)
			}
			if e.Status == asl.StatusSucceeded {
				want := []string{"StateEntered S", "StateFailed S " + tt.wantError, "StateCaught S", "StateExited S", "StateEntered After", "StateExited After"}
				if got := trail(history(t, r, "e")); !slices.Equal(got, want) {
					t.Errorf("trail %q, want %q", got, want)
				}
			}
		})
	}
}

// blockUntilCancelled is a task that only ends when its context does.
func blockUntilCancelled(started chan<- string) asl.TaskFunc {
	return func(ctx context.Context, in json.RawMessage, _ string) (json.RawMessage, error) {
		if started != nil {
			started <- string(in)
		}
		<-ctx.Done()
		return nil, ctx.Err()
	}
}

func TestTimeouts(t *testing.T) {
	t.Run("task timeout is States.Timeout, retried and caught", func(t *testing.T) {
		var calls atomic.Int32
		fn := func(ctx context.Context, in json.RawMessage, _ string) (json.RawMessage, error) {
			calls.Add(1)
			<-ctx.Done() // the runner cancels a timed-out task
			return nil, ctx.Err()
		}
		def := machine(`"S":{"Type":"Task","Resource":"fn","TimeoutSeconds":7,
			"Retry":[{"ErrorEquals":["States.TaskFailed"]},{"ErrorEquals":["States.Timeout"],"MaxAttempts":1}],
			"Catch":[{"ErrorEquals":["States.Timeout"],"ResultPath":"$.err","Next":"T"}],"End":true},"T":{"Type":"Succeed"}`)
		r := newRunner(t, def, map[string]asl.TaskFunc{"fn": fn}, setup{cfg: func(c *asl.Config) { c.After = fireAt(7 * time.Second) }})
		e := startAndWait(t, r, "e", `{}`)
		if e.Status != asl.StatusSucceeded || !strings.Contains(string(e.Output), `"States.Timeout"`) {
			t.Fatalf("%s %s %s", e.Status, e.Output, e.Error)
		}
		// States.TaskFailed does not match States.Timeout: only the
		// second retrier applies, once.
		if n := calls.Load(); n != 2 {
			t.Fatalf("%d calls, want 2", n)
		}
	})
	t.Run("execution TimeoutSeconds is TIMED_OUT", func(t *testing.T) {
		started := make(chan string, 1)
		def := `{"TimeoutSeconds":30,"StartAt":"S","States":{"S":{"Type":"Task","Resource":"fn","End":true}}}`
		// The timer starts with the execution; fire it only once the task
		// runs, so the test knows what it interrupts.
		fire := make(chan time.Time)
		r := newRunner(t, def, map[string]asl.TaskFunc{"fn": blockUntilCancelled(started)}, setup{cfg: func(c *asl.Config) {
			c.After = func(d time.Duration) <-chan time.Time {
				if d == 30*time.Second {
					return fire
				}
				return nil
			}
			// A fixed clock keeps the remaining time exactly 30 s.
			now := time.Now()
			c.Now = func() time.Time { return now }
		}})
		if _, err := r.Start(t.Context(), "e", nil); err != nil {
			t.Fatal(err)
		}
		<-started
		fire <- time.Time{}
		e, err := r.Wait(t.Context(), "e")
		if err != nil || e.Status != asl.StatusTimedOut || e.Error != asl.ErrTimeout {
			t.Fatalf("%+v %v", e, err)
		}
		h := history(t, r, "e")
		if last := h[len(h)-1]; last.Type != asl.EventExecutionTimedOut {
			t.Fatalf("last event %+v", last)
		}
	})
	t.Run("waitForTaskToken TimeoutSeconds", func(t *testing.T) {
		def := machine(`"S":{"Type":"Task","Resource":"arn:aws:states:::lambda:invoke.waitForTaskToken","TimeoutSeconds":60,
			"Parameters":{"FunctionName":"fn","Payload":{"t.$":"$$.Task.Token"}},"End":true}`)
		fn := func(ctx context.Context, in json.RawMessage, token string) (json.RawMessage, error) { return nil, nil }
		r := newRunner(t, def, map[string]asl.TaskFunc{"fn": fn}, setup{cfg: func(c *asl.Config) {
			now := time.Now()
			c.Now = func() time.Time { return now }
			c.After = fireAt(60 * time.Second)
		}})
		e := startAndWait(t, r, "e", `{}`)
		if e.Status != asl.StatusFailed || e.Error != asl.ErrTimeout {
			t.Fatalf("%+v", e)
		}
	})
}

func TestChoiceAndWait(t *testing.T) {
	now := time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)
	states := `
		"S":{"Type":"Choice","Choices":[
			{"Variable":"$.kind","StringEquals":"seconds","Next":"Secs"},
			{"And":[{"Variable":"$.n","IsPresent":true},{"Variable":"$.n","NumericGreaterThan":10}],"Next":"SecsPath"},
			{"Variable":"$.kind","StringMatches":"ts*","Next":"Ts"},
			{"Variable":"$.kind","StringEquals":"tp","Next":"TsPath"}],
			"Default":"None"},
		"Secs":{"Type":"Wait","Seconds":5,"Next":"Done"},
		"SecsPath":{"Type":"Wait","SecondsPath":"$.n","Next":"Done"},
		"Ts":{"Type":"Wait","Timestamp":"2024-05-01T10:01:00Z","Next":"Done"},
		"TsPath":{"Type":"Wait","TimestampPath":"$.at","Next":"Done"},
		"None":{"Type":"Choice","Choices":[{"Variable":"$.kind","StringEquals":"nothing","Next":"Done"}]},
		"Done":{"Type":"Succeed"}`
	tests := []struct {
		input     string
		wantSleep time.Duration
		wantPath  string
		wantError string
	}{
		{input: `{"kind":"seconds"}`, wantSleep: 5 * time.Second, wantPath: "Secs"},
		{input: `{"kind":"x","n":12}`, wantSleep: 12 * time.Second, wantPath: "SecsPath"},
		{input: `{"kind":"ts"}`, wantSleep: time.Minute, wantPath: "Ts"},
		{input: `{"kind":"tsx"}`, wantSleep: time.Minute, wantPath: "Ts"},
		{input: `{"kind":"tp","at":"2024-05-01T09:00:00Z"}`, wantSleep: -time.Hour, wantPath: "TsPath"}, // in the past: no wait
		{input: `{"kind":"nothing"}`, wantPath: "None"},
		{input: `{"kind":"other"}`, wantError: asl.ErrNoChoiceMatched},
		{input: `{"n":"12"}`, wantError: asl.ErrRuntime}, // $.kind missing in the first rule
	}
	for _, tt := range tests {
		t.Run(tt.input, func(t *testing.T) {
			sl := &sleeps{}
			r := newRunner(t, machine(states), nil, setup{sleeps: sl, cfg: func(c *asl.Config) { c.Now = func() time.Time { return now } }})
			e := startAndWait(t, r, "e", tt.input)
			if e.Error != tt.wantError {
				t.Fatalf("%s %s %s, want error %q", e.Status, e.Error, e.Cause, tt.wantError)
			}
			if tt.wantError != "" {
				return
			}
			if !jsonEqual(t, e.Output, tt.input) {
				t.Errorf("output %s, want the input", e.Output)
			}
			got := trail(history(t, r, "e"))
			if len(got) < 3 || got[2] != "StateEntered "+tt.wantPath {
				t.Errorf("trail %q, want %s third", got, tt.wantPath)
			}
			if tt.wantSleep != 0 && !slices.Equal(sl.got(), []time.Duration{tt.wantSleep}) {
				t.Errorf("sleeps %v, want %v", sl.got(), tt.wantSleep)
			}
		})
	}
}

func TestMapState(t *testing.T) {
	t.Run("outputs in item order, ItemSelector and context", func(t *testing.T) {
		def := machine(`"S":{"Type":"Map","ItemsPath":"$.items","MaxConcurrency":2,
			"ItemSelector":{"i.$":"$$.Map.Item.Index","v.$":"$$.Map.Item.Value","tag.$":"$.tag"},
			"ItemProcessor":{"ProcessorConfig":{"Mode":"INLINE"},"StartAt":"T","States":{"T":{"Type":"Task","Resource":"fn","End":true}}},
			"ResultSelector":{"all.$":"$","n.$":"States.ArrayLength($)"},"ResultPath":"$.out","End":true}`)
		var running, peak atomic.Int32
		var mu sync.Mutex
		release := map[int]chan struct{}{}
		gate := func(i int) chan struct{} {
			mu.Lock()
			defer mu.Unlock()
			if release[i] == nil {
				release[i] = make(chan struct{})
			}
			return release[i]
		}
		fn := func(ctx context.Context, in json.RawMessage, _ string) (json.RawMessage, error) {
			var item struct{ I int }
			_ = json.Unmarshal(in, &item)
			n := running.Add(1)
			for {
				p := peak.Load()
				if n <= p || peak.CompareAndSwap(p, n) {
					break
				}
			}
			// Items finish in reverse order of their index pairs, so
			// outputs ordered by completion would be visible.
			if item.I%2 == 0 {
				<-gate(item.I)
			} else {
				close(gate(item.I - 1))
			}
			running.Add(-1)
			return json.RawMessage(fmt.Sprintf(`{"sq":%d}`, item.I*item.I)), nil
		}
		r := newRunner(t, def, map[string]asl.TaskFunc{"fn": fn}, setup{})
		e := startAndWait(t, r, "e", `{"items":["a","b","c","d"],"tag":"t"}`)
		if e.Status != asl.StatusSucceeded {
			t.Fatalf("%+v", e)
		}
		want := `{"items":["a","b","c","d"],"tag":"t","out":{"n":4,"all":[{"sq":0},{"sq":1},{"sq":4},{"sq":9}]}}`
		if !jsonEqual(t, e.Output, want) {
			t.Errorf("output %s, want %s", e.Output, want)
		}
		if p := peak.Load(); p > 2 {
			t.Errorf("%d items ran at once, MaxConcurrency is 2", p)
		}
		h := history(t, r, "e")
		for i := range 4 {
			if got, want := trail(h, i), []string{"StateEntered T", "StateExited T"}; !slices.Equal(got, want) {
				t.Errorf("item %d trail %q", i, got)
			}
		}
	})
	t.Run("legacy Iterator and Parameters, empty items", func(t *testing.T) {
		def := machine(`"S":{"Type":"Map","Parameters":{"v.$":"$$.Map.Item.Value"},"Iterator":{"StartAt":"P","States":{"P":{"Type":"Pass","End":true}}},"End":true}`)
		r := newRunner(t, def, nil, setup{})
		if e := startAndWait(t, r, "e", `[1,2]`); !jsonEqual(t, e.Output, `[{"v":1},{"v":2}]`) {
			t.Errorf("output %s", e.Output)
		}
		if e := startAndWait(t, r, "e2", `[]`); !jsonEqual(t, e.Output, `[]`) {
			t.Errorf("output %s", e.Output)
		}
	})
	t.Run("an item failure fails the Map with its error", func(t *testing.T) {
		def := machine(`"S":{"Type":"Map","ItemProcessor":{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"fn","End":true}}},
			"Retry":[{"ErrorEquals":["Bad"],"MaxAttempts":1}],
			"Catch":[{"ErrorEquals":["Bad"],"ResultPath":"$","Next":"C"}],"End":true},"C":{"Type":"Pass","End":true}`)
		var calls atomic.Int32
		fn := func(ctx context.Context, in json.RawMessage, _ string) (json.RawMessage, error) {
			calls.Add(1)
			if string(in) == `2` {
				return nil, asl.Errorf("Bad", "item two")
			}
			return in, nil
		}
		sl := &sleeps{}
		r := newRunner(t, def, map[string]asl.TaskFunc{"fn": fn}, setup{sleeps: sl})
		e := startAndWait(t, r, "e", `[1,2,3]`)
		if e.Status != asl.StatusSucceeded || !jsonEqual(t, e.Output, `{"Error":"Bad","Cause":"item two"}`) {
			t.Fatalf("%s %s %s", e.Status, e.Output, e.Error)
		}
		// The Map was retried once as a whole.
		if len(sl.got()) != 1 {
			t.Errorf("sleeps %v", sl.got())
		}
		if got := trail(history(t, r, "e")); !slices.Equal(got, []string{"StateEntered S", "StateFailed S Bad", "StateRetried S",
			"StateFailed S Bad", "StateCaught S", "StateExited S", "StateEntered C", "StateExited C"}) {
			t.Errorf("trail %q", got)
		}
	})
	t.Run("nested Maps", func(t *testing.T) {
		// Each outer item starts with a Map: every inner Map attempt must
		// keep its items apart from the other outer items'.
		def := machine(`"S":{"Type":"Map","ItemProcessor":{"StartAt":"Inner","States":{
			"Inner":{"Type":"Map","ItemsPath":"$.xs","ItemSelector":{"o.$":"$.o","x.$":"$$.Map.Item.Value"},
				"ItemProcessor":{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"fn","End":true}}},"End":true}}},"End":true}`)
		fn := func(ctx context.Context, in json.RawMessage, _ string) (json.RawMessage, error) {
			var v struct{ O, X int }
			_ = json.Unmarshal(in, &v)
			return json.RawMessage(fmt.Sprint(v.O*10 + v.X)), nil
		}
		r := newRunner(t, def, map[string]asl.TaskFunc{"fn": fn}, setup{})
		e := startAndWait(t, r, "e", `[{"o":1,"xs":[1,2]},{"o":2,"xs":[3,4,5]}]`)
		if !jsonEqual(t, e.Output, `[[11,12],[23,24,25]]`) {
			t.Fatalf("%s %s %s", e.Status, e.Error, e.Output)
		}
		h := history(t, r, "e")
		if got := trail(h, 1, 2); !slices.Equal(got, []string{"StateEntered T", "StateExited T"}) {
			t.Errorf("item [1 2] trail %q", got)
		}
		if got := trail(h, 1); !slices.Equal(got, []string{"StateEntered Inner", "StateExited Inner"}) {
			t.Errorf("item [1] trail %q", got)
		}
	})
	t.Run("items must be an array", func(t *testing.T) {
		def := machine(`"S":{"Type":"Map","ItemsPath":"$.x","ItemProcessor":{"StartAt":"P","States":{"P":{"Type":"Pass","End":true}}},"End":true}`)
		r := newRunner(t, def, nil, setup{})
		if e := startAndWait(t, r, "e", `{"x":{}}`); e.Error != asl.ErrRuntime {
			t.Errorf("%+v", e)
		}
	})
}

// callbackTask is a .waitForTaskToken TaskFunc that answers its token from
// a goroutine, as a compute event would.
func callbackTask(r **asl.Runner, answer func(ctx context.Context, r *asl.Runner, token string) error) asl.TaskFunc {
	return func(ctx context.Context, in json.RawMessage, token string) (json.RawMessage, error) {
		go func() {
			if err := answer(context.Background(), *r, token); err != nil {
				panic(err)
			}
		}()
		return json.RawMessage(`"ignored"`), nil
	}
}

func TestWaitForTaskToken(t *testing.T) {
	def := machine(`"S":{"Type":"Task","Resource":"arn:aws:states:::lambda:invoke.waitForTaskToken",
		"Parameters":{"FunctionName":"fn","Payload":{"job.$":"$.job","token.$":"$$.Task.Token"}},
		"Retry":[{"ErrorEquals":["SystemError"],"MaxAttempts":1}],"ResultPath":"$.result","End":true}`)
	t.Run("success", func(t *testing.T) {
		var r *asl.Runner
		var payload json.RawMessage
		fn := func(ctx context.Context, in json.RawMessage, token string) (json.RawMessage, error) {
			payload = in
			return callbackTask(&r, func(ctx context.Context, r *asl.Runner, token string) error {
				return r.SendTaskSuccess(ctx, token, json.RawMessage(`{"exit":0}`))
			})(ctx, in, token)
		}
		r = newRunner(t, def, map[string]asl.TaskFunc{"fn": fn}, setup{})
		e := startAndWait(t, r, "e", `{"job":"j"}`)
		if !jsonEqual(t, e.Output, `{"job":"j","result":{"exit":0}}`) {
			t.Fatalf("%+v %s", e, e.Output)
		}
		var p struct{ Job, Token string }
		if err := json.Unmarshal(payload, &p); err != nil || p.Job != "j" || p.Token == "" {
			t.Fatalf("payload %s", payload)
		}
		// A finished token is unknown.
		if err := r.SendTaskSuccess(t.Context(), p.Token, nil); !errs.Is(err, errs.NotFound) {
			t.Fatalf("answer again: %v", err)
		}
	})
	t.Run("failure is retried with a new token", func(t *testing.T) {
		var r *asl.Runner
		var mu sync.Mutex
		var tokens []string
		fn := func(ctx context.Context, in json.RawMessage, token string) (json.RawMessage, error) {
			mu.Lock()
			tokens = append(tokens, token)
			first := len(tokens) == 1
			mu.Unlock()
			return callbackTask(&r, func(ctx context.Context, r *asl.Runner, token string) error {
				if first {
					return r.SendTaskFailure(ctx, token, "SystemError", "node lost")
				}
				return r.SendTaskFailure(ctx, token, "UserError", "exit 1")
			})(ctx, in, token)
		}
		r = newRunner(t, def, map[string]asl.TaskFunc{"fn": fn}, setup{})
		e := startAndWait(t, r, "e", `{"job":"j"}`)
		if e.Status != asl.StatusFailed || e.Error != "UserError" || e.Cause != "exit 1" {
			t.Fatalf("%+v", e)
		}
		if len(tokens) != 2 || tokens[0] == tokens[1] {
			t.Fatalf("tokens %q", tokens)
		}
	})
	t.Run("func error fails the task", func(t *testing.T) {
		fn := func(ctx context.Context, in json.RawMessage, token string) (json.RawMessage, error) {
			return nil, asl.Errorf("Refused", "no capacity")
		}
		r := newRunner(t, def, map[string]asl.TaskFunc{"fn": fn}, setup{})
		if e := startAndWait(t, r, "e", `{"job":"j"}`); e.Error != "Refused" {
			t.Fatalf("%+v", e)
		}
	})
	t.Run("unknown tokens", func(t *testing.T) {
		r := newRunner(t, def, map[string]asl.TaskFunc{"fn": script(ok(`{}`)).fn}, setup{})
		for _, tok := range []string{"", "garbage", "ZTE.abc"} {
			if err := r.SendTaskSuccess(t.Context(), tok, nil); !errs.Is(err, errs.NotFound) {
				t.Errorf("SendTaskSuccess(%q): %v", tok, err)
			}
			if err := r.SendTaskFailure(t.Context(), tok, "E", ""); !errs.Is(err, errs.NotFound) {
				t.Errorf("SendTaskFailure(%q): %v", tok, err)
			}
		}
	})
}

func TestStop(t *testing.T) {
	def := machine(`"S":{"Type":"Task","Resource":"arn:aws:states:::lambda:invoke.waitForTaskToken",
		"Parameters":{"FunctionName":"fn","Payload":{"t.$":"$$.Task.Token"}},"End":true}`)
	tokens := make(chan string, 1)
	fn := func(ctx context.Context, in json.RawMessage, token string) (json.RawMessage, error) {
		tokens <- token
		return nil, nil
	}
	r := newRunner(t, def, map[string]asl.TaskFunc{"fn": fn}, setup{})
	if _, err := r.Start(t.Context(), "e", nil); err != nil {
		t.Fatal(err)
	}
	tok := <-tokens
	if err := r.Stop(t.Context(), "e", "JobStopped", "by its owner"); err != nil {
		t.Fatal(err)
	}
	e, err := r.Wait(t.Context(), "e")
	if err != nil || e.Status != asl.StatusAborted || e.Error != "JobStopped" || e.StopDate.IsZero() {
		t.Fatalf("%+v %v", e, err)
	}
	if err := r.SendTaskSuccess(t.Context(), tok, nil); !errs.Is(err, errs.NotFound) {
		t.Errorf("answer after stop: %v", err)
	}
	if err := r.Stop(t.Context(), "e", "", ""); !errs.Is(err, errs.Conflict) {
		t.Errorf("stop again: %v", err)
	}
	if err := r.Stop(t.Context(), "nope", "", ""); !errs.Is(err, errs.NotFound) {
		t.Errorf("stop unknown: %v", err)
	}
	if _, err := r.Describe(t.Context(), "nope"); !errs.Is(err, errs.NotFound) {
		t.Errorf("describe unknown: %v", err)
	}
	if h := history(t, r, "e"); h[len(h)-1].Type != asl.EventExecutionAborted {
		t.Errorf("last event %+v", h[len(h)-1])
	}
}

func TestStartIsIdempotent(t *testing.T) {
	fn := script(ok(`{"v":1}`))
	r := newRunner(t, machine(`"S":{"Type":"Task","Resource":"fn","End":true}`), map[string]asl.TaskFunc{"fn": fn.fn}, setup{})
	startAndWait(t, r, "e", `{"a":1}`)
	started, err := r.Start(t.Context(), "e", json.RawMessage(`{"a":2}`))
	if err != nil || started {
		t.Fatalf("second start: %v %v", started, err)
	}
	e, err := r.Describe(t.Context(), "e")
	if err != nil || !jsonEqual(t, e.Input, `{"a":1}`) || !jsonEqual(t, e.Output, `{"v":1}`) {
		t.Fatalf("%+v %v", e, err)
	}
	if n := len(fn.inputs()); n != 1 {
		t.Fatalf("%d calls", n)
	}
	for _, bad := range []struct{ name, input string }{{"has space", `{}`}, {"a/b", `{}`}, {"", `{}`}, {"ok", `{`}} {
		if _, err := r.Start(t.Context(), bad.name, json.RawMessage(bad.input)); !errs.Is(err, errs.Invalid) {
			t.Errorf("Start(%q, %s): %v", bad.name, bad.input, err)
		}
	}
}

func TestNewChecksTasks(t *testing.T) {
	m, err := asl.Parse([]byte(machine(`"S":{"Type":"Task","Resource":"fn","End":true}`)), nil)
	if err != nil {
		t.Fatal(err)
	}
	st := boltStore(t)
	noop := script(ok(`{}`)).fn
	for _, tasks := range []map[string]asl.TaskFunc{nil, {"other": noop}, {"fn": noop, "extra": noop}} {
		if _, err := asl.New(asl.Config{Machine: m, Store: st, Tasks: tasks}); !errs.Is(err, errs.Invalid) {
			t.Errorf("New with %v: %v", tasks, err)
		}
	}
}

func TestTaskPanicIsTaskFailed(t *testing.T) {
	fn := func(context.Context, json.RawMessage, string) (json.RawMessage, error) { panic("oops") }
	r := newRunner(t, machine(`"S":{"Type":"Task","Resource":"fn","End":true}`), map[string]asl.TaskFunc{"fn": fn}, setup{})
	e := startAndWait(t, r, "e", `{}`)
	if e.Error != asl.ErrTaskFailed || !strings.Contains(e.Cause, "oops") {
		t.Fatalf("%+v", e)
	}
}

func TestErrorf(t *testing.T) {
	err := fmt.Errorf("wrapped: %w", asl.Errorf("SystemError", "disk %d", 3))
	var e *asl.Error
	if !errors.As(err, &e) || e.Name != "SystemError" || e.Cause != "disk 3" {
		t.Fatalf("%#v", e)
	}
}
