package main

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambda/messages"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/batch"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/openrescale/platform/cmd/lambda/lambdatier"
	"github.com/openrescale/platform/functions/api"
	"github.com/openrescale/platform/shared/accounts"
	"github.com/openrescale/platform/shared/awslocal/motoserver"
	"github.com/openrescale/platform/shared/compute/awsbatch"
	"github.com/openrescale/platform/shared/httpapi"
	"github.com/openrescale/platform/shared/lifecycle"
	"github.com/openrescale/platform/shared/store/dynamostore"
	"github.com/openrescale/platform/shared/store/dynamostore/dynamolocal"
)

// reexecBootstrap makes the test binary the real bootstrap (main: build
// and lambda.Start), for the tests that go through a Runtime API.
const reexecBootstrap = "CMD_LAMBDA_TEST_BOOTSTRAP"

// TestMain stops DynamoDB Local after the tests; moto, started by
// motoserver.Shared, dies with the test binary (Pdeathsig).
func TestMain(m *testing.M) {
	if os.Getenv(reexecBootstrap) == "1" {
		main()
		return
	}
	dynamolocal.Main(m)
}

// platform is what infra deploys around the functions, on local servers:
// the table on DynamoDB Local, the bucket on gofakes3, a Batch queue and
// job definition and a state machine on moto.
type platform struct {
	env   map[string]string // every function's: endpoints, region, credentials, table
	batch *batch.Client
	sfn   *sfn.Client
	owner accounts.User
	key   string // the owner's API key
	// deployment is BATCH_DEPLOYMENT, machine STATE_MACHINE_ARN.
	deployment, machine string
}

func newPlatform(t *testing.T) *platform {
	t.Helper()
	ctx := t.Context()
	moto := motoserver.Shared(t)
	ddb, ddbURL := dynamolocal.Shared(t)
	var b [6]byte
	_, _ = rand.Read(b[:])
	table := "lambda-" + hex.EncodeToString(b[:])
	if err := dynamostore.CreateTable(ctx, ddb, table); err != nil {
		t.Fatal(err)
	}
	s3srv := httptest.NewServer(gofakes3.New(s3mem.New()).Server())
	t.Cleanup(s3srv.Close)
	s3c := s3.New(s3.Options{Region: motoserver.Region, BaseEndpoint: aws.String(s3srv.URL),
		Credentials: credentials.NewStaticCredentialsProvider("moto", "moto", "")})
	if _, err := s3c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("files")}); err != nil {
		t.Fatal(err)
	}

	queue, err := moto.CreateBatchQueue(ctx, "standard-plus")
	if err != nil {
		t.Fatal(err)
	}
	def, err := motoserver.RegisterJobDefinition(ctx, moto.Batch(), "agent-single")
	if err != nil {
		t.Fatal(err)
	}
	dep, err := json.Marshal(awsbatch.Deployment{
		Queues:      map[string]awsbatch.Queue{"standard-plus": {Queue: queue, CoresPerNode: 4}},
		Definitions: map[string]awsbatch.Definition{awsbatch.DefaultDefinition: {Single: def}},
	})
	if err != nil {
		t.Fatal(err)
	}
	sm, err := moto.SFN().CreateStateMachine(ctx, &sfn.CreateStateMachineInput{
		Name: aws.String("openrescale-job"),
		// The steps run as Lambda functions here, called by the test in
		// the definition's order: moto cannot invoke them.
		Definition: aws.String(`{"StartAt":"Done","States":{"Done":{"Type":"Pass","End":true}}}`),
		RoleArn:    aws.String("arn:aws:iam::" + motoserver.Account + ":role/openrescale-states"),
	})
	if err != nil {
		t.Fatal(err)
	}

	st := dynamostore.New(ddb, table)
	accts := accounts.New(st, time.Now)
	owner, err := accts.EnsureUser(ctx, "owner@example.com")
	if err != nil {
		t.Fatal(err)
	}
	_, key, err := accts.CreateKey(ctx, owner.ID, accounts.KeyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return &platform{
		env: map[string]string{
			"TABLE_NAME": table, "AWS_REGION": motoserver.Region,
			"AWS_ACCESS_KEY_ID": "moto", "AWS_SECRET_ACCESS_KEY": "moto", "AWS_SESSION_TOKEN": "session",
			"AWS_ENDPOINT_URL_DYNAMODB": ddbURL, "AWS_ENDPOINT_URL_S3": s3srv.URL,
			"AWS_ENDPOINT_URL_BATCH": moto.Endpoint, "AWS_ENDPOINT_URL_SFN": moto.Endpoint, "AWS_ENDPOINT_URL_STS": moto.Endpoint,
		},
		batch: moto.Batch(), sfn: moto.SFN(), owner: owner, key: key,
		deployment: string(dep), machine: aws.ToString(sm.StateMachineArn),
	}
}

