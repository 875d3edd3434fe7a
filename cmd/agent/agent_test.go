package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/openrescale/platform/shared/blob"
	"github.com/openrescale/platform/shared/blob/s3blob"
	"github.com/openrescale/platform/shared/compute"
	"github.com/openrescale/platform/shared/compute/agentspec"
	"github.com/openrescale/platform/shared/storagecreds"
	"github.com/openrescale/platform/shared/worker"
	"github.com/openrescale/platform/shared/worker/workertest"
)

var binary string // the agent, built once by TestMain as Batch's image would hold it

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "rescale-agent-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "agent")
	build := exec.Command("go", "build", "-o", binary, ".")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build agent:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

const testBucket = "rescale-agent-test"

// fakeS3 is an S3-protocol server (gofakes3) the agent reaches through
// AWS_ENDPOINT_URL_S3, with the test's own client for it.
type fakeS3 struct {
	URL    string
	Bucket blob.Bucket
}

func startS3(t *testing.T) fakeS3 {
	t.Helper()
	srv := httptest.NewServer(gofakes3.New(s3mem.New()).Server())
	t.Cleanup(srv.Close)
	client := s3.New(s3.Options{
		Region:       "us-east-1",
		Credentials:  credentials.NewStaticCredentialsProvider("test", "test", ""),
		BaseEndpoint: aws.String(srv.URL),
		UsePathStyle: true,
		// See shared/blob/s3blob/s3local: gofakes3 and the SDK's default
		// checksums disagree over TLS; the agent is told the same.
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired,
	})
	if _, err := client.CreateBucket(t.Context(), &s3.CreateBucketInput{Bucket: aws.String(testBucket)}); err != nil {
		t.Fatal(err)
	}
	return fakeS3{URL: srv.URL, Bucket: s3blob.New(client, testBucket)}
}

// specOf is the spec the Batch adapter would send for the run.
func specOf(r compute.Run) agentspec.Spec {
	s := agentspec.Spec{
		Version: agentspec.Version, JobID: r.JobID, RunID: r.RunID, OwnerID: r.OwnerID,
		Analysis: r.Req.Analysis, AnalysisVersion: r.Req.Version, CoreType: "emerald",
		Cores: r.Req.Cores, Nodes: 1, CoresPerNode: r.Req.Cores, StorageBytes: r.Req.StorageBytes,
		Bucket: testBucket, OutputPrefix: r.OutputPrefix,
		Command: r.Command, PreCommand: r.PreCommand, PostCommand: r.PostCommand, UseMPI: r.UseMPI,
		WalltimeSeconds: int64(r.Walltime / time.Second), Include: r.Include, Exclude: r.Exclude, Env: r.Env,
	}
	for _, f := range r.Inputs {
		s.Inputs = append(s.Inputs, agentspec.Input{Name: f.Name, Key: f.Key, Executable: f.Executable})
	}
	return s
}

// lockedBuffer is the agent's stderr, read while the process writes it.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// agent is one agent process.
type agent struct {
	cmd    *exec.Cmd
	root   string
	stderr *lockedBuffer
	done   chan struct{}
	code   int
}

// startAgent runs the binary as Batch runs the container: the spec and
// the deployment's settings in its environment, nothing of the test's.
func startAgent(t *testing.T, s3 fakeS3, spec agentspec.Spec, extra ...string) *agent {
	t.Helper()
	enc, err := spec.Encode()
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	a := &agent{root: root, stderr: &lockedBuffer{}, done: make(chan struct{})}
	a.cmd = exec.Command(binary)
	a.cmd.Env = append([]string{
		"PATH=" + os.Getenv("PATH"),
		agentspec.EnvVar + "=" + enc,
		"AWS_ENDPOINT_URL_S3=" + s3.URL,
		"AWS_REGION=us-east-1",
		"AWS_ACCESS_KEY_ID=test", "AWS_SECRET_ACCESS_KEY=test",
		"AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null", "AWS_EC2_METADATA_DISABLED=true",
		"AWS_REQUEST_CHECKSUM_CALCULATION=when_required", "AWS_RESPONSE_CHECKSUM_VALIDATION=when_required",
		"RESCALE_AGENT_S3_CREDENTIALS=environment",
		"RESCALE_AGENT_ROOT=" + root,
		"RESCALE_AGENT_GRACE=2s",
	}, extra...)
	a.cmd.Stderr = a.stderr
	if err := a.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(a.done)
		err := a.cmd.Wait()
		var ee *exec.ExitError
		switch {
		case err == nil:
		case errors.As(err, &ee):
			a.code = ee.ExitCode()
		default:
			a.code = -1
		}
	}()
	t.Cleanup(func() {
		a.cmd.Process.Kill()
		<-a.done
	})
	return a
}

