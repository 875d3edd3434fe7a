package customfields

import (
	"encoding/json"
	"github.com/openrescale/platform/shared/httpapi/httpapitest"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	fjobs "github.com/openrescale/platform/functions/jobs"
	"github.com/openrescale/platform/shared/accounts"
	"github.com/openrescale/platform/shared/catalog"
	"github.com/openrescale/platform/shared/customfields"
	"github.com/openrescale/platform/shared/files"
	"github.com/openrescale/platform/shared/httpapi"
	"github.com/openrescale/platform/shared/jobs"
	"github.com/openrescale/platform/shared/store"
	"github.com/openrescale/platform/shared/store/dynamostore/dynamolocal"
	"github.com/openrescale/platform/shared/store/enginetest"
)

type tokens = httpapitest.Tokens

type env struct {
	t *testing.T
	h http.Handler
}

func TestMain(m *testing.M) { dynamolocal.Main(m) }

func newEnv(t *testing.T, st store.Store) *env {
	t.Helper()
	acc := accounts.New(st, time.Now)
	auth := tokens{}
	for _, name := range []string{"alice", "bob", "carol"} {
		u, err := acc.EnsureUser(t.Context(), name+"@example.com")
		if err != nil {
			t.Fatal(err)
		}
		auth["Token "+name] = httpapi.Principal{UserID: u.ID, Email: u.Email, KeyID: "k-" + name}
	}
	cat, err := catalog.Load()
	if err != nil {
		t.Fatal(err)
	}
	fr := files.NewRepo(st)
	js := jobs.New(st, cat, fr, nil, time.Now)
	cf, err := customfields.New(st, js, fr, acc, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	jh := fjobs.Handlers{Jobs: js, Catalog: cat, Files: fr, Users: acc, CustomFields: cf}
	h := Handlers{Fields: cf}
	routes := []httpapi.Route{
		{Name: "jobs-create", Method: "POST", Path: "/api/v2/jobs/", Handler: jh.Create},
		{Name: "jobs-get", Method: "GET", Path: "/api/v2/jobs/{id}/", Handler: jh.Get},
		{Name: "jobs-share", Method: "POST", Path: "/api/v2/jobs/{id}/share/", Handler: jh.Share},
		{Name: "jobs-customfields-list", Method: "GET", Path: "/api/v2/jobs/{id}/custom-fields/", Handler: h.Values},
		{Name: "jobs-customfields-set", Method: "POST", Path: "/api/v2/jobs/{id}/custom-fields/", Handler: h.SetValues},
		{Name: "jobs-customfields-assigned", Method: "GET", Path: "/api/v2/jobs/{id}/custom-fields/assigned/", Handler: h.Assigned},
		{Name: "jobs-customfields-assign", Method: "POST", Path: "/api/v2/jobs/{id}/custom-fields/assigned/", Handler: h.Assign},
		{Name: "workspace-customfields", Method: "GET", Path: "/api/v2/organizations/{org}/workspaces/{ws}/custom-fields/", Handler: h.Workspace},
	}
	hh, err := httpapi.NewHandler(routes, httpapi.Config{Auth: auth})
	if err != nil {
		t.Fatal(err)
	}
	return &env{t: t, h: hh}
}

func (e *env) do(who, method, target, body string) (int, string) {
	e.t.Helper()
	req := httptest.NewRequest(method, target, strings.NewReader(body))
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Authorization", "Token "+who)
	rec := httptest.NewRecorder()
	e.h.ServeHTTP(rec, req)
	return rec.Code, rec.Body.String()
}

const basicJob = `{"name": "Example Job", "jobanalyses": [{"analysis": {"code": "user_included", "version": "0"},
	"command": "echo hi", "hardware": {"coreType": "standard-plus", "coresPerSlot": 1}}]}`

func (e *env) job(who string) string {
	e.t.Helper()
	code, out := e.do(who, "POST", "/api/v2/jobs/", basicJob)
	if code != 201 {
		e.t.Fatalf("create: %d %s", code, out)
	}
	var v struct{ ID string }
	json.Unmarshal([]byte(out), &v)
	return v.ID
}

func TestWorkspaceEndpoint(t *testing.T) {
	enginetest.Run(t, func(t *testing.T, st store.Store) {
		e := newEnv(t, st)
		code, out := e.do("alice", "GET", "/api/v2/organizations/default/workspaces/01-000000001/custom-fields/", "")
		if code != 200 {
			t.Fatalf("%d %s", code, out)
		}
		var v struct {
			Fields    map[string]map[string][]map[string]any
			IsEnabled bool
		}
		if err := json.Unmarshal([]byte(out), &v); err != nil {
			t.Fatal(err)
		}
		ctx := v.Fields["compute"]["Context"]
		if !v.IsEnabled || len(ctx) == 0 || ctx[0]["name"] != "Study" || v.Fields["workstation"] == nil {
			t.Fatalf("%s", out)
		}
		if !strings.Contains(out, `"workstation":{}`) || !strings.Contains(out, `{"name":"Study","valueType":"text","enumOptions":[],"placeholder":"Study Name","helpText":"","isMultiple":false,"isRequired":false,"allowOther":false}`) {
			t.Fatalf("shape %s", out)
		}
		for _, target := range []string{
			"/api/v2/organizations/rescale/workspaces/01-000000001/custom-fields/",
			"/api/v2/organizations/default/workspaces/03-066880176/custom-fields/",
		} {
			if code, out := e.do("alice", "GET", target, ""); code != 404 {
				t.Errorf("%s: %d %s", target, code, out)
			}
		}
	})
}

func TestValueEndpoints(t *testing.T) {
	enginetest.Run(t, func(t *testing.T, st store.Store) {
		e := newEnv(t, st)
		id := e.job("alice")
		base := "/api/v2/jobs/" + id + "/custom-fields/"
		tests := []struct {
			name, who, method, target, body string
			status                          int
			contains                        string
		}{
			{"empty at first", "alice", "GET", base, "", 200, `{}`},
			{"spec example", "alice", "POST", base, `{"Study": "my study"}`, 200,
				`"Study":{"meta":{"name":"Study","valueType":"text","enumOptions":[],"placeholder":"Study Name","helpText":"","isMultiple":false,"isRequired":false,"allowOther":false},"user":"alice@example.com","value":"my study"}`},
			{"date normalised", "alice", "POST", base, `{"Deadline": "2023-12-05T10:00:00Z"}`, 200, `"value":"2023/12/05"`},
			{"all values answered", "alice", "POST", base, `{"Development Status": "Exploration"}`, 200, `"Study":{`},
			{"number as string", "alice", "POST", base, `{"Crank Length": "42"}`, 200, `"value":42}`},
			{"user", "alice", "POST", base, `{"Reviewer": "bob@example.com"}`, 200, `"value":"bob@example.com"`},
			{"unknown user", "alice", "POST", base, `{"Reviewer": "zed@example.com"}`, 400, `"detail":"Reviewer: no user has the email \"zed@example.com\"","field":"customFields.Reviewer"`},
			{"unknown field", "alice", "POST", base, `{"Colour": "red"}`, 400, `"field":"customFields.Colour"`},
			{"bad select", "alice", "POST", base, `{"Development Status": "Done"}`, 400, `Development Status: \"Done\" is not one of the options`},
			{"single where multiple", "alice", "POST", base, `{"Material Property": "Aluminum"}`, 400, `"field":"customFields.Material Property"`},
			{"list where single", "alice", "POST", base, `{"Study": ["a"]}`, 400, `Study: expects a single text value, not a list`},
			{"file not readable", "alice", "POST", base, `{"Reference Report": "abcdef"}`, 400, `"field":"customFields.Reference Report"`},
			{"not an object", "alice", "POST", base, `["Study"]`, 400, `malformed JSON`},
			{"other user's job", "bob", "GET", base, "", 404, `Not found.`},
			{"other user's write", "bob", "POST", base, `{"Study": "x"}`, 404, `Not found.`},
			{"unknown job", "alice", "GET", "/api/v2/jobs/zzzzzz/custom-fields/", "", 404, `Not found.`},
			{"job GET renders values", "alice", "GET", "/api/v2/jobs/" + id + "/", "", 200, `"customFields":{"Crank Length":{`},
			{"share with carol", "alice", "POST", "/api/v2/jobs/" + id + "/share/", `{"email": "carol@example.com"}`, 200, `carol@example.com`},
			{"recipient reads", "carol", "GET", base, "", 200, `"value":"my study"`},
			{"recipient reads job", "carol", "GET", "/api/v2/jobs/" + id + "/", "", 200, `"user":"alice@example.com","value":"2023/12/05"`},
			{"recipient cannot write", "carol", "POST", base, `{"Study": "x"}`, 403, `permission`},
			{"recipient cannot assign", "carol", "POST", base + "assigned/", `{"fields": {"Context": []}}`, 403, `permission`},
			{"recipient lists assigned", "carol", "GET", base + "assigned/", "", 200, `"fields":{"Context":[{"name":"Study"`},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				code, out := e.do(tt.who, tt.method, tt.target, tt.body)
				if code != tt.status || !strings.Contains(out, tt.contains) {
					t.Fatalf("%d %s; want %d containing %s", code, out, tt.status, tt.contains)
				}
			})
		}
	})
}

