package worker

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// need skips a test when a tool is missing, loudly, unless CI says the
// machine must have it (REQUIRE_TEST_SERVERS=1): then it fails.
func need(t *testing.T, what string, paths ...string) {
	t.Helper()
	for _, p := range paths {
		if _, err := os.Stat(p); err != nil {
			if os.Getenv("REQUIRE_TEST_SERVERS") == "1" {
				t.Fatalf("%s is required here (REQUIRE_TEST_SERVERS=1): %v", what, err)
			}
			t.Skipf("SKIPPING: %s not installed (%v); set REQUIRE_TEST_SERVERS=1 to make this a failure", what, err)
		}
	}
	if os.Geteuid() != 0 && what == "bubblewrap" {
		t.Skip("SKIPPING: the bubblewrap tests run as root, as the worker does")
	}
}

func needBwrap(t *testing.T) Sandbox {
	t.Helper()
	need(t, "bubblewrap", "/usr/bin/bwrap")
	return Bubblewrap{}
}

func needMPI(t *testing.T) {
	t.Helper()
	need(t, "openmpi-bin", "/usr/bin/mpirun")
}

const (
	openFOAMBashrc = "/usr/share/openfoam/etc/bashrc"
	airFoil2D      = "/usr/share/doc/openfoam-examples/examples/incompressible/simpleFoam/airFoil2D"
)

func needOpenFOAM(t *testing.T) {
	t.Helper()
	need(t, "openfoam and openfoam-examples", openFOAMBashrc, "/usr/bin/simpleFoam", airFoil2D)
}

// sandboxes are the sandboxes a behaviour is checked under: always None,
// and bubblewrap where it is installed (or required).
func sandboxes(t *testing.T) map[string]func(t *testing.T) Sandbox {
	return map[string]func(t *testing.T) Sandbox{
		"none":       func(*testing.T) Sandbox { return None{} },
		"bubblewrap": needBwrap,
	}
}

// workDir makes an empty working directory with its own scratch parent
// next to it, both under a fresh temporary directory.
func workDir(t *testing.T) (dir, scratch string) {
	t.Helper()
	base := t.TempDir()
	dir, scratch = filepath.Join(base, "work"), filepath.Join(base, "scratch")
	for _, d := range []string{dir, scratch} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir, scratch
}

// run starts s (filling Dir's scratch and log defaults) and waits.
func run(t *testing.T, s Spec) Result {
	t.Helper()
	p, err := Start(context.Background(), s)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	return p.Wait()
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// waitFor polls until path exists: how a test knows a command got going.
// The deadline only guards against a hang; nothing asserts durations.
func waitFor(t *testing.T, path string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !exists(path) {
		if time.Now().After(deadline) {
			t.Fatalf("%s never appeared", path)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// processesWith lists the pids of live processes whose environment holds
// marker (KEY=value): a run's processes, inside or outside a sandbox.
func processesWith(marker string) []string {
	ents, _ := os.ReadDir("/proc")
	var out []string
	for _, e := range ents {
		if e.Name()[0] < '0' || e.Name()[0] > '9' {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/environ")
		if err != nil {
			continue
		}
		if st, err := os.ReadFile("/proc/" + e.Name() + "/stat"); err == nil && strings.Contains(string(st), ") Z ") {
			continue // a zombie is dead, only not yet reaped by its parent
		}
		for _, kv := range strings.Split(string(b), "\x00") {
			if kv == marker {
				out = append(out, e.Name())
			}
		}
	}
	return out
}

// survivors are the run's processes still alive after it ended. The run
// has sent SIGKILL to all of them, but a killed process (or, in
// bubblewrap, the rest of a pid namespace whose init died) takes a moment
// to exit, more under load: only those still there after a few seconds
// survived. The deadline only bounds the wait; nothing asserts durations.
func survivors(marker string) []string {
	deadline := time.Now().Add(5 * time.Second)
	for {
		left := processesWith(marker)
		if len(left) == 0 || time.Now().After(deadline) {
			return left
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func haveCommand(name string) bool {
	_, err := exec.LookPath(name)
	return err == nil
}
