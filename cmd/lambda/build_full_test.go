//go:build !lambda.tableonly

package main

// The tests of functions only the full tier serves, and the check that
// the table tier serves its functions (TestTableTier).

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"mime/multipart"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/batch"
	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"github.com/openrescale/platform/cmd/lambda/lambdatier"
	"github.com/openrescale/platform/cmd/lambda/runtimeapi"
	"github.com/openrescale/platform/events/batchstate"
	"github.com/openrescale/platform/shared/awslocal/motoserver"
	"github.com/openrescale/platform/shared/compute/awsbatch"
	"github.com/openrescale/platform/shared/lifecycle"
)

// The table tier's build of this package passes the tests of the
// functions it serves, and refuses the others at init (served, in
// TestEveryFunction): go test -tags lambda.tableonly, run from here so
// that a plain go test ./cmd/lambda/... covers both assets.
func TestTableTier(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the package's tests a second time")
	}
	goTool, err := exec.LookPath("go") // go test puts GOROOT/bin on PATH
	if err != nil {
		t.Fatal(err)
	}
	tags := strings.Join(lambdatier.Tags(lambdatier.Table), ",")
	// What the tier is for: no AWS service package but DynamoDB's, whose
	// initialisers would run at every cold start.
	deps, err := exec.CommandContext(t.Context(), goTool, "list", "-deps", "-tags", tags, ".").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, pkg := range strings.Fields(string(deps)) {
		rest, ok := strings.CutPrefix(pkg, "github.com/aws/aws-sdk-go-v2/service/")
		switch {
		case ok && !strings.Contains(rest, "/") && rest != "dynamodb":
			t.Errorf("the table tier links %s", pkg)
		case ok && rest == "dynamodb/schemas":
			// DynamoDB v1.69.0 on (schema-based serde): its initialiser
			// alone takes ~1 ms of every cold start, the 1.5x goal's
			// margin (go.mod, README "Lambda cold starts").
			t.Errorf("the table tier links %s: keep service/dynamodb below v1.69.0, or measure with bench/coldstart first", pkg)
		}
	}
	cmd := exec.CommandContext(t.Context(), goTool, "test", "-count=1", "-tags", tags,
		"-run", "^(TestEveryFunction|TestRateLimit|TestLambdaMatchesLocalServer|TestAuthorizer|TestLambdaAPIRoot)$", ".")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("the table tier's tests: %v\n%s", err, out)
	}
	// A run whose test servers are missing skips (without
	// REQUIRE_TEST_SERVERS=1), and so does this check.
	if bytes.Contains(out, []byte("SKIPPING")) {
		t.Skipf("the table tier's tests skipped:\n%s", out)
	}
}

// The table tier names awsbatch's variable without linking awsbatch.
func TestBatchDeploymentVariable(t *testing.T) {
	if envBatchDeployment != awsbatch.EnvDeployment {
		t.Fatalf("envBatchDeployment %q, awsbatch.EnvDeployment %q", envBatchDeployment, awsbatch.EnvDeployment)
	}
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

// A live-file route (Needs ComputeRead) gets Batch access from infra
// (BATCH_DEPLOYMENT) and reads running runs' files through awsbatch.Live:
// a job that does not exist is 404. Without the setting the function
// refuses to start, naming it, rather than answering 503 at every request.
func TestLiveFilesWithBatchAccess(t *testing.T) {
	p := newPlatform(t)
	env := p.envFor("runs-tail")
	if env[awsbatch.EnvDeployment] == "" {
		t.Fatalf("runs-tail's environment lacks %s: %v", awsbatch.EnvDeployment, env)
	}
	resp := p.call(t, function(t, env), http.MethodGet, "/api/v2/jobs/NoSuch/runs/1/tail/process_output.log", "", nil)
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("tail of a job that does not exist: %d %s, want 404", resp.StatusCode, resp.Body)
	}
	delete(env, awsbatch.EnvDeployment)
	_, err := build(t.Context(), func(k string) string { return env[k] }, slog.New(slog.DiscardHandler))
	if err == nil || !strings.Contains(err.Error(), awsbatch.EnvDeployment) {
		t.Errorf("runs-tail without %s: %v, want an init error naming it", awsbatch.EnvDeployment, err)
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
