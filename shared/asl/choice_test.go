package asl

import (
	"testing"
)

func TestChoiceRules(t *testing.T) {
	input := `{"s":"job-42","n":5,"f":2.5,"b":true,"nul":null,"t":"2024-05-01T10:00:00Z","other":"job-42","limit":5,
		"final":{"failed":false},"list":[1]}`
	tests := []struct {
		rule    string
		want    bool
		runtime bool // evaluates to States.Runtime
	}{
		{rule: `{"Variable":"$.s","StringEquals":"job-42"}`, want: true},
		{rule: `{"Variable":"$.s","StringEquals":"job-43"}`, want: false},
		{rule: `{"Variable":"$.s","StringEqualsPath":"$.other"}`, want: true},
		{rule: `{"Variable":"$.s","StringLessThan":"job-5"}`, want: true},
		{rule: `{"Variable":"$.s","StringGreaterThanEquals":"job-42"}`, want: true},
		{rule: `{"Variable":"$.s","StringMatches":"job-*"}`, want: true},
		{rule: `{"Variable":"$.s","StringMatches":"*-4?"}`, want: false},
		{rule: `{"Variable":"$.s","StringMatches":"job\\*"}`, want: false},
		{rule: `{"Variable":"$.n","StringEquals":"5"}`, want: false}, // another type: false, not an error
		{rule: `{"Variable":"$.n","NumericEquals":5}`, want: true},
		{rule: `{"Variable":"$.n","NumericEquals":5.0}`, want: true},
		{rule: `{"Variable":"$.n","NumericEqualsPath":"$.limit"}`, want: true},
		{rule: `{"Variable":"$.f","NumericLessThan":3}`, want: true},
		{rule: `{"Variable":"$.f","NumericLessThanEquals":2.5}`, want: true},
		{rule: `{"Variable":"$.f","NumericGreaterThan":2.5}`, want: false},
		{rule: `{"Variable":"$.n","NumericGreaterThanEquals":5}`, want: true},
		{rule: `{"Variable":"$.n","NumericGreaterThanPath":"$.f"}`, want: true},
		{rule: `{"Variable":"$.s","NumericEquals":5}`, want: false},
		{rule: `{"Variable":"$.b","BooleanEquals":true}`, want: true},
		{rule: `{"Variable":"$.b","BooleanEqualsPath":"$.final.failed"}`, want: false},
		{rule: `{"Variable":"$.t","TimestampLessThan":"2024-05-01T11:00:00+01:01"}`, want: false},
		{rule: `{"Variable":"$.t","TimestampEquals":"2024-05-01T12:00:00+02:00"}`, want: true},
		{rule: `{"Variable":"$.nul","IsNull":true}`, want: true},
		{rule: `{"Variable":"$.s","IsNull":true}`, want: false},
		{rule: `{"Variable":"$.s","IsPresent":true}`, want: true},
		{rule: `{"Variable":"$.missing","IsPresent":false}`, want: true},
		{rule: `{"Variable":"$.s","IsString":true}`, want: true},
		{rule: `{"Variable":"$.n","IsNumeric":true}`, want: true},
		{rule: `{"Variable":"$.b","IsBoolean":false}`, want: false},
		{rule: `{"Variable":"$.t","IsTimestamp":true}`, want: true},
		{rule: `{"Variable":"$.s","IsTimestamp":true}`, want: false},
		{rule: `{"Not":{"Variable":"$.b","BooleanEquals":true}}`, want: false},
		{rule: `{"Or":[{"Variable":"$.n","NumericEquals":1},{"Variable":"$.n","NumericEquals":5}]}`, want: true},
		{rule: `{"And":[{"Variable":"$.n","NumericEquals":5},{"Variable":"$.b","BooleanEquals":false}]}`, want: false},
		// The job definition's Outcome: IsPresent guards the comparison.
		{rule: `{"And":[{"Variable":"$.final.failed","IsPresent":true},{"Variable":"$.final.failed","BooleanEquals":false}]}`, want: true},
		{rule: `{"And":[{"Variable":"$.nope","IsPresent":true},{"Variable":"$.nope","BooleanEquals":false}]}`, want: false},
		{rule: `{"Variable":"$.nope","BooleanEquals":false}`, runtime: true},
		{rule: `{"Variable":"$.n","NumericEqualsPath":"$.nope"}`, runtime: true},
		{rule: `{"Variable":"$.list[0]","NumericEquals":1}`, want: true},
	}
	doc := mustDecode(t, input)
	for _, tt := range tests {
		t.Run(tt.rule, func(t *testing.T) {
			r, err := compileRule([]byte(tt.rule), false)
			if err != nil {
				t.Fatalf("compile: %v", err)
			}
			got, serr := r.eval(doc, nil)
			if tt.runtime {
				if serr == nil || serr.Name != ErrRuntime {
					t.Fatalf("got %v %v, want States.Runtime", got, serr)
				}
				return
			}
			if serr != nil || got != tt.want {
				t.Fatalf("got %v %v, want %v", got, serr, tt.want)
			}
		})
	}
}

func TestChoiceRulesRefused(t *testing.T) {
	for _, rule := range []string{
		`{"Variable":"$.s","StringContains":"x"}`,
		`{"Variable":"$.s","StringMatchesPath":"$.x"}`,
		`{"Variable":"$.s","IsNullPath":"$.x"}`,
		`{"Variable":"$.s","StringEquals":5}`,
		`{"Variable":"$.s","NumericEquals":"5"}`,
		`{"Variable":"$.s","StringEquals":"a","NumericEquals":1}`,
		`{"Variable":"$.s"}`,
		`{"StringEquals":"a"}`,
		`{"And":[]}`,
		`{"Variable":"$.s","And":[{"Variable":"$.s","IsNull":true}]}`,
		`{"Variable":"$.s","TimestampEquals":"yesterday"}`,
		`{"Variable":"$.s","StringEquals":"a","Next":"X"}`, // nested rules have no Next
		`{"Variable":"$..s","StringEquals":"a"}`,
	} {
		t.Run(rule, func(t *testing.T) {
			if _, err := compileRule([]byte(rule), false); err == nil {
				t.Fatalf("compiled")
			}
		})
	}
}

func TestWildcardMatch(t *testing.T) {
	tests := []struct {
		pattern, s string
		want       bool
	}{
		{"*", "", true},
		{"log-*.txt", "log-1.txt", true},
		{"log-*.txt", "log-1.csv", false},
		{"*.*", "a.b.c", true},
		{`a\*b`, "a*b", true},
		{`a\*b`, "axb", false},
		{`a\\b`, `a\b`, true},
		{"a*b*c", "abbbc", true},
		{"a*b*c", "acb", false},
	}
	for _, tt := range tests {
		if got := wildcardMatch(tt.pattern, tt.s); got != tt.want {
			t.Errorf("wildcardMatch(%q, %q) = %v, want %v", tt.pattern, tt.s, got, tt.want)
		}
	}
}
