package apiroot_test

import (
	"encoding/json"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"

	"github.com/openrescale/platform/functions/api"
	"github.com/openrescale/platform/functions/apiroot"
	"github.com/openrescale/platform/shared/errs"
	"github.com/openrescale/platform/shared/httpapi"
)

func TestRootsFromTheRouteTable(t *testing.T) {
	roots := apiroot.Roots(api.Routes(api.Deps{}))
	if got := slices.Sorted(maps.Keys(roots)); !slices.Equal(got, []string{"v2", "v3"}) {
		t.Fatalf("versions %v, want v2 and v3", got)
	}
	for version, want := range map[string]map[string]string{
		"v2": {"coretypes": "/api/v2/coretypes/", "analyses": "/api/v2/analyses/", "jobs": "/api/v2/jobs/",
			"files": "/api/v2/files/", "billing/computeprices": "/api/v2/billing/computeprices/", "users/me/api-keys": "/api/v2/users/me/api-keys/"},
		"v3": {"users/me/folders": "/api/v3/users/me/folders/"},
	} {
		for name, path := range want {
			if roots[version][name] != path {
				t.Errorf("%s root: %s = %q, want %q (have %v)", version, name, roots[version][name], path, roots[version])
			}
		}
	}
	for name, path := range roots["v2"] {
		if name == "" || path[len(path)-1] != '/' {
			t.Errorf("v2 root entry %q → %q", name, path)
		}
	}
}

func TestServe(t *testing.T) {
	routes := []httpapi.Route{
		{Name: "list", Method: "GET", Path: "/api/v2/things/"},
		{Name: "create", Method: "POST", Path: "/api/v2/things/"},
		{Name: "get", Method: "GET", Path: "/api/v2/things/{id}/"},
		{Name: "post-only", Method: "POST", Path: "/api/credentials/"},
	}
	h := apiroot.New(routes, httpapi.BaseURL{Public: "https://api.example.com/prod"})
	tests := []struct {
		method, path string
		status       int
		allow        string
	}{
		{"GET", "/api/v2/", 200, ""},
		{"HEAD", "/api/v2", 200, ""},
		{"POST", "/api/v2/", 404, ""},
		{"GET", "/api/v9/", 404, ""},
		{"GET", "/api/v2/nothing/", 404, ""},
		{"DELETE", "/api/v2/things/", 405, "GET, HEAD, POST"},
		{"GET", "/api/credentials/", 405, "POST"},
	}
	for _, tt := range tests {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(tt.method, tt.path, nil)
		status := http.StatusOK
		if err := h.Serve(rec, req); err != nil {
			status = httpapi.Status(errs.Code(err))
		}
		if status != tt.status || rec.Header().Get("Allow") != tt.allow {
			t.Errorf("%s %s: %d Allow %q, want %d Allow %q", tt.method, tt.path, status, rec.Header().Get("Allow"), tt.status, tt.allow)
		}
		if tt.status == 200 && tt.method == "GET" {
			var body map[string]string
			if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
				t.Fatal(err)
			}
			if want := map[string]string{"things": "https://api.example.com/prod/api/v2/things/"}; !maps.Equal(body, want) {
				t.Errorf("root %v, want %v", body, want)
			}
		}
	}
}
