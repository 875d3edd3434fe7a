package e2e

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// zipOf builds a zip holding files (name → content); names ending in
// Allrun or .sh are executable.
func zipOf(t *testing.T, files map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for name, content := range files {
		h := &zip.FileHeader{Name: name, Method: zip.Deflate}
		mode := fs.FileMode(0o644)
		if strings.HasSuffix(name, "Allrun") || strings.HasSuffix(name, ".sh") {
			mode = 0o755
		}
		h.SetMode(mode)
		w, err := zw.CreateHeader(h)
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte(content))
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// zipDir zips a directory tree under prefix/, keeping modes.
func zipDir(t *testing.T, dir, prefix string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		info, err := d.Info()
		if err != nil {
			return err
		}
		h, err := zip.FileInfoHeader(info)
		if err != nil {
			return err
		}
		h.Name, h.Method = prefix+"/"+filepath.ToSlash(rel), zip.Deflate
		w, err := zw.CreateHeader(h)
		if err != nil {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		_, err = w.Write(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	zw.Close()
	return buf.Bytes()
}

type jobClient struct {
	t   *testing.T
	s   *server
	key string
}

func (c jobClient) get(path string, v any) response {
	c.t.Helper()
	r := do(c.t, "GET", c.s.URL+path, c.key, nil)
	if r.Status != 200 {
		c.t.Fatalf("GET %s: %d %s", path, r.Status, r.Body)
	}
	if v != nil {
		if err := json.Unmarshal(r.Body, v); err != nil {
			c.t.Fatalf("GET %s: %v\n%s", path, err, r.Body)
		}
	}
	return r
}

// upload posts a file and returns its id.
func (c jobClient) upload(name string, content []byte) string {
	c.t.Helper()
	r := uploadInto(c.t, c.s, c.key, "", name, string(content))
	if r.Status != 201 {
		c.t.Fatalf("upload %s: %d %s", name, r.Status, r.Body)
	}
	return r.JSON(c.t)["id"].(string)
}

// createJob saves a one-analysis job and returns its id.
func (c jobClient) createJob(name, analysis, version, command string, inputs ...string) string {
	c.t.Helper()
	var refs []map[string]string
	for _, id := range inputs {
		refs = append(refs, map[string]string{"id": id})
	}
	an := map[string]any{"code": analysis}
	if version != "" {
		an["version"] = version
	}
	body, _ := json.Marshal(map[string]any{"name": name, "jobanalyses": []any{map[string]any{
		"useMpi": false, "command": command, "analysis": an,
		"hardware":   map[string]any{"coresPerSlot": 1, "slots": 1, "coreType": "standard-plus"},
		"inputFiles": refs,
	}}})
	r := do(c.t, "POST", c.s.URL+"/api/v2/jobs/", c.key, bytes.NewReader(body))
	if r.Status != 201 {
		c.t.Fatalf("create job: %d %s", r.Status, r.Body)
	}
	return r.JSON(c.t)["id"].(string)
}

func (c jobClient) post(path string, want int) {
	c.t.Helper()
	r := do(c.t, "POST", c.s.URL+path, c.key, nil)
	if r.Status != want {
		c.t.Fatalf("POST %s: %d (want %d) %s", path, r.Status, want, r.Body)
	}
}

type statusEntry struct {
	Status string  `json:"status"`
	Date   string  `json:"statusDate"`
	Reason *string `json:"statusReason"`
}

type page[T any] struct {
	Count   int     `json:"count"`
	Next    *string `json:"next"`
	Results []T     `json:"results"`
}

func (c jobClient) statuses(job string) []statusEntry {
	var p page[statusEntry]
	c.get("/api/v2/jobs/"+job+"/statuses/?page_size=100", &p)
	return p.Results
}

// waitStatus polls the job's statuses until the newest is want.
func (c jobClient) waitStatus(job, want string, timeout time.Duration) []statusEntry {
	c.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		st := c.statuses(job)
		if len(st) > 0 && st[0].Status == want {
			return st
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("job %s never became %s: %+v\n%s", job, want, st, c.s.Stdout())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// sequence lists status names oldest first.
func sequence(st []statusEntry) []string {
	out := make([]string, len(st))
	for i, s := range st {
		out[len(st)-1-i] = s.Status
	}
	return out
}

type outputFile struct {
	ID           string `json:"id"`
	Name         string `json:"name"`
	Path         string `json:"path"`
	RelativePath string `json:"relativePath"`
	TypeID       int    `json:"typeId"`
	DownloadURL  string `json:"downloadUrl"`
	Size         int64  `json:"decryptedSize"`
}

func (c jobClient) outputs(job string) map[string]outputFile {
	var p page[outputFile]
	c.get("/api/v2/jobs/"+job+"/files/?page_size=1000", &p)
	out := map[string]outputFile{}
	for _, f := range p.Results {
		out[f.RelativePath] = f
	}
	if len(out) != p.Count {
		c.t.Fatalf("outputs page holds %d of %d", len(out), p.Count)
	}
	return out
}

func (c jobClient) download(f outputFile) string {
	c.t.Helper()
	r := do(c.t, "GET", f.DownloadURL, c.key, nil)
	if r.Status != 200 {
		c.t.Fatalf("download %s: %d %s", f.RelativePath, r.Status, r.Body)
	}
	return string(r.Body)
}

const allrun = `#!/bin/bash
cd "${0%/*}" || exit 1
echo "hello from job $RESCALE_JOB_ID run $RESCALE_RUN_ID on $RESCALE_TOTAL_CORES cores"
mkdir -p results
echo 42 > results/answer.txt
for i in 1 2 3; do echo "line $i"; done
echo "$RESCALE_API_KEY" > ../job_key.txt
curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Token $RESCALE_API_KEY" "${RESCALE_API_URL}jobs/$RESCALE_JOB_ID/" > ../key_status.txt
echo done
`

// TestTutorial walks spec 001 steps 1–6 with a real process: upload a
// zip, create, submit (twice), watch the statuses, list runs and outputs,
// download process_output.log; the job key works inside the job and not
// after it.
func TestTutorial(t *testing.T) {
	s := start(t, t.TempDir(), []string{"RESCALE_LOCAL_API_KEY=" + testKey})
	c := jobClient{t: t, s: s, key: testKey}
	zipID := c.upload("airfoil2d.zip", zipOf(t, map[string]string{"airFoil2D/Allrun": allrun, "airFoil2D/system/controlDict": "application simpleFoam;\n"}))
	job := c.createJob("Basic Job", "user_included", "", "./airFoil2D/Allrun", zipID)

	// Any content type, empty body, twice: it runs once.
	r := do(t, "POST", s.URL+"/api/v2/jobs/"+job+"/submit/", testKey, nil, "Content-Type", "application/x-www-form-urlencoded")
	if r.Status != 200 {
		t.Fatalf("submit: %d %s", r.Status, r.Body)
	}
	r = do(t, "POST", s.URL+"/api/v2/jobs/"+job+"/submit/", testKey, strings.NewReader("{}"))
	if r.Status != 200 {
		t.Fatalf("second submit: %d %s", r.Status, r.Body)
	}
	st := c.waitStatus(job, "Completed", 60*time.Second)
	want := []string{"Pending", "Queued", "Started", "Validated", "Executing", "Completed"}
	if got := sequence(st); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("statuses %v, want %v", got, want)
	}
	if st[0].Reason == nil || *st[0].Reason != "Completed successfully" {
		t.Fatalf("completed reason %v", st[0].Reason)
	}
	var list page[map[string]any]
	c.get("/api/v2/jobs/", &list)
	if js, _ := list.Results[0]["jobStatus"].(map[string]any); js == nil || js["content"] != "Completed" {
		t.Fatalf("listed jobStatus: %v", list.Results[0])
	}
	if cs, _ := list.Results[0]["clusterStatusDisplay"].(map[string]any); cs == nil || cs["content"] != "Stopped" {
		t.Fatalf("listed clusterStatusDisplay: %v", list.Results[0])
	}

	var cl page[statusEntry]
	c.get("/api/v2/jobs/"+job+"/cluster_statuses/", &cl)
	if got := strings.Join(sequence(cl.Results), ","); got != "Not Started,Starting,Started,Stop Requested,Stopping,Stopped" {
		t.Fatalf("cluster statuses %s", got)
	}

	var runs page[map[string]any]
	c.get("/api/v2/jobs/"+job+"/runs/", &runs)
	if runs.Count != 1 || runs.Results[0]["id"] != "1" || runs.Results[0]["type"] != 3.0 ||
		runs.Results[0]["dateStarted"] == nil || runs.Results[0]["dateCompleted"] == nil {
		t.Fatalf("runs: %+v", runs)
	}
	outs := c.outputs(job)
	if n, _ := runs.Results[0]["outputFileCount"].(float64); int(n) != len(outs) || n == 0 {
		t.Fatalf("run's outputFileCount %v, outputs %d", runs.Results[0]["outputFileCount"], len(outs))
	}
	var me struct{ Results []map[string]any }
	c.get("/api/v2/users/me/api-keys/", &me)
	for _, rel := range []string{"process_output.log", "airFoil2D/Allrun", "airFoil2D/results/answer.txt", "airFoil2D/system/controlDict", "key_status.txt", "job_key.txt"} {
		f, ok := outs[rel]
		if !ok {
			t.Fatalf("no output %s in %v", rel, outs)
		}
		if f.TypeID != 5 || !strings.HasPrefix(f.Path, "user/user_") || !strings.HasSuffix(f.Path, "/output/job_"+job+"/run1/"+rel) {
			t.Fatalf("output %s: %+v", rel, f)
		}
	}
	if _, ok := outs["airfoil2d.zip"]; ok {
		t.Fatal("the input archive is listed as an output")
	}
	log := c.download(outs["process_output.log"])
	for _, want := range []string{"hello from job " + job + " run 1 on 1 cores", "line 3", "done"} {
		if !strings.Contains(log, want) {
			t.Fatalf("process_output.log lacks %q:\n%s", want, log)
		}
	}
	if got := c.download(outs["airFoil2D/results/answer.txt"]); got != "42\n" {
		t.Fatalf("answer.txt = %q", got)
	}
	if got := c.download(outs["key_status.txt"]); got != "200" {
		t.Fatalf("the job's key answered %q inside the job", got)
	}
	jobKey := strings.TrimSpace(c.download(outs["job_key.txt"]))
	r = do(t, "GET", s.URL+"/api/v2/jobs/", jobKey, nil)
	if r.Status != 401 || !strings.Contains(string(r.Body), "API key is no longer active") {
		t.Fatalf("job key after the job: %d %s", r.Status, r.Body)
	}
	var keys page[map[string]any]
	c.get("/api/v2/users/me/api-keys/", &keys)
	marked := 0
	for _, k := range keys.Results {
		if k["jobId"] == job {
			marked++
		}
	}
	if marked != 1 {
		t.Fatalf("%d keys marked with job %s: %+v", marked, job, keys.Results)
	}
	var found page[outputFile]
	c.get("/api/v2/jobs/"+job+"/files/?search=answer", &found)
	if found.Count != 1 || found.Results[0].RelativePath != "airFoil2D/results/answer.txt" {
		t.Fatalf("search=answer: %+v", found)
	}
	var logs []map[string]any
	c.get("/api/v2/jobs/"+job+"/extendedlogs/", &logs)
	if len(logs) < 6 || logs[0]["level"] != "status" || logs[0]["message"] != "Pending" {
		t.Fatalf("extendedlogs: %v", logs)
	}
	// A finished job can be deleted again.
	if r := do(t, "DELETE", s.URL+"/api/v2/jobs/"+job+"/", testKey, nil); r.Status != 204 {
		t.Fatalf("delete completed job: %d %s", r.Status, r.Body)
	}
}

// TestFailingCommand: exit 3 ends the job Completed with a reason naming
// the exit code, its outputs saved.
func TestFailingCommand(t *testing.T) {
	s := start(t, t.TempDir(), []string{"RESCALE_LOCAL_API_KEY=" + testKey})
	c := jobClient{t: t, s: s, key: testKey}
	in := c.upload("in.zip", zipOf(t, map[string]string{"run.sh": "#!/bin/bash\necho partial > partial.txt\necho failing\nexit 3\n"}))
	job := c.createJob("fails", "user_included", "", "./run.sh", in)
	c.post("/api/v2/jobs/"+job+"/submit/", 200)
	st := c.waitStatus(job, "Completed", 60*time.Second)
	if st[0].Reason == nil || !strings.Contains(*st[0].Reason, "exited with code 3") {
		t.Fatalf("reason %v", st[0].Reason)
	}
	outs := c.outputs(job)
	if _, ok := outs["partial.txt"]; !ok {
		t.Fatalf("outputs of the failed run not saved: %v", outs)
	}
	if !strings.Contains(c.download(outs["process_output.log"]), "failing") {
		t.Fatal("process_output.log lacks the command's output")
	}
}

// TestStopModes stops a sleeping job in each of the spec's three ways.
func TestStopModes(t *testing.T) {
	s := start(t, t.TempDir(), []string{"RESCALE_LOCAL_API_KEY=" + testKey}, "--stop-grace", "2s")
	c := jobClient{t: t, s: s, key: testKey}
	script := "#!/bin/bash\ntrap 'echo got SIGTERM; echo saved > on_term.txt; exit 143' TERM\necho started > started.txt\nsleep 300 &\nwait\n"
	in := c.upload("sleep.zip", zipOf(t, map[string]string{"sleep.sh": script}))
	for _, tc := range []struct {
		endpoint, reason string
		outputs          bool
	}{
		{"stop", "stopped by the user", true},
		{"force_stop", "force stopped by the user", true},
		{"shutdown", "shut down by the user", false},
	} {
		t.Run(tc.endpoint, func(t *testing.T) {
			c.t = t
			job := c.createJob("sleeper "+tc.endpoint, "user_included", "", "./sleep.sh", in)
			c.post("/api/v2/jobs/"+job+"/submit/", 200)
			c.waitStatus(job, "Executing", 30*time.Second)
			// The run is live: its directory and log tail are readable.
			deadline := time.Now().Add(10 * time.Second)
			for {
				r := do(t, "GET", s.URL+"/api/v2/jobs/"+job+"/runs/1/directory-contents/", testKey, nil)
				if r.Status == 200 && strings.Contains(string(r.Body), "started.txt") {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("directory-contents: %d %s", r.Status, r.Body)
				}
				time.Sleep(50 * time.Millisecond)
			}
			if tc.endpoint == "stop" {
				liveFiles(t, c, job)
			}
			if r := do(t, "DELETE", s.URL+"/api/v2/jobs/"+job+"/", testKey, nil); r.Status != 409 || !strings.Contains(strings.ToLower(string(r.Body)), "executing") {
				t.Fatalf("delete of a running job: %d %s", r.Status, r.Body)
			}
			c.post("/api/v2/jobs/"+job+"/"+tc.endpoint+"/", 202)
			st := c.waitStatus(job, "Completed", 30*time.Second)
			if seq := strings.Join(sequence(st), ","); !strings.Contains(seq, "Executing,Stopping,Completed") {
				t.Fatalf("statuses %s", seq)
			}
			if st[0].Reason == nil || !strings.Contains(strings.ToLower(*st[0].Reason), tc.reason) {
				t.Fatalf("reason %v, want %q", st[0].Reason, tc.reason)
			}
			outs := c.outputs(job)
			if _, ok := outs["started.txt"]; ok != tc.outputs {
				t.Fatalf("outputs after %s: %v", tc.endpoint, outs)
			}
			_, termed := outs["on_term.txt"]
			if tc.endpoint == "stop" && !termed {
				t.Fatalf("graceful stop did not let the job handle SIGTERM: %v", outs)
			}
		})
	}
}

// TestNotInstalled: the spec's LS-DYNA job ends at validation with a
// reason naming the missing software.
func TestNotInstalled(t *testing.T) {
	s := start(t, t.TempDir(), []string{"RESCALE_LOCAL_API_KEY=" + testKey})
	c := jobClient{t: t, s: s, key: testKey}
	in := c.upload("model.k", []byte("*KEYWORD\n*END\n"))
	job := c.createJob("dyna", "ls_dyna", "", "ls-dyna -n 1 -i model.k", in)
	c.post("/api/v2/jobs/"+job+"/submit/", 200)
	st := c.waitStatus(job, "Completed", 30*time.Second)
	if st[0].Reason == nil || !strings.Contains(*st[0].Reason, "ls_dyna") || !strings.Contains(*st[0].Reason, "not installed on this machine") {
		t.Fatalf("reason %v", st[0].Reason)
	}
	if seq := strings.Join(sequence(st), ","); seq != "Pending,Completed" {
		t.Fatalf("statuses %s", seq)
	}
}

// TestKillServerWhileExecuting: kill -9 of the server mid-run, then a
// restart: the job is driven to an end, nothing stays Executing.
func TestKillServerWhileExecuting(t *testing.T) {
	data := t.TempDir()
	env := []string{"RESCALE_LOCAL_API_KEY=" + testKey}
	s := start(t, data, env)
	c := jobClient{t: t, s: s, key: testKey}
	in := c.upload("slow.zip", zipOf(t, map[string]string{"slow.sh": "#!/bin/bash\necho attempt >> ../attempts.txt\nsleep 2\necho finished > finished.txt\n"}))
	job := c.createJob("slow", "user_included", "", "./slow.sh", in)
	c.post("/api/v2/jobs/"+job+"/submit/", 200)
	c.waitStatus(job, "Executing", 30*time.Second)
	if err := s.stop(syscall.SIGKILL); err == nil {
		t.Log("server killed")
	}
	s2 := start(t, data, env)
	c.s = s2
	st := c.waitStatus(job, "Completed", 90*time.Second)
	if st[0].Reason == nil || *st[0].Reason == "" {
		t.Fatalf("no reason: %+v", st)
	}
	t.Logf("after restart: %s (%s)", strings.Join(sequence(st), ","), *st[0].Reason)
	if *st[0].Reason == "Completed successfully" {
		if _, ok := c.outputs(job)["finished.txt"]; !ok {
			t.Fatal("completed successfully without its output")
		}
	}
}

// TestWaitingForQueue: on one core, a second job waits for the first.
func TestWaitingForQueue(t *testing.T) {
	s := start(t, t.TempDir(), []string{"RESCALE_LOCAL_API_KEY=" + testKey}, "--cores", "1")
	c := jobClient{t: t, s: s, key: testKey}
	in := c.upload("nap.zip", zipOf(t, map[string]string{"nap.sh": "#!/bin/bash\nsleep 1\n"}))
	first := c.createJob("first", "user_included", "", "./nap.sh", in)
	second := c.createJob("second", "user_included", "", "./nap.sh", in)
	c.post("/api/v2/jobs/"+first+"/submit/", 200)
	c.waitStatus(first, "Executing", 30*time.Second)
	c.post("/api/v2/jobs/"+second+"/submit/", 200)
	st := c.waitStatus(second, "Completed", 60*time.Second)
	if seq := strings.Join(sequence(st), ","); seq != "Pending,Waiting for Queue,Queued,Started,Validated,Executing,Completed" {
		t.Fatalf("second job's statuses %s", seq)
	}
	// More cores than the machine has: refused at validation.
	big := fmt.Sprintf(`{"name":"big","jobanalyses":[{"command":"true","analysis":{"code":"user_included"},"hardware":{"coresPerSlot":1,"slots":4,"coreType":"standard-plus"},"inputFiles":[{"id":%q}]}]}`, in)
	r := do(t, "POST", s.URL+"/api/v2/jobs/", testKey, strings.NewReader(big))
	if r.Status != 201 {
		t.Fatalf("create big job: %d %s", r.Status, r.Body)
	}
	bigID := r.JSON(t)["id"].(string)
	c.post("/api/v2/jobs/"+bigID+"/submit/", 200)
	st = c.waitStatus(bigID, "Completed", 30*time.Second)
	if st[0].Reason == nil || !strings.Contains(*st[0].Reason, "this machine has 1") {
		t.Fatalf("reason %v", st[0].Reason)
	}
}

const airFoil2D = "/usr/share/doc/openfoam-examples/examples/incompressible/simpleFoam/airFoil2D"

// TestOpenFOAMAirFoil2D runs the tutorial's real case with Debian's
// OpenFOAM: simpleFoam converges and its outputs are downloadable.
func TestOpenFOAMAirFoil2D(t *testing.T) {
	if _, err := os.Stat(airFoil2D); err != nil {
		if os.Getenv("REQUIRE_TEST_SERVERS") != "" {
			t.Fatalf("openfoam-examples is required (apt-get install openfoam openfoam-examples): %v", err)
		}
		t.Skipf("SKIP: openfoam-examples not installed: %v", err)
	}
	s := start(t, t.TempDir(), []string{"RESCALE_LOCAL_API_KEY=" + testKey})
	c := jobClient{t: t, s: s, key: testKey}
	in := c.upload("airfoil2d.zip", zipDir(t, airFoil2D, "airFoil2D"))
	job := c.createJob("airFoil2D", "openfoam", "v1912-openmpi", "./airFoil2D/Allrun", in)
	c.post("/api/v2/jobs/"+job+"/submit/", 200)
	st := c.waitStatus(job, "Completed", 240*time.Second)
	if st[0].Reason == nil || *st[0].Reason != "Completed successfully" {
		t.Fatalf("reason %v", st[0].Reason)
	}
	outs := c.outputs(job)
	for _, rel := range []string{"airFoil2D/log.simpleFoam", "airFoil2D/313/U", "process_output.log"} {
		if _, ok := outs[rel]; !ok {
			t.Fatalf("no output %s (%d outputs)", rel, len(outs))
		}
	}
	if log := c.download(outs["airFoil2D/log.simpleFoam"]); !strings.Contains(log, "SIMPLE solution converged in 313 iterations") {
		t.Fatalf("log.simpleFoam does not show convergence in 313 iterations:\n%s", log[max(0, len(log)-2000):])
	}
	if u := c.download(outs["airFoil2D/313/U"]); !strings.Contains(u, "volVectorField") {
		t.Fatalf("313/U is not a field file: %.200s", u)
	}
}

// TestJobIsolation: a job sees neither the server's data directory (store,
// blobs, secrets) nor another job's working directory, though it knows
// their paths.
func TestJobIsolation(t *testing.T) {
	data := t.TempDir()
	s := start(t, data, []string{"RESCALE_LOCAL_API_KEY=" + testKey})
	c := jobClient{t: t, s: s, key: testKey}
	in := c.upload("x.zip", zipOf(t, map[string]string{"holder.sh": "#!/bin/bash\necho topsecret > secret.txt\nsleep 300\n"}))
	holder := c.createJob("holder", "user_included", "", "./holder.sh", in)
	c.post("/api/v2/jobs/"+holder+"/submit/", 200)
	c.waitStatus(holder, "Executing", 30*time.Second)
	secret := filepath.Join(data, "runs", holder, "run1", "work", "secret.txt")
	deadline := time.Now().Add(10 * time.Second)
	for {
		if b, err := os.ReadFile(secret); err == nil && strings.TrimSpace(string(b)) == "topsecret" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the holder job never wrote %s", secret)
		}
		time.Sleep(20 * time.Millisecond)
	}
	probe := fmt.Sprintf(`#!/bin/bash
for p in %q %q %q %q; do
  if cat "$p" >/dev/null 2>&1 || ls "$p" >/dev/null 2>&1; then echo "LEAK $p"; fi
done
echo probe-done
`, filepath.Join(data, "store.db"), filepath.Join(data, "blobs"), secret, filepath.Join(data, "runs", holder))
	pin := c.upload("probe.zip", zipOf(t, map[string]string{"probe.sh": probe}))
	job := c.createJob("probe", "user_included", "", "./probe.sh", pin)
	c.post("/api/v2/jobs/"+job+"/submit/", 200)
	c.waitStatus(job, "Completed", 30*time.Second)
	log := c.download(c.outputs(job)["process_output.log"])
	if !strings.Contains(log, "probe-done") || strings.Contains(log, "LEAK") {
		t.Fatalf("the job could read what it must not:\n%s", log)
	}
	c.post("/api/v2/jobs/"+holder+"/shutdown/", 202)
	c.waitStatus(holder, "Completed", 30*time.Second)
}

// liveFiles checks the live endpoints of a running run: directory
// contents with tail URLs, tail with and without lines, and a v3
// snapshot saved as an output.
func liveFiles(t *testing.T, c jobClient, job string) {
	t.Helper()
	var entries []struct{ Path, Resource string }
	c.get("/api/v2/jobs/"+job+"/runs/1/directory-contents/", &entries)
	var resource string
	for _, e := range entries {
		if e.Path == "started.txt" {
			resource = e.Resource
		}
	}
	if resource == "" {
		t.Fatalf("directory-contents: %+v", entries)
	}
	var tail struct {
		FileType string   `json:"fileType"`
		Lines    []string `json:"lines"`
	}
	c.get(resource+"?lines=5", &tail)
	if len(tail.Lines) != 1 || tail.Lines[0] != "started" {
		t.Fatalf("tail: %+v", tail)
	}
	if raw := c.get(resource, nil); string(raw.Body) != "started\n" {
		t.Fatalf("raw tail %q", raw.Body)
	}
	if r := do(t, "GET", c.s.URL+"/api/v2/jobs/"+job+"/runs/1/tail/../../store.db/", c.key, nil); r.Status == 200 {
		t.Fatalf("tail outside the working directory: %d", r.Status)
	}
	var clusters page[struct{ ID, Name string }]
	c.get("/api/v3/jobs/"+job+"/clusters/?is_started=false", &clusters)
	if clusters.Count != 1 {
		t.Fatalf("clusters: %+v", clusters)
	}
	body := fmt.Sprintf(`{"type": "Snapshot", "run": {"job": %q, "id": "1"}}`, job)
	r := do(t, "POST", c.s.URL+"/api/v3/clusters/"+clusters.Results[0].ID+"/tasks/", c.key, strings.NewReader(body))
	if r.Status != 201 {
		t.Fatalf("snapshot task: %d %s", r.Status, r.Body)
	}
	task := r.JSON(t)
	urls := task["urls"].(map[string]any)
	var details map[string]any
	c.get(strings.TrimPrefix(urls["details"].(string), c.s.URL), &details)
	if details["isComplete"] != true {
		t.Fatalf("task details %v", details)
	}
	var res struct {
		File outputFile `json:"file"`
		Type string     `json:"type"`
	}
	c.get(strings.TrimPrefix(urls["results"].(string), c.s.URL), &res)
	zr, err := zip.NewReader(bytes.NewReader([]byte(c.download(res.File))), res.File.Size)
	if err != nil || res.Type != "Snapshot" {
		t.Fatalf("snapshot %+v: %v", res, err)
	}
	found := false
	for _, f := range zr.File {
		found = found || f.Name == "started.txt"
	}
	if !found || !strings.HasSuffix(res.File.Path, "/output/job_"+job+"/run1/"+res.File.Name) {
		t.Fatalf("snapshot zip lacks started.txt or is misplaced: %+v", res.File)
	}
}
