package jobs

import (
	"encoding/json"
	"github.com/openrescale/platform/shared/httpapi/httpapitest"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

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
	t          *testing.T
	h          http.Handler
	alice, bob httpapi.Principal
	files      *files.Repo
	fields     *customfields.Service
}

func TestMain(m *testing.M) { dynamolocal.Main(m) }

// each runs fn on a fresh env per store engine (bbolt, DynamoDB Local).
func each(t *testing.T, fn func(t *testing.T, e *env)) {
	for _, eng := range enginetest.Engines() {
		t.Run(eng.Name, func(t *testing.T) { fn(t, newEnv(t, eng.Open(t))) })
	}
}

// ticking is a clock that moves 1 ms at every reading, so creation times
// are distinct and ordered without sleeping.
type ticking struct{ ns atomic.Int64 }

func newTicking() *ticking {
	c := &ticking{}
	c.ns.Store(time.Now().UnixNano())
	return c
}

func (c *ticking) now() time.Time { return time.Unix(0, c.ns.Add(int64(time.Millisecond))).UTC() }

func newEnv(t *testing.T, st store.Store) *env {
	t.Helper()
	clock := newTicking()
	acc := accounts.New(st, clock.now)
	a, err := acc.EnsureUser(t.Context(), "alice@example.com")
	if err != nil {
		t.Fatal(err)
	}
	b, err := acc.EnsureUser(t.Context(), "bob@example.com")
	if err != nil {
		t.Fatal(err)
	}
	cat, err := catalog.Load()
	if err != nil {
		t.Fatal(err)
	}
	fr := files.NewRepo(st)
	js := jobs.New(st, cat, fr, nil, clock.now)
	// The real custom-fields service, as the route table wires it.
	cf, err := customfields.New(st, js, fr, acc, clock.now)
	if err != nil {
		t.Fatal(err)
	}
	hs := Handlers{Jobs: js, Catalog: cat, Files: fr, Users: acc, CustomFields: cf}
	routes := []httpapi.Route{
		{Name: "jobs-list", Method: "GET", Path: "/api/v2/jobs/", Handler: hs.List},
		{Name: "jobs-create", Method: "POST", Path: "/api/v2/jobs/", Handler: hs.Create},
		{Name: "jobs-delete-many", Method: "DELETE", Path: "/api/v2/jobs/", Handler: hs.DeleteMany},
		{Name: "jobs-get", Method: "GET", Path: "/api/v2/jobs/{id}/", Handler: hs.Get},
		{Name: "jobs-patch", Method: "PATCH", Path: "/api/v2/jobs/{id}/", Handler: hs.Patch},
		{Name: "jobs-put", Method: "PUT", Path: "/api/v2/jobs/{id}/", Handler: hs.Put},
		{Name: "jobs-delete", Method: "DELETE", Path: "/api/v2/jobs/{id}/", Handler: hs.Delete},
		{Name: "jobs-tags-list", Method: "GET", Path: "/api/v2/jobs/{id}/tags/", Handler: hs.ListTags},
		{Name: "jobs-tags-add", Method: "POST", Path: "/api/v2/jobs/{id}/tags/", Handler: hs.AddTag},
		{Name: "jobs-tags-remove", Method: "DELETE", Path: "/api/v2/jobs/{id}/tags/", Handler: hs.RemoveTag},
		{Name: "jobs-share", Method: "POST", Path: "/api/v2/jobs/{id}/share/", Handler: hs.Share},
		{Name: "data-jobs-list", Method: "GET", Path: "/api/v2/data/jobs/", Handler: hs.DataList},
		{Name: "data-jobs-fields", Method: "GET", Path: "/api/v2/data/jobs/fields/", Handler: hs.DataFields},
	}
	e := &env{t: t, files: fr, fields: cf,
		alice: httpapi.Principal{UserID: a.ID, Email: a.Email, KeyID: "k1"},
		bob:   httpapi.Principal{UserID: b.ID, Email: b.Email, KeyID: "k2"}}
	h, err := httpapi.NewHandler(routes, httpapi.Config{Auth: tokens{"Token alice": e.alice, "Token bob": e.bob}})
	if err != nil {
		t.Fatal(err)
	}
	e.h = h
	return e
}

