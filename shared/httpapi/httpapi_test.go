package httpapi

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/openrescale/platform/shared/errs"
)

type keyAuth map[string]Principal

func (a keyAuth) Authenticate(r *http.Request) (Principal, error) {
	p, ok := a[r.Header.Get("Authorization")]
	if !ok {
		return Principal{}, errs.E(errs.Unauthenticated, "Invalid token.")
	}
	return p, nil
}

type denyAfter struct{ n int }

func (d *denyAfter) Allow(string) (bool, time.Duration) {
	d.n--
	return d.n >= 0, 1500 * time.Millisecond
}

func testHandler(t *testing.T, lim Limiter) *Handler {
	t.Helper()
	items := []int{1, 2, 3, 4, 5}
	routes := []Route{
		{Name: "health", Method: "GET", Path: "/healthz", Public: true, Handler: func(w http.ResponseWriter, r *http.Request) error {
			WriteJSON(w, 200, map[string]string{"status": "ok"})
			return nil
		}},
		{Name: "list", Method: "GET", Path: "/api/v2/things/", Handler: func(w http.ResponseWriter, r *http.Request) error {
			return Paginate(w, r, BaseURL{}, items)
		}},
		{Name: "get", Method: "GET", Path: "/api/v2/things/{id}/", Handler: func(w http.ResponseWriter, r *http.Request) error {
			me, err := Caller(r)
			if err != nil {
				return err
			}
			if r.PathValue("id") != "abc" {
				return errs.E(errs.NotFound, "Not found.")
			}
			WriteJSON(w, 200, map[string]string{"id": "abc", "owner": me.Email})
			return nil
		}},
		{Name: "create", Method: "POST", Path: "/api/v2/things/", Handler: func(w http.ResponseWriter, r *http.Request) error {
			var body struct {
				Name  string `json:"name"`
				Cores Int    `json:"coresPerSlot"`
			}
			if err := DecodeJSON(w, r, &body); err != nil {
				return err
			}
			if body.Name == "" {
				return errs.Field("name", "This field is required.")
			}
			WriteJSON(w, 201, body)
			return nil
		}},
		{Name: "boom", Method: "GET", Path: "/api/v2/boom/", Handler: func(w http.ResponseWriter, r *http.Request) error {
			panic("boom")
		}},
	}
	h, err := NewHandler(routes, Config{Auth: keyAuth{"Token good": {UserID: "u1", Email: "a@b.c", KeyID: "k1"}}, Limit: lim})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestHandler(t *testing.T) {
	tests := []struct {
		name, method, target, auth, body, ctype string
		status                                  int
		contains                                string
		header                                  [2]string
	}{
		{name: "public health", method: "GET", target: "/healthz", status: 200, contains: `"ok"`},
		{name: "no auth", method: "GET", target: "/api/v2/things/", status: 401, contains: `"detail":"Invalid token."`, header: [2]string{"WWW-Authenticate", "Token"}},
		{name: "list", method: "GET", target: "/api/v2/things/", auth: "Token good", status: 200, contains: `"count":5`},
		{name: "no trailing slash served identically", method: "GET", target: "/api/v2/things", auth: "Token good", status: 200, contains: `"count":5`},
		{name: "page slice", method: "GET", target: "/api/v2/things/?page=2&page_size=2", auth: "Token good", status: 200, contains: `"results":[3,4]`},
		{name: "next link", method: "GET", target: "/api/v2/things/?page=2&page_size=2", auth: "Token good", status: 200, contains: `"next":"http://example.com/api/v2/things/?page=3&page_size=2"`},
		{name: "previous link", method: "GET", target: "/api/v2/things/?page=3&page_size=2", auth: "Token good", status: 200, contains: `"next":null,"previous":"http://example.com/api/v2/things/?page=2&page_size=2"`},
		{name: "page past end", method: "GET", target: "/api/v2/things/?page=9", auth: "Token good", status: 404, contains: `Invalid page.`},
		{name: "bad page", method: "GET", target: "/api/v2/things/?page=x", auth: "Token good", status: 400, contains: `"field":"page"`},
		{name: "bad page_size", method: "GET", target: "/api/v2/things/?page_size=-1", auth: "Token good", status: 400, contains: `"field":"page_size"`},
		{name: "overflowing page", method: "GET", target: "/api/v2/things/?page=9223372036854775807", auth: "Token good", status: 400, contains: `"field":"page"`},
		{name: "page past MaxOffset", method: "GET", target: "/api/v2/things/?page=2147483&page_size=5000", auth: "Token good", status: 400, contains: `"field":"page"`},
		{name: "page within MaxOffset", method: "GET", target: "/api/v2/things/?page=2147482&page_size=1000", auth: "Token good", status: 404, contains: `Invalid page.`},
		{name: "page not a number past int64", method: "GET", target: "/api/v2/things/?page=99999999999999999999", auth: "Token good", status: 400, contains: `"field":"page"`},
		{name: "echoed value clipped", method: "GET", target: "/api/v2/things/?page=" + strings.Repeat("x", 5000), auth: "Token good", status: 400, contains: `got \"` + strings.Repeat("x", 64) + `…\"`},
		{name: "huge page_size clamped", method: "GET", target: "/api/v2/things/?page_size=100000", auth: "Token good", status: 200, contains: `"count":5`},
		{name: "path param", method: "GET", target: "/api/v2/things/abc/", auth: "Token good", status: 200, contains: `"owner":"a@b.c"`},
		{name: "path param no slash", method: "GET", target: "/api/v2/things/abc", auth: "Token good", status: 200, contains: `"id":"abc"`},
		{name: "not found", method: "GET", target: "/api/v2/things/zzz/", auth: "Token good", status: 404, contains: `"detail":"Not found."`},
		{name: "unknown path", method: "GET", target: "/api/v2/nothing/", auth: "Token good", status: 404, contains: `"detail"`},
		{name: "wrong method", method: "DELETE", target: "/api/v2/things/", auth: "Token good", status: 405, contains: `not allowed`, header: [2]string{"Allow", "GET, HEAD, POST"}},
		// Authentication comes before routing under /api/: a bad key
		// learns nothing about which paths exist.
		{name: "unknown path without key", method: "GET", target: "/api/v2/nothing/", status: 401, contains: `"detail":"Invalid token."`, header: [2]string{"WWW-Authenticate", "Token"}},
		{name: "unknown path with bad key", method: "GET", target: "/api/v2/", auth: "Token bad", status: 401, contains: `"detail":"Invalid token."`},
		{name: "wrong method without key", method: "DELETE", target: "/api/v2/things/", status: 401, contains: `"detail":"Invalid token."`},
		{name: "unknown path outside /api/", method: "GET", target: "/nothing", status: 404, contains: `"detail":"Not found."`},
		{name: "create", method: "POST", target: "/api/v2/things/", auth: "Token good", body: `{"name":"x","coresPerSlot":"4"}`, ctype: "application/json", status: 201, contains: `"coresPerSlot":4`},
		{name: "curl -d without content type", method: "POST", target: "/api/v2/things/", auth: "Token good", body: `{"name":"x"}`, ctype: "application/x-www-form-urlencoded", status: 201},
		{name: "missing field", method: "POST", target: "/api/v2/things/", auth: "Token good", body: `{}`, ctype: "application/json", status: 400, contains: `"field":"name"`},
		{name: "wrong type", method: "POST", target: "/api/v2/things/", auth: "Token good", body: `{"name":3}`, ctype: "application/json", status: 400, contains: `"field":"name"`},
		{name: "bad int string", method: "POST", target: "/api/v2/things/", auth: "Token good", body: `{"name":"x","coresPerSlot":"four"}`, ctype: "application/json", status: 400, contains: `coresPerSlot`},
		{name: "malformed json", method: "POST", target: "/api/v2/things/", auth: "Token good", body: `{"name":`, ctype: "application/json", status: 400, contains: `malformed JSON`},
		{name: "xml", method: "POST", target: "/api/v2/things/", auth: "Token good", body: `<a/>`, ctype: "application/xml", status: 415},
		{name: "too large", method: "POST", target: "/api/v2/things/", auth: "Token good", body: `{"name":"` + strings.Repeat("x", MaxJSONBody) + `"}`, ctype: "application/json", status: 413},
		{name: "panic is 500 json", method: "GET", target: "/api/v2/boom/", auth: "Token good", status: 500, contains: `"detail":"internal error"`},
	}
	h := testHandler(t, nil)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest(tt.method, tt.target, strings.NewReader(tt.body))
			if tt.auth != "" {
				req.Header.Set("Authorization", tt.auth)
			}
			if tt.ctype != "" {
				req.Header.Set("Content-Type", tt.ctype)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tt.status {
				t.Fatalf("status %d, want %d: %s", rec.Code, tt.status, rec.Body)
			}
			if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
				t.Fatalf("content type %q", ct)
			}
			if !strings.Contains(rec.Body.String(), tt.contains) {
				t.Fatalf("body %s does not contain %s", rec.Body, tt.contains)
			}
			if tt.header[0] != "" && rec.Header().Get(tt.header[0]) != tt.header[1] {
				t.Fatalf("%s = %q, want %q", tt.header[0], rec.Header().Get(tt.header[0]), tt.header[1])
			}
			var v map[string]any
			if tt.status >= 400 {
				if err := json.Unmarshal(rec.Body.Bytes(), &v); err != nil || v["detail"] == "" {
					t.Fatalf("error body not {detail}: %s", rec.Body)
				}
			}
		})
	}
}

