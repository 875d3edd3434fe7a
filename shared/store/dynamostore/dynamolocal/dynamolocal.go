// Package dynamolocal runs AWS's DynamoDB Local for tests, so the DynamoDB
// adapter and everything built on it are tested against DynamoDB's own
// semantics rather than a fake.
//
// The jar comes from the npm package amplify-dynamodb-simulator, pinned in
// tests/servers (install with `cd tests/servers && npm ci`), or from the
// directory in DYNAMODB_LOCAL_DIR. Without it tests skip, unless
// REQUIRE_TEST_SERVERS=1, where they fail: CI must not pass by skipping.
//
// One server per test binary is the cheap way (JVM start-up is the slow
// part): call Shared from tests and Main from TestMain. Start gives a test a
// server of its own.
package dynamolocal

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
)

// jarRel is where npm puts the jar, relative to the repository root.
const jarRel = "tests/servers/node_modules/amplify-dynamodb-simulator/emulator"

// startTimeout bounds JVM start-up; a cold JVM on a loaded CI box takes a
// few seconds.
const startTimeout = 30 * time.Second

const installHint = "DynamoDB Local is needed: install it with `cd tests/servers && npm ci` " +
	"(needs node and a Java runtime), or point DYNAMODB_LOCAL_DIR at a directory holding DynamoDBLocal.jar"

// Server is a running DynamoDB Local.
type Server struct {
	// Endpoint is the base URL, e.g. http://127.0.0.1:41234.
	Endpoint string

	cmd  *exec.Cmd
	done chan struct{} // closed when the process has exited
	log  *bytes.Buffer
	mu   sync.Mutex // guards log, written by the process
}

// NewClient returns a client for a DynamoDB Local at endpoint. The
// credentials are dummies: Local accepts any, but the SDK insists on some.
func NewClient(endpoint string) *dynamodb.Client {
	return dynamodb.New(dynamodb.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(endpoint),
		Credentials:  credentials.NewStaticCredentialsProvider("local", "local", ""),
	})
}

// Client returns a new client for the server.
func (s *Server) Client() *dynamodb.Client { return NewClient(s.Endpoint) }

// Start starts a server for this test alone and stops it when the test
// ends. It skips the test (or fails it, under REQUIRE_TEST_SERVERS=1) when
// DynamoDB Local is not installed.
func Start(t testing.TB) (*dynamodb.Client, string) {
	t.Helper()
	srv, err := Launch()
	if err != nil {
		unavailable(t, err)
	}
	t.Cleanup(func() {
		if err := srv.Stop(); err != nil {
			t.Errorf("stop DynamoDB Local: %v", err)
		}
	})
	return srv.Client(), srv.Endpoint
}

// shared is the one server of a test binary. Its state lives in one
// package variable because sync.Once is the point: tests of a package share
// the JVM.
var shared struct {
	once sync.Once
	srv  *Server
	err  error
}

// Shared returns a client for the test binary's server, starting it on
// first use. Pair it with Main in TestMain, which stops the server; without
// Main the process is still killed when the test binary exits (on Linux).
func Shared(t testing.TB) (*dynamodb.Client, string) {
	t.Helper()
	shared.once.Do(func() { shared.srv, shared.err = Launch() })
	if shared.err != nil {
		unavailable(t, shared.err)
	}
	return shared.srv.Client(), shared.srv.Endpoint
}

// Main runs the tests and then stops the shared server:
//
//	func TestMain(m *testing.M) { dynamolocal.Main(m) }
func Main(m *testing.M) {
	code := m.Run()
	if shared.srv != nil {
		if err := shared.srv.Stop(); err != nil {
			fmt.Fprintf(os.Stderr, "dynamolocal: stop shared server: %v\n", err)
		}
	}
	os.Exit(code)
}

// notInstalledError marks a missing jar or java, the one failure that may
// skip rather than fail.
type notInstalledError struct{ err error }

func (e *notInstalledError) Error() string {
	return "DynamoDB Local is not installed: " + e.err.Error()
}
func (e *notInstalledError) Unwrap() error { return e.err }

func notInstalled(format string, args ...any) error {
	return &notInstalledError{fmt.Errorf(format, args...)}
}

func unavailable(t testing.TB, err error) {
	t.Helper()
	switch {
	case os.Getenv("REQUIRE_TEST_SERVERS") == "1":
		t.Fatalf("REQUIRE_TEST_SERVERS=1 but DynamoDB Local cannot start: %v\n%s", err, installHint)
	case errors.As(err, new(*notInstalledError)):
		t.Skipf("\n*** SKIPPING: %v ***\n*** %s ***\n*** set REQUIRE_TEST_SERVERS=1 to make this a failure ***", err, installHint)
	default:
		// Installed but broken is a real failure: skipping would hide it.
		t.Fatalf("DynamoDB Local: %v", err)
	}
}

