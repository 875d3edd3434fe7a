package worker

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestExitCodes(t *testing.T) {
	tests := []struct {
		name       string
		command    string
		wantCode   int
		wantSignal string
	}{
		{"success", "true", 0, ""},
		{"exit 3", "exit 3", 3, ""},
		{"command not found", "definitely-not-a-command-xyz", 127, ""},
		{"killed by a signal", "kill -USR1 $$", -1, "SIGUSR1"},
	}
	for sbName, sb := range sandboxes(t) {
		for _, tt := range tests {
			t.Run(sbName+"/"+tt.name, func(t *testing.T) {
				dir, scratch := workDir(t)
				s := sb(t)
				r := run(t, Spec{Dir: dir, Scratch: scratch, Command: tt.command, Sandbox: s})
				if r.Err != nil {
					t.Fatalf("Err = %v, want nil: a command's failure is not a system error", r.Err)
				}
				code, sig := tt.wantCode, tt.wantSignal
				if _, ok := s.(Bubblewrap); ok && sig != "" {
					// bwrap reports its child's death by signal n as 128+n.
					code, sig = 128+10, ""
				}
				if r.ExitCode != code || r.Signal != sig || r.Phase != "command" {
					t.Errorf("got exit %d signal %q phase %q, want %d %q command", r.ExitCode, r.Signal, r.Phase, code, sig)
				}
				if r.Stopped != NotStopped || r.WalltimeExceeded {
					t.Errorf("Stopped = %v, WalltimeExceeded = %v", r.Stopped, r.WalltimeExceeded)
				}
				if r.Started.IsZero() || r.Ended.Before(r.Started) {
					t.Errorf("Started %v, Ended %v", r.Started, r.Ended)
				}
			})
		}
	}
}

func TestSystemErrors(t *testing.T) {
	tests := []struct {
		name    string
		sandbox func(t *testing.T) Sandbox
		sw      *Software
		want    error
		wantMsg string
	}{
		{"sandbox binary missing", func(*testing.T) Sandbox { return Bubblewrap{Path: "/nonexistent/bwrap"} }, nil, ErrSetup, "/nonexistent/bwrap"},
		{"sandbox setup fails", func(t *testing.T) Sandbox {
			needBwrap(t)
			return Bubblewrap{ReadOnly: []string{"/nonexistent-software-dir"}}
		}, nil, ErrSetup, "nonexistent-software-dir"},
		{"software missing", func(*testing.T) Sandbox { return None{} },
			&Software{Requires: []string{"bash", "definitely-not-a-solver"}}, ErrSoftwareMissing, "definitely-not-a-solver not found"},
		{"env script exits", func(*testing.T) Sandbox { return None{} },
			&Software{EnvScript: "/dev/null/nope"}, ErrSetup, "env script /dev/null/nope: not found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir, scratch := workDir(t)
			log := filepath.Join(dir, "process_output.log")
			r := run(t, Spec{Dir: dir, Scratch: scratch, Log: log, Command: "touch ran", Software: tt.sw, Sandbox: tt.sandbox(t)})
			if !errors.Is(r.Err, tt.want) || !strings.Contains(r.Err.Error(), tt.wantMsg) {
				t.Errorf("Err = %v, want %v mentioning %q", r.Err, tt.want, tt.wantMsg)
			}
			if exists(filepath.Join(dir, "ran")) {
				t.Errorf("the command ran")
			}
			if r.Phase != "command" || r.ExitCode == 0 {
				t.Errorf("phase %q exit %d, want the failed command phase, non-zero", r.Phase, r.ExitCode)
			}
			if got := readFile(t, log); !strings.Contains(got, tt.wantMsg) {
				t.Errorf("the log does not say why: %q", got)
			}
		})
	}
}

