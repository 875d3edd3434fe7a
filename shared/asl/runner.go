package asl

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode"

	"github.com/openrescale/platform/shared/errs"
	"github.com/openrescale/platform/shared/store"
)

// A TaskFunc runs one Task. in is the effective input (after InputPath and
// Parameters; for the lambda:invoke integrations, the Payload only). token
// is non-empty for .waitForTaskToken tasks: the task then completes when
// SendTaskSuccess or SendTaskFailure is called with it, and what the func
// returns is ignored unless it is an error.
//
// A func must return when ctx is done: the runner cancels it on a timeout,
// Stop and Close. It may be called again with the same input after a
// restart (at least once, as Lambda invocations are).
type TaskFunc func(ctx context.Context, in json.RawMessage, token string) (json.RawMessage, error)

// Config holds a Runner's dependencies.
type Config struct {
	Machine *Machine
	// Tasks has one func per Machine.TaskTargets() value, and no other.
	Tasks map[string]TaskFunc
	// Store persists executions; several runners may share one.
	Store store.Store
	// Name is the state machine's name: in $$.StateMachine and
	// $$.Execution.Id, and it scopes Resume, so runners of different
	// machines can share a store. Default "StateMachine".
	Name string
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Sleep waits for Retry intervals and Wait states (default: a timer).
	Sleep func(ctx context.Context, d time.Duration) error
	// After starts the timers of TimeoutSeconds, Task and top-level
	// (default time.After). Tests make a timeout fire, or never fire.
	After func(d time.Duration) <-chan time.Time
	Log   *slog.Logger
}

// Runner runs executions of one Machine in goroutines, persisting each
// step so another Runner over the same store can continue them.
type Runner struct {
	m     *Machine
	tasks map[string]TaskFunc
	st    store.Store
	name  string
	now   func() time.Time
	sleep func(ctx context.Context, d time.Duration) error
	after func(d time.Duration) <-chan time.Time
	log   *slog.Logger
	id    string // written as Owner into what this runner drives

	ctx    context.Context // cancelled by Close
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu      sync.Mutex
	closed  bool
	runs    map[string]*execRun      // executions driven here
	waiters map[string]chan struct{} // task token -> closed on an answer
	changed chan struct{}            // closed (and replaced) when a run ends or is stopped

	// persisted is a test hook called after each frame write.
	persisted func([]Event)
}

// New checks the configuration and returns an idle Runner: call Resume to
// continue persisted executions, Start to begin new ones.
func New(cfg Config) (*Runner, error) {
	if cfg.Machine == nil || cfg.Store == nil {
		return nil, errs.Field("config", "asl: Machine and Store are required")
	}
	targets := cfg.Machine.TaskTargets()
	for _, t := range targets {
		if cfg.Tasks[t] == nil {
			return nil, errs.Field("tasks", "asl: no TaskFunc for task target %q", t)
		}
	}
	for t := range cfg.Tasks {
		if !slices.Contains(targets, t) {
			return nil, errs.Field("tasks", "asl: TaskFunc for %q, which no Task of the machine uses", t)
		}
	}
	r := &Runner{
		m: cfg.Machine, tasks: cfg.Tasks, st: cfg.Store, name: cfg.Name,
		now: cfg.Now, sleep: cfg.Sleep, after: cfg.After, log: cfg.Log,
		runs: map[string]*execRun{}, waiters: map[string]chan struct{}{}, changed: make(chan struct{}),
	}
	if r.name == "" {
		r.name = "StateMachine"
	}
	if r.now == nil {
		r.now = time.Now
	}
	if r.sleep == nil {
		r.sleep = sleepTimer
	}
	if r.after == nil {
		r.after = time.After
	}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, fmt.Errorf("asl: runner id: %w", err)
	}
	r.id = hex.EncodeToString(b[:])
	r.ctx, r.cancel = context.WithCancel(context.Background())
	return r, nil
}

