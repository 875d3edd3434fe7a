package worker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
)

// Job is one whole run as both callers perform it: the inputs to stage
// into Spec.Dir, the storage it needs, and the commands.
type Job struct {
	Inputs []Input
	// Executable names inputs (plain files, by Input.Name) whose execute
	// bits are set after staging: rendered templates a command may run.
	Executable []string
	// StorageBytes is the job's storagePerNode, checked against the
	// working directory's file system once the inputs are in; 0 checks
	// nothing.
	StorageBytes int64
	// Spec is the run; Spec.Dir must exist and be empty. An empty Log is
	// Dir/process_output.log, so the log is an output.
	Spec Spec
}

// LogName is the run's log in its working directory, as Rescale names it.
const LogName = "process_output.log"

// Outcome is how an Execute ended.
type Outcome struct {
	// Staged is what staging put into the working directory (Archives go
	// to Filter.Skip when the outputs are collected).
	Staged Staged
	// Started: the commands started, and Result is theirs.
	Started bool
	Result  Result
	// Err is why the commands never started: staging failed
	// (errors.Is(Err, ErrUnsafePath): the user's archive is at fault, not
	// worth a retry), the disk is too small, or Start refused. Its message
	// is a sentence for the job's statuses.
	Err error
	// Stopped is the strongest Stop asked for, before or after the start.
	Stopped StopMode
}

// Execution is a Job being performed. Its methods are safe for concurrent
// use.
type Execution struct {
	done chan struct{}
	out  Outcome

	mu   sync.Mutex
	stop StopMode
	proc *Process
}

// Execute stages the job's inputs, checks its storage and starts its
// commands in the background, calling started (if not nil) once they have
// started; Wait gives the outcome. The outputs are left in Spec.Dir for
// the caller to Collect. A Stop before the commands start keeps them from
// starting (staging is not interrupted: its files are outputs too).
// Cancelling ctx stops the run with Kill.
func Execute(ctx context.Context, j Job, started func()) *Execution {
	x := &Execution{done: make(chan struct{})}
	go func() {
		defer close(x.done)
		x.out = x.execute(ctx, j, started)
	}()
	return x
}

func (x *Execution) execute(ctx context.Context, j Job, started func()) Outcome {
	var out Outcome
	s := j.Spec
	if s.Log == "" {
		s.Log = filepath.Join(s.Dir, LogName)
	}
	staged, err := Stage(ctx, s.Dir, j.Inputs)
	out.Staged = staged
	if err == nil {
		err = makeExecutable(s.Dir, j.Executable)
	}
	if err != nil {
		out.Err = fmt.Errorf("staging the inputs failed: %w", err)
		out.Stopped = x.stopMode()
		return out
	}
	if j.StorageBytes > 0 {
		if err := CheckDisk(s.Dir, j.StorageBytes); err != nil {
			out.Err = err
			out.Stopped = x.stopMode()
			return out
		}
	}
	x.mu.Lock()
	if x.stop != NotStopped {
		out.Stopped = x.stop
		x.mu.Unlock()
		return out
	}
	p, err := Start(ctx, s)
	if err != nil {
		x.mu.Unlock()
		out.Err = fmt.Errorf("the run could not start: %w", err)
		return out
	}
	x.proc = p
	x.mu.Unlock()
	out.Started = true
	if started != nil {
		started()
	}
	out.Result = p.Wait()
	out.Stopped = max(x.stopMode(), out.Result.Stopped)
	return out
}

func (x *Execution) stopMode() StopMode {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.stop
}

// Stop stops the run as Process.Stop does; before the commands have
// started it keeps them from starting. Repeatable; stronger modes win.
func (x *Execution) Stop(mode StopMode) {
	if mode <= NotStopped || mode > Kill {
		return
	}
	x.mu.Lock()
	if mode > x.stop {
		x.stop = mode
	}
	p := x.proc
	x.mu.Unlock()
	if p != nil {
		p.Stop(mode)
	}
}

// Wait waits for the run to end; it may be called any number of times.
func (x *Execution) Wait() Outcome {
	<-x.done
	return x.out
}

// Done is closed when the run has ended.
func (x *Execution) Done() <-chan struct{} { return x.done }

// makeExecutable sets the execute bits of the named inputs.
func makeExecutable(dir string, names []string) error {
	if len(names) == 0 {
		return nil
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return err
	}
	defer root.Close()
	for _, name := range names {
		if err := root.Chmod(name, 0o755); err != nil {
			return fmt.Errorf("make %s executable: %w", name, err)
		}
	}
	return nil
}

// SoftwareMap says how analysis versions run on a machine: analysis code →
// version code (or "*" for any version) → how to set it up. It is the
// JSON of rescale-local's --software file and of the job agent's
// RESCALE_AGENT_SOFTWARE. user_included (and custom) needs no entry: its
// command runs as given.
type SoftwareMap map[string]map[string]Software

// DebianOpenFOAM is the environment script of Debian's openfoam package
// (OpenFOAM v1912), the default map's entry when it is installed.
const DebianOpenFOAM = "/usr/share/openfoam/etc/bashrc"

// LoadSoftwareMap reads a SoftwareMap from a JSON file. Without a file the
// map holds Debian's OpenFOAM as openfoam v1912-openmpi when it is
// installed, and nothing else.
func LoadSoftwareMap(path string) (SoftwareMap, error) {
	if path == "" {
		m := SoftwareMap{}
		if _, err := os.Stat(DebianOpenFOAM); err == nil {
			m["openfoam"] = map[string]Software{
				"v1912-openmpi": {EnvScript: DebianOpenFOAM, Requires: []string{"simpleFoam"}, OpenFOAM: true},
			}
		}
		return m, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("software map: %w", err)
	}
	var m SoftwareMap
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("software map %s: %w", path, err)
	}
	return m, nil
}

// ErrNotInstalled is an analysis version a SoftwareMap lacks.
var ErrNotInstalled = errors.New("not installed")

// Find returns how an analysis version runs; ok is false for analyses that
// need nothing (user_included). An analysis version the map lacks is an
// error wrapping ErrNotInstalled whose message names it (by versionName,
// its display name, when given) and the versions that are installed.
func (m SoftwareMap) Find(analysis, version, versionName string) (sw Software, ok bool, err error) {
	if strings.HasPrefix(analysis, "user_included") || analysis == "custom" {
		return Software{}, false, nil
	}
	versions := m[analysis]
	if sw, ok := versions[version]; ok {
		return sw, true, nil
	}
	if sw, ok := versions["*"]; ok {
		return sw, true, nil
	}
	name := versionName
	if name == "" {
		name = version
	}
	msg := fmt.Sprintf("%s %s is %s on this machine", analysis, name, ErrNotInstalled)
	if len(versions) > 0 {
		have := slices.Sorted(maps.Keys(versions))
		msg += " (installed: " + strings.Join(have, ", ") + ")"
	}
	return Software{}, false, &notInstalledError{msg: msg}
}

type notInstalledError struct{ msg string }

func (e *notInstalledError) Error() string { return e.msg }
func (e *notInstalledError) Unwrap() error { return ErrNotInstalled }