func TestPrePostCommands(t *testing.T) {
	tests := []struct {
		name      string
		pre, post string
		command   string
		wantFiles []string // of pre, command, post
		wantPhase string
		wantCode  int
	}{
		{"all succeed", "echo $JOBVAR > pre", "echo $JOBVAR > post", "echo $JOBVAR > command", []string{"pre", "command", "post"}, "post", 0},
		{"pre fails", "touch pre; exit 4", "touch post", "touch command", []string{"pre"}, "pre", 4},
		{"command fails", "touch pre", "touch post", "touch command; exit 3", []string{"pre", "command"}, "command", 3},
		{"post fails", "", "touch post; exit 5", "touch command", []string{"command", "post"}, "post", 5},
		{"no pre or post", "", "", "touch command", []string{"command"}, "command", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir, scratch := workDir(t)
			r := run(t, Spec{Dir: dir, Scratch: scratch, PreCommand: tt.pre, Command: tt.command, PostCommand: tt.post,
				Env: map[string]string{"JOBVAR": "v1"}})
			if r.Err != nil || r.Phase != tt.wantPhase || r.ExitCode != tt.wantCode {
				t.Errorf("got phase %q exit %d err %v, want %q %d", r.Phase, r.ExitCode, r.Err, tt.wantPhase, tt.wantCode)
			}
			for _, f := range []string{"pre", "command", "post"} {
				want := false
				for _, w := range tt.wantFiles {
					want = want || w == f
				}
				if exists(filepath.Join(dir, f)) != want {
					t.Errorf("%s ran = %v, want %v", f, !want, want)
				}
			}
			if tt.name == "all succeed" {
				for _, f := range tt.wantFiles {
					if got := readFile(t, filepath.Join(dir, f)); got != "v1\n" {
						t.Errorf("%s saw JOBVAR=%q: not the same environment", f, got)
					}
				}
			}
		})
	}
}

// TestEnvironment: the job gets its own variables and a sane base, nothing
// of the server's environment; the software's env script is sourced, its
// noise kept out of the log and its exit status ignored.
func TestEnvironment(t *testing.T) {
	t.Setenv("WORKER_TEST_SERVER_SECRET", "leaked")
	for sbName, sb := range sandboxes(t) {
		t.Run(sbName, func(t *testing.T) {
			dir, scratch := workDir(t)
			envScript := filepath.Join(scratch, "env.sh")
			os.WriteFile(envScript, []byte("echo noise-on-stdout; echo noise-on-stderr >&2\nexport FROM_SCRIPT=yes\nfoo_function() { echo from-function; }\nfalse\n"), 0o644)
			log := filepath.Join(dir, "process_output.log")
			s := sb(t)
			if b, ok := s.(Bubblewrap); ok {
				b.ReadOnly = append(b.ReadOnly, envScript) // software outside /usr is configured in
				s = b
			}
			r := run(t, Spec{Dir: dir, Scratch: scratch, Log: log, Sandbox: s,
				Software: &Software{EnvScript: envScript, Env: map[string]string{"SOFTWARE_VAR": "sw", "JOB_VAR": "overridden"}},
				Env:      map[string]string{"JOB_VAR": "job", "RESCALE_API_KEY": "k"},
				Command:  `env > env.txt; pwd > pwd.txt; foo_function; echo out; echo err >&2`})
			if r.Err != nil || r.ExitCode != 0 {
				t.Fatalf("result %+v, log %q", r, readFile(t, log))
			}
			env := map[string]string{}
			for _, kv := range strings.Split(strings.TrimSpace(readFile(t, filepath.Join(dir, "env.txt"))), "\n") {
				k, v, _ := strings.Cut(kv, "=")
				env[k] = v
			}
			for k, want := range map[string]string{"PATH": safePATH, "LANG": "C.UTF-8", "JOB_VAR": "job", "SOFTWARE_VAR": "sw",
				"FROM_SCRIPT": "yes", "RESCALE_API_KEY": "k", "WORKER_TEST_SERVER_SECRET": ""} {
				if env[k] != want {
					t.Errorf("%s = %q, want %q", k, env[k], want)
				}
			}
			for _, k := range []string{"HOME", "TMPDIR"} {
				if !strings.HasPrefix(env[k], scratch+"/") {
					t.Errorf("%s = %q, want a run-private directory under %s", k, env[k], scratch)
				}
			}
			if got := strings.TrimSpace(readFile(t, filepath.Join(dir, "pwd.txt"))); got != dir {
				t.Errorf("cwd = %q, want %q", got, dir)
			}
			got := readFile(t, log)
			if strings.Contains(got, "noise") || !strings.Contains(got, "from-function\nout\nerr\n") {
				t.Errorf("log = %q, want the command's output only", got)
			}
			if ents, _ := os.ReadDir(scratch); len(ents) != 1 { // env.sh; the run's directory is gone
				t.Errorf("scratch holds %d entries after the run, want only env.sh", len(ents))
			}
		})
	}
}

