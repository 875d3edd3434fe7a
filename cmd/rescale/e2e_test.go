package main

// End-to-end tests: the real rescale-local binary, started on a free port
// with a data directory of its own, driven by the real rescale binary as a
// user would, over the public API only.

import (
	"bufio"
	"bytes"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

const testKey = "rsk_cliE2eFixedKeyForTheDefaultUser0123456789"

var (
	cliBin, serverBin string
	srvOnce           sync.Once
	srv               *server
	srvErr            error
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "rescale-cli-e2e")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	cliBin, serverBin = filepath.Join(dir, "rescale"), filepath.Join(dir, "rescale-local")
	for bin, pkg := range map[string]string{cliBin: ".", serverBin: "../rescale-local"} {
		build := exec.Command("go", "build", "-o", bin, pkg)
		build.Stdout, build.Stderr = os.Stderr, os.Stderr
		if err := build.Run(); err != nil {
			fmt.Fprintln(os.Stderr, "build", pkg, err)
			os.Exit(1)
		}
	}
	code := m.Run()
	if srv != nil {
		srv.stop()
	}
	os.RemoveAll(dir)
	os.Exit(code)
}

// server is a running rescale-local.
type server struct {
	cmd  *exec.Cmd
	URL  string
	done chan struct{}
	mu   sync.Mutex
	out  strings.Builder
}

var listenRE = regexp.MustCompile(`listening on (http://\S+)`)

// shared starts one server for the package's tests (jobs need no
// isolation from each other: each test reads only what it made).
func shared(t *testing.T) *server {
	t.Helper()
	srvOnce.Do(func() { srv, srvErr = startServer() })
	if srvErr != nil {
		t.Fatal(srvErr)
	}
	return srv
}

func startServer(args ...string) (*server, error) {
	data, err := os.MkdirTemp("", "rescale-cli-e2e-data")
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(serverBin, append([]string{"serve", "--addr", "127.0.0.1:0", "--data", data, "--stop-grace", "1s"}, args...)...)
	cmd.Env = append(os.Environ(), "RESCALE_LOCAL_API_KEY="+testKey)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	cmd.Stderr = io.Discard
	if os.Getenv("E2E_SERVER_LOGS") != "" {
		cmd.Stderr = os.Stderr
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	s := &server{cmd: cmd, done: make(chan struct{})}
	urlc := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			s.mu.Lock()
			s.out.WriteString(sc.Text() + "\n")
			s.mu.Unlock()
			if m := listenRE.FindStringSubmatch(sc.Text()); m != nil {
				urlc <- m[1]
			}
		}
	}()
	go func() { cmd.Wait(); os.RemoveAll(data); close(s.done) }()
	select {
	case s.URL = <-urlc:
	case <-s.done:
		return nil, fmt.Errorf("rescale-local exited before listening:\n%s", s.out.String())
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		return nil, errors.New("rescale-local did not start")
	}
	for i := 0; ; i++ {
		if resp, err := http.Get(s.URL + "/healthz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return s, nil
			}
		}
		if i > 200 {
			cmd.Process.Kill()
			return nil, errors.New("healthz never answered 200")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (s *server) stop() {
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(30 * time.Second):
		s.cmd.Process.Kill()
		<-s.done
	}
}

// cli runs the rescale binary with a home of its own.
type cli struct {
	t    *testing.T
	home string
	env  []string
}

func newCLI(t *testing.T, s *server) *cli {
	home := t.TempDir()
	return &cli{t: t, home: home, env: []string{"RESCALE_API_URL=" + s.URL, "RESCALE_API_KEY=" + testKey}}
}

func (c *cli) command(args ...string) *exec.Cmd {
	cmd := exec.Command(cliBin, args...)
	env := []string{"HOME=" + c.home, "PATH=" + os.Getenv("PATH")}
	cmd.Env = append(env, c.env...)
	return cmd
}

type result struct {
	stdout, stderr string
	code           int
}

