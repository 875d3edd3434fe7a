package openapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"maps"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"github.com/openrescale/platform/functions/api"
	"github.com/openrescale/platform/functions/openapi"
	"github.com/openrescale/platform/shared/httpapi"
)

func load(t *testing.T, b []byte) *openapi3.T {
	t.Helper()
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(b)
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	if err := doc.Validate(loader.Context); err != nil {
		t.Fatalf("validate: %v", err)
	}
	return doc
}

func TestDocumentIsValidOpenAPI31(t *testing.T) {
	b := openapi.Document()
	doc := load(t, b)
	if doc.OpenAPI != "3.1.0" || !doc.IsOpenAPI31OrLater() {
		t.Errorf("openapi %q, want 3.1.0", doc.OpenAPI)
	}
	// Serve splices servers in after the first byte.
	var top map[string]json.RawMessage
	if err := json.Unmarshal(b, &top); err != nil || b[0] != '{' {
		t.Fatalf("the document must be one JSON object starting with '{': %v", err)
	}
	if _, ok := top["servers"]; ok {
		t.Error("the committed document has servers; Serve adds them")
	}
}

// docPath is the OpenAPI path of a route: a final {name...} wildcard is
// {name} (its parameter carries x-wildcard: true, since an OpenAPI path
// parameter cannot hold "/").
func docPath(p string) string { return strings.ReplaceAll(p, "...}", "}") }

// TestOperationsMatchTheRouteTable: every route has exactly one operation
// at its path and method, named after it, and every operation is a route's.
// An ANY route is documented as GET with x-any-method: true, as OpenAPI
// has no any-method operation; nothing else may be at its path.
func TestOperationsMatchTheRouteTable(t *testing.T) {
	doc := load(t, openapi.Document())
	type opAt struct{ method, path string }
	ops := map[opAt]*openapi3.Operation{}
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			ops[opAt{method, path}] = op
		}
	}
	claimed := map[opAt]bool{}
	for _, rt := range api.Routes(api.Deps{}) {
		path := docPath(rt.Path)
		method := rt.Method
		if method == httpapi.AnyMethod {
			method = http.MethodGet
			for m := range doc.Paths.Value(path).Operations() {
				if m != method {
					t.Errorf("%s: ANY route's path %s also documents %s", rt.Name, path, m)
				}
			}
		}
		at := opAt{method, path}
		op, ok := ops[at]
		if !ok {
			t.Errorf("route %s (%s %s) has no operation at %s %s", rt.Name, rt.Method, rt.Path, method, path)
			continue
		}
		claimed[at] = true
		if op.OperationID != rt.Name {
			t.Errorf("%s %s: operationId %q, want the route's name %q", method, path, op.OperationID, rt.Name)
		}
		if any := op.Extensions["x-any-method"] == true; any != (rt.Method == httpapi.AnyMethod) {
			t.Errorf("%s: x-any-method %v, route method %s", rt.Name, any, rt.Method)
		}
		// A public route must say so (security: []); the others inherit
		// the document's token requirement.
		if public := op.Security != nil && len(*op.Security) == 0; public != rt.Public {
			t.Errorf("%s: documented public=%v, route Public=%v", rt.Name, public, rt.Public)
		}
		for _, seg := range strings.Split(rt.Path, "/") {
			name, ok := strings.CutSuffix(strings.TrimPrefix(seg, "{"), "...}")
			if !ok {
				continue
			}
			p := doc.Paths.Value(path).Parameters.GetByInAndName("path", name)
			if p == nil || p.Extensions["x-wildcard"] != true {
				t.Errorf("%s: wildcard parameter %s lacks x-wildcard: true", rt.Name, name)
			}
		}
	}
	for at, op := range ops {
		if !claimed[at] {
			t.Errorf("operation %s (%s %s) has no route", op.OperationID, at.method, at.path)
		}
	}
}

// TestStandardRouterFindsEachRoute: a client's tooling routes the document
// as the server routes the table. kin-openapi's gorillamux router, given a
// request for each route (parameters filled in, trailing slash as in the
// table), finds that route's operation. Wildcard routes are left out: an
// OpenAPI path parameter cannot span segments, so tools match them only
// within one (which a one-segment value shows).
func TestStandardRouterFindsEachRoute(t *testing.T) {
	doc := load(t, openapi.Document())
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	param := regexp.MustCompile(`\{[^}]+\}`)
	for _, rt := range api.Routes(api.Deps{}) {
		method := rt.Method
		if method == httpapi.AnyMethod {
			method = http.MethodGet
		}
		path := param.ReplaceAllString(rt.Path, "x1")
		req := httptest.NewRequest(method, path, nil)
		route, _, err := router.FindRoute(req)
		if err != nil {
			t.Errorf("%s: %s %s: %v", rt.Name, method, path, err)
			continue
		}
		if route.Operation.OperationID != rt.Name {
			t.Errorf("%s %s: the router finds %s, the server routes %s", method, path, route.Operation.OperationID, rt.Name)
		}
	}
}

