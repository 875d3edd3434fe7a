package stack_test

import (
	"encoding/json"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"

	"github.com/openrescale/platform/functions/api"
	"github.com/openrescale/platform/infra/stack"
	"github.com/openrescale/platform/shared/httpapi"
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
	asset := fakeAsset(t)
	ok := httpapi.Route{Name: "a", Method: "GET", Path: "/api/v2/a/"}
	cases := map[string]stack.Props{
		"no asset dir":         {Routes: []httpapi.Route{ok}},
		"asset missing":        {AssetDir: t.TempDir(), Routes: []httpapi.Route{ok}},
		"reserved name":        {AssetDir: asset, Routes: []httpapi.Route{{Name: stack.AuthorizerRoute, Method: "GET", Path: "/x/"}}},
		"reserved events name": {AssetDir: asset, Routes: []httpapi.Route{{Name: stack.ObjectEventsRoute, Method: "GET", Path: "/x/"}}},
		"duplicate name":       {AssetDir: asset, Routes: []httpapi.Route{ok, ok}},
		"slash-only clash":     {AssetDir: asset, Routes: []httpapi.Route{ok, {Name: "b", Method: "GET", Path: "/api/v2/a"}}},
		"unknown permission":   {AssetDir: asset, Routes: []httpapi.Route{{Name: "c", Method: "GET", Path: "/c/", Needs: []httpapi.Permission{"queue:send"}}}},
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

// TestStack synthesises the stack once from the real route table and checks
// the template against it.
func TestStack(t *testing.T) {
	requireNode(t)
	routes := api.Routes(api.Deps{})

	app := awscdk.NewApp(&awscdk.AppProps{Outdir: jsii.String(t.TempDir())})
	ps, err := stack.NewPlatformStack(app, "Test", stack.Props{Routes: routes, AssetDir: fakeAsset(t)})
	if err != nil {
		t.Fatal(err)
	}
	tpl := assertions.Template_FromStack(ps.Stack, nil)
	tm := decode(t, tpl)

	t.Run("functions", func(t *testing.T) {
		// Routes, the authorizer, the object events function, and CDK's own
		// handler that configures the bucket's notifications.
		check(t, func() { tpl.ResourceCountIs(jsii.String("AWS::Lambda::Function"), jsii.Number(len(routes)+3)) })
		byRoute := functionsByRoute(t, tm)
		if len(byRoute) != len(routes)+2 {
			t.Errorf("%d functions with ROUTE, want %d: %v", len(byRoute), len(routes)+2, keys(byRoute))
		}
		for _, rt := range append(slices.Clone(routes), httpapi.Route{Name: stack.AuthorizerRoute}) {
			fn, ok := byRoute[rt.Name]
			if !ok {
				t.Errorf("no function with ROUTE=%s", rt.Name)
				continue
			}
			p := fn.Properties
			if p.Runtime != "provided.al2023" || p.Handler != "bootstrap" || !slices.Equal(p.Architectures, []string{"arm64"}) || p.MemorySize != 256 || p.Timeout != 29 {
				t.Errorf("%s: runtime %s handler %s arch %v memory %d timeout %d", rt.Name, p.Runtime, p.Handler, p.Architectures, p.MemorySize, p.Timeout)
			}
			want := []string{"ROUTE", "TABLE_NAME"}
			if rt.Name != stack.AuthorizerRoute {
				want = append(want, "BUCKET_NAME")
			}
			for _, v := range want {
				if _, ok := p.Environment.Variables[v]; !ok {
					t.Errorf("%s: environment lacks %s", rt.Name, v)
				}
			}
		}
	})

	t.Run("table", func(t *testing.T) {
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
			tpl.HasResource(jsii.String("AWS::DynamoDB::Table"), map[string]any{
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
	})

	t.Run("bucket", func(t *testing.T) {
		check(t, func() {
			tpl.HasResource(jsii.String("AWS::S3::Bucket"), map[string]any{
				"DeletionPolicy": "Retain",
				"Properties": map[string]any{
					"PublicAccessBlockConfiguration": map[string]any{
						"BlockPublicAcls": true, "BlockPublicPolicy": true, "IgnorePublicAcls": true, "RestrictPublicBuckets": true,
					},
					"BucketEncryption": assertions.Match_ObjectLike(&map[string]any{
						"ServerSideEncryptionConfiguration": []any{map[string]any{
							"ServerSideEncryptionByDefault": map[string]any{"SSEAlgorithm": "AES256"},
						}},
					}),
				},
			})
		})
		check(t, func() {
			tpl.HasResourceProperties(jsii.String("AWS::S3::Bucket"), map[string]any{
				"LifecycleConfiguration": map[string]any{"Rules": assertions.Match_ArrayWith(&[]any{
					assertions.Match_ObjectLike(&map[string]any{
						"Status":                         "Enabled",
						"AbortIncompleteMultipartUpload": map[string]any{"DaysAfterInitiation": stack.UploadSessionDays},
					}),
				})},
				"CorsConfiguration": map[string]any{"CorsRules": assertions.Match_ArrayWith(&[]any{
					assertions.Match_ObjectLike(&map[string]any{
						"AllowedMethods": assertions.Match_ArrayWith(&[]any{"PUT", "GET"}),
						"AllowedOrigins": []any{"*"},
						"ExposedHeaders": assertions.Match_ArrayWith(&[]any{"ETag"}),
					}),
				})},
			})
		})
		// EnforceSSL is a deny statement on aws:SecureTransport=false.
		check(t, func() {
			tpl.HasResourceProperties(jsii.String("AWS::S3::BucketPolicy"), map[string]any{
				"PolicyDocument": map[string]any{"Statement": assertions.Match_ArrayWith(&[]any{
					assertions.Match_ObjectLike(&map[string]any{
						"Effect":    "Deny",
						"Condition": map[string]any{"Bool": map[string]any{"aws:SecureTransport": "false"}},
					}),
				})},
			})
		})
	})

	t.Run("methods", func(t *testing.T) {
		methods := methodsByKey(t, tm)
		if len(methods) != len(routes) {
			t.Errorf("%d methods, want one per route (%d): %v", len(methods), len(routes), keys(methods))
		}
		byRoute := functionsByRoute(t, tm)
		for _, rt := range routes {
			rp, err := stack.ResourcePath(rt.Path)
			if err != nil {
				t.Fatal(err)
			}
			key := rt.Method + " " + rp
			m, ok := methods[key]
			if !ok {
				t.Errorf("%s: no method %s; have %v", rt.Name, key, keys(methods))
				continue
			}
			wantAuth := "CUSTOM"
			if rt.Public {
				wantAuth = "NONE"
			}
			if m.AuthorizationType != wantAuth || (wantAuth == "CUSTOM") != (m.AuthorizerID != nil) {
				t.Errorf("%s: authorization %s (authorizer %v), want %s", key, m.AuthorizationType, m.AuthorizerID, wantAuth)
			}
			if m.Integration.Type != "AWS_PROXY" || !strings.Contains(string(m.Integration.URI), `"`+byRoute[rt.Name].id+`"`) {
				t.Errorf("%s: integration %s %s, want AWS_PROXY to %s", key, m.Integration.Type, m.Integration.URI, byRoute[rt.Name].id)
			}
		}
	})

	t.Run("authorizer", func(t *testing.T) {
		check(t, func() {
			tpl.HasResourceProperties(jsii.String("AWS::ApiGateway::Authorizer"), map[string]any{
				"Type":                         "REQUEST",
				"IdentitySource":               "method.request.header.Authorization",
				"AuthorizerResultTtlInSeconds": 60,
			})
		})
		for _, typ := range []string{"UNAUTHORIZED", "ACCESS_DENIED"} {
			check(t, func() {
				tpl.HasResourceProperties(jsii.String("AWS::ApiGateway::GatewayResponse"), map[string]any{
					"ResponseType":      typ,
					"StatusCode":        "401",
					"ResponseTemplates": map[string]any{"application/json": `{"detail": "Invalid token."}`},
				})
			})
		}
		check(t, func() {
			tpl.HasResourceProperties(jsii.String("AWS::ApiGateway::Stage"), map[string]any{
				"StageName": "prod",
				"MethodSettings": assertions.Match_ArrayWith(&[]any{assertions.Match_ObjectLike(&map[string]any{
					"ThrottlingRateLimit":  stack.DefaultRateLimit,
					"ThrottlingBurstLimit": stack.DefaultBurstLimit,
				})}),
			})
		})
	})

	t.Run("permissions", func(t *testing.T) {
		byRoute := functionsByRoute(t, tm)
		perRole := actionsByRole(t, tm)
		writes := []string{"dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem"}
		cases := []struct {
			needs          []httpapi.Permission
			want, wantNone []string
		}{
			{needs: []httpapi.Permission{httpapi.TableRead}, want: []string{"dynamodb:GetItem", "dynamodb:Query"}, wantNone: append(slices.Clone(writes), "s3:*")},
			{needs: []httpapi.Permission{httpapi.TableRead, httpapi.TableWrite}, want: append([]string{"dynamodb:GetItem"}, writes...), wantNone: []string{"s3:*"}},
		}
		for _, c := range cases {
			tested := 0
			for _, rt := range routes {
				if !slices.Equal(rt.Needs, c.needs) {
					continue
				}
				tested++
				actions := perRole[byRoute[rt.Name].role]
				for _, a := range c.want {
					if !actions[a] {
						t.Errorf("%s (needs %v) lacks %s: %v", rt.Name, rt.Needs, a, actions)
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
			if tested == 0 {
				t.Errorf("no route needs exactly %v; the route table changed, adjust the cases", c.needs)
			}
		}
	})

	t.Run("object events", func(t *testing.T) {
		fn, ok := functionsByRoute(t, tm)[stack.ObjectEventsRoute]
		if !ok {
			t.Fatalf("no function with ROUTE=%s", stack.ObjectEventsRoute)
		}
		for _, v := range []string{"TABLE_NAME", "BUCKET_NAME"} {
			if _, ok := fn.Properties.Environment.Variables[v]; !ok {
				t.Errorf("environment lacks %s", v)
			}
		}
		if fn.Properties.ReservedConcurrentExecutions != nil {
			t.Errorf("reserved concurrency %d: a cap would throttle S3's deliveries into retries", *fn.Properties.ReservedConcurrentExecutions)
		}
		actions := actionsByRole(t, tm)[fn.role]
		for _, a := range []string{"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "s3:GetObject*"} {
			if !actions[a] {
				t.Errorf("lacks %s: %v", a, actions)
			}
		}
		for _, a := range []string{"s3:PutObject", "s3:DeleteObject*", "sts:AssumeRole"} {
			if actions[a] {
				t.Errorf("may %s", a)
			}
		}
		arn := map[string]any{"Fn::GetAtt": []any{fn.id, "Arn"}}
		check(t, func() {
			tpl.HasResourceProperties(jsii.String("Custom::S3BucketNotifications"), map[string]any{
				"NotificationConfiguration": map[string]any{"LambdaFunctionConfigurations": assertions.Match_ArrayWith(&[]any{
					map[string]any{"Events": []any{"s3:ObjectCreated:*"}, "LambdaFunctionArn": arn},
					map[string]any{"Events": []any{"s3:ObjectRemoved:*"}, "LambdaFunctionArn": arn},
				})},
			})
		})
		check(t, func() {
			tpl.HasResourceProperties(jsii.String("AWS::Lambda::Permission"), map[string]any{
				"Action": "lambda:InvokeFunction", "Principal": "s3.amazonaws.com", "FunctionName": arn,
			})
		})
		check(t, func() {
			tpl.HasResourceProperties(jsii.String("AWS::Lambda::EventInvokeConfig"), map[string]any{
				"FunctionName":         map[string]any{"Ref": fn.id},
				"MaximumRetryAttempts": 2,
				"DestinationConfig": map[string]any{"OnFailure": map[string]any{
					"Destination": map[string]any{"Fn::GetAtt": assertions.Match_ArrayWith(&[]any{"Arn"})},
				}},
			})
		})
		check(t, func() { tpl.ResourceCountIs(jsii.String("AWS::SQS::Queue"), jsii.Number(1)) })
	})

	t.Run("upload role", func(t *testing.T) {
		byRoute := functionsByRoute(t, tm)
		issuers := map[string]bool{} // function roles that may assume it
		var roleID string
		for _, rt := range routes {
			fn := byRoute[rt.Name]
			raw, has := fn.Properties.Environment.Variables["UPLOAD_ROLE_ARN"]
			if needs := slices.Contains(rt.Needs, httpapi.IssueUploadCredentials); needs != has {
				t.Errorf("%s: needs IssueUploadCredentials %v, has UPLOAD_ROLE_ARN %v", rt.Name, needs, has)
			}
			if !has {
				continue
			}
			issuers[fn.role] = true
			id := getAttArn(t, raw)
			if roleID != "" && id != roleID {
				t.Errorf("%s: UPLOAD_ROLE_ARN is %s's, others %s's", rt.Name, id, roleID)
			}
			roleID = id
		}
		if roleID == "" {
			t.Fatal("no route needs IssueUploadCredentials; the route table changed, adjust the test")
		}
		role, ok := tm.Resources[roleID]
		if !ok || role.Type != "AWS::IAM::Role" {
			t.Fatalf("UPLOAD_ROLE_ARN refers to %s, not a role", roleID)
		}
		var rp struct {
			MaxSessionDuration       int
			AssumeRolePolicyDocument struct{ Statement []statement }
		}
		if err := json.Unmarshal(role.Properties, &rp); err != nil {
			t.Fatal(err)
		}
		if rp.MaxSessionDuration != 3600 {
			t.Errorf("max session duration %d s, want 3600", rp.MaxSessionDuration)
		}
		trusted := map[string]bool{}
		for _, s := range rp.AssumeRolePolicyDocument.Statement {
			var p struct{ AWS json.RawMessage }
			if err := json.Unmarshal(s.Principal, &p); err != nil || p.AWS == nil {
				t.Errorf("trust statement principal %s: want function roles only", s.Principal)
				continue
			}
			trusted[getAttArn(t, p.AWS)] = true
		}
		if !maps.Equal(trusted, issuers) {
			t.Errorf("role trusts %v, want exactly the issuing functions' roles %v", keys(trusted), keys(issuers))
		}

		// Identity side: sts:AssumeRole on the upload role, and only there,
		// only for the issuers.
		for roleRef, stmts := range statementsByRole(t, tm) {
			for _, s := range stmts {
				if s.Effect != "Allow" || !slices.ContainsFunc(s.actions(t), func(a string) bool { return strings.HasPrefix(a, "sts:") }) {
					continue
				}
				if !issuers[roleRef] {
					t.Errorf("role %s may %v", roleRef, s.actions(t))
				}
				if id := getAttArn(t, s.Resource); id != roleID {
					t.Errorf("role %s may assume %s", roleRef, id)
				}
			}
		}
		for r := range issuers {
			if !actionsByRole(t, tm)[r]["sts:AssumeRole"] {
				t.Errorf("issuing function role %s lacks sts:AssumeRole", r)
			}
		}

		// The role's own permissions bound every session to user/.
		objectActions := []string{"s3:PutObject", "s3:GetObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"}
		var granted []string
		for _, s := range statementsByRole(t, tm)[roleID] {
			if s.Effect != "Allow" {
				continue
			}
			res := string(s.Resource)
			for _, a := range s.actions(t) {
				granted = append(granted, a)
				switch {
				case slices.Contains(objectActions, a):
					if !strings.Contains(res, `"/user/*"`) {
						t.Errorf("%s on %s, want objects under user/ only", a, res)
					}
				case a == "s3:ListBucket":
					if res != `{"Fn::GetAtt":["`+bucketID(t, tm)+`","Arn"]}` {
						t.Errorf("%s on %s, want the files bucket", a, res)
					}
				default:
					t.Errorf("upload role may %s on %s", a, res)
				}
			}
		}
		slices.Sort(granted)
		want := append(slices.Clone(objectActions), "s3:ListBucket")
		slices.Sort(want)
		if !slices.Equal(granted, want) {
			t.Errorf("upload role may %v, want %v", granted, want)
		}
	})

	// CloudFormation refuses a template of more than 500 resources, and
	// every route costs about five (function, role, policy, permission,
	// method), so the route table's growth is checked here.
	t.Run("resource limit", func(t *testing.T) {
		const limit = 500
		t.Logf("%d resources for %d routes", len(tm.Resources), len(routes))
		if n := len(tm.Resources); n >= limit {
			t.Errorf("%d resources, CloudFormation allows at most %d per stack", n, limit)
		}
	})

	t.Run("outputs", func(t *testing.T) {
		for _, o := range []string{"ApiUrl", "TableName", "BucketName"} {
			check(t, func() { tpl.HasOutput(jsii.String(o), map[string]any{}) })
		}
	})
}

// requireNode fails rather than skips: the synth test is the only check of
// the deployment, and a silently skipped one would hide a broken stack.
// (awscdk's package initialisation already starts the jsii node process, so
// without node the test binary usually dies before this runs: a failure all
// the same. For the same reason the JSII_SILENCE_WARNING_* variables only
// work when set in the environment of `go test`, not from here.)
func requireNode(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("node"); err != nil {
		t.Fatalf("node is required to synthesise the CDK stack (jsii runs aws-cdk-lib in node): %v", err)
	}
}

// fakeAsset is a stand-in for the built binary: synthesis only hashes and
// copies it.
func fakeAsset(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "bootstrap"), []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
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

// template is the part of the CloudFormation template the checks read.
type template struct {
	Resources map[string]struct {
		Type       string
		Properties json.RawMessage
	}
}

func decode(t *testing.T, tpl assertions.Template) template {
	t.Helper()
	b, err := json.Marshal(tpl.ToJSON())
	if err != nil {
		t.Fatal(err)
	}
	var out template
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

type function struct {
	id, role   string
	Properties struct {
		Runtime, Handler string
		Architectures    []string
		MemorySize       int
		Timeout          int
		Environment      struct{ Variables map[string]json.RawMessage }
		// ReservedConcurrentExecutions is a pointer so absence shows.
		ReservedConcurrentExecutions *int
		Role                         struct {
			GetAtt []string `json:"Fn::GetAtt"`
		}
	}
}

func functionsByRoute(t *testing.T, tm template) map[string]function {
	t.Helper()
	out := map[string]function{}
	for id, r := range tm.Resources {
		if r.Type != "AWS::Lambda::Function" {
			continue
		}
		var f function
		if err := json.Unmarshal(r.Properties, &f.Properties); err != nil {
			t.Fatal(err)
		}
		f.id = id
		if len(f.Properties.Role.GetAtt) > 0 {
			f.role = f.Properties.Role.GetAtt[0]
		}
		if _, ok := f.Properties.Environment.Variables["ROUTE"]; !ok {
			continue // CDK's own, e.g. the bucket notifications handler
		}
		var route string
		if err := json.Unmarshal(f.Properties.Environment.Variables["ROUTE"], &route); err != nil {
			t.Errorf("function %s: ROUTE is not a plain string: %v", id, err)
			continue
		}
		if _, dup := out[route]; dup {
			t.Errorf("two functions with ROUTE=%s", route)
		}
		out[route] = f
	}
	return out
}

type method struct {
	HTTPMethod        string          `json:"HttpMethod"`
	ResourceID        json.RawMessage `json:"ResourceId"`
	AuthorizationType string
	AuthorizerID      json.RawMessage `json:"AuthorizerId"`
	Integration       struct {
		Type string
		URI  json.RawMessage `json:"Uri"`
	}
}

// methodsByKey indexes methods by "METHOD /full/path", rebuilding each
// resource's path from its PathPart and ParentId chain.
func methodsByKey(t *testing.T, tm template) map[string]method {
	t.Helper()
	type resource struct {
		PathPart string
		ParentID struct {
			Ref string
		} `json:"ParentId"`
	}
	resources := map[string]resource{}
	for id, r := range tm.Resources {
		if r.Type == "AWS::ApiGateway::Resource" {
			var res resource
			if err := json.Unmarshal(r.Properties, &res); err != nil {
				t.Fatal(err)
			}
			resources[id] = res
		}
	}
	var pathOf func(id string, depth int) string
	pathOf = func(id string, depth int) string {
		res, ok := resources[id]
		if !ok || depth > 50 {
			return "" // the root: its parent is the API's RootResourceId
		}
		return pathOf(res.ParentID.Ref, depth+1) + "/" + res.PathPart
	}
	out := map[string]method{}
	for id, r := range tm.Resources {
		if r.Type != "AWS::ApiGateway::Method" {
			continue
		}
		var m method
		if err := json.Unmarshal(r.Properties, &m); err != nil {
			t.Fatal(err)
		}
		var ref struct{ Ref string }
		p := "/"
		if json.Unmarshal(m.ResourceID, &ref) == nil && ref.Ref != "" {
			p = pathOf(ref.Ref, 0)
		}
		key := m.HTTPMethod + " " + p
		if _, dup := out[key]; dup {
			t.Errorf("method %s (%s) defined twice", key, id)
		}
		out[key] = m
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

// actions reads Action, which IAM allows as one string or a list.
func (s statement) actions(t *testing.T) []string {
	t.Helper()
	var actions []string
	if err := json.Unmarshal(s.Action, &actions); err != nil {
		var one string
		if err := json.Unmarshal(s.Action, &one); err != nil {
			t.Fatalf("action %s: %v", s.Action, err)
		}
		actions = []string{one}
	}
	return actions
}

// statementsByRole collects the statements of the policies attached to each
// role, by the role's logical ID.
func statementsByRole(t *testing.T, tm template) map[string][]statement {
	t.Helper()
	type policy struct {
		PolicyDocument struct{ Statement []statement }
		Roles          []struct{ Ref string }
	}
	out := map[string][]statement{}
	for id, r := range tm.Resources {
		if r.Type != "AWS::IAM::Policy" {
			continue
		}
		var p policy
		if err := json.Unmarshal(r.Properties, &p); err != nil {
			t.Fatalf("policy %s: %v", id, err)
		}
		for _, role := range p.Roles {
			out[role.Ref] = append(out[role.Ref], p.PolicyDocument.Statement...)
		}
	}
	return out
}

// actionsByRole collects every IAM action allowed to each role.
func actionsByRole(t *testing.T, tm template) map[string]map[string]bool {
	t.Helper()
	out := map[string]map[string]bool{}
	for role, stmts := range statementsByRole(t, tm) {
		for _, s := range stmts {
			if s.Effect != "Allow" {
				continue
			}
			if out[role] == nil {
				out[role] = map[string]bool{}
			}
			for _, a := range s.actions(t) {
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

// bucketID is the files bucket's logical ID, the stack's only bucket.
func bucketID(t *testing.T, tm template) string {
	t.Helper()
	var ids []string
	for id, r := range tm.Resources {
		if r.Type == "AWS::S3::Bucket" {
			ids = append(ids, id)
		}
	}
	if len(ids) != 1 {
		t.Fatalf("buckets %v, want exactly one", ids)
	}
	return ids[0]
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
