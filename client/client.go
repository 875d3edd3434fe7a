// Package client calls the Rescale REST API (v2) over HTTP, with the public
// routes only, so it works the same against `rescale-local serve` and a
// deployed stack. It holds the calls the `rescale` command needs: files,
// resumable multipart uploads (this platform's /api/v2/uploads/
// extension), ranged and parallel downloads, jobs, statuses, runs and live
// log tails.
//
// Objects the API returns keep their raw JSON (Raw), and marshal back to
// it, so a caller printing them for scripts prints exactly what the server
// sent.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"golang.org/x/time/rate"
)

// Client is a connection to one API with one key.
type Client struct {
	base *url.URL // scheme://host[/prefix], without /api/v2
	key  string
	// HTTP sends the requests (http.DefaultClient when nil). Redirects
	// are followed; Go drops the Authorization header when one leads to
	// another host (a presigned S3 URL needs none).
	HTTP *http.Client
	// UserAgent is sent with every request.
	UserAgent string
	// Limit, when set, caps the bytes per second of uploaded and
	// downloaded file contents (not of API calls).
	Limit *rate.Limiter
	// Retries is how often a request that may be repeated is retried
	// after a network error, 429, 502, 503 or 504 (default 3).
	Retries int
	// sleep waits between retries (tests shorten it).
	sleep func(ctx context.Context, d time.Duration) error
}

// New returns a client of the API at baseURL (`https://host`, or with
// the `/api/v2/` suffix that jobs get in RESCALE_API_URL) with the key.
func New(baseURL, key string) (*Client, error) {
	u, err := url.Parse(strings.TrimSpace(baseURL))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("API URL %q is not an http(s) URL", baseURL)
	}
	p := strings.TrimRight(u.Path, "/")
	for _, suffix := range []string{"/api/v2", "/api"} {
		p = strings.TrimSuffix(p, suffix)
	}
	u.Path, u.RawQuery, u.Fragment = p, "", ""
	return &Client{base: u, key: key, UserAgent: "rescale-cli", Retries: 3, sleep: sleepCtx}, nil
}

// BaseURL is the API's base, without /api/v2.
func (c *Client) BaseURL() string { return c.base.String() }

// URL makes an absolute URL of an API path (`/api/v2/...`).
func (c *Client) URL(path string, q url.Values) string {
	u := *c.base
	u.Path = c.base.Path + path
	if len(q) > 0 {
		u.RawQuery = q.Encode()
	}
	return u.String()
}

func (c *Client) http() *http.Client {
	if c.HTTP != nil {
		return c.HTTP
	}
	return http.DefaultClient
}

// Error is an answer of the API that is not a success: the status and the
// `detail` (and `field`, on 400s) of its JSON body.
type Error struct {
	Method string
	URL    string
	Status int
	Detail string
	Field  string
}

func (e *Error) Error() string {
	msg := e.Detail
	if msg == "" {
		msg = http.StatusText(e.Status)
	}
	if e.Field != "" && !strings.Contains(msg, e.Field) {
		msg = e.Field + ": " + msg
	}
	path := e.URL
	if u, err := url.Parse(e.URL); err == nil {
		path = u.Path
	}
	return fmt.Sprintf("%s (%d %s %s)", msg, e.Status, e.Method, path)
}

// IsStatus reports whether err is an API error with the status.
func IsStatus(err error, status int) bool {
	var e *Error
	return errors.As(err, &e) && e.Status == status
}

// readError turns a failed response into an *Error.
func readError(req *http.Request, resp *http.Response) error {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	e := &Error{Method: req.Method, URL: req.URL.String(), Status: resp.StatusCode}
	var body struct {
		Detail any    `json:"detail"`
		Field  string `json:"field"`
	}
	if json.Unmarshal(b, &body) == nil && body.Detail != nil {
		if s, ok := body.Detail.(string); ok {
			e.Detail = s
		} else {
			d, _ := json.Marshal(body.Detail)
			e.Detail = string(d)
		}
		e.Field = body.Field
	} else if s := strings.TrimSpace(string(b)); s != "" && len(s) < 300 && !strings.HasPrefix(s, "<") {
		e.Detail = s
	}
	return e
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// retryable reports whether a response (or error) is worth another try
// and how long to wait first. Only 429 says the server did nothing, so
// others are retried only for requests that may be repeated.
func retryable(resp *http.Response, err error, idempotent bool, attempt int) (time.Duration, bool) {
	wait := time.Duration(250<<attempt) * time.Millisecond
	if err != nil {
		return wait, idempotent && !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded)
	}
	if s := resp.Header.Get("Retry-After"); s != "" {
		if n, err := strconv.Atoi(s); err == nil && n >= 0 && n <= 60 {
			wait = time.Duration(n) * time.Second
		}
	}
	switch resp.StatusCode {
	case http.StatusTooManyRequests:
		return wait, true
	case http.StatusBadGateway, http.StatusGatewayTimeout:
		return wait, idempotent
	case http.StatusServiceUnavailable:
		// A deployment without a feature answers 503 for good; only a
		// 503 with Retry-After is a passing one.
		return wait, idempotent && resp.Header.Get("Retry-After") != ""
	}
	return 0, false
}