// TestLargeOutputStreams: output goes straight to the log file, not
// through this process: printing 64 MB leaves its peak RSS (VmHWM) small.
func TestLargeOutputStreams(t *testing.T) {
	const size = 64 << 20
	dir, scratch := workDir(t)
	log := filepath.Join(dir, "process_output.log")
	before := vmHWM(t)
	r := run(t, Spec{Dir: dir, Scratch: scratch, Log: log, Command: fmt.Sprintf("head -c %d /dev/zero; head -c %d /dev/zero >&2", size/2, size/2)})
	if r.Err != nil || r.ExitCode != 0 {
		t.Fatalf("result %+v", r)
	}
	fi, err := os.Stat(log)
	if err != nil || fi.Size() != size {
		t.Fatalf("log size = %v, %v; want %d", fi.Size(), err, size)
	}
	if after := vmHWM(t); after-before > 16<<20 {
		t.Errorf("peak RSS grew from %d to %d bytes while the job printed %d", before, after, size)
	}
}

func vmHWM(t *testing.T) int64 {
	t.Helper()
	for _, line := range strings.Split(readFile(t, "/proc/self/status"), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return kb << 10
		}
	}
	t.Fatal("no VmHWM in /proc/self/status")
	return 0
}

func TestLogReadableWhileRunning(t *testing.T) {
	dir, scratch := workDir(t)
	log := filepath.Join(dir, "process_output.log")
	p, err := Start(context.Background(), Spec{Dir: dir, Scratch: scratch, Log: log, Command: "echo first; touch ready; sleep 1000"})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Stop(Kill)
	waitFor(t, filepath.Join(dir, "ready"))
	var b strings.Builder
	if err := Tail(dir, "process_output.log", 10, &b); err != nil || b.String() != "first\n" {
		t.Errorf("Tail of the live log = %q, %v", b.String(), err)
	}
	if pid := p.Pid(); pid == 0 || !exists(fmt.Sprintf("/proc/%d", pid)) {
		t.Errorf("Pid() = %d, not a live process", pid)
	}
	p.Stop(Kill)
	if r := p.Wait(); r.Stopped != Kill {
		t.Errorf("Stopped = %v", r.Stopped)
	}
	if p.Pid() != 0 {
		t.Errorf("Pid() after the run = %d", p.Pid())
	}
}

func TestWalltime(t *testing.T) {
	for sbName, sb := range sandboxes(t) {
		t.Run(sbName, func(t *testing.T) {
			dir, scratch := workDir(t)
			r := run(t, Spec{Dir: dir, Scratch: scratch, Sandbox: sb(t), Command: "sleep 30", PostCommand: "touch post",
				Walltime: time.Second, Grace: time.Second})
			if !r.WalltimeExceeded || r.Stopped != NotStopped || r.Err != nil || r.ExitCode == 0 {
				t.Errorf("result %+v, want walltime exceeded, not stopped by the caller, failed", r)
			}
			if exists(filepath.Join(dir, "post")) {
				t.Errorf("the post-command ran after the walltime")
			}
		})
	}
}

// trapCommand ignores the first SIGTERM for a while, then leaves a file
// and exits 0: a graceful stop waits for it, a kill does not.
const trapCommand = `trap 'sleep 0.5; echo bye > trapped; exit 0' TERM; sleep 1000 & sleep 1000 & touch ready; wait; wait`

