package client

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestNewNormalizesTheBaseURL(t *testing.T) {
	for in, want := range map[string]string{
		"http://127.0.0.1:8080":              "http://127.0.0.1:8080",
		"http://127.0.0.1:8080/":             "http://127.0.0.1:8080",
		"http://127.0.0.1:8080/api/v2/":      "http://127.0.0.1:8080", // RESCALE_API_URL inside a job
		"https://host/prefix/api/v2":         "https://host/prefix",
		" https://platform.rescale.com/api/": "https://platform.rescale.com",
	} {
		c, err := New(in, "k")
		if err != nil || c.BaseURL() != want {
			t.Errorf("New(%q) base %q, %v; want %q", in, c.BaseURL(), err, want)
		}
	}
	for _, bad := range []string{"", "127.0.0.1:8080", "ftp://host", "http://"} {
		if _, err := New(bad, "k"); err == nil {
			t.Errorf("New(%q) accepted", bad)
		}
	}
	c, _ := New("https://host/prefix/", "k")
	if got := c.URL("/api/v2/jobs/", nil); got != "https://host/prefix/api/v2/jobs/" {
		t.Errorf("URL = %q", got)
	}
}

// TestErrorsAndRetries: the API's detail and field make the error; 429
// is retried for any method, 502 only for idempotent ones.
func TestErrorsAndRetries(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := calls.Add(1)
		if r.Header.Get("Authorization") != "Token secret" {
			w.WriteHeader(401)
			w.Write([]byte(`{"detail": "Invalid token."}`))
			return
		}
		switch r.URL.Path {
		case "/api/v2/jobs/":
			if r.Method == "POST" && n == 1 {
				w.Header().Set("Retry-After", "0")
				w.WriteHeader(429)
				return
			}
			if r.Method == "POST" {
				w.WriteHeader(400)
				w.Write([]byte(`{"detail": "This field is required.", "field": "name"}`))
				return
			}
		case "/api/v2/jobs/flaky/":
			if n%2 == 1 {
				w.WriteHeader(502)
				return
			}
			w.Write([]byte(`{"id": "flaky", "name": "ok", "extra": [1, 2]}`))
			return
		case "/api/v2/jobs/flaky/submit/":
			w.WriteHeader(502)
			return
		}
		w.WriteHeader(404)
		w.Write([]byte(`{"detail": "Not found."}`))
	}))
	defer srv.Close()
	c, _ := New(srv.URL, "secret")
	c.sleep = func(context.Context, time.Duration) error { return nil }
	ctx := context.Background()

	_, err := c.CreateJob(ctx, []byte(`{}`))
	var e *Error
	if !errors.As(err, &e) || e.Status != 400 || e.Field != "name" || calls.Load() != 2 {
		t.Fatalf("create: %v (calls %d)", err, calls.Load())
	}
	if msg := err.Error(); !strings.Contains(msg, "name: This field is required.") || !strings.Contains(msg, "400 POST /api/v2/jobs/") {
		t.Fatalf("message %q", msg)
	}

	calls.Store(0)
	j, err := c.GetJob(ctx, "flaky")
	if err != nil || j.Name != "ok" || string(j.Raw) != `{"id": "flaky", "name": "ok", "extra": [1, 2]}` {
		t.Fatalf("GET after a 502: %+v %v", j, err)
	}
	calls.Store(0)
	if err := c.SubmitJob(ctx, "flaky"); !IsStatus(err, 502) || calls.Load() != 1 {
		t.Fatalf("POST was retried after a 502: %v, %d calls", err, calls.Load())
	}
	bad, _ := New(srv.URL, "wrong")
	if _, err := bad.GetJob(ctx, "x"); !IsStatus(err, 401) || !strings.Contains(err.Error(), "Invalid token.") {
		t.Fatalf("wrong key: %v", err)
	}
}
