package doe

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"
)

func TestParseOutputs(t *testing.T) {
	in := strings.Join([]string{
		"# solver log",
		"Cd = -0.0187556",
		"Cl: 0.140742",
		"iterations 412",
		"residual,1e-6;",
		"Cdx = 99", // another name
		"  Cl  =  0.2  # later line wins",
		"drag is high", // not a number: ignored
		"lift",         // no value
		"Ratio=3.5e+2", // no spaces
		"unknown = 1",  // not asked for
		"eff = NaN",    // not a decimal number
		"eff = " + strings.Repeat("9", MaxLineBytes), // too long: skipped
		"moment\t-1\r",
	}, "\n")
	names := []string{"Cl", "Cd", "iterations", "residual", "drag", "lift", "Ratio", "eff", "moment", "missing"}
	got, err := ParseOutputs(strings.NewReader(in), names)
	if err != nil {
		t.Fatal(err)
	}
	want := []Value{
		{Name: "Cl", Value: 0.2, DisplayValue: "0.2"},
		{Name: "Cd", Value: -0.0187556, DisplayValue: "-0.0187556"},
		{Name: "iterations", Value: 412, DisplayValue: "412"},
		{Name: "residual", Value: 1e-6, DisplayValue: "0.000001"},
		{Name: "Ratio", Value: 350, DisplayValue: "350"},
		{Name: "moment", Value: -1, DisplayValue: "-1"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got  %+v\nwant %+v", got, want)
	}
	again, err := ParseOutputs(iotest.OneByteReader(strings.NewReader(in)), names)
	if err != nil || !reflect.DeepEqual(again, want) {
		t.Fatalf("one byte at a time: %+v %v", again, err)
	}
	if got, err := ParseOutputs(strings.NewReader(""), names); err != nil || got != nil {
		t.Fatalf("empty: %v %v", got, err)
	}
	boom := errors.New("boom")
	if _, err := ParseOutputs(iotest.ErrReader(boom), names); !errors.Is(err, boom) {
		t.Fatalf("read error: %v", err)
	}
}

func TestSummary(t *testing.T) {
	runs := []Run{
		{Index: 1, Type: RunTypeCase, Values: []Value{{Name: "x", Value: 20, DisplayValue: "20"}, {Name: "d", DisplayValue: "a, \"b\"", Text: "a, \"b\""}}},
		{Index: 2, Type: RunTypeCase, Values: []Value{{Name: "x", Value: 3.5, DisplayValue: "3.5"}, {Name: "d", DisplayValue: "Größe", Text: "Größe"}}},
		{Index: 3, Type: RunTypeCase, Nominal: true, Values: []Value{{Name: "x", Value: 1, DisplayValue: "1"}}},
	}
	outputs := map[int][]Value{
		1: {{Name: "Cd", Value: -0.0187556, DisplayValue: "-0.0187556"}, {Name: "Cl", Value: 0.14, DisplayValue: "0.14"}},
		2: {{Name: "Cl", Value: 0.15, DisplayValue: "0.15"}},
		9: {{Name: "ignored", DisplayValue: "1"}},
	}
	var out bytes.Buffer
	if err := Summary(&out, runs, outputs); err != nil {
		t.Fatal(err)
	}
	want := "run,x,d,Cd,Cl\n" +
		"1,20,\"a, \"\"b\"\"\",-0.0187556,0.14\n" +
		"2,3.5,Größe,,0.15\n" +
		"3,1,,,\n"
	if out.String() != want {
		t.Fatalf("got\n%s\nwant\n%s", out.String(), want)
	}
	// The summary reads back as a parameter file where every value is there.
	out.Reset()
	Summary(&out, runs[:2], map[int][]Value{1: outputs[1], 2: {{Name: "Cd", DisplayValue: "1"}, {Name: "Cl", DisplayValue: "2"}}})
	back, err := ParseParamFile(&out)
	if err != nil || len(back) != 2 || back[0].Values[2].DisplayValue != `a, "b"` {
		t.Fatalf("%v %q", err, table(back))
	}
	// An output replaces a run's value of the same name.
	out.Reset()
	Summary(&out, runs[:1], map[int][]Value{1: {{Name: "x", DisplayValue: "99"}}})
	if out.String() != "run,x,d\n1,99,\"a, \"\"b\"\"\"\n" {
		t.Fatalf("got %q", out.String())
	}
}