func TestRateLimited(t *testing.T) {
	h := testHandler(t, &denyAfter{n: 2})
	codes := []int{}
	var last *httptest.ResponseRecorder
	for i := 0; i < 3; i++ {
		req := httptest.NewRequest("GET", "/api/v2/things/", nil)
		req.Header.Set("Authorization", "Token good")
		last = httptest.NewRecorder()
		h.ServeHTTP(last, req)
		codes = append(codes, last.Code)
	}
	if codes[0] != 200 || codes[1] != 200 || codes[2] != 429 {
		t.Fatalf("codes %v", codes)
	}
	if last.Header().Get("Retry-After") != "2" {
		t.Fatalf("Retry-After %q", last.Header().Get("Retry-After"))
	}
}

func TestBaseURLForwarded(t *testing.T) {
	tests := []struct {
		name    string
		headers map[string]string
		public  string
		want    string
	}{
		{"plain", nil, "", "http://example.com"},
		{"forwarded", map[string]string{"X-Forwarded-Proto": "https", "X-Forwarded-Host": "api.example.org"}, "", "https://api.example.org"},
		{"forwarded list", map[string]string{"X-Forwarded-Proto": "https, http", "X-Forwarded-Host": "a.example.org, b"}, "", "https://a.example.org"},
		{"prefix", map[string]string{"X-Forwarded-Prefix": "/prod/"}, "", "http://example.com/prod"},
		{"injected host ignored", map[string]string{"X-Forwarded-Host": "evil.com/x?y"}, "", "http://example.com"},
		{"bad proto ignored", map[string]string{"X-Forwarded-Proto": "javascript"}, "", "http://example.com"},
		{"public wins", map[string]string{"X-Forwarded-Host": "x.org"}, "https://api.example.com/v/", "https://api.example.com/v"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/api/v2/jobs/", nil)
			for k, v := range tt.headers {
				r.Header.Set(k, v)
			}
			if got := (BaseURL{Public: tt.public}).Origin(r); got != tt.want {
				t.Fatalf("Origin = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestDuplicateRouteRejected(t *testing.T) {
	r := Route{Name: "a", Method: "GET", Path: "/x/", Public: true, Handler: func(http.ResponseWriter, *http.Request) error { return nil }}
	if _, err := NewHandler([]Route{r, r}, Config{}); err == nil {
		t.Fatal("duplicate route accepted")
	}
}

// An AnyMethod route answers what the others do not, after
// authentication, and never shadows a more specific route.
func TestAnyMethodRoute(t *testing.T) {
	ok := func(name string) HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) error {
			WriteJSON(w, 200, map[string]string{"route": name})
			return nil
		}
	}
	routes := []Route{
		{Name: "list", Method: "GET", Path: "/api/v2/things/", Handler: ok("list")},
		{Name: "signed", Method: "PUT", Path: "/api/v2/signed/{key...}", Public: true, Handler: ok("signed")},
	}
	m := NewMatcher(routes)
	routes = append(routes, Route{Name: "rest", Method: AnyMethod, Path: "/api/{path...}", Handler: func(w http.ResponseWriter, r *http.Request) error {
		if _, err := Caller(r); err != nil {
			return err
		}
		return m.NoRoute(w, r)
	}})
	h, err := NewHandler(routes, Config{Auth: keyAuth{"Token good": {UserID: "u1", KeyID: "k1"}}})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		method, target, auth string
		status               int
		contains, allow      string
	}{
		{"GET", "/api/v2/things/", "Token good", 200, `"list"`, ""},
		{"PUT", "/api/v2/signed/a/b", "", 200, `"signed"`, ""},
		{"DELETE", "/api/v2/things", "Token good", 405, "not allowed", "GET, HEAD"},
		{"DELETE", "/api/v2/things/", "", 401, "Invalid token.", ""},
		{"POST", "/api/v2/signed/a", "", 401, "Invalid token.", ""},
		{"POST", "/api/v2/signed/a", "Token good", 405, "not allowed", "PUT"},
		{"GET", "/api/v2/nothing/", "Token good", 404, "Not found.", ""},
		{"GET", "/api/v2/nothing/", "Token bad", 401, "Invalid token.", ""},
	}
	for _, tt := range tests {
		req := httptest.NewRequest(tt.method, tt.target, nil)
		if tt.auth != "" {
			req.Header.Set("Authorization", tt.auth)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != tt.status || !strings.Contains(rec.Body.String(), tt.contains) || rec.Header().Get("Allow") != tt.allow {
			t.Errorf("%s %s (%q): %d Allow %q %s; want %d Allow %q %q", tt.method, tt.target, tt.auth, rec.Code, rec.Header().Get("Allow"), rec.Body, tt.status, tt.allow, tt.contains)
		}
	}
}

func TestErrorDetailBounded(t *testing.T) {
	rec := httptest.NewRecorder()
	Error(rec, httptest.NewRequest("GET", "/", nil), nil, errs.Field("x", "bad: %s", strings.Repeat("é", 4000)))
	var body ErrorBody
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		t.Fatal(err)
	}
	if len(body.Detail) > MaxDetail+len("…") || !strings.HasSuffix(body.Detail, "é…") {
		t.Fatalf("detail of %d bytes: %.40q…", len(body.Detail), body.Detail)
	}
}

type brokenBody struct{ err error }

func (b brokenBody) Read([]byte) (int, error) { return 0, b.err }

// A request body that ends early (or stalls past the read deadline) is the
// client's error wherever a handler reads it.
func TestBrokenRequestBody(t *testing.T) {
	routes := []Route{{Name: "put", Method: "PUT", Path: "/api/v2/put/", Public: true, Handler: func(w http.ResponseWriter, r *http.Request) error {
		if _, err := io.Copy(io.Discard, r.Body); err != nil {
			return fmt.Errorf("store object: %w", err)
		}
		return nil
	}}}
	h, err := NewHandler(routes, Config{})
	if err != nil {
		t.Fatal(err)
	}
	for _, cause := range []error{io.ErrUnexpectedEOF, os.ErrDeadlineExceeded, errors.New("connection reset by peer")} {
		req := httptest.NewRequest("PUT", "/api/v2/put/", io.NopCloser(brokenBody{cause}))
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != 400 || !strings.Contains(rec.Body.String(), "reading the request body") {
			t.Errorf("%v: %d %s", cause, rec.Code, rec.Body)
		}
	}
}

// A body that stops arriving is cut after the idle timeout; one that keeps
// arriving, however slowly, is not; and a handler that outlasts the
// timeout after reading its body is not cancelled.
func TestBodyIdleTimeout(t *testing.T) {
	const idle = 300 * time.Millisecond
	routes := []Route{{Name: "put", Method: "PUT", Path: "/api/v2/put/", Public: true, Handler: func(w http.ResponseWriter, r *http.Request) error {
		n, err := io.Copy(io.Discard, r.Body)
		if err != nil {
			return err
		}
		if r.URL.Query().Get("work") != "" {
			time.Sleep(3 * idle)
			if err := r.Context().Err(); err != nil {
				return fmt.Errorf("context after the body: %w", err)
			}
		}
		WriteJSON(w, 200, map[string]int64{"n": n})
		return nil
	}}}
	h, err := NewHandler(routes, Config{BodyIdleTimeout: idle})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	send := func(target string, length int, chunks []string, gap time.Duration) (string, time.Duration) {
		t.Helper()
		c, err := net.Dial("tcp", srv.Listener.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(10 * time.Second))
		start := time.Now()
		fmt.Fprintf(c, "PUT %s HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n", target, length)
		for _, ch := range chunks {
			time.Sleep(gap)
			if _, err := io.WriteString(c, ch); err != nil {
				break // the server gave up on us
			}
		}
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatalf("%s: %v", target, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return fmt.Sprintf("%d %s", resp.StatusCode, bytes.TrimSpace(b)), time.Since(start)
	}

	got, took := send("/api/v2/put/", 100, []string{"stall"}, 0)
	if !strings.HasPrefix(got, "400 ") || !strings.Contains(got, "nothing for too long") || took > 5*idle {
		t.Errorf("stalled body: %s after %v", got, took)
	}
	slow := strings.Split(strings.Repeat("x", 12), "")
	if got, _ := send("/api/v2/put/", len(slow), slow, idle/3); got != `200 {"n":12}` {
		t.Errorf("slow but live body (%v over %v idle): %s", idle/3*time.Duration(len(slow)), idle, got)
	}
	if got, _ := send("/api/v2/put/?work=1", 3, []string{"abc"}, 0); got != `200 {"n":3}` {
		t.Errorf("handler working past the idle timeout after its body: %s", got)
	}
}

// net/http's own answers (before any handler) are JSON through JSONErrors;
// handler responses, text/plain ones included, pass untouched.
func TestJSONErrorsListener(t *testing.T) {
	h, err := NewHandler([]Route{{Name: "txt", Method: "GET", Path: "/api/v2/txt/", Public: true, Handler: func(w http.ResponseWriter, r *http.Request) error {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Connection", "close")
		io.WriteString(w, "plain text stays")
		return nil
	}}}, Config{})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(h)
	srv.Config.MaxHeaderBytes = 4 << 10
	srv.Listener = JSONErrors(srv.Listener)
	srv.Start()
	defer srv.Close()
	raw := func(req string) *http.Response {
		t.Helper()
		c, err := net.Dial("tcp", srv.Listener.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		c.SetDeadline(time.Now().Add(5 * time.Second))
		io.WriteString(c, req)
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatalf("%.40q: %v", req, err)
		}
		return resp
	}
	for name, tt := range map[string]struct {
		req    string
		status int
		detail string
	}{
		"bad Content-Length": {"POST /api/v2/txt/ HTTP/1.1\r\nHost: x\r\nContent-Length: nope\r\n\r\n", 400, "Bad Request"},
		"headers too large":  {"GET /api/v2/txt/ HTTP/1.1\r\nHost: x\r\nX-Big: " + strings.Repeat("a", 8<<10) + "\r\n\r\n", 431, "Request Header Fields Too Large"},
		"malformed":          {"GARBAGE\r\n\r\n", 400, "Bad Request"},
		"transfer encoding":  {"POST /api/v2/txt/ HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: zip\r\n\r\n", 501, "Unsupported transfer encoding"},
	} {
		resp := raw(tt.req)
		var body ErrorBody
		err := json.NewDecoder(resp.Body).Decode(&body)
		if resp.StatusCode != tt.status || resp.Header.Get("Content-Type") != "application/json" || err != nil || !strings.HasPrefix(body.Detail, tt.detail) {
			t.Errorf("%s: %d %q %+v %v", name, resp.StatusCode, resp.Header.Get("Content-Type"), body, err)
		}
	}
	resp := raw("GET /api/v2/txt/ HTTP/1.1\r\nHost: x\r\n\r\n")
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || string(b) != "plain text stays" {
		t.Errorf("handler's text/plain: %d %q", resp.StatusCode, b)
	}
}
