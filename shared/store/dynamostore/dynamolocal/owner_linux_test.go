package dynamolocal

import (
	"net"
	"net/http"
	"os"
	"os/exec"
	"testing"
)

// listensOn tells this process's listener from another process's, which
// is how Launch notices that the port it chose was taken before the JVM
// bound it.
func TestListensOn(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	port := l.Addr().(*net.TCPAddr).Port
	other := exec.Command("sleep", "30")
	if err := other.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { other.Process.Kill(); other.Wait() }()
	tests := []struct {
		name      string
		pid, port int
		want      bool
	}{
		{"our listener", os.Getpid(), port, true},
		{"another process", other.Process.Pid, port, false},
		{"a port nobody listens on", os.Getpid(), freePortOrSkip(t), false},
	}
	for _, tt := range tests {
		got, err := listensOn(tt.pid, tt.port)
		if err != nil || got != tt.want {
			t.Errorf("%s: %v %v, want %v", tt.name, got, err, tt.want)
		}
	}
}

func freePortOrSkip(t *testing.T) int {
	p, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// A port taken by another server before the JVM binds it is a failed
// launch (Launch then tries another port), not a server that is someone
// else's.
func TestLaunchOnATakenPort(t *testing.T) {
	dir, err := FindEmulator()
	if err != nil {
		unavailable(t, err)
	}
	java, err := exec.LookPath("java")
	if err != nil {
		unavailable(t, notInstalled("java: %w", err))
	}
	// Another process's server, answering the readiness check as DynamoDB
	// Local would.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	impostor := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/x-amz-json-1.0")
		w.Write([]byte(`{"TableNames":[]}`))
	})}
	go impostor.Serve(l)
	defer impostor.Close()
	srv, err := launch(java, dir, l.Addr().(*net.TCPAddr).Port)
	if err == nil {
		srv.Stop()
		t.Fatal("launched on a port another server holds")
	}
	t.Logf("refused as it should be: %v", err)
}
