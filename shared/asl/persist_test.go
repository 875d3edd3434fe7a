package asl_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/openrescale/platform/shared/asl"
	"github.com/openrescale/platform/shared/store"
	"github.com/openrescale/platform/shared/store/enginetest"
)

// A restart is simulated by closing a Runner (its goroutines stop where
// they are, as at kill -9: Close only cancels, it writes nothing) and
// building a fresh one over the same store.

// unexpected is a TaskFunc that must not run.
func unexpected(t *testing.T, name string) asl.TaskFunc {
	return func(context.Context, json.RawMessage, string) (json.RawMessage, error) {
		t.Errorf("task %s ran again", name)
		return nil, asl.Errorf("Unexpected", "%s ran again", name)
	}
}

func TestResumeMidTask(t *testing.T) {
	def := machine(`"P":{"Type":"Pass","Result":{"step":1},"ResultPath":"$.p","Next":"Slow"},
		"S":{"Type":"Pass","Next":"P"},
		"Slow":{"Type":"Task","Resource":"slow","ResultPath":"$.slow","Next":"Fast"},
		"Fast":{"Type":"Task","Resource":"fast","ResultPath":"$.fast","End":true}`)
	enginetest.Run(t, func(t *testing.T, st store.Store) {
		started := make(chan string, 1)
		r1 := newRunner(t, def, map[string]asl.TaskFunc{"slow": blockUntilCancelled(started), "fast": unexpected(t, "fast")}, setup{st: st})
		if _, err := r1.Start(t.Context(), "job-1", json.RawMessage(`{"id":1}`)); err != nil {
			t.Fatal(err)
		}
		firstIn := <-started
		if err := r1.Close(); err != nil {
			t.Fatal(err)
		}
		if e, err := r1.Describe(t.Context(), "job-1"); err != nil || e.Status != asl.StatusRunning {
			t.Fatalf("after close: %+v %v", e, err)
		}

		slow, fast := script(ok(`"s"`)), script(ok(`"f"`))
		r2 := newRunner(t, def, map[string]asl.TaskFunc{"slow": slow.fn, "fast": fast.fn}, setup{st: st})
		n, err := r2.Resume(t.Context())
		if err != nil || n != 1 {
			t.Fatalf("resume: %d %v", n, err)
		}
		e, err := r2.Wait(t.Context(), "job-1")
		if err != nil || e.Status != asl.StatusSucceeded {
			t.Fatalf("%+v %v", e, err)
		}
		if !jsonEqual(t, e.Output, `{"id":1,"p":{"step":1},"slow":"s","fast":"f"}`) {
			t.Errorf("output %s", e.Output)
		}
		// At least once: the interrupted task ran again with the same
		// input.
		if in := slow.inputs(); len(in) != 1 || in[0] != firstIn {
			t.Errorf("slow re-ran with %q, first ran with %s", in, firstIn)
		}
		want := []string{"StateEntered S", "StateExited S", "StateEntered P", "StateExited P", "StateEntered Slow", "StateExited Slow", "StateEntered Fast", "StateExited Fast"}
		if got := trail(history(t, r2, "job-1")); !slices.Equal(got, want) {
			t.Errorf("trail %q, want %q", got, want)
		}
		if n, err := r2.Resume(t.Context()); err != nil || n != 0 {
			t.Errorf("second resume: %d %v", n, err)
		}
	})
}

