// Package workertest is the table of runs that both callers of
// shared/worker perform the same way: the local executor (localexec) and
// the AWS Batch job agent (cmd/agent). A case is a run as the lifecycle
// hands it to compute (inputs, command, filters, walltime) with what it
// must produce; a Runner performs it on one caller and reports what came
// out. Check holds a Got to the case's expectations, Same holds two
// callers' outputs to each other, and Local is the local executor's
// Runner, the reference the agent is compared with.
package workertest

import (
	"archive/zip"
	"bytes"
	"context"
	"io"
	"io/fs"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/openrescale/platform/shared/blob"
	"github.com/openrescale/platform/shared/blob/fileblob"
	"github.com/openrescale/platform/shared/compute"
	"github.com/openrescale/platform/shared/compute/localexec"
	"github.com/openrescale/platform/shared/worker"
)

// Outcome is how a run ended, in terms both callers can report: the
// local executor through its event, the agent through its exit code.
type Outcome string

const (
	Exited   Outcome = "exited"   // the command ran to its end; Got.ExitCode is its code
	Walltime Outcome = "walltime" // stopped at its walltime
	Inputs   Outcome = "inputs"   // the user's inputs could not be staged: not retried
	System   Outcome = "system"   // the platform failed the run: retried
)

// Case is one run and what it must produce.
type Case struct {
	Name string
	// Need skips the case (loudly, or fails it under
	// REQUIRE_TEST_SERVERS=1) where the machine lacks what it needs.
	Need func(t *testing.T)
	// Inputs: name → content. Zips: archive name → member → content
	// (members are executable, as scripts in a user's zip are); Dirs:
	// archive name → directory on this machine, zipped under the
	// archive's base name without ".zip".
	Inputs     map[string]string
	Zips       map[string]map[string]string
	Dirs       map[string]string
	Executable []string // inputs staged with execute bits
	// Analysis and Version: "" is user_included.
	Analysis, Version                string
	Cores                            int
	Command, PreCommand, PostCommand string
	Env                              map[string]string
	Include, Exclude                 []string
	Walltime                         time.Duration

	// Want.
	Outcome  Outcome
	ExitCode int // for Exited
	// Outputs: relative path → exact content; Contains: path → a
	// substring of it; Absent: paths that must not be outputs.
	Outputs  map[string]string
	Contains map[string]string
	Absent   []string
	// Varying are output patterns (worker.Filter syntax) whose content
	// differs between runs (timings, dates): Same compares only that
	// both callers have them.
	Varying []string
	// Slow cases take more than a few seconds.
	Slow bool
}

// JobID and RunID of every case's run; the owner is OwnerID.
const (
	JobID   = "jCase"
	RunID   = "1"
	OwnerID = "uCase"
)

// OutputPrefix is where the case's outputs go.
const OutputPrefix = "user/user_" + OwnerID + "/output/job_" + JobID + "/run" + RunID + "/"

// InputKey is the blob key an input is stored under.
func InputKey(name string) string { return "user/user_" + OwnerID + "/" + name + "-0123abcd" }

// Got is what a Runner saw.
type Got struct {
	Outcome  Outcome
	ExitCode int
	Reason   string
	Outputs  map[string][]byte // relative path → content
}

// Runner performs a case on one caller of the worker.
type Runner func(t *testing.T, c Case) Got

// Env is every case's job environment besides its own Env: what the
// lifecycle gives every run.
func Env(c Case) map[string]string {
	env := map[string]string{"RESCALE_JOB_ID": JobID, "RESCALE_RUN_ID": RunID, "RESCALE_TOTAL_CORES": "1"}
	for k, v := range c.Env {
		env[k] = v
	}
	return env
}

// Files builds the case's inputs: name → content, archives built.
func Files(t *testing.T, c Case) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	for name, content := range c.Inputs {
		out[name] = []byte(content)
	}
	for name, members := range c.Zips {
		out[name] = zipOf(t, members)
	}
	for name, dir := range c.Dirs {
		out[name] = zipDir(t, dir, strings.TrimSuffix(name, ".zip"))
	}
	return out
}

