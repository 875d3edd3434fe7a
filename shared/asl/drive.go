package asl

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/openrescale/platform/shared/errs"
	"github.com/openrescale/platform/shared/store"
)

// frameRun drives one frame: the top level (persisted in META) or one Map
// item (in its FRAME# item).
type frameRun struct {
	ex  *execRun
	g   *graph
	f   frame
	sk  string
	ver int64       // the frame item's version; 0: not written yet
	rec *execRecord // top level only: the META record the frame lives in
	// pending are events not yet written: a new Map item's start goes out
	// with its first write (see mapState).
	pending []Event
}

func (fr *frameRun) top() bool { return fr.rec != nil }

// write persists the frame with events (numbered and stamped here) and
// extra ops, in one transaction. A failed condition means this runner no
// longer drives the execution: errLost.
func (fr *frameRun) write(ctx context.Context, evs []Event, extra ...store.Op) error {
	ex, r := fr.ex, fr.ex.r
	now := r.now()
	if len(fr.pending) > 0 {
		evs = append(fr.pending, evs...)
		fr.pending = nil
	}
	for i := range evs {
		evs[i].Seq = ex.seq.Add(1)
		if evs[i].Time.IsZero() {
			evs[i].Time = now
		}
		if evs[i].Index == nil {
			evs[i].Index = fr.f.Index
		}
		fr.f.LastSeq = evs[i].Seq
	}
	var main store.Op
	if fr.top() {
		fr.rec.Frame = fr.f
		it, err := r.metaItem(fr.rec)
		if err != nil {
			return err
		}
		main = store.Op{Kind: store.OpPut, Item: it, Cond: store.Cond{IfVersion: fr.ver}}
	} else {
		data, err := json.Marshal(fr.f)
		if err != nil {
			return fmt.Errorf("asl: encode frame: %w", err)
		}
		cond := store.Cond{IfVersion: fr.ver}
		if fr.ver == 0 {
			cond = store.Cond{IfAbsent: true}
		}
		main = store.Op{Kind: store.OpPut, Item: store.Item{PK: ex.pk, SK: fr.sk, Data: data}, Cond: cond}
	}
	evOps, err := eventOps(ex.pk, evs)
	if err != nil {
		return err
	}
	ops := append(append([]store.Op{main}, evOps...), extra...)
	if !fr.top() {
		ops = append(ops, store.Op{Kind: store.OpCheck, Item: store.Item{PK: ex.pk, SK: skFence},
			Cond: store.Cond{IfVersion: ex.fence}})
	}
	if err := r.st.Transact(ctx, ops); err != nil {
		if errs.Is(err, errs.Conflict) {
			return errLost
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("asl: persist execution %s: %w", ex.name, err)
	}
	fr.ver++
	if r.persisted != nil {
		r.persisted(evs)
	}
	return nil
}

// dropToken is the op that ends a frame's task token, for the write that
// leaves the attempt it belongs to.
func (fr *frameRun) dropToken() []store.Op {
	if fr.f.Token == "" {
		return nil
	}
	_, nonce, _ := parseToken(fr.f.Token)
	fr.f.Token, fr.f.Deadline = "", time.Time{}
	return []store.Op{{Kind: store.OpDelete, Item: store.Item{PK: fr.ex.pk, SK: skTokenPrefix + nonce}}}
}

// run drives the frame to its end and persists the end: the frame's
// output, or the state error that failed it. err is for what stopped the
// driving instead (cancellation, lost ownership, store failures).
func (fr *frameRun) run(ctx context.Context) (any, *Error, error) {
	for {
		st, ok := fr.g.states[fr.f.State]
		if !ok {
			serr := runtimeErr(errCauseUnknownStateFmt, fr.f.State)
			return fr.failed(ctx, nil, serr)
		}
		raw, err := decodeJSON(fr.f.Input)
		if err != nil {
			return nil, nil, fmt.Errorf("asl: decode frame input: %w", err)
		}
		out, next, serr, err := fr.step(ctx, st, raw)
		if err != nil {
			return nil, nil, err
		}
		failed := Event{Type: EventStateFailed, State: st.name}
		if serr != nil {
			failed.Error, failed.Cause = serr.Name, serr.Cause
			c, ok := catcherFor(st, serr)
			if !ok {
				return fr.failed(ctx, []Event{failed}, serr)
			}
			errOut := map[string]any{"Error": serr.Name, "Cause": serr.Cause}
			caught, perr := c.resultPath.applyResult(raw, errOut)
			if perr != nil {
				return fr.failed(ctx, []Event{failed}, perr)
			}
			if perr := checkSize(caught); perr != nil {
				return fr.failed(ctx, []Event{failed}, perr)
			}
			if err := fr.enter(ctx, []Event{failed, {Type: EventStateCaught, State: st.name}}, st, c.next, caught); err != nil {
				return nil, nil, err
			}
			continue
		}
		if perr := checkSize(out); perr != nil {
			failed.Error, failed.Cause = perr.Name, perr.Cause
			return fr.failed(ctx, []Event{failed}, perr)
		}
		if next == "" {
			if err := fr.succeed(ctx, st, out); err != nil {
				return nil, nil, err
			}
			return out, nil, nil
		}
		if err := fr.enter(ctx, nil, st, next, out); err != nil {
			return nil, nil, err
		}
	}
}

func checkSize(v any) *Error {
	if n := len(mustEncode(v)); n > maxPayloadBytes {
		return &Error{Name: ErrDataLimitExceeded, Cause: fmt.Sprintf("the state output is %d bytes, more than the %d allowed", n, maxPayloadBytes)}
	}
	return nil
}

// enter leaves st and enters next with input, in one write.
func (fr *frameRun) enter(ctx context.Context, evs []Event, st *state, next string, input any) error {
	evs = append(evs, Event{Type: EventStateExited, State: st.name}, Event{Type: EventStateEntered, State: next})
	drop := fr.dropToken()
	fr.f.State, fr.f.Input, fr.f.Entered = next, mustEncode(input), fr.ex.r.now()
	fr.f.Phase, fr.f.Attempts, fr.f.RetryAt, fr.f.WaitUntil = "", nil, time.Time{}, time.Time{}
	return fr.write(ctx, evs, drop...)
}

func (fr *frameRun) succeed(ctx context.Context, st *state, out any) error {
	drop := fr.dropToken()
	enc := mustEncode(out)
	fr.f.Status, fr.f.Input, fr.f.Output, fr.f.Phase = StatusSucceeded, nil, enc, ""
	evs := []Event{{Type: EventStateExited, State: st.name}}
	if fr.top() {
		fr.rec.Status, fr.rec.Output, fr.rec.StopDate = StatusSucceeded, enc, fr.ex.r.now()
		fr.f.Output = nil // the execution's Output has it
		evs = append(evs, Event{Type: EventExecutionSucceeded})
	} else {
		evs = append(evs, Event{Type: EventMapIterationSucceeded, State: fr.f.Map})
	}
	return fr.write(ctx, evs, drop...)
}

// failed persists the frame's failure and reports it as run does.
func (fr *frameRun) failed(ctx context.Context, evs []Event, serr *Error) (any, *Error, error) {
	if err := fr.fail(ctx, evs, serr); err != nil {
		return nil, nil, err
	}
	return nil, serr, nil
}

func (fr *frameRun) fail(ctx context.Context, evs []Event, serr *Error) error {
	drop := fr.dropToken()
	fr.f.Status, fr.f.Input, fr.f.Phase, fr.f.Error, fr.f.Cause = StatusFailed, nil, "", serr.Name, serr.Cause
	if fr.top() {
		fr.rec.Status, fr.rec.Error, fr.rec.Cause, fr.rec.StopDate = StatusFailed, serr.Name, serr.Cause, fr.ex.r.now()
		evs = append(evs, Event{Type: EventExecutionFailed, Error: serr.Name, Cause: serr.Cause})
	} else {
		evs = append(evs, Event{Type: EventMapIterationFailed, State: fr.f.Map, Error: serr.Name, Cause: serr.Cause})
	}
	return fr.write(ctx, evs, drop...)
}

func catcherFor(st *state, serr *Error) (catcher, bool) {
	for _, c := range st.catch {
		if matches(c.errorEquals, serr.Name) {
			return c, true
		}
	}
	return catcher{}, false
}

// step runs an entered state to its output and next state ("" at the
// end), retrying by its Retry. serr is the error its attempts ended with.
func (fr *frameRun) step(ctx context.Context, st *state, raw any) (out any, next string, serr *Error, err error) {
	r := fr.ex.r
	for {
		if fr.f.Phase == phaseRetry {
			// Resumed while waiting to retry: wait what is left.
			if err := r.sleep(ctx, fr.f.RetryAt.Sub(r.now())); err != nil {
				return nil, "", nil, err
			}
			fr.f.Phase = ""
		}
		out, next, serr, err = fr.attempt(ctx, st, raw)
		if err != nil || serr == nil {
			return out, next, serr, err
		}
		i, ok := retrierFor(st, serr)
		if !ok {
			return nil, "", serr, nil
		}
		if fr.f.Attempts == nil {
			fr.f.Attempts = make([]int, len(st.retry))
		}
		if fr.f.Attempts[i] >= st.retry[i].maxAttempts {
			// The first matching retrier decides; when it is used up the
			// error goes to Catch (Step Functions does not fall through to
			// later retriers).
			return nil, "", serr, nil
		}
		delay := st.retry[i].delay(fr.f.Attempts[i])
		fr.f.Attempts[i]++
		drop := fr.dropToken()
		fr.f.Phase, fr.f.RetryAt = phaseRetry, r.now().Add(delay)
		evs := []Event{
			{Type: EventStateFailed, State: st.name, Error: serr.Name, Cause: serr.Cause},
			{Type: EventStateRetried, State: st.name, Attempt: fr.f.Attempts[i]},
		}
		if err := fr.write(ctx, evs, drop...); err != nil {
			return nil, "", nil, err
		}
		if err := r.sleep(ctx, delay); err != nil {
			return nil, "", nil, err
		}
		fr.f.Phase = ""
	}
}

func retrierFor(st *state, serr *Error) (int, bool) {
	for i, rt := range st.retry {
		if matches(rt.errorEquals, serr.Name) {
			return i, true
		}
	}
	return 0, false
}

// delay is IntervalSeconds × BackoffRate^retries, capped at
// MaxDelaySeconds.
func (rt retrier) delay(retries int) time.Duration {
	s := rt.interval * math.Pow(rt.backoff, float64(retries))
	if rt.maxDelay > 0 {
		s = min(s, rt.maxDelay)
	}
	return time.Duration(s * float64(time.Second))
}

func (fr *frameRun) contextObject(st *state, token string) map[string]any {
	ex := fr.ex
	retries := 0
	for _, n := range fr.f.Attempts {
		retries += n
	}
	machineArn := "arn:aws:states:local:000000000000:stateMachine:" + ex.r.name
	c := map[string]any{
		"Execution": map[string]any{
			"Id":        "arn:aws:states:local:000000000000:execution:" + ex.r.name + ":" + ex.name,
			"Name":      ex.name,
			"Input":     ex.input,
			"StartTime": isoTime(ex.start),
		},
		"StateMachine": map[string]any{"Id": machineArn, "Name": ex.r.name},
		"State": map[string]any{
			"Name":        st.name,
			"EnteredTime": isoTime(fr.f.Entered),
			"RetryCount":  number(int64(retries)),
		},
	}
	if token != "" {
		c["Task"] = map[string]any{"Token": token}
	}
	return c
}

func isoTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

// attempt runs a state once.
func (fr *frameRun) attempt(ctx context.Context, st *state, raw any) (any, string, *Error, error) {
	c := fr.contextObject(st, "")
	switch st.typ {
	case "Pass":
		eff, serr := st.inputPath.apply("InputPath", raw, c)
		if serr != nil {
			return nil, "", serr, nil
		}
		if st.parameters != nil {
			if eff, serr = st.parameters.eval(eff, c); serr != nil {
				return nil, "", serr, nil
			}
		}
		if st.hasResult {
			eff = deepCopy(st.result)
		}
		out, serr := fr.output(st, raw, eff, c)
		return out, st.next, serr, nil
	case "Succeed":
		eff, serr := st.inputPath.apply("InputPath", raw, c)
		if serr != nil {
			return nil, "", serr, nil
		}
		out, serr := st.outputPath.apply("OutputPath", eff, c)
		return out, "", serr, nil
	case "Fail":
		return nil, "", &Error{Name: st.failError, Cause: st.failCause}, nil
	case "Choice":
		eff, serr := st.inputPath.apply("InputPath", raw, c)
		if serr != nil {
			return nil, "", serr, nil
		}
		next := st.deflt
		for _, rule := range st.choices {
			ok, serr := rule.eval(eff, c)
			if serr != nil {
				return nil, "", serr, nil
			}
			if ok {
				next = rule.next
				break
			}
		}
		if next == "" {
			return nil, "", &Error{Name: ErrNoChoiceMatched, Cause: "no choice rule matched and there is no Default"}, nil
		}
		out, serr := st.outputPath.apply("OutputPath", eff, c)
		return out, next, serr, nil
	case "Wait":
		return fr.wait(ctx, st, raw, c)
	case "Task":
		return fr.task(ctx, st, raw)
	case "Map":
		return fr.mapState(ctx, st, raw, c)
	}
	return nil, "", runtimeErr("state type %s is not implemented", st.typ), nil
}

// output applies ResultSelector (Task and Map), ResultPath and OutputPath
// to a state's result.
func (fr *frameRun) output(st *state, raw, result any, c map[string]any) (any, *Error) {
	var serr *Error
	if st.resultSelector != nil {
		if result, serr = st.resultSelector.eval(result, c); serr != nil {
			return nil, serr
		}
	}
	out, serr := st.resultPath.applyResult(raw, result)
	if serr != nil {
		return nil, serr
	}
	return st.outputPath.apply("OutputPath", out, c)
}

func (fr *frameRun) wait(ctx context.Context, st *state, raw any, c map[string]any) (any, string, *Error, error) {
	r := fr.ex.r
	eff, serr := st.inputPath.apply("InputPath", raw, c)
	if serr != nil {
		return nil, "", serr, nil
	}
	var d time.Duration
	if fr.f.Phase == phaseWait {
		d = fr.f.WaitUntil.Sub(r.now()) // resumed: what is left
	} else {
		now := r.now()
		var until time.Time
		switch {
		case st.waitSeconds != nil:
			until = now.Add(time.Duration(*st.waitSeconds) * time.Second)
		case st.waitTimestamp != nil:
			until = *st.waitTimestamp
		case st.waitSecondsPath != nil:
			v, ok := st.waitSecondsPath.get(eff, c)
			n, isNum := v.(json.Number)
			secs, err := n.Int64()
			if !ok || !isNum || err != nil || secs < 0 {
				return nil, "", runtimeErr("SecondsPath %s does not give a non-negative integer", st.waitSecondsPath.raw), nil
			}
			until = now.Add(time.Duration(secs) * time.Second)
		default:
			v, ok := st.waitTimestampPath.get(eff, c)
			s, isStr := v.(string)
			t, err := parseTimestamp(s)
			if !ok || !isStr || err != nil {
				return nil, "", runtimeErr("TimestampPath %s does not give an RFC 3339 timestamp", st.waitTimestampPath.raw), nil
			}
			until = t
		}
		// Persisting the end time makes a restart wait only what is
		// left.
		fr.f.Phase, fr.f.WaitUntil = phaseWait, until
		if err := fr.write(ctx, nil); err != nil {
			return nil, "", nil, err
		}
		d = until.Sub(now)
	}
	if err := r.sleep(ctx, d); err != nil {
		return nil, "", nil, err
	}
	out, serr := st.outputPath.apply("OutputPath", eff, c)
	return out, st.next, serr, nil
}

func newNonce() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		// crypto/rand does not fail on supported platforms.
		panic(fmt.Sprintf("asl: random: %v", err))
	}
	return hex.EncodeToString(b[:])
}

