// Package computetest is the contract every compute adapter passes: the
// lifecycle relies on exactly these behaviours, so an adapter that passes
// can stand behind it in either deployment.
package computetest

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openrescale/platform/shared/blob"
	"github.com/openrescale/platform/shared/compute"
	"github.com/openrescale/platform/shared/errs"
)

// Harness builds an adapter with cores cores whose events go to sink and
// whose runs read inputs from and write outputs to bucket.
type Harness func(t *testing.T, cores int, sink compute.Sink) (compute.Compute, blob.Bucket)

// events collects what an adapter reports.
type events struct {
	mu   sync.Mutex
	list []compute.Event
	ch   chan struct{}
}

func newEvents() *events { return &events{ch: make(chan struct{}, 1000)} }

func (e *events) sink(ctx context.Context, ev compute.Event) error {
	e.mu.Lock()
	e.list = append(e.list, ev)
	e.mu.Unlock()
	e.ch <- struct{}{}
	return nil
}

// exited waits for the run's Exited event.
func (e *events) exited(t *testing.T, job, run string) compute.Event {
	t.Helper()
	timeout := time.After(60 * time.Second)
	for {
		e.mu.Lock()
		for _, ev := range e.list {
			if ev.JobID == job && ev.RunID == run && ev.State == compute.Exited {
				e.mu.Unlock()
				return ev
			}
		}
		e.mu.Unlock()
		select {
		case <-e.ch:
		case <-timeout:
			t.Fatalf("no Exited event for %s/%s", job, run)
		}
	}
}

func (e *events) saw(job, run string, st compute.State) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, ev := range e.list {
		if ev.JobID == job && ev.RunID == run && ev.State == st {
			return true
		}
	}
	return false
}

func runOf(job, command string) compute.Run {
	return compute.Run{
		JobID: job, OwnerID: "uowner", RunID: "1",
		Req:     compute.Requirements{Analysis: "user_included", Version: "0", Cores: 1},
		Command: command, Env: map[string]string{"GREETING": "hello"},
		Inputs:       []compute.File{{Name: "input.txt", Key: "user/user_uowner/input.txt-0123"}},
		OutputPrefix: "user/user_uowner/output/job_" + job + "/run1/",
	}
}