// send runs a request built by mk (called again for each retry), with the
// API key, and returns a response with a 2xx status, or an *Error.
func (c *Client) send(ctx context.Context, mk func() (*http.Request, error), auth bool) (*http.Response, error) {
	for attempt := 0; ; attempt++ {
		req, err := mk()
		if err != nil {
			return nil, err
		}
		req = req.WithContext(ctx)
		if auth {
			req.Header.Set("Authorization", "Token "+c.key)
		}
		if c.UserAgent != "" {
			req.Header.Set("User-Agent", c.UserAgent)
		}
		idempotent := req.Method == http.MethodGet || req.Method == http.MethodHead || req.Method == http.MethodPut || req.Method == http.MethodDelete
		resp, err := c.http().Do(req)
		if err == nil && resp.StatusCode < 300 {
			return resp, nil
		}
		if wait, ok := retryable(resp, err, idempotent, attempt); ok && attempt < c.Retries {
			if resp != nil {
				io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
				resp.Body.Close()
			}
			if err := c.sleep(ctx, wait); err != nil {
				return nil, err
			}
			continue
		}
		if err != nil {
			var ue *url.Error
			if errors.As(err, &ue) {
				err = ue.Err
			}
			return nil, fmt.Errorf("%s %s: %w", req.Method, req.URL.Redacted(), err)
		}
		defer resp.Body.Close()
		return nil, readError(req, resp)
	}
}

// call sends a JSON request (body nil: none) to an API path and decodes
// the JSON answer into out (nil: discarded).
func (c *Client) call(ctx context.Context, method, path string, q url.Values, body, out any) error {
	var data []byte
	if body != nil {
		var err error
		if data, err = json.Marshal(body); err != nil {
			return fmt.Errorf("encode request: %w", err)
		}
	}
	target := path
	if !strings.HasPrefix(path, "http://") && !strings.HasPrefix(path, "https://") {
		target = c.URL(path, q)
	}
	resp, err := c.send(ctx, func() (*http.Request, error) {
		var r io.Reader
		if data != nil {
			r = bytes.NewReader(data)
		}
		req, err := http.NewRequest(method, target, r)
		if err != nil {
			return nil, err
		}
		req.Header.Set("Accept", "application/json")
		if data != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		return req, nil
	}, true)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if out == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("%s %s: decode answer: %w", method, path, err)
	}
	return nil
}

// page is the API's list envelope.
type page[T any] struct {
	Count   int     `json:"count"`
	Next    *string `json:"next"`
	Results []T     `json:"results"`
}

// pageSize is what lists ask for; the server caps page_size (5000 here).
const pageSize = 1000

// list reads up to limit items (0: all) of a paged list.
func list[T any](ctx context.Context, c *Client, path string, q url.Values, limit int) ([]T, int, error) {
	if q == nil {
		q = url.Values{}
	}
	size := pageSize
	if limit > 0 && limit < size {
		size = limit
	}
	q.Set("page_size", strconv.Itoa(size))
	var out []T
	for n := 1; ; n++ {
		q.Set("page", strconv.Itoa(n))
		var p page[T]
		if err := c.call(ctx, http.MethodGet, path, q, nil, &p); err != nil {
			return nil, 0, err
		}
		out = append(out, p.Results...)
		if limit > 0 && len(out) >= limit {
			return out[:limit], p.Count, nil
		}
		if p.Next == nil || len(p.Results) == 0 {
			return out, p.Count, nil
		}
	}
}

// keep copies an object's JSON as the server sent it.
func keep(b []byte) json.RawMessage { return append(json.RawMessage(nil), b...) }
