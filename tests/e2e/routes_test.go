package e2e

import (
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/openrescale/platform/functions/api"
	"github.com/openrescale/platform/shared/httpapi"
)

// TestEveryRouteIsServed walks the real route table (api.Routes and
// api.LocalRoutes, as the server mounts them) through the real binary:
// every route answers 401 without a key unless it is Public, and with a key
// is routed, answering neither 404 nor 405. Path parameters are filled
// with real objects (a running job, its run, cluster and task, a file, a
// folder, an upload), so a 404 can only mean the path is not mounted.
// A route added to the table is covered without changing this test; a
// path parameter it does not know fails it, naming the route.
func TestEveryRouteIsServed(t *testing.T) {
	s := start(t, t.TempDir(), []string{"RESCALE_LOCAL_API_KEY=" + testKey})
	c := jobClient{t: t, s: s, key: testKey}

	file := c.upload("input.txt", []byte("one\ntwo\n"))
	job := c.createJob("routes", "user_included", "", "echo started > started.txt; sleep 120", file)
	c.post("/api/v2/jobs/"+job+"/submit/", 200)
	for deadline := time.Now().Add(60 * time.Second); ; {
		r := do(t, "GET", s.URL+"/api/v2/jobs/"+job+"/runs/1/directory-contents/", testKey, nil)
		if r.Status == 200 && strings.Contains(string(r.Body), `"started.txt"`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the job's run never wrote started.txt: %d %s\n%s", r.Status, r.Body, s.Stdout())
		}
		time.Sleep(50 * time.Millisecond)
	}
	var clusters page[struct{ ID string }]
	c.get("/api/v3/jobs/"+job+"/clusters/", &clusters)
	if len(clusters.Results) != 1 {
		t.Fatalf("clusters: %+v", clusters)
	}
	cluster := clusters.Results[0].ID
	r := do(t, "POST", s.URL+"/api/v3/clusters/"+cluster+"/tasks/", testKey,
		strings.NewReader(fmt.Sprintf(`{"type": "Snapshot", "run": {"job": %q, "id": "1"}}`, job)))
	if r.Status != 201 {
		t.Fatalf("snapshot task: %d %s", r.Status, r.Body)
	}
	task := r.JSON(t)["id"].(string)
	var roots map[string]string
	c.get("/api/v3/users/me/folders/", &roots)
	folder := roots["MyLibrary"]
	r = do(t, "POST", s.URL+"/api/v2/uploads/", testKey, strings.NewReader(`{"name": "big.bin", "size": 10}`))
	if r.Status != 201 {
		t.Fatalf("upload session: %d %s", r.Status, r.Body)
	}
	upload := r.JSON(t)["id"].(string)
	r = do(t, "POST", s.URL+"/api/v2/users/me/api-keys/", testKey, strings.NewReader(`{}`))
	if r.Status != 201 {
		t.Fatalf("spare key: %d %s", r.Status, r.Body)
	}
	spareKey := r.JSON(t)["id"].(string)
	var fileRec map[string]any
	c.get("/api/v2/files/"+file+"/", &fileRec)

	// Values for path parameters, by route name prefix and parameter.
	ids := map[string]string{"jobs": job, "files": file, "folders": folder, "uploads": upload,
		"clusters": cluster, "apikeys": spareKey, "users": spareKey}
	params := map[string]string{"run": "1", "task": task, "n": "1", "org": "default", "ws": "01-000000001",
		"key...": fileRec["path"].(string)}
	wildcards := map[string]string{"runs-tail": "started.txt", "api-root": "v2/"}
	paramRE := regexp.MustCompile(`\{([^}]+)\}`)
	fill := func(rt httpapi.Route) string {
		return paramRE.ReplaceAllStringFunc(rt.Path, func(m string) string {
			name := strings.Trim(m, "{}")
			if v, ok := wildcards[rt.Name]; ok && strings.HasSuffix(name, "...") {
				return v
			}
			if v, ok := params[name]; ok {
				return v
			}
			if name == "id" {
				// The first path segment naming a collection that holds it.
				for _, seg := range strings.Split(rt.Path, "/") {
					if v, ok := ids[seg]; ok {
						return v
					}
				}
				if v, ok := ids[strings.SplitN(rt.Name, "-", 2)[0]]; ok {
					return v
				}
			}
			if strings.HasSuffix(name, "...") {
				return "" // a catch-all with nothing after it
			}
			t.Fatalf("route %s (%s): no value for path parameter {%s}; add one to this test", rt.Name, rt.Path, name)
			return ""
		})
	}

	routes := append(api.Routes(api.Deps{}), api.LocalRoutes(api.Deps{})...)
	inTable := map[string]bool{}
	for _, rt := range routes {
		inTable[rt.Method+" "+rt.Path] = true
	}
	for _, want := range documentedRoutes {
		if !inTable[want] {
			t.Errorf("documented route %s is not in the route table", want)
		}
	}
	// Routes that end or delete what later routes need go last.
	last := func(rt httpapi.Route) bool {
		return rt.Method == http.MethodDelete || slices.Contains(rt.Needs, httpapi.StopExecution)
	}
	slices.SortStableFunc(routes, func(a, b httpapi.Route) int {
		switch {
		case last(a) == last(b):
			return 0
		case last(a):
			return 1
		}
		return -1
	})
	for _, rt := range routes {
		method := rt.Method
		if method == httpapi.AnyMethod {
			method = http.MethodGet
		}
		url := s.URL + fill(rt)
		var body func() *strings.Reader
		if method == http.MethodPost || method == http.MethodPut || method == http.MethodPatch {
			body = func() *strings.Reader { return strings.NewReader(`{}`) }
		}
		send := func(key string) response {
			if body == nil {
				return do(t, method, url, key, nil)
			}
			return do(t, method, url, key, body())
		}
		t.Run(rt.Name, func(t *testing.T) {
			if !rt.Public {
				if r := send(""); r.Status != http.StatusUnauthorized {
					t.Errorf("%s %s without a key: %d, want 401: %s", method, url, r.Status, r.Body)
				}
			}
			r := send(testKey)
			if r.Status == http.StatusNotFound || r.Status == http.StatusMethodNotAllowed {
				t.Errorf("%s %s with a key: %d: %s", method, url, r.Status, r.Body)
			}
			t.Logf("%s %s: %d", method, url, r.Status)
		})
	}
}

