package e2e

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestCustomFields drives 003's custom-field endpoints with the spec's
// examples: the workspace listing, values on a saved job (and in the job's
// GET), assigned fields, per-type errors and who may read or write.
func TestCustomFields(t *testing.T) {
	data := t.TempDir()
	out, stderr, err := runCLI(t, "keys", "create", "--email", "support@rescale.com", "--data", data)
	if err != nil {
		t.Fatalf("keys create: %v %s", err, stderr)
	}
	support := strings.TrimSpace(out)
	out, stderr, err = runCLI(t, "keys", "create", "--email", "other@rescale.com", "--data", data)
	if err != nil {
		t.Fatalf("keys create: %v %s", err, stderr)
	}
	other := strings.TrimSpace(out)
	s := start(t, data, []string{"RESCALE_LOCAL_API_KEY=" + testKey})

	ws := do(t, "GET", s.URL+"/api/v2/organizations/default/workspaces/01-000000001/custom-fields/", testKey, nil)
	if ws.Status != 200 || ws.JSON(t)["isEnabled"] != true || !jsonEqual(at(t, ws.JSON(t), "fields", "workstation"), `{}`) {
		t.Fatalf("workspace: %d %s", ws.Status, ws.Body)
	}
	if st := at(t, ws.JSON(t), "fields", "compute", "Context", 1); !jsonEqual(st, `{"name": "Deadline", "valueType": "date", "enumOptions": [],
		"placeholder": "Date", "helpText": "Enter the date you expect the study to be completed.", "isMultiple": false, "isRequired": false, "allowOther": false}`) {
		t.Errorf("Deadline definition %v", st)
	}
	if r := do(t, "GET", s.URL+"/api/v2/organizations/rescale/workspaces/03-066880176/custom-fields/", testKey, nil); r.Status != 404 {
		t.Errorf("spec's example workspace: %d %s", r.Status, r.Body)
	}

	r := do(t, "POST", s.URL+"/api/v2/jobs/", testKey, strings.NewReader(specBasicJob))
	if r.Status != 201 || !jsonEqual(r.JSON(t)["customFields"], `{}`) {
		t.Fatalf("create: %d %s", r.Status, r.Body)
	}
	id := r.JSON(t)["id"].(string)
	cf := s.URL + "/api/v2/jobs/" + id + "/custom-fields/"

	// 003 "Submit Custom Fields on a Job".
	r = do(t, "POST", cf, testKey, strings.NewReader(`{"Study": "my study"}`))
	if r.Status != 200 || !jsonEqual(r.JSON(t), `{"Study": {"meta": {"name": "Study", "valueType": "text", "enumOptions": [], "placeholder": "Study Name",
		"helpText": "", "isMultiple": false, "isRequired": false, "allowOther": false}, "user": "admin@localhost", "value": "my study"}}`) {
		t.Fatalf("submit: %d %s", r.Status, r.Body)
	}
	r = do(t, "POST", cf, testKey, strings.NewReader(`{"Deadline": "2023-12-05", "Development Status": "Exploration", "Study": "test study",
		"Crank Length": 4.2e-10, "Material Property": ["Titanium", "Inconel"], "Reviewer": "support@rescale.com"}`))
	if r.Status != 200 {
		t.Fatalf("submit several: %d %s", r.Status, r.Body)
	}
	up := uploadInto(t, s, testKey, "", "requirements.txt", "shall converge\n")
	if up.Status != 201 {
		t.Fatalf("upload: %d %s", up.Status, up.Body)
	}
	fileID := up.JSON(t)["id"].(string)
	if r = do(t, "POST", cf, testKey, strings.NewReader(`{"Reference Report": "`+fileID+`"}`)); r.Status != 200 {
		t.Fatalf("file value: %d %s", r.Status, r.Body)
	}

	job := do(t, "GET", s.URL+"/api/v2/jobs/"+id+"/", testKey, nil).JSON(t)
	for path, want := range map[[2]string]string{
		{"Deadline", "value"}:           `"2023/12/05"`,
		{"Deadline", "user"}:            `"admin@localhost"`,
		{"Development Status", "value"}: `"Exploration"`,
		{"Study", "value"}:              `"test study"`,
		{"Crank Length", "value"}:       `4.2e-10`,
		{"Material Property", "value"}:  `["Titanium", "Inconel"]`,
		{"Reviewer", "value"}:           `"support@rescale.com"`,
		{"Reference Report", "value"}:   `"` + fileID + `"`,
	} {
		if got := at(t, job, "customFields", path[0], path[1]); !jsonEqual(got, want) {
			t.Errorf("job customFields %s.%s = %v, want %s", path[0], path[1], got, want)
		}
	}
	want, _ := json.Marshal(job["customFields"])
	if got := do(t, "GET", cf, testKey, nil).JSON(t); !jsonEqual(got, string(want)) {
		t.Errorf("GET custom-fields %v differs from the job's %v", got, job["customFields"])
	}

	for _, c := range []struct{ body, field, detail string }{
		{`{"Deadline": "next week"}`, "customFields.Deadline", `Deadline: "next week" is not a date`},
		{`{"Crank Length": "long"}`, "customFields.Crank Length", "Crank Length: expects a number"},
		{`{"Development Status": "Done"}`, "customFields.Development Status", `"Done" is not one of the options`},
		{`{"Material Property": "Titanium"}`, "customFields.Material Property", "expects a list"},
		{`{"Material Property": ["Steel", "Copper"]}`, "customFields.Material Property", "only one value may be outside"},
		{`{"Reviewer": "nobody@rescale.com"}`, "customFields.Reviewer", "no user has the email"},
		{`{"Reference Report": "nofile"}`, "customFields.Reference Report", "does not exist or you cannot read it"},
		{`{"Colour": "red"}`, "customFields.Colour", "no custom field of that name"},
	} {
		r := do(t, "POST", cf, testKey, strings.NewReader(c.body))
		if r.Status != 400 || r.JSON(t)["field"] != c.field || !strings.Contains(r.JSON(t)["detail"].(string), c.detail) {
			t.Errorf("%s: %d %s", c.body, r.Status, r.Body)
		}
	}

	// Assigned fields: the workspace's by default; a field for this job alone.
	r = do(t, "GET", cf+"assigned/", testKey, nil)
	if r.Status != 200 || !jsonEqual(at(t, r.JSON(t), "fields", "Findings", 0, "name"), `"Simulation Outcome"`) {
		t.Fatalf("assigned: %d %s", r.Status, r.Body)
	}
	r = do(t, "POST", cf+"assigned/", testKey, strings.NewReader(`{"fields": {"Inputs": [{"name": "Mesh Size", "valueType": "number",
		"enumOptions": [], "placeholder": "", "helpText": "Cell size in mm", "isMultiple": false, "isRequired": false, "allowOther": false}]}}`))
	inputs, _ := at(t, r.JSON(t), "fields", "Inputs").([]any)
	if r.Status != 200 || len(inputs) == 0 || !jsonEqual(at(t, inputs, len(inputs)-1, "name"), `"Mesh Size"`) {
		t.Fatalf("assign: %d %s", r.Status, r.Body)
	}
	if r = do(t, "POST", cf, testKey, strings.NewReader(`{"Mesh Size": "0.5"}`)); r.Status != 200 || !jsonEqual(at(t, r.JSON(t), "Mesh Size", "value"), `0.5`) {
		t.Fatalf("assigned field value: %d %s", r.Status, r.Body)
	}

	// Another user: 404; a recipient of a share: reads, cannot write (403).
	if r = do(t, "GET", cf, other, nil); r.Status != 404 {
		t.Errorf("other user GET: %d %s", r.Status, r.Body)
	}
	if r = do(t, "POST", cf, other, strings.NewReader(`{"Study": "x"}`)); r.Status != 404 {
		t.Errorf("other user POST: %d %s", r.Status, r.Body)
	}
	if r = do(t, "POST", s.URL+"/api/v2/jobs/"+id+"/share/", testKey, strings.NewReader(`{"email": "support@rescale.com"}`)); r.Status != 200 {
		t.Fatalf("share: %d %s", r.Status, r.Body)
	}
	if r = do(t, "GET", cf, support, nil); r.Status != 200 || !jsonEqual(at(t, r.JSON(t), "Study", "value"), `"test study"`) {
		t.Errorf("recipient GET: %d %s", r.Status, r.Body)
	}
	if r = do(t, "GET", s.URL+"/api/v2/jobs/"+id+"/", support, nil); r.Status != 200 || !jsonEqual(at(t, r.JSON(t), "customFields", "Deadline", "value"), `"2023/12/05"`) {
		t.Errorf("recipient job GET: %d %s", r.Status, r.Body)
	}
	if r = do(t, "POST", cf, support, strings.NewReader(`{"Study": "x"}`)); r.Status != 403 {
		t.Errorf("recipient POST: %d %s", r.Status, r.Body)
	}
	if r = do(t, "POST", cf+"assigned/", support, strings.NewReader(`{"fields": {}}`)); r.Status != 403 {
		t.Errorf("recipient assign: %d %s", r.Status, r.Body)
	}
}