func (e *env) do(who, method, target, body string) (int, string) {
	e.t.Helper()
	var req *http.Request
	if body == "" {
		req = httptest.NewRequest(method, target, nil)
	} else {
		req = httptest.NewRequest(method, target, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Authorization", "Token "+who)
	rec := httptest.NewRecorder()
	e.h.ServeHTTP(rec, req)
	return rec.Code, rec.Body.String()
}

func (e *env) create(who, body string) map[string]any {
	e.t.Helper()
	code, out := e.do(who, "POST", "/api/v2/jobs/", body)
	if code != 201 {
		e.t.Fatalf("create: %d %s", code, out)
	}
	var v map[string]any
	json.Unmarshal([]byte(out), &v)
	return v
}

const basicJob = `{"name": "Example Job", "jobanalyses": [{"analysis": {"code": "user_included", "version": "0"},
	"command": "echo \"Hello world\"", "hardware": {"coreType": "standard-plus", "coresPerSlot": 1}}]}`

func TestCreateRendersSpecShape(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		_, err := e.files.Create(t.Context(), files.File{ID: "inF1", OwnerID: e.alice.UserID, OwnerEmail: e.alice.Email, Name: "a.zip",
			TypeID: 1, DateUploaded: time.Now(), Key: files.NewKey(e.alice.UserID, "a.zip"), Size: 7, MD5: "abc", IsUploaded: true})
		if err != nil {
			t.Fatal(err)
		}
		code, out := e.do("alice", "POST", "/api/v2/jobs/", `{"name": "Basic Job", "jobanalyses": [{"useMpi": false, "command": "./airFoil2D/Allrun",
		"analysis": {"code": "openfoam"}, "hardware": {"coresPerSlot": "1", "slots": 1, "coreType": "standard-plus"}, "inputFiles": [{"id": "inF1"}]}]}`)
		if code != 201 {
			t.Fatalf("%d %s", code, out)
		}
		for _, want := range []string{
			`"archiveFilters":[],"billingPriorityValue":null,"caseFile":null,"expectedRuns":1,"id":"`,
			`"includeNominalRun":false,"isLowPriority":false,"isTemplateDryRun":false,"jobanalyses":[{"analysis":{"code":"openfoam","name":"OpenFOAM","version":"v1912-openmpi","versionName":"v1912"}`,
			`"envVars":{},"flags":{},"hardware":{"coreSummary":{"memoryPerNode":3750,"numberOfNodes":1.0,"storagePerNode":4000,"gpusPerNode":0},"coreType":"standard-plus","coresPerSlot":1,"slots":1,"walltime":null}`,
			`"inputFiles":[{`, `"id":"inF1"`, `"downloadUrl":"http://example.com/api/v2/files/inF1/contents/"`,
			`"postProcessScript":null,"postProcessScriptCommand":"","preProcessScript":null,"preProcessScriptCommand":"","templateTasks":[],"useRescaleLicense":false`,
			`"jobvariables":[],"customFields":{},"userTags":[],"monteCarloIterations":null,"name":"Basic Job","optimizer":null,"owner":"alice@example.com","paramFile":null,"projectId":null,"remoteVizConfig":null,"resourceFilters":[]}`,
		} {
			if !strings.Contains(out, want) {
				t.Errorf("response lacks %s\n%s", want, out)
			}
		}
		var v map[string]any
		json.Unmarshal([]byte(out), &v)
		code, got := e.do("alice", "GET", "/api/v2/jobs/"+v["id"].(string)+"/", "")
		if code != 200 || got != out {
			t.Fatalf("GET differs from create: %d\n%s\n%s", code, got, out)
		}
		if code, _ := e.do("bob", "GET", "/api/v2/jobs/"+v["id"].(string)+"/", ""); code != 404 {
			t.Fatalf("bob GET: %d", code)
		}
	})
}