// documentedRoutes is the API's surface as docs/api-decisions.md and the
// spec describe it, written out so that renaming or dropping a path in the
// route table fails here (the walk above follows the table, whatever it
// says). New routes need not be listed; removing one from here is a
// deliberate API change.
var documentedRoutes = []string{
	"PUT /api/v2/uploads/{id}/parts/{n}/",
	"PUT /api/v2/storage/{key...}",
	"GET /api/v2/storage/{key...}",
	"GET /healthz",
	"GET /api/v2/openapi.json/",
	"GET /api/v2/coretypes/",
	"GET /api/v2/analyses/",
	"GET /api/v2/billing/computeprices/",
	"GET /api/v2/users/me/api-keys/",
	"POST /api/v2/users/me/api-keys/",
	"DELETE /api/v2/users/me/api-keys/{id}/",
	"GET /api/v2/jobs/",
	"POST /api/v2/jobs/",
	"DELETE /api/v2/jobs/",
	"GET /api/v2/jobs/{id}/",
	"PATCH /api/v2/jobs/{id}/",
	"PUT /api/v2/jobs/{id}/",
	"DELETE /api/v2/jobs/{id}/",
	"GET /api/v2/jobs/{id}/tags/",
	"POST /api/v2/jobs/{id}/tags/",
	"DELETE /api/v2/jobs/{id}/tags/",
	"POST /api/v2/jobs/{id}/share/",
	"GET /api/v2/jobs/{id}/custom-fields/",
	"POST /api/v2/jobs/{id}/custom-fields/",
	"GET /api/v2/jobs/{id}/custom-fields/assigned/",
	"POST /api/v2/jobs/{id}/custom-fields/assigned/",
	"GET /api/v2/organizations/{org}/workspaces/{ws}/custom-fields/",
	"GET /api/v2/data/jobs/",
	"GET /api/v2/data/jobs/fields/",
	"POST /api/v2/jobs/{id}/submit/",
	"POST /api/v2/jobs/{id}/stop/",
	"POST /api/v2/jobs/{id}/force_stop/",
	"POST /api/v2/jobs/{id}/shutdown/",
	"GET /api/v2/jobs/{id}/statuses/",
	"GET /api/v2/jobs/{id}/cluster_statuses/",
	"GET /api/v2/jobs/{id}/extendedlogs/",
	"GET /api/v2/jobs/{id}/instances/",
	"GET /api/v2/jobs/{id}/files/",
	"GET /api/v2/jobs/{id}/runs/",
	"GET /api/v2/jobs/{id}/runs/{run}/",
	"GET /api/v2/jobs/{id}/runs/{run}/files/",
	"POST /api/v2/jobs/{id}/runs/{run}/stop/",
	"GET /api/v2/jobs/{id}/runs/{run}/directory-contents/",
	"GET /api/v2/jobs/{id}/runs/{run}/tail/{path...}",
	"GET /api/v3/jobs/{id}/clusters/",
	"POST /api/v3/clusters/{id}/tasks/",
	"GET /api/v3/clusters/{id}/tasks/{task}/",
	"GET /api/v3/clusters/{id}/tasks/{task}/results/",
	"GET /api/v2/files/",
	"POST /api/v2/files/contents/",
	"PUT /api/v2/files/contents/",
	"GET /api/v2/files/{id}/",
	"PATCH /api/v2/files/{id}/",
	"DELETE /api/v2/files/{id}/",
	"GET /api/v2/files/{id}/contents/",
	"HEAD /api/v2/files/{id}/contents/",
	"GET /api/v2/files/{id}/lines/",
	"GET /api/v2/files/{id}/tags/",
	"POST /api/v2/files/{id}/tags/",
	"DELETE /api/v2/files/{id}/tags/",
	"POST /api/v2/uploads/",
	"GET /api/v2/uploads/{id}/",
	"DELETE /api/v2/uploads/{id}/",
	"POST /api/v2/uploads/{id}/parts/",
	"POST /api/v2/uploads/{id}/complete/",
	"POST /api/credentials/",
	"POST /api/v2/credentials/",
	"GET /api/v3/users/me/folders/",
	"POST /api/v3/folders/{id}/",
	"GET /api/v3/folders/{id}/",
	"DELETE /api/v3/folders/{id}/",
	"GET /api/v3/folders/{id}/contents/",
	"ANY /api/{path...}",
}
