package worker

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestExecute(t *testing.T) {
	tests := []struct {
		name       string
		inputs     []Input
		executable []string
		storage    int64
		command    string
		stopFirst  StopMode
		// want
		started bool
		exit    int
		errIs   error  // nil: no Err
		errMsg  string // prefix of Err's message
		log     string // substring of the log
	}{
		{name: "runs the staged case", inputs: []Input{bytesInput("case.zip", makeZip(t, caseMembers))},
			command: "./airFoil2D/Allrun; exit 4", started: true, exit: 4, log: "run"},
		{name: "executable inputs can be run", inputs: []Input{bytesInput("run.sh", []byte("#!/bin/sh\necho templated\n"))},
			executable: []string{"run.sh"}, command: "./run.sh", started: true, log: "templated"},
		{name: "unsafe archive is the user's fault", inputs: []Input{bytesInput("bad.zip", makeZip(t, []member{{name: "../escape", mode: 0o644, body: "x"}}))},
			command: "true", errIs: ErrUnsafePath, errMsg: "staging the inputs failed: "},
		{name: "too little disk", storage: 1 << 62, command: "true", errIs: ErrNoSpace},
		{name: "stopped before the start", inputs: []Input{bytesInput("in.txt", []byte("x"))},
			command: "echo must not run", stopFirst: Graceful},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir, scratch := workDir(t)
			j := Job{Inputs: tc.inputs, Executable: tc.executable, StorageBytes: tc.storage,
				Spec: Spec{Dir: dir, Command: tc.command, Scratch: scratch, Sandbox: None{}}}
			x := &Execution{done: make(chan struct{})}
			x.Stop(tc.stopFirst) // as Execute's caller would, before staging ends
			go func() {
				defer close(x.done)
				x.out = x.execute(context.Background(), j, nil)
			}()
			out := x.Wait()
			if out.Started != tc.started {
				t.Fatalf("started = %v, outcome %+v", out.Started, out)
			}
			if out.Stopped != tc.stopFirst {
				t.Fatalf("stopped = %v, want %v", out.Stopped, tc.stopFirst)
			}
			switch {
			case tc.errIs == nil && out.Err != nil:
				t.Fatalf("err %v", out.Err)
			case tc.errIs != nil && !errors.Is(out.Err, tc.errIs):
				t.Fatalf("err %v, want %v", out.Err, tc.errIs)
			case tc.errMsg != "" && !strings.HasPrefix(out.Err.Error(), tc.errMsg):
				t.Fatalf("err %q, want it to begin %q", out.Err, tc.errMsg)
			}
			if tc.started && out.Result.ExitCode != tc.exit {
				t.Fatalf("exit %d, want %d", out.Result.ExitCode, tc.exit)
			}
			log, err := os.ReadFile(filepath.Join(dir, LogName))
			if tc.log != "" && !strings.Contains(string(log), tc.log) {
				t.Fatalf("log %q lacks %q (%v)", log, tc.log, err)
			}
			if !tc.started && strings.Contains(string(log), "must not run") {
				t.Fatal("the command ran after a stop")
			}
			for _, name := range tc.executable {
				fi, err := os.Stat(filepath.Join(dir, name))
				if err != nil || fi.Mode().Perm()&0o100 == 0 {
					t.Fatalf("%s: %v, mode %v", name, err, fi.Mode())
				}
			}
		})
	}
}

func TestSoftwareMapFind(t *testing.T) {
	m := SoftwareMap{
		"openfoam": {"v1912-openmpi": {EnvScript: "/of/bashrc"}},
		"ansys":    {"*": {EnvScript: "/ansys/env"}},
	}
	tests := []struct {
		analysis, version string
		env               string
		ok                bool
		err               string
	}{
		{"openfoam", "v1912-openmpi", "/of/bashrc", true, ""},
		{"ansys", "2024R1", "/ansys/env", true, ""},
		{"user_included", "0", "", false, ""},
		{"openfoam", "v2306", "", false, "openfoam v2306 is not installed on this machine (installed: v1912-openmpi)"},
		{"ls_dyna", "v12", "", false, "ls_dyna v12 is not installed on this machine"},
	}
	for _, tc := range tests {
		sw, ok, err := m.Find(tc.analysis, tc.version, "")
		if sw.EnvScript != tc.env || ok != tc.ok {
			t.Errorf("%s %s: %+v %v", tc.analysis, tc.version, sw, ok)
		}
		if tc.err == "" && err != nil || tc.err != "" && (err == nil || err.Error() != tc.err || !errors.Is(err, ErrNotInstalled)) {
			t.Errorf("%s %s: err %v, want %q", tc.analysis, tc.version, err, tc.err)
		}
	}
}

func TestLoadSoftwareMap(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.json")
	bad := filepath.Join(dir, "bad.json")
	os.WriteFile(good, []byte(`{"ansys": {"*": {"EnvScript": "/ansys/env", "Requires": ["fluent"]}}}`), 0o644)
	os.WriteFile(bad, []byte(`{"ansys": [`), 0o644)
	m, err := LoadSoftwareMap(good)
	if err != nil || m["ansys"]["*"].EnvScript != "/ansys/env" || m["ansys"]["*"].Requires[0] != "fluent" {
		t.Fatalf("good map: %+v, %v", m, err)
	}
	for _, p := range []string{bad, filepath.Join(dir, "missing.json")} {
		if _, err := LoadSoftwareMap(p); err == nil {
			t.Errorf("%s: no error", p)
		}
	}
	m, err = LoadSoftwareMap("")
	_, installed := os.Stat(DebianOpenFOAM)
	if _, has := m["openfoam"]["v1912-openmpi"]; err != nil || has != (installed == nil) {
		t.Fatalf("default map %+v (%v); Debian's OpenFOAM installed: %v", m, err, installed == nil)
	}
}
