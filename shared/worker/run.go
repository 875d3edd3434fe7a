package worker

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// DefaultGrace is the SIGTERM → SIGKILL grace of a graceful stop when
// Spec.Grace is 0.
const DefaultGrace = 30 * time.Second

// Spec is one run.
type Spec struct {
	Dir                     string // working directory, already staged, absolute; commands run in it
	Command                 string // run with `bash -c` after the software's env script
	PreCommand, PostCommand string // optional; same environment, before and after Command
	// Env are the job's variables (envVars, RESCALE_*, RESCALE_API_URL,
	// RESCALE_API_KEY, …), passed as given; see the package comment for
	// the rest of the environment.
	Env      map[string]string
	Software *Software // nil: plain bash with the system PATH
	Cores    int
	UseMPI   bool
	Walltime time.Duration // 0: none; on expiry a graceful stop, Result.WalltimeExceeded
	// Log receives stdout and stderr of every phase, appended; "" discards.
	// Usually Dir/process_output.log, so it is an output.
	Log     string
	Sandbox Sandbox       // nil: None{}
	Grace   time.Duration // graceful stop's SIGTERM → SIGKILL wait; 0: DefaultGrace
	// Scratch is where the run's private directory (HOME, TMPDIR,
	// hostfile, RunFunctions) is made, outside Dir; it is removed when the
	// run ends. "": the system temporary directory.
	Scratch string
}

// StopMode is how a run is stopped. Stronger modes are larger.
type StopMode int

const (
	NotStopped StopMode = iota
	Graceful            // SIGTERM to the process group, Grace, then SIGKILL
	Force               // SIGTERM, then SIGKILL at once
	Kill                // SIGKILL at once
)

func (m StopMode) String() string {
	switch m {
	case NotStopped:
		return "not stopped"
	case Graceful:
		return "graceful"
	case Force:
		return "force"
	case Kill:
		return "kill"
	}
	return "StopMode(" + strconv.Itoa(int(m)) + ")"
}

// Result is how a run ended.
type Result struct {
	// Phase is the last phase that started or failed to: "pre",
	// "command" or "post"; "" if the run was stopped before any started.
	Phase string
	// ExitCode of that phase; -1 if it died of a signal or never ran. A
	// shell or sandbox whose child died of signal n exits 128+n instead.
	ExitCode int
	Signal   string // "SIGKILL", "SIGTERM", … when the phase's process died of one
	// Stopped is the strongest Stop the caller asked for (a cancelled Start
	// context counts as Kill); NotStopped if none.
	Stopped StopMode
	// WalltimeExceeded: the walltime expired and stopped the run (stopping
	// gracefully unless the caller asked for more).
	WalltimeExceeded bool
	// Err is a system failure, not the command's: the sandbox or
	// environment could not be set up or bash could not be executed
	// (ErrSetup), required software was missing (ErrSoftwareMissing), a
	// phase failed with the working directory's file system full
	// (ErrNoSpace). ExitCode is still the phase's.
	Err            error
	Started, Ended time.Time
}

// Process is a running run. Its methods are safe for concurrent use.
type Process struct {
	spec    Spec
	sandbox Sandbox
	bash    string
	env     []string
	log     *os.File
	scratch string
	mounts  Mounts
	grace   time.Duration
	done    chan struct{}

	mu       sync.Mutex
	pid      int      // leader of the running phase, unreaped; 0 when none runs
	begun    string   // file the running phase's shell creates when setup is over
	mode     StopMode // stop in effect
	byCaller StopMode
	walltime bool
	finished bool
	result   Result
}

// maxCommand leaves room in the 128 KiB argument limit for the prelude.
const maxCommand = 100 << 10

const (
	startedMarker = "@@worker-started@@"
	missingMarker = "@@worker-missing@@"
)

