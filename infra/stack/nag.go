package stack

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"
)

// The cdk-nag AwsSolutions findings the deployment accepts, each with its
// reason; the tests run the pack and fail on any other error. Findings on
// one construct are suppressed where it is made (suppress); the ones every
// stack shares, from CDK's own grants, are here.

// suppress records that construct's finding rule is accepted, and why.
func suppress(construct any, rule, reason string) {
	cdknag.NagSuppressions_AddResourceSuppressions(construct, &[]*cdknag.NagPackSuppression{{
		Id: jsii.String(rule), Reason: jsii.String(reason),
	}}, jsii.Bool(true))
}

func regex(re string) *cdknag.RegexAppliesTo { return &cdknag.RegexAppliesTo{Regex: jsii.String(re)} }

// addNagSuppressions records the findings shared by every stack. Each
// names exactly what it applies to, so a new wildcard still fails.
func addNagSuppressions(ps *PlatformStack) {
	cdknag.NagSuppressions_AddStackSuppressions(ps.Stack, &[]*cdknag.NagPackSuppression{
		{
			Id:     jsii.String("AwsSolutions-IAM4"),
			Reason: jsii.String("AWS managed policies for service plumbing only: Lambda's basic execution role (its own log group) and the ECS instance role Batch instances need to join their cluster; both are what AWS documents for these roles"),
			AppliesTo: &[]any{
				"Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
				"Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonEC2ContainerServiceforEC2Role",
			},
		},
		{
			Id: jsii.String("AwsSolutions-IAM5"),
			Reason: jsii.String("Wildcards no narrower resource exists for: the table's indexes (queries use gsi1/gsi2), objects under the files bucket (keys are users' paths) and the console bucket, " +
				"CDK's grant action groups on those objects, Batch jobs (ids are made by Batch at SubmitJob), the state machine's executions (named after jobs), the CDK assets bucket, " +
				"and Resource * for the actions that support no resource-level permissions (batch:DescribeJobs, X-Ray, CloudWatch Logs vended delivery, ecr:GetAuthorizationToken); the infra tests check no other action has *"),
			AppliesTo: &[]any{
				regex(`/^Resource::<[^>]*Table[^>]*>\/index\/\*$/g`),
				regex(`/^Resource::<[^>]*(Files|Site)[^>]*>\/(\*|user\/\*)$/g`),
				regex(`/^Action::s3:(List|GetObject|GetBucket|DeleteObject|Abort)\*$/g`),
				regex(`/^Resource::arn:<AWS::Partition>:batch:<AWS::Region>:<AWS::AccountId>:job\/\*$/g`),
				regex(`/^Resource::arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:execution:.*:\*$/g`),
				regex(`/^Resource::arn:<AWS::Partition>:s3:::cdk-[a-z0-9]+-assets-<AWS::AccountId>-<AWS::Region>\/\*$/g`),
				"Resource::*",
			},
		},
	}, jsii.Bool(true))
}

// suppressBucketLogs accepts a bucket without server access logs.
func suppressBucketLogs(b awscdk.IResource, what string) {
	suppress(b, "AwsSolutions-S1", what+": server access logs need a second bucket per deployment and bill per request; CloudTrail data events are the per-deployment choice for auditing object access")
}
