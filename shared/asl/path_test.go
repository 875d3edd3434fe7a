package asl

import (
	"strings"
	"testing"
)

func mustDecode(t *testing.T, s string) any {
	t.Helper()
	v, err := decodeJSON([]byte(s))
	if err != nil {
		t.Fatalf("decode %s: %v", s, err)
	}
	return v
}

func TestPathGet(t *testing.T) {
	doc := `{"a":{"b":[10,{"c":"x"}],"k y":true,"n":null},"list":[1,2]}`
	ctx := `{"Execution":{"Name":"e1"},"Map":{"Item":{"Index":3}}}`
	tests := []struct {
		path  string
		want  string // JSON; "" for no value
		isCtx bool
	}{
		{path: "$", want: doc},
		{path: "$.a.b[0]", want: `10`},
		{path: "$.a.b[1].c", want: `"x"`},
		{path: "$['a']['k y']", want: `true`},
		{path: `$["a"].n`, want: `null`},
		{path: "$.list[2]", want: ""},
		{path: "$.a.b.c", want: ""},
		{path: "$.missing", want: ""},
		{path: "$$.Execution.Name", want: `"e1"`, isCtx: true},
		{path: "$$.Map.Item.Index", want: `3`, isCtx: true},
		{path: "$$.Task.Token", want: "", isCtx: true},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			p, err := parsePath(tt.path)
			if err != nil {
				t.Fatalf("parse: %v", err)
			}
			if p.context != tt.isCtx {
				t.Fatalf("context = %v", p.context)
			}
			v, ok := p.get(mustDecode(t, doc), mustDecode(t, ctx))
			if tt.want == "" {
				if ok {
					t.Fatalf("got %s, want no value", mustEncode(v))
				}
				return
			}
			if !ok || !equalValues(v, mustDecode(t, tt.want)) {
				t.Fatalf("got %s (%v), want %s", mustEncode(v), ok, tt.want)
			}
		})
	}
}

func TestPathRefused(t *testing.T) {
	for _, s := range []string{"a.b", "$..a", "$.a[*]", "$.a[?(@.x)]", "$.a[0:2]", "$.*", "$.a[-1]", "$['a", "$.a b", "$[x]"} {
		t.Run(s, func(t *testing.T) {
			if _, err := parsePath(s); err == nil {
				t.Fatalf("parsePath(%q) succeeded", s)
			}
		})
	}
}

func TestResultPath(t *testing.T) {
	tests := []struct {
		name, raw, path, result, want string
		null                          bool
		failName                      string
	}{
		{name: "absent replaces", raw: `{"a":1}`, result: `{"r":2}`, want: `{"r":2}`},
		{name: "null discards", raw: `{"a":1}`, null: true, result: `{"r":2}`, want: `{"a":1}`},
		{name: "root replaces", raw: `{"a":1}`, path: "$", result: `5`, want: `5`},
		{name: "new field", raw: `{"a":1}`, path: "$.r", result: `2`, want: `{"a":1,"r":2}`},
		{name: "creates objects", raw: `{"a":1}`, path: "$.x.y", result: `2`, want: `{"a":1,"x":{"y":2}}`},
		{name: "overwrites null", raw: `{"failure":null}`, path: "$.failure", result: `{"Error":"E"}`, want: `{"failure":{"Error":"E"}}`},
		{name: "into array", raw: `{"l":[1,2]}`, path: "$.l[1]", result: `9`, want: `{"l":[1,9]}`},
		{name: "string in the way", raw: `{"a":"s"}`, path: "$.a.b", result: `1`, failName: ErrResultPathMatch},
		{name: "input not an object", raw: `[1]`, path: "$.a", result: `1`, failName: ErrResultPathMatch},
		{name: "past array end", raw: `{"l":[]}`, path: "$.l[0]", result: `1`, failName: ErrResultPathMatch},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := optPath{set: tt.path != "" || tt.null, null: tt.null}
			if tt.path != "" {
				p, err := parsePath(tt.path)
				if err != nil {
					t.Fatal(err)
				}
				o.p = p
			}
			raw := mustDecode(t, tt.raw)
			before := string(mustEncode(raw))
			got, serr := o.applyResult(raw, mustDecode(t, tt.result))
			if tt.failName != "" {
				if serr == nil || serr.Name != tt.failName {
					t.Fatalf("got %v, want %s", serr, tt.failName)
				}
				return
			}
			if serr != nil {
				t.Fatal(serr)
			}
			if !equalValues(got, mustDecode(t, tt.want)) {
				t.Fatalf("got %s, want %s", mustEncode(got), tt.want)
			}
			if after := string(mustEncode(raw)); after != before {
				t.Fatalf("the input changed: %s -> %s", before, after)
			}
		})
	}
}

func TestInputOutputPath(t *testing.T) {
	doc := `{"a":{"b":1}}`
	tests := []struct {
		name   string
		o      optPath
		want   string
		failed bool
	}{
		{name: "absent", o: optPath{}, want: doc},
		{name: "null gives {}", o: optPath{set: true, null: true}, want: `{}`},
		{name: "path", o: optPath{set: true, p: path{raw: "$.a", segs: []seg{{name: "a"}}}}, want: `{"b":1}`},
		{name: "missing is States.Runtime", o: optPath{set: true, p: path{raw: "$.x", segs: []seg{{name: "x"}}}}, failed: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, serr := tt.o.apply("InputPath", mustDecode(t, doc), nil)
			if tt.failed {
				if serr == nil || serr.Name != ErrRuntime || !strings.Contains(serr.Cause, "$.x") {
					t.Fatalf("got %v", serr)
				}
				return
			}
			if serr != nil || !equalValues(got, mustDecode(t, tt.want)) {
				t.Fatalf("got %s %v, want %s", mustEncode(got), serr, tt.want)
			}
		})
	}
}
