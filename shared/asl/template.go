package asl

import (
	"encoding/json"
	"fmt"
	"strings"
)

// tmpl is a compiled payload template (Parameters, ResultSelector,
// ItemSelector): a JSON value where a field named "x.$" takes its value
// from a path or an intrinsic call and becomes "x".
type tmpl struct {
	lit    any // when neither object nor array nor dynamic
	object []tmplField
	array  []*tmpl
	kind   int
	path   path
	call   *call
	field  string // the "x.$" name, for error causes
}

const (
	tmplLit = iota
	tmplObject
	tmplArray
	tmplPath
	tmplCall
)

type tmplField struct {
	name string
	t    *tmpl
}

func compileTemplate(raw json.RawMessage) (*tmpl, error) {
	v, err := decodeJSON(raw)
	if err != nil {
		return nil, err
	}
	return compileValue(v)
}

func compileValue(v any) (*tmpl, error) {
	switch x := v.(type) {
	case map[string]any:
		t := &tmpl{kind: tmplObject}
		seen := map[string]string{}
		for k, e := range x {
			name := k
			var ft *tmpl
			if strings.HasSuffix(k, ".$") {
				name = strings.TrimSuffix(k, ".$")
				s, ok := e.(string)
				if !ok {
					return nil, fmt.Errorf("field %q: a .$ field takes a path or an intrinsic function, not a %s", k, typeName(e))
				}
				dt, err := compileDynamic(k, s)
				if err != nil {
					return nil, fmt.Errorf("field %q: %w", k, err)
				}
				ft = dt
			} else {
				st, err := compileValue(e)
				if err != nil {
					return nil, fmt.Errorf("field %q: %w", k, err)
				}
				ft = st
			}
			if other, dup := seen[name]; dup {
				return nil, fmt.Errorf("fields %q and %q both give %q", other, k, name)
			}
			seen[name] = k
			t.object = append(t.object, tmplField{name: name, t: ft})
		}
		return t, nil
	case []any:
		t := &tmpl{kind: tmplArray}
		for i, e := range x {
			et, err := compileValue(e)
			if err != nil {
				return nil, fmt.Errorf("[%d]: %w", i, err)
			}
			t.array = append(t.array, et)
		}
		return t, nil
	}
	return &tmpl{kind: tmplLit, lit: v}, nil
}

func compileDynamic(field, s string) (*tmpl, error) {
	switch {
	case strings.HasPrefix(s, "$"):
		p, err := parsePath(s)
		if err != nil {
			return nil, err
		}
		return &tmpl{kind: tmplPath, path: p, field: field}, nil
	case isIntrinsic(s):
		c, err := parseIntrinsic(s)
		if err != nil {
			return nil, err
		}
		return &tmpl{kind: tmplCall, call: c, field: field}, nil
	}
	return nil, fmt.Errorf("%q is neither a path nor an intrinsic function", s)
}

// eval builds the payload. A path with no value is States.Runtime, the
// error Step Functions fails the execution with.
func (t *tmpl) eval(doc, ctx any) (any, *Error) {
	switch t.kind {
	case tmplObject:
		m := make(map[string]any, len(t.object))
		for _, f := range t.object {
			v, err := f.t.eval(doc, ctx)
			if err != nil {
				return nil, err
			}
			m[f.name] = v
		}
		return m, nil
	case tmplArray:
		a := make([]any, len(t.array))
		for i, e := range t.array {
			v, err := e.eval(doc, ctx)
			if err != nil {
				return nil, err
			}
			a[i] = v
		}
		return a, nil
	case tmplPath:
		v, ok := t.path.get(doc, ctx)
		if !ok {
			where := "input"
			if t.path.context {
				where = "context object"
			}
			return nil, runtimeErr("the JSONPath %s specified for the field %q could not be found in the %s", t.path.raw, t.field, where)
		}
		return deepCopy(v), nil
	case tmplCall:
		return t.call.eval(doc, ctx)
	}
	return deepCopy(t.lit), nil
}

// staticString returns a field's value when the template is an object
// whose field is a plain string (as lambda:invoke's FunctionName must be).
func (t *tmpl) staticString(name string) (string, bool) {
	if t == nil || t.kind != tmplObject {
		return "", false
	}
	for _, f := range t.object {
		if f.name == name {
			s, ok := f.t.lit.(string)
			return s, ok && f.t.kind == tmplLit
		}
	}
	return "", false
}

// fieldNames lists an object template's output names (for refusing
// unsupported integration parameters).
func (t *tmpl) fieldNames() []string {
	var out []string
	for _, f := range t.object {
		out = append(out, f.name)
	}
	return out
}