func TestStopModes(t *testing.T) {
	tests := []struct {
		name        string
		stops       []StopMode
		wantTrapped bool
		wantStopped StopMode
	}{
		{"graceful waits for the trap", []StopMode{Graceful}, true, Graceful},
		{"force does not wait", []StopMode{Force}, false, Force},
		{"kill", []StopMode{Kill}, false, Kill},
		{"graceful then kill escalates", []StopMode{Graceful, Kill}, false, Kill},
		{"kill then graceful stays kill", []StopMode{Kill, Graceful}, false, Kill},
		{"graceful twice", []StopMode{Graceful, Graceful}, true, Graceful},
	}
	for sbName, sb := range sandboxes(t) {
		for _, tt := range tests {
			t.Run(sbName+"/"+tt.name, func(t *testing.T) {
				dir, scratch := workDir(t)
				marker := "WORKER_TEST_RUN=" + filepath.Base(filepath.Dir(dir))
				cmd := trapCommand
				if tt.stops[0] == Graceful && len(tt.stops) > 1 && tt.stops[1] == Kill {
					cmd = strings.Replace(cmd, "sleep 0.5", "sleep 30", 1) // the kill must land during the trap
				}
				k, v, _ := strings.Cut(marker, "=")
				p, err := Start(context.Background(), Spec{Dir: dir, Scratch: scratch, Sandbox: sb(t), Command: cmd,
					PostCommand: "touch post", Env: map[string]string{k: v}, Grace: time.Minute})
				if err != nil {
					t.Fatal(err)
				}
				waitFor(t, filepath.Join(dir, "ready"))
				for _, m := range tt.stops {
					p.Stop(m)
					if tt.stops[0] == Graceful && len(tt.stops) > 1 {
						time.Sleep(100 * time.Millisecond) // let the trap start; not an assertion
					}
				}
				r := p.Wait()
				if r.Stopped != tt.wantStopped || r.Err != nil {
					t.Errorf("result %+v, want Stopped %v", r, tt.wantStopped)
				}
				if got := exists(filepath.Join(dir, "trapped")); got != tt.wantTrapped {
					t.Errorf("trap finished = %v, want %v", got, tt.wantTrapped)
				}
				if exists(filepath.Join(dir, "post")) {
					t.Errorf("the post-command ran after a stop")
				}
				if left := survivors(marker); len(left) > 0 {
					t.Errorf("processes of the run survived: %v", left)
				}
				p.Stop(Kill) // after the end: nothing happens
			})
		}
	}
}

// TestNoProcessesLeftBehind: children, also ones put in the background or
// left running when the command exits, do not outlive the run.
func TestNoProcessesLeftBehind(t *testing.T) {
	tests := []struct {
		name    string
		command string
		stop    bool
	}{
		{"stopped with children", "sleep 1000 & sleep 1000 & (sleep 1000 &) ; touch ready; wait", true},
		{"exits leaving children", "sleep 1000 & (sleep 1000 &) ; sleep 1000 > /dev/null 2>&1 & touch ready", false},
	}
	for sbName, sb := range sandboxes(t) {
		for _, tt := range tests {
			t.Run(sbName+"/"+tt.name, func(t *testing.T) {
				dir, scratch := workDir(t)
				marker := "WORKER_TEST_RUN=" + filepath.Base(filepath.Dir(dir))
				k, v, _ := strings.Cut(marker, "=")
				p, err := Start(context.Background(), Spec{Dir: dir, Scratch: scratch, Sandbox: sb(t), Command: tt.command, Env: map[string]string{k: v}})
				if err != nil {
					t.Fatal(err)
				}
				waitFor(t, filepath.Join(dir, "ready"))
				if tt.stop {
					if n := len(processesWith(marker)); n < 4 {
						t.Errorf("only %d processes of the run found while it runs", n)
					}
					p.Stop(Graceful)
				}
				p.Wait()
				if left := survivors(marker); len(left) > 0 {
					t.Errorf("processes of the run survived: %v", left)
				}
			})
		}
	}
}

func TestStopAtAnyTime(t *testing.T) {
	t.Run("right after Start", func(t *testing.T) {
		dir, scratch := workDir(t)
		p, err := Start(context.Background(), Spec{Dir: dir, Scratch: scratch, Command: "sleep 1000"})
		if err != nil {
			t.Fatal(err)
		}
		p.Stop(Kill)
		p.Stop(Kill)
		if r := p.Wait(); r.Stopped != Kill || r.Err != nil {
			t.Errorf("result %+v", r)
		}
	})
	t.Run("during the pre-command", func(t *testing.T) {
		dir, scratch := workDir(t)
		p, err := Start(context.Background(), Spec{Dir: dir, Scratch: scratch, PreCommand: "touch ready; sleep 1000", Command: "touch command"})
		if err != nil {
			t.Fatal(err)
		}
		waitFor(t, filepath.Join(dir, "ready"))
		p.Stop(Graceful)
		r := p.Wait()
		if r.Stopped != Graceful || r.Phase != "pre" || exists(filepath.Join(dir, "command")) {
			t.Errorf("result %+v, command ran = %v", r, exists(filepath.Join(dir, "command")))
		}
	})
	t.Run("during the post-command", func(t *testing.T) {
		dir, scratch := workDir(t)
		p, err := Start(context.Background(), Spec{Dir: dir, Scratch: scratch, Command: "true", PostCommand: "touch ready; sleep 1000"})
		if err != nil {
			t.Fatal(err)
		}
		waitFor(t, filepath.Join(dir, "ready"))
		p.Stop(Force)
		if r := p.Wait(); r.Stopped != Force || r.Phase != "post" {
			t.Errorf("result %+v", r)
		}
	})
	t.Run("context cancelled", func(t *testing.T) {
		dir, scratch := workDir(t)
		ctx, cancel := context.WithCancel(context.Background())
		p, err := Start(ctx, Spec{Dir: dir, Scratch: scratch, Command: "touch ready; sleep 1000"})
		if err != nil {
			t.Fatal(err)
		}
		waitFor(t, filepath.Join(dir, "ready"))
		cancel()
		if r := p.Wait(); r.Stopped != Kill || r.Signal != "SIGKILL" {
			t.Errorf("result %+v", r)
		}
	})
}