// envFor is the environment infra gives the function of route (see the
// package comment), on this platform.
func (p *platform) envFor(route string) map[string]string {
	env := maps.Clone(p.env)
	env["ROUTE"] = route
	lifecycleEnv := func(machine bool) {
		env["BUCKET_NAME"] = "files"
		env["API_URL"] = "https://api.example.com/prod/api/v2/"
		env[awsbatch.EnvDeployment] = p.deployment
		if machine {
			env["STATE_MACHINE_ARN"] = p.machine
		}
	}
	switch {
	case route == routeAuthorizer:
	case route == routeObjectEvents:
		env["BUCKET_NAME"] = "files"
	case strings.HasPrefix(route, routeStepPrefix):
		lifecycleEnv(false)
	case route == routeBatchJobState || route == routeReconcile:
		lifecycleEnv(true)
	default:
		env["BUCKET_NAME"] = "files"
		for _, rt := range api.Routes(api.Deps{}) {
			if rt.Name != route {
				continue
			}
			for _, n := range rt.Needs {
				switch n {
				case httpapi.StartExecution, httpapi.StopExecution, httpapi.ComputeControl, httpapi.ComputeRead:
					lifecycleEnv(true)
				case httpapi.IssueUploadCredentials:
					env["UPLOAD_ROLE_ARN"] = "arn:aws:iam::" + motoserver.Account + ":role/upload"
				}
			}
		}
	}
	return env
}

// function builds the function of route with env, as main does.
func function(t *testing.T, env map[string]string) lambda.Handler {
	t.Helper()
	h, err := build(t.Context(), func(k string) string { return env[k] }, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("build ROUTE=%s: %v", env["ROUTE"], err)
	}
	return lambda.NewHandler(h)
}

// served is function for a function this build's tier serves (by its
// needs, as lambdatier.Tier decides); for one it does not, it checks that
// build refuses it at init, naming the asset to deploy, and reports false.
func served(t *testing.T, env map[string]string, needs []httpapi.Permission) (lambda.Handler, bool) {
	t.Helper()
	if buildTier == lambdatier.Full || lambdatier.Tier(needs) == buildTier {
		return function(t, env), true
	}
	_, err := build(t.Context(), func(k string) string { return env[k] }, slog.New(slog.DiscardHandler))
	if err == nil || !strings.Contains(err.Error(), "deploy the function from the full-tier asset") {
		t.Fatalf("the %s tier built ROUTE=%s (needs %v): err %v, want a refusal naming the full tier", buildTier, env["ROUTE"], needs, err)
	}
	return nil, false
}

// invoke sends ev to fn as the Lambda runtime would (JSON in, JSON out).
func invoke(t *testing.T, fn lambda.Handler, ev any) ([]byte, error) {
	t.Helper()
	payload, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	return fn.Invoke(t.Context(), payload)
}