func (c *cli) run(args ...string) result {
	c.t.Helper()
	cmd := c.command(args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	r := result{stdout: out.String(), stderr: errb.String()}
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
	case err != nil:
		c.t.Fatalf("rescale %v: %v", args, err)
	}
	return r
}

// ok runs a command that must succeed.
func (c *cli) ok(args ...string) string {
	c.t.Helper()
	r := c.run(args...)
	if r.code != 0 {
		c.t.Fatalf("rescale %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	return r.stdout
}

func (c *cli) json(v any, args ...string) {
	c.t.Helper()
	out := c.ok(append([]string{"--json"}, args...)...)
	if err := json.Unmarshal([]byte(out), v); err != nil {
		c.t.Fatalf("rescale %v: not JSON: %v\n%s", args, err, out)
	}
}

func randomFile(t *testing.T, path string, size int, seed uint64) []byte {
	t.Helper()
	data := make([]byte, size)
	rnd := rand.New(rand.NewPCG(seed, seed+1))
	for i := range data {
		data[i] = byte(rnd.Uint32())
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return data
}

func md5hex(b []byte) string {
	s := md5.Sum(b)
	return hex.EncodeToString(s[:])
}

type uploadOut struct {
	File struct {
		ID         string `json:"id"`
		Name       string `json:"name"`
		MD5        string `json:"md5"`
		Size       int64  `json:"decryptedSize"`
		IsUploaded bool   `json:"isUploaded"`
	} `json:"file"`
	UploadID     string `json:"uploadId"`
	Parts        int    `json:"parts"`
	ResumedParts int    `json:"resumedParts"`
	SentBytes    int64  `json:"sentBytes"`
}

// waitFor polls cond until it holds.
func waitFor(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestConfig: the key and URL come from the config file, the environment
// over it, flags over both.
func TestConfig(t *testing.T) {
	s := shared(t)
	c := newCLI(t, s)
	c.env = nil
	if r := c.run("files", "ls"); r.code != 1 || !strings.Contains(r.stderr, "no API key") {
		t.Fatalf("no key anywhere: %d %q", r.code, r.stderr)
	}
	cfg := filepath.Join(c.home, ".config", "rescale", "apiconfig")
	os.MkdirAll(filepath.Dir(cfg), 0o700)
	os.WriteFile(cfg, []byte("[default]\napikey = "+testKey+"\napiurl = "+s.URL+"/api/v2/\n\n[other]\napikey = rsk_wrongKeyWrongKeyWrongKey0000\napiurl = "+s.URL+"\n"), 0o600)
	c.ok("files", "ls")
	if r := c.run("--profile", "other", "files", "ls"); r.code != 1 || !strings.Contains(r.stderr, "Invalid token.") || !strings.Contains(r.stderr, "401") {
		t.Fatalf("wrong key of profile other: %d %q", r.code, r.stderr)
	}
	c.env = []string{"RESCALE_API_KEY=" + testKey}
	c.ok("--profile", "other", "files", "ls") // the environment's key wins
	if r := c.run("--api-key", "rsk_flagKeyFlagKeyFlagKey0000", "files", "ls"); r.code != 1 || !strings.Contains(r.stderr, "Invalid token.") {
		t.Fatalf("the flag's key did not win: %d %q", r.code, r.stderr)
	}
	c.env = []string{"RESCALE_API_URL=http://127.0.0.1:1"}
	if r := c.run("files", "ls"); r.code != 1 || !strings.Contains(r.stderr, "connection refused") {
		t.Fatalf("the environment's URL did not win: %d %q", r.code, r.stderr)
	}
	c.ok("--api-url", s.URL, "files", "ls")
}

// TestUploadResumeAndDownload: a multipart upload killed mid-way resumes
// without sending its finished parts again and the bytes are identical;
// a download killed mid-way resumes too.
func TestUploadResumeAndDownload(t *testing.T) {
	s := shared(t)
	c := newCLI(t, s)
	dir := t.TempDir()
	big := filepath.Join(dir, "mesh.bin")
	const part = 5 << 20
	data := randomFile(t, big, 4*part+123457, 7) // 5 parts, the last small
	state := filepath.Join(dir, "state")
	multipart := []string{"--multipart-threshold", "1MiB", "--part-size", "5MiB", "--state-dir", state}

	// One part at a time, slowly, killed once two parts are recorded.
	cmd := c.command(append([]string{"--limit-rate", "8MiB", "upload", big, "--parallel", "1"}, multipart...)...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var st struct {
		UploadID string            `json:"uploadId"`
		Parts    map[string]string `json:"parts"`
	}
	waitFor(t, "two parts in the upload state", 20*time.Second, func() bool {
		files, _ := filepath.Glob(filepath.Join(state, "upload-*.json"))
		if len(files) != 1 {
			return false
		}
		b, err := os.ReadFile(files[0])
		return err == nil && json.Unmarshal(b, &st) == nil && len(st.Parts) >= 2
	})
	cmd.Process.Kill()
	cmd.Wait()
	var sess struct {
		Status string `json:"status"`
		Parts  []struct {
			Number int `json:"partNumber"`
		} `json:"parts"`
	}
	req, _ := http.NewRequest("GET", s.URL+"/api/v2/uploads/"+st.UploadID+"/", nil)
	req.Header.Set("Authorization", "Token "+testKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	json.NewDecoder(resp.Body).Decode(&sess)
	resp.Body.Close()
	if sess.Status != "pending" || len(sess.Parts) < 2 || len(sess.Parts) >= 5 {
		t.Fatalf("after the kill the session is %+v", sess)
	}
	received := len(sess.Parts)

	var outs []uploadOut
	c.json(&outs, append([]string{"upload", big}, multipart...)...)
	u := outs[0]
	if u.UploadID != st.UploadID || u.Parts != 5 || u.ResumedParts < received {
		t.Fatalf("resume: %+v (the server had %d parts)", u, received)
	}
	if want := int64(len(data)) - int64(u.ResumedParts)*part; u.SentBytes != want {
		t.Fatalf("the resumed upload sent %d bytes, want %d (only the missing parts)", u.SentBytes, want)
	}
	if u.File.MD5 != md5hex(data) || !u.File.IsUploaded || u.File.Size != int64(len(data)) || u.File.Name != "mesh.bin" {
		t.Fatalf("uploaded file %+v, want md5 %s", u.File, md5hex(data))
	}
	if left, _ := filepath.Glob(filepath.Join(state, "upload-*.json")); len(left) != 0 {
		t.Fatalf("state left after the upload: %v", left)
	}

	// Download in parallel ranges, bytes identical.
	got := filepath.Join(dir, "got.bin")
	c.ok("download", u.File.ID, "-o", got, "--chunk-size", "1MiB", "--parallel", "3")
	if b, _ := os.ReadFile(got); !bytes.Equal(b, data) {
		t.Fatal("downloaded bytes differ")
	}
	if out := c.ok("download", u.File.ID, "-o", got); !strings.Contains(out, "already there") {
		t.Fatalf("second download:\n%s", out)
	}

	// A download killed mid-way continues from its state.
	again := filepath.Join(dir, "again.bin")
	cmd = c.command("--limit-rate", "8MiB", "download", u.File.ID, "-o", again, "--chunk-size", "1MiB", "--parallel", "2")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "download chunks in the state", 20*time.Second, func() bool {
		b, err := os.ReadFile(again + ".part.json")
		return err == nil && bytes.Count(b, []byte("true")) >= 3
	})
	cmd.Process.Kill()
	cmd.Wait()
	var dl []struct {
		Received int64 `json:"receivedBytes"`
		Resumed  bool  `json:"resumed"`
	}
	c.json(&dl, "download", u.File.ID, "-o", again, "--chunk-size", "1MiB", "--parallel", "2")
	if !dl[0].Resumed || dl[0].Received > int64(len(data))-3<<20 {
		t.Fatalf("download resume: %+v", dl)
	}
	if b, _ := os.ReadFile(again); !bytes.Equal(b, data) {
		t.Fatal("resumed download's bytes differ")
	}
	if _, err := os.Stat(again + ".part.json"); !os.IsNotExist(err) {
		t.Fatalf("download state left: %v", err)
	}
}

// TestSmallFiles: one-request uploads, files ls as a table and as JSON,
// download of several files into a directory, the API's errors on stderr.
func TestSmallFiles(t *testing.T) {
	s := shared(t)
	c := newCLI(t, s)
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.txt"), filepath.Join(dir, "b.dat")
	os.WriteFile(a, []byte("hello\n"), 0o644)
	bdata := randomFile(t, b, 300000, 3)
	var outs []uploadOut
	c.json(&outs, "upload", a, b)
	if len(outs) != 2 || outs[0].UploadID != "" || outs[1].File.MD5 != md5hex(bdata) || outs[1].SentBytes != 300000 {
		t.Fatalf("uploads: %+v", outs)
	}
	table := c.ok("files", "ls", "--search", "b.dat")
	if !strings.Contains(table, "ID") || !strings.Contains(table, outs[1].File.ID) || !strings.Contains(table, "293.0 KiB") {
		t.Fatalf("files ls:\n%s", table)
	}
	var listed []map[string]any
	c.json(&listed, "files", "ls", "--limit", "0")
	found := 0
	for _, f := range listed {
		if f["id"] == outs[0].File.ID || f["id"] == outs[1].File.ID {
			found++
			if f["downloadUrl"] == nil || f["dateUploaded"] == nil {
				t.Fatalf("listed JSON is not the API's file object: %v", f)
			}
		}
	}
	if found != 2 {
		t.Fatalf("files ls --json lacks the uploads: %v", listed)
	}
	into := filepath.Join(dir, "into")
	c.ok("download", outs[0].File.ID, outs[1].File.ID, "-o", into)
	if got, _ := os.ReadFile(filepath.Join(into, "a.txt")); string(got) != "hello\n" {
		t.Fatalf("a.txt = %q", got)
	}
	if got, _ := os.ReadFile(filepath.Join(into, "b.dat")); !bytes.Equal(got, bdata) {
		t.Fatal("b.dat differs")
	}
	if r := c.run("download", "noSuchFile"); r.code != 1 || !strings.Contains(r.stderr, "Not found.") || r.stdout != "" {
		t.Fatalf("unknown file: %+v", r)
	}
	if r := c.run("upload"); r.code != 2 {
		t.Fatalf("upload without files: %+v", r)
	}
}

// TestDirectUploadTooLarge: a deployment that takes only small direct
// uploads (AWS: 4 MiB) answers 413; the file goes in parts instead.
func TestDirectUploadTooLarge(t *testing.T) {
	s, err := startServer("--max-upload-bytes", "1048576")
	if err != nil {
		t.Fatal(err)
	}
	defer s.stop()
	c := newCLI(t, s)
	path := filepath.Join(t.TempDir(), "six.bin")
	data := randomFile(t, path, 6<<20, 11)
	var outs []uploadOut
	c.json(&outs, "upload", path)
	if outs[0].UploadID == "" || outs[0].File.MD5 != md5hex(data) || !outs[0].File.IsUploaded {
		t.Fatalf("upload past the direct limit: %+v", outs[0])
	}
}

const script = `#!/bin/bash
echo "job $RESCALE_JOB_ID starts"
for i in 1 2 3 4 5 6; do echo "step $i"; sleep 0.3; done
mkdir -p results
echo 42 > results/answer.txt
echo "all done"
`

// TestSubmitFollow: jobs submit --path DIR uploads the directory, the job
// runs user_included in the sandbox, jobs status --follow (of the newest
// job) prints the timeline and the log (each line once, in order, live
// while it runs) and exits 0; outputs list and download.
func TestSubmitFollow(t *testing.T) {
	s := shared(t)
	c := newCLI(t, s)
	dir := t.TempDir()
	caseDir := filepath.Join(dir, "case")
	os.MkdirAll(filepath.Join(caseDir, "data"), 0o755)
	os.WriteFile(filepath.Join(caseDir, "run.sh"), []byte(script), 0o755)
	os.WriteFile(filepath.Join(caseDir, "data", "in.txt"), []byte("input\n"), 0o644)

	// As the issue has it: rescale jobs submit … && rescale jobs status --follow
	sub := c.run("jobs", "submit", "--path", caseDir, "--command", "./run.sh", "--name", "cli follow")
	if sub.code != 0 {
		t.Fatalf("submit: exit %d\n%s\n%s", sub.code, sub.stdout, sub.stderr)
	}
	job := strings.TrimSpace(sub.stdout)
	r := c.run("jobs", "status", "--follow", "--interval", "150ms")
	if r.code != 0 {
		t.Fatalf("status --follow: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	var statuses, logLines []string
	for _, l := range lines {
		if strings.HasPrefix(l, "==> ") {
			f := strings.Fields(l)
			statuses = append(statuses, strings.TrimSuffix(f[len(f)-1], ":"))
			if strings.Contains(l, "Completed:") {
				statuses[len(statuses)-1] = "Completed"
			}
			continue
		}
		logLines = append(logLines, l)
	}
	wantLog := []string{"job " + job + " starts", "step 1", "step 2", "step 3", "step 4", "step 5", "step 6", "all done"}
	if strings.Join(logLines, "|") != strings.Join(wantLog, "|") {
		t.Fatalf("log lines %q, want %q\n%s", logLines, wantLog, r.stdout)
	}
	if got := strings.Join(statuses, ","); !strings.HasPrefix(got, "Pending,Queued,Started,Validated,Executing,Completed") || !strings.Contains(r.stdout, "Completed: Completed successfully") {
		t.Fatalf("statuses %s\n%s", got, r.stdout)
	}
	if !strings.Contains(sub.stderr, "uploaded "+caseDir) || !strings.Contains(sub.stderr, "submitted job "+job) {
		t.Fatalf("stderr:\n%s", sub.stderr)
	}

	// The timeline again, as a table and as JSON; the job in the list.
	if out := c.ok("jobs", "status", job); !strings.Contains(out, "Executing") || !strings.Contains(out, "Completed successfully") {
		t.Fatalf("jobs status:\n%s", out)
	}
	var st struct {
		Status, StatusReason string
		Statuses             []map[string]any
	}
	c.json(&st, "jobs", "status", job)
	if st.Status != "Completed" || st.StatusReason != "Completed successfully" || st.Statuses[0]["status"] != "Pending" {
		t.Fatalf("jobs status --json: %+v", st)
	}
	var jobs []map[string]any
	c.json(&jobs, "jobs", "list", "--search", "cli follow")
	if len(jobs) == 0 || jobs[0]["id"] != job || jobs[0]["jobStatus"].(map[string]any)["content"] != "Completed" {
		t.Fatalf("jobs list: %v", jobs)
	}
	if out := c.ok("jobs", "list"); !strings.Contains(out, job) || !strings.Contains(out, "cli follow") {
		t.Fatalf("jobs list table:\n%s", out)
	}

	// Outputs: the unpacked inputs, the new file and the log.
	outputs := c.ok("jobs", "outputs", job)
	for _, p := range []string{"process_output.log", "run.sh", "data/in.txt", "results/answer.txt"} {
		if !strings.Contains(outputs, p) {
			t.Fatalf("outputs lack %s:\n%s", p, outputs)
		}
	}
	if strings.Contains(outputs, "case.zip") {
		t.Fatalf("the input archive is an output:\n%s", outputs)
	}
	into := filepath.Join(dir, "out")
	c.ok("download", "--job", job, "-o", into)
	if b, _ := os.ReadFile(filepath.Join(into, "results", "answer.txt")); string(b) != "42\n" {
		t.Fatalf("answer.txt = %q", b)
	}
	if b, _ := os.ReadFile(filepath.Join(into, "process_output.log")); !strings.Contains(string(b), "all done") {
		t.Fatalf("process_output.log = %q", b)
	}
	only := filepath.Join(dir, "only")
	var dl []map[string]any
	c.json(&dl, "download", "--job", job, "--run", "1", "--search", "answer", "-o", only)
	if len(dl) != 1 {
		t.Fatalf("--search answer downloaded %v", dl)
	}

	// status --follow of a finished job prints it all and exits 0 too.
	if out := c.ok("jobs", "status", job, "--follow"); !strings.Contains(out, "step 6") || !strings.Contains(out, "completed successfully") {
		t.Fatalf("status --follow of a finished job:\n%s", out)
	}
}

// TestFollowFailureAndStop: with submit --follow a failing command's exit
// code is the CLI's; a stopped job exits non-zero; a job from a JSON file
// with flags over it.
func TestFollowFailureAndStop(t *testing.T) {
	s := shared(t)
	c := newCLI(t, s)
	r := c.run("--json", "jobs", "submit", "--command", "echo failing; exit 3", "--name", "cli fails", "--follow", "--interval", "150ms")
	if r.code != 3 {
		t.Fatalf("failing job: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	var last map[string]any
	sawLog := false
	for _, l := range strings.Split(strings.TrimSpace(r.stdout), "\n") {
		if err := json.Unmarshal([]byte(l), &last); err != nil {
			t.Fatalf("--json --follow line %q: %v", l, err)
		}
		if last["type"] == "log" && last["line"] == "failing" {
			sawLog = true
		}
	}
	if !sawLog || last["type"] != "end" || last["exitCode"] != 3.0 || !strings.Contains(fmt.Sprint(last["statusReason"]), "exited with code 3") {
		t.Fatalf("events:\n%s", r.stdout)
	}

	dir := t.TempDir()
	spec := filepath.Join(dir, "job.json")
	os.WriteFile(spec, []byte(`{"name": "from file", "jobanalyses": [{"command": "echo not this", "analysis": {"code": "user_included"},
		"hardware": {"coreType": "standard-plus", "coresPerSlot": 1}, "envVars": {"FROM_FILE": "yes"}}]}`), 0o644)
	os.WriteFile(filepath.Join(dir, "sleep.sh"), []byte("#!/bin/bash\necho \"sleeping $FROM_FILE $FROM_FLAG\"\nsleep 60\n"), 0o755)
	job := strings.TrimSpace(c.ok("jobs", "submit", "-f", spec, "--input", filepath.Join(dir, "sleep.sh"), "--command", "bash ./sleep.sh", "--env", "FROM_FLAG=too", "-q"))
	// Wait for the live log before stopping it.
	follow := c.command("jobs", "status", job, "--follow", "--interval", "150ms")
	var out bytes.Buffer
	var mu sync.Mutex
	follow.Stdout = writerFunc(func(b []byte) (int, error) { mu.Lock(); defer mu.Unlock(); return out.Write(b) })
	if err := follow.Start(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the live log", 30*time.Second, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return strings.Contains(out.String(), "sleeping yes too")
	})
	c.ok("jobs", "stop", job)
	err := follow.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Fatalf("follow of a stopped job: %v\n%s", err, out.String())
	}
	if s := out.String(); !strings.Contains(s, "Stopping") || !strings.Contains(s, "stopped by the user") || strings.Count(s, "sleeping yes too") != 1 {
		t.Fatalf("follow of a stopped job:\n%s", s)
	}
	if r := c.run("jobs", "submit", "--command", "true", "--cores-per-slot", "3"); r.code != 1 || !strings.Contains(r.stderr, "jobanalyses[0].hardware.coresPerSlot") {
		t.Fatalf("invalid job: %+v", r)
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(b []byte) (int, error) { return f(b) }