func sleepTimer(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// validName follows StartExecution's rules for names, so a name that works
// here works in AWS.
func validName(name string) error {
	if name == "" || len([]rune(name)) > 80 {
		return errs.Field("name", "an execution name has 1 to 80 characters")
	}
	for _, c := range name {
		if unicode.IsSpace(c) || unicode.IsControl(c) || strings.ContainsRune("<>{}[]?*\"#%\\^|~`$&,;:/", c) {
			return errs.Field("name", "execution name %q has %q, which Step Functions does not allow", name, c)
		}
	}
	return nil
}

// Start begins an execution named name with input. Like StartExecution it
// is idempotent: when an execution with that name exists (running or
// finished) it does nothing and returns started=false. Errors: Invalid for
// a bad name or input, Unavailable after Close.
func (r *Runner) Start(ctx context.Context, name string, input json.RawMessage) (bool, error) {
	if err := validName(name); err != nil {
		return false, err
	}
	if len(input) == 0 {
		input = json.RawMessage(`{}`)
	}
	in, err := decodeJSON(input)
	if err != nil {
		return false, errs.Field("input", "the input is not JSON: %v", err)
	}
	canon := mustEncode(in)
	if len(canon) > maxPayloadBytes {
		return false, errs.Field("input", "the input is %d bytes, more than the %d Step Functions accepts", len(canon), maxPayloadBytes)
	}
	if r.isClosed() {
		return false, errs.E(errs.Unavailable, "asl: runner closed")
	}
	now := r.now()
	rec := execRecord{
		Name: name, Machine: r.name, Digest: r.m.digest, Status: StatusRunning, StartDate: now, Owner: r.id,
		Frame: frame{Status: StatusRunning, State: r.m.top.startAt, Input: canon, Entered: now, LastSeq: 2},
	}
	meta, err := r.metaItem(&rec)
	if err != nil {
		return false, err
	}
	pk := execPK(name)
	evOps, err := eventOps(pk, []Event{
		{Seq: 1, Type: EventExecutionStarted, Time: now},
		{Seq: 2, Type: EventStateEntered, State: r.m.top.startAt, Time: now},
	})
	if err != nil {
		return false, err
	}
	ops := append([]store.Op{
		{Kind: store.OpPut, Item: meta, Cond: store.Cond{IfAbsent: true}},
		{Kind: store.OpPut, Item: store.Item{PK: pk, SK: skInput, Data: canon}},
		r.fenceOp(name, store.Cond{IfAbsent: true}),
	}, evOps...)
	if err := r.st.Transact(ctx, ops); err != nil {
		if errs.Is(err, errs.Conflict) {
			return false, nil
		}
		return false, fmt.Errorf("asl: start %s: %w", name, err)
	}
	r.launch(rec, 1, 1, in, 2)
	return true, nil
}

func (r *Runner) isClosed() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.closed
}

// SendTaskSuccess completes the .waitForTaskToken task waiting on token
// with output. Errors: NotFound for a token that is unknown, already
// answered or whose execution ended; Invalid for output that is not JSON.
func (r *Runner) SendTaskSuccess(ctx context.Context, token string, output json.RawMessage) error {
	if len(output) == 0 {
		output = json.RawMessage(`null`)
	}
	v, err := decodeJSON(output)
	if err != nil {
		return errs.Field("output", "the output is not JSON: %v", err)
	}
	canon := mustEncode(v)
	if len(canon) > maxPayloadBytes {
		return errs.Field("output", "the output is %d bytes, more than the %d Step Functions accepts", len(canon), maxPayloadBytes)
	}
	return r.answer(ctx, token, tokenRecord{Status: tokenSucceeded, Output: canon})
}

// SendTaskFailure fails the task waiting on token with errName (default
// States.TaskFailed) and cause; its Retry and Catch apply. Errors as
// SendTaskSuccess.
func (r *Runner) SendTaskFailure(ctx context.Context, token, errName, cause string) error {
	if errName == "" {
		errName = ErrTaskFailed
	}
	return r.answer(ctx, token, tokenRecord{Status: tokenFailed,
		Error: clip(errName, maxErrorNameBytes), Cause: clip(cause, maxCauseBytes)})
}

