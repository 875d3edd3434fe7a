package e2e

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
)

// The spec's job create examples, verbatim except where noted.
const (
	// 003 "Create a Job": basic job, no input files.
	specBasicJob = `{"name": "Example Job", "jobanalyses": [{"analysis": {"code": "user_included", "version": "0"},
		"command": "echo \"Hello world\"", "hardware": {"coreType": "standard-plus", "coresPerSlot": 1}}]}`
	// 003 "Submitting a Core Type Set job" (the Python form; the curl form
	// has a trailing comma that is not JSON). Its coretype codes are
	// placeholders that no catalog has.
	specCoreClassJob = `{"name": "Example Job", "jobanalyses": [{"analysis": {"code": "user_included", "version": "0"},
		"command": "echo \"Hello world\"", "hardware": {"coreClass": {"code": "coretype1-od-coretype2-od"}, "coresPerSlot": 1}}]}`
	// 003 "Submitting a job with user-defined license settings".
	specLicenseJob = `{"name": "Example Job", "jobanalyses": [{"analysis": {"code": "ls_dyna", "version": "13.0.0"},
		"command": "ls-dyna -i <input> -p <precision>",
		"hardware": {"coreType": "emerald", "coresPerSlot": 1, "slots": 1, "type": "compute", "walltime": 24},
		"envVars": {"LSTC_LICENSE_SERVER": "25678@172.00.00.000"}, "onDemandLicenseSeller": null,
		"userDefinedLicenseSettings": {"featureSets": [{"name": "USER_SPECIFIED", "features": [{"name": "MPPDYNA_971", "count": 1}, {"name": "LS-DYNA", "count": 1}]}]}}]}`
	// 002's LS-DYNA job; FILEID stands for the uploaded input's id.
	specLSDynaJob = `{"name": "LS-DYNA cURL API Setup", "billingPriorityValue": "INSTANT", "jobanalyses": [{"useRescaleLicense": true,
		"command": "ls-dyna -n 2 -i neon.refined.rev01.k -p single", "analysis": {"code": "ls_dyna", "version": "9.0.0"},
		"hardware": {"coresPerSlot": 2, "slots": 1, "coreType": "hpc-3"}, "inputFiles": [{"id": "FILEID"}]}]}`
)

// jobKeys are the top-level keys of the spec's GET job sample.
var jobKeys = []string{"archiveFilters", "billingPriorityValue", "caseFile", "customFields", "expectedRuns", "id", "includeNominalRun",
	"isLowPriority", "isTemplateDryRun", "jobanalyses", "jobvariables", "monteCarloIterations", "name", "optimizer", "owner",
	"paramFile", "projectId", "remoteVizConfig", "resourceFilters", "userTags"}

var analysisKeys = []string{"analysis", "command", "envVars", "flags", "hardware", "inputFiles", "postProcessScript",
	"postProcessScriptCommand", "preProcessScript", "preProcessScriptCommand", "templateTasks", "useRescaleLicense"}

func hasKeys(t *testing.T, what string, m map[string]any, keys []string) {
	t.Helper()
	for _, k := range keys {
		if _, ok := m[k]; !ok {
			t.Errorf("%s lacks %q: %v", what, k, m)
		}
	}
}

// at walks a decoded JSON value: at(v, "jobanalyses", 0, "hardware").
func at(t *testing.T, v any, path ...any) any {
	t.Helper()
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, ok := v.(map[string]any)
			if !ok {
				t.Fatalf("not an object at %v: %v", p, v)
			}
			v = m[k]
		case int:
			l, ok := v.([]any)
			if !ok || k >= len(l) {
				t.Fatalf("no element %d: %v", k, v)
			}
			v = l[k]
		}
	}
	return v
}

