package asl

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/openrescale/platform/shared/errs"
)

// The two Task resources that are service integrations rather than a
// function of the runner's own.
const (
	ResourceLambdaInvoke     = "arn:aws:states:::lambda:invoke"
	ResourceLambdaInvokeWait = "arn:aws:states:::lambda:invoke.waitForTaskToken"
)

// Machine is a parsed definition. It is immutable and safe to share.
type Machine struct {
	top     *graph
	timeout time.Duration
	targets []string
	digest  string
}

type graph struct {
	startAt string
	states  map[string]*state
}

type integration int

const (
	plainTask integration = iota
	lambdaInvoke
	lambdaInvokeWait
)

type state struct {
	name string
	typ  string
	next string
	end  bool

	inputPath, outputPath, resultPath optPath
	parameters, resultSelector        *tmpl

	// Task
	integration integration
	target      string
	timeout     time.Duration
	retry       []retrier
	catch       []catcher

	// Pass
	result    any
	hasResult bool

	// Choice
	choices []*rule
	deflt   string

	// Wait: exactly one is set
	waitSeconds       *int64
	waitSecondsPath   *path
	waitTimestamp     *time.Time
	waitTimestampPath *path

	// Fail
	failError, failCause string

	// Map
	itemsPath      optPath
	itemSelector   *tmpl
	processor      *graph
	maxConcurrency int
}

type retrier struct {
	errorEquals []string
	interval    float64 // seconds
	backoff     float64
	maxAttempts int
	maxDelay    float64 // seconds; 0: no cap
}

type catcher struct {
	errorEquals []string
	resultPath  optPath
	next        string
}

// placeholders finds the ${Name} spans of a definition: start and end
// offsets of each, and its name.
func placeholders(def []byte) (spans [][2]int, names []string) {
	for i := 0; i+1 < len(def); i++ {
		if def[i] != '$' || def[i+1] != '{' {
			continue
		}
		end := bytes.IndexByte(def[i+2:], '}')
		if end < 0 {
			break
		}
		spans = append(spans, [2]int{i, i + 2 + end + 1})
		names = append(names, string(def[i+2:i+2+end]))
		i += 2 + end
	}
	return spans, names
}

// Placeholders returns the ${...} names in a definition, sorted and unique:
// what DefinitionSubstitutions must provide.
func Placeholders(def []byte) []string {
	_, names := placeholders(def)
	slices.Sort(names)
	return slices.Compact(names)
}

// Parse parses a definition after replacing its ${Name} placeholders with
// subs[Name], as DefinitionSubstitutions do in AWS. It refuses, naming the
// state and field, anything this interpreter does not implement (a field,
// state type, operator, intrinsic function or resource), so a definition
// that loads runs as Step Functions would run it. Errors are errs.Invalid.
func Parse(def []byte, subs map[string]string) (*Machine, error) {
	text, err := substitute(def, subs)
	if err != nil {
		return nil, err
	}
	fields, err := object(text)
	if err != nil {
		return nil, errs.Field("definition", "the definition is not a JSON object: %v", err)
	}
	if err := allowed(fields, "", "StartAt", "States", "Comment", "Version", "TimeoutSeconds", "QueryLanguage"); err != nil {
		return nil, err
	}
	if err := queryLanguage(fields, ""); err != nil {
		return nil, err
	}
	m := &Machine{}
	if raw, ok := fields["TimeoutSeconds"]; ok {
		n, err := positiveInt(raw)
		if err != nil {
			return nil, errs.Field("TimeoutSeconds", "field \"TimeoutSeconds\": %v", err)
		}
		m.timeout = time.Duration(n) * time.Second
	}
	p := &parser{names: map[string]bool{}, targets: map[string]bool{}}
	m.top, err = p.graph(fields, "")
	if err != nil {
		return nil, err
	}
	for t := range p.targets {
		m.targets = append(m.targets, t)
	}
	sort.Strings(m.targets)
	sum := sha256.Sum256(text)
	m.digest = hex.EncodeToString(sum[:8])
	return m, nil
}

// TaskTargets lists every Task's target after substitution, sorted and
// unique: its Resource, or Parameters.FunctionName for the lambda:invoke
// integrations. Config.Tasks must have a TaskFunc for each.
func (m *Machine) TaskTargets() []string { return slices.Clone(m.targets) }