func TestCreateCoreClassAndLicences(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		_, out := e.do("alice", "POST", "/api/v2/jobs/", `{"name": "Example Job", "jobanalyses": [{"analysis": {"code": "user_included", "version": "0"},
		"command": "echo", "hardware": {"coreClass": {"code": "standard-plus-od-hpc-3-od"}, "coresPerSlot": 1}}]}`)
		if !strings.Contains(out, `"coreClass":{"acronym":"SP","code":"standard-plus-od-hpc-3-od","coreTypeConfigs":[{"coreType":"standard-plus","name":"Marble","order":0,"priority":"od"},{"coreType":"hpc-3"`) ||
			strings.Contains(out, `"coreType":"",`) {
			t.Fatalf("coreClass render: %s", out)
		}
		_, out = e.do("alice", "POST", "/api/v2/jobs/", `{"name": "Example Job", "jobanalyses": [{"analysis": {"code": "ls_dyna", "version": "13.0.0"},
		"command": "ls-dyna -i <input> -p <precision>", "hardware": {"coreType": "emerald", "coresPerSlot": 1, "slots": 1, "type": "compute", "walltime": 24},
		"envVars": {"LSTC_LICENSE_SERVER": "25678@172.00.00.000"}, "onDemandLicenseSeller": null,
		"userDefinedLicenseSettings": {"featureSets": [{"name": "USER_SPECIFIED", "features": [{"name": "MPPDYNA_971", "count": 1}, {"name": "LS-DYNA", "count": 1}]}]}}]}`)
		for _, want := range []string{`"versionName":"R13.0.0"`, `"walltime":24,"type":"compute"`, `"envVars":{"LSTC_LICENSE_SERVER":"25678@172.00.00.000"}`,
			`"onDemandLicenseSeller":null,"userDefinedLicenseSettings":{"featureSets":[{"name":"USER_SPECIFIED","features":[{"name":"MPPDYNA_971","count":1},{"name":"LS-DYNA","count":1}]}]}`} {
			if !strings.Contains(out, want) {
				t.Errorf("lacks %s\n%s", want, out)
			}
		}
	})
}

func TestErrors(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		tests := []struct {
			name, method, target, body string
			status                     int
			contains                   string
		}{
			{"empty body", "POST", "/api/v2/jobs/", "", 400, `"field":"name"`},
			{"indexed field", "POST", "/api/v2/jobs/", strings.Replace(basicJob, `"coresPerSlot": 1`, `"coresPerSlot": 3`, 1), 400, `"field":"jobanalyses[0].hardware.coresPerSlot"`},
			{"type error", "POST", "/api/v2/jobs/", strings.Replace(basicJob, `"coresPerSlot": 1`, `"coresPerSlot": [1]`, 1), 400, `"field":"jobanalyses[0].hardware.coresPerSlot"`},
			{"malformed", "POST", "/api/v2/jobs/", `{"name":`, 400, `malformed JSON`},
			{"bad f", "GET", "/api/v2/jobs/?f=3", "", 400, `"field":"f"`},
			{"bad job_status", "GET", "/api/v2/jobs/?job_status=SAVED", "", 400, `"field":"job_status"`},
			{"bad state", "GET", "/api/v2/jobs/?state=done", "", 400, `"field":"state"`},
			{"q syntax", "GET", "/api/v2/jobs/?q=%28x", "", 400, `"field":"q"`},
			{"unknown job", "GET", "/api/v2/jobs/nosuch/", "", 404, `Not found.`},
			{"bad id", "GET", "/api/v2/jobs/no-such/", "", 404, `Not found.`},
			{"bulk delete without ids", "DELETE", "/api/v2/jobs/", `{}`, 400, `"field":"jobIds"`},
			{"share without email", "POST", "/api/v2/jobs/abc/share/", `{}`, 400, `"field":"email"`},
			{"share unknown user", "POST", "/api/v2/jobs/abc/share/", `{"email": "nobody@example.com"}`, 400, `"field":"email"`},
			{"tag without name", "POST", "/api/v2/jobs/abc/tags/", `{}`, 400, `"field":"name"`},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				code, out := e.do("alice", tt.method, tt.target, tt.body)
				if code != tt.status || !strings.Contains(out, tt.contains) {
					t.Fatalf("%d %s, want %d with %s", code, out, tt.status, tt.contains)
				}
			})
		}
	})
}

