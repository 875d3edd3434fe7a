package e2e

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"

	"github.com/openrescale/platform/functions/api"
	"github.com/openrescale/platform/functions/openapi"
	"github.com/openrescale/platform/shared/httpapi"
)

// apiValidator is the harness's HTTP transport: every response to a request
// the route table serves (everything under /api/, and /healthz) is
// validated against the OpenAPI document
// (functions/openapi) with kin-openapi's openapi3filter.ValidateResponse,
// and one that does not match fails the test that made it.
//
// The operation is found the way the server finds the handler: through the
// route table on a ServeMux (after the server's trailing-slash rule), then
// by operationId, which is the route's name. kin-openapi's routers cannot
// do this exactly: they match a path parameter within one segment, so the
// {path...} wildcards (a run's tail/ of a nested file, the api-root route
// that answers every unknown path) would find no operation, and
// TestOperationsMatchTheRouteTable already holds the document's paths to
// the route table's.
//
// Exempt: the local-only routes (api.LocalRoutes), which stand in for S3
// and are not the API; and bodies that are not JSON (file contents, raw
// tails, snapshots), which are not read here, so downloads stream as
// before. Their status and content type are still checked: the document
// must declare that type for that status (a plain-text 4xx fails).
type apiValidator struct {
	next  http.RoundTripper
	doc   *openapi3.T
	mux   *http.ServeMux
	ops   map[string]*routers.Route // by route name
	local map[string]bool

	mu      sync.Mutex
	servers map[string]*testing.T // host → the test that started it
	seen    map[string]bool       // operationIds validated
}

func newAPIValidator(next http.RoundTripper) (*apiValidator, error) {
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(openapi.Document())
	if err != nil {
		return nil, fmt.Errorf("load the OpenAPI document: %w", err)
	}
	if err := doc.Validate(loader.Context); err != nil {
		return nil, fmt.Errorf("validate the OpenAPI document: %w", err)
	}
	v := &apiValidator{next: next, doc: doc, mux: http.NewServeMux(), ops: map[string]*routers.Route{},
		local: map[string]bool{}, servers: map[string]*testing.T{}, seen: map[string]bool{}}
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			v.ops[op.OperationID] = &routers.Route{Spec: doc, Path: path, PathItem: item, Method: method, Operation: op}
		}
	}
	for _, rt := range api.LocalRoutes(api.Deps{}) {
		v.local[rt.Name] = true
	}
	for _, rt := range append(api.Routes(api.Deps{}), api.LocalRoutes(api.Deps{})...) {
		pattern := httpapi.MuxPath(rt.Path)
		if rt.Method != httpapi.AnyMethod {
			pattern = rt.Method + " " + pattern
		}
		v.mux.Handle(pattern, matched{name: rt.Name, params: pathParams(rt.Path)})
	}
	return v, nil
}

// pathParams lists the parameter names of a route path.
func pathParams(p string) []string {
	var names []string
	for _, seg := range strings.Split(p, "/") {
		if name, ok := strings.CutPrefix(seg, "{"); ok {
			names = append(names, strings.TrimSuffix(strings.TrimSuffix(name, "}"), "..."))
		}
	}
	return names
}

// matched is the handler the route ServeMux "serves" a request with: it
// records which route matched and its path values.
type matched struct {
	name   string
	params []string
}

type matchResult struct {
	name   string
	values map[string]string
}

type matchKey struct{}

func (m matched) ServeHTTP(_ http.ResponseWriter, r *http.Request) {
	res := r.Context().Value(matchKey{}).(*matchResult)
	res.name, res.values = m.name, map[string]string{}
	for _, p := range m.params {
		res.values[p] = r.PathValue(p)
	}
}

// route finds the route that serves req, as the server would.
func (v *apiValidator) route(req *http.Request) (matchResult, bool) {
	var res matchResult
	r := req.Clone(context.WithValue(req.Context(), matchKey{}, &res))
	u := *req.URL
	u.Path, u.RawPath = httpapi.CanonicalPath(u.Path), ""
	r.URL = &u
	v.mux.ServeHTTP(discard{}, r)
	return res, res.name != ""
}

type discard struct{}

func (discard) Header() http.Header         { return http.Header{} }
func (discard) Write(b []byte) (int, error) { return len(b), nil }
func (discard) WriteHeader(int)             {}