func TestJobs(t *testing.T) {
	s := start(t, t.TempDir(), []string{"RESCALE_LOCAL_API_KEY=" + testKey})
	url := s.URL + "/api/v2/jobs/"
	post := func(body string) response {
		t.Helper()
		return do(t, "POST", url, testKey, strings.NewReader(body))
	}

	// 003's basic job.
	r := post(specBasicJob)
	if r.Status != 201 {
		t.Fatalf("basic: %d %s", r.Status, r.Body)
	}
	basic := r.JSON(t)
	hasKeys(t, "job", basic, jobKeys)
	ja := at(t, basic, "jobanalyses", 0).(map[string]any)
	hasKeys(t, "jobanalysis", ja, analysisKeys)
	if got := at(t, ja, "analysis"); !jsonEqual(got, `{"code":"user_included","name":"Custom User-Defined Software","version":"0","versionName":""}`) {
		t.Errorf("analysis %v", got)
	}
	if got := at(t, ja, "hardware"); !jsonEqual(got, `{"coreSummary":{"memoryPerNode":3750,"numberOfNodes":1,"storagePerNode":4000,"gpusPerNode":0},"coreType":"standard-plus","coresPerSlot":1,"slots":1,"walltime":null}`) {
		t.Errorf("hardware %v", got)
	}
	if !strings.Contains(string(r.Body), `"numberOfNodes":1.0`) {
		t.Errorf("numberOfNodes is not rendered as 1.0: %s", r.Body)
	}
	if basic["expectedRuns"] != 1.0 || basic["owner"] != "admin@localhost" || basic["name"] != "Example Job" ||
		!jsonEqual(ja["envVars"], `{}`) || !jsonEqual(ja["flags"], `{}`) || !jsonEqual(ja["inputFiles"], `[]`) || ja["preProcessScript"] != nil {
		t.Errorf("basic job %s", r.Body)
	}
	get := do(t, "GET", url+basic["id"].(string)+"/", testKey, nil)
	if get.Status != 200 || string(get.Body) != string(r.Body) {
		t.Errorf("GET differs from the create response:\n%s\n%s", get.Body, r.Body)
	}

	// 003's coretype set example names placeholder coretypes; with real
	// ones it saves and renders the set.
	r = post(specCoreClassJob)
	if r.Status != 400 || !strings.Contains(string(r.Body), `"field":"jobanalyses[0].hardware.coreClass"`) {
		t.Errorf("placeholder coretype set: %d %s", r.Status, r.Body)
	}
	r = post(strings.Replace(specCoreClassJob, "coretype1-od-coretype2-od", "standard-plus-od-hpc-3-od", 1))
	if r.Status != 201 {
		t.Fatalf("coretype set: %d %s", r.Status, r.Body)
	}
	cc := at(t, r.JSON(t), "jobanalyses", 0, "hardware", "coreClass").(map[string]any)
	if cc["code"] != "standard-plus-od-hpc-3-od" || cc["acronym"] != "SP" || len(cc["coreTypeConfigs"].([]any)) != 2 ||
		at(t, cc, "coreTypeConfigs", 1, "coreType") != "hpc-3" || at(t, cc, "coreTypeConfigs", 1, "priority") != "od" {
		t.Errorf("coreClass %v", cc)
	}

	// 003's user-defined licence settings.
	r = post(specLicenseJob)
	if r.Status != 201 {
		t.Fatalf("licence job: %d %s", r.Status, r.Body)
	}
	lic := at(t, r.JSON(t), "jobanalyses", 0).(map[string]any)
	if !jsonEqual(lic["userDefinedLicenseSettings"], `{"featureSets":[{"name":"USER_SPECIFIED","features":[{"name":"MPPDYNA_971","count":1},{"name":"LS-DYNA","count":1}]}]}`) ||
		!jsonEqual(lic["envVars"], `{"LSTC_LICENSE_SERVER":"25678@172.00.00.000"}`) || at(t, lic, "hardware", "walltime") != 24.0 ||
		at(t, lic, "hardware", "type") != "compute" || at(t, lic, "analysis", "versionName") != "R13.0.0" {
		t.Errorf("licence job %v", lic)
	}

	// 002's LS-DYNA job with an uploaded input file.
	up := uploadInto(t, s, testKey, "", "input.zip", "neon model")
	if up.Status != 201 {
		t.Fatalf("upload: %d %s", up.Status, up.Body)
	}
	fileID := up.JSON(t)["id"].(string)
	r = post(strings.Replace(specLSDynaJob, "FILEID", fileID, 1))
	if r.Status != 201 {
		t.Fatalf("ls-dyna: %d %s", r.Status, r.Body)
	}
	dyna := r.JSON(t)
	dja := at(t, dyna, "jobanalyses", 0).(map[string]any)
	if got := at(t, dja, "hardware", "coreSummary"); !jsonEqual(got, `{"memoryPerNode":7500,"numberOfNodes":1,"storagePerNode":7200,"gpusPerNode":0}`) {
		t.Errorf("coreSummary %v", got)
	}
	if dyna["billingPriorityValue"] != "INSTANT" || dja["useRescaleLicense"] != true || at(t, dja, "analysis", "versionName") != "R9.0.0" {
		t.Errorf("ls-dyna job %s", r.Body)
	}
	in := at(t, dja, "inputFiles", 0).(map[string]any)
	hasKeys(t, "input file", in, []string{"dateUploaded", "decryptedSize", "downloadUrl", "encodedEncryptionKey", "id", "isDeleted",
		"isUploaded", "md5", "name", "owner", "path", "relativePath", "sharedWith", "typeId", "viewInBrowser"})
	if in["id"] != fileID || in["name"] != "input.zip" || in["decryptedSize"] != float64(len("neon model")) {
		t.Errorf("input file %v", in)
	}

	// The listing, newest first, in the spec's list shape.
	r = do(t, "GET", url+"?page_size=2", testKey, nil)
	list := r.JSON(t)
	if r.Status != 200 || list["count"] != 4.0 || list["next"] == nil {
		t.Fatalf("list: %d %s", r.Status, r.Body)
	}
	first := at(t, list, "results", 0).(map[string]any)
	hasKeys(t, "list item", first, []string{"analysisNames", "clusterStatusDisplay", "dateInserted", "id", "isVisible", "jobStatus", "name", "owner", "sharedWith", "storage"})
	if first["id"] != dyna["id"] || !jsonEqual(first["analysisNames"], `["LS-DYNA"]`) || first["storage"] != float64(len("neon model")) ||
		!jsonEqual(first["jobStatus"], `{"content":"","labelClass":"","useLabel":false}`) {
		t.Errorf("list item %v", first)
	}

	// Update, tag, delete.
	id := basic["id"].(string)
	r = do(t, "PATCH", url+id+"/", testKey, strings.NewReader(`{"name": "Jobster"}`))
	if r.Status != 200 || r.JSON(t)["name"] != "Jobster" {
		t.Errorf("patch: %d %s", r.Status, r.Body)
	}
	r = do(t, "POST", url+id+"/tags/", testKey, strings.NewReader(`{"name": "new - tag _ 1"}`))
	if r.Status != 201 || !jsonEqual(r.JSON(t), `{"name":"new - tag _ 1","normalizedName":"newtag1"}`) {
		t.Errorf("tag: %d %s", r.Status, r.Body)
	}
	if r = do(t, "DELETE", url+id+"/", testKey, nil); r.Status != 204 {
		t.Errorf("delete: %d %s", r.Status, r.Body)
	}
	if r = do(t, "GET", url+id+"/", testKey, nil); r.Status != 404 {
		t.Errorf("deleted job: %d", r.Status)
	}
	r = do(t, "DELETE", url, testKey, strings.NewReader(`{"jobIds": ["`+dyna["id"].(string)+`"], "deleteInputFiles": true}`))
	if r.Status != 204 {
		t.Errorf("bulk delete: %d %s", r.Status, r.Body)
	}
	if r = do(t, "GET", s.URL+"/api/v2/files/"+fileID+"/", testKey, nil); r.Status != 404 {
		t.Errorf("input file after deleteInputFiles: %d %s", r.Status, r.Body)
	}
}

