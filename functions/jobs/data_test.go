package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/openrescale/platform/shared/customfields"
	"github.com/openrescale/platform/shared/files"
	"github.com/openrescale/platform/shared/jobs"
)

func TestDataParameters(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		today := time.Now().UTC().Format(time.DateOnly)
		tomorrow := time.Now().UTC().AddDate(0, 0, 1).Format(time.DateOnly)
		tests := []struct {
			name, target string
			status       int
			contains     string
		}{
			{"unknown field", "/api/v2/data/jobs/?fields=name,colour", 400, `"field":"fields"`},
			{"bad createdBefore", "/api/v2/data/jobs/?createdBefore=15/11/2023", 400, `"field":"createdBefore"`},
			{"bad createdAfter", "/api/v2/data/jobs/?createdAfter=2023-13-01", 400, `"field":"createdAfter"`},
			{"limit too big", "/api/v2/data/jobs/?limit=10001", 400, `"field":"limit"`},
			{"negative limit", "/api/v2/data/jobs/?limit=-1", 400, `"field":"limit"`},
			{"limit not a number", "/api/v2/data/jobs/?limit=ten", 400, `"field":"limit"`},
			{"negative offset", "/api/v2/data/jobs/?offset=-2", 400, `"field":"offset"`},
			{"max limit", "/api/v2/data/jobs/?limit=10000", 200, `"count":3`},
			{"no slash", "/api/v2/data/jobs?limit=1", 200, `"count":3`},
			{"spec's all parameters", "/api/v2/data/jobs/?limit=5&offset=2&fields=job_internal_id,name,owner,job_id&createdBefore=2023-11-15", 400, `"field":"fields"`},
			{"aliases", "/api/v2/data/jobs/?fields=date_inserted,study_name,study_short_name,study_description", 200, `"count":3`},
			{"created today", "/api/v2/data/jobs/?createdAfter=" + today + "&createdBefore=" + tomorrow, 200, `"count":3`},
			{"created before today", "/api/v2/data/jobs/?createdBefore=" + today, 200, `"count":0,"next":null,"previous":null,"results":[]`},
			{"fields", "/api/v2/data/jobs/fields/", 200, `{"fields":["date_created","name","status","owner","workspace","project","hardware","job_analyses","priority","tags","custom_values","job_id","study"]}`},
			{"fields without slash", "/api/v2/data/jobs/fields", 200, `"fields":[`},
		}
		for range 3 {
			e.create("alice", basicJob)
		}
		e.create("bob", basicJob)
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				code, out := e.do("alice", "GET", tt.target, "")
				if code != tt.status || !strings.Contains(out, tt.contains) {
					t.Fatalf("%d %s, want %d with %s", code, out, tt.status, tt.contains)
				}
			})
		}
	})
}

type dataResp struct {
	Count    int              `json:"count"`
	Next     *string          `json:"next"`
	Previous *string          `json:"previous"`
	Results  []map[string]any `json:"results"`
}