// register makes t the test that responses from the server at rawURL are
// reported to, until t ends.
func (v *apiValidator) register(t *testing.T, rawURL string) {
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	v.mu.Lock()
	v.servers[u.Host] = t
	v.mu.Unlock()
	t.Cleanup(func() {
		v.mu.Lock()
		delete(v.servers, u.Host)
		v.mu.Unlock()
	})
}

// testKey carries the *testing.T of the test making a request (do sets it),
// which takes precedence over the test that started the server.
type testCtxKey struct{}

func withTest(ctx context.Context, t *testing.T) context.Context {
	return context.WithValue(ctx, testCtxKey{}, t)
}

func (v *apiValidator) testFor(req *http.Request) *testing.T {
	if t, ok := req.Context().Value(testCtxKey{}).(*testing.T); ok {
		return t
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.servers[req.URL.Host]
}

// maxValidatedRequest is the largest JSON request body kept to validate;
// the API refuses JSON bodies over 1 MiB anyway.
const maxValidatedRequest = 2 << 20

func (v *apiValidator) RoundTrip(req *http.Request) (*http.Response, error) {
	// A JSON request body is kept (the request sent is a copy) so that a
	// request the server accepted can be checked against the document.
	var reqBody []byte
	jsonBody := req.Body != nil && req.Body != http.NoBody && isJSON(req.Header.Get("Content-Type")) &&
		req.ContentLength >= 0 && req.ContentLength <= maxValidatedRequest
	if jsonBody {
		b, err := io.ReadAll(req.Body)
		req.Body.Close()
		if err != nil {
			return nil, err
		}
		reqBody = b
		req = req.Clone(req.Context())
		req.Body = io.NopCloser(bytes.NewReader(b))
		req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
	}
	resp, err := v.next.RoundTrip(req)
	if err != nil {
		return resp, err
	}
	// Paths no route serves (the web console's, outside /api/) are not the
	// API's.
	m, ok := v.route(req)
	if !ok || v.local[m.name] {
		return resp, nil
	}
	// Requests the server accepted must be ones the document allows (a
	// refused one may be a test's deliberately bad input).
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		if verr := v.validateRequest(req, m, jsonBody, reqBody); verr != nil {
			msg := fmt.Sprintf("OpenAPI: %s %s was accepted (%d) but the document (functions/openapi/openapi.json) does not allow the request: %v\nrequest body: %.2000s",
				req.Method, req.URL.RequestURI(), resp.StatusCode, truncate(verr.Error(), 4000), reqBody)
			if t := v.testFor(req); t != nil {
				t.Error(msg)
			} else {
				resp.Body.Close()
				return nil, fmt.Errorf("%s", msg)
			}
		}
	}
	var body []byte
	if isJSON(resp.Header.Get("Content-Type")) {
		body, err = io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			// A response the server broke off on purpose (ErrAbortHandler):
			// the test sees the same error reading it.
			resp.Body = io.NopCloser(io.MultiReader(bytes.NewReader(body), errReader{err}))
			return resp, nil
		}
		resp.Body = io.NopCloser(bytes.NewReader(body))
	}
	if verr := v.validate(req, resp, m, body); verr != nil {
		msg := fmt.Sprintf("OpenAPI: %s %s answered %d, which the document (functions/openapi/openapi.json) does not allow: %v\nbody: %.2000s",
			req.Method, req.URL.Path, resp.StatusCode, truncate(verr.Error(), 4000), body)
		if t := v.testFor(req); t != nil {
			t.Error(msg)
			return resp, nil
		}
		resp.Body.Close()
		return nil, fmt.Errorf("%s", msg)
	}
	return resp, nil
}

func (v *apiValidator) validate(req *http.Request, resp *http.Response, m matchResult, body []byte) error {
	route, ok := v.ops[m.name]
	if !ok {
		return fmt.Errorf("route %s has no operation", m.name)
	}
	v.mu.Lock()
	v.seen[m.name] = true
	v.mu.Unlock()
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: m.values, Route: route},
		Status:                 resp.StatusCode,
		Header:                 resp.Header,
		// Undocumented statuses fail too.
		Options: &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
	}
	in.SetBodyBytes(body)
	return openapi3filter.ValidateResponse(req.Context(), in)
}

