// Package motoserver runs moto (github.com/getmoto/moto) in server mode
// for tests, so the AWS Batch and Step Functions adapters are tested
// against an implementation of those APIs rather than hand-written fakes.
//
// moto comes from Python: `python3 -m pip install 'moto[server]==5.2.1'`
// (the machine image of this project has it preinstalled), or the
// interpreter in MOTO_PYTHON. Without it tests skip, unless
// REQUIRE_TEST_SERVERS=1, where they fail: CI must not pass by skipping.
//
// The server is configured as the adapters' tests need it: Batch runs no
// containers (a submitted job is SUCCEEDED at once) and Step Functions
// interprets the definitions it is given. What moto 5.2.1 does and lacks,
// as checked:
//
//   - Batch: SubmitJob, DescribeJobs, TerminateJob, ListJobs work, with
//     queues and definitions created as infra creates them. TerminateJob
//     answers 200 and records the reason but changes no finished job (and
//     every job is finished at once). A job definition with
//     resourceRequirements makes DescribeJobs answer "vcpus": 1.0, which
//     aws-sdk-go-v2 cannot decode: register definitions with integer vcpus.
//     No SubmitJob rate limit, no "Batch Job State Change" events.
//   - Step Functions: every execution after the first fails (HTTP 500)
//     until the server is reset (getmoto/moto#10077): call Reset between
//     executions. The batch:submitJob.sync integration fails.
//
// One server per test binary: call Shared from tests and Main from
// TestMain. Shared resets the server, so tests that use it must not run in
// parallel with each other.
package motoserver

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/batch"
	batchtypes "github.com/aws/aws-sdk-go-v2/service/batch/types"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
)

// Region and Account are what moto reports for the dummy credentials.
const (
	Region  = "us-east-1"
	Account = "123456789012"
)

// startTimeout bounds start-up: importing moto's service modules takes a
// few seconds on a loaded machine.
const startTimeout = 60 * time.Second

// config is posted to /moto-api/config after start and after every reset.
// Step Functions' flag must be set before any state machine is created.
const config = `{"batch": {"use_docker": false}, "stepfunctions": {"execute_state_machine": true}}`

const installHint = "moto is needed: `python3 -m pip install 'moto[server]==5.2.1'`, " +
	"or point MOTO_PYTHON at an interpreter that has it"

// Server is a running moto server.
type Server struct {
	// Endpoint is the base URL, e.g. http://127.0.0.1:41234.
	Endpoint string

	cmd  *exec.Cmd
	done chan struct{} // closed when the process has exited
	mu   sync.Mutex    // guards log, written by the process
	log  *bytes.Buffer
}

// AWSConfig returns an SDK configuration for the server: its endpoint,
// the region and dummy credentials.
func (s *Server) AWSConfig() aws.Config {
	return aws.Config{
		Region:       Region,
		BaseEndpoint: aws.String(s.Endpoint),
		Credentials:  credentials.NewStaticCredentialsProvider("moto", "moto", ""),
	}
}

// Batch returns a Batch client for the server.
func (s *Server) Batch(opts ...func(*batch.Options)) *batch.Client {
	return batch.NewFromConfig(s.AWSConfig(), opts...)
}

// SFN returns a Step Functions client for the server.
func (s *Server) SFN(opts ...func(*sfn.Options)) *sfn.Client {
	return sfn.NewFromConfig(s.AWSConfig(), opts...)
}

// Reset drops every resource moto holds and configures it again.
func (s *Server) Reset(ctx context.Context) error {
	if err := s.post(ctx, "/moto-api/reset", ""); err != nil {
		return err
	}
	return s.post(ctx, "/moto-api/config", config)
}

func (s *Server) post(ctx context.Context, path, body string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.Endpoint+path, strings.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("moto %s: %w", path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("moto %s: %s: %s", path, resp.Status, b)
	}
	return nil
}

// shared is the one server of a test binary.
var shared struct {
	once sync.Once
	srv  *Server
	err  error
}

// Shared returns the test binary's server, starting it on first use, reset
// for this test. It skips the test (or fails it, under
// REQUIRE_TEST_SERVERS=1) when moto is not installed.
func Shared(t testing.TB) *Server {
	t.Helper()
	shared.once.Do(func() { shared.srv, shared.err = Launch() })
	if shared.err != nil {
		unavailable(t, shared.err)
	}
	if err := shared.srv.Reset(context.Background()); err != nil {
		t.Fatalf("reset moto: %v\noutput:\n%s", err, shared.srv.output())
	}
	return shared.srv
}

