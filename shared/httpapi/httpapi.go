// Package httpapi holds the API's HTTP conventions in one place: the route
// type that drives both the local server and the AWS deployment, error
// rendering (the only errs-code → status mapping), JSON bodies, pagination
// and absolute URLs. Handlers are plain net/http plus an error return, so the
// same code runs behind the local server and behind API Gateway.
package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"unicode/utf8"

	"github.com/openrescale/platform/shared/errs"
	"github.com/openrescale/platform/shared/ids"
)

// HandlerFunc is an API handler; a returned error is rendered by Error.
type HandlerFunc func(w http.ResponseWriter, r *http.Request) error

// Permission is an AWS capability a route's function needs; infra grants
// exactly these to the route's Lambda function.
type Permission string

const (
	TableRead              Permission = "table:read"
	TableWrite             Permission = "table:write"
	BucketRead             Permission = "bucket:read"
	BucketWrite            Permission = "bucket:write"
	StartExecution         Permission = "states:start"
	StopExecution          Permission = "states:stop"
	IssueUploadCredentials Permission = "sts:assume-upload-role"
	// ComputeControl is what ending runs needs in AWS: Batch TerminateJob
	// and DescribeJobs on the platform's job queues (the stop routes).
	ComputeControl Permission = "compute:control"
	// ComputeRead is what reading a running run's live files needs in AWS:
	// Batch DescribeJobs, to find the run's current attempt (the live
	// file routes).
	ComputeRead Permission = "compute:read"
)

// AnyMethod as a Route's Method matches every method (API Gateway's ANY).
// More specific routes win over it, in ServeMux and in API Gateway alike,
// which resolves a request on the resource and method together and falls
// back to a greedy {proxy+} ANY resource for a method a more specific
// resource lacks.
const AnyMethod = "ANY"

// Route is one entry of the route table.
type Route struct {
	// Name identifies the route; it names the Lambda function in AWS and
	// selects the handler in the shared Lambda binary.
	Name string
	// Method and Path use net/http ServeMux syntax; Path ends with "/" as
	// the spec's paths do and may hold {name} and a final {name...}.
	// Method may be AnyMethod.
	Method string
	Path   string
	// Public routes skip authentication (health checks only).
	Public bool
	// Needs lists what the handler touches.
	Needs   []Permission
	Handler HandlerFunc
}

// principalKey carries the authenticated caller in a request context.
type principalKey struct{}

// Principal is the authenticated caller.
type Principal struct {
	UserID string
	Email  string
	KeyID  string
	// JobID is the job the key was made for ("" for a user's own keys)
	// when JobKnown: the authenticator read it with the key, so storage
	// credentials for a job's key are narrowed without listing the user's
	// keys again. A principal from an authorizer context cached before the
	// authorizer passed jobId on has JobKnown false.
	JobID    string
	JobKnown bool
}

// WithPrincipal returns ctx carrying p.
func WithPrincipal(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// Caller returns the authenticated caller. Handlers behind authentication
// always have one; a missing one is a wiring bug and answers 401.
func Caller(r *http.Request) (Principal, error) {
	p, ok := CallerOf(r.Context())
	if !ok {
		return Principal{}, errs.E(errs.Unauthenticated, "Authentication credentials were not provided.")
	}
	return p, nil
}

// CallerOf returns the authenticated caller ctx carries, for code below
// the handlers that is passed the request's context.
func CallerOf(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(Principal)
	return p, ok && p.UserID != ""
}

// Status maps an error code to its HTTP status: the one place this happens.
func Status(code string) int {
	switch code {
	case errs.Invalid:
		return http.StatusBadRequest
	case errs.Unauthenticated:
		return http.StatusUnauthorized
	case errs.Forbidden:
		return http.StatusForbidden
	case errs.NotFound:
		return http.StatusNotFound
	case errs.MethodNotAllowed:
		return http.StatusMethodNotAllowed
	case errs.Conflict:
		return http.StatusConflict
	case errs.TooLarge:
		return http.StatusRequestEntityTooLarge
	case errs.Unsupported:
		return http.StatusUnsupportedMediaType
	case errs.RateLimited:
		return http.StatusTooManyRequests
	case errs.Unavailable:
		return http.StatusServiceUnavailable
	default:
		return http.StatusInternalServerError
	}
}

// ErrorBody is the JSON shape of every error: {"detail": "..."} as the spec's
// Django REST Framework service renders it, plus "field" naming the bad
// input on 400s.
type ErrorBody struct {
	Detail string `json:"detail"`
	Field  string `json:"field,omitempty"`
}

// Error renders err. Internal errors are logged with their cause and shown
// to the client only as "internal error".
func Error(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		err = errs.E(errs.TooLarge, "request body exceeds %d bytes", mbe.Limit)
	}
	code := errs.Code(err)
	body := ErrorBody{Detail: "internal error"}
	if e, ok := errs.As(err); ok && code != errs.Internal {
		body.Detail, body.Field = e.Message, e.Field
		if body.Field != "" && body.Detail == "" {
			body.Detail = body.Field + ": invalid value"
		}
		if e.RetryAfter > 0 {
			w.Header().Set("Retry-After", strconv.Itoa(e.RetryAfter))
		}
	}
	body.Detail = clipDetail(body.Detail)
	status := Status(code)
	if status >= 500 && log != nil {
		log.ErrorContext(r.Context(), "request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Token`)
	}
	WriteJSON(w, status, body)
}

// MaxDetail bounds an error's detail, whatever a message quotes of the
// request (values should be quoted with errs.Clip in the first place).
const MaxDetail = 1024

func clipDetail(s string) string {
	if len(s) <= MaxDetail {
		return s
	}
	i := MaxDetail
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i] + "…"
}

// WriteJSON renders v with status.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v) // the status is sent; a broken connection is the client's
}

// NoContent answers 204.
func NoContent(w http.ResponseWriter) {
	w.WriteHeader(http.StatusNoContent)
}

// PathID returns the path parameter name as a record id. Anything that is
// not an id shape is "Not found." before any store access, as a missing
// record would be.
func PathID(r *http.Request, name string) (string, error) {
	id := r.PathValue(name)
	if !ids.Valid(id) {
		return "", errs.E(errs.NotFound, "Not found.")
	}
	return id, nil
}