// Start prepares the run's private directory and log and starts it in the
// background; Wait gives the result. Its error is a bad Spec or a failure
// to prepare; later system failures are Result.Err. Cancelling ctx stops
// the run with Kill.
func Start(ctx context.Context, s Spec) (*Process, error) {
	if !filepath.IsAbs(s.Dir) {
		return nil, fmt.Errorf("worker: start: directory %q is not absolute", s.Dir)
	}
	if fi, err := os.Stat(s.Dir); err != nil || !fi.IsDir() {
		return nil, fmt.Errorf("worker: start: directory %q: not a directory (%v)", s.Dir, err)
	}
	if strings.TrimSpace(s.Command) == "" {
		return nil, errors.New("worker: start: no command")
	}
	for _, c := range []string{s.PreCommand, s.Command, s.PostCommand} {
		// Each is one argument of `bash -c`; Linux refuses a single
		// argument over 128 KiB (MAX_ARG_STRLEN) with an obscure E2BIG.
		if len(c) > maxCommand {
			return nil, fmt.Errorf("worker: start: a command of %d bytes is longer than %d: put it in a script among the inputs", len(c), maxCommand)
		}
	}
	if err := validEnv(s.Env); err != nil {
		return nil, fmt.Errorf("worker: start: %w", err)
	}
	if s.Software != nil {
		if err := validEnv(s.Software.Env); err != nil {
			return nil, fmt.Errorf("worker: start: software: %w", err)
		}
	}
	bash, err := bashPath()
	if err != nil {
		return nil, err
	}
	p := &Process{spec: s, sandbox: s.Sandbox, bash: bash, grace: s.Grace, done: make(chan struct{})}
	if p.sandbox == nil {
		p.sandbox = None{}
	}
	if p.grace <= 0 {
		p.grace = DefaultGrace
	}
	logPath := s.Log
	if logPath == "" {
		logPath = os.DevNull
	}
	if p.log, err = os.OpenFile(logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644); err != nil {
		return nil, fmt.Errorf("worker: start: log: %w", err)
	}
	if err := p.prepare(); err != nil {
		p.log.Close()
		if p.scratch != "" {
			os.RemoveAll(p.scratch)
		}
		return nil, fmt.Errorf("worker: start: %w", err)
	}
	go p.run(ctx)
	return p, nil
}

// prepare makes the run-private directory:
//
//	scratch/home      HOME (writable)
//	scratch/tmp       TMPDIR (writable; on disk, not in a sandbox's tmpfs)
//	scratch/openfoam  overlay WM_PROJECT_DIR, built by the run's shell
//	scratch/support   hostfile, RunFunctions (read-only in a sandbox)
func (p *Process) prepare() error {
	s := p.spec
	scratch, err := os.MkdirTemp(s.Scratch, "worker-run-")
	if err != nil {
		return err
	}
	p.scratch = scratch
	support := filepath.Join(scratch, "support")
	for _, d := range []string{"home", "tmp", "support"} {
		if err := os.Mkdir(filepath.Join(scratch, d), 0o755); err != nil {
			return err
		}
	}
	base := map[string]string{
		"HOME":   filepath.Join(scratch, "home"),
		"TMPDIR": filepath.Join(scratch, "tmp"),
	}
	mpi := map[string]string{}
	if s.UseMPI {
		mpi["OMPI_ALLOW_RUN_AS_ROOT"] = "1"
		mpi["OMPI_ALLOW_RUN_AS_ROOT_CONFIRM"] = "1"
		mpi["OMPI_MCA_plm"] = "isolated"
		mpi["OMPI_MCA_hwloc_base_binding_policy"] = "none"
		mpi["OMPI_MCA_btl_vader_single_copy_mechanism"] = "none"
		if s.Cores > 1 {
			hostfile := filepath.Join(support, "hostfile")
			if err := os.WriteFile(hostfile, []byte("localhost slots="+strconv.Itoa(s.Cores)+"\n"), 0o644); err != nil {
				return err
			}
			mpi["OMPI_MCA_orte_default_hostfile"] = hostfile
			mpi["RESCALE_MPI_HOSTFILE"] = hostfile
		}
	}
	var swEnv map[string]string
	if s.Software != nil {
		swEnv = s.Software.Env
		if s.Software.OpenFOAM {
			if err := os.WriteFile(filepath.Join(support, "RunFunctions"), runFunctions, 0o644); err != nil {
				return err
			}
		}
	}
	p.env = environ(base, mpi, swEnv, s.Env)
	p.mounts = Mounts{Work: s.Dir, Writable: []string{scratch}, ReadOnly: []string{support}}
	return nil
}

func (p *Process) script(name, command string) string {
	var b strings.Builder
	sw := Software{}
	if p.spec.Software != nil {
		sw = *p.spec.Software
	}
	// Until the started marker, stderr is the setup channel (a pipe read by
	// the worker): the env script's noise and any sandbox error land there,
	// not in the job's log. Then stderr becomes the log (fd 3).
	b.WriteString(sw.prelude())
	b.WriteString(`if [ -n "$__worker_missing" ]; then printf '\n%s%s\n' '` + missingMarker + `' "$__worker_missing" >&2; exit 127; fi` + "\n")
	b.WriteString("unset __worker_missing\n")
	if sw.OpenFOAM {
		b.WriteString(openFOAMSetup(filepath.Join(p.scratch, "openfoam"), filepath.Join(p.scratch, "support", "RunFunctions")))
	}
	fmt.Fprintf(&b, "cd -- %s || exit 1\n", shellQuote(p.spec.Dir))
	// The begun file tells Stop synchronously that setup is over; the
	// marker tells the phase's result, from the setup channel.
	fmt.Fprintf(&b, ": > %s || exit 1\n", shellQuote(filepath.Join(p.scratch, name+".begun")))
	b.WriteString(`printf '\n%s\n' '` + startedMarker + `' >&2; exec 2>&3 3>&-` + "\n")
	b.WriteString(command)
	b.WriteString("\n")
	return b.String()
}