func (a *agent) wait(t *testing.T) int {
	t.Helper()
	select {
	case <-a.done:
	case <-time.After(10 * time.Minute): // a hang, not a duration check
		t.Fatalf("the agent did not exit; stderr:\n%s", a.stderr)
	}
	return a.code
}

// workDir is where the agent runs the command.
func (a *agent) workDir() string {
	return filepath.Join(a.root, "job_"+workertest.JobID, "run"+workertest.RunID, "work")
}

// runner performs a case with the agent binary against fake S3.
func runner(sandbox string) workertest.Runner {
	return func(t *testing.T, c workertest.Case) workertest.Got {
		t.Helper()
		s3 := startS3(t)
		files := workertest.Files(t, c)
		for name, body := range files {
			if _, err := s3.Bucket.Put(t.Context(), workertest.InputKey(name), bytes.NewReader(body), ""); err != nil {
				t.Fatal(err)
			}
		}
		a := startAgent(t, s3, specOf(workertest.RunOf(c, files)), "RESCALE_AGENT_SANDBOX="+sandbox)
		code := a.wait(t)
		got := workertest.Got{Outcome: workertest.Exited, ExitCode: code, Outputs: workertest.Outputs(t, s3.Bucket)}
		switch code {
		case agentspec.ExitWalltime:
			got.Outcome = workertest.Walltime
		case agentspec.ExitInputs:
			got.Outcome = workertest.Inputs
		case agentspec.ExitSystem:
			got.Outcome = workertest.System
			got.Reason = a.stderr.String()
		}
		return got
	}
}

func sandboxes(t *testing.T) []struct {
	name    string
	sandbox worker.Sandbox
} {
	out := []struct {
		name    string
		sandbox worker.Sandbox
	}{{"none", worker.None{}}}
	p, err := exec.LookPath("bwrap")
	switch {
	case err == nil:
		out = append(out, struct {
			name    string
			sandbox worker.Sandbox
		}{"bwrap", worker.Bubblewrap{Path: p}})
	case os.Getenv("REQUIRE_TEST_SERVERS") == "1":
		t.Fatalf("bubblewrap is required here: %v", err)
	default:
		t.Log("SKIPPING the bubblewrap runs: bwrap not installed")
	}
	return out
}

// TestCases runs the local executor's table with the agent binary and
// holds its outputs to the local executor's for the same run.
func TestCases(t *testing.T) {
	sw, err := worker.LoadSoftwareMap("")
	if err != nil {
		t.Fatal(err)
	}
	sandboxes := sandboxes(t)
	for _, sb := range sandboxes {
		t.Run(sb.name, func(t *testing.T) {
			run, local := runner(sb.name), workertest.Local(sb.sandbox, sw)
			for _, c := range workertest.Cases() {
				t.Run(c.Name, func(t *testing.T) {
					if c.Need != nil {
						c.Need(t)
					}
					if c.Slow && sb.name == "none" && len(sandboxes) > 1 {
						t.Skip("slow case: run in the bubblewrap sandbox only")
					}
					got := run(t, c)
					workertest.Check(t, c, got)
					workertest.Same(t, c, local(t, c), got)
				})
			}
		})
	}
}