func TestDataResults(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		var ids []string
		for i := range 5 {
			j := e.create("alice", strings.Replace(basicJob, "Example Job", fmt.Sprintf("job %d", i), 1))
			ids = append(ids, j["id"].(string))
		}
		code, out := e.do("alice", "POST", "/api/v2/jobs/"+ids[4]+"/tags/", `{"name": "aimodelhardware"}`)
		if code != 201 {
			t.Fatal(code, out)
		}
		get := func(target string) dataResp {
			t.Helper()
			code, out := e.do("alice", "GET", target, "")
			if code != 200 {
				t.Fatalf("%s: %d %s", target, code, out)
			}
			var r dataResp
			if err := json.Unmarshal([]byte(out), &r); err != nil {
				t.Fatal(err)
			}
			return r
		}
		str := func(p *string) string {
			if p == nil {
				return "null"
			}
			return *p
		}
		tests := []struct {
			target         string
			count          int
			names          []string
			next, previous string
			keys           []string // keys of every result
		}{
			{"/api/v2/data/jobs/", 5, []string{"job 4", "job 3", "job 2", "job 1", "job 0"}, "null", "null",
				[]string{"dateCreated", "name", "status", "owner", "workspace", "project", "hardware", "jobAnalyses", "priority", "tags", "customValues", "jobId", "study"}},
			{"/api/v2/data/jobs/?limit=2&fields=name", 5, []string{"job 4", "job 3"},
				"http://example.com/api/v2/data/jobs/?fields=name&limit=2&offset=2", "null", []string{"name"}},
			{"/api/v2/data/jobs/?limit=2&offset=2&fields=name,job_id", 5, []string{"job 2", "job 1"},
				"http://example.com/api/v2/data/jobs/?fields=name%2Cjob_id&limit=2&offset=4", "http://example.com/api/v2/data/jobs/?fields=name%2Cjob_id&limit=2&offset=0", []string{"name", "jobId"}},
			{"/api/v2/data/jobs/?limit=2&offset=4&fields=name", 5, []string{"job 0"},
				"null", "http://example.com/api/v2/data/jobs/?fields=name&limit=2&offset=2", []string{"name"}},
			{"/api/v2/data/jobs/?limit=2&offset=9&fields=name", 5, nil,
				"null", "http://example.com/api/v2/data/jobs/?fields=name&limit=2&offset=3", nil},
			{"/api/v2/data/jobs/?limit=0", 5, nil, "null", "null", nil},
		}
		for _, tt := range tests {
			t.Run(tt.target, func(t *testing.T) {
				r := get(tt.target)
				var names []string
				for _, res := range r.Results {
					if len(res) != len(tt.keys) {
						t.Fatalf("keys %v, want %v", res, tt.keys)
					}
					for _, k := range tt.keys {
						if _, ok := res[k]; !ok {
							t.Fatalf("result %v lacks %s", res, k)
						}
					}
					names = append(names, res["name"].(string))
				}
				if r.Count != tt.count || fmt.Sprint(names) != fmt.Sprint(tt.names) || str(r.Next) != tt.next || str(r.Previous) != tt.previous {
					t.Fatalf("got %d %v next=%s prev=%s", r.Count, names, str(r.Next), str(r.Previous))
				}
			})
		}
		// The first result in full, against the spec's sample shape.
		r := get("/api/v2/data/jobs/?limit=1")
		b, _ := json.Marshal(r.Results[0])
		got := string(b)
		for _, want := range []string{
			`"jobId":"` + ids[4] + `"`, `"tags":["aimodelhardware"]`, `"owner":"alice@example.com"`, `"status":{}`,
			`"priority":"od"`, `"customValues":{}`, `"study":{}`, `"workspace":{}`, `"project":{}`,
			`"jobAnalyses":[{"analysisName":"Custom User-Defined Software","analysisType":"compute","analysisVersion":"0"}]`,
			`"hardware":{"autosuspend":false,"clusterStartTime":null,"coresPerSlot":1,"coretype":{"acronym":"SP","name":`,
		} {
			if !strings.Contains(got, want) {
				t.Errorf("result %s lacks %s", got, want)
			}
		}
		if d, _ := r.Results[0]["dateCreated"].(string); len(d) != len("2024-11-14 21:34:36") || d[10] != ' ' {
			t.Errorf("dateCreated %q", d)
		}
		// Bob sees none of alice's jobs.
		code, out = e.do("bob", "GET", "/api/v2/data/jobs/", "")
		if code != 200 || !strings.Contains(out, `"count":0`) {
			t.Fatalf("bob: %d %s", code, out)
		}
	})
}