// validateRequest checks an accepted request's path, query, headers and,
// when it was JSON the validator kept, body.
func (v *apiValidator) validateRequest(req *http.Request, m matchResult, jsonBody bool, body []byte) error {
	route, ok := v.ops[m.name]
	if !ok {
		return fmt.Errorf("route %s has no operation", m.name)
	}
	r := req.Clone(req.Context())
	r.Body = http.NoBody
	if jsonBody {
		r.Body = io.NopCloser(bytes.NewReader(body))
	}
	return openapi3filter.ValidateRequest(req.Context(), &openapi3filter.RequestValidationInput{
		Request: r, PathParams: m.values, Route: route,
		Options: &openapi3filter.Options{
			// The server authenticated the request already.
			AuthenticationFunc:  openapi3filter.NoopAuthenticationFunc,
			ExcludeRequestBody:  !jsonBody,
			SkipSettingDefaults: true,
			MultiError:          true,
		},
	})
}

// unseen lists the operations no e2e response was validated against.
func (v *apiValidator) unseen() []string {
	v.mu.Lock()
	defer v.mu.Unlock()
	var out []string
	for name := range v.ops {
		if !v.seen[name] {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

func isJSON(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	return err == nil && (mt == "application/json" || strings.HasSuffix(mt, "+json"))
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

// truncate keeps a report readable: a MultiError over a page of results
// repeats itself.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// TestOpenAPIDocumentServed: the document is public, at both spellings of
// its path, and names the server it was read from.
func TestOpenAPIDocumentServed(t *testing.T) {
	s := start(t, t.TempDir(), []string{"RESCALE_LOCAL_API_KEY=" + testKey})
	for _, path := range []string{"/api/v2/openapi.json", "/api/v2/openapi.json/"} {
		r := do(t, "GET", s.URL+path, "", nil)
		if r.Status != 200 || !isJSON(r.Header.Get("Content-Type")) {
			t.Fatalf("GET %s without a key: %d %s", path, r.Status, r.Header.Get("Content-Type"))
		}
		loader := openapi3.NewLoader()
		doc, err := loader.LoadFromData(r.Body)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		if len(doc.Servers) != 1 || doc.Servers[0].URL != s.URL {
			t.Errorf("GET %s: servers %v, want %s", path, doc.Servers, s.URL)
		}
		if doc.Paths.Find("/api/v2/jobs/{id}/") == nil {
			t.Errorf("GET %s: no /api/v2/jobs/{id}/ in the document served", path)
		}
	}
}

// TestValidatorRefusesWhatTheDocumentDoesNot checks the harness's own
// check, against a stand-in server: without a test to report to, a
// response the document does not allow is an error from the client.
// TestValidatorRefusesRequestsTheDocumentDoesNot: a request the server
// accepted is checked too (query parameters and a JSON body), and a
// refused one is not (it may be a test's deliberately bad input).
func TestValidatorRefusesRequestsTheDocumentDoesNot(t *testing.T) {
	v, err := newAPIValidator(http.DefaultTransport)
	if err != nil {
		t.Fatal(err)
	}
	const page = `{"count":0,"next":null,"previous":null,"results":[]}`
	const key = `{"id":"k1","prefix":"rsk_abcdefgh","createdAt":"2026-01-02T03:04:05Z","expiresAt":null,"isActive":true,"key":"rsk_abcdefgh0123456789"}`
	cases := []struct {
		name, method, path, reqBody string
		status                      int
		respBody                    string
		ok                          bool
	}{
		{"documented query value", "GET", "/api/v2/jobs/?f=2", "", 200, page, true},
		{"empty query value (the default)", "GET", "/api/v2/jobs/?f=", "", 200, page, true},
		{"undocumented query value accepted", "GET", "/api/v2/jobs/?f=7", "", 200, page, false},
		{"undocumented query value refused", "GET", "/api/v2/jobs/?f=7", "", 400, `{"detail":"bad f","field":"f"}`, true},
		{"documented body", "POST", "/api/v2/users/me/api-keys/", `{"expiresInDays": 30}`, 201, key, true},
		{"body of the wrong type accepted", "POST", "/api/v2/users/me/api-keys/", `{"expiresInDays": true}`, 201, key, false},
		{"body of the wrong type refused", "POST", "/api/v2/users/me/api-keys/", `{"expiresInDays": true}`, 400, `{"detail":"bad","field":"expiresInDays"}`, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var got string
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				b, _ := io.ReadAll(r.Body)
				got = string(b)
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(c.status)
				io.WriteString(w, c.respBody)
			}))
			defer srv.Close()
			var body io.Reader
			if c.reqBody != "" {
				body = strings.NewReader(c.reqBody)
			}
			req, err := http.NewRequest(c.method, srv.URL+c.path, body)
			if err != nil {
				t.Fatal(err)
			}
			if body != nil {
				req.Header.Set("Content-Type", "application/json")
			}
			resp, err := (&http.Client{Transport: v}).Do(req)
			if err == nil {
				resp.Body.Close()
			}
			if got != c.reqBody {
				t.Errorf("the server read %q, want the body sent, %q", got, c.reqBody)
			}
			if (err == nil) != c.ok {
				t.Errorf("allowed=%v, want %v (%v)", err == nil, c.ok, err)
			}
		})
	}
}