// waitFor polls until ok; the deadline only guards against a hang.
func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("%s never happened", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func object(b blob.Bucket, key string) (string, bool) {
	r, err := b.NewRangeReader(context.Background(), key, 0, -1)
	if err != nil {
		return "", false
	}
	defer r.Close()
	body, err := io.ReadAll(r)
	return string(body), err == nil
}

func simpleSpec(command string) agentspec.Spec {
	return specOf(workertest.RunOf(workertest.Case{Command: command}, nil))
}

// TestLogUploadedWhileRunning: process_output.log reaches S3 while the
// command still runs, so tail works in AWS.
func TestLogUploadedWhileRunning(t *testing.T) {
	s3 := startS3(t)
	a := startAgent(t, s3, simpleSpec("echo first; while [ ! -e go ]; do sleep 0.05; done; echo second"),
		"RESCALE_AGENT_LOG_INTERVAL=50ms", "RESCALE_AGENT_SANDBOX=none")
	key := workertest.OutputPrefix + worker.LogName
	waitFor(t, "the live log upload", func() bool {
		log, _ := object(s3.Bucket, key)
		return log == "first\n"
	})
	select {
	case <-a.done:
		t.Fatalf("the agent exited before the command could: %s", a.stderr)
	default:
	}
	if err := os.WriteFile(filepath.Join(a.workDir(), "go"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if code := a.wait(t); code != 0 {
		t.Fatalf("exit %d: %s", code, a.stderr)
	}
	if log, _ := object(s3.Bucket, key); log != "first\nsecond\n" {
		t.Fatalf("final log %q", log)
	}
}

// TestLiveLogRemovedWhenFilteredOut: the log uploaded while the command
// ran does not stay behind as an output when the filters leave it out.
func TestLiveLogRemovedWhenFilteredOut(t *testing.T) {
	s3 := startS3(t)
	spec := simpleSpec("echo first; while [ ! -e go ]; do sleep 0.05; done; echo x > out.txt")
	spec.Include = []string{"*.txt"}
	a := startAgent(t, s3, spec, "RESCALE_AGENT_LOG_INTERVAL=50ms", "RESCALE_AGENT_SANDBOX=none")
	key := workertest.OutputPrefix + worker.LogName
	waitFor(t, "the live log upload", func() bool {
		_, ok := object(s3.Bucket, key)
		return ok
	})
	if err := os.WriteFile(filepath.Join(a.workDir(), "go"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if code := a.wait(t); code != 0 {
		t.Fatalf("exit %d: %s", code, a.stderr)
	}
	if _, ok := object(s3.Bucket, key); ok {
		t.Fatal("the live log stayed behind although the filters leave it out")
	}
	if out, _ := object(s3.Bucket, workertest.OutputPrefix+"out.txt"); out != "x\n" {
		t.Fatalf("out.txt = %q", out)
	}
}

// TestSIGTERMStopsGracefullyAndUploads is Batch's TerminateJob: the
// command gets SIGTERM, may save its work, and the outputs are uploaded
// before the agent exits with the command's code.
func TestSIGTERMStopsGracefullyAndUploads(t *testing.T) {
	s3 := startS3(t)
	script := "trap 'echo saved > on_term.txt; exit 143' TERM; echo started > started.txt; sleep 300 & wait"
	a := startAgent(t, s3, simpleSpec(script), "RESCALE_AGENT_SANDBOX=none")
	waitFor(t, "the command's start", func() bool {
		_, err := os.Stat(filepath.Join(a.workDir(), "started.txt"))
		return err == nil
	})
	if err := a.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := a.wait(t); code != 143 {
		t.Fatalf("exit %d, want the command's 143: %s", code, a.stderr)
	}
	for _, rel := range []string{"started.txt", "on_term.txt", worker.LogName} {
		if _, ok := object(s3.Bucket, workertest.OutputPrefix+rel); !ok {
			t.Fatalf("output %s not uploaded", rel)
		}
	}
}

// TestExitCodes: what the container reports when the command could not
// run or did not end by itself.
func TestExitCodes(t *testing.T) {
	tests := []struct {
		name  string
		spec  func(agentspec.Spec) agentspec.Spec
		env   []string
		want  int
		inLog string
	}{
		{name: "command's own code", spec: func(s agentspec.Spec) agentspec.Spec { s.Command = "exit 7"; return s }, want: 7},
		{name: "killed by a signal is 128+n", spec: func(s agentspec.Spec) agentspec.Spec { s.Command = "kill -KILL $$"; return s }, want: 128 + 9},
		{name: "software missing from the image", spec: func(s agentspec.Spec) agentspec.Spec {
			s.Analysis, s.AnalysisVersion = "ls_dyna", "v12"
			return s
		}, want: agentspec.ExitSystem, inLog: "ls_dyna v12 is not installed"},
		{name: "input missing from the bucket", spec: func(s agentspec.Spec) agentspec.Spec {
			s.Inputs = []agentspec.Input{{Name: "gone.txt", Key: "user/user_uCase/gone.txt-1"}}
			return s
		}, want: agentspec.ExitSystem, inLog: "staging the inputs failed"},
		{name: "more storage than the disk has", spec: func(s agentspec.Spec) agentspec.Spec { s.StorageBytes = 1 << 62; return s },
			want: agentspec.ExitSystem, inLog: "not enough free disk space"},
		{name: "unreadable spec", spec: func(s agentspec.Spec) agentspec.Spec { return s },
			env: []string{agentspec.EnvVar + "={"}, want: agentspec.ExitSystem},
		{name: "S3 unreachable", spec: func(s agentspec.Spec) agentspec.Spec { s.Command = "echo hi"; return s },
			env: []string{"AWS_ENDPOINT_URL_S3=http://127.0.0.1:1", "AWS_MAX_ATTEMPTS=1"}, want: agentspec.ExitSystem},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s3 := startS3(t)
			a := startAgent(t, s3, tc.spec(simpleSpec("true")), append([]string{"RESCALE_AGENT_SANDBOX=none"}, tc.env...)...)
			if code := a.wait(t); code != tc.want {
				t.Fatalf("exit %d, want %d: %s", code, tc.want, a.stderr)
			}
			if tc.inLog != "" {
				if log, _ := object(s3.Bucket, workertest.OutputPrefix+worker.LogName); !strings.Contains(log, tc.inLog) {
					t.Fatalf("process_output.log %q lacks %q", log, tc.inLog)
				}
			}
		})
	}
}

// TestOtherNodesWait: on a multi-node job only the main node runs the
// command; the others wait for Batch to end them.
func TestOtherNodesWait(t *testing.T) {
	s3 := startS3(t)
	spec := simpleSpec("echo ran > ran.txt")
	spec.Nodes, spec.CoresPerNode, spec.UseMPI = 2, 1, true
	a := startAgent(t, s3, spec, "RESCALE_AGENT_SANDBOX=none",
		"AWS_BATCH_JOB_NODE_INDEX=1", "AWS_BATCH_JOB_MAIN_NODE_INDEX=0", "AWS_BATCH_JOB_NUM_NODES=2",
		"AWS_BATCH_JOB_MAIN_NODE_PRIVATE_IPV4_ADDRESS=10.0.0.1")
	waitFor(t, "the node's wait", func() bool { return strings.Contains(a.stderr.String(), "not the main node") })
	if err := a.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := a.wait(t); code != 0 {
		t.Fatalf("exit %d: %s", code, a.stderr)
	}
	if _, ok := object(s3.Bucket, workertest.OutputPrefix+"ran.txt"); ok {
		t.Fatal("a node that is not the main one ran the command")
	}
}

// credentialsServer answers POST credentials/ as the platform does,
// recording what it was asked for.
type credentialsServer struct {
	*httptest.Server
	mu    sync.Mutex
	auth  []string
	paths [][]string
}

func startCredentials(t *testing.T, expires time.Time) *credentialsServer {
	cs := &credentialsServer{}
	cs.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/api/v2/credentials/" {
			http.NotFound(w, r)
			return
		}
		var body struct {
			Paths []struct {
				Path string `json:"path"`
			} `json:"paths"`
		}
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			http.Error(w, `{"detail":"bad body"}`, http.StatusBadRequest)
			return
		}
		var paths []string
		for _, p := range body.Paths {
			paths = append(paths, p.Path)
		}
		cs.mu.Lock()
		cs.auth = append(cs.auth, r.Header.Get("Authorization"))
		cs.paths = append(cs.paths, paths)
		n := len(cs.paths)
		cs.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		json.NewEncoder(w).Encode(storagecreds.Grant{AccessKey: fmt.Sprintf("ASIA%d", n), SecretKey: "secret", SessionToken: "token",
			StorageDir: "user/user_" + workertest.OwnerID, Expiration: expires})
	}))
	t.Cleanup(cs.Close)
	return cs
}

