package worker

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestBubblewrapIsolation: a job sees its own working directory and /tmp,
// writable, and the system read-only; not the server's data directory, not
// another run's working directory, nothing writable outside its own, no
// /etc/shadow, and no capabilities.
func TestBubblewrapIsolation(t *testing.T) {
	sb := needBwrap(t)
	base := t.TempDir()
	data := filepath.Join(base, "data")
	mine := filepath.Join(base, "jobs", "a", "work")
	other := filepath.Join(base, "jobs", "b", "work")
	scratch := filepath.Join(base, "scratch")
	for _, d := range []string{data, mine, other, scratch} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	os.WriteFile(filepath.Join(data, "secret.db"), []byte("server data"), 0o644)
	os.WriteFile(filepath.Join(other, "theirs.txt"), []byte("other job"), 0o644)
	hostTmp := filepath.Join(filepath.Dir(base), "host-tmp-file") // beside base, in the host's /tmp
	os.WriteFile(hostTmp, []byte("host"), 0o644)

	// Each check prints "name ok" or "name FAIL"; a check passes when the
	// job can do what it should and cannot do what it should not.
	checks := map[string]string{
		"read data dir":   "! cat " + data + "/secret.db",
		"list data dir":   "! ls " + data,
		"read other run":  "! cat " + other + "/theirs.txt",
		"list other runs": "[ -z \"$(ls " + filepath.Join(base, "jobs") + " | grep -v '^a$')\" ]",
		// base is under the host's /tmp, so inside it lies in the sandbox's
		// private /tmp: these may succeed there, but must not reach the
		// host (checked below).
		"write outside":        "touch " + base + "/outside; true",
		"write parent":         "touch " + filepath.Join(base, "jobs", "a") + "/outside; true",
		"write root":           "! touch /evil",
		"write data dir":       "! touch " + data + "/evil",
		"write /usr":           "! touch /usr/evil",
		"write /etc":           "! touch /etc/evil",
		"write own dir":        "echo mine > ./inside && [ \"$(cat " + mine + "/inside)\" = mine ]",
		"write /tmp":           "echo t > /tmp/t && [ \"$(cat /tmp/t)\" = t ]",
		"write TMPDIR":         "echo t > \"$TMPDIR/t\" && [ \"$(cat \"$TMPDIR/t\")\" = t ]",
		"write HOME":           "echo h > \"$HOME/h\"",
		"host /tmp hidden":     "! cat " + hostTmp,
		"shadow masked":        "[ ! -s /etc/shadow ] || [ ! -e /etc/shadow ]",
		"passwd readable":      "grep -q '^root:' /etc/passwd",
		"no capabilities":      "grep -q '^CapEff:[[:space:]]*0000000000000000$' /proc/self/status",
		"own pid namespace":    "[ \"$(ls /proc | grep -c '^[0-9]')\" -lt 10 ]",
		"network shared":       "grep -q . /proc/net/dev",
		"system binaries work": "/bin/sh -c true && ls / >/dev/null",
	}
	var script strings.Builder
	for name, c := range checks {
		script.WriteString("if ( " + c + " ) >/dev/null 2>&1; then echo '" + name + " ok'; else echo '" + name + " FAIL'; fi\n")
	}
	log := filepath.Join(mine, "process_output.log")
	r := run(t, Spec{Dir: mine, Scratch: scratch, Log: log, Sandbox: sb, Command: script.String()})
	if r.Err != nil || r.ExitCode != 0 {
		t.Fatalf("result %+v", r)
	}
	out := readFile(t, log)
	for name := range checks {
		if !strings.Contains(out, name+" ok\n") {
			t.Errorf("%s: failed", name)
		}
	}
	if exists(filepath.Join(base, "outside")) || exists(filepath.Join(base, "jobs", "a", "outside")) || exists("/evil") {
		t.Errorf("the job wrote outside its directory")
	}
	if readFile(t, filepath.Join(mine, "inside")) != "mine\n" {
		t.Errorf("the job's file is not in its directory on the host")
	}
}

func TestBubblewrapArgs(t *testing.T) {
	args, err := Bubblewrap{Path: "/x/bwrap", ReadOnly: []string{"/opt/sw"}}.Wrap(
		Mounts{Work: "/data/jobs/1/work", Writable: []string{"/scratch/r"}, ReadOnly: []string{"/scratch/r/support"}},
		[]string{"/usr/bin/bash", "-c", "true"})
	if err != nil {
		t.Fatal(err)
	}
	a := strings.Join(args, " ")
	for _, want := range []string{
		"/x/bwrap ", "--unshare-pid", "--die-with-parent", "--cap-drop ALL", "--ro-bind /usr /usr", "--ro-bind /etc /etc",
		"--tmpfs /tmp", "--proc /proc", "--dev /dev", "--ro-bind /opt/sw /opt/sw",
		"--bind /data/jobs/1/work /data/jobs/1/work --bind /scratch/r /scratch/r --ro-bind /scratch/r/support /scratch/r/support",
		"--chdir /data/jobs/1/work -- /usr/bin/bash -c true",
	} {
		if !strings.Contains(a, want) {
			t.Errorf("args lack %q:\n%s", want, a)
		}
	}
	for _, bad := range []string{"--unshare-net", "--new-session", "--unshare-all"} {
		if strings.Contains(a, bad) {
			t.Errorf("args have %q", bad)
		}
	}
	if _, err := (Bubblewrap{}).Wrap(Mounts{Work: "relative"}, []string{"/bin/true"}); err == nil {
		t.Error("a relative working directory was accepted")
	}
}