// Main runs the tests and then stops the shared server:
//
//	func TestMain(m *testing.M) { motoserver.Main(m) }
func Main(m *testing.M) {
	code := m.Run()
	if shared.srv != nil {
		if err := shared.srv.Stop(); err != nil {
			fmt.Fprintf(os.Stderr, "motoserver: stop shared server: %v\n", err)
		}
	}
	os.Exit(code)
}

// notInstalledError marks a missing interpreter or moto, the one failure
// that may skip rather than fail.
type notInstalledError struct{ err error }

func (e *notInstalledError) Error() string { return "moto is not installed: " + e.err.Error() }
func (e *notInstalledError) Unwrap() error { return e.err }

func unavailable(t testing.TB, err error) {
	t.Helper()
	switch {
	case os.Getenv("REQUIRE_TEST_SERVERS") == "1":
		t.Fatalf("REQUIRE_TEST_SERVERS=1 but moto cannot start: %v\n%s", err, installHint)
	case errors.As(err, new(*notInstalledError)):
		t.Skipf("\n*** SKIPPING: %v ***\n*** %s ***\n*** set REQUIRE_TEST_SERVERS=1 to make this a failure ***", err, installHint)
	default:
		// Installed but broken is a real failure: skipping would hide it.
		t.Fatalf("moto: %v", err)
	}
}

// python finds the interpreter and checks that it has moto's server.
func python() (string, error) {
	py := os.Getenv("MOTO_PYTHON")
	if py == "" {
		py = "python3"
	}
	path, err := exec.LookPath(py)
	if err != nil {
		return "", &notInstalledError{err}
	}
	out, err := exec.Command(path, "-c", "import moto, moto.server, flask; print(moto.__version__)").CombinedOutput()
	if err != nil {
		return "", &notInstalledError{fmt.Errorf("%s cannot import moto.server: %v: %s", path, err, bytes.TrimSpace(out))}
	}
	if v := strings.TrimSpace(string(out)); !strings.HasPrefix(v, "5.") {
		return "", fmt.Errorf("moto %s found; these tests are written against moto 5", v)
	}
	return path, nil
}

// Launch starts a server on a free loopback port, waits until it answers
// and configures it. The caller must Stop it.
func Launch() (*Server, error) {
	py, err := python()
	if err != nil {
		return nil, err
	}
	// The port is free when chosen but another process may grab it before
	// moto binds it; a retry with a new port covers that race.
	var lastErr error
	for range 3 {
		srv, err := launch(py)
		if err == nil {
			return srv, nil
		}
		lastErr = err
	}
	return nil, lastErr
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find free port: %w", err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	if err := l.Close(); err != nil {
		return 0, fmt.Errorf("release port: %w", err)
	}
	return port, nil
}

type lockedWriter struct{ s *Server }

func (w lockedWriter) Write(p []byte) (int, error) {
	w.s.mu.Lock()
	defer w.s.mu.Unlock()
	// Keep the tail: moto logs every request.
	if w.s.log.Len() > 1<<20 {
		tail := append([]byte(nil), w.s.log.Bytes()[w.s.log.Len()-(64<<10):]...)
		w.s.log.Reset()
		w.s.log.Write(tail)
	}
	return w.s.log.Write(p)
}

func (s *Server) output() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.log.String()
}

func launch(py string) (*Server, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	srv := &Server{
		Endpoint: "http://127.0.0.1:" + strconv.Itoa(port),
		done:     make(chan struct{}),
		log:      &bytes.Buffer{},
	}
	cmd := exec.Command(py, "-m", "moto.server", "-H", "127.0.0.1", "-p", strconv.Itoa(port))
	// Not the test's own stdout: a leaked server holding it open would
	// keep `go test` waiting for EOF.
	cmd.Stdout = lockedWriter{srv}
	cmd.Stderr = lockedWriter{srv}
	cmd.SysProcAttr = sysProcAttr()
	srv.cmd = cmd

	started := make(chan error, 1)
	go func() {
		// The parent-death signal (Linux) fires when the thread that forked
		// exits, so fork from a thread locked to this goroutine for as long
		// as the server runs.
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		_ = cmd.Wait()
		close(srv.done)
	}()
	if err := <-started; err != nil {
		return nil, fmt.Errorf("start %s -m moto.server: %w", py, err)
	}
	if err := srv.waitReady(); err != nil {
		return nil, errors.Join(err, srv.Stop())
	}
	if err := srv.post(context.Background(), "/moto-api/config", config); err != nil {
		return nil, errors.Join(err, srv.Stop())
	}
	return srv, nil
}

