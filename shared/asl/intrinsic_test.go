package asl

import (
	"regexp"
	"testing"
)

func TestTemplates(t *testing.T) {
	input := `{"runs":[{"id":"a"},{"id":"b"}],"name":"job","n":3,"s":"{\"k\":[1,2]}","obj":{"x":1},"b64":"aGk="}`
	ctx := `{"Execution":{"Name":"e1"},"Task":{"Token":"tok"}}`
	tests := []struct {
		name, tmpl, want string
		failName         string
	}{
		{name: "static and paths", tmpl: `{"a":1,"name.$":"$.name","exec.$":"$$.Execution.Name","nested":{"tok.$":"$$.Task.Token"}}`,
			want: `{"a":1,"name":"job","exec":"e1","nested":{"tok":"tok"}}`},
		{name: "arrays hold templates", tmpl: `{"l":[{"n.$":"$.n"},2]}`, want: `{"l":[{"n":3},2]}`},
		{name: "a .$ name is literal when static", tmpl: `{"x":"$.name"}`, want: `{"x":"$.name"}`},
		{name: "ArrayLength", tmpl: `{"c.$":"States.ArrayLength($.runs)"}`, want: `{"c":2}`},
		{name: "Format", tmpl: `{"m.$":"States.Format('{} has {} runs, {}', $.name, $.n, true)"}`, want: `{"m":"job has 3 runs, true"}`},
		{name: "Format escapes", tmpl: `{"m.$":"States.Format('\\{\\} {} it\\'s', $.name)"}`, want: `{"m":"{} job it's"}`},
		{name: "StringToJson", tmpl: `{"v.$":"States.StringToJson($.s)"}`, want: `{"v":{"k":[1,2]}}`},
		{name: "JsonToString", tmpl: `{"v.$":"States.JsonToString($.obj)"}`, want: `{"v":"{\"x\":1}"}`},
		{name: "Array", tmpl: `{"v.$":"States.Array('a', 1, $.n, null, States.ArrayLength($.runs))"}`, want: `{"v":["a",1,3,null,2]}`},
		{name: "MathAdd", tmpl: `{"v.$":"States.MathAdd($.n, -5)"}`, want: `{"v":-2}`},
		{name: "ArrayGetItem", tmpl: `{"v.$":"States.ArrayGetItem($.runs, 1)"}`, want: `{"v":{"id":"b"}}`},
		{name: "ArrayContains", tmpl: `{"v.$":"States.ArrayContains($.runs, $.runs[0])"}`, want: `{"v":true}`},
		{name: "ArrayRange", tmpl: `{"v.$":"States.ArrayRange(1, 9, 3)"}`, want: `{"v":[1,4,7]}`},
		{name: "ArrayUnique", tmpl: `{"v.$":"States.ArrayUnique(States.Array(1, 1, 2))"}`, want: `{"v":[1,2]}`},
		{name: "Base64", tmpl: `{"d.$":"States.Base64Decode($.b64)","e.$":"States.Base64Encode('hi')"}`, want: `{"d":"hi","e":"aGk="}`},
		{name: "Hash", tmpl: `{"h.$":"States.Hash('abc', 'SHA-256')"}`, want: `{"h":"ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"}`},
		{name: "JsonMerge", tmpl: `{"m.$":"States.JsonMerge($.obj, States.StringToJson('{\"y\":2}'), false)"}`, want: `{"m":{"x":1,"y":2}}`},
		{name: "missing path is States.Runtime", tmpl: `{"v.$":"$.nope"}`, failName: ErrRuntime},
		{name: "missing context path", tmpl: `{"v.$":"$$.Map.Item.Value"}`, failName: ErrRuntime},
		{name: "bad intrinsic argument", tmpl: `{"v.$":"States.ArrayLength($.name)"}`, failName: ErrRuntime},
		{name: "MathAdd of a fraction", tmpl: `{"v.$":"States.MathAdd(1.5, 1)"}`, failName: ErrRuntime},
		{name: "Format arity", tmpl: `{"v.$":"States.Format('{} {}', 1)"}`, failName: ErrRuntime},
	}
	doc, c := mustDecode(t, input), mustDecode(t, ctx)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tm, err := compileTemplate([]byte(tt.tmpl))
			if err != nil {
				t.Fatalf("compile: %v", err)
			}
			got, serr := tm.eval(doc, c)
			if tt.failName != "" {
				if serr == nil || serr.Name != tt.failName {
					t.Fatalf("got %s %v, want %s", mustEncode(got), serr, tt.failName)
				}
				return
			}
			if serr != nil || !equalValues(got, mustDecode(t, tt.want)) {
				t.Fatalf("got %s %v, want %s", mustEncode(got), serr, tt.want)
			}
		})
	}
}

func TestUUID(t *testing.T) {
	tm, err := compileTemplate([]byte(`{"u.$":"States.UUID()"}`))
	if err != nil {
		t.Fatal(err)
	}
	a, _ := tm.eval(nil, nil)
	b, _ := tm.eval(nil, nil)
	u := a.(map[string]any)["u"].(string)
	if !regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`).MatchString(u) {
		t.Fatalf("not a v4 UUID: %s", u)
	}
	if equalValues(a, b) {
		t.Fatalf("two UUIDs are equal: %s", u)
	}
}

func TestTemplatesRefused(t *testing.T) {
	for _, tmpl := range []string{
		`{"v.$":"States.MathRandom(1, 2)"}`,
		`{"v.$":"States.StringSplit('a,b', ',')"}`,
		`{"v.$":"States.ArrayLength($.a, $.b)"}`,
		`{"v.$":"States.JsonMerge($.a, $.b, true)"}`,
		`{"v.$":"States.Format('x'"}`,
		`{"v.$":"jobId"}`,
		`{"v.$":5}`,
		`{"v.$":"$.a[*]"}`,
		`{"v":1,"v.$":"$.a"}`,
		`{"v.$":"States.Format('x') trailing"}`,
	} {
		t.Run(tmpl, func(t *testing.T) {
			if _, err := compileTemplate([]byte(tmpl)); err == nil {
				t.Fatalf("compiled")
			}
		})
	}
}
