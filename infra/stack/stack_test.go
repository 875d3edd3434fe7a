package stack_test

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"

	"github.com/openrescale/platform/cmd/lambda/lambdatier"
	"github.com/openrescale/platform/functions/api"
	"github.com/openrescale/platform/infra/stack"
	"github.com/openrescale/platform/shared/asl"
	"github.com/openrescale/platform/shared/catalog"
	"github.com/openrescale/platform/shared/compute/awsbatch"
	"github.com/openrescale/platform/shared/httpapi"
	"github.com/openrescale/platform/shared/lifecycle"
	"github.com/openrescale/platform/statemachines"
)

func TestResourcePath(t *testing.T) {
	cases := []struct {
		in, want string
		bad      bool
	}{
		{in: "/healthz", want: "/healthz"},
		{in: "/", want: "/"},
		{in: "/api/v2/coretypes/", want: "/api/v2/coretypes"},
		{in: "/api/v2/jobs/{id}/", want: "/api/v2/jobs/{id}"},
		{in: "/api/v2/jobs/{id}/runs/{run}/files/", want: "/api/v2/jobs/{id}/runs/{run}/files"},
		{in: "/api/v2/files/{path...}", want: "/api/v2/files/{path+}"},
		{in: "api/v2/x/", bad: true},
		{in: "/a/{rest...}/b/", bad: true},
		{in: "/a/b c/", bad: true},
		{in: "/a//b/", bad: true},
	}
	for _, c := range cases {
		got, err := stack.ResourcePath(c.in)
		if c.bad {
			if err == nil {
				t.Errorf("ResourcePath(%q) = %q, want error", c.in, got)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("ResourcePath(%q) = %q, %v; want %q", c.in, got, err, c.want)
		}
	}
}

func TestPropsRejected(t *testing.T) {
	good := goodProps(t)
	ok := httpapi.Route{Name: "a", Method: "GET", Path: "/api/v2/a/"}
	with := func(f func(*stack.Props)) stack.Props {
		p := good
		p.Routes = []httpapi.Route{ok}
		f(&p)
		return p
	}
	graviton := good.Coretypes[0]
	dep := *graviton.Deployment
	dep.InstanceTypes = map[string]string{"2": "c7g.large"}
	graviton.Deployment = &dep
	cases := map[string]stack.Props{
		"no asset dir":    with(func(p *stack.Props) { p.AssetDir = "" }),
		"asset missing":   with(func(p *stack.Props) { p.AssetDir = t.TempDir() }),
		"agent missing":   with(func(p *stack.Props) { p.AgentImageDir = t.TempDir() }),
		"console missing": with(func(p *stack.Props) { p.ConsoleDir = filepath.Join(t.TempDir(), "nope") }),
		"reserved name": with(func(p *stack.Props) {
			p.Routes = []httpapi.Route{{Name: stack.AuthorizerRoute, Method: "GET", Path: "/x/"}}
		}),
		"reserved events name": with(func(p *stack.Props) {
			p.Routes = []httpapi.Route{{Name: stack.BatchJobStateRoute, Method: "GET", Path: "/x/"}}
		}),
		"reserved step name": with(func(p *stack.Props) {
			p.Routes = []httpapi.Route{{Name: stack.StepRoute("finish"), Method: "GET", Path: "/x/"}}
		}),
		"duplicate name": with(func(p *stack.Props) { p.Routes = []httpapi.Route{ok, ok} }),
		"slash-only clash": with(func(p *stack.Props) {
			p.Routes = append(p.Routes, httpapi.Route{Name: "b", Method: "GET", Path: "/api/v2/a"})
		}),
		"unknown permission":  with(func(p *stack.Props) { p.Routes[0].Needs = []httpapi.Permission{"queue:send"} }),
		"no coretypes":        with(func(p *stack.Props) { p.Coretypes = nil }),
		"coretype twice":      with(func(p *stack.Props) { p.Coretypes = append(p.Coretypes, p.Coretypes[0]) }),
		"no deployment":       with(func(p *stack.Props) { c := p.Coretypes[0]; c.Deployment = nil; p.Coretypes = []catalog.Coretype{c} }),
		"graviton":            with(func(p *stack.Props) { p.Coretypes = []catalog.Coretype{graviton} }),
		"spot not enabled":    with(func(p *stack.Props) { p.Spot = map[string]bool{"hpc": true} }),
		"private without vpc": with(func(p *stack.Props) { p.PrivateSubnets = true }),
		"too many routes": with(func(p *stack.Props) {
			p.Routes = nil
			for i := range stack.MaxRoutesPerStack + 1 {
				p.Routes = append(p.Routes, httpapi.Route{Name: fmt.Sprint("r", i), Method: "GET", Path: fmt.Sprintf("/api/v2/jobs/x%d/", i)})
			}
		}),
	}
	requireNode(t)
	for name, p := range cases {
		// Each case gets its own app: a rejected stack may leave constructs
		// behind. Validation fails before synthesis, so this stays fast.
		app := awscdk.NewApp(&awscdk.AppProps{Outdir: jsii.String(t.TempDir())})
		if _, err := stack.NewPlatformStack(app, "Bad", p); err == nil {
			t.Errorf("%s: NewPlatformStack succeeded, want error", name)
		}
	}
}

// goodProps are the props of the shared synthesis: the real route table
// and catalog, the default coretypes with the first on Spot, and one
// software image with a multi-node definition besides the default.
func goodProps(t testing.TB) stack.Props {
	cat, err := catalog.Load()
	if err != nil {
		t.Fatal(err)
	}
	p := stack.Props{
		Routes:        api.Routes(api.Deps{}),
		AssetDir:      fakeDir(t, map[string]string{"bootstrap": "#!/bin/sh\n"}),
		TableAssetDir: fakeDir(t, map[string]string{"bootstrap": "#!/bin/sh\n# table tier\n"}),
		AgentImageDir: fakeDir(t, map[string]string{"agent": "#!/bin/sh\n", "Dockerfile": "ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\nCOPY agent /agent\n"}),
		ConsoleDir:    fakeDir(t, map[string]string{"index.html": "<!doctype html>\n"}),
		Spot:          map[string]bool{stack.DefaultCoretypes[0]: true},
		Images:        []catalog.SoftwareImage{{Analysis: "openfoam", Version: "*", Image: "example.com/team/openfoam:v1912", MultiNode: true}},
	}
	for _, code := range stack.DefaultCoretypes {
		ct, ok := cat.Coretype(code)
		if !ok {
			t.Fatalf("default coretype %s not in the catalog", code)
		}
		p.Coretypes = append(p.Coretypes, ct)
	}
	return p
}

// synthesised is the one synthesis every check reads: jsii makes each
// synthesis take tens of seconds on a small machine.
type synthesised struct {
	props     stack.Props
	ps        *stack.PlatformStack
	templates map[string]*tmpl // by stack path
	root      *tmpl
	nagErrors []string
	err       error
}

var (
	shared     synthesised
	sharedOnce sync.Once
	sharedDir  string
)

func TestMain(m *testing.M) {
	code := m.Run()
	if sharedDir != "" {
		os.RemoveAll(sharedDir)
	}
	os.Exit(code)
}

// tb is the testing.TB that setup uses outside a test's lifetime: temp
// dirs must outlive the test that happened to trigger the synthesis.
type setupTB struct {
	testing.TB
	dir string
}

func (s setupTB) TempDir() string {
	d, err := os.MkdirTemp(s.dir, "")
	if err != nil {
		panic(err)
	}
	return d
}

func synth(t *testing.T) *synthesised {
	t.Helper()
	requireNode(t)
	sharedOnce.Do(func() {
		dir, err := os.MkdirTemp("", "infra-test-")
		if err != nil {
			shared.err = err
			return
		}
		sharedDir = dir
		shared.props = goodProps(setupTB{TB: t, dir: dir})
		app := awscdk.NewApp(&awscdk.AppProps{Outdir: jsii.String(filepath.Join(dir, "cdk.out"))})
		awscdk.Aspects_Of(app).Add(cdknag.NewAwsSolutionsChecks(&cdknag.NagPackProps{Verbose: jsii.Bool(true)}), nil)
		ps, err := stack.NewPlatformStack(app, "Test", shared.props)
		if err != nil {
			shared.err = err
			return
		}
		shared.ps = ps
		shared.templates = map[string]*tmpl{}
		for _, st := range ps.Stacks() {
			tp := assertions.Template_FromStack(st, nil)
			tm := decode(t, tp)
			tm.name = *st.Node().Path()
			tm.assert = tp
			shared.templates[tm.name] = tm
		}
		// Nested stacks are no cloud assembly artifacts of their own: their
		// constructs' annotations are the root's.
		for _, a := range *assertions.Annotations_FromStack(ps.Stack).FindError(jsii.String("*"), assertions.Match_StringLikeRegexp(jsii.String("AwsSolutions-.*"))) {
			shared.nagErrors = append(shared.nagErrors, fmt.Sprintf("%s: %v", *a.Id, a.Entry.Data))
		}
		shared.root = shared.templates[*ps.Stack.Node().Path()]
		linkNested(&shared)
	})
	if shared.err != nil {
		t.Fatal(shared.err)
	}
	return &shared
}

func TestResourceCounts(t *testing.T) {
	s := synth(t)
	for name, tm := range s.templates {
		t.Logf("%s: %d resources", name, len(tm.Resources))
		if n := len(tm.Resources); n >= stack.MaxResources {
			t.Errorf("%s: %d resources, want < %d (CloudFormation allows 500 per template)", name, n, stack.MaxResources)
		}
		if n := len(tm.Parameters); n >= 200 {
			t.Errorf("%s: %d parameters, CloudFormation allows 200", name, n)
		}
		if n := len(tm.Outputs); n >= 200 {
			t.Errorf("%s: %d outputs, CloudFormation allows 200", name, n)
		}
	}
	if len(s.templates) < 8 {
		t.Errorf("%d templates, want the root and at least 7 nested stacks", len(s.templates))
	}
}

func TestNag(t *testing.T) {
	s := synth(t)
	for _, e := range s.nagErrors {
		t.Error(e)
	}
	// Every suppression carries its reason into the template metadata.
	for name, tm := range s.templates {
		for id, r := range tm.Resources {
			var md struct {
				CdkNag struct {
					RulesToSuppress []struct{ ID, Reason string } `json:"rules_to_suppress"`
				} `json:"cdk_nag"`
			}
			if len(r.Metadata) == 0 || json.Unmarshal(r.Metadata, &md) != nil {
				continue
			}
			for _, rule := range md.CdkNag.RulesToSuppress {
				if len(strings.TrimSpace(rule.Reason)) < 10 {
					t.Errorf("%s/%s: suppression of %s without a reason", name, id, rule.ID)
				}
			}
		}
	}
}

// wantRoutes are the ROUTE values of every platform function.
func wantRoutes(routes []httpapi.Route) []string {
	out := []string{stack.AuthorizerRoute, stack.ObjectEventsRoute, stack.BatchJobStateRoute, stack.ReconcileRoute}
	for _, step := range lifecycle.Placeholders() {
		out = append(out, stack.StepRoute(step))
	}
	for _, rt := range routes {
		out = append(out, rt.Name)
	}
	slices.Sort(out)
	return out
}

func TestFunctions(t *testing.T) {
	s := synth(t)
	fns := s.functionsByRoute(t)
	if got, want := slices.Sorted(maps.Keys(fns)), wantRoutes(s.props.Routes); !slices.Equal(got, want) {
		t.Errorf("functions by ROUTE:\n got %v\nwant %v", got, want)
	}
	needs := map[string][]httpapi.Permission{}
	for _, rt := range s.props.Routes {
		needs[rt.Name] = rt.Needs
	}
	lifecycleEnv := []string{awsbatch.EnvDeployment, stack.EnvAPIURL}
	codes := map[string][]string{}
	defer func() {
		// Each tier is one asset, a different one per tier.
		table, full := slices.Compact(slices.Sorted(slices.Values(codes[lambdatier.Table]))), slices.Compact(slices.Sorted(slices.Values(codes[lambdatier.Full])))
		if len(table) != 1 || len(full) != 1 || table[0] == full[0] || len(codes[lambdatier.Table]) < 20 {
			t.Errorf("function code: table tier %v (%d functions), full tier %v", table, len(codes[lambdatier.Table]), full)
		}
	}()
	for route, fn := range fns {
		p := fn.Properties
		if p.Runtime != "provided.al2023" || p.Handler != "bootstrap" || !slices.Equal(p.Architectures, []string{"arm64"}) {
			t.Errorf("%s: runtime %s handler %s arch %v", route, p.Runtime, p.Handler, p.Architectures)
		}
		want := []string{stack.EnvRoute, stack.EnvTable}
		rn, isRoute := needs[route]
		switch {
		case isRoute:
			if p.MemorySize != 256 || p.Timeout != 29 {
				t.Errorf("%s: memory %d timeout %d, want API Gateway's 29 s at 256 MB", route, p.MemorySize, p.Timeout)
			}
			want = append(want, stack.EnvBucket)
			if slices.ContainsFunc(rn, func(n httpapi.Permission) bool {
				return n == httpapi.StartExecution || n == httpapi.StopExecution || n == httpapi.ComputeControl
			}) {
				want = append(want, append(lifecycleEnv, stack.EnvStateMachine)...)
			}
		case strings.HasPrefix(route, "step-"):
			want = append(want, append(lifecycleEnv, stack.EnvBucket)...)
			if _, ok := p.Environment.Variables[stack.EnvStateMachine]; ok {
				t.Errorf("%s: has %s, which the state machine naming it would make a cycle", route, stack.EnvStateMachine)
			}
		case route == stack.BatchJobStateRoute || route == stack.ReconcileRoute:
			want = append(want, append(lifecycleEnv, stack.EnvBucket, stack.EnvStateMachine)...)
		}
		for _, v := range want {
			if _, ok := p.Environment.Variables[v]; !ok {
				t.Errorf("%s: environment lacks %s", route, v)
			}
		}
		// The function runs the build its needs call for: the table tier
		// for the table-only routes and the authorizer.
		tier := lambdatier.Full
		if isRoute {
			tier = lambdatier.Tier(rn)
		} else if route == stack.AuthorizerRoute {
			tier = lambdatier.Table
		}
		codes[tier] = append(codes[tier], string(p.Code.S3Key))
		if n := envSize(p.Environment.Variables); n >= stack.MaxEnvBytes {
			t.Errorf("%s: environment is about %d bytes, Lambda allows %d", route, n, stack.MaxEnvBytes)
		}
	}
}

// envSize is an upper bound of an environment's size once deployed: every
// reference (an ARN, a name) counts as 256 bytes.
func envSize(vars map[string]json.RawMessage) int {
	n := 0
	for k, v := range vars {
		n += len(k)
		var lit string
		if json.Unmarshal(v, &lit) == nil {
			n += len(lit)
			continue
		}
		n += len(literalParts(v)) + 256*strings.Count(string(v), `{"Ref"`) + 256*strings.Count(string(v), `"Fn::GetAtt"`)
	}
	return n
}

// literalParts concatenates the plain strings of an Fn::Join, with every
// reference replaced by "<ref>".
func literalParts(raw json.RawMessage) string {
	var join struct {
		Join []json.RawMessage `json:"Fn::Join"`
	}
	if json.Unmarshal(raw, &join) != nil || len(join.Join) != 2 {
		return "<ref>"
	}
	var sep string
	_ = json.Unmarshal(join.Join[0], &sep)
	var parts []json.RawMessage
	_ = json.Unmarshal(join.Join[1], &parts)
	var out []string
	for _, p := range parts {
		var s string
		if json.Unmarshal(p, &s) == nil {
			out = append(out, s)
		} else {
			out = append(out, literalParts(p))
		}
	}
	return strings.Join(out, sep)
}

func TestRoutes(t *testing.T) {
	s := synth(t)
	methods := s.methodsByKey(t)
	fns := s.functionsByRoute(t)
	var want []string
	for _, rt := range s.props.Routes {
		rp, err := stack.ResourcePath(rt.Path)
		if err != nil {
			t.Fatal(err)
		}
		key := rt.Method + " " + rp
		want = append(want, key)
		m, ok := methods[key]
		if !ok {
			continue // reported below
		}
		wantAuth := "CUSTOM"
		if rt.Public {
			wantAuth = "NONE"
		}
		if m.AuthorizationType != wantAuth || (wantAuth == "CUSTOM") != (m.AuthorizerID != nil) {
			t.Errorf("%s: authorization %s (authorizer %s), want %s", key, m.AuthorizationType, m.AuthorizerID, wantAuth)
		}
		fn := fns[rt.Name]
		if m.Integration.Type != "AWS_PROXY" || m.tmpl != fn.tmpl || !strings.Contains(string(m.Integration.URI), `"`+fn.id+`"`) {
			t.Errorf("%s: integration %s %s, want AWS_PROXY to %s", key, m.Integration.Type, m.Integration.URI, fn.id)
		}
	}
	slices.Sort(want)
	if got := slices.Sorted(maps.Keys(methods)); !slices.Equal(got, want) {
		t.Errorf("methods in the templates differ from the route table:\n got %v\nwant %v", got, want)
	}
	// One deployment, one stage: the stage serves what the deployment
	// snapshotted, which must follow every route stack.
	var deps []string
	for id, r := range s.root.Resources {
		if r.Type == "AWS::ApiGateway::Deployment" {
			deps = append(deps, id)
			var on []string
			_ = json.Unmarshal(r.DependsOn, &on)
			for _, g := range s.ps.RouteGroups {
				if !slices.Contains(on, *s.ps.Stack.GetLogicalId(g.Stack.(awscdk.NestedStack).NestedStackResource())) {
					t.Errorf("deployment %s does not depend on route stack %s", id, *g.Stack.Node().Id())
				}
			}
		}
	}
	if len(deps) != 1 {
		t.Errorf("deployments %v, want one", deps)
	}
	check(t, func() {
		s.root.assert.HasResourceProperties(jsii.String("AWS::ApiGateway::Stage"), map[string]any{
			"StageName": stack.StageName,
			"MethodSettings": assertions.Match_ArrayWith(&[]any{assertions.Match_ObjectLike(&map[string]any{
				"ThrottlingRateLimit":  stack.DefaultRateLimit,
				"ThrottlingBurstLimit": stack.DefaultBurstLimit,
			})}),
			// Logging would need the account's API Gateway CloudWatch role.
			"AccessLogSetting": assertions.Match_Absent(),
		})
	})
}

func TestAuthorizer(t *testing.T) {
	s := synth(t)
	apiT := s.templates[*s.ps.API.Node().Path()]
	check(t, func() {
		apiT.assert.HasResourceProperties(jsii.String("AWS::ApiGateway::Authorizer"), map[string]any{
			"Type":                         "REQUEST",
			"IdentitySource":               "method.request.header.Authorization",
			"AuthorizerResultTtlInSeconds": 60,
		})
	})
	for _, typ := range []string{"UNAUTHORIZED", "ACCESS_DENIED"} {
		check(t, func() {
			apiT.assert.HasResourceProperties(jsii.String("AWS::ApiGateway::GatewayResponse"), map[string]any{
				"ResponseType":      typ,
				"StatusCode":        "401",
				"ResponseTemplates": map[string]any{"application/json": `{"detail": "Invalid token."}`},
			})
		})
	}
	check(t, func() {
		apiT.assert.HasResourceProperties(jsii.String("AWS::ApiGateway::GatewayResponse"), map[string]any{
			"ResponseType": "MISSING_AUTHENTICATION_TOKEN", "StatusCode": "404",
		})
	})
	if fn := s.functionsByRoute(t)[stack.AuthorizerRoute]; fn.tmpl != apiT {
		t.Errorf("authorizer function in %s, want the API stack", fn.tmpl.name)
	}
}

func TestData(t *testing.T) {
	s := synth(t)
	dt := s.templates[*s.ps.Data.Node().Path()]
	gsi := func(name string) map[string]any {
		return map[string]any{
			"IndexName": name,
			"KeySchema": []any{
				map[string]any{"AttributeName": name + "pk", "KeyType": "HASH"},
				map[string]any{"AttributeName": name + "sk", "KeyType": "RANGE"},
			},
			"Projection": map[string]any{"ProjectionType": "ALL"},
		}
	}
	check(t, func() {
		dt.assert.HasResource(jsii.String("AWS::DynamoDB::Table"), map[string]any{
			"DeletionPolicy": "Retain",
			"Properties": map[string]any{
				"KeySchema": []any{
					map[string]any{"AttributeName": "pk", "KeyType": "HASH"},
					map[string]any{"AttributeName": "sk", "KeyType": "RANGE"},
				},
				"BillingMode":                      "PAY_PER_REQUEST",
				"TimeToLiveSpecification":          map[string]any{"AttributeName": "ttl", "Enabled": true},
				"PointInTimeRecoverySpecification": map[string]any{"PointInTimeRecoveryEnabled": true},
				"GlobalSecondaryIndexes": assertions.Match_ArrayWith(&[]any{
					assertions.Match_ObjectLike(ptr(gsi("gsi1"))),
					assertions.Match_ObjectLike(ptr(gsi("gsi2"))),
				}),
			},
		})
	})
	check(t, func() {
		dt.assert.HasResource(jsii.String("AWS::S3::Bucket"), map[string]any{
			"DeletionPolicy": "Retain",
			"Properties": map[string]any{
				"PublicAccessBlockConfiguration": map[string]any{
					"BlockPublicAcls": true, "BlockPublicPolicy": true, "IgnorePublicAcls": true, "RestrictPublicBuckets": true,
				},
				"LifecycleConfiguration": map[string]any{"Rules": assertions.Match_ArrayWith(&[]any{
					assertions.Match_ObjectLike(&map[string]any{
						"Status":                         "Enabled",
						"AbortIncompleteMultipartUpload": map[string]any{"DaysAfterInitiation": stack.UploadSessionDays},
					}),
				})},
				"CorsConfiguration": map[string]any{"CorsRules": assertions.Match_ArrayWith(&[]any{
					assertions.Match_ObjectLike(&map[string]any{
						"AllowedMethods": assertions.Match_ArrayWith(&[]any{"PUT", "GET"}),
						"ExposedHeaders": assertions.Match_ArrayWith(&[]any{"ETag"}),
					}),
				})},
			},
		})
	})
	// EnforceSSL is a deny statement on aws:SecureTransport=false.
	check(t, func() {
		dt.assert.HasResourceProperties(jsii.String("AWS::S3::BucketPolicy"), map[string]any{
			"PolicyDocument": map[string]any{"Statement": assertions.Match_ArrayWith(&[]any{
				assertions.Match_ObjectLike(&map[string]any{
					"Effect":    "Deny",
					"Condition": map[string]any{"Bool": map[string]any{"aws:SecureTransport": "false"}},
				}),
			})},
		})
	})
	fn := s.functionsByRoute(t)[stack.ObjectEventsRoute]
	if fn.tmpl != dt {
		t.Fatalf("object events function not in the data stack")
	}
	arn := map[string]any{"Fn::GetAtt": []any{fn.id, "Arn"}}
	check(t, func() {
		dt.assert.HasResourceProperties(jsii.String("Custom::S3BucketNotifications"), map[string]any{
			"NotificationConfiguration": map[string]any{"LambdaFunctionConfigurations": assertions.Match_ArrayWith(&[]any{
				map[string]any{"Events": []any{"s3:ObjectCreated:*"}, "LambdaFunctionArn": arn},
				map[string]any{"Events": []any{"s3:ObjectRemoved:*"}, "LambdaFunctionArn": arn},
			})},
		})
	})
	check(t, func() {
		dt.assert.HasResourceProperties(jsii.String("AWS::Lambda::EventInvokeConfig"), map[string]any{
			"FunctionName":         map[string]any{"Ref": fn.id},
			"MaximumRetryAttempts": 2,
		})
	})
}

func TestStateMachine(t *testing.T) {
	s := synth(t)
	ot := s.templates[*s.ps.Orchestration.Node().Path()]
	var sm struct {
		StateMachineType        string
		DefinitionString        json.RawMessage
		DefinitionSubstitutions map[string]json.RawMessage
		RoleArn                 json.RawMessage
		TracingConfiguration    struct{ Enabled bool }
		LoggingConfiguration    struct {
			Level                string
			IncludeExecutionData bool
			Destinations         []struct {
				CloudWatchLogsLogGroup struct{ LogGroupArn json.RawMessage }
			}
		}
	}
	ids := ot.ofType("AWS::StepFunctions::StateMachine")
	if len(ids) != 1 {
		t.Fatalf("state machines %v, want one", ids)
	}
	if err := json.Unmarshal(ot.Resources[ids[0]].Properties, &sm); err != nil {
		t.Fatal(err)
	}
	var def string
	if err := json.Unmarshal(sm.DefinitionString, &def); err != nil {
		t.Fatalf("DefinitionString is not a plain string (%v): %s", err, sm.DefinitionString)
	}
	if def != string(statemachines.Job) {
		t.Errorf("DefinitionString differs from statemachines/job.asl.json")
	}
	placeholders := asl.Placeholders(statemachines.Job)
	if got := slices.Sorted(maps.Keys(sm.DefinitionSubstitutions)); !slices.Equal(got, placeholders) {
		t.Errorf("substitutions %v, want one per placeholder %v", got, placeholders)
	}
	fns := s.functionsByRoute(t)
	subs := map[string]string{}
	var stepArns []string
	for ph, step := range lifecycle.Placeholders() {
		fn := fns[stack.StepRoute(step)]
		id := getAttArn(t, sm.DefinitionSubstitutions[ph])
		if fn.tmpl != ot || id != fn.id {
			t.Errorf("${%s} is %s's ARN, want the function with ROUTE=%s (%s)", ph, id, stack.StepRoute(step), fn.id)
		}
		subs[ph] = "arn:aws:lambda:eu-west-1:123456789012:function:" + id
		stepArns = append(stepArns, id)
	}
	// What Step Functions deploys: the file with the substitutions
	// applied, which must parse as the definition the local runner runs.
	deployed := def
	for ph, v := range subs {
		deployed = strings.ReplaceAll(deployed, "${"+ph+"}", v)
	}
	m, err := asl.Parse(statemachines.Job, subs)
	if err != nil {
		t.Fatalf("file with substitutions: %v", err)
	}
	if strings.Contains(deployed, "${") {
		t.Errorf("deployed definition keeps a placeholder")
	}
	for _, target := range m.TaskTargets() {
		if strings.HasPrefix(target, "arn:aws:lambda:") && !strings.Contains(deployed, target) {
			t.Errorf("task target %s not in the deployed definition", target)
		}
	}
	if sm.StateMachineType != "STANDARD" || !sm.TracingConfiguration.Enabled || sm.LoggingConfiguration.Level != "ALL" || len(sm.LoggingConfiguration.Destinations) != 1 {
		t.Errorf("type %s tracing %v logging %+v", sm.StateMachineType, sm.TracingConfiguration.Enabled, sm.LoggingConfiguration)
	} else {
		lg := getAttArn(t, sm.LoggingConfiguration.Destinations[0].CloudWatchLogsLogGroup.LogGroupArn)
		var lp struct{ RetentionInDays int }
		_ = json.Unmarshal(ot.Resources[lg].Properties, &lp)
		if ot.Resources[lg].Type != "AWS::Logs::LogGroup" || lp.RetentionInDays == 0 {
			t.Errorf("logs go to %s (%s), want a log group with retention", lg, ot.Resources[lg].Type)
		}
	}

	// The role invokes exactly the step functions; the rest is what
	// logging and X-Ray need, which support no resource-level permissions.
	role := getAttArn(t, sm.RoleArn)
	var invoked []string
	for _, st := range ot.statementsByRole(t)[role] {
		for _, a := range st.actions(t) {
			switch {
			case a == "lambda:InvokeFunction":
				for _, r := range st.resources(t) {
					invoked = append(invoked, getAttArn(t, r))
				}
			case strings.HasPrefix(a, "logs:") || strings.HasPrefix(a, "xray:"):
			default:
				t.Errorf("state machine role may %s", a)
			}
		}
	}
	slices.Sort(invoked)
	slices.Sort(stepArns)
	if !slices.Equal(invoked, stepArns) {
		t.Errorf("state machine may invoke %v, want exactly the steps %v", invoked, stepArns)
	}
}

func TestCompute(t *testing.T) {
	s := synth(t)
	ct := s.templates[*s.ps.Compute.Node().Path()]
	ces, queues := ct.ofType("AWS::Batch::ComputeEnvironment"), ct.ofType("AWS::Batch::JobQueue")
	if len(ces) != len(s.props.Coretypes) || len(queues) != len(s.props.Coretypes) {
		t.Errorf("%d compute environments and %d queues, want one each per enabled coretype (%d)", len(ces), len(queues), len(s.props.Coretypes))
	}
	for _, c := range s.props.Coretypes {
		var ce struct {
			Type             string
			ComputeResources struct {
				Type           string
				MinvCpus       int
				MaxvCpus       int
				InstanceTypes  []string
				LaunchTemplate struct {
					LaunchTemplateID json.RawMessage `json:"LaunchTemplateId"`
					Overrides        []struct {
						LaunchTemplateID    json.RawMessage `json:"LaunchTemplateId"`
						TargetInstanceTypes []string
					}
				}
			}
		}
		id := ct.computeEnvironmentFor(t, c.Deployment.InstanceTypeNames())
		if id == "" {
			t.Errorf("%s: no compute environment with the catalog's instance types %v", c.Code, c.Deployment.InstanceTypeNames())
			continue
		}
		if err := json.Unmarshal(ct.Resources[id].Properties, &ce); err != nil {
			t.Fatal(err)
		}
		cr := ce.ComputeResources
		wantType := "EC2"
		if s.props.Spot[c.Code] {
			wantType = "SPOT"
		}
		if !strings.EqualFold(ce.Type, "MANAGED") || cr.Type != wantType || cr.MinvCpus != 0 {
			t.Errorf("%s: %s %s minvCpus %d, want MANAGED %s 0", c.Code, ce.Type, cr.Type, cr.MinvCpus, wantType)
		}
		if want := c.Deployment.InstanceTypeNames(); !slices.Equal(slices.Sorted(slices.Values(cr.InstanceTypes)), want) {
			t.Errorf("%s: instance types %v, want the catalog's %v", c.Code, cr.InstanceTypes, want)
		}
		maxCores := slices.Max(c.Cores)
		if want := maxCores * c.Deployment.VCPUsPerCore * stack.DefaultMaxNodes; cr.MaxvCpus != want {
			t.Errorf("%s: maxvCpus %d, want %d", c.Code, cr.MaxvCpus, want)
		}
		// Each instance size's launch template sizes its root volume for
		// that size's cores; the largest is the default.
		ltOf := map[string]string{}
		largest, _ := c.Deployment.InstanceType(maxCores)
		ltOf[largest] = refID(t, cr.LaunchTemplate.LaunchTemplateID)
		for _, o := range cr.LaunchTemplate.Overrides {
			if len(o.TargetInstanceTypes) != 1 {
				t.Errorf("%s: override for %v, want one instance type each", c.Code, o.TargetInstanceTypes)
				continue
			}
			ltOf[o.TargetInstanceTypes[0]] = refID(t, o.LaunchTemplateID)
		}
		for _, cores := range c.Cores {
			it, _ := c.Deployment.InstanceType(cores)
			var lt struct {
				LaunchTemplateData struct {
					UserData struct {
						Base64 string `json:"Fn::Base64"`
					}
					BlockDeviceMappings []struct {
						DeviceName string
						Ebs        struct {
							VolumeSize int
							Encrypted  bool
						}
					}
				}
			}
			if ltOf[it] == "" || json.Unmarshal(ct.Resources[ltOf[it]].Properties, &lt) != nil {
				t.Errorf("%s: no launch template for %s", c.Code, it)
				continue
			}
			if ud := lt.LaunchTemplateData.UserData.Base64; !strings.Contains(ud, "ECS_CONTAINER_STOP_TIMEOUT="+stack.ContainerStopTimeout) || !strings.HasPrefix(ud, "MIME-Version: 1.0") {
				t.Errorf("%s %s: user data %q, want the MIME part setting the stop timeout", c.Code, it, ud)
			}
			bd := lt.LaunchTemplateData.BlockDeviceMappings
			if want := max(c.Storage*cores, 30); len(bd) != 1 || bd[0].DeviceName != stack.RootDeviceName || bd[0].Ebs.VolumeSize != want || !bd[0].Ebs.Encrypted {
				t.Errorf("%s %s: launch template volumes %+v, want %s of %d GB (storage per core x %d cores), encrypted", c.Code, it, bd, stack.RootDeviceName, want, cores)
			}
		}
	}

	// Job definitions: one set per image key, the shapes awsbatch expects.
	wantKeys := []string{awsbatch.DefaultDefinition}
	for _, im := range s.props.Images {
		wantKeys = append(wantKeys, awsbatch.DefinitionKey(im.Analysis, im.Version))
	}
	slices.Sort(wantKeys)
	if got := slices.Sorted(maps.Keys(s.ps.Compute.Definitions)); !slices.Equal(got, wantKeys) {
		t.Errorf("definition keys %v, want %v", got, wantKeys)
	}
	defs := ct.ofType("AWS::Batch::JobDefinition")
	if len(defs) != 2*len(wantKeys) {
		t.Errorf("%d job definitions, want a single and a multi-node one per image (%d)", len(defs), 2*len(wantKeys))
	}
	type containerProps struct {
		Image         json.RawMessage
		Vcpus, Memory json.RawMessage
		JobRoleArn    json.RawMessage
	}
	for _, id := range defs {
		var d struct {
			Type                string
			ContainerProperties *containerProps
			NodeProperties      *struct {
				MainNode            int
				NodeRangeProperties []struct {
					TargetNodes string
					Container   containerProps
				}
			}
			RetryStrategy struct {
				Attempts       int
				EvaluateOnExit []map[string]string
			}
		}
		if err := json.Unmarshal(ct.Resources[id].Properties, &d); err != nil {
			t.Fatal(err)
		}
		var c containerProps
		switch d.Type {
		case "container":
			c = *d.ContainerProperties
		case "multinode":
			if d.NodeProperties == nil || d.NodeProperties.MainNode != 0 || len(d.NodeProperties.NodeRangeProperties) != 1 || d.NodeProperties.NodeRangeProperties[0].TargetNodes != "0:" {
				t.Errorf("%s: node properties %+v, want main node 0 and one range 0:", id, d.NodeProperties)
				continue
			}
			c = d.NodeProperties.NodeRangeProperties[0].Container
		default:
			t.Errorf("%s: type %s", id, d.Type)
			continue
		}
		for name, v := range map[string]json.RawMessage{"vcpus": c.Vcpus, "memory": c.Memory} {
			var n int
			if json.Unmarshal(v, &n) != nil || n <= 0 {
				t.Errorf("%s: %s %s, want a positive integer", id, name, v)
			}
		}
		wantRetry := []map[string]string{{"OnStatusReason": "Host EC2*", "Action": "RETRY"}, {"OnReason": "*", "Action": "EXIT"}}
		if d.RetryStrategy.Attempts < 2 || !slices.EqualFunc(d.RetryStrategy.EvaluateOnExit, wantRetry, maps.Equal) {
			t.Errorf("%s: retry strategy %+v, want retries on lost hosts only", id, d.RetryStrategy)
		}
		// The job role holds no permissions: storage comes per job.
		if role := getAttArn(t, c.JobRoleArn); len(ct.statementsByRole(t)[role]) != 0 {
			t.Errorf("%s: job role %s has permissions %v", id, role, ct.statementsByRole(t)[role])
		}
	}

	// What the functions are told matches what was created.
	fn := s.functionsByRoute(t)[stack.StepRoute("start-run")]
	raw := fn.Properties.Environment.Variables[awsbatch.EnvDeployment]
	text := literalParts(raw)
	if text == "<ref>" {
		_ = json.Unmarshal(raw, &text)
	}
	dep, err := awsbatch.ParseDeployment(strings.ReplaceAll(text, "<ref>", "arn:x"))
	if err != nil {
		t.Fatalf("%s: %v (%s)", awsbatch.EnvDeployment, err, text)
	}
	var codes []string
	for _, c := range s.props.Coretypes {
		codes = append(codes, c.Code)
		q := dep.Queues[c.Code]
		if q.CoresPerNode != slices.Max(c.Cores) || q.VCPUsPerCore != c.Deployment.VCPUsPerCore || q.MaxNodes != 1 || q.StorageBytesPerNode != int64(c.Storage*slices.Max(c.Cores))<<30 {
			// MaxNodes 1: multi-node jobs cannot reach S3 or the API from
			// public subnets without NAT (awsvpc interfaces have no public
			// address), nor run on Spot.
			t.Errorf("%s: queue %+v, want the largest node, single-node jobs only", c.Code, q)
		}
	}
	slices.Sort(codes)
	if got := slices.Sorted(maps.Keys(dep.Queues)); !slices.Equal(got, codes) {
		t.Errorf("deployment queues %v, want %v", got, codes)
	}
	if got := slices.Sorted(maps.Keys(dep.Definitions)); !slices.Equal(got, wantKeys) {
		t.Errorf("deployment definitions %v, want %v", got, wantKeys)
	}
}

func TestEvents(t *testing.T) {
	s := synth(t)
	et := s.templates[*s.ps.Events.Node().Path()]
	fns := s.functionsByRoute(t)
	type rule struct {
		EventPattern *struct {
			Source     []string `json:"source"`
			DetailType []string `json:"detail-type"`
			Detail     struct {
				JobQueue []json.RawMessage `json:"jobQueue"`
			} `json:"detail"`
		}
		ScheduleExpression string
		Targets            []struct {
			Arn              json.RawMessage
			DeadLetterConfig *struct{ Arn json.RawMessage }
			RetryPolicy      *struct{ MaximumRetryAttempts *int }
		}
	}
	var rules []rule
	for _, id := range et.ofType("AWS::Events::Rule") {
		var r rule
		if err := json.Unmarshal(et.Resources[id].Properties, &r); err != nil {
			t.Fatal(err)
		}
		rules = append(rules, r)
	}
	var sawState, sawSchedule bool
	for _, r := range rules {
		if len(r.Targets) != 1 {
			t.Errorf("rule with %d targets", len(r.Targets))
			continue
		}
		target := getAttArn(t, r.Targets[0].Arn)
		switch {
		case r.EventPattern != nil:
			sawState = true
			if !slices.Equal(r.EventPattern.Source, []string{"aws.batch"}) || !slices.Equal(r.EventPattern.DetailType, []string{"Batch Job State Change"}) {
				t.Errorf("state rule pattern %+v", r.EventPattern)
			}
			if len(r.EventPattern.Detail.JobQueue) != len(s.props.Coretypes) {
				t.Errorf("state rule matches %d queues, want the %d of the platform", len(r.EventPattern.Detail.JobQueue), len(s.props.Coretypes))
			}
			if target != fns[stack.BatchJobStateRoute].id || r.Targets[0].DeadLetterConfig == nil || r.Targets[0].RetryPolicy == nil {
				t.Errorf("state rule target %s dlq %v retry %v, want %s with both", target, r.Targets[0].DeadLetterConfig, r.Targets[0].RetryPolicy, fns[stack.BatchJobStateRoute].id)
			}
		case r.ScheduleExpression != "":
			sawSchedule = true
			if r.ScheduleExpression != fmt.Sprintf("rate(%d minutes)", stack.ReconcileEveryMinutes) || target != fns[stack.ReconcileRoute].id {
				t.Errorf("schedule %s to %s, want the reconciler every %d minutes", r.ScheduleExpression, target, stack.ReconcileEveryMinutes)
			}
		}
	}
	if !sawState || !sawSchedule {
		t.Errorf("state change rule %v, schedule %v: want both", sawState, sawSchedule)
	}
}

func TestConsole(t *testing.T) {
	s := synth(t)
	cons := s.templates[*s.ps.Console.Node().Path()]
	check(t, func() {
		cons.assert.HasResourceProperties(jsii.String("AWS::CloudFront::Distribution"), map[string]any{
			"DistributionConfig": assertions.Match_ObjectLike(&map[string]any{
				"DefaultRootObject": "index.html",
				"DefaultCacheBehavior": assertions.Match_ObjectLike(&map[string]any{
					"ViewerProtocolPolicy":    "redirect-to-https",
					"ResponseHeadersPolicyId": assertions.Match_AnyValue(),
				}),
				"CacheBehaviors": assertions.Match_ArrayWith(&[]any{assertions.Match_ObjectLike(&map[string]any{
					"PathPattern":    "/api/*",
					"AllowedMethods": assertions.Match_ArrayWith(&[]any{"PUT", "PATCH", "POST", "DELETE"}),
				})}),
				"Origins": assertions.Match_ArrayWith(&[]any{assertions.Match_ObjectLike(&map[string]any{
					"OriginPath": "/" + stack.StageName,
				})}),
			}),
		})
	})
	check(t, func() { cons.assert.ResourceCountIs(jsii.String("Custom::CDKBucketDeployment"), jsii.Number(1)) })
}

// Actions that support no resource-level permissions (Service
// Authorization Reference), so "*" is the narrowest resource they take.
var starOnly = regexp.MustCompile(`^(batch:DescribeJobs|ecr:GetAuthorizationToken|xray:(PutTraceSegments|PutTelemetryRecords|GetSamplingRules|GetSamplingTargets)|logs:(CreateLogDelivery|GetLogDelivery|UpdateLogDelivery|DeleteLogDelivery|ListLogDeliveries|PutResourcePolicy|DescribeResourcePolicies|DescribeLogGroups))$`)

func TestIAMNarrow(t *testing.T) {
	s := synth(t)
	for name, tm := range s.templates {
		for role, stmts := range tm.statementsByRole(t) {
			for _, st := range stmts {
				if st.Effect != "Allow" {
					continue
				}
				star := slices.ContainsFunc(st.resources(t), func(r json.RawMessage) bool { return string(r) == `"*"` })
				for _, a := range st.actions(t) {
					if a == "*" || strings.HasSuffix(a, ":*") {
						t.Errorf("%s: role %s may %s", name, role, a)
					}
					if star && !starOnly.MatchString(a) {
						t.Errorf("%s: role %s may %s on *, which takes a narrower resource", name, role, a)
					}
				}
			}
		}
	}
}

func TestUploadRoles(t *testing.T) {
	s := synth(t)
	fns := s.functionsByRoute(t)
	roles := 0
	for _, g := range s.ps.RouteGroups {
		gt := s.templates[*g.Node().Path()]
		issuers := map[string]bool{}
		var roleID string
		for _, rt := range g.Routes {
			fn := fns[rt.Name]
			raw, has := fn.Properties.Environment.Variables[stack.EnvUploadRole]
			if needs := slices.Contains(rt.Needs, httpapi.IssueUploadCredentials); needs != has {
				t.Errorf("%s: needs IssueUploadCredentials %v, has %s %v", rt.Name, needs, stack.EnvUploadRole, has)
			}
			if !has {
				continue
			}
			issuers[fn.role] = true
			id := getAttArn(t, raw)
			if roleID != "" && id != roleID {
				t.Errorf("%s: %s is %s's, others %s's", rt.Name, stack.EnvUploadRole, id, roleID)
			}
			roleID = id
		}
		if roleID == "" {
			continue
		}
		roles++
		var rp struct {
			MaxSessionDuration       int
			AssumeRolePolicyDocument struct{ Statement []statement }
		}
		if err := json.Unmarshal(gt.Resources[roleID].Properties, &rp); err != nil || gt.Resources[roleID].Type != "AWS::IAM::Role" {
			t.Fatalf("%s refers to %s, not a role (%v)", stack.EnvUploadRole, roleID, err)
		}
		if rp.MaxSessionDuration != 3600 {
			t.Errorf("max session duration %d s, want 3600", rp.MaxSessionDuration)
		}
		trusted := map[string]bool{}
		for _, st := range rp.AssumeRolePolicyDocument.Statement {
			var p struct{ AWS json.RawMessage }
			if err := json.Unmarshal(st.Principal, &p); err != nil || p.AWS == nil {
				t.Errorf("trust statement principal %s: want function roles only", st.Principal)
				continue
			}
			trusted[getAttArn(t, p.AWS)] = true
		}
		if !maps.Equal(trusted, issuers) {
			t.Errorf("role trusts %v, want exactly the issuing functions' roles %v", slices.Sorted(maps.Keys(trusted)), slices.Sorted(maps.Keys(issuers)))
		}
		objectActions := []string{"s3:PutObject", "s3:GetObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"}
		for _, st := range gt.statementsByRole(t)[roleID] {
			for _, a := range st.actions(t) {
				res := string(st.Resource)
				switch {
				case slices.Contains(objectActions, a):
					if !strings.Contains(res, `"/user/*"`) {
						t.Errorf("%s on %s, want objects under user/ only", a, res)
					}
				case a == "s3:ListBucket":
				default:
					t.Errorf("upload role may %s on %s", a, res)
				}
			}
		}
		// sts:AssumeRole only for the issuers, and only on their role.
		for r, stmts := range gt.statementsByRole(t) {
			for _, st := range stmts {
				if !slices.ContainsFunc(st.actions(t), func(a string) bool { return strings.HasPrefix(a, "sts:") }) {
					continue
				}
				if !issuers[r] || getAttArn(t, st.Resource) != roleID {
					t.Errorf("role %s may %v on %s", r, st.actions(t), st.Resource)
				}
			}
		}
	}
	if roles == 0 {
		t.Error("no route needs IssueUploadCredentials; the route table changed, adjust the test")
	}
}

func TestGrants(t *testing.T) {
	s := synth(t)
	fns := s.functionsByRoute(t)
	writes := []string{"dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem"}
	cases := []struct {
		needs          []httpapi.Permission
		want, wantNone []string
	}{
		{needs: []httpapi.Permission{httpapi.TableRead}, want: []string{"dynamodb:GetItem", "dynamodb:Query"}, wantNone: append(slices.Clone(writes), "s3:*", "states:*", "batch:*")},
		{needs: []httpapi.Permission{httpapi.TableRead, httpapi.TableWrite}, want: append([]string{"dynamodb:GetItem"}, writes...), wantNone: []string{"s3:*", "states:*", "batch:*"}},
	}
	tested := map[string]bool{}
	for _, c := range cases {
		for _, rt := range s.props.Routes {
			if !slices.Equal(rt.Needs, c.needs) {
				continue
			}
			tested[fmt.Sprint(c.needs)] = true
			fn := fns[rt.Name]
			actions := fn.tmpl.actionsByRole(t)[fn.role]
			for _, a := range c.want {
				if !actions[a] {
					t.Errorf("%s (needs %v) lacks %s", rt.Name, rt.Needs, a)
				}
			}
			for _, a := range c.wantNone {
				for have := range actions {
					if have == a || (strings.HasSuffix(a, "*") && strings.HasPrefix(have, strings.TrimSuffix(a, "*"))) {
						t.Errorf("%s (needs %v) may %s", rt.Name, rt.Needs, have)
					}
				}
			}
		}
	}
	if len(tested) != len(cases) {
		t.Errorf("no route needs exactly some case's permissions (%v tested); the route table changed, adjust the cases", tested)
	}
	// Lifecycle permissions: the route that needs each has it, others not.
	for _, rt := range s.props.Routes {
		fn := fns[rt.Name]
		actions := fn.tmpl.actionsByRole(t)[fn.role]
		for need, action := range map[httpapi.Permission]string{
			httpapi.StartExecution: "states:StartExecution",
			httpapi.StopExecution:  "states:StopExecution",
			httpapi.ComputeControl: "batch:TerminateJob",
		} {
			if has, wants := actions[action], slices.Contains(rt.Needs, need); has != wants {
				t.Errorf("%s: needs %s %v, may %s %v", rt.Name, need, wants, action, has)
			}
		}
		if actions["batch:SubmitJob"] {
			t.Errorf("%s: route may batch:SubmitJob; only the start-run step submits", rt.Name)
		}
	}
	sub := fns[stack.StepRoute("start-run")]
	if !sub.tmpl.actionsByRole(t)[sub.role]["batch:SubmitJob"] {
		t.Errorf("start-run step cannot submit")
	}
	for _, route := range []string{stack.BatchJobStateRoute, stack.ReconcileRoute} {
		fn := fns[route]
		actions := fn.tmpl.actionsByRole(t)[fn.role]
		for _, a := range []string{"states:SendTaskSuccess", "states:SendTaskFailure", "states:StartExecution", "states:DescribeExecution", "batch:TerminateJob", "batch:DescribeJobs"} {
			if !actions[a] {
				t.Errorf("%s may not %s (lifecycle.Orchestrator and the Batch adapter)", route, a)
			}
		}
		if actions["batch:SubmitJob"] {
			t.Errorf("%s may batch:SubmitJob; only the start-run step submits", route)
		}
	}
}

// requireNode fails rather than skips: the synth test is the only check of
// the deployment, and a silently skipped one would hide a broken stack.
// (awscdk's package initialisation already starts the jsii node process, so
// without node the test binary usually dies before this runs: a failure all
// the same. For the same reason the JSII_SILENCE_WARNING_* variables only
// work when set in the environment of `go test`, not from here.)
func requireNode(t testing.TB) {
	t.Helper()
	if _, err := exec.LookPath("node"); err != nil {
		t.Fatalf("node is required to synthesise the CDK stack (jsii runs aws-cdk-lib in node): %v", err)
	}
}

// fakeDir is a stand-in for a built asset: synthesis only hashes and
// copies it.
func fakeDir(t testing.TB, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// check turns an assertions failure, which jsii raises as a panic, into a
// test error.
func check(t *testing.T, f func()) {
	t.Helper()
	defer func() {
		if p := recover(); p != nil {
			t.Error(p)
		}
	}()
	f()
}

func ptr[T any](v T) *T { return &v }

// TestImportedVpc synthesises with vpcId and privateSubnets: the compute
// runs in the looked-up VPC's private subnets, no VPC is created, and
// multi-node jobs are allowed where Batch supports them. Offline, CDK answers the
// lookup with its dummy VPC and records the missing context, as cdk synth
// does before it asks AWS.
func TestImportedVpc(t *testing.T) {
	requireNode(t)
	p := goodProps(t)
	p.VpcID = "vpc-0123456789abcdef0"
	p.PrivateSubnets = true
	p.Env = &awscdk.Environment{Account: jsii.String("123456789012"), Region: jsii.String("eu-west-1")}
	app := awscdk.NewApp(&awscdk.AppProps{Outdir: jsii.String(t.TempDir())})
	ps, err := stack.NewPlatformStack(app, "Imported", p)
	if err != nil {
		t.Fatal(err)
	}
	tm := decode(t, assertions.Template_FromStack(ps.Compute.Stack, nil))
	if vpcs := tm.ofType("AWS::EC2::VPC"); len(vpcs) != 0 {
		t.Errorf("created VPCs %v, want the imported one only", vpcs)
	}
	var public, private []string
	for _, sn := range *ps.Compute.Vpc.PublicSubnets() {
		public = append(public, *sn.SubnetId())
	}
	for _, sn := range *ps.Compute.Vpc.PrivateSubnets() {
		private = append(private, *sn.SubnetId())
	}
	slices.Sort(public)
	slices.Sort(private)
	if len(public) == 0 || len(private) == 0 {
		t.Fatalf("looked-up VPC: public %v private %v; CDK's dummy VPC has both", public, private)
	}
	for _, id := range tm.ofType("AWS::Batch::ComputeEnvironment") {
		var ce struct{ ComputeResources struct{ Subnets []string } }
		if err := json.Unmarshal(tm.Resources[id].Properties, &ce); err != nil {
			t.Fatal(err)
		}
		if got := slices.Sorted(slices.Values(ce.ComputeResources.Subnets)); !slices.Equal(got, private) {
			t.Errorf("%s: subnets %v, want the looked-up VPC's private subnets %v (not the public %v)", id, got, private, public)
		}
	}
	// Multi-node jobs where Batch can run them: private subnets, not Spot.
	for _, c := range p.Coretypes {
		want := stack.DefaultMaxNodes
		if p.Spot[c.Code] {
			want = 1
		}
		if got := ps.Compute.Deployment.Queues[c.Code].MaxNodes; got != want {
			t.Errorf("%s (spot %v): MaxNodes %d, want %d", c.Code, p.Spot[c.Code], got, want)
		}
	}
}