func TestResumeMidWaitForToken(t *testing.T) {
	def := machine(`"S":{"Type":"Task","Resource":"arn:aws:states:::lambda:invoke.waitForTaskToken",
		"Parameters":{"FunctionName":"start","Payload":{"token.$":"$$.Task.Token"}},"ResultPath":"$.result","Next":"After"},
		"After":{"Type":"Pass","End":true}`)
	for _, answerFirst := range []bool{false, true} {
		t.Run(fmt.Sprintf("answered before resume=%v", answerFirst), func(t *testing.T) {
			enginetest.Run(t, func(t *testing.T, st store.Store) {
				tokens := make(chan string, 1)
				fn := func(ctx context.Context, in json.RawMessage, token string) (json.RawMessage, error) {
					tokens <- token
					return nil, nil
				}
				r1 := newRunner(t, def, map[string]asl.TaskFunc{"start": fn}, setup{st: st})
				submitted := make(chan struct{})
				var once sync.Once
				asl.SetPersistHook(r1, func(evs []asl.Event) {
					for _, e := range evs {
						if e.Type == asl.EventTaskSubmitted {
							once.Do(func() { close(submitted) })
						}
					}
				})
				if _, err := r1.Start(t.Context(), "job-1", json.RawMessage(`{"id":1}`)); err != nil {
					t.Fatal(err)
				}
				token := <-tokens
				<-submitted // the func returned and that is persisted
				r1.Close()

				r2 := newRunner(t, def, map[string]asl.TaskFunc{"start": unexpected(t, "start")}, setup{st: st})
				answer := func() {
					if err := r2.SendTaskSuccess(t.Context(), token, json.RawMessage(`{"exit":0}`)); err != nil {
						t.Fatalf("answer: %v", err)
					}
				}
				if answerFirst {
					answer()
				}
				if n, err := r2.Resume(t.Context()); err != nil || n != 1 {
					t.Fatalf("resume: %d %v", n, err)
				}
				if !answerFirst {
					answer()
				}
				e, err := r2.Wait(t.Context(), "job-1")
				if err != nil || !jsonEqual(t, e.Output, `{"id":1,"result":{"exit":0}}`) {
					t.Fatalf("%+v %s %v", e, e.Output, err)
				}
			})
		})
	}
}

// TestResumeMidRetry: a runner stopped while waiting to retry waits only
// what is left of the interval, then invokes the task again.
func TestResumeMidRetry(t *testing.T) {
	def := machine(`"S":{"Type":"Task","Resource":"t","Retry":[{"ErrorEquals":["SystemError"],"IntervalSeconds":60}],"End":true}`)
	st := boltStore(t)
	now := time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)
	var clock atomic.Pointer[time.Time]
	clock.Store(&now)
	cfg := func(c *asl.Config) { c.Now = func() time.Time { return *clock.Load() } }
	sleeping := make(chan time.Duration, 1)
	r1 := newRunner(t, def, map[string]asl.TaskFunc{"t": script(fail("SystemError", "node lost")).fn}, setup{st: st, cfg: func(c *asl.Config) {
		cfg(c)
		c.Sleep = func(ctx context.Context, d time.Duration) error {
			sleeping <- d
			<-ctx.Done()
			return ctx.Err()
		}
	}})
	if _, err := r1.Start(t.Context(), "e", nil); err != nil {
		t.Fatal(err)
	}
	if d := <-sleeping; d != time.Minute {
		t.Fatalf("first sleep %v", d)
	}
	r1.Close()
	later := now.Add(45 * time.Second)
	clock.Store(&later)
	sl := &sleeps{}
	fn := script(ok(`"done"`))
	r2 := newRunner(t, def, map[string]asl.TaskFunc{"t": fn.fn}, setup{st: st, sleeps: sl, cfg: cfg})
	if n, err := r2.Resume(t.Context()); err != nil || n != 1 {
		t.Fatalf("resume: %d %v", n, err)
	}
	e, err := r2.Wait(t.Context(), "e")
	if err != nil || !jsonEqual(t, e.Output, `"done"`) {
		t.Fatalf("%+v %v", e, err)
	}
	if got := sl.got(); !slices.Equal(got, []time.Duration{15 * time.Second}) {
		t.Errorf("resumed sleeps %v, want the 15 s left", got)
	}
}