func (r *Runner) answer(ctx context.Context, token string, ans tokenRecord) error {
	name, nonce, err := parseToken(token)
	if err != nil {
		return err
	}
	rec, _, err := r.getMeta(ctx, name)
	if err != nil {
		if errs.Is(err, errs.NotFound) {
			return errs.E(errs.NotFound, "unknown task token")
		}
		return err
	}
	if rec.Status != StatusRunning {
		return errs.E(errs.NotFound, "task token of execution %s, which is %s", name, rec.Status)
	}
	pk, sk := execPK(name), skTokenPrefix+nonce
	it, err := r.st.Get(ctx, pk, sk)
	if errs.Is(err, errs.NotFound) {
		return errs.E(errs.NotFound, "unknown or finished task token")
	}
	if err != nil {
		return fmt.Errorf("asl: read task token: %w", err)
	}
	var cur tokenRecord
	if err := json.Unmarshal(it.Data, &cur); err != nil {
		return fmt.Errorf("asl: decode task token: %w", err)
	}
	if cur.Status != tokenWaiting {
		return errs.E(errs.NotFound, "the task token was already answered")
	}
	ans.Frame = cur.Frame
	data, err := json.Marshal(ans)
	if err != nil {
		return fmt.Errorf("asl: encode task answer: %w", err)
	}
	_, err = r.st.Put(ctx, store.Item{PK: pk, SK: sk, Data: data}, store.Cond{IfVersion: it.Version})
	switch {
	case errs.Is(err, errs.Conflict), errs.Is(err, errs.NotFound):
		// Answered or finished (timed out) meanwhile.
		return errs.E(errs.NotFound, "unknown, finished or already answered task token")
	case err != nil:
		return fmt.Errorf("asl: record task answer: %w", err)
	}
	r.notify(token)
	return nil
}

// watch returns a channel closed when token is answered through this
// runner.
func (r *Runner) watch(token string) <-chan struct{} {
	r.mu.Lock()
	defer r.mu.Unlock()
	ch, ok := r.waiters[token]
	if !ok {
		ch = make(chan struct{})
		r.waiters[token] = ch
	}
	return ch
}

func (r *Runner) unwatch(token string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.waiters, token)
}

func (r *Runner) notify(token string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if ch, ok := r.waiters[token]; ok {
		close(ch)
		delete(r.waiters, token)
	}
}

func (r *Runner) broadcast() {
	r.mu.Lock()
	defer r.mu.Unlock()
	close(r.changed)
	r.changed = make(chan struct{})
}

// Stop ends a running execution with status ABORTED, as StopExecution
// does; its running tasks' contexts are cancelled. Errors: NotFound,
// Conflict when it is not running.
func (r *Runner) Stop(ctx context.Context, name, errName, cause string) error {
	return r.end(ctx, name, StatusAborted, errName, cause)
}

// end moves a running execution to a terminal status from outside its
// driver (Stop, the execution timeout). Changing META's version fences off
// the driver, wherever it runs.
func (r *Runner) end(ctx context.Context, name, status, errName, cause string) error {
	for {
		rec, ver, err := r.getMeta(ctx, name)
		if err != nil {
			return err
		}
		if rec.Status != StatusRunning {
			return errs.E(errs.Conflict, "execution %s is %s, not running", name, rec.Status)
		}
		rec.Status, rec.Error, rec.Cause, rec.StopDate = status, errName, cause, r.now()
		rec.Frame.Input = nil
		it, err := r.metaItem(&rec)
		if err != nil {
			return err
		}
		err = r.st.Transact(ctx, []store.Op{{Kind: store.OpPut, Item: it, Cond: store.Cond{IfVersion: ver}}, r.fenceOp(name, store.Cond{})})
		if errs.Is(err, errs.Conflict) {
			continue // the driver moved on; look again
		}
		if err != nil {
			return fmt.Errorf("asl: stop %s: %w", name, err)
		}
		break
	}
	r.mu.Lock()
	run := r.runs[name]
	r.mu.Unlock()
	if run != nil {
		run.cancel()
	}
	r.broadcast()
	return nil
}

