package lifecycle

import (
	"context"
	"encoding/json"
	"fmt"
)

// StepFunc is one lifecycle step as a Task of the job state machine sees
// it: the Task's effective input in, its result out; token is set for a
// task that waits for its token (Run). Failures are *StepError, whose
// Name the definition's Retry and Catch match.
type StepFunc func(ctx context.Context, in json.RawMessage, token string) (json.RawMessage, error)

// Placeholders maps each ${…} of statemachines/job.asl.json to the step it
// runs. AWS substitutes each with the ARN of the step's Lambda function
// (ROUTE=step-<name>); the local runner substitutes the step names.
func Placeholders() map[string]string {
	return map[string]string{
		"ValidateFunctionArn":       "validate",
		"QueueFunctionArn":          "queue",
		"StartClusterFunctionArn":   "start-cluster",
		"StartRunFunctionArn":       "start-run",
		"CollectOutputsFunctionArn": "collect-outputs",
		"FinishFunctionArn":         "finish",
		"TearDownFunctionArn":       "tear-down",
	}
}

// Steps returns every step by name.
func (s *Service) Steps() map[string]StepFunc {
	return map[string]StepFunc{
		"validate": step(s.Validate),
		"queue": step(func(ctx context.Context, r Ref) (struct{}, error) {
			return struct{}{}, s.Queue(ctx, r)
		}),
		"start-cluster": step(func(ctx context.Context, r Ref) (struct{}, error) {
			return struct{}{}, s.StartCluster(ctx, r)
		}),
		"start-run": func(ctx context.Context, in json.RawMessage, token string) (json.RawMessage, error) {
			r, err := decodeRef(in)
			if err != nil {
				return nil, err
			}
			if token == "" {
				token = r.TaskToken
			}
			if token == "" {
				return nil, stepErr(ErrInvalid, "start-run needs a task token")
			}
			return json.RawMessage(`{}`), s.StartRun(ctx, r, token)
		},
		"collect-outputs": step(s.CollectOutputs),
		"finish":          step(s.Finish),
		"tear-down": step(func(ctx context.Context, r Ref) (struct{}, error) {
			return struct{}{}, s.TearDown(ctx, r)
		}),
	}
}

func decodeRef(in json.RawMessage) (Ref, error) {
	var r Ref
	if err := json.Unmarshal(in, &r); err != nil {
		return Ref{}, stepErr(ErrInvalid, "step input: %v", err)
	}
	if r.JobID == "" || r.OwnerID == "" {
		return Ref{}, stepErr(ErrInvalid, "step input needs jobId and ownerId")
	}
	return r, nil
}

func step[T any](fn func(context.Context, Ref) (T, error)) StepFunc {
	return func(ctx context.Context, in json.RawMessage, _ string) (json.RawMessage, error) {
		r, err := decodeRef(in)
		if err != nil {
			return nil, err
		}
		out, err := fn(ctx, r)
		if err != nil {
			return nil, err
		}
		b, err := json.Marshal(out)
		if err != nil {
			return nil, systemErr(fmt.Errorf("encode step result: %w", err))
		}
		return b, nil
	}
}