func TestAssignEndpoints(t *testing.T) {
	enginetest.Run(t, func(t *testing.T, st store.Store) {
		e := newEnv(t, st)
		id := e.job("alice")
		base := "/api/v2/jobs/" + id + "/custom-fields/assigned/"
		code, before := e.do("alice", "GET", base, "")
		if code != 200 || !strings.Contains(before, `"Findings":[`) || !strings.Contains(before, `"Inputs":[`) {
			t.Fatalf("%d %s", code, before)
		}
		// The GET answer posted back changes nothing.
		if code, out := e.do("alice", "POST", base, before); code != 200 || out != before {
			t.Fatalf("round trip: %d\n%s\n%s", code, out, before)
		}
		tests := []struct {
			name, body string
			status     int
			contains   string
		}{
			{"add one", `{"fields": {"Inputs": [{"name": "Mesh Size", "valueType": "number"}]}}`, 200, `{"name":"Mesh Size","valueType":"number","enumOptions":[],"placeholder":"","helpText":"","isMultiple":false,"isRequired":false,"allowOther":false}]`},
			{"no fields", `{}`, 400, `"field":"fields"`},
			{"bad category", `{"fields": {"Outputs": []}}`, 400, `"field":"fields.Outputs"`},
			{"bad type", `{"fields": {"Inputs": [{"name": "x", "valueType": "bool"}]}}`, 400, `"field":"fields.Inputs[0].valueType"`},
			{"redefine workspace field", `{"fields": {"Context": [{"name": "Study", "valueType": "number"}]}}`, 400, `\"Study\" is a workspace field`},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				code, out := e.do("alice", "POST", base, tt.body)
				if code != tt.status || !strings.Contains(out, tt.contains) {
					t.Fatalf("%d %s; want %d containing %s", code, out, tt.status, tt.contains)
				}
			})
		}
		if code, out := e.do("alice", "POST", "/api/v2/jobs/"+id+"/custom-fields/", `{"Mesh Size": 0.25}`); code != 200 || !strings.Contains(out, `"value":0.25`) {
			t.Fatalf("value of an assigned field: %d %s", code, out)
		}
		if code, out := e.do("bob", "GET", base, ""); code != 404 {
			t.Fatalf("other user: %d %s", code, out)
		}
	})
}
