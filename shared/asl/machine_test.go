package asl_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/openrescale/platform/shared/asl"
	"github.com/openrescale/platform/shared/errs"
	"github.com/openrescale/platform/statemachines"
)

// fakeARNs substitutes every placeholder of def with a Lambda ARN named
// after it, as DefinitionSubstitutions would in AWS.
func fakeARNs(def []byte) map[string]string {
	subs := map[string]string{}
	for _, p := range asl.Placeholders(def) {
		subs[p] = "arn:aws:lambda:us-east-1:123456789012:function:" + p
	}
	return subs
}

func TestJobDefinition(t *testing.T) {
	want := []string{"CollectOutputsFunctionArn", "FinishFunctionArn", "QueueFunctionArn", "StartClusterFunctionArn",
		"StartRunFunctionArn", "TearDownFunctionArn", "ValidateFunctionArn"}
	if got := asl.Placeholders(statemachines.Job); !slices.Equal(got, want) {
		t.Fatalf("placeholders %v, want %v", got, want)
	}
	subs := fakeARNs(statemachines.Job)
	m, err := asl.Parse(statemachines.Job, subs)
	if err != nil {
		t.Fatalf("parse job.asl.json: %v", err)
	}
	// Every Task maps to a step: the lambda:invoke one by its FunctionName.
	var targets []string
	for _, p := range want {
		targets = append(targets, subs[p])
	}
	slices.Sort(targets)
	if got := m.TaskTargets(); !slices.Equal(got, targets) {
		t.Fatalf("targets %v, want %v", got, targets)
	}
	_, err = asl.Parse(statemachines.Job, map[string]string{"QueueFunctionArn": "x"})
	if !errs.Is(err, errs.Invalid) || !strings.Contains(err.Error(), "${ValidateFunctionArn}") {
		t.Fatalf("missing substitutions: %v", err)
	}
}

func TestPlaceholders(t *testing.T) {
	got := asl.Placeholders([]byte(`{"a":"${B}","b":"${A}-${B}","c":"$.x","d":"${}"}`))
	if want := []string{"", "A", "B"}; !slices.Equal(got, want) {
		t.Fatalf("got %q, want %q", got, want)
	}
}

func TestSubstitutionIsEscaped(t *testing.T) {
	def := `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"${R}","End":true}}}`
	m, err := asl.Parse([]byte(def), map[string]string{"R": `fn"with\quote`})
	if err != nil {
		t.Fatal(err)
	}
	if got := m.TaskTargets(); !slices.Equal(got, []string{`fn"with\quote`}) {
		t.Fatalf("targets %q", got)
	}
}

// machine wraps states into a definition.
func machine(states string) string {
	return `{"StartAt":"S","States":{` + states + `}}`
}