// Run runs the contract.
func Run(t *testing.T, h Harness) {
	t.Run("CheckRefusesMoreCoresThanThereAre", func(t *testing.T) {
		c, _ := h(t, 2, newEvents().sink)
		err := c.Check(t.Context(), compute.Requirements{Analysis: "user_included", Version: "0", Cores: 3})
		if !errs.Is(err, errs.Invalid) {
			t.Fatalf("Check of 3 cores on 2: %v", err)
		}
		if err := c.Check(t.Context(), compute.Requirements{Analysis: "user_included", Version: "0", Cores: 2}); err != nil {
			t.Fatalf("Check of 2 cores on 2: %v", err)
		}
	})

	t.Run("RunReportsExitAndSavesOutputs", func(t *testing.T) {
		ev := newEvents()
		c, b := h(t, 1, ev.sink)
		ctx := t.Context()
		if _, err := b.Put(ctx, "user/user_uowner/input.txt-0123", strings.NewReader("from input\n"), ""); err != nil {
			t.Fatal(err)
		}
		if err := c.Reserve(ctx, "jrun", 1, nil); err != nil {
			t.Fatal(err)
		}
		r := runOf("jrun", `cat input.txt; echo "$GREETING"; echo out > result.txt; exit 3`)
		if err := c.StartRun(ctx, r); err != nil {
			t.Fatal(err)
		}
		if err := c.StartRun(ctx, r); err != nil { // starting again is not an error
			t.Fatal(err)
		}
		got := ev.exited(t, "jrun", "1")
		if got.ExitCode != 3 || got.System || got.Stopped != "" {
			t.Fatalf("exit event %+v", got)
		}
		if !ev.saw("jrun", "1", compute.Running) {
			t.Fatal("no Running event before Exited")
		}
		var keys []string
		_ = b.List(ctx, r.OutputPrefix, func(a blob.Attrs) error {
			keys = append(keys, strings.TrimPrefix(a.Key, r.OutputPrefix))
			return nil
		})
		want := map[string]bool{"result.txt": false, "process_output.log": false, "input.txt": false}
		for _, k := range keys {
			if _, ok := want[k]; ok {
				want[k] = true
			}
		}
		for k, seen := range want {
			if !seen {
				t.Fatalf("output %s missing from %v", k, keys)
			}
		}
		rd, err := b.NewRangeReader(ctx, r.OutputPrefix+"process_output.log", 0, -1)
		if err != nil {
			t.Fatal(err)
		}
		log, _ := io.ReadAll(rd)
		rd.Close()
		if !bytes.Contains(log, []byte("from input")) || !bytes.Contains(log, []byte("hello")) {
			t.Fatalf("process_output.log: %q", log)
		}
		// Exited has been recorded: the run is gone.
		deadline := time.Now().Add(5 * time.Second)
		for {
			alive, err := c.Alive(ctx, "jrun", "1")
			if err != nil {
				t.Fatal(err)
			}
			if !alive {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("run still alive after its Exited event")
			}
			time.Sleep(10 * time.Millisecond)
		}
		if err := c.Release(ctx, "jrun"); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("ReservationsAreFirstComeFirstServed", func(t *testing.T) {
		c, _ := h(t, 2, newEvents().sink)
		ctx := t.Context()
		if err := c.Reserve(ctx, "ja", 2, nil); err != nil {
			t.Fatal(err)
		}
		order := make(chan string, 2)
		waited := make(chan string, 2)
		var wg sync.WaitGroup
		for _, j := range []struct {
			id    string
			cores int
		}{{"jb", 2}, {"jc", 1}} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := c.Reserve(ctx, j.id, j.cores, func() { waited <- j.id }); err != nil {
					t.Error(err)
					return
				}
				order <- j.id
			}()
			<-waited // jb queues before jc
		}
		_ = c.Release(ctx, "ja")
		if first := <-order; first != "jb" {
			t.Fatalf("%s was granted before jb, which waited longer", first)
		}
		_ = c.Release(ctx, "jb")
		wg.Wait()
		_ = c.Release(ctx, "jc")
	})

	t.Run("StopEndsRunsAndRefusesNewWork", func(t *testing.T) {
		ev := newEvents()
		c, b := h(t, 2, ev.sink)
		ctx := t.Context()
		if _, err := b.Put(ctx, "user/user_uowner/input.txt-0123", strings.NewReader("x"), ""); err != nil {
			t.Fatal(err)
		}
		for _, mode := range []compute.StopMode{compute.Graceful, compute.Force, compute.Discard} {
			job := "jstop" + strings.ReplaceAll(string(mode), "_", "")
			if err := c.Reserve(ctx, job, 1, nil); err != nil {
				t.Fatal(err)
			}
			r := runOf(job, "echo begun > begun.txt; sleep 300")
			if err := c.StartRun(ctx, r); err != nil {
				t.Fatal(err)
			}
			waitRunning(t, ev, job)
			if err := c.Stop(ctx, job, "", mode); err != nil {
				t.Fatal(err)
			}
			got := ev.exited(t, job, "1")
			if got.Stopped != mode {
				t.Fatalf("%s: exit event %+v", mode, got)
			}
			saved := false
			_ = b.List(ctx, r.OutputPrefix, func(a blob.Attrs) error {
				saved = true
				return nil
			})
			if saved != (mode != compute.Discard) {
				t.Fatalf("%s: outputs saved = %v", mode, saved)
			}
			if err := c.StartRun(ctx, r); !errors.Is(err, compute.ErrStopped) {
				t.Fatalf("%s: a stopped job's new run: %v", mode, err)
			}
			_ = c.Release(ctx, job)
		}
		// A stop while waiting for capacity ends the wait.
		if err := c.Reserve(ctx, "jbig", 2, nil); err != nil {
			t.Fatal(err)
		}
		errc := make(chan error, 1)
		queued := make(chan struct{})
		go func() { errc <- c.Reserve(ctx, "jwait", 1, func() { close(queued) }) }()
		<-queued
		if err := c.Stop(ctx, "jwait", "", compute.Graceful); err != nil {
			t.Fatal(err)
		}
		if err := <-errc; !errors.Is(err, compute.ErrStopped) {
			t.Fatalf("reservation of a stopped job: %v", err)
		}
		_ = c.Release(ctx, "jbig")
	})
}

func waitRunning(t *testing.T, ev *events, job string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !ev.saw(job, "1", compute.Running) {
		if time.Now().After(deadline) {
			t.Fatalf("%s never ran", job)
		}
		time.Sleep(10 * time.Millisecond)
	}
	// Running is reported once the process exists; give it a moment to
	// reach its sleep so a graceful stop has something to stop.
	time.Sleep(200 * time.Millisecond)
}
