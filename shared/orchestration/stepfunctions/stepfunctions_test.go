package stepfunctions_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"github.com/openrescale/platform/shared/awslocal/motoserver"
	"github.com/openrescale/platform/shared/errs"
	"github.com/openrescale/platform/shared/lifecycle"
	"github.com/openrescale/platform/shared/orchestration/stepfunctions"
)

var _ lifecycle.Orchestrator = (*stepfunctions.Orchestrator)(nil)

func TestMain(m *testing.M) { motoserver.Main(m) }

// machine creates a state machine on moto with a trivial definition: the
// adapter's calls are under test, not the definition (statemachines/ has
// its own tests, on the ASL runner and aws-local-stepfunctions).
func machine(t *testing.T, srv *motoserver.Server) *stepfunctions.Orchestrator {
	t.Helper()
	out, err := srv.SFN().CreateStateMachine(t.Context(), &sfn.CreateStateMachineInput{
		Name:       aws.String("openrescale-job"),
		Definition: aws.String(`{"StartAt":"Done","States":{"Done":{"Type":"Pass","End":true}}}`),
		RoleArn:    aws.String("arn:aws:iam::" + motoserver.Account + ":role/openrescale-states"),
	})
	if err != nil {
		t.Fatal(err)
	}
	o, err := stepfunctions.New(srv.SFN(), aws.ToString(out.StateMachineArn))
	if err != nil {
		t.Fatal(err)
	}
	return o
}

func waitStatus(t *testing.T, o *stepfunctions.Orchestrator, name string) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		st, err := o.Status(t.Context(), name)
		if err != nil {
			t.Fatal(err)
		}
		if st != "RUNNING" || time.Now().After(deadline) {
			return st
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestStartIsOncePerName(t *testing.T) {
	srv := motoserver.Shared(t)
	o := machine(t, srv)
	ctx := t.Context()
	input := json.RawMessage(`{"jobId":"jAbc12","ownerId":"uOwn34"}`)
	started, err := o.Start(ctx, "jAbc12", input)
	if err != nil || !started {
		t.Fatalf("first Start: %v, %v", started, err)
	}
	// Step Functions (and moto) answer a repeated start with the same name
	// and input while the execution runs with that execution: no error,
	// and still one execution.
	if _, err := o.Start(ctx, "jAbc12", input); err != nil {
		t.Fatalf("second Start with the same input: %v", err)
	}
	// With other input, or once the execution has ended, the name is taken.
	if started, err := o.Start(ctx, "jAbc12", json.RawMessage(`{"jobId":"jAbc12","ownerId":"uOther"}`)); err != nil || started {
		t.Fatalf("Start of the same name with other input: %v, %v", started, err)
	}
	if got := waitStatus(t, o, "jAbc12"); got != "SUCCEEDED" {
		t.Fatalf("status %s", got)
	}
	out, err := srv.SFN().DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: aws.String(o.ExecutionARN("jAbc12"))})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(out.Input) != string(input) || aws.ToString(out.Name) != "jAbc12" {
		t.Fatalf("execution %+v", out)
	}
	if started, err := o.Start(ctx, "jAbc12", input); err != nil || started {
		t.Fatalf("Start after the execution ended: %v, %v", started, err)
	}
	list, err := srv.SFN().ListExecutions(ctx, &sfn.ListExecutionsInput{StateMachineArn: out.StateMachineArn})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Executions) != 1 {
		t.Fatalf("%d executions, want 1", len(list.Executions))
	}
	if _, err := o.Status(ctx, "jNone"); !errs.Is(err, errs.NotFound) {
		t.Fatalf("status of no execution: %v", err)
	}
}

// moto 5.2.1 fails every execution after a server's first
// (getmoto/moto#10077), so a second execution needs a reset server and a
// new state machine.
func TestAnotherExecutionAfterReset(t *testing.T) {
	srv := motoserver.Shared(t)
	if err := srv.Reset(t.Context()); err != nil {
		t.Fatal(err)
	}
	o := machine(t, srv)
	if started, err := o.Start(t.Context(), "jDef56", nil); err != nil || !started {
		t.Fatalf("Start: %v, %v", started, err)
	}
	if got := waitStatus(t, o, "jDef56"); got != "SUCCEEDED" {
		t.Fatalf("status %s", got)
	}
}

// A token Step Functions does not know is errs.NotFound: the answer is
// moot, as for a task that timed out or was answered already.
func TestAnswerToAnUnknownTask(t *testing.T) {
	srv := motoserver.Shared(t)
	o := machine(t, srv)
	if err := o.SendTaskSuccess(t.Context(), "not-a-token", json.RawMessage(`{"exitCode":0}`)); !errs.Is(err, errs.NotFound) {
		t.Fatalf("SendTaskSuccess: %v", err)
	}
	if err := o.SendTaskFailure(t.Context(), "not-a-token", "SystemError", "lost"); !errs.Is(err, errs.NotFound) {
		t.Fatalf("SendTaskFailure: %v", err)
	}
}