func TestResumeMidMap(t *testing.T) {
	def := machine(`"S":{"Type":"Map","ItemsPath":"$.xs","ItemSelector":{"i.$":"$$.Map.Item.Index"},"ResultPath":"$.out",
		"ItemProcessor":{"StartAt":"A","States":{
			"A":{"Type":"Task","Resource":"a","ResultPath":"$.a","Next":"B"},
			"B":{"Type":"Task","Resource":"b","ResultPath":"$.b","End":true}}},"End":true}`)
	enginetest.Run(t, func(t *testing.T, st store.Store) {
		blocked := make(chan struct{})
		b1 := func(ctx context.Context, in json.RawMessage, _ string) (json.RawMessage, error) {
			if strings.Contains(string(in), `"i":1`) {
				close(blocked)
				<-ctx.Done()
				return nil, ctx.Err()
			}
			return json.RawMessage(`"b1"`), nil
		}
		r1 := newRunner(t, def, map[string]asl.TaskFunc{"a": script(ok(`"a1"`)).fn, "b": b1}, setup{st: st})
		var done atomic.Int32
		finished := make(chan struct{})
		asl.SetPersistHook(r1, func(evs []asl.Event) {
			for _, e := range evs {
				if e.Type == asl.EventMapIterationSucceeded && done.Add(1) == 2 {
					close(finished)
				}
			}
		})
		if _, err := r1.Start(t.Context(), "job-1", json.RawMessage(`{"xs":[10,11,12]}`)); err != nil {
			t.Fatal(err)
		}
		<-blocked
		<-finished
		r1.Close()

		b2 := script(ok(`"b2"`))
		r2 := newRunner(t, def, map[string]asl.TaskFunc{"a": unexpected(t, "a"), "b": b2.fn}, setup{st: st})
		if n, err := r2.Resume(t.Context()); err != nil || n != 1 {
			t.Fatalf("resume: %d %v", n, err)
		}
		e, err := r2.Wait(t.Context(), "job-1")
		if err != nil || e.Status != asl.StatusSucceeded {
			t.Fatalf("%+v %v", e, err)
		}
		// Finished items kept their results; only item 1's B ran again.
		want := `{"xs":[10,11,12],"out":[{"i":0,"a":"a1","b":"b1"},{"i":1,"a":"a1","b":"b2"},{"i":2,"a":"a1","b":"b1"}]}`
		if !jsonEqual(t, e.Output, want) {
			t.Errorf("output %s, want %s", e.Output, want)
		}
		if in := b2.inputs(); len(in) != 1 || !jsonEqual(t, []byte(in[0]), `{"i":1,"a":"a1"}`) {
			t.Errorf("b re-ran with %q", in)
		}
		h := history(t, r2, "job-1")
		for i := range 3 {
			if got, want := trail(h, i), []string{"StateEntered A", "StateExited A", "StateEntered B", "StateExited B"}; !slices.Equal(got, want) {
				t.Errorf("item %d trail %q, want %q", i, got, want)
			}
		}
	})
}

