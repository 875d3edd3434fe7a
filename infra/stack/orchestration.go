package stack

import (
	"slices"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsstepfunctions"
	"github.com/aws/jsii-runtime-go"

	"github.com/openrescale/platform/shared/compute/awsbatch"
	"github.com/openrescale/platform/shared/lifecycle"
	"github.com/openrescale/platform/statemachines"
)

// OrchestrationStack is the job state machine (statemachines/job.asl.json)
// and the Lambda functions running its steps.
type OrchestrationStack struct {
	awscdk.Stack
	StateMachine awsstepfunctions.StateMachine
	// Steps maps a step name (lifecycle.Placeholders' values) to its
	// function.
	Steps map[string]awslambda.Function
	Logs  awslogs.LogGroup
}

// Batch calls of the steps: start-run submits the run (and ends a
// duplicate it lost a race with), tear-down ends what still runs.
var (
	stepsSubmitting  = []string{"start-run"}
	stepsTerminating = []string{"start-run", "tear-down"}
)

func newOrchestrationStack(root awscdk.Stack, fns *functions, api *APIStack, comp *ComputeStack) *OrchestrationStack {
	st := awscdk.NewNestedStack(root, jsii.String("Orchestration"), &awscdk.NestedStackProps{
		Description: jsii.String("OpenRescale job lifecycle: state machine and step functions"),
	})
	orch := &OrchestrationStack{Stack: st, Steps: map[string]awslambda.Function{}}

	subs := map[string]*string{}
	var stepArns []*string
	placeholders := lifecycle.Placeholders()
	for _, ph := range slices.Sorted(mapsKeys(placeholders)) {
		step := placeholders[ph]
		// No STATE_MACHINE_ARN: the definition names these functions, so
		// their naming it back would be a cycle, and steps do not call
		// Step Functions (the Batch events function answers task tokens).
		env := map[string]*string{
			EnvBucket:              fns.bucket.BucketName(),
			EnvAPIURL:              api.apiV2URL(),
			awsbatch.EnvDeployment: comp.DeploymentJSON,
		}
		fn := fns.new(st, StepRoute(step), "job lifecycle step "+step, env, func(p *awslambda.FunctionProps) {
			// Step Functions waits for the function, not API Gateway, so
			// the 29 s cap does not apply; collecting outputs lists and
			// records every output file of a run.
			p.Timeout = awscdk.Duration_Minutes(jsii.Number(5))
			p.MemorySize = jsii.Number(512)
			if step == "collect-outputs" {
				p.Timeout = awscdk.Duration_Minutes(jsii.Number(15))
				p.MemorySize = jsii.Number(1024)
			}
		})
		fns.table.GrantReadWriteData(fn)
		fns.bucket.GrantReadWrite(fn, nil)
		if slices.Contains(stepsSubmitting, step) {
			comp.grantSubmit(fn)
		}
		if slices.Contains(stepsTerminating, step) {
			comp.grantControl(fn)
		}
		orch.Steps[step] = fn
		subs[ph] = fn.FunctionArn()
		stepArns = append(stepArns, fn.FunctionArn())
	}

	role := awsiam.NewRole(st, jsii.String("StateMachineRole"), &awsiam.RoleProps{
		AssumedBy:   awsiam.NewServicePrincipal(jsii.String("states.amazonaws.com"), nil),
		Description: jsii.String("The job state machine: invokes the step functions only"),
	})
	// Exactly the unqualified ARNs the definition names (no ":*" for
	// versions and aliases, which the definition never uses).
	role.AddToPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:   jsii.Strings("lambda:InvokeFunction"),
		Resources: &stepArns,
	}))
	orch.Logs = awslogs.NewLogGroup(st, jsii.String("StateMachineLogs"), &awslogs.LogGroupProps{
		Retention:     awslogs.RetentionDays_THREE_MONTHS,
		RemovalPolicy: awscdk.RemovalPolicy_DESTROY,
	})
	orch.StateMachine = awsstepfunctions.NewStateMachine(st, jsii.String("JobStateMachine"), &awsstepfunctions.StateMachineProps{
		StateMachineType:        awsstepfunctions.StateMachineType_STANDARD,
		DefinitionBody:          awsstepfunctions.DefinitionBody_FromString(jsii.String(string(statemachines.Job))),
		DefinitionSubstitutions: &subs,
		Role:                    role,
		TracingEnabled:          jsii.Bool(true),
		Logs: &awsstepfunctions.LogOptions{
			Destination: orch.Logs,
			Level:       awsstepfunctions.LogLevel_ALL,
			// Payloads carry ids only (lifecycle.Ref), nothing secret.
			IncludeExecutionData: jsii.Bool(true),
		},
	})
	return orch
}

// grantRestart lets an event handler answer task tokens, read executions
// and start one again (lifecycle.Orchestrator: SendTaskSuccess/Failure,
// Status, Start).
func (orch *OrchestrationStack) grantRestart(fn awslambda.Function) {
	orch.StateMachine.GrantTaskResponse(fn)
	orch.StateMachine.GrantStartExecution(fn)
	orch.grantDescribe(fn)
}

// grantDescribe lets fn read the job executions' status.
func (orch *OrchestrationStack) grantDescribe(fn awslambda.Function) {
	fn.AddToRolePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:   jsii.Strings("states:DescribeExecution"),
		Resources: &[]*string{orch.ExecutionArns()},
	}))
}

// ExecutionArns matches every execution of the job state machine, for
// StopExecution and DescribeExecution (whose resource is the execution).
func (orch *OrchestrationStack) ExecutionArns() *string {
	st := orch.Stack
	name := awscdk.Fn_Select(jsii.Number(6), awscdk.Fn_Split(jsii.String(":"), orch.StateMachine.StateMachineArn(), nil))
	return awscdk.Fn_Join(jsii.String(""), &[]*string{
		jsii.String("arn:"), st.Partition(), jsii.String(":states:"), st.Region(), jsii.String(":"), st.Account(),
		jsii.String(":execution:"), name, jsii.String(":*"),
	})
}

func mapsKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}
