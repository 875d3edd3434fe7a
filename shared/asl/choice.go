package asl

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"
)

// rule is a Choice Rule: a combination (And, Or, Not) or a comparison of
// Variable with a literal or another path.
type rule struct {
	next string // top-level rules only

	and, or []*rule
	not     *rule

	variable path
	op       string // the operator without its Path suffix
	operand  any    // literal operand
	opPath   *path  // operand path, for the ...Path operators
}

// choiceOperandType gives the operand type of each comparison operator.
func choiceOperandType(op string) (string, bool) {
	switch op {
	case "StringEquals", "StringLessThan", "StringGreaterThan", "StringLessThanEquals", "StringGreaterThanEquals", "StringMatches":
		return "string", true
	case "NumericEquals", "NumericLessThan", "NumericGreaterThan", "NumericLessThanEquals", "NumericGreaterThanEquals":
		return "number", true
	case "BooleanEquals":
		return "boolean", true
	case "TimestampEquals", "TimestampLessThan", "TimestampGreaterThan", "TimestampLessThanEquals", "TimestampGreaterThanEquals":
		return "timestamp", true
	case "IsNull", "IsPresent", "IsNumeric", "IsString", "IsBoolean", "IsTimestamp":
		return "boolean", true
	}
	return "", false
}

// hasPathVariant reports the operators that also exist as "...Path".
func hasPathVariant(op string) bool {
	t, ok := choiceOperandType(op)
	return ok && op != "StringMatches" && !strings.HasPrefix(op, "Is") && t != ""
}

// compileRule parses one rule; top says whether it is a Choices element
// (which must have Next) or nested (which must not).
func compileRule(raw json.RawMessage, top bool) (*rule, error) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil {
		return nil, fmt.Errorf("a choice rule must be an object: %w", err)
	}
	r := &rule{}
	if n, ok := fields["Next"]; ok {
		if !top {
			return nil, fmt.Errorf("field \"Next\" is only allowed in a top-level choice rule")
		}
		if err := json.Unmarshal(n, &r.next); err != nil || r.next == "" {
			return nil, fmt.Errorf("field \"Next\" must be a state name")
		}
	} else if top {
		return nil, fmt.Errorf("a top-level choice rule needs \"Next\"")
	}
	var ops []string
	for k := range fields {
		switch k {
		case "Next", "Comment", "Variable":
			continue
		}
		ops = append(ops, k)
	}
	sort.Strings(ops)
	if len(ops) != 1 {
		if len(ops) == 0 {
			return nil, fmt.Errorf("a choice rule needs one operator (And, Or, Not or a comparison)")
		}
		return nil, fmt.Errorf("a choice rule takes one operator, got %s", strings.Join(ops, ", "))
	}
	op := ops[0]
	val := fields[op]
	_, hasVar := fields["Variable"]
	switch op {
	case "And", "Or":
		if hasVar {
			return nil, fmt.Errorf("%s takes no \"Variable\"", op)
		}
		var list []json.RawMessage
		if err := json.Unmarshal(val, &list); err != nil || len(list) == 0 {
			return nil, fmt.Errorf("%s must be a non-empty array of rules", op)
		}
		for i, e := range list {
			sub, err := compileRule(e, false)
			if err != nil {
				return nil, fmt.Errorf("%s[%d]: %w", op, i, err)
			}
			if op == "And" {
				r.and = append(r.and, sub)
			} else {
				r.or = append(r.or, sub)
			}
		}
		return r, nil
	case "Not":
		if hasVar {
			return nil, fmt.Errorf("Not takes no \"Variable\"")
		}
		sub, err := compileRule(val, false)
		if err != nil {
			return nil, fmt.Errorf("Not: %w", err)
		}
		r.not = sub
		return r, nil
	}
	base := op
	isPath := false
	if strings.HasSuffix(op, "Path") {
		base = strings.TrimSuffix(op, "Path")
		isPath = true
	}
	typ, ok := choiceOperandType(base)
	if !ok || (isPath && !hasPathVariant(base)) {
		return nil, fmt.Errorf("choice operator %q is not supported", op)
	}
	if !hasVar {
		return nil, fmt.Errorf("%s needs \"Variable\"", op)
	}
	var vs string
	if err := json.Unmarshal(fields["Variable"], &vs); err != nil {
		return nil, fmt.Errorf("\"Variable\" must be a path string")
	}
	vp, err := parsePath(vs)
	if err != nil {
		return nil, fmt.Errorf("\"Variable\": %w", err)
	}
	r.variable, r.op = vp, base
	if isPath {
		var ps string
		if err := json.Unmarshal(val, &ps); err != nil {
			return nil, fmt.Errorf("%s must be a path string", op)
		}
		pp, err := parsePath(ps)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", op, err)
		}
		r.opPath = &pp
		return r, nil
	}
	lit, err := decodeJSON(val)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	switch typ {
	case "string":
		if _, ok := lit.(string); !ok {
			return nil, fmt.Errorf("%s takes a string", op)
		}
	case "number":
		if _, ok := lit.(json.Number); !ok {
			return nil, fmt.Errorf("%s takes a number", op)
		}
	case "boolean":
		if _, ok := lit.(bool); !ok {
			return nil, fmt.Errorf("%s takes a boolean", op)
		}
	case "timestamp":
		s, ok := lit.(string)
		if !ok {
			return nil, fmt.Errorf("%s takes a timestamp string", op)
		}
		if _, err := parseTimestamp(s); err != nil {
			return nil, fmt.Errorf("%s: %w", op, err)
		}
	}
	r.operand = lit
	return r, nil
}