func TestParseRefuses(t *testing.T) {
	task := func(extra string) string {
		return machine(`"S":{"Type":"Task","Resource":"fn",` + extra + `"End":true}`)
	}
	mapState := func(extra string) string {
		return machine(`"S":{"Type":"Map",` + extra + `"End":true}`)
	}
	proc := `"ItemProcessor":{"StartAt":"I","States":{"I":{"Type":"Succeed"}}},`
	tests := []struct {
		name, def string
		want      []string // substrings of the error
	}{
		{"unknown state field", task(`"HeartbeatSeconds":10,`), []string{`"S"`, `"HeartbeatSeconds"`}},
		{"misspelt field", task(`"ResultPth":"$.x",`), []string{`"S"`, `"ResultPth"`}},
		{"unknown top-level field", `{"StartAt":"S","States":{"S":{"Type":"Succeed"}},"Foo":1}`, []string{`"Foo"`}},
		{"JSONata", `{"QueryLanguage":"JSONata","StartAt":"S","States":{"S":{"Type":"Succeed"}}}`, []string{"QueryLanguage", "JSONata"}},
		{"JSONata state", machine(`"S":{"Type":"Succeed","QueryLanguage":"JSONata"}`), []string{`"S"`, "QueryLanguage"}},
		{"Parallel", machine(`"S":{"Type":"Parallel","Branches":[],"End":true}`), []string{`"S"`, "Parallel"}},
		{"unknown type", machine(`"S":{"Type":"Sleep","End":true}`), []string{`"S"`, "Sleep"}},
		{"unknown operator", machine(`"S":{"Type":"Choice","Choices":[{"Variable":"$.a","StringContains":"x","Next":"T"}]},"T":{"Type":"Succeed"}`), []string{`"S"`, "Choices", "StringContains"}},
		{"unknown intrinsic", task(`"Parameters":{"r.$":"States.MathRandom(1, 9)"},`), []string{`"S"`, "Parameters", "States.MathRandom"}},
		{"unknown intrinsic in ResultSelector", task(`"ResultSelector":{"r.$":"States.StringSplit($.a, ',')"},`), []string{`"S"`, "ResultSelector", "States.StringSplit"}},
		{"service integration", machine(`"S":{"Type":"Task","Resource":"arn:aws:states:::sqs:sendMessage","End":true}`), []string{`"S"`, "Resource", "sqs:sendMessage"}},
		{"sync lambda", machine(`"S":{"Type":"Task","Resource":"arn:aws:states:::lambda:invoke.sync","Parameters":{"FunctionName":"f"},"End":true}`), []string{`"S"`, "Resource"}},
		{"dynamic FunctionName", machine(`"S":{"Type":"Task","Resource":"arn:aws:states:::lambda:invoke","Parameters":{"FunctionName.$":"$.f"},"End":true}`), []string{`"S"`, "FunctionName"}},
		{"lambda parameter", machine(`"S":{"Type":"Task","Resource":"arn:aws:states:::lambda:invoke","Parameters":{"FunctionName":"f","Qualifier":"1"},"End":true}`), []string{`"S"`, "Qualifier"}},
		{"jitter", task(`"Retry":[{"ErrorEquals":["States.ALL"],"JitterStrategy":"FULL"}],`), []string{`"S"`, "Retry", "JitterStrategy"}},
		{"retrier field", task(`"Retry":[{"ErrorEquals":["X"],"Backoff":2}],`), []string{`"S"`, "Retry", "Backoff"}},
		{"States.ALL not last", task(`"Retry":[{"ErrorEquals":["States.ALL"]},{"ErrorEquals":["X"]}],`), []string{`"S"`, "States.ALL"}},
		{"States.ALL not alone", task(`"Catch":[{"ErrorEquals":["X","States.ALL"],"Next":"S"}],`), []string{`"S"`, "Catch", "States.ALL"}},
		{"wildcard path", task(`"InputPath":"$.a[*]",`), []string{`"S"`, "InputPath"}},
		{"context ResultPath", task(`"ResultPath":"$$.Execution",`), []string{`"S"`, "ResultPath"}},
		{"TimeoutSecondsPath", task(`"TimeoutSecondsPath":"$.t",`), []string{`"S"`, "TimeoutSecondsPath"}},
		{"zero timeout", task(`"TimeoutSeconds":0,`), []string{`"S"`, "TimeoutSeconds"}},
		{"Next and End", machine(`"S":{"Type":"Pass","Next":"S","End":true}`), []string{`"S"`, "Next"}},
		{"no Next nor End", machine(`"S":{"Type":"Pass"}`), []string{`"S"`}},
		{"unknown Next", machine(`"S":{"Type":"Pass","Next":"Nowhere"}`), []string{`"S"`, "Nowhere"}},
		{"unreachable", machine(`"S":{"Type":"Succeed"},"Lost":{"Type":"Succeed"}`), []string{`"Lost"`, "reached"}},
		{"Wait with two fields", machine(`"S":{"Type":"Wait","Seconds":1,"SecondsPath":"$.s","End":true}`), []string{`"S"`}},
		{"Fail ErrorPath", machine(`"S":{"Type":"Fail","ErrorPath":"$.e"}`), []string{`"S"`, "ErrorPath"}},
		{"distributed Map", mapState(`"ItemProcessor":{"ProcessorConfig":{"Mode":"DISTRIBUTED","ExecutionType":"STANDARD"},"StartAt":"I","States":{"I":{"Type":"Succeed"}}},`), []string{`"S"`, "ItemProcessor"}},
		{"ItemReader", mapState(proc + `"ItemReader":{},`), []string{`"S"`, "ItemReader"}},
		{"ToleratedFailurePercentage", mapState(proc + `"ToleratedFailurePercentage":5,`), []string{`"S"`, "ToleratedFailurePercentage"}},
		{"both selectors", mapState(proc + `"ItemSelector":{},"Parameters":{},`), []string{`"S"`, "Parameters"}},
		{"nested unknown field", mapState(`"ItemProcessor":{"StartAt":"I","States":{"I":{"Type":"Succeed","Foo":1}}},`), []string{`"I"`, `"Foo"`}},
		{"duplicate name across Map", mapState(`"ItemProcessor":{"StartAt":"S","States":{"S":{"Type":"Succeed"}}},`), []string{`"S"`, "same name"}},
		{"Variable-less comparison", machine(`"S":{"Type":"Choice","Choices":[{"StringEquals":"x","Next":"T"}]},"T":{"Type":"Succeed"}`), []string{`"S"`, "Variable"}},
		{"Assign", machine(`"S":{"Type":"Pass","Assign":{"x":1},"End":true}`), []string{`"S"`, "Assign"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := asl.Parse([]byte(tt.def), nil)
			if err == nil {
				t.Fatalf("parsed:\n%s", tt.def)
			}
			if !errs.Is(err, errs.Invalid) {
				t.Errorf("code %q, want invalid: %v", errs.Code(err), err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %s", err, w)
				}
			}
		})
	}
}

func TestParseAccepts(t *testing.T) {
	tests := []struct{ name, def string }{
		{"legacy Iterator and Parameters", machine(`"S":{"Type":"Map","Parameters":{"v.$":"$$.Map.Item.Value"},"Iterator":{"StartAt":"I","States":{"I":{"Type":"Succeed"}}},"End":true}`)},
		{"JSONPath declared", `{"QueryLanguage":"JSONPath","Comment":"c","Version":"1.0","TimeoutSeconds":60,"StartAt":"S","States":{"S":{"Type":"Succeed","Comment":"ok"}}}`},
		{"jitter NONE", machine(`"S":{"Type":"Task","Resource":"fn","Retry":[{"ErrorEquals":["States.ALL"],"JitterStrategy":"NONE","MaxDelaySeconds":5,"Comment":"c"}],"End":true}`)},
		{"all Wait forms", machine(`"S":{"Type":"Wait","Seconds":0,"Next":"T"},"T":{"Type":"Wait","Timestamp":"2024-01-01T00:00:00Z","Next":"U"},"U":{"Type":"Wait","SecondsPath":"$.s","Next":"V"},"V":{"Type":"Wait","TimestampPath":"$.t","End":true}`)},
		{"choice loop", machine(`"S":{"Type":"Choice","Choices":[{"Not":{"Variable":"$.done","IsPresent":true},"Next":"P"}],"Default":"E"},"P":{"Type":"Pass","Result":true,"ResultPath":"$.done","Next":"S"},"E":{"Type":"Succeed"}`)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := asl.Parse([]byte(tt.def), nil); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func ExamplePlaceholders() {
	fmt.Println(asl.Placeholders([]byte(`{"Resource":"${StepArn}"}`)))
	// Output: [StepArn]
}