func TestValidatorRefusesWhatTheDocumentDoesNot(t *testing.T) {
	v, err := newAPIValidator(http.DefaultTransport)
	if err != nil {
		t.Fatal(err)
	}
	status := `{"id":"js1","status":"Pending","statusDate":"2026-01-02T03:04:05.000000Z","statusReason":null}`
	cases := []struct {
		name, method, path string
		status             int
		contentType, body  string
		ok                 bool
	}{
		{"documented page", "GET", "/api/v2/jobs/x/statuses/", 200, "application/json", `{"count":1,"next":null,"previous":null,"results":[` + status + `]}`, true},
		{"without the trailing slash", "GET", "/api/v2/jobs/x/statuses", 200, "application/json", `{"count":0,"next":null,"previous":null,"results":[]}`, true},
		{"renamed field", "GET", "/api/v2/jobs/x/statuses/", 200, "application/json", `{"count":1,"next":null,"previous":null,"results":[` + strings.Replace(status, "statusDate", "date", 1) + `]}`, false},
		{"extra field", "GET", "/api/v2/jobs/x/statuses/", 200, "application/json", `{"count":0,"next":null,"previous":null,"results":[],"total":0}`, false},
		{"undocumented status", "GET", "/api/v2/jobs/x/statuses/", 201, "application/json", `{"count":0,"next":null,"previous":null,"results":[]}`, false},
		{"error", "GET", "/api/v2/jobs/x/statuses/", 404, "application/json", `{"detail":"Not found."}`, true},
		{"error not JSON", "GET", "/api/v2/jobs/x/statuses/", 404, "text/plain; charset=utf-8", "404 page not found\n", false},
		{"error without detail", "POST", "/api/v2/jobs/", 400, "application/json", `{"message":"bad"}`, false},
		{"file bytes not read", "GET", "/api/v2/files/x/contents/", 200, "text/plain", "not JSON", true},
		{"JSON tail", "GET", "/api/v2/jobs/x/runs/1/tail/dir/a.log/", 200, "application/json", `{"fileType":"dir/a.log: ASCII text","lines":["a"]}`, true},
		{"JSON tail, wrong shape", "GET", "/api/v2/jobs/x/runs/1/tail/dir/a.log/", 200, "application/json", `{"lines":"a"}`, false},
		{"unknown path", "DELETE", "/api/v9/nothing/", 404, "application/json", `{"detail":"Not found."}`, true},
		{"local S3 stand-in", "PUT", "/api/v2/storage/user/a/b", 200, "text/plain", "anything", true},
		{"health", "GET", "/healthz", 503, "application/json", `{"detail":"not ready"}`, true},
		{"health, not JSON", "GET", "/healthz", 200, "text/plain", "ok", false},
		{"no route (the web console)", "GET", "/jobs/x", 200, "text/html", "<html>", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", c.contentType)
				w.WriteHeader(c.status)
				io.WriteString(w, c.body)
			}))
			defer srv.Close()
			req, err := http.NewRequest(c.method, srv.URL+c.path, nil)
			if err != nil {
				t.Fatal(err)
			}
			resp, err := (&http.Client{Transport: v}).Do(req)
			if err == nil {
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if string(b) != c.body {
					t.Errorf("body %q after validation, want %q", b, c.body)
				}
			}
			if (err == nil) != c.ok {
				t.Errorf("allowed=%v, want %v (%v)", err == nil, c.ok, err)
			}
		})
	}
}