// request is an API Gateway proxy event for the authenticated owner, as
// the gateway forwards it after the authorizer allowed the key.
func (p *platform) request(t *testing.T, method, path, contentType string, body []byte) events.APIGatewayProxyRequest {
	t.Helper()
	var ev events.APIGatewayProxyRequest
	fixture(t, "get-analyses.json", &ev)
	ev.HTTPMethod, ev.Path = method, path
	ev.RequestContext.HTTPMethod, ev.RequestContext.Path = method, "/prod"+path
	ev.QueryStringParameters, ev.MultiValueQueryStringParameters = nil, nil
	ev.RequestContext.Authorizer = map[string]any{"principalId": p.owner.ID, "userId": p.owner.ID, "email": p.owner.Email, "keyId": "TstKey"}
	if body != nil {
		ev.Body, ev.IsBase64Encoded = base64.StdEncoding.EncodeToString(body), true
		ev.Headers["Content-Type"] = contentType
		ev.MultiValueHeaders["Content-Type"] = []string{contentType}
	}
	return ev
}

func (p *platform) call(t *testing.T, fn lambda.Handler, method, path, contentType string, body []byte) events.APIGatewayProxyResponse {
	t.Helper()
	out, err := invoke(t, fn, p.request(t, method, path, contentType, body))
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	var resp events.APIGatewayProxyResponse
	if err := json.Unmarshal(out, &resp); err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	if resp.IsBase64Encoded {
		b, _ := base64.StdEncoding.DecodeString(resp.Body)
		resp.Body = string(b)
	}
	return resp
}

// concrete fills a route path's parameters with ids of nothing.
func concrete(path string) string {
	r := strings.NewReplacer("{id}", "NoSuch", "{run}", "1", "{task}", "NoTask", "{org}", "org", "{ws}", "ws",
		"{n}", "1", "{key...}", "user/k", "{path...}", "process_output.log")
	return r.Replace(path)
}