// FindEmulator returns the directory holding DynamoDBLocal.jar: the
// DYNAMODB_LOCAL_DIR environment variable, else the npm install found by
// walking up from the working directory (tests run in their package's
// directory, somewhere below the repository root).
func FindEmulator() (string, error) {
	if dir := os.Getenv("DYNAMODB_LOCAL_DIR"); dir != "" {
		if _, err := os.Stat(filepath.Join(dir, "DynamoDBLocal.jar")); err != nil {
			return "", notInstalled("DYNAMODB_LOCAL_DIR=%s: %w", dir, err)
		}
		return dir, nil
	}
	wd, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("working directory: %w", err)
	}
	for dir := wd; ; {
		cand := filepath.Join(dir, filepath.FromSlash(jarRel))
		if _, err := os.Stat(filepath.Join(cand, "DynamoDBLocal.jar")); err == nil {
			return cand, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", notInstalled("no %s/DynamoDBLocal.jar above %s", jarRel, wd)
		}
		dir = parent
	}
}

// Launch starts a server on a free loopback port and waits until it
// answers. The caller must Stop it.
func Launch() (*Server, error) {
	dir, err := FindEmulator()
	if err != nil {
		return nil, err
	}
	java, err := exec.LookPath("java")
	if err != nil {
		return nil, notInstalled("java: %w", err)
	}
	// The port is free when chosen but another process may grab it before
	// the JVM binds it; launch notices (the JVM exits, or the listener is
	// not its own) and a retry with a new port covers that race.
	var lastErr error
	for range 3 {
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		srv, err := launch(java, dir, port)
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

// lockedWriter lets exec copy the JVM's output into a buffer the test may
// read concurrently.
type lockedWriter struct{ s *Server }

func (w lockedWriter) Write(p []byte) (int, error) {
	w.s.mu.Lock()
	defer w.s.mu.Unlock()
	return w.s.log.Write(p)
}

func (s *Server) output() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.log.String()
}

func launch(java, dir string, port int) (*Server, error) {
	srv := &Server{
		Endpoint: "http://127.0.0.1:" + strconv.Itoa(port),
		done:     make(chan struct{}),
		log:      &bytes.Buffer{},
	}
	cmd := exec.Command(java,
		"-Djava.library.path="+filepath.Join(dir, "DynamoDBLocal_lib"),
		"-jar", filepath.Join(dir, "DynamoDBLocal.jar"),
		"-inMemory", "-sharedDb", "-disableTelemetry",
		"-port", strconv.Itoa(port))
	// The jar finds its sqlite native libraries relative to the working
	// directory in some versions.
	cmd.Dir = dir
	// Not the test's own stdout: a leaked JVM holding it open would keep
	// `go test` waiting for EOF.
	cmd.Stdout = lockedWriter{srv}
	cmd.Stderr = lockedWriter{srv}
	cmd.SysProcAttr = sysProcAttr()
	srv.cmd = cmd

	started := make(chan error, 1)
	go func() {
		// The parent-death signal (Linux) fires when the thread that forked
		// exits, not the process, so fork from a thread that stays locked to
		// this goroutine for as long as the JVM runs.
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		_ = cmd.Wait() // exit status is in ProcessState; Stop reports what matters
		close(srv.done)
	}()
	if err := <-started; err != nil {
		return nil, fmt.Errorf("start %s: %w", java, err)
	}
	if err := srv.waitReady(); err != nil {
		return nil, errors.Join(err, srv.Stop())
	}
	// The port was free when chosen, but another process (a parallel test
	// binary's DynamoDB Local, typically) may have bound it first: then it
	// answered the readiness check while our JVM failed to bind. Launch
	// retries on another port.
	if ours, err := listensOn(cmd.Process.Pid, port); err != nil || !ours {
		return nil, errors.Join(fmt.Errorf("port %d is held by another process (%v)", port, err), srv.Stop())
	}
	return srv, nil
}

func (s *Server) waitReady() error {
	// No SDK retries: the poll loop is the retry, and the SDK's backoff on
	// "connection refused" would only slow it.
	client := dynamodb.New(dynamodb.Options{
		Region:           "us-east-1",
		BaseEndpoint:     aws.String(s.Endpoint),
		Credentials:      credentials.NewStaticCredentialsProvider("local", "local", ""),
		RetryMaxAttempts: 1,
	})
	deadline := time.Now().Add(startTimeout)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_, err := client.ListTables(ctx, &dynamodb.ListTablesInput{})
		cancel()
		if err == nil {
			return nil
		}
		select {
		case <-s.done:
			return fmt.Errorf("DynamoDB Local exited during start-up (%s): %w\noutput:\n%s", s.cmd.ProcessState, err, s.output())
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("DynamoDB Local did not answer within %v: %w\noutput:\n%s", startTimeout, err, s.output())
		}
	}
}

// Stop kills the server and waits for it to exit.
func (s *Server) Stop() error {
	select {
	case <-s.done:
		return nil
	default:
	}
	// Kill, not a polite signal: the data is in memory and thrown away
	// anyway, and a JVM's shutdown hooks only add seconds.
	if err := s.cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("kill DynamoDB Local: %w", err)
	}
	select {
	case <-s.done:
		return nil
	case <-time.After(10 * time.Second):
		return fmt.Errorf("DynamoDB Local (pid %d) did not exit after kill", s.cmd.Process.Pid)
	}
}
