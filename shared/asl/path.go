package asl

import (
	"fmt"
	"strconv"
	"strings"
)

// path is a reference path: $ or $$ followed by field names (.name or
// ['name']) and array indexes ([0]). That is the subset Step Functions
// allows in ResultPath and the one the definitions here use everywhere;
// wildcards, filters, slices and recursive descent are refused at Parse
// rather than evaluated wrongly.
type path struct {
	raw     string
	context bool // $$: the context object
	segs    []seg
}

type seg struct {
	name  string
	index int // when isIndex
	isIdx bool
}

func (p path) String() string { return p.raw }

// root reports the path "$" (or "$$"): the whole document.
func (p path) root() bool { return len(p.segs) == 0 }

func parsePath(s string) (path, error) {
	p := path{raw: s}
	switch {
	case strings.HasPrefix(s, "$$"):
		p.context = true
		s = s[2:]
	case strings.HasPrefix(s, "$"):
		s = s[1:]
	default:
		return path{}, fmt.Errorf("path %q does not start with $", p.raw)
	}
	for len(s) > 0 {
		switch s[0] {
		case '.':
			s = s[1:]
			end := strings.IndexAny(s, ".[")
			if end < 0 {
				end = len(s)
			}
			name := s[:end]
			if name == "" {
				return path{}, fmt.Errorf("path %q: empty field name (recursive descent .. is not supported)", p.raw)
			}
			if strings.ContainsAny(name, "*@?,:()'\"] \t\n") {
				return path{}, fmt.Errorf("path %q: field %q: wildcards, filters and expressions are not supported", p.raw, name)
			}
			p.segs = append(p.segs, seg{name: name})
			s = s[end:]
		case '[':
			end := strings.IndexByte(s, ']')
			if end < 0 {
				return path{}, fmt.Errorf("path %q: unclosed [", p.raw)
			}
			inner := s[1:end]
			if len(inner) >= 2 && (inner[0] == '\'' || inner[0] == '"') {
				q := inner[0]
				// Find the closing quote: the first ']' might be inside
				// the quoted name.
				closeQ := strings.IndexByte(s[2:], q)
				if closeQ < 0 {
					return path{}, fmt.Errorf("path %q: unclosed quote", p.raw)
				}
				name := s[2 : 2+closeQ]
				rest := s[2+closeQ+1:]
				if !strings.HasPrefix(rest, "]") {
					return path{}, fmt.Errorf("path %q: expected ] after quoted name", p.raw)
				}
				if strings.ContainsRune(name, '\\') {
					return path{}, fmt.Errorf("path %q: escapes in quoted names are not supported", p.raw)
				}
				p.segs = append(p.segs, seg{name: name})
				s = rest[1:]
				continue
			}
			i, err := strconv.Atoi(inner)
			if err != nil || i < 0 || strings.HasPrefix(inner, "+") {
				return path{}, fmt.Errorf("path %q: [%s]: only non-negative indexes and quoted names are supported", p.raw, inner)
			}
			p.segs = append(p.segs, seg{index: i, isIdx: true})
			s = s[end+1:]
		default:
			return path{}, fmt.Errorf("path %q: unexpected %q", p.raw, s[0])
		}
	}
	return p, nil
}

// get evaluates the path against the document or the context object.
func (p path) get(doc, ctx any) (any, bool) {
	v := doc
	if p.context {
		v = ctx
	}
	for _, s := range p.segs {
		if s.isIdx {
			a, ok := v.([]any)
			if !ok || s.index >= len(a) {
				return nil, false
			}
			v = a[s.index]
			continue
		}
		m, ok := v.(map[string]any)
		if !ok {
			return nil, false
		}
		v, ok = m[s.name]
		if !ok {
			return nil, false
		}
	}
	return v, true
}

// set returns doc with the value at the path replaced, creating missing
// objects on the way. It copies what it changes: doc itself is not
// modified. A path through a non-object (or past an array's end) is
// States.ResultPathMatchFailure, as Step Functions reports it.
func (p path) set(doc, v any) (any, *Error) {
	if p.context {
		return nil, &Error{Name: ErrResultPathMatch, Cause: fmt.Sprintf("ResultPath %s cannot address the context object", p.raw)}
	}
	if p.root() {
		return v, nil
	}
	return setSegs(doc, p.segs, v, p.raw)
}

func setSegs(doc any, segs []seg, v any, raw string) (any, *Error) {
	if len(segs) == 0 {
		return v, nil
	}
	s := segs[0]
	fail := func() (any, *Error) {
		return nil, &Error{Name: ErrResultPathMatch, Cause: fmt.Sprintf(
			"unable to apply ResultPath %s to the state's input: a %s is in the way", raw, typeName(doc))}
	}
	if s.isIdx {
		a, ok := doc.([]any)
		if !ok || s.index >= len(a) {
			return fail()
		}
		c := append([]any(nil), a...)
		nv, err := setSegs(c[s.index], segs[1:], v, raw)
		if err != nil {
			return nil, err
		}
		c[s.index] = nv
		return c, nil
	}
	var m map[string]any
	switch x := doc.(type) {
	case map[string]any:
		m = make(map[string]any, len(x)+1)
		for k, e := range x {
			m[k] = e
		}
	default:
		// Only missing fields are created; a null, a string or an array
		// where an object should be is in the way.
		return fail()
	}
	child, ok := m[s.name]
	if !ok {
		child = map[string]any{}
	}
	nv, err := setSegs(child, segs[1:], v, raw)
	if err != nil {
		return nil, err
	}
	m[s.name] = nv
	return m, nil
}

// optPath is a path field that may be absent (default $) or null.
type optPath struct {
	set  bool // the field is present
	null bool // its value is null
	p    path
}

// apply is InputPath/OutputPath: absent passes everything, null passes {},
// a path selects (a missing one is States.Runtime).
func (o optPath) apply(field string, doc, ctx any) (any, *Error) {
	switch {
	case !o.set:
		return doc, nil
	case o.null:
		return map[string]any{}, nil
	}
	v, ok := o.p.get(doc, ctx)
	if !ok {
		return nil, runtimeErr("invalid %s %s: no value there in the state's %s", field, o.p.raw, pathSubject(field))
	}
	return v, nil
}

func pathSubject(field string) string {
	if field == "OutputPath" {
		return "output"
	}
	return "input"
}

// applyResult is ResultPath: absent replaces the input with the result,
// null discards the result, a path places it inside a copy of the input.
func (o optPath) applyResult(raw, result any) (any, *Error) {
	switch {
	case !o.set:
		return result, nil
	case o.null:
		return raw, nil
	}
	return o.p.set(raw, result)
}