// TestGracefulStopDuringSetup: before the command begins (the env script
// still runs) there is nothing to be graceful with: the stop kills at once,
// so the script's TERM trap never runs.
func TestGracefulStopDuringSetup(t *testing.T) {
	dir, scratch := workDir(t)
	env := filepath.Join(scratch, "slow-env.sh")
	os.WriteFile(env, []byte("trap 'touch "+dir+"/termed' TERM\ntouch "+dir+"/setup-ready\nsleep 1000 & wait\n"), 0o644)
	p, err := Start(context.Background(), Spec{Dir: dir, Scratch: scratch, Software: &Software{EnvScript: env},
		Command: "touch command", Grace: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, filepath.Join(dir, "setup-ready"))
	p.Stop(Graceful)
	r := p.Wait()
	if r.Stopped != Graceful || r.Err != nil || exists(filepath.Join(dir, "termed")) || exists(filepath.Join(dir, "command")) {
		t.Errorf("result %+v; trap ran %v; command ran %v", r, exists(filepath.Join(dir, "termed")), exists(filepath.Join(dir, "command")))
	}
}

func TestStartRejectsBadSpecs(t *testing.T) {
	dir, _ := workDir(t)
	tests := []struct {
		name string
		s    Spec
	}{
		{"relative dir", Spec{Dir: "work", Command: "true"}},
		{"missing dir", Spec{Dir: filepath.Join(dir, "nope"), Command: "true"}},
		{"no command", Spec{Dir: dir, Command: "  "}},
		{"log in a missing directory", Spec{Dir: dir, Command: "true", Log: filepath.Join(dir, "no/such/log")}},
		{"bad variable name", Spec{Dir: dir, Command: "true", Env: map[string]string{"A=B": "c"}}},
		{"command too long for an argument", Spec{Dir: dir, Command: strings.Repeat("true;", 30000)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := Start(context.Background(), tt.s); err == nil {
				t.Error("Start succeeded")
			}
		})
	}
}

// TestMPI: with UseMPI and Cores, a plain mpirun works as root, in the
// sandbox, on the hostfile the worker wrote; also with more ranks than the
// machine has cores (the slots say so; ranks are not bound).
func TestMPI(t *testing.T) {
	needMPI(t)
	for sbName, sb := range sandboxes(t) {
		for _, cores := range []int{2, 4} {
			t.Run(fmt.Sprintf("%s/%d", sbName, cores), func(t *testing.T) {
				dir, scratch := workDir(t)
				log := filepath.Join(dir, "process_output.log")
				r := run(t, Spec{Dir: dir, Scratch: scratch, Log: log, Sandbox: sb(t), UseMPI: true, Cores: cores,
					Command: fmt.Sprintf(`cat "$RESCALE_MPI_HOSTFILE"; mpirun -np %d hostname`, cores)})
				out := readFile(t, log)
				if r.Err != nil || r.ExitCode != 0 {
					t.Fatalf("result %+v, log:\n%s", r, out)
				}
				host, _ := os.Hostname()
				if got := strings.Count(out, host+"\n"); got != cores || !strings.HasPrefix(out, fmt.Sprintf("localhost slots=%d\n", cores)) {
					t.Errorf("log:\n%s\nwant the hostfile and %d lines of %q", out, cores, host)
				}
			})
		}
	}
}