func (p *Process) run(ctx context.Context) {
	defer close(p.done)
	res := Result{ExitCode: -1, Started: time.Now()}
	stopCtx := context.AfterFunc(ctx, func() { p.Stop(Kill) })
	var wall *time.Timer
	if p.spec.Walltime > 0 {
		wall = time.AfterFunc(p.spec.Walltime, func() { p.stop(Graceful, true) })
	}
	for _, ph := range []struct{ name, cmd string }{
		{"pre", p.spec.PreCommand}, {"command", p.spec.Command}, {"post", p.spec.PostCommand},
	} {
		if strings.TrimSpace(ph.cmd) == "" {
			continue
		}
		r, ran := p.phase(ph.name, ph.cmd)
		if !ran {
			if r.Err != nil { // could not even start it
				res.Phase, res.ExitCode, res.Signal, res.Err = ph.name, -1, "", r.Err
			}
			break
		}
		res.Phase, res.ExitCode, res.Signal, res.Err = ph.name, r.ExitCode, r.Signal, r.Err
		p.mu.Lock()
		stopped := p.mode != NotStopped
		p.mu.Unlock()
		if stopped || r.Err != nil || r.ExitCode != 0 {
			break
		}
	}
	stopCtx()
	if wall != nil {
		wall.Stop()
	}
	res.Ended = time.Now()
	if err := p.log.Close(); err != nil && res.Err == nil {
		res.Err = fmt.Errorf("worker: log: %w", err)
	}
	os.RemoveAll(p.scratch)
	p.mu.Lock()
	p.finished = true
	res.Stopped, res.WalltimeExceeded = p.byCaller, p.walltime
	p.result = res
	p.mu.Unlock()
}

// phase runs one command. ran is false if it never started (stopped
// before, or a system error starting it).
func (p *Process) phase(name, command string) (r Result, ran bool) {
	argv, err := p.sandbox.Wrap(p.mounts, []string{p.bash, "--noprofile", "--norc", "-c", p.script(name, command)})
	if err != nil {
		return Result{Err: fmt.Errorf("worker: %s: %w", name, err)}, false
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		return Result{Err: fmt.Errorf("worker: %s: %w", name, err)}, false
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = p.env
	cmd.Dir = p.spec.Dir
	cmd.Stdout = p.log
	cmd.Stderr = pw
	cmd.ExtraFiles = []*os.File{p.log}
	// A new session: the phase leads its own process group (a stop signals
	// the whole tree) and has no controlling terminal to inject input into.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}

	p.mu.Lock()
	if p.mode != NotStopped {
		p.mu.Unlock()
		pr.Close()
		pw.Close()
		return Result{}, false
	}
	err = cmd.Start()
	pw.Close()
	if err != nil {
		p.mu.Unlock()
		pr.Close()
		err = fmt.Errorf("worker: %s: %w: %w", name, ErrSetup, err)
		p.logLine(err.Error())
		return Result{Err: err}, false
	}
	pid := cmd.Process.Pid
	p.pid, p.begun = pid, filepath.Join(p.scratch, name+".begun")
	p.mu.Unlock()

	var setup bytes.Buffer
	read := make(chan struct{})
	go func() {
		io.Copy(&capped{buf: &setup, max: 8192}, pr)
		close(read)
	}()
	waitAndClean(cmd, func() {
		p.mu.Lock()
		defer p.mu.Unlock()
		// Whatever is left of the group dies with its leader: a run leaves
		// no processes behind.
		syscall.Kill(-pid, syscall.SIGKILL)
		p.pid = 0
	})
	// The pipe ends when the last holder exits; something the env script
	// daemonized out of the group could hold it forever.
	select {
	case <-read:
	case <-time.After(2 * time.Second):
		pr.Close()
		<-read
	}
	pr.Close()

	r = Result{ExitCode: -1}
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		r.Signal = signalName(ws.Signal())
	} else {
		r.ExitCode = cmd.ProcessState.ExitCode()
	}
	out := setup.String()
	if strings.Contains(out, startedMarker) {
		p.mu.Lock()
		stopped := p.mode != NotStopped
		p.mu.Unlock()
		if r.ExitCode != 0 && !stopped && diskFull(p.spec.Dir) {
			// The job's own error messages may not even have made it into
			// the log: say what went wrong.
			r.Err = fmt.Errorf("worker: %s: %w: the file system of %s is full", name, ErrNoSpace, p.spec.Dir)
			p.logLine(r.Err.Error())
		}
		return r, true
	}
	p.mu.Lock()
	stopped := p.mode != NotStopped
	p.mu.Unlock()
	if stopped {
		return r, true
	}
	if i := strings.LastIndex(out, missingMarker); i >= 0 {
		sw := Software{}
		if p.spec.Software != nil {
			sw = *p.spec.Software
		}
		missing := strings.Fields(strings.SplitN(out[i+len(missingMarker):], "\n", 2)[0])
		r.Err = fmt.Errorf("worker: %s: %w", name, sw.missingError(missing))
	} else {
		r.Err = fmt.Errorf("worker: %s: %w (exit %d, signal %q): %s", name, ErrSetup, r.ExitCode, r.Signal, strings.TrimSpace(out))
	}
	p.logLine(r.Err.Error())
	return r, true
}