func (s *Server) waitReady() error {
	deadline := time.Now().Add(startTimeout)
	client := &http.Client{Timeout: time.Second}
	for {
		resp, err := client.Get(s.Endpoint + "/moto-api/data.json")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("status %s", resp.Status)
		}
		select {
		case <-s.done:
			return fmt.Errorf("moto exited during start-up (%s): %w\noutput:\n%s", s.cmd.ProcessState, err, s.output())
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("moto did not answer within %v: %w\noutput:\n%s", startTimeout, err, s.output())
		}
	}
}

// Stop kills the server and waits for it to exit. Its state is in memory
// and thrown away anyway.
func (s *Server) Stop() error {
	select {
	case <-s.done:
		return nil
	default:
	}
	if err := s.cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("kill moto: %w", err)
	}
	select {
	case <-s.done:
		return nil
	case <-time.After(10 * time.Second):
		return fmt.Errorf("moto (pid %d) did not exit after kill", s.cmd.Process.Pid)
	}
}

// CreateBatchQueue creates a job queue named name on an unmanaged compute
// environment of its own, with the service role moto insists on (moto runs
// no instances either way), and returns the queue's ARN.
func (s *Server) CreateBatchQueue(ctx context.Context, name string) (string, error) {
	role, err := s.createRole(ctx, name+"-batch-service")
	if err != nil {
		return "", err
	}
	client := s.Batch()
	ce, err := client.CreateComputeEnvironment(ctx, &batch.CreateComputeEnvironmentInput{
		ComputeEnvironmentName: aws.String(name + "-ce"),
		Type:                   batchtypes.CETypeUnmanaged,
		State:                  batchtypes.CEStateEnabled,
		ServiceRole:            aws.String(role),
	})
	if err != nil {
		return "", fmt.Errorf("create compute environment for %s: %w", name, err)
	}
	q, err := client.CreateJobQueue(ctx, &batch.CreateJobQueueInput{
		JobQueueName: aws.String(name),
		Priority:     aws.Int32(1),
		State:        batchtypes.JQStateEnabled,
		ComputeEnvironmentOrder: []batchtypes.ComputeEnvironmentOrder{
			{Order: aws.Int32(1), ComputeEnvironment: ce.ComputeEnvironmentArn},
		},
	})
	if err != nil {
		return "", fmt.Errorf("create job queue %s: %w", name, err)
	}
	return aws.ToString(q.JobQueueArn), nil
}

// RegisterJobDefinition registers a single-node container definition as
// infra does, with integer vcpus and memory: with resourceRequirements
// instead, moto describes jobs with "vcpus": 1.0, which the SDK cannot
// decode.
func RegisterJobDefinition(ctx context.Context, client *batch.Client, name string) (string, error) {
	out, err := client.RegisterJobDefinition(ctx, &batch.RegisterJobDefinitionInput{
		JobDefinitionName: aws.String(name),
		Type:              batchtypes.JobDefinitionTypeContainer,
		ContainerProperties: &batchtypes.ContainerProperties{
			Image: aws.String("rescale-agent:test"), Command: []string{"/agent"},
			Vcpus: aws.Int32(1), Memory: aws.Int32(512),
		},
	})
	if err != nil {
		return "", fmt.Errorf("register job definition %s: %w", name, err)
	}
	return aws.ToString(out.JobDefinitionArn), nil
}

// createRole creates an IAM role through IAM's query API (this module
// has no IAM client, and one role is all the tests need) and returns its
// ARN.
func (s *Server) createRole(ctx context.Context, name string) (string, error) {
	form := url.Values{
		"Action": {"CreateRole"}, "Version": {"2010-05-08"}, "RoleName": {name},
		"AssumeRolePolicyDocument": {`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"batch.amazonaws.com"},"Action":"sts:AssumeRole"}]}`},
	}.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.Endpoint+"/", strings.NewReader(form))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	sum := sha256.Sum256([]byte(form))
	creds, err := s.AWSConfig().Credentials.Retrieve(ctx)
	if err != nil {
		return "", err
	}
	// moto routes a request to a service by the credential scope of its
	// signature.
	if err := v4.NewSigner().SignHTTP(ctx, creds, req, hex.EncodeToString(sum[:]), "iam", Region, time.Now()); err != nil {
		return "", fmt.Errorf("sign CreateRole: %w", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", fmt.Errorf("create role %s: %w", name, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("create role %s: %s: %s", name, resp.Status, body)
	}
	var out struct {
		Arn string `xml:"CreateRoleResult>Role>Arn"`
	}
	if err := xml.Unmarshal(body, &out); err != nil || out.Arn == "" {
		return "", fmt.Errorf("create role %s: no ARN in %s (%v)", name, body, err)
	}
	return out.Arn, nil
}
