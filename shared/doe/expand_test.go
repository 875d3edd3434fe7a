package doe

import (
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"testing"
)

func param(name, gen, settings string) Variable {
	return Variable{Name: name, VariableType: "Param", GeneratorType: gen, Settings: json.RawMessage(settings)}
}

// column returns the display values of one variable across runs.
func column(runs []Run, name string) []string {
	var out []string
	for _, r := range runs {
		for _, v := range r.Values {
			if v.Name == name {
				out = append(out, v.DisplayValue)
			}
		}
	}
	return out
}

func TestExpandDeterministic(t *testing.T) {
	tests := []struct {
		name     string
		gen, set string
		want     []string
	}{
		{"SDK example", "FixedRange", `{"minvalue": 1, "maxvalue": 10, "increment": 1}`,
			[]string{"1", "2", "3", "4", "5", "6", "7", "8", "9", "10"}},
		{"tenths without float noise", "FixedRange", `{"minvalue": 0, "maxvalue": 0.5, "increment": 0.1}`,
			[]string{"0", "0.1", "0.2", "0.3", "0.4", "0.5"}},
		{"through zero", "FixedRange", `{"minvalue": -0.3, "maxvalue": 0.3, "increment": 0.1}`,
			[]string{"-0.3", "-0.2", "-0.1", "0", "0.1", "0.2", "0.3"}},
		{"max not on a step", "FixedRange", `{"minvalue": 0, "maxvalue": 1, "increment": 0.4}`,
			[]string{"0", "0.4", "0.8"}},
		{"min equals max", "FixedRange", `{"minvalue": 2, "maxvalue": 2, "increment": 1}`, []string{"2"}},
		{"strings and aliases", "fixedrange", `{"MinValue": "1", "max": " 3 ", "step": "1"}`, []string{"1", "2", "3"}},
		{"large", "FixedRange", `{"minvalue": 0, "maxvalue": 2e6, "increment": 1e6}`, []string{"0", "1000000", "2000000"}},
		{"small", "FixedRange", `{"minvalue": 1e-7, "maxvalue": 3e-7, "increment": 1e-7}`, []string{"1e-07", "2e-07", "3e-07"}},
		{"linspace", "Linspace", `{"minvalue": 0, "maxvalue": 1, "count": 5}`, []string{"0", "0.25", "0.5", "0.75", "1"}},
		{"linspace thirds", "Linspace", `{"minvalue": 1, "maxvalue": 2, "numberOfValues": 4}`,
			[]string{"1", "1.33333333333", "1.66666666667", "2"}},
		{"linspace tenths", "Linspace", `{"minvalue": 1, "maxvalue": 2, "count": 11}`,
			[]string{"1", "1.1", "1.2", "1.3", "1.4", "1.5", "1.6", "1.7", "1.8", "1.9", "2"}},
		{"linspace descending", "Linspace", `{"minvalue": 1, "maxvalue": -1, "count": 3}`, []string{"1", "0", "-1"}},
		{"linspace one", "Linspace", `{"minvalue": 7, "maxvalue": 9, "count": "1"}`, []string{"7"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			runs, err := Expand([]Variable{param("x", tt.gen, tt.set)}, 0, 0, false)
			if err != nil {
				t.Fatal(err)
			}
			if got := column(runs, "x"); !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
			for i, r := range runs {
				if r.Index != i+1 || r.Type != RunTypeCase || r.Nominal {
					t.Fatalf("run %+v", r)
				}
				// Value is exactly the number DisplayValue spells.
				if v, ok := parseNumber(r.Values[0].DisplayValue); !ok || v != r.Values[0].Value {
					t.Fatalf("run %d: %+v", r.Index, r.Values[0])
				}
			}
		})
	}
}

func TestExpandFactorial(t *testing.T) {
	vars := []Variable{
		param("y", "Linspace", `{"minvalue": 10, "maxvalue": 30, "count": 3}`),
		param("x", "FixedRange", `{"minvalue": 1, "maxvalue": 3, "increment": 1}`),
		{Name: "Cd", VariableType: "Output"},
	}
	vars[0].DisplayOrder, vars[1].DisplayOrder, vars[2].DisplayOrder = 2, 1, 3
	runs, err := Expand(vars, 0, 0, false)
	if err != nil {
		t.Fatal(err)
	}
	want := [][]string{
		{"x=1", "y=10"}, {"x=1", "y=20"}, {"x=1", "y=30"},
		{"x=2", "y=10"}, {"x=2", "y=20"}, {"x=2", "y=30"},
		{"x=3", "y=10"}, {"x=3", "y=20"}, {"x=3", "y=30"},
	}
	if got := table(runs); !reflect.DeepEqual(got, want) {
		t.Fatalf("got %q", got)
	}
	// Three variables multiply too.
	vars = append(vars, param("z", "FixedRange", `{"minvalue": 0, "maxvalue": 1, "increment": 1}`))
	runs, err = Expand(vars, 0, 0, false)
	if err != nil || len(runs) != 18 {
		t.Fatalf("%d runs, %v", len(runs), err)
	}
}