func substitute(def []byte, subs map[string]string) ([]byte, error) {
	var missing []string
	var out []byte
	last := 0
	spans, names := placeholders(def)
	for i, sp := range spans {
		out = append(out, def[last:sp[0]]...)
		last = sp[1]
		v, ok := subs[names[i]]
		if !ok {
			missing = append(missing, names[i])
			continue
		}
		// Placeholders sit inside JSON strings: escape the value so any
		// text substitutes safely.
		q, _ := json.Marshal(v)
		out = append(out, q[1:len(q)-1]...)
	}
	out = append(out, def[last:]...)
	if len(missing) > 0 {
		slices.Sort(missing)
		missing = slices.Compact(missing)
		return nil, errs.Field("substitutions", "no substitution for placeholder %s", strings.Join(wrapAll(missing), ", "))
	}
	return out, nil
}

func wrapAll(names []string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = "${" + n + "}"
	}
	return out
}

type parser struct {
	names   map[string]bool // state names are unique across the machine
	targets map[string]bool
}

func object(raw []byte) (map[string]json.RawMessage, error) {
	var m map[string]json.RawMessage
	d := json.NewDecoder(bytes.NewReader(raw))
	if err := d.Decode(&m); err != nil {
		return nil, err
	}
	if m == nil {
		return nil, fmt.Errorf("null")
	}
	return m, nil
}

// fieldErr builds the Parse error for a state's field.
func fieldErr(st, field, format string, args ...any) error {
	msg := fmt.Sprintf(format, args...)
	if st == "" {
		return errs.Field(field, "field %q: %s", field, msg)
	}
	return errs.Field("States."+st+"."+field, "state %q: field %q: %s", st, field, msg)
}

func allowed(fields map[string]json.RawMessage, st string, names ...string) error {
	var bad []string
	for k := range fields {
		if !slices.Contains(names, k) {
			bad = append(bad, k)
		}
	}
	if len(bad) == 0 {
		return nil
	}
	sort.Strings(bad)
	return fieldErr(st, bad[0], "not supported here by shared/asl (supported: %s)", strings.Join(names, ", "))
}

