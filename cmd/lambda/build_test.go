package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"maps"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
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

	"github.com/openrescale/platform/cmd/lambda/runtimeapi"
	"github.com/openrescale/platform/events/batchstate"
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
				case httpapi.StartExecution, httpapi.StopExecution, httpapi.ComputeControl:
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
			fn := function(t, p.envFor(rt.Name))
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
			_, err := invoke(t, function(t, p.envFor(route)), lifecycle.Ref{JobID: "NoSuch", OwnerID: p.owner.ID})
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
		out, err := invoke(t, function(t, p.envFor(routeAuthorizer)), ev)
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
		if _, err := invoke(t, function(t, p.envFor(routeObjectEvents)), ev); err != nil {
			t.Fatal(err)
		}
	})
	t.Run(routeBatchJobState, func(t *testing.T) {
		var ev events.CloudWatchEvent
		fixtureDir(t, "batch", "runnable.json", &ev)
		// Waiting for capacity is no run's news (TestJobThroughFunctions
		// delivers one that is).
		if _, err := invoke(t, function(t, p.envFor(routeBatchJobState)), ev); err != nil {
			t.Fatal(err)
		}
	})
	t.Run(routeReconcile, func(t *testing.T) {
		out, err := invoke(t, function(t, p.envFor(routeReconcile)), events.CloudWatchEvent{DetailType: "Scheduled Event", Source: "aws.events"})
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

func multipartFile(t *testing.T, size int) (string, []byte) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	fw, err := mw.CreateFormFile("file", "data.bin")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fw.Write(bytes.Repeat([]byte{'x'}, size)); err != nil {
		t.Fatal(err)
	}
	if err := mw.Close(); err != nil {
		t.Fatal(err)
	}
	return mw.FormDataContentType(), buf.Bytes()
}

// The upload function refuses a file over MAX_UPLOAD_BYTES' default of
// 4 MiB with 413 and stores one of exactly 4 MiB.
func TestUploadCap(t *testing.T) {
	p := newPlatform(t)
	fn := function(t, p.envFor("files-upload"))
	for _, c := range []struct {
		size int
		want int
	}{{4<<20 + 1, http.StatusRequestEntityTooLarge}, {4 << 20, http.StatusCreated}} {
		ct, body := multipartFile(t, c.size)
		resp := p.call(t, fn, http.MethodPost, "/api/v2/files/contents/", ct, body)
		if resp.StatusCode != c.want {
			t.Errorf("%d bytes: %d %.300s, want %d", c.size, resp.StatusCode, resp.Body, c.want)
		}
	}
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

// A job runs through the functions as Step Functions and EventBridge
// would drive them: created and submitted through the API functions (the
// execution starts on moto), each step function in the definition's order
// (start-run submits the run's Batch job on moto), the Batch job's state
// change through batch-job-state, and the outcome read back through
// runs-get. A coretype the deployment lacks fails Validate as JobInvalid.
func TestJobThroughFunctions(t *testing.T) {
	p := newPlatform(t)
	create := function(t, p.envFor("jobs-create"))
	newJob := func(coretype string) string {
		t.Helper()
		spec := `{"name": "through lambda", "jobanalyses": [{"analysis": {"code": "user_included"},
			"command": "echo hello", "hardware": {"coreType": "` + coretype + `", "coresPerSlot": 2}}]}`
		resp := p.call(t, create, http.MethodPost, "/api/v2/jobs/", "application/json", []byte(spec))
		var j struct{ ID string }
		if err := json.Unmarshal([]byte(resp.Body), &j); resp.StatusCode != http.StatusCreated || err != nil || j.ID == "" {
			t.Fatalf("create job: %d %s", resp.StatusCode, resp.Body)
		}
		return j.ID
	}
	step := func(name string, ref lifecycle.Ref) ([]byte, error) {
		return invoke(t, function(t, p.envFor(routeStepPrefix+name)), ref)
	}

	t.Run("coretype not deployed", func(t *testing.T) {
		id := newJob("hpc-3")
		_, err := step("validate", lifecycle.Ref{JobID: id, OwnerID: p.owner.ID})
		if errorType(err) != lifecycle.ErrInvalid {
			t.Fatalf("validate: %v, want %s", err, lifecycle.ErrInvalid)
		}
	})

	id := newJob("standard-plus")
	resp := p.call(t, function(t, p.envFor("jobs-submit")), http.MethodPost, "/api/v2/jobs/"+id+"/submit/", "application/json", []byte(`{}`))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("submit: %d %s", resp.StatusCode, resp.Body)
	}
	ex, err := p.sfn.DescribeExecution(t.Context(), &sfn.DescribeExecutionInput{
		ExecutionArn: aws.String(strings.Replace(p.machine, ":stateMachine:", ":execution:", 1) + ":" + id)})
	if err != nil {
		t.Fatalf("the submit started no execution named after the job: %v", err)
	}
	if !strings.Contains(aws.ToString(ex.Input), id) {
		t.Fatalf("execution input %s", aws.ToString(ex.Input))
	}

	ref := lifecycle.Ref{JobID: id, OwnerID: p.owner.ID}
	out, err := step("validate", ref)
	var plan lifecycle.Plan
	if err != nil || json.Unmarshal(out, &plan) != nil || len(plan.Runs) != 1 {
		t.Fatalf("validate: %s %v", out, err)
	}
	for _, name := range []string{"queue", "start-cluster"} {
		if _, err := step(name, ref); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	runRef := ref
	runRef.Run, runRef.TaskToken = plan.Runs[0], "token-"+id
	if _, err := step("start-run", runRef); err != nil {
		t.Fatalf("start-run: %v", err)
	}

	// moto runs no container: the Batch job is SUCCEEDED at once, and
	// sends no event, so the test delivers what EventBridge would.
	listed, err := p.batch.ListJobs(t.Context(), &batch.ListJobsInput{JobQueue: aws.String("standard-plus"), JobStatus: "SUCCEEDED"})
	if err != nil || len(listed.JobSummaryList) != 1 {
		t.Fatalf("Batch jobs: %+v %v", listed, err)
	}
	described, err := p.batch.DescribeJobs(t.Context(), &batch.DescribeJobsInput{Jobs: []string{aws.ToString(listed.JobSummaryList[0].JobId)}})
	if err != nil || len(described.Jobs) != 1 {
		t.Fatalf("describe: %v", err)
	}
	detail, err := json.Marshal(awsbatch.DetailOf(described.Jobs[0]))
	if err != nil {
		t.Fatal(err)
	}
	ev := events.CloudWatchEvent{Version: "0", ID: "e-1", DetailType: batchstate.DetailType, Source: batchstate.Source,
		AccountID: motoserver.Account, Region: motoserver.Region, Time: time.Now().UTC(), Detail: detail}
	// The run's task token is moto's to refuse (no such task): answered
	// already, as far as the lifecycle is concerned.
	if _, err := invoke(t, function(t, p.envFor(routeBatchJobState)), ev); err != nil {
		t.Fatalf("batch-job-state: %v", err)
	}
	// What the state machine does next, given the task's success output.
	runRef.TaskToken, runRef.Result = "", json.RawMessage(`{"exitCode":0}`)
	if _, err := step("collect-outputs", runRef); err != nil {
		t.Fatalf("collect-outputs: %v", err)
	}
	out, err = step("finish", ref)
	var final lifecycle.Final
	if err != nil || json.Unmarshal(out, &final) != nil || final.Failed {
		t.Fatalf("finish: %s %v", out, err)
	}
	if _, err := step("tear-down", ref); err != nil {
		t.Fatalf("tear-down: %v", err)
	}
	resp = p.call(t, function(t, p.envFor("runs-get")), http.MethodGet, "/api/v2/jobs/"+id+"/runs/"+plan.Runs[0]+"/", "", nil)
	var run struct{ DateCompleted *time.Time }
	if err := json.Unmarshal([]byte(resp.Body), &run); resp.StatusCode != http.StatusOK || err != nil || run.DateCompleted == nil {
		t.Fatalf("runs-get after the run ended: %d %s", resp.StatusCode, resp.Body)
	}
	resp = p.call(t, function(t, p.envFor("jobs-statuses")), http.MethodGet, "/api/v2/jobs/"+id+"/statuses/", "", nil)
	var statuses struct{ Results []struct{ Status string } }
	if err := json.Unmarshal([]byte(resp.Body), &statuses); err != nil || len(statuses.Results) == 0 || statuses.Results[0].Status != "Completed" {
		t.Fatalf("statuses after finish: %d %s", resp.StatusCode, resp.Body)
	}
}

// Through the real bootstrap and aws-lambda-go's invoke loop, a step's
// failure reaches Lambda with errorType = the step error's name, which
// the state machine's Retry and Catch match.
func TestStepErrorTypeThroughRuntimeAPI(t *testing.T) {
	p := newPlatform(t)
	srv, err := runtimeapi.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	cmd := exec.Command(os.Args[0])
	cmd.Env = []string{reexecBootstrap + "=1", "AWS_LAMBDA_RUNTIME_API=" + srv.Addr()}
	for k, v := range p.envFor(routeStepPrefix + "validate") {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	if _, err := srv.Ready(ctx); err != nil {
		t.Fatalf("bootstrap: %v\n%s", err, stderr.String())
	}
	res, err := srv.Invoke(ctx, []byte(`{"jobId":"NoSuch","ownerId":"`+p.owner.ID+`"}`))
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	if res.Error == nil || res.Error.Type != lifecycle.ErrInvalid || !strings.Contains(res.Error.Message, "NoSuch") {
		t.Fatalf("result %+v %s, want errorType %s", res.Error, res.Payload, lifecycle.ErrInvalid)
	}
}

// A live-file route given Batch access (BATCH_DEPLOYMENT; its Needs do not
// ask for it yet, so infra gives none) reads running runs' files through
// awsbatch.Live: a job that does not exist is 404, where without Batch
// access the route answers 503.
func TestLiveFilesWithBatchAccess(t *testing.T) {
	p := newPlatform(t)
	for _, withBatch := range []bool{false, true} {
		env := p.envFor("runs-tail")
		want := http.StatusServiceUnavailable
		if withBatch {
			env[awsbatch.EnvDeployment], env["API_URL"] = p.deployment, "https://api.example.com/prod/api/v2/"
			want = http.StatusNotFound
		}
		resp := p.call(t, function(t, env), http.MethodGet, "/api/v2/jobs/NoSuch/runs/1/tail/process_output.log", "", nil)
		if resp.StatusCode != want {
			t.Errorf("Batch access %v: %d %s, want %d", withBatch, resp.StatusCode, resp.Body, want)
		}
	}
}

// The reconcile function ends a submitted job whose execution is no
// longer running (here moto's one-state machine, finished at once)
// without having finished it: the lifecycle asks Step Functions for the
// execution's status.
func TestReconcile(t *testing.T) {
	p := newPlatform(t)
	spec := `{"name": "orphan", "jobanalyses": [{"analysis": {"code": "user_included"},
		"command": "true", "hardware": {"coreType": "standard-plus", "coresPerSlot": 1}}]}`
	resp := p.call(t, function(t, p.envFor("jobs-create")), http.MethodPost, "/api/v2/jobs/", "application/json", []byte(spec))
	var j struct{ ID string }
	if err := json.Unmarshal([]byte(resp.Body), &j); resp.StatusCode != http.StatusCreated || err != nil {
		t.Fatalf("create: %d %s", resp.StatusCode, resp.Body)
	}
	resp = p.call(t, function(t, p.envFor("jobs-submit")), http.MethodPost, "/api/v2/jobs/"+j.ID+"/submit/", "application/json", []byte(`{}`))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("submit: %d %s", resp.StatusCode, resp.Body)
	}
	arn := strings.Replace(p.machine, ":stateMachine:", ":execution:", 1) + ":" + j.ID
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		ex, err := p.sfn.DescribeExecution(t.Context(), &sfn.DescribeExecutionInput{ExecutionArn: aws.String(arn)})
		if err != nil {
			t.Fatal(err)
		}
		if ex.Status != "RUNNING" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("moto's execution never finished")
		}
	}
	out, err := invoke(t, function(t, p.envFor(routeReconcile)), events.CloudWatchEvent{DetailType: "Scheduled Event", Source: "aws.events"})
	var res reconcileResult
	if err != nil || json.Unmarshal(out, &res) != nil || res.Changed != 1 {
		t.Fatalf("reconcile: %s %v, want 1 changed", out, err)
	}
	resp = p.call(t, function(t, p.envFor("jobs-statuses")), http.MethodGet, "/api/v2/jobs/"+j.ID+"/statuses/", "", nil)
	var statuses struct {
		Results []struct {
			Status       string
			StatusReason *string
		}
	}
	if err := json.Unmarshal([]byte(resp.Body), &statuses); err != nil || len(statuses.Results) == 0 ||
		statuses.Results[0].Status != "Completed" || statuses.Results[0].StatusReason == nil ||
		!strings.Contains(*statuses.Results[0].StatusReason, "ended unexpectedly") {
		t.Fatalf("statuses after reconcile: %s", resp.Body)
	}
}