func (fr *frameRun) task(ctx context.Context, st *state, raw any) (any, string, *Error, error) {
	r := fr.ex.r
	wait := st.integration == lambdaInvokeWait
	if wait && fr.f.Token == "" {
		// The token exists before the func runs, so an answer that comes
		// before the func returns still finds it.
		nonce := newNonce()
		fr.f.Token = makeToken(fr.ex.name, nonce)
		if st.timeout > 0 {
			fr.f.Deadline = r.now().Add(st.timeout)
		}
		data, _ := json.Marshal(tokenRecord{Frame: fr.sk, Status: tokenWaiting})
		tok := store.Op{Kind: store.OpPut, Item: store.Item{PK: fr.ex.pk, SK: skTokenPrefix + nonce, Data: data}, Cond: store.Cond{IfAbsent: true}}
		if err := fr.write(ctx, nil, tok); err != nil {
			return nil, "", nil, err
		}
	}
	c := fr.contextObject(st, fr.f.Token)
	eff, serr := st.inputPath.apply("InputPath", raw, c)
	if serr != nil {
		return nil, "", serr, nil
	}
	in := eff
	if st.parameters != nil {
		if in, serr = st.parameters.eval(eff, c); serr != nil {
			return nil, "", serr, nil
		}
	}
	if st.integration != plainTask {
		p, _ := in.(map[string]any)
		payload, ok := p["Payload"]
		if !ok {
			payload = map[string]any{}
		}
		in = payload
	}
	enc := mustEncode(in)
	if len(enc) > maxPayloadBytes {
		return nil, "", &Error{Name: ErrDataLimitExceeded, Cause: fmt.Sprintf("the task input is %d bytes, more than the %d allowed", len(enc), maxPayloadBytes)}, nil
	}
	var result any
	switch {
	case wait:
		result, serr, err := fr.invokeWait(ctx, st, enc)
		if err != nil || serr != nil {
			return nil, "", serr, err
		}
		out, serr := fr.output(st, raw, result, c)
		return out, st.next, serr, nil
	default:
		var timeout <-chan time.Time
		if st.timeout > 0 {
			timeout = r.after(st.timeout)
		}
		res, serr, err := fr.invoke(ctx, st, enc, "", timeout)
		if err != nil || serr != nil {
			return nil, "", serr, err
		}
		result = res
		if st.integration == lambdaInvoke {
			result = map[string]any{"Payload": res, "StatusCode": number(200)}
		}
	}
	out, serr := fr.output(st, raw, result, c)
	return out, st.next, serr, nil
}