func exists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}

// logLine tells the job's log why a run failed before its command started.
func (p *Process) logLine(s string) {
	fmt.Fprintf(p.log, "%s\n", s)
}

// Stop stops the run: see StopMode. It returns at once; Wait says when the
// run has ended. It may be called at any time and repeatedly: a stronger
// mode escalates a weaker one in progress, a weaker or equal one does
// nothing, and no later phase starts after any stop.
func (p *Process) Stop(mode StopMode) { p.stop(mode, false) }

func (p *Process) stop(mode StopMode, walltime bool) {
	if mode <= NotStopped || mode > Kill {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.finished {
		return
	}
	if walltime {
		if p.mode == NotStopped {
			p.walltime = true
		}
	} else if mode > p.byCaller {
		p.byCaller = mode
	}
	if mode <= p.mode {
		return
	}
	p.mode = mode
	if p.pid == 0 {
		return // between phases or before the first: none will start
	}
	switch {
	case mode == Graceful && !exists(p.begun):
		// Still in sandbox or environment setup: there is no job to be
		// graceful with, and inside a sandbox SIGTERM may not even reach
		// the not-yet-started shell.
		syscall.Kill(-p.pid, syscall.SIGKILL)
	case mode == Graceful:
		p.terminate()
		time.AfterFunc(p.grace, func() {
			p.mu.Lock()
			defer p.mu.Unlock()
			if p.pid != 0 {
				syscall.Kill(-p.pid, syscall.SIGKILL)
			}
		})
	case mode == Force:
		p.terminate()
		syscall.Kill(-p.pid, syscall.SIGKILL)
	case mode == Kill:
		syscall.Kill(-p.pid, syscall.SIGKILL)
	}
}

// terminate sends SIGTERM to the running phase's process group, sparing a
// sandbox supervisor (see Sandbox.Supervises). Called with mu held.
func (p *Process) terminate() {
	if !p.sandbox.Supervises() {
		syscall.Kill(-p.pid, syscall.SIGTERM)
		return
	}
	for _, pid := range groupMembers(p.pid) {
		if pid != p.pid {
			syscall.Kill(pid, syscall.SIGTERM)
		}
	}
}

// Wait waits for the run to end and returns its result; it may be called
// any number of times.
func (p *Process) Wait() Result {
	<-p.done
	return p.result
}

// Pid is the process id of the running phase's leader (the sandbox's
// supervisor, or bash), 0 when no phase runs.
func (p *Process) Pid() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.pid
}

// SignalNumber is the number of a signal Result.Signal names, 0 if none:
// what a shell reports as 128+n for a child that died of it.
func SignalNumber(name string) int {
	for n := syscall.Signal(1); n < 65; n++ {
		if signalName(n) == name {
			return int(n)
		}
	}
	return 0
}

func signalName(s syscall.Signal) string {
	names := map[syscall.Signal]string{
		syscall.SIGHUP: "SIGHUP", syscall.SIGINT: "SIGINT", syscall.SIGQUIT: "SIGQUIT",
		syscall.SIGILL: "SIGILL", syscall.SIGTRAP: "SIGTRAP", syscall.SIGABRT: "SIGABRT",
		syscall.SIGBUS: "SIGBUS", syscall.SIGFPE: "SIGFPE", syscall.SIGKILL: "SIGKILL",
		syscall.SIGUSR1: "SIGUSR1", syscall.SIGSEGV: "SIGSEGV", syscall.SIGUSR2: "SIGUSR2",
		syscall.SIGPIPE: "SIGPIPE", syscall.SIGALRM: "SIGALRM", syscall.SIGTERM: "SIGTERM",
		syscall.SIGXCPU: "SIGXCPU", syscall.SIGXFSZ: "SIGXFSZ",
	}
	if n, ok := names[s]; ok {
		return n
	}
	return "signal " + strconv.Itoa(int(s))
}