// eval evaluates the rule against the Choice state's effective input. And
// and Or stop at the first deciding rule, so an IsPresent guard protects
// the comparisons after it. A comparison whose Variable (or operand path)
// has no value is States.Runtime, as in Step Functions; one whose value
// has another type is simply false.
func (r *rule) eval(doc, ctx any) (bool, *Error) {
	switch {
	case r.and != nil:
		for _, s := range r.and {
			ok, err := s.eval(doc, ctx)
			if err != nil || !ok {
				return false, err
			}
		}
		return true, nil
	case r.or != nil:
		for _, s := range r.or {
			ok, err := s.eval(doc, ctx)
			if err != nil || ok {
				return ok, err
			}
		}
		return false, nil
	case r.not != nil:
		ok, err := r.not.eval(doc, ctx)
		return !ok && err == nil, err
	}
	v, present := r.variable.get(doc, ctx)
	if r.op == "IsPresent" {
		return present == r.operand.(bool), nil
	}
	if !present {
		return false, runtimeErr("invalid path %s: the choice state's condition path references an invalid value", r.variable.raw)
	}
	operand := r.operand
	if r.opPath != nil {
		o, ok := r.opPath.get(doc, ctx)
		if !ok {
			return false, runtimeErr("invalid path %s: the choice state's condition path references an invalid value", r.opPath.raw)
		}
		operand = o
	}
	switch r.op {
	case "IsNull":
		return (v == nil) == operand.(bool), nil
	case "IsString":
		_, ok := v.(string)
		return ok == operand.(bool), nil
	case "IsNumeric":
		_, ok := v.(json.Number)
		return ok == operand.(bool), nil
	case "IsBoolean":
		_, ok := v.(bool)
		return ok == operand.(bool), nil
	case "IsTimestamp":
		s, ok := v.(string)
		if ok {
			_, err := parseTimestamp(s)
			ok = err == nil
		}
		return ok == operand.(bool), nil
	case "BooleanEquals":
		a, ok1 := v.(bool)
		b, ok2 := operand.(bool)
		return ok1 && ok2 && a == b, nil
	case "StringMatches":
		a, ok1 := v.(string)
		b, ok2 := operand.(string)
		return ok1 && ok2 && wildcardMatch(b, a), nil
	}
	c, ok := compare(r.op, v, operand)
	if !ok {
		return false, nil
	}
	switch {
	case strings.HasSuffix(r.op, "LessThanEquals"):
		return c <= 0, nil
	case strings.HasSuffix(r.op, "GreaterThanEquals"):
		return c >= 0, nil
	case strings.HasSuffix(r.op, "LessThan"):
		return c < 0, nil
	case strings.HasSuffix(r.op, "GreaterThan"):
		return c > 0, nil
	}
	return c == 0, nil
}

// compare orders v against the operand in the operator's type; ok is false
// when either is not of that type.
func compare(op string, v, operand any) (int, bool) {
	switch {
	case strings.HasPrefix(op, "String"):
		a, ok1 := v.(string)
		b, ok2 := operand.(string)
		if !ok1 || !ok2 {
			return 0, false
		}
		return strings.Compare(a, b), true
	case strings.HasPrefix(op, "Numeric"):
		a, ok1 := v.(json.Number)
		b, ok2 := operand.(json.Number)
		if !ok1 || !ok2 {
			return 0, false
		}
		ra, ok1 := numberRat(a)
		rb, ok2 := numberRat(b)
		if !ok1 || !ok2 {
			return 0, false
		}
		return ra.Cmp(rb), true
	case strings.HasPrefix(op, "Timestamp"):
		a, ok1 := v.(string)
		b, ok2 := operand.(string)
		if !ok1 || !ok2 {
			return 0, false
		}
		ta, err1 := parseTimestamp(a)
		tb, err2 := parseTimestamp(b)
		if err1 != nil || err2 != nil {
			return 0, false
		}
		return ta.Compare(tb), true
	}
	return 0, false
}

// wildcardMatch implements StringMatches: * matches any run of characters,
// \* a literal star and \\ a literal backslash.
func wildcardMatch(pattern, s string) bool {
	type tok struct {
		star bool
		lit  string
	}
	var toks []tok
	var cur strings.Builder
	for i := 0; i < len(pattern); i++ {
		switch {
		case pattern[i] == '\\' && i+1 < len(pattern):
			i++
			cur.WriteByte(pattern[i])
		case pattern[i] == '*':
			toks = append(toks, tok{lit: cur.String()}, tok{star: true})
			cur.Reset()
		default:
			cur.WriteByte(pattern[i])
		}
	}
	toks = append(toks, tok{lit: cur.String()})
	// Greedy matching with backtracking to the last star is enough for
	// patterns made only of literals and stars.
	var match func(ti int, s string) bool
	match = func(ti int, s string) bool {
		if ti == len(toks) {
			return s == ""
		}
		t := toks[ti]
		if !t.star {
			if !strings.HasPrefix(s, t.lit) {
				return false
			}
			return match(ti+1, s[len(t.lit):])
		}
		for i := 0; i <= len(s); i++ {
			if match(ti+1, s[i:]) {
				return true
			}
		}
		return false
	}
	return match(0, s)
}

// parseTimestamp accepts RFC 3339 timestamps, as Step Functions does.
func parseTimestamp(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is not an RFC 3339 timestamp", s)
	}
	return t, nil
}