func TestNewChecksTheARN(t *testing.T) {
	for _, arn := range []string{"", "openrescale-job", "arn:aws:states:us-east-1:123456789012:execution:m:e", "arn:aws:lambda:us-east-1:123456789012:function:f"} {
		if _, err := stepfunctions.New(sfn.New(sfn.Options{}), arn); err == nil {
			t.Errorf("New(%q) accepted", arn)
		}
	}
	o, err := stepfunctions.New(sfn.New(sfn.Options{}), "arn:aws:states:eu-west-1:123456789012:stateMachine:openrescale-job")
	if err != nil {
		t.Fatal(err)
	}
	if got := o.ExecutionARN("jAbc12"); got != "arn:aws:states:eu-west-1:123456789012:execution:openrescale-job:jAbc12" {
		t.Fatalf("execution ARN %s", got)
	}
}

// Step Functions' answers for a task that is no longer waiting, which moto
// cannot produce (its interpreter issues no task tokens), at the SDK's
// HTTP layer: the awsJson1.0 error shape, with the error types of the
// SendTaskSuccess/SendTaskFailure API reference.
type sfnAPI struct {
	status int
	body   string
	got    []string
}

func (a *sfnAPI) Do(req *http.Request) (*http.Response, error) {
	b, _ := io.ReadAll(req.Body)
	a.got = append(a.got, req.Header.Get("X-Amz-Target")+" "+string(b))
	return &http.Response{StatusCode: a.status, Status: fmt.Sprint(a.status),
		Header:  http.Header{"Content-Type": {"application/x-amz-json-1.0"}, "X-Amzn-Requestid": {"0c7d2c4e-9b1f-4a55-8a0e-3f2b6d9e1a77"}},
		Body:    io.NopCloser(strings.NewReader(a.body)),
		Request: req}, nil
}

func httpOrchestrator(t *testing.T, api *sfnAPI) *stepfunctions.Orchestrator {
	c := sfn.New(sfn.Options{Region: "us-east-1", HTTPClient: api, RetryMaxAttempts: 1,
		Credentials: credentials.NewStaticCredentialsProvider("AKID", "SECRET", "")})
	o, err := stepfunctions.New(c, "arn:aws:states:us-east-1:123456789012:stateMachine:openrescale-job")
	if err != nil {
		t.Fatal(err)
	}
	return o
}

func TestAnswersToTasksThatAreGone(t *testing.T) {
	for _, typ := range []string{"TaskDoesNotExist", "TaskTimedOut", "InvalidToken"} {
		api := &sfnAPI{status: 400, body: fmt.Sprintf(`{"__type":"com.amazonaws.swf.service.v2.model#%s","message":"Task Timed Out: 'Provided task does not exist anymore'"}`, typ)}
		o := httpOrchestrator(t, api)
		if err := o.SendTaskSuccess(t.Context(), "AAAAKgAAAAIAAAAAAAAAA", nil); !errs.Is(err, errs.NotFound) {
			t.Errorf("%s on success: %v", typ, err)
		}
		if err := o.SendTaskFailure(t.Context(), "AAAAKgAAAAIAAAAAAAAAA", "SystemError", "x"); !errs.Is(err, errs.NotFound) {
			t.Errorf("%s on failure: %v", typ, err)
		}
	}
	api := &sfnAPI{status: 400, body: `{"__type":"com.amazonaws.swf.service.v2.model#ThrottlingException","message":"Rate exceeded"}`}
	if err := httpOrchestrator(t, api).SendTaskSuccess(t.Context(), "t", nil); !errs.Is(err, errs.Unavailable) {
		t.Errorf("throttled: %v", err)
	}
}

func TestFailureIsCutToTheLimits(t *testing.T) {
	api := &sfnAPI{status: 200, body: `{}`}
	o := httpOrchestrator(t, api)
	cause := strings.Repeat("é", 40000)
	if err := o.SendTaskFailure(t.Context(), "t", strings.Repeat("E", 300), cause); err != nil {
		t.Fatal(err)
	}
	var in struct{ Error, Cause string }
	body := api.got[0][strings.Index(api.got[0], " ")+1:]
	if err := json.Unmarshal([]byte(body), &in); err != nil {
		t.Fatal(err)
	}
	if n := utf8.RuneCountInString(in.Error); n != 256 {
		t.Errorf("error of %d characters", n)
	}
	if n := utf8.RuneCountInString(in.Cause); n != 32768 || !strings.HasSuffix(in.Cause, "…") {
		t.Errorf("cause of %d characters", n)
	}
	if !strings.HasPrefix(api.got[0], "AWSStepFunctions.SendTaskFailure ") {
		t.Errorf("request %.80s", api.got[0])
	}
}

func TestExecutionAlreadyExistsIsNotStarted(t *testing.T) {
	api := &sfnAPI{status: 400, body: `{"__type":"com.amazonaws.swf.service.v2.model#ExecutionAlreadyExists","message":"Execution Already Exists: 'arn:aws:states:us-east-1:123456789012:execution:openrescale-job:jAbc12'"}`}
	started, err := httpOrchestrator(t, api).Start(t.Context(), "jAbc12", json.RawMessage(`{}`))
	if err != nil || started {
		t.Fatalf("Start: %v, %v", started, err)
	}
	api = &sfnAPI{status: 400, body: `{"__type":"com.amazonaws.swf.service.v2.model#InvalidExecutionInput","message":"Invalid State Machine Execution Input"}`}
	if _, err := httpOrchestrator(t, api).Start(t.Context(), "jAbc12", json.RawMessage(`{`)); !errs.Is(err, errs.Invalid) {
		t.Fatalf("bad input: %v", err)
	}
}