// invoke calls the state's TaskFunc. It returns at a timeout without
// waiting for the func, whose context it cancels.
func (fr *frameRun) invoke(ctx context.Context, st *state, in json.RawMessage, token string, timeout <-chan time.Time) (any, *Error, error) {
	r := fr.ex.r
	fn := r.tasks[st.target]
	callCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	type result struct {
		out json.RawMessage
		err error
	}
	done := make(chan result, 1)
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		defer func() {
			if p := recover(); p != nil {
				done <- result{err: fmt.Errorf("task %s panicked: %v", st.target, p)}
			}
		}()
		out, err := fn(callCtx, in, token)
		done <- result{out, err}
	}()
	select {
	case res := <-done:
		if ctx.Err() != nil {
			return nil, nil, ctx.Err()
		}
		if res.err != nil {
			return nil, asStateError(res.err), nil
		}
		if len(res.out) == 0 {
			return nil, nil, nil
		}
		v, err := decodeJSON(res.out)
		if err != nil {
			return nil, &Error{Name: ErrTaskFailed, Cause: fmt.Sprintf("the task returned invalid JSON: %v", err)}, nil
		}
		return v, nil, nil
	case <-timeout:
		return nil, &Error{Name: ErrTimeout, Cause: errCauseTaskTimedOut}, nil
	case <-ctx.Done():
		return nil, nil, ctx.Err()
	}
}

