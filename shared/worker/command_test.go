package worker

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestExpandCommand(t *testing.T) {
	tests := []struct {
		name string
		cmd  string
		h    Placeholders
		want string
	}{
		{"mpi", "mpirun -np <mpi-ranks> foamExec <module> -parallel", Placeholders{Cores: 8, Nodes: 2},
			"mpirun -np 16 foamExec <module> -parallel"},
		{"smp", "abaqus job=<job> cpus=<smp-ranks> interactive", Placeholders{Cores: 8, Nodes: 2},
			"abaqus job=<job> cpus=8 interactive"},
		{"nodes default to one", "run -n <mpi-ranks> -t <smp-ranks> on <nodes>", Placeholders{Cores: 4},
			"run -n 4 -t 4 on 1"},
		{"input files", "run-adina -f <input-filename> -p <input-filename-2> -i <input-file>", Placeholders{InputFiles: []string{"model.in", "b.dat"}},
			"run-adina -f model.in -p b.dat -i model.in"},
		{"missing input left as written", "run -p <input-filename-2>", Placeholders{InputFiles: []string{"a"}},
			"run -p <input-filename-2>"},
		{"odd file names quoted", "run <input-file>", Placeholders{InputFiles: []string{"my model; rm -rf x.in"}},
			"run 'my model; rm -rf x.in'"},
		{"extra", "ls-dyna -i <input-file> -p <precision>", Placeholders{InputFiles: []string{"k.k"}, Extra: map[string]string{"precision": "double"}},
			"ls-dyna -i k.k -p double"},
		{"values not expanded again", "echo <job>", Placeholders{Extra: map[string]string{"job": "<mpi-ranks>"}, Cores: 2},
			"echo <mpi-ranks>"},
		{"no cores: ranks left", "mpirun -np <mpi-ranks> x", Placeholders{}, "mpirun -np <mpi-ranks> x"},
		{"shell redirections untouched", "a < in > out", Placeholders{Cores: 2}, "a < in > out"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ExpandCommand(tt.cmd, tt.h); got != tt.want {
				t.Errorf("ExpandCommand(%q) = %q, want %q", tt.cmd, got, tt.want)
			}
		})
	}
}

func TestSoftwareCheck(t *testing.T) {
	dir := t.TempDir()
	env := filepath.Join(dir, "env.sh")
	os.MkdirAll(filepath.Join(dir, "bin"), 0o755)
	os.WriteFile(filepath.Join(dir, "bin", "mysolver"), []byte("#!/bin/sh\n"), 0o755)
	os.WriteFile(env, []byte("echo noise >&2\nexport PATH="+dir+"/bin:$PATH\nfalse\n"), 0o644)
	tests := []struct {
		name    string
		sw      Software
		wantErr string // "" for none
		missing bool
	}{
		{"system binary", Software{Requires: []string{"bash", "sh"}}, "", false},
		{"found after sourcing", Software{EnvScript: env, Requires: []string{"mysolver"}}, "", false},
		{"not found without the script", Software{Requires: []string{"mysolver"}}, "mysolver not found on PATH", true},
		{"not found after sourcing", Software{EnvScript: env, Requires: []string{"mysolver", "simpleFoamX", "other"}},
			"simpleFoamX, other not found after sourcing " + env, true},
		{"env from Software.Env", Software{EnvScript: env, Env: map[string]string{"PATH": "/nonexistent"}, Requires: []string{"mysolver"}}, "", false},
		{"script missing", Software{EnvScript: filepath.Join(dir, "nope.sh")}, "nope.sh", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.sw.Check(context.Background())
			if tt.wantErr == "" {
				if err != nil {
					t.Errorf("Check: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || errors.Is(err, ErrSoftwareMissing) != tt.missing {
				t.Errorf("Check = %v, want %q (ErrSoftwareMissing %v)", err, tt.wantErr, tt.missing)
			}
		})
	}
}

func TestSoftwareCheckOpenFOAM(t *testing.T) {
	needOpenFOAM(t)
	if err := openFOAM().Check(context.Background()); err != nil {
		t.Errorf("Check: %v", err)
	}
	sw := openFOAM()
	sw.Requires = append(sw.Requires, "interFoamNotInstalled")
	if err := sw.Check(context.Background()); err == nil || !strings.Contains(err.Error(), "interFoamNotInstalled not found after sourcing "+openFOAMBashrc) {
		t.Errorf("Check = %v", err)
	}
}