func TestSearchMatchesFileTags(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		tag, err := files.NewTag("Wind-Tunnel")
		if err != nil {
			t.Fatal(err)
		}
		_, err = e.files.Create(t.Context(), files.File{ID: "inTag", OwnerID: e.alice.UserID, OwnerEmail: e.alice.Email, Name: "a.zip",
			TypeID: files.TypeInput, DateUploaded: time.Now(), Key: files.NewKey(e.alice.UserID, "a.zip"), Size: 7, IsUploaded: true,
			Tags: []files.Tag{tag}})
		if err != nil {
			t.Fatal(err)
		}
		withFile := e.create("alice", strings.Replace(basicJob, `"coresPerSlot": 1}`, `"coresPerSlot": 1}, "inputFiles": [{"id": "inTag"}]`, 1))
		own := e.create("alice", strings.Replace(basicJob, "Example Job", "own tag", 1))
		if code, out := e.do("alice", "POST", "/api/v2/jobs/"+own["id"].(string)+"/tags/", `{"name": "windtunnel"}`); code != 201 {
			t.Fatal(code, out)
		}
		e.create("alice", strings.Replace(basicJob, "Example Job", "untagged", 1))
		// Shared with bob: the file is alice's, and still counts.
		if code, out := e.do("alice", "POST", "/api/v2/jobs/"+withFile["id"].(string)+"/share/", `{"email": "bob@example.com"}`); code != 200 {
			t.Fatal(code, out)
		}
		tests := []struct {
			who, q string
			count  int
		}{
			{"alice", "%23windtunnel", 2},
			{"alice", "%23wind-tunnel", 2},
			{"alice", "not+%23windtunnel", 1},
			{"alice", "%23windtunnel+and+own", 1},
			{"alice", "%23nosuch", 0},
			{"bob", "%23windtunnel&f=2", 1},
		}
		for _, tt := range tests {
			t.Run(tt.who+" "+tt.q, func(t *testing.T) {
				code, out := e.do(tt.who, "GET", "/api/v2/jobs/?q="+tt.q, "")
				if code != 200 || !strings.Contains(out, fmt.Sprintf(`"count":%d,`, tt.count)) {
					t.Fatalf("%d %s, want count %d", code, out, tt.count)
				}
			})
		}
	})
}

// failingValues stands in for a custom-fields store that fails, the one
// thing the real service cannot be made to do here.
type failingValues struct{}

func (failingValues) JobValues(context.Context, jobs.Job) (map[string]customfields.Value, error) {
	return nil, errors.New("store down")
}

// customValues comes from the real custom-fields store: values set
// through it are the ones /api/v2/data/jobs/ lists, per job.
func TestDataCustomValues(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		var ids []string
		for i := range 20 {
			ids = append(ids, e.create("alice", strings.Replace(basicJob, "Example Job", fmt.Sprintf("job %d", i), 1))["id"].(string))
		}
		owner := jobs.Owner{UserID: e.alice.UserID, Email: e.alice.Email}
		// Every third job gets values, each its own.
		for i, id := range ids {
			if i%3 != 0 {
				continue
			}
			values := map[string]json.RawMessage{"Study": json.RawMessage(fmt.Sprintf(`"study %d"`, i)), "Crank Length": json.RawMessage(fmt.Sprint(i))}
			if _, err := e.fields.SetValues(t.Context(), owner, id, values); err != nil {
				t.Fatal(err)
			}
		}
		code, out := e.do("alice", "GET", "/api/v2/data/jobs/?limit=100&fields=job_id,custom_values", "")
		if code != 200 {
			t.Fatalf("%d %s", code, out)
		}
		var page dataResp
		if err := json.Unmarshal([]byte(out), &page); err != nil || len(page.Results) != len(ids) {
			t.Fatalf("%v: %s", err, out)
		}
		for _, res := range page.Results {
			id := res["jobId"].(string)
			i := slices.Index(ids, id)
			got, _ := json.Marshal(res["customValues"])
			want := "{}"
			if i%3 == 0 {
				want = fmt.Sprintf(`{"Crank Length":%d,"Study":"study %d"}`, i, i)
			}
			if string(got) != want {
				t.Errorf("job %d (%s) customValues %s, want %s", i, id, got, want)
			}
		}
		// Without custom_values in fields there are none.
		if code, out := e.do("alice", "GET", "/api/v2/data/jobs/?fields=name", ""); code != 200 || strings.Contains(out, "customValues") {
			t.Fatalf("fields=name: %d %s", code, out)
		}
	})
	// A store failure is an error, not a page of empty values.
	if _, err := (Handlers{CustomFields: failingValues{}}).dataCustomValues(t.Context(), []jobs.Job{{ID: "j1"}, {ID: "j2"}}); err == nil {
		t.Fatal("error lost")
	}
	if got, err := (Handlers{}).dataCustomValues(t.Context(), []jobs.Job{{ID: "j1"}}); err != nil || got[0] != nil {
		t.Fatalf("without custom fields: %q %v", got, err)
	}
}
