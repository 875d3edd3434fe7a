package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestDOESweep runs the Rescale SDK's DOE example shape over HTTP: a
// FixedRange variable 1..10, a template rendered into the run's command,
// ten runs each with its own output.
func TestDOESweep(t *testing.T) {
	s := start(t, t.TempDir(), []string{"RESCALE_LOCAL_API_KEY=" + testKey}, "--cores", "2")
	c := jobClient{t: t, s: s, key: testKey}
	tmpl := c.upload("run_fmm.tmpl", []byte("#!/bin/bash\necho \"index=${index}\" > result_${index}.txt\necho 'price=$$5' >> result_$index.txt\ncat data.txt >> result_${index}.txt\n"))
	in := c.upload("in.zip", zipOf(t, map[string]string{"data.txt": "shared input\n"}))
	in2 := c.upload("more.zip", zipOf(t, map[string]string{"more/extra.txt": "extra\n"}))
	body := fmt.Sprintf(`{"name": "DOE Test Job",
 "jobvariables": [{"name": "index", "variableType": "Param", "valueGeneratorType": "FixedRange",
                   "valueGeneratorSettings": {"minvalue": 1, "maxvalue": 10, "increment": 1}}],
 "jobanalyses": [{"analysis": {"code": "user_included"}, "command": "./run_fmm",
                  "hardware": {"coresPerSlot": 1, "slots": 2, "coreType": "standard-plus"},
                  "templateTasks": [{"processedFilename": "run_fmm", "templateFile": {"id": %q}}],
                  "inputFiles": [{"id": %q}, {"id": %q}]}]}`, tmpl, in, in2)
	r := do(t, "POST", s.URL+"/api/v2/jobs/", testKey, strings.NewReader(body))
	if r.Status != 201 {
		t.Fatalf("create: %d %s", r.Status, r.Body)
	}
	job := r.JSON(t)["id"].(string)
	c.post("/api/v2/jobs/"+job+"/submit/", 200)
	st := c.waitStatus(job, "Completed", 120*time.Second)
	if st[0].Reason == nil || *st[0].Reason != "Completed successfully" {
		t.Fatalf("reason %v", st[0].Reason)
	}
	var runs page[struct {
		ID        string `json:"id"`
		Type      int    `json:"type"`
		Variables []struct {
			Name         string  `json:"name"`
			Value        float64 `json:"value"`
			DisplayValue string  `json:"displayValue"`
		} `json:"variables"`
		OutputFileCount int `json:"outputFileCount"`
	}]
	c.get("/api/v2/jobs/"+job+"/runs/?page_size=100", &runs)
	if runs.Count != 10 {
		t.Fatalf("%d runs", runs.Count)
	}
	var all page[outputFile]
	c.get("/api/v2/jobs/"+job+"/files/?page_size=1000", &all)
	for i, run := range runs.Results {
		n := i + 1
		if run.ID != fmt.Sprint(n) || len(run.Variables) != 1 || run.Variables[0].Value != float64(n) || run.Variables[0].DisplayValue != fmt.Sprint(n) {
			t.Fatalf("run %d: %+v", n, run)
		}
		var files page[outputFile]
		c.get(fmt.Sprintf("/api/v2/jobs/%s/runs/%d/files/", job, n), &files)
		names := map[string]outputFile{}
		for _, f := range files.Results {
			names[f.RelativePath] = f
		}
		res, ok := names[fmt.Sprintf("result_%d.txt", n)]
		if !ok || names["run_fmm"].ID == "" {
			t.Fatalf("run %d outputs %v", n, names)
		}
		if got := c.download(res); got != fmt.Sprintf("index=%d\nprice=$5\nshared input\n", n) {
			t.Fatalf("run %d result %q", n, got)
		}
		if !strings.HasSuffix(res.Path, fmt.Sprintf("/output/job_%s/run%d/result_%d.txt", job, n, n)) {
			t.Fatalf("run %d path %s", n, res.Path)
		}
	}
	if all.Count != 50 || len(all.Results) != 50 { // per run: run_fmm, result, data.txt, more/extra.txt, process_output.log
		t.Fatalf("job file list holds %d files (%d listed)", all.Count, len(all.Results))
	}
	var found page[outputFile]
	c.get("/api/v2/jobs/"+job+"/files/?search=result_7", &found)
	if found.Count != 1 {
		t.Fatalf("search result_7: %+v", found)
	}
}