func jsonEqual(v any, want string) bool {
	var w any
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		return false
	}
	a, _ := json.Marshal(v)
	b, _ := json.Marshal(w)
	if string(a) == string(b) {
		return true
	}
	// Lists compare in order; objects by key (Marshal sorts map keys).
	return slices.Equal(a, b)
}

// TestJobSharing: 003's share example between two users of one server.
func TestJobSharing(t *testing.T) {
	data := t.TempDir()
	out, stderr, err := runCLI(t, "keys", "create", "--email", "support@rescale.com", "--data", data)
	if err != nil {
		t.Fatalf("keys create: %v %s", err, stderr)
	}
	support := strings.TrimSpace(out)
	s := start(t, data, []string{"RESCALE_LOCAL_API_KEY=" + testKey})
	url := s.URL + "/api/v2/jobs/"
	r := do(t, "POST", url, testKey, strings.NewReader(specBasicJob))
	if r.Status != 201 {
		t.Fatalf("create: %d %s", r.Status, r.Body)
	}
	id := r.JSON(t)["id"].(string)
	if r = do(t, "GET", url+id+"/", support, nil); r.Status != 404 {
		t.Fatalf("before sharing: %d", r.Status)
	}
	r = do(t, "POST", url+id+"/share/", testKey, strings.NewReader(`{"email": "support@rescale.com", "message": "This job is not converging as quickly as I was expecting"}`))
	if r.Status != 200 || !jsonEqual(r.JSON(t)["recipient"], `"support@rescale.com"`) {
		t.Fatalf("share: %d %s", r.Status, r.Body)
	}
	if desk := r.JSON(t)["supportDesk"].(map[string]any); desk["email"] != "support@rescale.com" {
		t.Errorf("supportDesk %v", desk)
	}
	if r = do(t, "GET", url+id+"/", support, nil); r.Status != 200 || r.JSON(t)["owner"] != "admin@localhost" {
		t.Fatalf("recipient GET: %d %s", r.Status, r.Body)
	}
	for f, n := range map[string]float64{"": 0, "1": 0, "2": 1, "0": 1} {
		if l := do(t, "GET", url+"?f="+f, support, nil).JSON(t); l["count"] != n {
			t.Errorf("f=%s: %v", f, l)
		}
	}
	if l := do(t, "GET", url, testKey, nil).JSON(t); !jsonEqual(at(t, l, "results", 0, "sharedWith"), `["support@rescale.com"]`) {
		t.Errorf("owner's list: %v", l)
	}
	if r = do(t, "PATCH", url+id+"/", support, strings.NewReader(`{"name": "mine"}`)); r.Status != 403 {
		t.Errorf("recipient PATCH: %d %s", r.Status, r.Body)
	}
	if r = do(t, "DELETE", url+id+"/", support, nil); r.Status != 403 {
		t.Errorf("recipient DELETE: %d %s", r.Status, r.Body)
	}
}