// RunOf is the compute.Run of a case (inputs in name order).
func RunOf(c Case, files map[string][]byte) compute.Run {
	cores := max(c.Cores, 1)
	analysis := c.Analysis
	if analysis == "" {
		analysis = "user_included"
	}
	r := compute.Run{
		JobID: JobID, OwnerID: OwnerID, RunID: RunID,
		Req:     compute.Requirements{Analysis: analysis, Version: c.Version, Cores: cores},
		Command: c.Command, PreCommand: c.PreCommand, PostCommand: c.PostCommand,
		Cores: cores, Env: Env(c), Walltime: c.Walltime, OutputPrefix: OutputPrefix,
		Include: c.Include, Exclude: c.Exclude,
	}
	for _, name := range slices.Sorted(maps.Keys(files)) {
		r.Inputs = append(r.Inputs, compute.File{Name: name, Key: InputKey(name), Executable: slices.Contains(c.Executable, name)})
	}
	return r
}

// Outputs reads every object under the case's output prefix.
func Outputs(t *testing.T, b blob.Bucket) map[string][]byte {
	t.Helper()
	ctx := context.Background()
	out := map[string][]byte{}
	var keys []string
	if err := b.List(ctx, OutputPrefix, func(a blob.Attrs) error {
		keys = append(keys, a.Key)
		return nil
	}); err != nil {
		t.Fatalf("list outputs: %v", err)
	}
	for _, k := range keys {
		r, err := b.NewRangeReader(ctx, k, 0, -1)
		if err != nil {
			t.Fatalf("read output %s: %v", k, err)
		}
		body, err := io.ReadAll(r)
		r.Close()
		if err != nil {
			t.Fatalf("read output %s: %v", k, err)
		}
		out[strings.TrimPrefix(k, OutputPrefix)] = body
	}
	return out
}

// Check holds what a caller produced to the case's expectations.
func Check(t *testing.T, c Case, got Got) {
	t.Helper()
	if got.Outcome != c.Outcome || c.Outcome == Exited && got.ExitCode != c.ExitCode {
		t.Fatalf("outcome %s (exit %d, %q), want %s (exit %d)", got.Outcome, got.ExitCode, got.Reason, c.Outcome, c.ExitCode)
	}
	for rel, want := range c.Outputs {
		body, ok := got.Outputs[rel]
		if !ok {
			t.Fatalf("no output %s among %v", rel, names(got.Outputs))
		}
		if string(body) != want {
			t.Fatalf("output %s = %q, want %q", rel, body, want)
		}
	}
	for rel, want := range c.Contains {
		body, ok := got.Outputs[rel]
		if !ok {
			t.Fatalf("no output %s among %v", rel, names(got.Outputs))
		}
		if !strings.Contains(string(body), want) {
			t.Fatalf("output %s lacks %q:\n%s", rel, want, tail(body))
		}
	}
	for _, rel := range c.Absent {
		if _, ok := got.Outputs[rel]; ok {
			t.Fatalf("output %s should not be there: %v", rel, names(got.Outputs))
		}
	}
}

// Same holds two callers' outputs to each other: the same files, with the
// same content except where the case says it varies. When the inputs could
// not be staged, the local executor gives the reason in its event and the
// agent (whose exit code cannot carry it) in process_output.log, which is
// then left out of the comparison.
func Same(t *testing.T, c Case, want, got Got) {
	t.Helper()
	if c.Outcome == Inputs {
		want.Outputs, got.Outputs = maps.Clone(want.Outputs), maps.Clone(got.Outputs)
		delete(want.Outputs, worker.LogName)
		delete(got.Outputs, worker.LogName)
	}
	if w, g := names(want.Outputs), names(got.Outputs); !slices.Equal(w, g) {
		t.Fatalf("outputs differ:\nreference %v\ngot       %v", w, g)
	}
	vary := worker.Filter{Include: c.Varying}
	for rel, body := range want.Outputs {
		if len(c.Varying) > 0 && vary.Match(rel) {
			continue
		}
		if !bytes.Equal(body, got.Outputs[rel]) {
			t.Fatalf("output %s differs:\nreference %q\ngot       %q", rel, tail(body), tail(got.Outputs[rel]))
		}
	}
	if want.Outcome != got.Outcome || want.ExitCode != got.ExitCode && want.Outcome == Exited {
		t.Fatalf("outcome %s/%d, reference %s/%d", got.Outcome, got.ExitCode, want.Outcome, want.ExitCode)
	}
}