// Every function infra deploys is built from the environment infra gives
// it, against DynamoDB Local, an S3 server and moto, and invoked once with
// an event of its kind: a broken or missing piece of wiring fails here,
// not in the first deploy.
func TestEveryFunction(t *testing.T) {
	p := newPlatform(t)
	routes := api.Routes(api.Deps{})
	// directory-contents and tail read a running run's files, which in
	// AWS needs an S3-backed compute.Live that does not exist yet.
	noLive := map[string]bool{"runs-directory": true, "runs-tail": true}
	for _, rt := range routes {
		t.Run(rt.Name, func(t *testing.T) {
			fn, ok := served(t, p.envFor(rt.Name), rt.Needs)
			if !ok {
				return
			}
			method := rt.Method
			if method == httpapi.AnyMethod {
				method = http.MethodGet
			}
			var body []byte
			if method == http.MethodPost || method == http.MethodPut || method == http.MethodPatch {
				body = []byte(`{}`)
			}
			resp := p.call(t, fn, method, concrete(rt.Path), "application/json", body)
			t.Logf("%s %s: %d %.120s", method, concrete(rt.Path), resp.StatusCode, resp.Body)
			switch {
			case noLive[rt.Name]:
				if resp.StatusCode != http.StatusServiceUnavailable && resp.StatusCode != http.StatusNotFound {
					t.Errorf("%s %s: %d %s", method, rt.Path, resp.StatusCode, resp.Body)
				}
			case resp.StatusCode >= 500:
				t.Errorf("%s %s: %d %s", method, rt.Path, resp.StatusCode, resp.Body)
			}
			if resp.StatusCode != http.StatusNoContent && method != http.MethodHead && !json.Valid([]byte(resp.Body)) {
				t.Errorf("%s %s: %d, body not JSON: %.200s", method, rt.Path, resp.StatusCode, resp.Body)
			}
		})
	}
	for _, step := range stepNames() {
		route := routeStepPrefix + step
		t.Run(route, func(t *testing.T) {
			// Steps differ in what a missing job is to them (validate:
			// JobInvalid; tear-down: nothing to do), but every failure is
			// one the definition's Retry and Catch name.
			fn, ok := served(t, p.envFor(route), fullNeeds())
			if !ok {
				return
			}
			_, err := invoke(t, fn, lifecycle.Ref{JobID: "NoSuch", OwnerID: p.owner.ID})
			known := []string{"", lifecycle.ErrSystem, lifecycle.ErrInvalid, lifecycle.ErrStopped, lifecycle.ErrUserCommand}
			if !slices.Contains(known, errorType(err)) {
				t.Errorf("a job that does not exist: error %v", err)
			}
			if step == "validate" && errorType(err) != lifecycle.ErrInvalid {
				t.Errorf("validate of a job that does not exist: error %v, want type %s", err, lifecycle.ErrInvalid)
			}
		})
	}
	t.Run(routeAuthorizer, func(t *testing.T) {
		var ev events.APIGatewayCustomAuthorizerRequestTypeRequest
		fixture(t, "authorizer-request.json", &ev)
		ev.Headers["authorization"] = "Token " + p.key
		fn, ok := served(t, p.envFor(routeAuthorizer), []httpapi.Permission{httpapi.TableRead})
		if !ok {
			t.Fatalf("the %s tier does not serve the authorizer", buildTier)
		}
		out, err := invoke(t, fn, ev)
		if err != nil {
			t.Fatal(err)
		}
		var resp events.APIGatewayCustomAuthorizerResponse
		if err := json.Unmarshal(out, &resp); err != nil || resp.PrincipalID != p.owner.ID {
			t.Fatalf("authorizer: %s (%v)", out, err)
		}
	})
	t.Run(routeObjectEvents, func(t *testing.T) {
		var ev events.S3Event
		fixtureDir(t, "s3", "object-created-put.json", &ev)
		fn, ok := served(t, p.envFor(routeObjectEvents), fullNeeds())
		if !ok {
			return
		}
		if _, err := invoke(t, fn, ev); err != nil {
			t.Fatal(err)
		}
	})
	t.Run(routeBatchJobState, func(t *testing.T) {
		var ev events.CloudWatchEvent
		fixtureDir(t, "batch", "runnable.json", &ev)
		// Waiting for capacity is no run's news (TestJobThroughFunctions
		// delivers one that is).
		fn, ok := served(t, p.envFor(routeBatchJobState), fullNeeds())
		if !ok {
			return
		}
		if _, err := invoke(t, fn, ev); err != nil {
			t.Fatal(err)
		}
	})
	t.Run(routeReconcile, func(t *testing.T) {
		fn, ok := served(t, p.envFor(routeReconcile), fullNeeds())
		if !ok {
			return
		}
		out, err := invoke(t, fn, events.CloudWatchEvent{DetailType: "Scheduled Event", Source: "aws.events"})
		if err != nil {
			t.Fatal(err)
		}
		if !json.Valid(out) {
			t.Fatalf("reconcile answered %s", out)
		}
	})
}

func fixtureDir(t *testing.T, dir, name string, v any) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "events", "fixtures", dir, name))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("decode %s: %v", name, err)
	}
}

// errorType is the errorType Lambda would report for err.
func errorType(err error) string {
	if ive, ok := err.(messages.InvokeResponse_Error); ok {
		return ive.Type
	}
	if err == nil {
		return ""
	}
	return "not an InvokeResponse_Error: " + err.Error()
}

// RATE_LIMIT=1 allows a burst of 2 and refuses the third request at once.
func TestRateLimit(t *testing.T) {
	p := newPlatform(t)
	env := p.envFor("analyses-list")
	env["RATE_LIMIT"] = "1"
	fn := function(t, env)
	var got []int
	for range 3 {
		got = append(got, p.call(t, fn, http.MethodGet, "/api/v2/analyses/", "", nil).StatusCode)
	}
	if !slices.Equal(got, []int{200, 200, 429}) {
		t.Fatalf("statuses %v, want [200 200 429]", got)
	}
}