// invokeWait runs a .waitForTaskToken task: the func (unless it already
// returned before a restart), then the wait for the token's answer.
func (fr *frameRun) invokeWait(ctx context.Context, st *state, in json.RawMessage) (any, *Error, error) {
	r := fr.ex.r
	var timeout <-chan time.Time
	if !fr.f.Deadline.IsZero() {
		timeout = r.after(max(fr.f.Deadline.Sub(r.now()), 0))
	}
	if fr.f.Phase != phaseSubmitted {
		if _, serr, err := fr.invoke(ctx, st, in, fr.f.Token, timeout); err != nil || serr != nil {
			return nil, serr, err
		}
		fr.f.Phase = phaseSubmitted
		if err := fr.write(ctx, []Event{{Type: EventTaskSubmitted, State: st.name}}); err != nil {
			return nil, nil, err
		}
	}
	tok := fr.f.Token
	_, nonce, _ := parseToken(tok)
	for {
		answered := r.watch(tok)
		it, err := r.st.Get(ctx, fr.ex.pk, skTokenPrefix+nonce)
		if err != nil {
			r.unwatch(tok)
			if ctx.Err() != nil {
				return nil, nil, ctx.Err()
			}
			return nil, nil, fmt.Errorf("asl: read task token: %w", err)
		}
		var rec tokenRecord
		if err := json.Unmarshal(it.Data, &rec); err != nil {
			r.unwatch(tok)
			return nil, nil, fmt.Errorf("asl: decode task token: %w", err)
		}
		switch rec.Status {
		case tokenSucceeded:
			r.unwatch(tok)
			v, err := decodeJSON(rec.Output)
			if err != nil {
				return nil, nil, fmt.Errorf("asl: decode task answer: %w", err)
			}
			return v, nil, nil
		case tokenFailed:
			r.unwatch(tok)
			return nil, &Error{Name: rec.Error, Cause: rec.Cause}, nil
		}
		select {
		case <-answered:
		case <-timeout:
			r.unwatch(tok)
			return nil, &Error{Name: ErrTimeout, Cause: errCauseTaskTimedOut}, nil
		case <-ctx.Done():
			r.unwatch(tok)
			return nil, nil, ctx.Err()
		}
	}
}

