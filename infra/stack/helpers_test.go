package stack_test

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
)

// tmpl is the part of a CloudFormation template the checks read.
type tmpl struct {
	name      string
	assert    assertions.Template
	Resources map[string]struct {
		Type       string
		Properties json.RawMessage
		Metadata   json.RawMessage
		DependsOn  json.RawMessage
	}
	Parameters map[string]json.RawMessage
	Outputs    map[string]struct{ Value json.RawMessage }
	// rootID is the nested stack's AWS::CloudFormation::Stack resource in
	// the root template ("" for the root).
	rootID string
}

func decode(t testing.TB, tpl assertions.Template) *tmpl {
	t.Helper()
	b, err := json.Marshal(tpl.ToJSON())
	if err != nil {
		t.Fatal(err)
	}
	var out tmpl
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return &out
}

func (tm *tmpl) ofType(typ string) []string {
	var ids []string
	for id, r := range tm.Resources {
		if r.Type == typ {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return ids
}

// computeEnvironmentFor finds the compute environment launching exactly
// these instance types.
func (tm *tmpl) computeEnvironmentFor(t *testing.T, types []string) string {
	t.Helper()
	for _, id := range tm.ofType("AWS::Batch::ComputeEnvironment") {
		var ce struct {
			ComputeResources struct{ InstanceTypes []string }
		}
		if err := json.Unmarshal(tm.Resources[id].Properties, &ce); err != nil {
			t.Fatal(err)
		}
		if slices.Equal(slices.Sorted(slices.Values(ce.ComputeResources.InstanceTypes)), types) {
			return id
		}
	}
	return ""
}

// linkNested records each nested template's resource in the root, so
// references through nested stack parameters and outputs can be followed.
func linkNested(s *synthesised) {
	for _, st := range s.ps.Stacks() {
		ns, ok := st.(awscdk.NestedStack)
		if !ok || st == s.ps.Stack {
			continue
		}
		s.templates[*st.Node().Path()].rootID = *s.ps.Stack.GetLogicalId(ns.NestedStackResource())
	}
}

// target is what a reference ends up naming: a resource of a template
// and the attribute read ("" for Ref).
type target struct {
	tm       *tmpl
	id, attr string
}

// resolve follows {"Ref"} and {"Fn::GetAtt"} through nested stack
// parameters and outputs to the resource they name.
func (s *synthesised) resolve(t *testing.T, tm *tmpl, raw json.RawMessage) target {
	t.Helper()
	for range 10 {
		var v struct {
			Ref    string
			GetAtt []string `json:"Fn::GetAtt"`
		}
		if err := json.Unmarshal(raw, &v); err != nil {
			return target{}
		}
		switch {
		case v.Ref != "":
			if _, ok := tm.Resources[v.Ref]; ok {
				return target{tm: tm, id: v.Ref}
			}
			if _, ok := tm.Parameters[v.Ref]; !ok || tm.rootID == "" {
				return target{}
			}
			var p struct{ Parameters map[string]json.RawMessage }
			_ = json.Unmarshal(s.root.Resources[tm.rootID].Properties, &p)
			tm, raw = s.root, p.Parameters[v.Ref]
		case len(v.GetAtt) == 2:
			out, isOutput := strings.CutPrefix(v.GetAtt[1], "Outputs.")
			if !isOutput || tm != s.root {
				return target{tm: tm, id: v.GetAtt[0], attr: v.GetAtt[1]}
			}
			var next *tmpl
			for _, n := range s.templates {
				if n.rootID == v.GetAtt[0] {
					next = n
				}
			}
			if next == nil {
				return target{}
			}
			tm, raw = next, next.Outputs[out].Value
		default:
			return target{}
		}
	}
	return target{}
}

type function struct {
	tmpl       *tmpl
	id, role   string
	Properties struct {
		Runtime, Handler string
		Architectures    []string
		MemorySize       int
		Timeout          int
		Environment      struct{ Variables map[string]json.RawMessage }
		Code             struct{ S3Key json.RawMessage }
		Role             struct {
			GetAtt []string `json:"Fn::GetAtt"`
		}
	}
}

func (s *synthesised) functionsByRoute(t *testing.T) map[string]function {
	t.Helper()
	out := map[string]function{}
	for _, tm := range s.templates {
		for _, id := range tm.ofType("AWS::Lambda::Function") {
			f := function{tmpl: tm, id: id}
			if err := json.Unmarshal(tm.Resources[id].Properties, &f.Properties); err != nil {
				t.Fatal(err)
			}
			if len(f.Properties.Role.GetAtt) > 0 {
				f.role = f.Properties.Role.GetAtt[0]
			}
			raw, ok := f.Properties.Environment.Variables["ROUTE"]
			if !ok {
				continue // CDK's own, e.g. the bucket notifications handler
			}
			var route string
			if err := json.Unmarshal(raw, &route); err != nil {
				t.Errorf("function %s: ROUTE is not a plain string: %v", id, err)
				continue
			}
			if _, dup := out[route]; dup {
				t.Errorf("two functions with ROUTE=%s", route)
			}
			out[route] = f
		}
	}
	return out
}

type method struct {
	tmpl              *tmpl
	HTTPMethod        string          `json:"HttpMethod"`
	ResourceID        json.RawMessage `json:"ResourceId"`
	AuthorizationType string
	AuthorizerID      json.RawMessage `json:"AuthorizerId"`
	Integration       struct {
		Type string
		URI  json.RawMessage `json:"Uri"`
	}
}

// methodsByKey indexes every template's methods by "METHOD /full/path",
// rebuilding each resource's path from its PathPart and ParentId chain
// across the stacks.
func (s *synthesised) methodsByKey(t *testing.T) map[string]method {
	t.Helper()
	var pathOf func(tg target, depth int) string
	pathOf = func(tg target, depth int) string {
		if tg.tm == nil || depth > 50 {
			t.Errorf("unresolvable resource reference")
			return "?"
		}
		if tg.attr == "RootResourceId" {
			return ""
		}
		var res struct {
			PathPart string
			ParentID json.RawMessage `json:"ParentId"`
		}
		_ = json.Unmarshal(tg.tm.Resources[tg.id].Properties, &res)
		return pathOf(s.resolve(t, tg.tm, res.ParentID), depth+1) + "/" + res.PathPart
	}
	out := map[string]method{}
	for _, tm := range s.templates {
		for _, id := range tm.ofType("AWS::ApiGateway::Method") {
			m := method{tmpl: tm}
			if err := json.Unmarshal(tm.Resources[id].Properties, &m); err != nil {
				t.Fatal(err)
			}
			p := pathOf(s.resolve(t, tm, m.ResourceID), 0)
			if p == "" {
				p = "/"
			}
			key := m.HTTPMethod + " " + p
			if _, dup := out[key]; dup {
				t.Errorf("method %s (%s) defined twice", key, id)
			}
			out[key] = m
		}
	}
	return out
}

// statement is one IAM policy statement as the template has it.
type statement struct {
	Effect    string
	Action    json.RawMessage
	Resource  json.RawMessage
	Principal json.RawMessage
}

// oneOrMany reads IAM's "one value or a list".
func oneOrMany(t *testing.T, raw json.RawMessage) []json.RawMessage {
	t.Helper()
	if len(raw) == 0 {
		return nil
	}
	var many []json.RawMessage
	if raw[0] == '[' {
		if err := json.Unmarshal(raw, &many); err != nil {
			t.Fatal(err)
		}
		return many
	}
	return []json.RawMessage{raw}
}

func (st statement) actions(t *testing.T) []string {
	t.Helper()
	var out []string
	for _, r := range oneOrMany(t, st.Action) {
		var a string
		if err := json.Unmarshal(r, &a); err != nil {
			t.Fatalf("action %s: %v", r, err)
		}
		out = append(out, a)
	}
	return out
}

func (st statement) resources(t *testing.T) []json.RawMessage { return oneOrMany(t, st.Resource) }

// statementsByRole collects the statements of the policies attached to
// each role (by logical id), and of roles' inline policies.
func (tm *tmpl) statementsByRole(t *testing.T) map[string][]statement {
	t.Helper()
	type doc struct{ Statement []statement }
	out := map[string][]statement{}
	for id, r := range tm.Resources {
		switch r.Type {
		case "AWS::IAM::Policy":
			var p struct {
				PolicyDocument doc
				Roles          []struct{ Ref string }
			}
			if err := json.Unmarshal(r.Properties, &p); err != nil {
				t.Fatalf("policy %s: %v", id, err)
			}
			for _, role := range p.Roles {
				out[role.Ref] = append(out[role.Ref], p.PolicyDocument.Statement...)
			}
		case "AWS::IAM::Role":
			var p struct {
				Policies []struct{ PolicyDocument doc }
			}
			if err := json.Unmarshal(r.Properties, &p); err != nil {
				t.Fatalf("role %s: %v", id, err)
			}
			for _, pol := range p.Policies {
				out[id] = append(out[id], pol.PolicyDocument.Statement...)
			}
		}
	}
	return out
}

func (tm *tmpl) actionsByRole(t *testing.T) map[string]map[string]bool {
	t.Helper()
	out := map[string]map[string]bool{}
	for role, stmts := range tm.statementsByRole(t) {
		for _, st := range stmts {
			if st.Effect != "Allow" {
				continue
			}
			if out[role] == nil {
				out[role] = map[string]bool{}
			}
			for _, a := range st.actions(t) {
				out[role][a] = true
			}
		}
	}
	return out
}

// getAttArn returns X of {"Fn::GetAtt": [X, "Arn"]}, failing on anything
// else: a literal or wildcard ARN would reach beyond this stack.
func getAttArn(t *testing.T, raw json.RawMessage) string {
	t.Helper()
	var v struct {
		GetAtt []string `json:"Fn::GetAtt"`
	}
	if err := json.Unmarshal(raw, &v); err != nil || len(v.GetAtt) != 2 || v.GetAtt[1] != "Arn" {
		t.Errorf("%s: want {\"Fn::GetAtt\": [id, \"Arn\"]}", raw)
		return ""
	}
	return v.GetAtt[0]
}

// refID returns X of {"Ref": X}.
func refID(t *testing.T, raw json.RawMessage) string {
	t.Helper()
	var v struct{ Ref string }
	if err := json.Unmarshal(raw, &v); err != nil || v.Ref == "" {
		t.Errorf("%s: want {\"Ref\": id}", raw)
	}
	return v.Ref
}
