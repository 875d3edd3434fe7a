package asl

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/openrescale/platform/shared/errs"
	"github.com/openrescale/platform/shared/store"
)

// Persistence. One execution is one partition, EXEC#<name>:
//
//	META                  the execution (status, owner, result) and its
//	                      top-level frame; in GSI1 under EXECS#RUNNING
//	                      (sort key <machine>#<start>#<name>) while it runs,
//	                      so Resume can list what to continue
//	INPUT                 the execution input, apart so META stays small
//	FENCE                 a tiny item whose version changes whenever the
//	                      execution changes hands (Stop, timeout, Resume)
//	FRAME#<map>.<index>   one per Map item: its frame, then its result;
//	                      <map> identifies one attempt of one Map state
//	EV#<seq>              one per history event, in order
//	TOKEN#<nonce>         one per waiting .waitForTaskToken task: what
//	                      SendTaskSuccess/Failure answered
//
// Every write that moves a frame is one transaction: the frame (guarded by
// its version), its events, and for Map items a check of FENCE's version.
// Stop, a timeout or another runner's Resume rewrite META and FENCE, after
// which the driving runner's next write fails and it stops driving the
// execution. (The fence is apart from META so that a Map item's check
// does not read the Map's whole input, which META's frame holds.) No item grows with the execution: a Map of any
// size is one small item per Map item.
const (
	pkPrefix      = "EXEC#"
	skMeta        = "META"
	skInput       = "INPUT"
	skFence       = "FENCE"
	skFramePrefix = "FRAME#"
	skEventPrefix = "EV#"
	skTokenPrefix = "TOKEN#"
	gsiRunning    = "EXECS#RUNNING"
)

// Execution statuses, as DescribeExecution reports them.
const (
	StatusRunning   = "RUNNING"
	StatusSucceeded = "SUCCEEDED"
	StatusFailed    = "FAILED"
	StatusTimedOut  = "TIMED_OUT"
	StatusAborted   = "ABORTED"
)

// Event types in a History.
const (
	EventExecutionStarted      = "ExecutionStarted"
	EventExecutionSucceeded    = "ExecutionSucceeded"
	EventExecutionFailed       = "ExecutionFailed"
	EventExecutionTimedOut     = "ExecutionTimedOut"
	EventExecutionAborted      = "ExecutionAborted"
	EventStateEntered          = "StateEntered"
	EventStateExited           = "StateExited"
	EventStateFailed           = "StateFailed"
	EventStateRetried          = "StateRetried"
	EventStateCaught           = "StateCaught"
	EventTaskSubmitted         = "TaskSubmitted"
	EventMapIterationStarted   = "MapIterationStarted"
	EventMapIterationSucceeded = "MapIterationSucceeded"
	EventMapIterationFailed    = "MapIterationFailed"
)

// Execution is what Describe returns.
type Execution struct {
	Name      string
	Status    string
	Input     json.RawMessage
	Output    json.RawMessage // SUCCEEDED only
	Error     string
	Cause     string
	StartDate time.Time
	StopDate  time.Time // zero while RUNNING
}

// Event is one entry of an execution's history.
type Event struct {
	Seq   int64     `json:"seq"`
	Type  string    `json:"type"`
	Time  time.Time `json:"time"`
	State string    `json:"state,omitempty"`
	// Index is the Map item index path, outermost Map first; nil outside
	// Maps.
	Index []int  `json:"index,omitempty"`
	Error string `json:"error,omitempty"`
	Cause string `json:"cause,omitempty"`
	// Attempt counts a StateRetried's retries so far (1 for the first).
	Attempt int `json:"attempt,omitempty"`
}

type execRecord struct {
	Name      string          `json:"name"`
	Machine   string          `json:"machine"`
	Digest    string          `json:"digest"`
	Status    string          `json:"status"`
	Output    json.RawMessage `json:"output,omitempty"`
	Error     string          `json:"error,omitempty"`
	Cause     string          `json:"cause,omitempty"`
	StartDate time.Time       `json:"startDate"`
	StopDate  time.Time       `json:"stopDate,omitzero"`
	Owner     string          `json:"owner"`
	Frame     frame           `json:"frame"`
}