func TestLifecycle(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		j1 := e.create("alice", basicJob)["id"].(string)
		j2 := e.create("alice", strings.Replace(basicJob, "Example Job", "Second", 1))["id"].(string)
		e.create("bob", basicJob)

		code, out := e.do("alice", "GET", "/api/v2/jobs/?page_size=1", "")
		if code != 200 || !strings.Contains(out, `"count":2`) || !strings.Contains(out, `"id":"`+j2+`"`) || !strings.Contains(out, `"next":"http://example.com/api/v2/jobs/?page=2&page_size=1"`) {
			t.Fatalf("list: %d %s", code, out)
		}
		for _, want := range []string{`"analysisNames":["Custom User-Defined Software"]`, `"clusterStatusDisplay":{"content":"","labelClass":"","useLabel":false}`,
			`"isVisible":true`, `"jobStatus":{"content":"","labelClass":"","useLabel":false}`, `"name":"Second","owner":"alice@example.com","sharedWith":[],"storage":0`} {
			if !strings.Contains(out, want) {
				t.Errorf("list lacks %s: %s", want, out)
			}
		}
		if _, out := e.do("alice", "GET", "/api/v2/jobs/?state=completed", ""); !strings.Contains(out, `"count":0`) {
			t.Errorf("completed: %s", out)
		}
		if _, out := e.do("alice", "GET", "/api/v2/jobs/?state=not_completed", ""); !strings.Contains(out, `"count":2`) {
			t.Errorf("not completed: %s", out)
		}
		for q, n := range map[string]string{"second": "1", "%23none": "0", "software:user_included+and+not+Second": "1", "owner:alice@example.com": "2"} {
			if _, out := e.do("alice", "GET", "/api/v2/jobs/?q="+q, ""); !strings.Contains(out, `"count":`+n) {
				t.Errorf("q=%s: %s", q, out)
			}
		}
		if _, out := e.do("alice", "GET", "/api/v2/jobs/?job_status=completed", ""); !strings.Contains(out, `"count":0`) {
			t.Errorf("job_status: %s", out)
		}

		// Share with bob: he reads, but cannot change or delete.
		code, out = e.do("alice", "POST", "/api/v2/jobs/"+j1+"/share/", `{"email": "Bob@Example.com", "message": "look"}`)
		if code != 200 || out != `{"recipient":"bob@example.com","supportDesk":null}`+"\n" {
			t.Fatalf("share: %d %s", code, out)
		}
		if code, _ := e.do("bob", "GET", "/api/v2/jobs/"+j1+"/", ""); code != 200 {
			t.Fatalf("recipient GET: %d", code)
		}
		if _, out := e.do("bob", "GET", "/api/v2/jobs/?f=2", ""); !strings.Contains(out, `"count":1`) || !strings.Contains(out, `"sharedWith":["bob@example.com"]`) {
			t.Fatalf("f=2: %s", out)
		}
		if _, out := e.do("bob", "GET", "/api/v2/jobs/?f=0", ""); !strings.Contains(out, `"count":2`) {
			t.Fatalf("f=0: %s", out)
		}
		if _, out := e.do("bob", "GET", "/api/v2/jobs/", ""); !strings.Contains(out, `"count":1`) {
			t.Fatalf("f default: %s", out)
		}
		for _, m := range []string{"PATCH", "PUT", "DELETE"} {
			if code, out := e.do("bob", m, "/api/v2/jobs/"+j1+"/", `{"name": "x"}`); code != 403 {
				t.Fatalf("recipient %s: %d %s", m, code, out)
			}
		}
		if code, _ := e.do("bob", "POST", "/api/v2/jobs/"+j1+"/tags/", `{"name": "x"}`); code != 403 {
			t.Fatalf("recipient tag: %d", code)
		}

		// PATCH and PUT.
		code, out = e.do("alice", "PATCH", "/api/v2/jobs/"+j1+"/", `{"name": "Jobster"}`)
		if code != 200 || !strings.Contains(out, `"name":"Jobster"`) || !strings.Contains(out, `"command":"echo \"Hello world\""`) {
			t.Fatalf("patch: %d %s", code, out)
		}
		code, out = e.do("alice", "PATCH", "/api/v2/jobs/"+j1+"/", `{"jobanalyses": []}`)
		if code != 400 || !strings.Contains(out, `"field":"jobanalyses"`) {
			t.Fatalf("invalid patch: %d %s", code, out)
		}
		code, out = e.do("alice", "PUT", "/api/v2/jobs/"+j1+"/", strings.Replace(basicJob, `"coresPerSlot": 1`, `"coresPerSlot": 4`, 1))
		if code != 200 || !strings.Contains(out, `"coresPerSlot":4`) || !strings.Contains(out, `"name":"Example Job"`) {
			t.Fatalf("put: %d %s", code, out)
		}

		// Tags.
		code, out = e.do("alice", "POST", "/api/v2/jobs/"+j1+"/tags/", `{"name": "new - tag _ 1"}`)
		if code != 201 || out != `{"name":"new - tag _ 1","normalizedName":"newtag1"}`+"\n" {
			t.Fatalf("add tag: %d %s", code, out)
		}
		if _, out := e.do("alice", "GET", "/api/v2/jobs/?q=%23%22new+tag+1%22", ""); !strings.Contains(out, `"count":1`) || !strings.Contains(out, j1) {
			t.Fatalf("q by tag: %s", out)
		}
		if _, out := e.do("bob", "GET", "/api/v2/jobs/"+j1+"/tags/", ""); out != `[{"name":"new - tag _ 1","normalizedName":"newtag1"}]`+"\n" {
			t.Fatalf("tags: %s", out)
		}
		if code, _ := e.do("alice", "DELETE", "/api/v2/jobs/"+j1+"/tags/", `{"name": "newtag1"}`); code != 204 {
			t.Fatalf("remove tag: %d", code)
		}
		if code, _ := e.do("alice", "DELETE", "/api/v2/jobs/"+j1+"/tags/", `{"name": "newtag1"}`); code != 404 {
			t.Fatalf("remove missing tag: %d", code)
		}

		// Delete: bulk is all or nothing.
		if code, _ := e.do("alice", "DELETE", "/api/v2/jobs/", `{"jobIds": ["`+j1+`", "nosuch"]}`); code != 404 {
			t.Fatalf("bulk with unknown: %d", code)
		}
		if code, _ := e.do("alice", "DELETE", "/api/v2/jobs/"+j2+"/", ""); code != 204 {
			t.Fatalf("delete: %d", code)
		}
		if code, _ := e.do("alice", "DELETE", "/api/v2/jobs/", `{"jobIds": ["`+j1+`"]}`); code != 204 {
			t.Fatalf("bulk: %d", code)
		}
		if _, out := e.do("alice", "GET", "/api/v2/jobs/", ""); !strings.Contains(out, `"count":0`) {
			t.Fatalf("after delete: %s", out)
		}
		if code, _ := e.do("bob", "GET", "/api/v2/jobs/"+j1+"/", ""); code != 404 {
			t.Fatalf("recipient after delete: %d", code)
		}
	})
}