// TestAPICredentials: by default the agent's S3 credentials come from the
// platform, asked for with the job's key and for the run's keys only, and
// are fetched again before they expire.
func TestAPICredentials(t *testing.T) {
	cs := startCredentials(t, time.Now().Add(time.Minute)) // inside the refresh window: every use refreshes
	spec := simpleSpec("true")
	spec.Env = map[string]string{"RESCALE_API_URL": cs.URL + "/api/v2/", "RESCALE_API_KEY": "jobkey123"}
	spec.Inputs = []agentspec.Input{{Name: "a.txt", Key: "user/user_uCase/a.txt-1"}, {Name: "b.zip", Key: "user/user_uCase/b.zip-2"}}
	p, err := newAPICredentials(spec, cs.Client())
	if err != nil {
		t.Fatal(err)
	}
	cache := aws.NewCredentialsCache(p, func(o *aws.CredentialsCacheOptions) { o.ExpiryWindow = 5 * time.Minute })
	var keys []string
	for range 2 {
		c, err := cache.Retrieve(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, c.AccessKeyID)
	}
	if keys[0] == keys[1] {
		t.Fatalf("credentials about to expire were reused: %v", keys)
	}
	want := []string{workertest.OutputPrefix, "user/user_uCase/a.txt-1", "user/user_uCase/b.zip-2"}
	for i := range cs.paths {
		if cs.auth[i] != "Token jobkey123" || !slices.Equal(cs.paths[i], want) {
			t.Fatalf("request %d: %q for %v, want the job key for %v", i, cs.auth[i], cs.paths[i], want)
		}
	}

	// Too many inputs for one request: the owner's storage directory.
	for i := range storagecreds.MaxPaths {
		spec.Inputs = append(spec.Inputs, agentspec.Input{Name: fmt.Sprint(i), Key: fmt.Sprintf("user/user_uCase/%d-k", i)})
	}
	if p, err := newAPICredentials(spec, cs.Client()); err != nil || p.paths != nil {
		t.Fatalf("%d inputs: paths %v, %v", len(spec.Inputs), p.paths, err)
	}
	spec.Env = nil
	if _, err := newAPICredentials(spec, cs.Client()); err == nil {
		t.Fatal("no API key: no error")
	}
}