// frame is where one thread of an execution is: the top level, or one Map
// item. It holds what is needed to continue after a restart.
type frame struct {
	Map     string          `json:"map,omitempty"` // a Map item's Map state
	Index   []int           `json:"index,omitempty"`
	Status  string          `json:"status"`
	State   string          `json:"state,omitempty"`
	Input   json.RawMessage `json:"input,omitempty"` // the current state's raw input
	Entered time.Time       `json:"entered"`
	// Phase says how far the current state got: "" (start it), retry
	// (waiting until RetryAt before the next attempt), wait (a Wait state
	// sleeping until WaitUntil), submitted (a .waitForTaskToken task's
	// function returned; only the callback is awaited).
	Phase     string    `json:"phase,omitempty"`
	Attempts  []int     `json:"attempts,omitempty"` // per retrier
	RetryAt   time.Time `json:"retryAt,omitzero"`
	WaitUntil time.Time `json:"waitUntil,omitzero"`
	Token     string    `json:"token,omitempty"`
	Deadline  time.Time `json:"deadline,omitzero"` // of a waiting token task
	// LastSeq is the last event sequence number this frame wrote; it
	// also names the Map attempt a Map state runs (see mapID).
	LastSeq int64           `json:"lastSeq"`
	Output  json.RawMessage `json:"output,omitempty"` // a finished item's
	Error   string          `json:"error,omitempty"`
	Cause   string          `json:"cause,omitempty"`
}

const (
	phaseRetry     = "retry"
	phaseWait      = "wait"
	phaseSubmitted = "submitted"
)

type tokenRecord struct {
	Frame  string          `json:"frame"`
	Status string          `json:"status"` // waiting, succeeded, failed
	Output json.RawMessage `json:"output,omitempty"`
	Error  string          `json:"error,omitempty"`
	Cause  string          `json:"cause,omitempty"`
}

const (
	tokenWaiting   = "waiting"
	tokenSucceeded = "succeeded"
	tokenFailed    = "failed"
)

func execPK(name string) string { return pkPrefix + name }

func itemSK(mapID int64, index int) string {
	return fmt.Sprintf("%s%012d.%06d", skFramePrefix, mapID, index)
}

func mapPrefix(mapID int64) string { return fmt.Sprintf("%s%012d.", skFramePrefix, mapID) }

func eventSK(seq int64) string { return fmt.Sprintf("%s%012d", skEventPrefix, seq) }

func runningSK(machine string, start time.Time, name string) string {
	return machine + "#" + start.UTC().Format(time.RFC3339Nano) + "#" + name
}

// A task token names its execution, so SendTaskSuccess finds the record
// without an index: base64url(name) "." nonce.
func makeToken(name, nonce string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(name)) + "." + nonce
}

func parseToken(tok string) (name, nonce string, err error) {
	enc, nonce, ok := strings.Cut(tok, ".")
	b, err2 := base64.RawURLEncoding.DecodeString(enc)
	if !ok || err2 != nil || nonce == "" || len(b) == 0 {
		return "", "", errs.E(errs.NotFound, "unknown task token")
	}
	return string(b), nonce, nil
}

func (r *Runner) metaItem(rec *execRecord) (store.Item, error) {
	data, err := json.Marshal(rec)
	if err != nil {
		return store.Item{}, fmt.Errorf("asl: encode execution %s: %w", rec.Name, err)
	}
	it := store.Item{PK: execPK(rec.Name), SK: skMeta, Data: data}
	if rec.Status == StatusRunning {
		it.GSI1PK, it.GSI1SK = gsiRunning, runningSK(rec.Machine, rec.StartDate, rec.Name)
	}
	return it, nil
}

func (r *Runner) getMeta(ctx context.Context, name string) (execRecord, int64, error) {
	it, err := r.st.Get(ctx, execPK(name), skMeta)
	if err != nil {
		if errs.Is(err, errs.NotFound) {
			return execRecord{}, 0, errs.E(errs.NotFound, "no execution named %q", name)
		}
		return execRecord{}, 0, fmt.Errorf("asl: read execution %s: %w", name, err)
	}
	var rec execRecord
	if err := json.Unmarshal(it.Data, &rec); err != nil {
		return execRecord{}, 0, fmt.Errorf("asl: decode execution %s: %w", name, err)
	}
	return rec, it.Version, nil
}

func (r *Runner) fenceOp(name string, cond store.Cond) store.Op {
	return store.Op{Kind: store.OpPut, Item: store.Item{PK: execPK(name), SK: skFence, Data: []byte(`{"owner":"` + r.id + `"}`)}, Cond: cond}
}

func eventOps(pk string, evs []Event) ([]store.Op, error) {
	ops := make([]store.Op, 0, len(evs))
	for _, e := range evs {
		data, err := json.Marshal(e)
		if err != nil {
			return nil, fmt.Errorf("asl: encode event: %w", err)
		}
		ops = append(ops, store.Op{Kind: store.OpPut, Item: store.Item{PK: pk, SK: eventSK(e.Seq), Data: data}})
	}
	return ops, nil
}
