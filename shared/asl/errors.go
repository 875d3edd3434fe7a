package asl

import (
	"context"
	"errors"
	"fmt"
	"unicode/utf8"
)

// Error names the interpreter raises itself (the States Language's
// predefined ones it implements).
const (
	ErrAll               = "States.ALL"
	ErrTaskFailed        = "States.TaskFailed"
	ErrTimeout           = "States.Timeout"
	ErrRuntime           = "States.Runtime"
	ErrNoChoiceMatched   = "States.NoChoiceMatched"
	ErrResultPathMatch   = "States.ResultPathMatchFailure"
	ErrDataLimitExceeded = "States.DataLimitExceeded"
)

const (
	maxCauseBytes           = 32 * 1024
	maxErrorNameBytes       = 256
	errCauseTimedOut        = "the execution ran longer than its TimeoutSeconds"
	errCauseTaskTimedOut    = "the task ran longer than its TimeoutSeconds"
	errCauseUnknownStateFmt = "state %q is not in the definition (it changed while the execution was running?)"
)

// Error is a named error as states see it: Retry and Catch match Name, and
// a Catch hands {"Error": Name, "Cause": Cause} to the next state. Steps
// return one (via Errorf) to fail with a name of their own; any other error
// a TaskFunc returns counts as States.TaskFailed with its message as Cause.
type Error struct {
	Name  string
	Cause string
}

func (e *Error) Error() string {
	if e.Cause == "" {
		return e.Name
	}
	return e.Name + ": " + e.Cause
}

// Errorf returns an *Error named name with a formatted cause.
func Errorf(name, format string, args ...any) error {
	return &Error{Name: name, Cause: fmt.Sprintf(format, args...)}
}

func runtimeErr(format string, args ...any) *Error {
	return &Error{Name: ErrRuntime, Cause: fmt.Sprintf(format, args...)}
}

// asStateError turns what a TaskFunc returned into the error states see.
func asStateError(err error) *Error {
	var e *Error
	if errors.As(err, &e) && e.Name != "" {
		return &Error{Name: clip(e.Name, maxErrorNameBytes), Cause: clip(e.Cause, maxCauseBytes)}
	}
	return &Error{Name: ErrTaskFailed, Cause: clip(err.Error(), maxCauseBytes)}
}

// clip bounds what goes into persisted records and histories: Step
// Functions truncates causes too, and an unbounded one could push a frame
// over the store's item limit.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

// terminal reports errors no Retry or Catch may handle: Step Functions
// documents that States.ALL does not catch States.Runtime or
// States.DataLimitExceeded, and that States.Runtime is never retried; it
// fails the execution.
func terminal(name string) bool {
	return name == ErrRuntime || name == ErrDataLimitExceeded
}

// matches reports whether an ErrorEquals list covers the error.
func matches(errorEquals []string, name string) bool {
	if terminal(name) {
		return false
	}
	for _, n := range errorEquals {
		switch {
		case n == name, n == ErrAll:
			return true
		case n == ErrTaskFailed && name != ErrTimeout:
			// States.TaskFailed is documented as a wildcard for every
			// error but States.Timeout.
			return true
		}
	}
	return false
}

// errLost means this runner no longer drives the execution: it was stopped,
// timed out, or another runner took it over (a conditional write failed).
// The driving goroutines unwind without writing.
var errLost = errors.New("asl: execution no longer driven by this runner")

// quiet reports infrastructure outcomes that end a driving goroutine
// without being a state error: cancellation (Close, Stop, a failed sibling
// Map item) and lost ownership.
func quiet(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, errLost)
}