func queryLanguage(fields map[string]json.RawMessage, st string) error {
	raw, ok := fields["QueryLanguage"]
	if !ok {
		return nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil || s != "JSONPath" {
		return fieldErr(st, "QueryLanguage", "only JSONPath is supported (JSONata is not), got %s", raw)
	}
	return nil
}

func (p *parser) graph(fields map[string]json.RawMessage, where string) (*graph, error) {
	g := &graph{states: map[string]*state{}}
	if err := json.Unmarshal(fields["StartAt"], &g.startAt); err != nil || g.startAt == "" {
		return nil, fieldErr("", where+"StartAt", "must name a state")
	}
	var states map[string]json.RawMessage
	if err := json.Unmarshal(fields["States"], &states); err != nil || len(states) == 0 {
		return nil, fieldErr("", where+"States", "must be a non-empty object of states")
	}
	names := make([]string, 0, len(states))
	for n := range states {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if p.names[n] {
			return nil, fieldErr(n, "Type", "another state has the same name; names are unique across the machine")
		}
		if len(n) == 0 || len(n) > 80 {
			return nil, fieldErr(n, "Type", "a state name has 1 to 80 characters")
		}
		p.names[n] = true
		st, err := p.state(n, states[n])
		if err != nil {
			return nil, err
		}
		g.states[n] = st
	}
	if _, ok := g.states[g.startAt]; !ok {
		return nil, fieldErr("", where+"StartAt", "state %q is not in States", g.startAt)
	}
	for _, n := range names {
		st := g.states[n]
		check := func(field, target string) error {
			if _, ok := g.states[target]; !ok {
				return fieldErr(n, field, "state %q is not in the same States", target)
			}
			return nil
		}
		if st.next != "" {
			if err := check("Next", st.next); err != nil {
				return nil, err
			}
		}
		if st.deflt != "" {
			if err := check("Default", st.deflt); err != nil {
				return nil, err
			}
		}
		for _, r := range st.choices {
			if err := check("Choices", r.next); err != nil {
				return nil, err
			}
		}
		for _, c := range st.catch {
			if err := check("Catch", c.next); err != nil {
				return nil, err
			}
		}
	}
	// Step Functions refuses unreachable states; so does Parse, so a
	// definition that loads here also deploys.
	reached := map[string]bool{}
	var walk func(string)
	walk = func(n string) {
		if reached[n] {
			return
		}
		reached[n] = true
		st := g.states[n]
		for _, t := range st.successors() {
			walk(t)
		}
	}
	walk(g.startAt)
	for _, n := range names {
		if !reached[n] {
			return nil, fieldErr(n, "Type", "the state cannot be reached from StartAt %q", g.startAt)
		}
	}
	return g, nil
}

func (s *state) successors() []string {
	var out []string
	if s.next != "" {
		out = append(out, s.next)
	}
	if s.deflt != "" {
		out = append(out, s.deflt)
	}
	for _, r := range s.choices {
		out = append(out, r.next)
	}
	for _, c := range s.catch {
		out = append(out, c.next)
	}
	return out
}

func (p *parser) state(name string, raw json.RawMessage) (*state, error) {
	f, err := object(raw)
	if err != nil {
		return nil, fieldErr(name, "Type", "a state must be a JSON object: %v", err)
	}
	st := &state{name: name}
	if err := json.Unmarshal(f["Type"], &st.typ); err != nil {
		return nil, fieldErr(name, "Type", "missing or not a string")
	}
	common := []string{"Type", "Comment", "QueryLanguage"}
	io := []string{"InputPath", "OutputPath"}
	flow := []string{"Next", "End"}
	var fields []string
	switch st.typ {
	case "Task":
		fields = concat(common, io, flow, "Resource", "Parameters", "ResultSelector", "ResultPath", "TimeoutSeconds", "Retry", "Catch")
	case "Pass":
		fields = concat(common, io, flow, "Result", "ResultPath", "Parameters")
	case "Choice":
		fields = concat(common, io, nil, "Choices", "Default")
	case "Wait":
		fields = concat(common, io, flow, "Seconds", "SecondsPath", "Timestamp", "TimestampPath")
	case "Succeed":
		fields = concat(common, io, nil)
	case "Fail":
		fields = concat(common, nil, nil, "Error", "Cause")
	case "Map":
		fields = concat(common, io, flow, "ItemsPath", "ItemSelector", "Parameters", "ItemProcessor", "Iterator",
			"MaxConcurrency", "ResultSelector", "ResultPath", "Retry", "Catch")
	default:
		return nil, fieldErr(name, "Type", "state type %q is not supported by shared/asl", st.typ)
	}
	if err := allowed(f, name, fields...); err != nil {
		return nil, err
	}
	if err := queryLanguage(f, name); err != nil {
		return nil, err
	}
	if err := st.parseFlow(f); err != nil {
		return nil, err
	}
	for _, pf := range []struct {
		field string
		dst   *optPath
	}{{"InputPath", &st.inputPath}, {"OutputPath", &st.outputPath}, {"ResultPath", &st.resultPath}} {
		if err := parseOptPath(f, name, pf.field, pf.dst); err != nil {
			return nil, err
		}
	}
	for _, tf := range []struct {
		field string
		dst   **tmpl
	}{{"Parameters", &st.parameters}, {"ResultSelector", &st.resultSelector}, {"ItemSelector", &st.itemSelector}} {
		raw, ok := f[tf.field]
		if !ok {
			continue
		}
		t, err := compileTemplate(raw)
		if err != nil {
			return nil, fieldErr(name, tf.field, "%v", err)
		}
		if tf.field == "ResultSelector" && t.kind != tmplObject {
			return nil, fieldErr(name, tf.field, "must be an object")
		}
		*tf.dst = t
	}
	if err := st.parseRetryCatch(f); err != nil {
		return nil, err
	}
	switch st.typ {
	case "Task":
		err = p.task(st, f)
	case "Pass":
		if raw, ok := f["Result"]; ok {
			st.result, err = decodeJSON(raw)
			st.hasResult = true
		}
	case "Choice":
		err = st.choice(f)
	case "Wait":
		err = st.wait(f)
	case "Fail":
		for _, x := range []struct {
			field string
			dst   *string
		}{{"Error", &st.failError}, {"Cause", &st.failCause}} {
			if raw, ok := f[x.field]; ok {
				if e := json.Unmarshal(raw, x.dst); e != nil {
					return nil, fieldErr(name, x.field, "must be a string")
				}
			}
		}
	case "Map":
		err = p.mapState(st, f)
	}
	if err != nil {
		return nil, err
	}
	return st, nil
}

func concat(a, b, c []string, more ...string) []string {
	out := append(append(append([]string{}, a...), b...), c...)
	return append(out, more...)
}

func (st *state) parseFlow(f map[string]json.RawMessage) error {
	rawNext, hasNext := f["Next"]
	rawEnd, hasEnd := f["End"]
	if hasNext {
		if err := json.Unmarshal(rawNext, &st.next); err != nil || st.next == "" {
			return fieldErr(st.name, "Next", "must name a state")
		}
	}
	if hasEnd {
		if err := json.Unmarshal(rawEnd, &st.end); err != nil || !st.end {
			return fieldErr(st.name, "End", "must be true when present")
		}
	}
	switch st.typ {
	case "Choice", "Succeed", "Fail":
		return nil // allowed() already refused Next and End
	}
	if hasNext == hasEnd {
		return fieldErr(st.name, "Next", "a %s state needs exactly one of Next and \"End\": true", st.typ)
	}
	return nil
}

func parseOptPath(f map[string]json.RawMessage, st, field string, dst *optPath) error {
	raw, ok := f[field]
	if !ok {
		return nil
	}
	dst.set = true
	if string(bytes.TrimSpace(raw)) == "null" {
		dst.null = true
		return nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return fieldErr(st, field, "must be a path string or null")
	}
	p, err := parsePath(s)
	if err != nil {
		return fieldErr(st, field, "%v", err)
	}
	if field == "ResultPath" && p.context {
		return fieldErr(st, field, "cannot address the context object")
	}
	dst.p = p
	return nil
}

func positiveInt(raw json.RawMessage) (int64, error) {
	n, err := intValue(raw)
	if err != nil {
		return 0, err
	}
	if n < 1 {
		return 0, fmt.Errorf("must be a positive integer, got %d", n)
	}
	return n, nil
}

func intValue(raw json.RawMessage) (int64, error) {
	var f float64
	if err := json.Unmarshal(raw, &f); err != nil || f != math.Trunc(f) || math.Abs(f) > 99999999 {
		return 0, fmt.Errorf("must be an integer up to 99999999, got %s", raw)
	}
	return int64(f), nil
}

func (st *state) parseRetryCatch(f map[string]json.RawMessage) error {
	if raw, ok := f["Retry"]; ok {
		var list []json.RawMessage
		if err := json.Unmarshal(raw, &list); err != nil {
			return fieldErr(st.name, "Retry", "must be an array of retriers")
		}
		for i, e := range list {
			r, err := parseRetrier(e, i == len(list)-1)
			if err != nil {
				return fieldErr(st.name, "Retry", "[%d]: %v", i, err)
			}
			st.retry = append(st.retry, r)
		}
	}
	if raw, ok := f["Catch"]; ok {
		var list []json.RawMessage
		if err := json.Unmarshal(raw, &list); err != nil {
			return fieldErr(st.name, "Catch", "must be an array of catchers")
		}
		for i, e := range list {
			c, err := parseCatcher(e, i == len(list)-1)
			if err != nil {
				return fieldErr(st.name, "Catch", "[%d]: %v", i, err)
			}
			st.catch = append(st.catch, c)
		}
	}
	return nil
}

func parseErrorEquals(f map[string]json.RawMessage, last bool) ([]string, error) {
	var names []string
	if err := json.Unmarshal(f["ErrorEquals"], &names); err != nil || len(names) == 0 {
		return nil, fmt.Errorf("\"ErrorEquals\" must be a non-empty array of error names")
	}
	for _, n := range names {
		if n == "" {
			return nil, fmt.Errorf("\"ErrorEquals\" has an empty name")
		}
		if n == ErrAll && (len(names) != 1 || !last) {
			return nil, fmt.Errorf("States.ALL must appear alone, in the last element")
		}
	}
	return names, nil
}

func parseRetrier(raw json.RawMessage, last bool) (retrier, error) {
	f, err := object(raw)
	if err != nil {
		return retrier{}, fmt.Errorf("a retrier must be an object")
	}
	if err := allowedPlain(f, "ErrorEquals", "IntervalSeconds", "BackoffRate", "MaxAttempts", "MaxDelaySeconds", "JitterStrategy", "Comment"); err != nil {
		return retrier{}, err
	}
	r := retrier{interval: 1, backoff: 2, maxAttempts: 3}
	if r.errorEquals, err = parseErrorEquals(f, last); err != nil {
		return retrier{}, err
	}
	if raw, ok := f["IntervalSeconds"]; ok {
		n, err := positiveInt(raw)
		if err != nil {
			return retrier{}, fmt.Errorf("\"IntervalSeconds\" %v", err)
		}
		r.interval = float64(n)
	}
	if raw, ok := f["BackoffRate"]; ok {
		if err := json.Unmarshal(raw, &r.backoff); err != nil || r.backoff < 1 {
			return retrier{}, fmt.Errorf("\"BackoffRate\" must be a number of at least 1.0")
		}
	}
	if raw, ok := f["MaxAttempts"]; ok {
		n, err := intValue(raw)
		if err != nil || n < 0 {
			return retrier{}, fmt.Errorf("\"MaxAttempts\" must be a non-negative integer")
		}
		r.maxAttempts = int(n)
	}
	if raw, ok := f["MaxDelaySeconds"]; ok {
		n, err := positiveInt(raw)
		if err != nil {
			return retrier{}, fmt.Errorf("\"MaxDelaySeconds\" %v", err)
		}
		r.maxDelay = float64(n)
	}
	if raw, ok := f["JitterStrategy"]; ok {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil || s != "NONE" {
			// FULL jitter randomises the delay; not implemented, so
			// refused rather than silently run without jitter.
			return retrier{}, fmt.Errorf("\"JitterStrategy\" %s is not supported (only NONE)", raw)
		}
	}
	return r, nil
}

func parseCatcher(raw json.RawMessage, last bool) (catcher, error) {
	f, err := object(raw)
	if err != nil {
		return catcher{}, fmt.Errorf("a catcher must be an object")
	}
	if err := allowedPlain(f, "ErrorEquals", "ResultPath", "Next", "Comment"); err != nil {
		return catcher{}, err
	}
	c := catcher{}
	if c.errorEquals, err = parseErrorEquals(f, last); err != nil {
		return catcher{}, err
	}
	if err := json.Unmarshal(f["Next"], &c.next); err != nil || c.next == "" {
		return catcher{}, fmt.Errorf("\"Next\" must name a state")
	}
	if err := parseOptPath(f, "", "ResultPath", &c.resultPath); err != nil {
		return catcher{}, err
	}
	return c, nil
}

func allowedPlain(f map[string]json.RawMessage, names ...string) error {
	for k := range f {
		if !slices.Contains(names, k) {
			return fmt.Errorf("field %q is not supported (supported: %s)", k, strings.Join(names, ", "))
		}
	}
	return nil
}

func (p *parser) task(st *state, f map[string]json.RawMessage) error {
	var res string
	if err := json.Unmarshal(f["Resource"], &res); err != nil || res == "" {
		return fieldErr(st.name, "Resource", "must be a non-empty string")
	}
	switch {
	case res == ResourceLambdaInvoke || res == ResourceLambdaInvokeWait:
		st.integration = lambdaInvoke
		if res == ResourceLambdaInvokeWait {
			st.integration = lambdaInvokeWait
		}
		if st.parameters == nil || st.parameters.kind != tmplObject {
			return fieldErr(st.name, "Parameters", "%s needs Parameters with FunctionName", res)
		}
		fn, ok := st.parameters.staticString("FunctionName")
		if !ok || fn == "" {
			return fieldErr(st.name, "Parameters", "FunctionName must be a static string (not a path)")
		}
		for _, n := range st.parameters.fieldNames() {
			if n != "FunctionName" && n != "Payload" {
				return fieldErr(st.name, "Parameters", "lambda:invoke parameter %q is not supported (only FunctionName and Payload)", n)
			}
		}
		st.target = fn
	case strings.HasPrefix(res, "arn:aws:states:::"):
		return fieldErr(st.name, "Resource", "service integration %q is not supported (only %s and %s)", res, ResourceLambdaInvoke, ResourceLambdaInvokeWait)
	default:
		st.target = res
	}
	p.targets[st.target] = true
	if raw, ok := f["TimeoutSeconds"]; ok {
		n, err := positiveInt(raw)
		if err != nil {
			return fieldErr(st.name, "TimeoutSeconds", "%v", err)
		}
		st.timeout = time.Duration(n) * time.Second
	}
	return nil
}

func (st *state) choice(f map[string]json.RawMessage) error {
	var list []json.RawMessage
	if err := json.Unmarshal(f["Choices"], &list); err != nil || len(list) == 0 {
		return fieldErr(st.name, "Choices", "must be a non-empty array of rules")
	}
	for i, e := range list {
		r, err := compileRule(e, true)
		if err != nil {
			return fieldErr(st.name, "Choices", "[%d]: %v", i, err)
		}
		st.choices = append(st.choices, r)
	}
	if raw, ok := f["Default"]; ok {
		if err := json.Unmarshal(raw, &st.deflt); err != nil || st.deflt == "" {
			return fieldErr(st.name, "Default", "must name a state")
		}
	}
	return nil
}

func (st *state) wait(f map[string]json.RawMessage) error {
	n := 0
	for _, k := range []string{"Seconds", "SecondsPath", "Timestamp", "TimestampPath"} {
		if _, ok := f[k]; ok {
			n++
		}
	}
	if n != 1 {
		return fieldErr(st.name, "Seconds", "a Wait state needs exactly one of Seconds, SecondsPath, Timestamp and TimestampPath")
	}
	if raw, ok := f["Seconds"]; ok {
		v, err := intValue(raw)
		if err != nil || v < 0 {
			return fieldErr(st.name, "Seconds", "must be a non-negative integer")
		}
		st.waitSeconds = &v
	}
	if raw, ok := f["Timestamp"]; ok {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return fieldErr(st.name, "Timestamp", "must be a string")
		}
		t, err := parseTimestamp(s)
		if err != nil {
			return fieldErr(st.name, "Timestamp", "%v", err)
		}
		st.waitTimestamp = &t
	}
	for _, x := range []struct {
		field string
		dst   **path
	}{{"SecondsPath", &st.waitSecondsPath}, {"TimestampPath", &st.waitTimestampPath}} {
		raw, ok := f[x.field]
		if !ok {
			continue
		}
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return fieldErr(st.name, x.field, "must be a path string")
		}
		p, err := parsePath(s)
		if err != nil {
			return fieldErr(st.name, x.field, "%v", err)
		}
		*x.dst = &p
	}
	return nil
}

