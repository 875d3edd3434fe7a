// Package stepfunctions runs the job state machine on AWS Step Functions:
// the lifecycle's Orchestrator port (shared/lifecycle) over the Step
// Functions API, as the ASL runner (shared/asl) is locally.
//
// Executions are named after their job, so the execution of a job is
// found without a lookup: its ARN is the state machine's with
// ":stateMachine:" replaced by ":execution:" and ":<job id>" appended.
// Errors carry errs codes: errs.NotFound for an execution or task that does
// not exist (or no longer waits), errs.Invalid for input Step Functions
// refuses, errs.Unavailable for everything else (throttling after the
// SDK's retries, the service, the deployment).
package stepfunctions

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/openrescale/platform/shared/errs"
)

// API is the part of the Step Functions client the orchestrator calls;
// *sfn.Client is one.
type API interface {
	StartExecution(ctx context.Context, in *sfn.StartExecutionInput, opts ...func(*sfn.Options)) (*sfn.StartExecutionOutput, error)
	DescribeExecution(ctx context.Context, in *sfn.DescribeExecutionInput, opts ...func(*sfn.Options)) (*sfn.DescribeExecutionOutput, error)
	SendTaskSuccess(ctx context.Context, in *sfn.SendTaskSuccessInput, opts ...func(*sfn.Options)) (*sfn.SendTaskSuccessOutput, error)
	SendTaskFailure(ctx context.Context, in *sfn.SendTaskFailureInput, opts ...func(*sfn.Options)) (*sfn.SendTaskFailureOutput, error)
}

// Step Functions' limits (API reference: StartExecution, SendTaskFailure).
const (
	maxNameLen  = 80
	maxErrorLen = 256
	maxCauseLen = 32768
)

// Orchestrator starts and answers executions of one state machine.
type Orchestrator struct {
	client  API
	machine string
}

// New returns the orchestrator of the state machine with ARN
// arn:aws:states:<region>:<account>:stateMachine:<name>.
func New(client API, stateMachineARN string) (*Orchestrator, error) {
	if client == nil {
		return nil, errors.New("stepfunctions: a client is required")
	}
	if parts := strings.Split(stateMachineARN, ":"); len(parts) != 7 || parts[0] != "arn" || parts[2] != "states" || parts[5] != "stateMachine" || parts[6] == "" {
		return nil, fmt.Errorf("stepfunctions: %q is not a state machine ARN", stateMachineARN)
	}
	return &Orchestrator{client: client, machine: stateMachineARN}, nil
}

// ExecutionARN is the ARN of the execution named name.
func (o *Orchestrator) ExecutionARN(name string) string {
	return strings.Replace(o.machine, ":stateMachine:", ":execution:", 1) + ":" + name
}

// Start starts the execution named name with input. An execution of that
// name that exists already, running or ended, is left alone: started is
// false. (Step Functions answers a repeated StartExecution with the same
// name and input while the first runs with that execution, not an error;
// Start then reports started, and no second execution exists either way.)
func (o *Orchestrator) Start(ctx context.Context, name string, input json.RawMessage) (bool, error) {
	if name == "" || len(name) > maxNameLen {
		return false, errs.Field("name", "execution name %q must be 1 to %d characters", name, maxNameLen)
	}
	in := "{}"
	if len(input) > 0 {
		in = string(input)
	}
	_, err := o.client.StartExecution(ctx, &sfn.StartExecutionInput{
		StateMachineArn: aws.String(o.machine), Name: aws.String(name), Input: aws.String(in),
	})
	if err == nil {
		return true, nil
	}
	var exists *types.ExecutionAlreadyExists
	if errors.As(err, &exists) {
		return false, nil
	}
	var badInput *types.InvalidExecutionInput
	var badName *types.InvalidName
	if errors.As(err, &badInput) || errors.As(err, &badName) {
		return false, errs.Wrap(errs.Invalid, err, "start execution %s", name)
	}
	return false, errs.Wrap(errs.Unavailable, err, "start execution %s", name)
}

// SendTaskSuccess answers a waiting task with output (empty: {}).
func (o *Orchestrator) SendTaskSuccess(ctx context.Context, token string, output json.RawMessage) error {
	out := "{}"
	if len(output) > 0 {
		out = string(output)
	}
	_, err := o.client.SendTaskSuccess(ctx, &sfn.SendTaskSuccessInput{TaskToken: aws.String(token), Output: aws.String(out)})
	return taskErr(err, "send task success")
}

// SendTaskFailure fails a waiting task with the error name the state
// machine's Retry and Catch match and a cause, cut to Step Functions'
// limits (256 and 32768 characters).
func (o *Orchestrator) SendTaskFailure(ctx context.Context, token, errName, cause string) error {
	_, err := o.client.SendTaskFailure(ctx, &sfn.SendTaskFailureInput{
		TaskToken: aws.String(token), Error: aws.String(truncate(errName, maxErrorLen)), Cause: aws.String(truncate(cause, maxCauseLen)),
	})
	return taskErr(err, "send task failure")
}

// taskErr maps the errors of a task that no longer waits (answered
// already, timed out, its execution ended) or never existed to
// errs.NotFound: the lifecycle then knows the answer is moot.
func taskErr(err error, op string) error {
	if err == nil {
		return nil
	}
	var gone *types.TaskDoesNotExist
	var timedOut *types.TaskTimedOut
	var invalid *types.InvalidToken
	if errors.As(err, &gone) || errors.As(err, &timedOut) || errors.As(err, &invalid) {
		return errs.Wrap(errs.NotFound, err, "%s: the task is not waiting", op)
	}
	var badOutput *types.InvalidOutput
	if errors.As(err, &badOutput) {
		return errs.Wrap(errs.Invalid, err, "%s", op)
	}
	return errs.Wrap(errs.Unavailable, err, "%s", op)
}

// Status returns the execution's status: RUNNING, SUCCEEDED, FAILED,
// TIMED_OUT or ABORTED (an execution waiting to be redriven is FAILED: it
// has ended unless an operator redrives it); errs.NotFound if there is none.
func (o *Orchestrator) Status(ctx context.Context, name string) (string, error) {
	out, err := o.client.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: aws.String(o.ExecutionARN(name))})
	if err != nil {
		var missing *types.ExecutionDoesNotExist
		if errors.As(err, &missing) {
			return "", errs.Wrap(errs.NotFound, err, "execution %s", name)
		}
		return "", errs.Wrap(errs.Unavailable, err, "describe execution %s", name)
	}
	if out.Status == types.ExecutionStatusPendingRedrive {
		return string(types.ExecutionStatusFailed), nil
	}
	return string(out.Status), nil
}

// truncate cuts s to at most n characters, on a character boundary.
func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	const ellipsis = "…"
	r := []rune(s)
	return string(r[:n-1]) + ellipsis
}
