package asl_test

// The cross-check runs scripted scenarios on shared/asl and on
// aws-local-stepfunctions (an independent JavaScript implementation of the
// States Language, run by tests/servers/aslcheck.mjs) and requires the two
// to visit the same states, call the same tasks with the same inputs, and
// end the same way. asl-validator checks the definitions themselves.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/openrescale/platform/shared/asl"
)

// repoRoot is the directory holding go.mod, above the test's directory.
func repoRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test directory")
		}
		dir = parent
	}
}

// nodeTools finds node and the npm packages in tests/servers. Without them
// the test skips, unless REQUIRE_TEST_SERVERS=1, where it fails: CI must
// not pass by skipping.
func nodeTools(t *testing.T) (node, servers string) {
	t.Helper()
	servers = filepath.Join(repoRoot(t), "tests", "servers")
	missing := func(format string, args ...any) {
		msg := fmt.Sprintf(format, args...) + "; the cross-check needs Node.js and `cd tests/servers && npm ci`"
		if os.Getenv("REQUIRE_TEST_SERVERS") == "1" {
			t.Fatalf("REQUIRE_TEST_SERVERS=1 but %s", msg)
		}
		t.Skipf("\n*** SKIPPING: %s ***\n*** set REQUIRE_TEST_SERVERS=1 to make this a failure ***", msg)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		missing("node is not on PATH")
	}
	for _, pkg := range []string{"aws-local-stepfunctions", "asl-validator"} {
		if _, err := os.Stat(filepath.Join(servers, "node_modules", pkg, "package.json")); err != nil {
			missing("tests/servers/node_modules/%s is missing", pkg)
		}
	}
	return node, servers
}

func TestASLValidator(t *testing.T) {
	node, servers := nodeTools(t)
	root := repoRoot(t)
	defs := []string{filepath.Join(root, "statemachines", "job.asl.json")}
	more, _ := filepath.Glob(filepath.Join("testdata", "crosscheck", "*.asl.json"))
	defs = append(defs, more...)
	validator := filepath.Join(servers, "node_modules", "asl-validator", "dist", "bin", "asl-validator.js")
	if _, err := os.Stat(validator); err != nil {
		validator = filepath.Join(servers, "node_modules", ".bin", "asl-validator")
	}
	// Each as written and as deployed (placeholders substituted with ARNs,
	// which the validator's ARN check then sees), in one run: starting
	// node is the slow part.
	args := []string{validator}
	for _, def := range defs {
		raw, err := os.ReadFile(def)
		if err != nil {
			t.Fatal(err)
		}
		sub := filepath.Join(t.TempDir(), "substituted-"+filepath.Base(def))
		if err := os.WriteFile(sub, substituteText(t, raw, fakeARNs(raw)), 0o600); err != nil {
			t.Fatal(err)
		}
		args = append(args, "--json-path", def, "--json-path", sub)
	}
	out, err := exec.Command(node, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("asl-validator: %v\n%s", err, out)
	}
	if n := strings.Count(string(out), "is valid"); n != 2*len(defs) {
		t.Fatalf("asl-validator reported %d valid definitions of %d:\n%s", n, 2*len(defs), out)
	}
}

// substituteText fills placeholders as DefinitionSubstitutions do, for the
// tools that read the file (the values are plain ARNs: no escaping).
func substituteText(t *testing.T, def []byte, subs map[string]string) []byte {
	t.Helper()
	out := def
	for k, v := range subs {
		out = bytes.ReplaceAll(out, []byte("${"+k+"}"), []byte(v))
	}
	return out
}

// scenario is the cross-check's input, read by both runners.
type scenario struct {
	Name          string                     `json:"name"`
	Definition    string                     `json:"definition"` // relative to the repository root
	Input         json.RawMessage            `json:"input"`
	Substitutions map[string]string          `json:"substitutions"`
	Tasks         map[string]json.RawMessage `json:"tasks"`
}

type scriptedOutcome struct {
	Output json.RawMessage `json:"output"`
	Error  string          `json:"error"`
	Cause  string          `json:"cause"`
}

// outcomes are a target's scripted results: a list in call order, or lists
// per value of one field of the task input ("*": any other value).
type outcomes struct {
	list []scriptedOutcome
	by   string
	per  map[string][]scriptedOutcome
}