// mapID names one attempt of a Map state: the sequence number of the
// frame's last event before it, which the write entering the Map (or
// retrying it) set and which no other write shares.
func (fr *frameRun) mapID() int64 { return fr.f.LastSeq }

func (fr *frameRun) mapState(ctx context.Context, st *state, raw any, c map[string]any) (any, string, *Error, error) {
	ex, r := fr.ex, fr.ex.r
	eff, serr := st.inputPath.apply("InputPath", raw, c)
	if serr != nil {
		return nil, "", serr, nil
	}
	itemsV := eff
	if st.itemsPath.set {
		v, ok := st.itemsPath.p.get(eff, c)
		if !ok {
			return nil, "", runtimeErr("ItemsPath %s has no value in the state's input", st.itemsPath.p.raw), nil
		}
		itemsV = v
	}
	items, ok := itemsV.([]any)
	if !ok {
		return nil, "", runtimeErr("the Map's items (ItemsPath) must be an array, not a %s", typeName(itemsV)), nil
	}
	inputs := make([]json.RawMessage, len(items))
	for i, v := range items {
		in := v
		if st.itemSelector != nil {
			ic := fr.contextObject(st, "")
			ic["Map"] = map[string]any{"Item": map[string]any{"Index": number(int64(i)), "Value": v}}
			var serr *Error
			if in, serr = st.itemSelector.eval(eff, ic); serr != nil {
				return nil, "", serr, nil
			}
		}
		inputs[i] = mustEncode(in)
		if len(inputs[i]) > maxPayloadBytes {
			return nil, "", &Error{Name: ErrDataLimitExceeded, Cause: fmt.Sprintf("Map item %d's input is %d bytes, more than the %d allowed", i, len(inputs[i]), maxPayloadBytes)}, nil
		}
	}

	if len(fr.pending) > 0 {
		// A new Map item whose first state is this Map: write the item
		// first, so the Map attempt gets an id of its own (see mapID).
		if err := fr.write(ctx, nil); err != nil {
			return nil, "", nil, err
		}
	}
	id := fr.mapID()
	existing := map[string]store.Item{}
	res, err := r.st.Query(ctx, store.Query{PK: ex.pk, SKPrefix: mapPrefix(id)})
	if err != nil {
		return nil, "", nil, fmt.Errorf("asl: read Map items: %w", err)
	}
	for _, it := range res.Items {
		existing[it.SK] = it
	}

	results := make([]any, len(items))
	mctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		mu       sync.Mutex
		firstErr *Error
		infraErr error
		wg       sync.WaitGroup
	)
	limit := st.maxConcurrency
	if limit == 0 {
		limit = len(items)
	}
	slots := make(chan struct{}, max(limit, 1))
	// The first outcome that ends the Map decides; the cancellations it
	// causes in the other items are not errors of their own.
	failed := func(serr *Error, err error) {
		mu.Lock()
		defer mu.Unlock()
		switch {
		case firstErr != nil || infraErr != nil:
		case serr != nil:
			firstErr = serr
		default:
			infraErr = err
		}
		cancel()
	}