func (p *parser) mapState(st *state, f map[string]json.RawMessage) error {
	if st.parameters != nil {
		if st.itemSelector != nil {
			return fieldErr(st.name, "Parameters", "give ItemSelector or its legacy name Parameters, not both")
		}
		st.itemSelector, st.parameters = st.parameters, nil
	}
	if err := parseOptPath(f, st.name, "ItemsPath", &st.itemsPath); err != nil {
		return err
	}
	if st.itemsPath.null {
		return fieldErr(st.name, "ItemsPath", "must be a path")
	}
	if raw, ok := f["MaxConcurrency"]; ok {
		n, err := intValue(raw)
		if err != nil || n < 0 {
			return fieldErr(st.name, "MaxConcurrency", "must be a non-negative integer")
		}
		st.maxConcurrency = int(n)
	}
	field := "ItemProcessor"
	raw, hasProc := f["ItemProcessor"]
	rawIt, hasIt := f["Iterator"]
	switch {
	case hasProc && hasIt:
		return fieldErr(st.name, "Iterator", "give ItemProcessor or its legacy name Iterator, not both")
	case hasIt:
		field, raw = "Iterator", rawIt
	case !hasProc:
		return fieldErr(st.name, "ItemProcessor", "a Map state needs ItemProcessor")
	}
	pf, err := object(raw)
	if err != nil {
		return fieldErr(st.name, field, "must be an object")
	}
	names := []string{"StartAt", "States", "Comment"}
	if field == "ItemProcessor" {
		names = append(names, "ProcessorConfig")
	}
	if err := allowedPlain(pf, names...); err != nil {
		return fieldErr(st.name, field, "%v", err)
	}
	if raw, ok := pf["ProcessorConfig"]; ok {
		var pc map[string]json.RawMessage
		if err := json.Unmarshal(raw, &pc); err != nil {
			return fieldErr(st.name, field, "ProcessorConfig must be an object")
		}
		for k, v := range pc {
			var s string
			_ = json.Unmarshal(v, &s)
			if k != "Mode" || s != "INLINE" {
				return fieldErr(st.name, field, "ProcessorConfig %s %s is not supported (only Mode INLINE)", k, v)
			}
		}
	}
	st.processor, err = p.graph(pf, st.name+"."+field+".")
	return err
}
