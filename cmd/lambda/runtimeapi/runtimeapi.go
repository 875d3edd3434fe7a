// Package runtimeapi serves the Lambda Runtime API (2018-06-01) on
// loopback, as the Lambda service does for a function's process: the
// bootstrap polls GET …/invocation/next and posts …/response or …/error.
// It exists so the cold-start benchmark (bench/coldstart) and cmd/lambda's
// tests run the real binary and the real aws-lambda-go invoke loop, and see
// exactly what Lambda would receive (the errorType Step Functions matches).
//
// One Server is one function instance: start it, start the process with
// AWS_LAMBDA_RUNTIME_API=Server.Addr(), wait for Ready, then Invoke.
package runtimeapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

const prefix = "/2018-06-01/runtime/"

// Result is what the function answered to one invocation.
type Result struct {
	// Delivered is when the event was handed to the function (its next
	// request answered); Done is when its response or error arrived.
	Delivered, Done time.Time
	// Payload is the response body; nil when the function failed.
	Payload []byte
	// Error is the function's error, nil on success.
	Error *FunctionError
}

// FunctionError is the body of …/error (and …/init/error) as aws-lambda-go
// posts it; Lambda reports Type as the invocation's errorType.
type FunctionError struct {
	Type    string `json:"errorType"`
	Message string `json:"errorMessage"`
}

func (e *FunctionError) Error() string { return e.Type + ": " + e.Message }

type invocation struct {
	id      string
	payload []byte
	result  chan Result
	sent    time.Time
}

// Server is one function instance's Runtime API.
type Server struct {
	ln      net.Listener
	srv     *http.Server
	pending chan *invocation

	mu       sync.Mutex
	inflight map[string]*invocation
	seq      int

	readyOnce sync.Once
	ready     chan struct{} // closed at the first next or init error
	readyAt   time.Time
	initErr   *FunctionError
	closed    chan struct{}
}

// Start serves a Runtime API on a free loopback port.
func Start() (*Server, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("runtimeapi: listen: %w", err)
	}
	s := &Server{ln: ln, pending: make(chan *invocation), inflight: map[string]*invocation{},
		ready: make(chan struct{}), closed: make(chan struct{})}
	s.srv = &http.Server{Handler: http.HandlerFunc(s.serve), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = s.srv.Serve(ln) }()
	return s, nil
}

// Addr is the value of AWS_LAMBDA_RUNTIME_API.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Close stops the server; a function still polling gets an error.
func (s *Server) Close() error {
	select {
	case <-s.closed:
	default:
		close(s.closed)
	}
	return s.srv.Close()
}

// Ready waits until the function first asks for an invocation, which ends
// its init phase as Lambda counts it, and returns when that was. A
// function that reported an init error returns it.
func (s *Server) Ready(ctx context.Context) (time.Time, error) {
	select {
	case <-s.ready:
	case <-ctx.Done():
		return time.Time{}, ctx.Err()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.initErr != nil {
		return time.Time{}, s.initErr
	}
	return s.readyAt, nil
}

// Invoke hands payload to the function and waits for its answer.
func (s *Server) Invoke(ctx context.Context, payload []byte) (Result, error) {
	s.mu.Lock()
	s.seq++
	inv := &invocation{id: "req-" + strconv.Itoa(s.seq), payload: payload, result: make(chan Result, 1)}
	s.mu.Unlock()
	select {
	case s.pending <- inv:
	case <-ctx.Done():
		return Result{}, fmt.Errorf("runtimeapi: the function never asked for the invocation: %w", ctx.Err())
	}
	select {
	case r := <-inv.result:
		return r, nil
	case <-ctx.Done():
		return Result{}, fmt.Errorf("runtimeapi: no answer to %s: %w", inv.id, ctx.Err())
	}
}

func (s *Server) markReady(initErr *FunctionError) {
	s.readyOnce.Do(func() {
		s.mu.Lock()
		s.readyAt, s.initErr = time.Now(), initErr
		s.mu.Unlock()
		close(s.ready)
	})
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	rest, ok := strings.CutPrefix(r.URL.Path, prefix)
	switch {
	case !ok:
		http.NotFound(w, r)
	case rest == "invocation/next" && r.Method == http.MethodGet:
		s.next(w, r)
	case rest == "init/error" && r.Method == http.MethodPost:
		var fe FunctionError
		_ = json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&fe)
		s.markReady(&fe)
		w.WriteHeader(http.StatusAccepted)
	case strings.HasPrefix(rest, "invocation/") && r.Method == http.MethodPost:
		id, kind, _ := strings.Cut(strings.TrimPrefix(rest, "invocation/"), "/")
		s.answer(w, r, id, kind)
	default:
		http.NotFound(w, r)
	}
}

func (s *Server) next(w http.ResponseWriter, r *http.Request) {
	s.markReady(nil)
	var inv *invocation
	select {
	case inv = <-s.pending:
	case <-r.Context().Done():
		return
	case <-s.closed:
		http.Error(w, "closed", http.StatusGone)
		return
	}
	s.mu.Lock()
	inv.sent = time.Now()
	s.inflight[inv.id] = inv
	s.mu.Unlock()
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Lambda-Runtime-Aws-Request-Id", inv.id)
	h.Set("Lambda-Runtime-Deadline-Ms", strconv.FormatInt(time.Now().Add(15*time.Minute).UnixMilli(), 10))
	h.Set("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:us-east-1:123456789012:function:local")
	h.Set("Lambda-Runtime-Trace-Id", "Root=1-00000000-000000000000000000000000")
	_, _ = w.Write(inv.payload)
}

func (s *Server) answer(w http.ResponseWriter, r *http.Request, id, kind string) {
	s.mu.Lock()
	inv := s.inflight[id]
	delete(s.inflight, id)
	s.mu.Unlock()
	if inv == nil || (kind != "response" && kind != "error") {
		http.Error(w, "unknown invocation", http.StatusBadRequest)
		return
	}
	body, err := io.ReadAll(r.Body)
	done := time.Now()
	res := Result{Delivered: inv.sent, Done: done}
	switch {
	case err != nil:
		res.Error = &FunctionError{Type: "runtimeapi.ReadError", Message: err.Error()}
	case kind == "error":
		var fe FunctionError
		if err := json.Unmarshal(body, &fe); err != nil {
			fe = FunctionError{Type: "runtimeapi.BadErrorBody", Message: errors.Join(err, errors.New(string(body))).Error()}
		}
		res.Error = &fe
	default:
		res.Payload = body
	}
	inv.result <- res
	w.WriteHeader(http.StatusAccepted)
}