func mustJSON(t *testing.T, v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestFencing: a runner that lost an execution to another one (which
// resumed it while the first still ran) cannot write to it any more.
func TestFencing(t *testing.T) {
	def := machine(`"S":{"Type":"Task","Resource":"t","Next":"After"},"After":{"Type":"Pass","End":true}`)
	enginetest.Run(t, func(t *testing.T, st store.Store) {
		release := make(chan struct{})
		started := make(chan struct{})
		stale := func(ctx context.Context, in json.RawMessage, _ string) (json.RawMessage, error) {
			close(started)
			<-release
			return json.RawMessage(`"stale"`), nil
		}
		r1 := newRunner(t, def, map[string]asl.TaskFunc{"t": stale}, setup{st: st})
		if _, err := r1.Start(t.Context(), "job-1", nil); err != nil {
			t.Fatal(err)
		}
		<-started
		r2 := newRunner(t, def, map[string]asl.TaskFunc{"t": script(ok(`"fresh"`)).fn}, setup{st: st})
		if n, err := r2.Resume(t.Context()); err != nil || n != 1 {
			t.Fatalf("resume: %d %v", n, err)
		}
		e, err := r2.Wait(t.Context(), "job-1")
		if err != nil || !jsonEqual(t, e.Output, `"fresh"`) {
			t.Fatalf("%+v %v", e, err)
		}
		close(release) // r1's task returns; its write must fail
		r1.Close()
		e, err = r2.Describe(t.Context(), "job-1")
		if err != nil || !jsonEqual(t, e.Output, `"fresh"`) {
			t.Fatalf("after the stale runner: %+v %v", e, err)
		}
		exits := 0
		for _, ev := range history(t, r2, "job-1") {
			if ev.Type == asl.EventStateExited && ev.State == "S" {
				exits++
			}
		}
		if exits != 1 {
			t.Errorf("%d StateExited S events, want 1", exits)
		}
	})
}

// TestLargeMap: a 1,000-item Map is one store item per Map item, each far
// under store.MaxItemBytes (which both engines enforce). DynamoDB Local
// takes about 10 ms a transaction on this suite's machines, so there the
// same layout is checked with 100 items to keep the package fast.
func TestLargeMap(t *testing.T) {
	sizes := map[string]int{"bolt": 1000, "dynamo": 100}
	for _, eng := range enginetest.Engines() {
		n := sizes[eng.Name]
		t.Run(fmt.Sprintf("%s/%d", eng.Name, n), func(t *testing.T) {
			largeMap(t, eng.Open(t), n)
		})
	}
}

func largeMap(t *testing.T, st store.Store, n int) {
	def := machine(`"S":{"Type":"Map","ItemsPath":"$.items","MaxConcurrency":40,
		"ItemSelector":{"i.$":"$$.Map.Item.Index","pad.$":"$$.Map.Item.Value"},
		"ItemProcessor":{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"t","End":true}}},
		"ResultSelector":{"n.$":"States.ArrayLength($)","last.$":"States.ArrayGetItem($, States.MathAdd(States.ArrayLength($), -1))"},
		"ResultPath":"$.result","OutputPath":"$.result","End":true}`)
	pad := strings.Repeat("x", 150)
	items := make([]string, n)
	for i := range items {
		items[i] = pad
	}
	input := mustJSON(t, map[string]any{"items": items})
	fn := func(ctx context.Context, in json.RawMessage, _ string) (json.RawMessage, error) {
		var item struct{ I int }
		_ = json.Unmarshal(in, &item)
		return json.RawMessage(fmt.Sprintf(`{"i":%d,"blob":%q}`, item.I, pad+pad)), nil
	}
	r := newRunner(t, def, map[string]asl.TaskFunc{"t": fn}, setup{st: st})
	e := startAndWait(t, r, "big", string(input))
	want := fmt.Sprintf(`{"n":%d,"last":{"i":%d,"blob":%q}}`, n, n-1, pad+pad)
	if e.Status != asl.StatusSucceeded || !jsonEqual(t, e.Output, want) {
		t.Fatalf("%s %s %s", e.Status, e.Error, e.Output)
	}
	res, err := st.Query(t.Context(), store.Query{PK: "EXEC#big", SKPrefix: "FRAME#"})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Items) != n {
		t.Fatalf("%d frame items, want %d", len(res.Items), n)
	}
	for _, it := range res.Items {
		if len(it.Data) > 2048 {
			t.Fatalf("frame %s is %d bytes", it.SK, len(it.Data))
		}
	}
}

// TestResumeIsPerMachine: runners of different machines share a store
// without resuming each other's executions.
func TestResumeIsPerMachine(t *testing.T) {
	def := machine(`"S":{"Type":"Task","Resource":"t","End":true}`)
	st := boltStore(t)
	started := make(chan string, 1)
	r1 := newRunner(t, def, map[string]asl.TaskFunc{"t": blockUntilCancelled(started)}, setup{st: st, cfg: func(c *asl.Config) { c.Name = "jobs" }})
	if _, err := r1.Start(t.Context(), "e", nil); err != nil {
		t.Fatal(err)
	}
	<-started
	r1.Close()
	other := newRunner(t, def, map[string]asl.TaskFunc{"t": unexpected(t, "t")}, setup{st: st, cfg: func(c *asl.Config) { c.Name = "other" }})
	if n, err := other.Resume(t.Context()); err != nil || n != 0 {
		t.Fatalf("other machine resumed %d: %v", n, err)
	}
	same := newRunner(t, def, map[string]asl.TaskFunc{"t": script(ok(`1`)).fn}, setup{st: st, cfg: func(c *asl.Config) { c.Name = "jobs" }})
	if n, err := same.Resume(t.Context()); err != nil || n != 1 {
		t.Fatalf("resume: %d %v", n, err)
	}
	if e, err := same.Wait(t.Context(), "e"); err != nil || e.Status != asl.StatusSucceeded {
		t.Fatalf("%+v %v", e, err)
	}
}