launch:
	for i := range items {
		sk := itemSK(id, i)
		child := &frameRun{ex: ex, g: st.processor, sk: sk}
		if it, ok := existing[sk]; ok {
			if err := json.Unmarshal(it.Data, &child.f); err != nil {
				return nil, "", nil, fmt.Errorf("asl: decode Map item %s: %w", sk, err)
			}
			child.ver = it.Version
			switch child.f.Status {
			case StatusSucceeded:
				v, err := decodeJSON(child.f.Output)
				if err != nil {
					return nil, "", nil, fmt.Errorf("asl: decode Map item %s output: %w", sk, err)
				}
				results[i] = v
				continue
			case StatusFailed:
				failed(&Error{Name: child.f.Error, Cause: child.f.Cause}, nil)
				break launch
			}
		}
		select {
		case slots <- struct{}{}:
		case <-mctx.Done():
			break launch
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-slots }()
			if child.ver == 0 {
				// The item's record is written with its first step rather
				// than before it: until then a restart starts the item
				// over, which re-runs nothing that ran to completion (a
				// Task is invoked again either way), and a Map of plain
				// Tasks costs one write per item instead of two.
				now := r.now()
				child.f = frame{
					Map:    st.name,
					Index:  append(append([]int{}, fr.f.Index...), i),
					Status: StatusRunning, State: st.processor.startAt, Input: inputs[i], Entered: now,
				}
				child.pending = []Event{
					{Type: EventMapIterationStarted, State: st.name, Time: now},
					{Type: EventStateEntered, State: st.processor.startAt, Time: now},
				}
			}
			out, serr, err := child.run(mctx)
			if err != nil || serr != nil {
				failed(serr, err)
				return
			}
			mu.Lock()
			results[i] = out
			mu.Unlock()
		}()
	}
	wg.Wait()
	if ctx.Err() != nil {
		return nil, "", nil, ctx.Err()
	}
	if infraErr != nil {
		return nil, "", nil, infraErr
	}
	if firstErr != nil {
		// An item's failure is the Map's, under the item's error name.
		return nil, "", firstErr, nil
	}
	out, serr := fr.output(st, raw, results, c)
	return out, st.next, serr, nil
}