// TestRunWithAPICredentials runs the agent in its default credentials
// mode: it asks the platform for credentials before touching S3.
// gofakes3 accepts any signature, so this shows the request is made and
// its credentials are used, not that S3 would accept them.
func TestRunWithAPICredentials(t *testing.T) {
	cs := startCredentials(t, time.Now().Add(time.Hour))
	s3 := startS3(t)
	if _, err := s3.Bucket.Put(t.Context(), workertest.InputKey("in.txt"), strings.NewReader("x\n"), ""); err != nil {
		t.Fatal(err)
	}
	spec := specOf(workertest.RunOf(workertest.Case{Command: "cat in.txt > out.txt"}, map[string][]byte{"in.txt": nil}))
	spec.Env["RESCALE_API_URL"], spec.Env["RESCALE_API_KEY"] = cs.URL+"/api/v2/", "jobkey123"
	a := startAgent(t, s3, spec, "RESCALE_AGENT_SANDBOX=none", "RESCALE_AGENT_S3_CREDENTIALS=api",
		"AWS_ACCESS_KEY_ID=", "AWS_SECRET_ACCESS_KEY=")
	if code := a.wait(t); code != 0 {
		t.Fatalf("exit %d: %s", code, a.stderr)
	}
	if out, _ := object(s3.Bucket, workertest.OutputPrefix+"out.txt"); out != "x\n" {
		t.Fatalf("out.txt = %q", out)
	}
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if len(cs.paths) == 0 {
		t.Fatal("the platform was never asked for credentials")
	}
}
