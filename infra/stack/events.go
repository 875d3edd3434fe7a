package stack

import (
	"slices"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsevents"
	"github.com/aws/aws-cdk-go/awscdk/v2/awseventstargets"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambdadestinations"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/jsii-runtime-go"

	"github.com/openrescale/platform/shared/compute/awsbatch"
)

// ReconcileEvery is the reconciler's schedule: often enough that a run
// whose events were all lost is ended within minutes, rarely enough that
// an idle platform's invocations stay in Lambda's free tier (8,640 a
// month at 5 minutes).
const ReconcileEveryMinutes = 5

// EventsStack routes AWS Batch's job state changes to the status handler
// and runs the reconciler.
type EventsStack struct {
	awscdk.Stack
	JobStateRule awsevents.Rule
	Schedule     awsevents.Rule
	// Failed holds state change events that could not be delivered or
	// handled after the retries, for inspection and replay.
	Failed awssqs.Queue
}

func newEventsStack(root awscdk.Stack, fns *functions, comp *ComputeStack, orch *OrchestrationStack, api *APIStack) *EventsStack {
	st := awscdk.NewNestedStack(root, jsii.String("Events"), &awscdk.NestedStackProps{
		Description: jsii.String("OpenRescale events: Batch job state changes, reconciler schedule"),
	})
	es := &EventsStack{Stack: st}
	es.Failed = awssqs.NewQueue(st, jsii.String("JobStateFailed"), &awssqs.QueueProps{
		RetentionPeriod: awscdk.Duration_Days(jsii.Number(14)),
		Encryption:      awssqs.QueueEncryption_SQS_MANAGED,
		EnforceSSL:      jsii.Bool(true),
	})
	suppress(es.Failed, "AwsSolutions-SQS3", "this queue is the dead-letter queue of the job state rule and function")
	env := func() map[string]*string {
		return map[string]*string{
			EnvBucket:              fns.bucket.BucketName(),
			EnvStateMachine:        orch.StateMachine.StateMachineArn(),
			EnvAPIURL:              api.apiV2URL(),
			awsbatch.EnvDeployment: comp.DeploymentJSON,
		}
	}

	stateFn := fns.new(st, BatchJobStateRoute, "AWS Batch job state change events", env(), func(p *awslambda.FunctionProps) {
		p.Timeout = awscdk.Duration_Minutes(jsii.Number(1))
		// EventBridge invokes asynchronously: the function's own failures
		// are retried by Lambda, then kept with the undeliverable ones.
		p.RetryAttempts = jsii.Number(2)
		p.OnFailure = awslambdadestinations.NewSqsDestination(es.Failed)
	})
	fns.table.GrantReadWriteData(stateFn)
	// A shutdown's outputs are deleted once its Batch job has ended.
	fns.bucket.GrantReadWrite(stateFn, nil)
	orch.grantRestart(stateFn)
	// It ends a lost race's duplicate Batch job and reads jobs back.
	comp.grantControl(stateFn)

	var queues []any
	for _, code := range slices.Sorted(mapsKeys(comp.Queues)) {
		queues = append(queues, *comp.Queues[code].AttrJobQueueArn())
	}
	es.JobStateRule = awsevents.NewRule(st, jsii.String("BatchJobState"), &awsevents.RuleProps{
		Description: jsii.String("AWS Batch job state changes of the platform's queues"),
		EventPattern: &awsevents.EventPattern{
			Source:     jsii.Strings("aws.batch"),
			DetailType: jsii.Strings("Batch Job State Change"),
			Detail:     &map[string]any{"jobQueue": queues},
		},
	})
	es.JobStateRule.AddTarget(awseventstargets.NewLambdaFunction(stateFn, &awseventstargets.LambdaFunctionProps{
		DeadLetterQueue: es.Failed,
		RetryAttempts:   jsii.Number(8),
		MaxEventAge:     awscdk.Duration_Hours(jsii.Number(2)),
	}))

	recFn := fns.new(st, ReconcileRoute, "reconciles non-terminal jobs with AWS Batch", env(), func(p *awslambda.FunctionProps) {
		p.Timeout = awscdk.Duration_Minutes(jsii.Number(ReconcileEveryMinutes))
		p.MemorySize = jsii.Number(512)
		// A missed round is made up by the next one.
		p.RetryAttempts = jsii.Number(0)
	})
	fns.table.GrantReadWriteData(recFn)
	fns.bucket.GrantReadWrite(recFn, nil)
	orch.grantRestart(recFn)
	comp.grantControl(recFn)
	es.Schedule = awsevents.NewRule(st, jsii.String("Reconcile"), &awsevents.RuleProps{
		Description: jsii.String("Runs the reconciler of jobs with AWS Batch"),
		Schedule:    awsevents.Schedule_Rate(awscdk.Duration_Minutes(jsii.Number(ReconcileEveryMinutes))),
	})
	es.Schedule.AddTarget(awseventstargets.NewLambdaFunction(recFn, &awseventstargets.LambdaFunctionProps{
		RetryAttempts: jsii.Number(0),
	}))
	return es
}