// Describe returns an execution's status and result. Errors: NotFound.
func (r *Runner) Describe(ctx context.Context, name string) (Execution, error) {
	rec, _, err := r.getMeta(ctx, name)
	if err != nil {
		return Execution{}, err
	}
	in, err := r.st.Get(ctx, execPK(name), skInput)
	if err != nil {
		return Execution{}, fmt.Errorf("asl: read input of %s: %w", name, err)
	}
	return Execution{
		Name: rec.Name, Status: rec.Status, Input: in.Data, Output: rec.Output,
		Error: rec.Error, Cause: rec.Cause, StartDate: rec.StartDate, StopDate: rec.StopDate,
	}, nil
}

// History returns an execution's events in order. An execution stopped or
// timed out from outside its driver ends with a synthesised
// ExecutionAborted or ExecutionTimedOut event. Errors: NotFound.
func (r *Runner) History(ctx context.Context, name string) ([]Event, error) {
	rec, _, err := r.getMeta(ctx, name)
	if err != nil {
		return nil, err
	}
	res, err := r.st.Query(ctx, store.Query{PK: execPK(name), SKPrefix: skEventPrefix})
	if err != nil {
		return nil, fmt.Errorf("asl: read history of %s: %w", name, err)
	}
	evs := make([]Event, 0, len(res.Items)+1)
	for _, it := range res.Items {
		var e Event
		if err := json.Unmarshal(it.Data, &e); err != nil {
			return nil, fmt.Errorf("asl: decode event %s: %w", it.SK, err)
		}
		evs = append(evs, e)
	}
	final := map[string]string{StatusAborted: EventExecutionAborted, StatusTimedOut: EventExecutionTimedOut}[rec.Status]
	if final != "" {
		var seq int64
		if len(evs) > 0 {
			seq = evs[len(evs)-1].Seq
		}
		evs = append(evs, Event{Seq: seq + 1, Type: final, Time: rec.StopDate, Error: rec.Error, Cause: rec.Cause})
	}
	return evs, nil
}

// Wait blocks until the execution is no longer RUNNING and returns it. It
// wakes on the ends of executions this runner drives or stops; an
// execution driven by another process is seen only when ctx ends.
func (r *Runner) Wait(ctx context.Context, name string) (Execution, error) {
	for {
		r.mu.Lock()
		ch := r.changed
		r.mu.Unlock()
		e, err := r.Describe(ctx, name)
		if err != nil || e.Status != StatusRunning {
			return e, err
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return Execution{}, ctx.Err()
		}
	}
}

// Resume takes over every persisted RUNNING execution of this machine not
// already driven here and continues it: call it once after a restart. A
// Task that was running is invoked again; a .waitForTaskToken task whose
// func had returned keeps waiting for the same token. It returns how many
// it resumed.
func (r *Runner) Resume(ctx context.Context) (int, error) {
	res, err := r.st.Query(ctx, store.Query{Index: store.GSI1, PK: gsiRunning, SKPrefix: r.name + "#"})
	if err != nil {
		return 0, fmt.Errorf("asl: list running executions: %w", err)
	}
	n := 0
	for _, it := range res.Items {
		var idx execRecord
		if err := json.Unmarshal(it.Data, &idx); err != nil {
			return n, fmt.Errorf("asl: decode execution %s: %w", it.PK, err)
		}
		ok, err := r.resume(ctx, idx.Name)
		if err != nil {
			return n, err
		}
		if ok {
			n++
		}
	}
	return n, nil
}

