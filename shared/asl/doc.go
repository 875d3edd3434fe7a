// Package asl runs Amazon States Language definitions locally: the same
// *.asl.json files Step Functions runs in AWS, with each Task mapped to a Go
// function, and every execution persisted in a store.Store so that it
// survives a restart (Runner.Resume).
//
// Parse accepts the subset it implements and refuses everything else at
// load, naming the state and field: a definition that parses runs as Step
// Functions would run it, or not at all. Implemented:
//
//   - states Task, Pass, Choice, Wait, Succeed, Fail, and Map in INLINE
//     mode (ItemProcessor or the legacy Iterator, ItemSelector or the legacy
//     Parameters, ItemsPath, MaxConcurrency);
//   - InputPath, Parameters, ResultSelector, ResultPath, OutputPath, with
//     reference paths ($.a.b, $['a b'], $.a[0]) and the context object
//     ($$.Execution.*, $$.State.*, $$.StateMachine.*, $$.Task.Token,
//     $$.Map.Item.*);
//   - intrinsics States.Format, StringToJson, JsonToString, Array,
//     ArrayLength, ArrayContains, ArrayGetItem, ArrayRange, ArrayUnique,
//     MathAdd, UUID, Base64Encode, Base64Decode, Hash, JsonMerge (shallow);
//   - Retry (ErrorEquals, IntervalSeconds, BackoffRate, MaxAttempts,
//     MaxDelaySeconds, JitterStrategy NONE) and Catch; Task and top-level
//     TimeoutSeconds;
//   - Task resources: any other string (a TaskFunc of that name),
//     arn:aws:states:::lambda:invoke and its .waitForTaskToken form (the
//     TaskFunc named by Parameters.FunctionName gets the Payload).
//
// Refused: JSONata, Parallel, distributed Maps, HeartbeatSeconds, the *Path
// forms of timeouts and Fail fields, other service integrations, FULL
// jitter, other intrinsics, and JSONPath beyond reference paths.
//
// Semantics follow Step Functions where it documents them: States.Runtime
// (a path with no value, a bad intrinsic argument) and
// States.DataLimitExceeded (a payload over 256 KiB) fail the execution and
// are neither retried nor caught, even by States.ALL; States.TaskFailed
// matches every error but States.Timeout; the first retrier matching an
// error decides; a Map item's failure is the Map's, under the item's error
// name. Two differences to keep in mind: a Lambda's error Cause in AWS is a
// JSON document ({"errorMessage", "errorType", ...}) where here it is the
// step's cause as given, and a Task may be invoked again after a restart
// (at least once, as AWS retries Lambda invocations).
//
// The cross-check test runs scripted scenarios on this package and on
// aws-local-stepfunctions, an independent implementation, and requires the
// same visited states, task inputs and results; see crosscheck_test.go.
package asl