func TestExpandTypes(t *testing.T) {
	vars := []Variable{
		{Name: "p", VariableType: "Param", GeneratorType: "FixedRange", Settings: json.RawMessage(`{"minvalue":1,"maxvalue":2,"increment":1}`)},
		{Name: "d", VariableType: "design", GeneratorType: "FixedRange", Settings: json.RawMessage(`{"minvalue":1,"maxvalue":2,"increment":1}`)},
		{Name: "c", VariableType: "Case", GeneratorType: "FixedRange", Settings: json.RawMessage(`{"minvalue":1,"maxvalue":2,"increment":1}`)},
		// Results generate nothing, whatever their generator says.
		{Name: "o", VariableType: "Output", GeneratorType: "Bogus", Settings: json.RawMessage(`[1]`)},
		{Name: "k", VariableType: "Constraint"},
		{Name: "j", VariableType: "Objective"},
	}
	runs, err := Expand(vars, 0, 0, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != 8 || len(runs[0].Values) != 3 {
		t.Fatalf("got %q", table(runs))
	}
	if got := Responses(vars); !reflect.DeepEqual(got, []string{"o", "k", "j"}) {
		t.Fatalf("Responses = %q", got)
	}
}

func draws(t *testing.T, gen, set string, n int, seed uint64) []float64 {
	t.Helper()
	runs, err := Expand([]Variable{param("x", gen, set)}, n, seed, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != n {
		t.Fatalf("%d runs, want %d", len(runs), n)
	}
	out := make([]float64, n)
	for i, r := range runs {
		out[i] = r.Values[0].Value
		if v, ok := parseNumber(r.Values[0].DisplayValue); !ok || v != out[i] {
			t.Fatalf("run %d: %+v", r.Index, r.Values[0])
		}
	}
	return out
}

func meanSD(xs []float64) (float64, float64) {
	var s, s2 float64
	for _, x := range xs {
		s += x
	}
	m := s / float64(len(xs))
	for _, x := range xs {
		s2 += (x - m) * (x - m)
	}
	return m, math.Sqrt(s2 / float64(len(xs)-1))
}

func TestExpandRandom(t *testing.T) {
	const n = 10000
	tests := []struct {
		gen, set       string
		lo, hi         float64 // every draw within
		mean, sd       float64 // of the distribution
		tolMean, tolSD float64
	}{
		{"Uniform", `{"minvalue": 2, "maxvalue": 4}`, 2, 4, 3, 2 / math.Sqrt(12), 0.03, 0.02},
		{"Normal", `{"mean": 10, "stddev": 2}`, -math.MaxFloat64, math.MaxFloat64, 10, 2, 0.06, 0.05},
		{"Normal", `{"mean": "-1", "sigma": "0.5"}`, -math.MaxFloat64, math.MaxFloat64, -1, 0.5, 0.015, 0.015},
		{"Triangular", `{"minvalue": 0, "mode": 1, "maxvalue": 4}`, 0, 4, 5.0 / 3, math.Sqrt((0 + 1 + 16 - 0 - 0 - 4) / 18.0), 0.03, 0.03},
		{"Triangular", `{"minvalue": 0, "mode": 0, "maxvalue": 1}`, 0, 1, 1.0 / 3, math.Sqrt(1 / 18.0), 0.01, 0.01},
		{"LogNormal", `{"mean": 10, "stddev": 2}`, 0, math.MaxFloat64, 10, 2, 0.06, 0.08},
	}
	for _, tt := range tests {
		t.Run(tt.gen+tt.set, func(t *testing.T) {
			xs := draws(t, tt.gen, tt.set, n, 42)
			for _, x := range xs {
				if x < tt.lo || x > tt.hi {
					t.Fatalf("draw %v outside [%v, %v]", x, tt.lo, tt.hi)
				}
			}
			m, sd := meanSD(xs)
			if math.Abs(m-tt.mean) > tt.tolMean || math.Abs(sd-tt.sd) > tt.tolSD {
				t.Fatalf("mean %v sd %v, want %v %v", m, sd, tt.mean, tt.sd)
			}
		})
	}
}

func TestExpandSeed(t *testing.T) {
	vars := []Variable{
		param("a", "Normal", `{"mean": 0, "stddev": 1}`),
		param("b", "Uniform", `{"minvalue": 0, "maxvalue": 1}`),
		param("c", "FixedRange", `{"minvalue": 1, "maxvalue": 2, "increment": 1}`),
	}
	one, err := Expand(vars, 50, 7, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(one) != 100 {
		t.Fatalf("%d runs, want 2 × 50", len(one))
	}
	two, _ := Expand(vars, 50, 7, false)
	if !reflect.DeepEqual(one, two) {
		t.Fatal("the same seed gave different runs")
	}
	other, _ := Expand(vars, 50, 8, false)
	if reflect.DeepEqual(column(one, "a"), column(other, "a")) || reflect.DeepEqual(column(one, "b"), column(other, "b")) {
		t.Fatal("seeds 7 and 8 gave the same draws")
	}
	// Each run draws afresh: no two runs share a value.
	seen := map[string]bool{}
	for _, v := range column(one, "a") {
		if seen[v] {
			t.Fatalf("draw %s repeats", v)
		}
		seen[v] = true
	}
	// Deterministic values repeat per Monte Carlo iteration, slowest first.
	c := column(one, "c")
	if c[0] != "1" || c[49] != "1" || c[50] != "2" || c[99] != "2" {
		t.Fatalf("c = %q", c)
	}
	// The nominal run takes no draws: the others are unchanged.
	withNominal, _ := Expand(vars, 50, 7, true)
	if !reflect.DeepEqual(withNominal[:100], one) {
		t.Fatal("includeNominalRun changed the other runs")
	}
}

// TestExpandSeedGolden pins the values of a seed, so a change in the
// transforms (which would break reproducing recorded jobs) shows.
func TestExpandSeedGolden(t *testing.T) {
	vars := []Variable{
		param("n", "Normal", `{"mean": 0, "stddev": 1}`),
		param("u", "Uniform", `{"minvalue": 0, "maxvalue": 1}`),
		param("t", "Triangular", `{"minvalue": 0, "mode": 1, "maxvalue": 2}`),
		param("l", "LogNormal", `{"mean": 1, "stddev": 0.5}`),
	}
	runs, err := Expand(vars, 2, 12345, false)
	if err != nil {
		t.Fatal(err)
	}
	got := table(runs)
	want := [][]string{
		{"n=-0.7112564842", "u=0.592652272", "t=0.4408344651", "l=0.4359945935"},
		{"n=0.08545094265", "u=0.7514270148", "t=1.124549415", "l=1.003798885"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %#v", got)
	}
}

func TestExpandNominal(t *testing.T) {
	vars := []Variable{
		param("f", "FixedRange", `{"minvalue": 1, "maxvalue": 10, "increment": 1}`),
		param("g", "FixedRange", `{"minvalue": 1, "maxvalue": 10, "increment": 1, "nominal": 4}`),
		param("s", "Linspace", `{"minvalue": 0, "maxvalue": 1, "count": 2, "value": "0.25"}`),
		param("u", "Uniform", `{"minvalue": 2, "maxvalue": 3}`),
		param("n", "Normal", `{"mean": 5, "stddev": 1}`),
		param("t", "Triangular", `{"minvalue": 0, "mode": 0.2, "maxvalue": 1}`),
		param("l", "LogNormal", `{"mean": 3, "stddev": 1, "nominal": null}`),
	}
	runs, err := Expand(vars, 3, 1, true)
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != 10*10*2*3+1 {
		t.Fatalf("%d runs", len(runs))
	}
	last := runs[len(runs)-1]
	if !last.Nominal || last.Index != len(runs) || last.Type != RunTypeCase {
		t.Fatalf("last run %+v", last)
	}
	want := []string{"f=5.5", "g=4", "s=0.25", "u=2.5", "n=5", "t=0.2", "l=3"}
	if got := table([]Run{last}); !reflect.DeepEqual(got[0], want) {
		t.Fatalf("nominal %q, want %q", got[0], want)
	}
	for _, r := range runs[:len(runs)-1] {
		if r.Nominal {
			t.Fatalf("run %d is nominal", r.Index)
		}
	}
}

func TestExpandMaxRuns(t *testing.T) {
	hundred := `{"minvalue": 1, "maxvalue": 100, "increment": 1}`
	runs, err := Expand([]Variable{param("a", "FixedRange", hundred), param("b", "FixedRange", hundred)}, 0, 0, false)
	if err != nil || len(runs) != MaxRuns {
		t.Fatalf("%d runs, %v", len(runs), err)
	}
	_, err = Expand([]Variable{param("a", "FixedRange", hundred), param("b", "FixedRange", hundred)}, 0, 0, true)
	checkField(t, err, "jobvariables", "more than 10000 runs (with the nominal run)")
	_, err = Expand([]Variable{param("a", "FixedRange", hundred), param("b", "FixedRange", hundred), param("c", "FixedRange", `{"minvalue":1,"maxvalue":2,"increment":1}`)}, 0, 0, false)
	checkField(t, err, "jobvariables", "multiply out to more than 10000 runs")
	_, err = Expand([]Variable{param("a", "FixedRange", hundred), param("n", "Normal", `{"mean":0,"stddev":1}`)}, 101, 0, false)
	checkField(t, err, "jobvariables", "times monteCarloIterations make more than 10000 runs")
	_, err = Expand([]Variable{param("n", "Normal", `{"mean":0,"stddev":1}`)}, MaxRuns+1, 0, false)
	checkField(t, err, "monteCarloIterations", "more than 10000 runs")
	// A single huge range is refused before anything is allocated.
	_, err = Expand([]Variable{param("a", "FixedRange", `{"minvalue": 0, "maxvalue": 1e300, "increment": 1e-300}`)}, 0, 0, false)
	checkField(t, err, "jobvariables[0].valueGeneratorSettings.increment", "more than 10000 values")
	_, err = Expand([]Variable{param("a", "Linspace", `{"minvalue": 0, "maxvalue": 1, "count": 1e9}`)}, 0, 0, false)
	checkField(t, err, "jobvariables[0].valueGeneratorSettings.count", "more than 10000 values")
	// Values: runs × variables.
	many := make([]Variable, 200)
	for i := range many {
		many[i] = param(fmt.Sprintf("v%d", i), "Uniform", `{"minvalue":0,"maxvalue":1}`)
	}
	_, err = Expand(many, 5001, 0, false)
	checkField(t, err, "jobvariables", "5001 runs × 200 variables is more than 1000000 values")
}

func TestExpandErrors(t *testing.T) {
	fixed := `{"minvalue": 1, "maxvalue": 2, "increment": 1}`
	tests := []struct {
		name  string
		vars  []Variable
		mc    int
		field string
		want  string
	}{
		{"no inputs", []Variable{{Name: "o", VariableType: "Output"}}, 0, "jobvariables", "no Param, Design or Case variable"},
		{"bad name", []Variable{param("x y", "FixedRange", fixed)}, 0, "jobvariables[0].name", `"x y" is not a variable name`},
		{"empty name", []Variable{param("", "FixedRange", fixed)}, 0, "jobvariables[0].name", `"" is not a variable name`},
		{"duplicate name", []Variable{param("x", "FixedRange", fixed), param("x", "FixedRange", fixed)}, 0, "jobvariables[1].name", `also the name of jobvariables[0]`},
		{"bad type", []Variable{{Name: "x", VariableType: "Input"}}, 0, "jobvariables[0].variableType", `"Input" is not a variable type`},
		{"no generator (paramFile job)", []Variable{{Name: "x", VariableType: "Param", Settings: json.RawMessage(`{}`)}}, 0, "jobvariables[0].valueGeneratorType", "required for Param variable \"x\" without a parameter file"},
		{"bad generator", []Variable{param("x", "Gaussian", `{}`)}, 0, "jobvariables[0].valueGeneratorType", `"Gaussian" is not a generator`},
		{"settings not an object", []Variable{param("x", "FixedRange", `[1,2]`)}, 0, "jobvariables[0].valueGeneratorSettings", "want a JSON object"},
		{"missing max", []Variable{param("x", "FixedRange", `{"minvalue": 1, "increment": 1}`)}, 0, "jobvariables[0].valueGeneratorSettings.maxvalue", "required"},
		{"null max", []Variable{param("x", "FixedRange", `{"minvalue": 1, "maxvalue": null, "increment": 1}`)}, 0, "jobvariables[0].valueGeneratorSettings.maxvalue", "required"},
		{"max not a number", []Variable{param("x", "FixedRange", `{"minvalue": 1, "maxvalue": "ten", "increment": 1}`)}, 0, "jobvariables[0].valueGeneratorSettings.maxvalue", `want a number, got "ten"`},
		{"max bool", []Variable{param("x", "FixedRange", `{"minvalue": 1, "maxvalue": true, "increment": 1}`)}, 0, "jobvariables[0].valueGeneratorSettings.maxvalue", "want a number"},
		{"max out of range", []Variable{param("x", "FixedRange", `{"minvalue": 1, "maxvalue": 1e999, "increment": 1}`)}, 0, "jobvariables[0].valueGeneratorSettings.maxvalue", "want a number"},
		{"max below min", []Variable{param("a", "FixedRange", fixed), param("x", "FixedRange", `{"minvalue": 5, "maxvalue": 1, "increment": 1}`)}, 0, "jobvariables[1].valueGeneratorSettings.maxvalue", "1 is less than minvalue 5"},
		{"key as written", []Variable{param("x", "FixedRange", `{"minvalue": 5, "MAX": 1, "increment": 1}`)}, 0, "jobvariables[0].valueGeneratorSettings.MAX", "less than minvalue"},
		{"zero increment", []Variable{param("x", "FixedRange", `{"minvalue": 1, "maxvalue": 2, "increment": 0}`)}, 0, "jobvariables[0].valueGeneratorSettings.increment", "greater than 0"},
		{"negative increment", []Variable{param("x", "FixedRange", `{"minvalue": 1, "maxvalue": 2, "increment": -1}`)}, 0, "jobvariables[0].valueGeneratorSettings.increment", "greater than 0"},
		{"alias twice", []Variable{param("x", "FixedRange", `{"minvalue": 1, "min": 1, "maxvalue": 2, "increment": 1}`)}, 0, "jobvariables[0].valueGeneratorSettings.min", `both "minvalue" and "min"`},
		{"key twice by case", []Variable{param("x", "FixedRange", `{"minvalue": 1, "MinValue": 1, "maxvalue": 2, "increment": 1}`)}, 0, "jobvariables[0].valueGeneratorSettings", "both"},
		{"linspace fraction", []Variable{param("x", "Linspace", `{"minvalue": 0, "maxvalue": 1, "count": 2.5}`)}, 0, "jobvariables[0].valueGeneratorSettings.count", "whole number"},
		{"linspace zero", []Variable{param("x", "Linspace", `{"minvalue": 0, "maxvalue": 1, "num": 0}`)}, 0, "jobvariables[0].valueGeneratorSettings.num", "at least 1"},
		{"uniform reversed", []Variable{param("x", "Uniform", `{"minvalue": 1, "maxvalue": 0}`)}, 1, "jobvariables[0].valueGeneratorSettings.maxvalue", "less than minvalue"},
		{"normal negative sd", []Variable{param("x", "Normal", `{"mean": 1, "stddev": -1}`)}, 1, "jobvariables[0].valueGeneratorSettings.stddev", "negative"},
		{"normal no mean", []Variable{param("x", "Normal", `{"stddev": 1}`)}, 1, "jobvariables[0].valueGeneratorSettings.mean", "required"},
		{"lognormal zero mean", []Variable{param("x", "LogNormal", `{"mean": 0, "stddev": 1}`)}, 1, "jobvariables[0].valueGeneratorSettings.mean", "greater than 0"},
		{"triangular mode outside", []Variable{param("x", "Triangular", `{"minvalue": 0, "mode": 2, "maxvalue": 1}`)}, 1, "jobvariables[0].valueGeneratorSettings.mode", "outside"},
		{"triangular no mode", []Variable{param("x", "Triangular", `{"minvalue": 0, "maxvalue": 1}`)}, 1, "jobvariables[0].valueGeneratorSettings.mode", "required"},
		{"nominal not a number", []Variable{param("x", "FixedRange", `{"minvalue": 1, "maxvalue": 2, "increment": 1, "nominal": "mid"}`)}, 0, "jobvariables[0].valueGeneratorSettings.nominal", "want a number"},
		{"random without iterations", []Variable{param("a", "FixedRange", fixed), param("x", "Normal", `{"mean": 1, "stddev": 1}`)}, 0, "monteCarloIterations", "required (at least 1): jobvariables[1] uses the random generator Normal"},
		{"negative iterations", []Variable{param("x", "Normal", `{"mean": 1, "stddev": 1}`)}, -1, "monteCarloIterations", "negative"},
		{"draw overflows", []Variable{param("x", "Normal", `{"mean": 1e308, "stddev": 1e308}`)}, 100, "jobvariables[0].valueGeneratorSettings", "not a finite number"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Expand(tt.vars, tt.mc, 0, false)
			checkField(t, err, tt.field, tt.want)
		})
	}
}

func TestExpandIgnoresIterationsWithoutRandom(t *testing.T) {
	runs, err := Expand([]Variable{param("x", "FixedRange", `{"minvalue": 1, "maxvalue": 3, "increment": 1}`)}, 100, 0, false)
	if err != nil || len(runs) != 3 {
		t.Fatalf("%d runs, %v", len(runs), err)
	}
}