func (r *Runner) resume(ctx context.Context, name string) (bool, error) {
	r.mu.Lock()
	_, here := r.runs[name]
	closed := r.closed
	r.mu.Unlock()
	if closed {
		return false, errs.E(errs.Unavailable, "asl: runner closed")
	}
	if here {
		return false, nil
	}
	// The index is eventually consistent; META is the truth.
	rec, ver, err := r.getMeta(ctx, name)
	if err != nil || rec.Status != StatusRunning {
		return false, nil
	}
	if rec.Digest != r.m.digest {
		r.log.Warn("asl: resuming an execution started with another version of the definition", "execution", name)
	}
	in, err := r.st.Get(ctx, execPK(name), skInput)
	if err != nil {
		return false, fmt.Errorf("asl: read input of %s: %w", name, err)
	}
	input, err := decodeJSON(in.Data)
	if err != nil {
		return false, fmt.Errorf("asl: decode input of %s: %w", name, err)
	}
	// Events are numbered across frames: continue after the highest
	// number any frame wrote.
	seq := rec.Frame.LastSeq
	frames, err := r.st.Query(ctx, store.Query{PK: execPK(name), SKPrefix: skFramePrefix})
	if err != nil {
		return false, fmt.Errorf("asl: read frames of %s: %w", name, err)
	}
	for _, it := range frames.Items {
		var f frame
		if err := json.Unmarshal(it.Data, &f); err != nil {
			return false, fmt.Errorf("asl: decode frame %s: %w", it.SK, err)
		}
		seq = max(seq, f.LastSeq)
	}
	// Claiming rewrites META and FENCE, which fences off a runner that
	// might still be driving it.
	fence, err := r.st.Get(ctx, execPK(name), skFence)
	if err != nil {
		return false, fmt.Errorf("asl: read fence of %s: %w", name, err)
	}
	rec.Owner = r.id
	meta, err := r.metaItem(&rec)
	if err != nil {
		return false, err
	}
	err = r.st.Transact(ctx, []store.Op{
		{Kind: store.OpPut, Item: meta, Cond: store.Cond{IfVersion: ver}},
		r.fenceOp(name, store.Cond{IfVersion: fence.Version}),
	})
	if errs.Is(err, errs.Conflict) {
		return false, nil // someone else moved it first
	}
	if err != nil {
		return false, fmt.Errorf("asl: claim %s: %w", name, err)
	}
	r.log.Info("asl: resuming execution", "execution", name, "state", rec.Frame.State)
	r.launch(rec, ver+1, fence.Version+1, input, seq)
	return true, nil
}

// Close cancels every execution's goroutines and waits for them. What they
// persisted stays, RUNNING, for a later Resume.
func (r *Runner) Close() error {
	r.mu.Lock()
	r.closed = true
	r.mu.Unlock()
	r.cancel()
	r.wg.Wait()
	return nil
}

// execRun is one execution driven by this runner.
type execRun struct {
	r      *Runner
	name   string
	pk     string
	input  any
	start  time.Time
	seq    atomic.Int64
	fence  int64 // FENCE's version when this runner took the execution
	cancel context.CancelFunc
}

func (r *Runner) launch(rec execRecord, metaVer, fence int64, input any, seq int64) {
	ctx, cancel := context.WithCancel(r.ctx)
	ex := &execRun{r: r, name: rec.Name, pk: execPK(rec.Name), input: input, start: rec.StartDate, cancel: cancel, fence: fence}
	ex.seq.Store(seq)
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		cancel()
		return
	}
	r.runs[rec.Name] = ex
	r.wg.Add(1)
	r.mu.Unlock()
	go func() {
		defer r.wg.Done()
		defer func() {
			cancel()
			r.mu.Lock()
			delete(r.runs, rec.Name)
			r.mu.Unlock()
			r.broadcast()
		}()
		if r.m.timeout > 0 {
			r.wg.Add(1)
			go func() {
				defer r.wg.Done()
				ex.watchTimeout(ctx)
			}()
		}
		top := &frameRun{ex: ex, g: r.m.top, f: rec.Frame, sk: skMeta, ver: metaVer, rec: &rec}
		_, _, err := top.run(ctx)
		switch {
		case errors.Is(err, errLost):
			r.log.Info("asl: execution no longer driven here (stopped, timed out or taken over)", "execution", rec.Name)
		case err != nil && !quiet(err):
			r.log.Error("asl: execution stopped on an error; Resume continues it", "execution", rec.Name, "err", err)
		}
	}()
}

func (ex *execRun) watchTimeout(ctx context.Context) {
	r := ex.r
	left := ex.start.Add(r.m.timeout).Sub(r.now())
	select {
	case <-r.after(max(left, 0)):
	case <-ctx.Done():
		return
	}
	err := r.end(context.WithoutCancel(ctx), ex.name, StatusTimedOut, ErrTimeout, errCauseTimedOut)
	if err != nil && !errs.Is(err, errs.Conflict) {
		r.log.Error("asl: time out execution", "execution", ex.name, "err", err)
	}
}