func names(m map[string][]byte) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func tail(b []byte) []byte {
	if len(b) > 2000 {
		return b[len(b)-2000:]
	}
	return b
}

// Local is the local executor's Runner: a localexec.Executor over a
// fileblob bucket, with the given sandbox and the software map that
// rescale-local uses by default.
func Local(sandbox worker.Sandbox, software worker.SoftwareMap) Runner {
	return func(t *testing.T, c Case) Got {
		t.Helper()
		dir := t.TempDir()
		b, err := fileblob.New(filepath.Join(dir, "blobs"))
		if err != nil {
			t.Fatal(err)
		}
		defer b.Close()
		events := make(chan compute.Event, 16)
		ex, err := localexec.New(localexec.Config{Root: filepath.Join(dir, "runs"), Cores: max(c.Cores, 1), Sandbox: sandbox,
			Software: software, Bucket: b, Grace: time.Second,
			Sink: func(ctx context.Context, ev compute.Event) error { events <- ev; return nil }})
		if err != nil {
			t.Fatal(err)
		}
		defer ex.Close()
		ctx := context.Background()
		files := Files(t, c)
		for name, body := range files {
			if _, err := b.Put(ctx, InputKey(name), bytes.NewReader(body), ""); err != nil {
				t.Fatal(err)
			}
		}
		r := RunOf(c, files)
		if err := ex.Reserve(ctx, JobID, r.Cores, nil); err != nil {
			t.Fatal(err)
		}
		if err := ex.StartRun(ctx, r); err != nil {
			t.Fatal(err)
		}
		timeout := time.After(10 * time.Minute) // a hang, not a duration check
		for {
			select {
			case ev := <-events:
				if ev.State != compute.Exited {
					continue
				}
				got := Got{Outcome: Exited, ExitCode: ev.ExitCode, Reason: ev.Reason}
				switch {
				case ev.WalltimeExceeded:
					got.Outcome = Walltime
				case ev.System:
					got.Outcome = System
				case strings.HasPrefix(ev.Reason, "staging the inputs failed"):
					got.Outcome = Inputs
				}
				got.Outputs = Outputs(t, b)
				return got
			case <-timeout:
				t.Fatalf("%s: no Exited event", c.Name)
			}
		}
	}
}

// need skips (or, under REQUIRE_TEST_SERVERS=1, fails) without the paths.
func need(what string, paths ...string) func(t *testing.T) {
	return func(t *testing.T) {
		t.Helper()
		for _, p := range paths {
			if _, err := os.Stat(p); err != nil {
				if os.Getenv("REQUIRE_TEST_SERVERS") == "1" {
					t.Fatalf("%s is required here (REQUIRE_TEST_SERVERS=1): %v", what, err)
				}
				t.Skipf("SKIPPING: %s not installed (%v)", what, err)
			}
		}
	}
}

func zipOf(t *testing.T, members map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, name := range names(bytesMap(members)) {
		h := &zip.FileHeader{Name: name, Method: zip.Deflate, Modified: time.Date(2020, 6, 26, 0, 0, 0, 0, time.UTC)}
		h.SetMode(0o755)
		w, err := zw.CreateHeader(h)
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(w, members[name])
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func bytesMap(m map[string]string) map[string][]byte {
	out := make(map[string][]byte, len(m))
	for k, v := range m {
		out[k] = []byte(v)
	}
	return out
}

// zipDir zips the tree at src under prefix/, modes kept.
func zipDir(t *testing.T, src, prefix string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		fi, err := d.Info()
		if err != nil {
			return err
		}
		h, err := zip.FileInfoHeader(fi)
		if err != nil {
			return err
		}
		h.Name, h.Method = path.Join(prefix, filepath.ToSlash(rel)), zip.Deflate
		w, err := zw.CreateHeader(h)
		if err != nil {
			return err
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		_, err = io.Copy(w, f)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}