// TestErrorsHaveTheErrorShape: every operation documents its 4xx and 5xx
// answers as {"detail"} JSON, so response validation refuses an error in
// any other shape.
func TestErrorsHaveTheErrorShape(t *testing.T) {
	doc := load(t, openapi.Document())
	cases := []struct {
		name        string
		status      int
		contentType string
		body        string
		ok          bool
	}{
		{"detail", 404, "application/json", `{"detail":"Not found."}`, true},
		{"detail and field", 400, "application/json", `{"detail":"name: required","field":"name"}`, true},
		{"server error", 500, "application/json", `{"detail":"internal error"}`, true},
		{"no detail", 400, "application/json", `{"error":"bad"}`, false},
		{"detail not a string", 409, "application/json", `{"detail":["bad"]}`, false},
		{"plain text", 401, "text/plain; charset=utf-8", "Unauthorized\n", false},
		{"undocumented status", 299, "application/json", `{"detail":"?"}`, false},
	}
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			if method == http.MethodHead {
				continue // no body to validate
			}
			for _, c := range cases {
				req := httptest.NewRequest(method, strings.ReplaceAll(path, "{", "x"), nil)
				in := &openapi3filter.ResponseValidationInput{
					RequestValidationInput: &openapi3filter.RequestValidationInput{
						Request: req,
						Route:   &routers.Route{Spec: doc, Path: path, PathItem: item, Method: method, Operation: op},
					},
					Status:  c.status,
					Header:  http.Header{"Content-Type": {c.contentType}},
					Options: &openapi3filter.Options{IncludeResponseStatus: true},
				}
				in.SetBodyBytes([]byte(c.body))
				err := openapi3filter.ValidateResponse(context.Background(), in)
				if (err == nil) != c.ok {
					t.Errorf("%s (%s %s) %s: valid=%v, want %v (%v)", op.OperationID, method, path, c.name, err == nil, c.ok, err)
				}
			}
		}
	}
}

func TestServeSetsServersToThisDeployment(t *testing.T) {
	cases := []struct {
		name   string
		base   httpapi.BaseURL
		header http.Header
		want   string
	}{
		{"public URL", httpapi.BaseURL{Public: "https://api.example.com/prod/"}, nil, "https://api.example.com/prod"},
		{"request host", httpapi.BaseURL{}, nil, "http://example.com"},
		{"forwarded", httpapi.BaseURL{}, http.Header{"X-Forwarded-Proto": {"https"}, "X-Forwarded-Host": {"rescale.internal:8443"}}, "https://rescale.internal:8443"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodGet, "/api/v2/openapi.json/", nil)
			maps.Copy(req.Header, c.header)
			w := httptest.NewRecorder()
			if err := (openapi.Handlers{Base: c.base}).Serve(w, req); err != nil {
				t.Fatal(err)
			}
			if w.Code != 200 || w.Header().Get("Content-Type") != "application/json" {
				t.Fatalf("status %d, content type %q", w.Code, w.Header().Get("Content-Type"))
			}
			doc := load(t, w.Body.Bytes())
			if len(doc.Servers) != 1 || doc.Servers[0].URL != c.want {
				t.Errorf("servers %v, want one with url %s", doc.Servers, c.want)
			}
			// Everything but servers is the committed document.
			var got, want map[string]json.RawMessage
			if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(openapi.Document(), &want); err != nil {
				t.Fatal(err)
			}
			delete(got, "servers")
			for k := range want {
				if !bytes.Equal(compact(t, got[k]), compact(t, want[k])) {
					t.Errorf("served %s differs from the committed document", k)
				}
			}
			if len(got) != len(want) {
				t.Errorf("served keys %v, want the committed document's", slices.Sorted(maps.Keys(got)))
			}
		})
	}
}

func compact(t *testing.T, b []byte) []byte {
	t.Helper()
	var out bytes.Buffer
	if err := json.Compact(&out, b); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}