// A client that PUTs back what GET returned changes nothing: every rendered
// field either round-trips or is ignored on input.
func TestPutRoundTrip(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		_, err := e.files.Create(t.Context(), files.File{ID: "inF1", OwnerID: e.alice.UserID, OwnerEmail: e.alice.Email, Name: "a.zip",
			TypeID: 1, DateUploaded: time.Now(), Key: files.NewKey(e.alice.UserID, "a.zip"), Size: 7, IsUploaded: true})
		if err != nil {
			t.Fatal(err)
		}
		for _, body := range []string{
			`{"name": "DOE", "paramFile": {"id": "inF1"}, "jobvariables": [{"name": "X", "variableType": "Param", "displayOrder": 0, "variableGeneratorType": "Uniform"}],
		  "jobanalyses": [{"analysis": {"code": "openfoam"}, "command": "run", "hardware": {"coreClass": "standard-plus-od", "coresPerSlot": 2, "slots": 2, "walltime": "5"},
		  "inputFiles": [{"id": "inF1"}], "templateTasks": [{"processedFilename": "U", "templateFile": {"id": "inF1"}}], "flags": {"f": [1]}}]}`,
			basicJob,
		} {
			created := e.create("alice", body)
			id := created["id"].(string)
			_, before := e.do("alice", "GET", "/api/v2/jobs/"+id+"/", "")
			code, after := e.do("alice", "PUT", "/api/v2/jobs/"+id+"/", before)
			if code != 200 || after != before {
				t.Fatalf("PUT of GET changed the job: %d\n%s\n%s", code, before, after)
			}
		}
	})
}

func TestRacingPatches(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		id := e.create("alice", basicJob)["id"].(string)
		bodies := []string{`{"name": "renamed"}`, `{"isLowPriority": true}`, `{"projectId": "p1"}`, `{"billingPriorityValue": "RESERVED"}`, `{"includeNominalRun": true}`}
		codes := make(chan int, len(bodies))
		for _, b := range bodies {
			go func() {
				code, _ := e.do("alice", "PATCH", "/api/v2/jobs/"+id+"/", b)
				codes <- code
			}()
		}
		for range bodies {
			if c := <-codes; c != 200 {
				t.Fatalf("PATCH answered %d", c)
			}
		}
		_, out := e.do("alice", "GET", "/api/v2/jobs/"+id+"/", "")
		for _, want := range []string{`"name":"renamed"`, `"isLowPriority":true`, `"projectId":"p1"`, `"billingPriorityValue":"RESERVED"`, `"includeNominalRun":true`} {
			if !strings.Contains(out, want) {
				t.Errorf("lost %s: %s", want, out)
			}
		}
	})
}