// TestDOEFactorialAndParamFile: a 3×3 sweep makes 9 runs whose outputs
// follow the variables; a parameter file makes one run per row; malformed
// inputs are refused at submit with the field and line.
func TestDOEFactorialAndParamFile(t *testing.T) {
	s := start(t, t.TempDir(), []string{"RESCALE_LOCAL_API_KEY=" + testKey}, "--cores", "2")
	c := jobClient{t: t, s: s, key: testKey}
	tmpl := c.upload("calc.tmpl", []byte("#!/bin/bash\necho $(( ${a} * 10 + $b ))\n"))
	mk := func(extra string) string {
		body := fmt.Sprintf(`{"name": "sweep", %s
 "jobanalyses": [{"analysis": {"code": "user_included"}, "command": "./calc.sh",
                  "hardware": {"coresPerSlot": 1, "slots": 2, "coreType": "standard-plus"},
                  "templateTasks": [{"processedFilename": "calc.sh", "templateFile": {"id": %q}}]}]}`, extra, tmpl)
		r := do(t, "POST", s.URL+"/api/v2/jobs/", testKey, strings.NewReader(body))
		if r.Status != 201 {
			t.Fatalf("create: %d %s", r.Status, r.Body)
		}
		return r.JSON(t)["id"].(string)
	}
	job := mk(`"jobvariables": [
   {"name": "a", "variableType": "Param", "valueGeneratorType": "FixedRange", "valueGeneratorSettings": {"minvalue": 1, "maxvalue": 3, "increment": 1}},
   {"name": "b", "variableType": "Param", "valueGeneratorType": "FixedRange", "valueGeneratorSettings": {"minvalue": 1, "maxvalue": 3, "increment": 1}}],`)
	c.post("/api/v2/jobs/"+job+"/submit/", 200)
	c.waitStatus(job, "Completed", 120*time.Second)
	got := map[string]bool{}
	var runs page[map[string]any]
	c.get("/api/v2/jobs/"+job+"/runs/?page_size=100", &runs)
	if runs.Count != 9 {
		t.Fatalf("%d runs", runs.Count)
	}
	for n := 1; n <= 9; n++ {
		var files page[outputFile]
		c.get(fmt.Sprintf("/api/v2/jobs/%s/runs/%d/files/", job, n), &files)
		for _, f := range files.Results {
			if f.RelativePath == "process_output.log" {
				got[strings.TrimSpace(c.download(f))] = true
			}
		}
	}
	for a := 1; a <= 3; a++ {
		for b := 1; b <= 3; b++ {
			if !got[fmt.Sprint(a*10+b)] {
				t.Fatalf("no run printed %d: %v", a*10+b, got)
			}
		}
	}

	csv := c.upload("params.csv", []byte("\ufeffa,b\r\n1,2\r\n\r\n\"4\",5\r\n"))
	job = mk(fmt.Sprintf(`"paramFile": {"id": %q},`, csv))
	c.post("/api/v2/jobs/"+job+"/submit/", 200)
	c.waitStatus(job, "Completed", 60*time.Second)
	c.get("/api/v2/jobs/"+job+"/runs/", &runs)
	if runs.Count != 2 {
		t.Fatalf("param file runs: %+v", runs)
	}

	bad := c.upload("bad.csv", []byte("a,b\n1,2\n3\n"))
	job = mk(fmt.Sprintf(`"paramFile": {"id": %q},`, bad))
	r := do(t, "POST", s.URL+"/api/v2/jobs/"+job+"/submit/", testKey, nil)
	var e map[string]any
	_ = json.Unmarshal(r.Body, &e)
	if r.Status != 400 || !strings.Contains(fmt.Sprint(e), "line 3") {
		t.Fatalf("malformed CSV at submit: %d %s", r.Status, r.Body)
	}
	if st := c.statuses(job); len(st) != 0 {
		t.Fatalf("a refused submit left statuses %v", st)
	}

	// A template naming a variable the run lacks fails the run with the reason.
	missing := c.upload("miss.tmpl", []byte("echo ${nope}\n"))
	body := fmt.Sprintf(`{"name": "missing", "jobvariables": [{"name": "a", "variableType": "Param", "valueGeneratorType": "FixedRange",
   "valueGeneratorSettings": {"minvalue": 1, "maxvalue": 1, "increment": 1}}],
 "jobanalyses": [{"analysis": {"code": "user_included"}, "command": "bash x.sh",
   "hardware": {"coresPerSlot": 1, "slots": 1, "coreType": "standard-plus"},
   "templateTasks": [{"processedFilename": "x.sh", "templateFile": {"id": %q}}]}]}`, missing)
	r = do(t, "POST", s.URL+"/api/v2/jobs/", testKey, bytes.NewReader([]byte(body)))
	if r.Status != 201 {
		t.Fatalf("create: %d %s", r.Status, r.Body)
	}
	job = r.JSON(t)["id"].(string)
	c.post("/api/v2/jobs/"+job+"/submit/", 200)
	st := c.waitStatus(job, "Completed", 60*time.Second)
	if st[0].Reason == nil || !strings.Contains(*st[0].Reason, "nope") {
		t.Fatalf("reason %v", st[0].Reason)
	}
}