func (o *outcomes) UnmarshalJSON(b []byte) error {
	if bytes.HasPrefix(bytes.TrimSpace(b), []byte("[")) {
		return json.Unmarshal(b, &o.list)
	}
	var keyed struct {
		By       string                       `json:"by"`
		Outcomes map[string][]scriptedOutcome `json:"outcomes"`
	}
	if err := json.Unmarshal(b, &keyed); err != nil {
		return err
	}
	o.by, o.per = keyed.By, keyed.Outcomes
	return nil
}

// checkResult is what aslcheck.mjs prints, and what the Go side builds to
// compare with it.
type checkResult struct {
	Status string          `json:"status"`
	Output json.RawMessage `json:"output"`
	Error  string          `json:"error"`
	Cause  string          `json:"cause"`
	Events []checkEvent    `json:"events"`
	Calls  []checkCall     `json:"calls"`
}

type checkEvent struct {
	Type  string `json:"type"`
	State string `json:"state"`
	Index *int   `json:"index"`
	Error string `json:"error"`
}

type checkCall struct {
	Target string          `json:"target"`
	Input  json.RawMessage `json:"input"`
}

func TestCrossCheck(t *testing.T) {
	node, servers := nodeTools(t)
	root := repoRoot(t)
	files, err := filepath.Glob(filepath.Join("testdata", "crosscheck", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	var scenarios []string
	for _, f := range files {
		if !strings.HasSuffix(f, ".asl.json") {
			scenarios = append(scenarios, f)
		}
	}
	// The brief's five job scenarios must be there whatever else is.
	for _, want := range []string{"job-success", "job-user-failure", "job-system-error-retried", "job-stopped", "job-map-3"} {
		if !slices.Contains(scenarios, filepath.Join("testdata", "crosscheck", want+".json")) {
			t.Errorf("scenario %s is missing", want)
		}
	}
	// One node process runs every scenario.
	var specs []scenario
	args := []string{filepath.Join(servers, "aslcheck.mjs")}
	for _, file := range scenarios {
		raw, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		var sc scenario
		if err := json.Unmarshal(raw, &sc); err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		abs, _ := filepath.Abs(file)
		specs = append(specs, sc)
		args = append(args, filepath.Join(root, filepath.FromSlash(sc.Definition)), abs)
	}
	cmd := exec.Command(node, args...)
	cmd.Dir = servers
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("aslcheck.mjs: %v\n%s", err, stderr.String())
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != len(specs) {
		t.Fatalf("aslcheck.mjs printed %d results for %d scenarios:\n%s", len(lines), len(specs), out)
	}
	for i, sc := range specs {
		t.Run(sc.Name, func(t *testing.T) {
			t.Parallel()
			var js checkResult
			if err := json.Unmarshal([]byte(lines[i]), &js); err != nil {
				t.Fatalf("aslcheck.mjs output: %v\n%s", err, lines[i])
			}
			goRes := runGo(t, filepath.Join(root, filepath.FromSlash(sc.Definition)), sc)
			compare(t, goRes, js)
		})
	}
}

// runGo runs a scenario on shared/asl. A .waitForTaskToken task's func
// answers its token from a goroutine with the scripted outcome, as the
// compute events do in the platform.
func runGo(t *testing.T, defPath string, sc scenario) checkResult {
	t.Helper()
	def, err := os.ReadFile(defPath)
	if err != nil {
		t.Fatal(err)
	}
	scripts := map[string]*outcomes{}
	for target, raw := range sc.Tasks {
		var o outcomes
		if err := json.Unmarshal(raw, &o); err != nil {
			t.Fatalf("tasks[%s]: %v", target, err)
		}
		scripts[target] = &o
	}
	var (
		mu    sync.Mutex
		used  = map[string]int{}
		calls []checkCall
		r     *asl.Runner
	)
	next := func(target string, in json.RawMessage) scriptedOutcome {
		mu.Lock()
		defer mu.Unlock()
		o := scripts[target]
		if o == nil {
			return scriptedOutcome{Error: "States.TaskFailed", Cause: "no scripted outcome for " + target}
		}
		list, key := o.list, target
		if o.per != nil {
			var fields map[string]any
			_ = json.Unmarshal(in, &fields)
			v := fmt.Sprint(fields[o.by])
			key = target + "\x00" + v
			if list = o.per[v]; list == nil {
				list = o.per["*"]
			}
		}
		i := min(used[key], len(list)-1)
		used[key]++
		return list[i]
	}
	m, err := asl.Parse(def, sc.Substitutions)
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	tasks := map[string]asl.TaskFunc{}
	for _, target := range m.TaskTargets() {
		tasks[target] = func(ctx context.Context, in json.RawMessage, token string) (json.RawMessage, error) {
			o := next(target, in)
			mu.Lock()
			calls = append(calls, checkCall{Target: target, Input: replaceToken(t, in, token)})
			mu.Unlock()
			if token != "" {
				go func() {
					var err error
					if o.Error != "" {
						err = r.SendTaskFailure(context.Background(), token, o.Error, o.Cause)
					} else {
						err = r.SendTaskSuccess(context.Background(), token, o.Output)
					}
					if err != nil {
						t.Errorf("answer %s: %v", target, err)
					}
				}()
				return nil, nil
			}
			if o.Error != "" {
				return nil, asl.Errorf(o.Error, "%s", o.Cause)
			}
			if o.Output == nil {
				return json.RawMessage(`null`), nil
			}
			return o.Output, nil
		}
	}
	r, err = asl.New(asl.Config{Machine: m, Tasks: tasks, Store: boltStore(t), Sleep: (&sleeps{}).sleep, After: never})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	e := startAndWait(t, r, sc.Name, string(sc.Input))
	res := checkResult{Status: e.Status, Output: e.Output, Error: e.Error, Cause: e.Cause}
	for _, ev := range history(t, r, sc.Name) {
		switch ev.Type {
		case asl.EventStateEntered, asl.EventStateExited, asl.EventStateFailed, asl.EventStateRetried, asl.EventStateCaught:
		default:
			continue
		}
		ce := checkEvent{Type: ev.Type, State: ev.State}
		if ev.Type == asl.EventStateFailed {
			ce.Error = ev.Error
		}
		if len(ev.Index) > 0 {
			i := ev.Index[len(ev.Index)-1]
			ce.Index = &i
		}
		res.Events = append(res.Events, ce)
	}
	res.Calls = calls
	return res
}

// replaceToken puts "TOKEN" where the task token was, since each runner
// has its own.
func replaceToken(t *testing.T, in json.RawMessage, token string) json.RawMessage {
	if token == "" {
		return in
	}
	q, _ := json.Marshal(token)
	return bytes.ReplaceAll(in, q, []byte(`"TOKEN"`))
}

func canonical(t *testing.T, b json.RawMessage) string {
	t.Helper()
	if len(b) == 0 {
		return "null"
	}
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("invalid JSON %s: %v", b, err)
	}
	out, _ := json.Marshal(v) // sorted keys
	return string(out)
}

// compare checks what both runners must agree on. Map items run
// concurrently, so events are compared per item (and at the top level)
// and calls as a multiset.
func compare(t *testing.T, goRes, js checkResult) {
	t.Helper()
	if goRes.Status != js.Status {
		t.Errorf("status: go %s, js %s", goRes.Status, js.Status)
	}
	if goRes.Status == asl.StatusSucceeded {
		if g, j := canonical(t, goRes.Output), canonical(t, js.Output); g != j {
			t.Errorf("output:\n go %s\n js %s", g, j)
		}
	} else if goRes.Error != js.Error || goRes.Cause != js.Cause {
		t.Errorf("error: go %s (%s), js %s (%s)", goRes.Error, goRes.Cause, js.Error, js.Cause)
	}
	streams := func(evs []checkEvent) map[string][]string {
		out := map[string][]string{}
		for _, e := range evs {
			k := "top"
			if e.Index != nil {
				k = fmt.Sprintf("item %d", *e.Index)
			}
			out[k] = append(out[k], strings.TrimSpace(e.Type+" "+e.State+" "+e.Error))
		}
		return out
	}
	gs, jss := streams(goRes.Events), streams(js.Events)
	keys := map[string]bool{}
	for k := range gs {
		keys[k] = true
	}
	for k := range jss {
		keys[k] = true
	}
	for k := range keys {
		if !slices.Equal(gs[k], jss[k]) {
			t.Errorf("%s visits:\n go %q\n js %q", k, gs[k], jss[k])
		}
	}
	callSet := func(cs []checkCall) []string {
		var out []string
		for _, c := range cs {
			out = append(out, c.Target+" "+canonical(t, c.Input))
		}
		slices.Sort(out)
		return out
	}
	if g, j := callSet(goRes.Calls), callSet(js.Calls); !slices.Equal(g, j) {
		t.Errorf("task calls:\n go %q\n js %q", g, j)
	}
	if t.Failed() {
		return
	}
	t.Logf("agree: %s, %d top-level events, %d item streams, %d task calls", goRes.Status, len(gs["top"]), len(gs)-1, len(goRes.Calls))
}
