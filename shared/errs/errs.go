// Package errs defines the error codes every layer speaks, so that a store
// adapter's "not found" and a handler's "not found" mean the same thing and
// map to one HTTP status in one place (httpapi).
package errs

import (
	"errors"
	"fmt"
	"unicode/utf8"
)

// Codes. Each names a class of failure a client can act on.
const (
	Invalid          = "invalid"            // 400: bad input; Field names it
	Unauthenticated  = "unauthenticated"    // 401
	Forbidden        = "forbidden"          // 403
	NotFound         = "not_found"          // 404 (also: another tenant's object)
	MethodNotAllowed = "method_not_allowed" // 405
	Conflict         = "conflict"           // 409: uniqueness or version mismatch
	TooLarge         = "too_large"          // 413
	Unsupported      = "unsupported"        // 415
	RateLimited      = "rate_limited"       // 429
	Unavailable      = "unavailable"        // 503
	Internal         = "internal"           // 500: never shown in detail
)

// Error is an application error with a code, an optional field and a message
// meant for the client.
type Error struct {
	Code    string
	Field   string
	Message string
	// RetryAfter is seconds to wait, for RateLimited.
	RetryAfter int
	Err        error
}

func (e *Error) Error() string {
	msg := e.Message
	if e.Field != "" && msg == "" {
		msg = e.Field
	}
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, msg, e.Err)
	}
	return fmt.Sprintf("%s: %s", e.Code, msg)
}

func (e *Error) Unwrap() error { return e.Err }

// E builds an error with a code and a formatted message.
func E(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Field builds an Invalid error naming the offending field.
func Field(field, format string, args ...any) *Error {
	return &Error{Code: Invalid, Field: field, Message: fmt.Sprintf(format, args...)}
}

// Wrap attaches a code to an underlying error.
func Wrap(code string, err error, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...), Err: err}
}

// Code returns the code of the first *Error in err's chain, Internal for any
// other non-nil error and "" for nil.
func Code(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return Internal
}

// Is reports whether err carries the code.
func Is(err error, code string) bool { return err != nil && Code(err) == code }

// As returns the first *Error in err's chain.
func As(err error) (*Error, bool) {
	var e *Error
	ok := errors.As(err, &e)
	return e, ok
}

// ClipLen is how much of a client's value a message quotes.
const ClipLen = 64

// Clip shortens a client's value for quoting in a message, so that a huge
// input (a megabyte path) is never echoed back whole: at most ClipLen bytes,
// cut on a UTF-8 boundary, then "…".
func Clip(s string) string {
	if len(s) <= ClipLen {
		return s
	}
	i := ClipLen
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i] + "…"
}
