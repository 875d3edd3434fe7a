package stack

import (
	"encoding/json"
	"fmt"
	"slices"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsbatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecrassets"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/jsii-runtime-go"

	"github.com/openrescale/platform/shared/catalog"
	batchdep "github.com/openrescale/platform/shared/compute/awsbatch"
)

// Job definition defaults: every run overrides VCPU and MEMORY for what
// its job asked (shared/compute/awsbatch), so these only need to be
// integers Batch accepts (awsbatch's package doc: integer vcpus/memory,
// which moto also requires).
const (
	defaultJobVCPUs     = 1
	defaultJobMemoryMiB = 2048
	// jobAttempts is the retry budget of infrastructure failures: the
	// retry strategy retries only a lost host (statusReason "Host EC2
	// (instance i-…) terminated.", also what a Spot reclaim reads), and
	// exits on anything else, so a failing command runs once.
	jobAttempts = 3
	// RootDeviceName is the root volume of the ECS-optimized Amazon Linux
	// 2023 AMI Batch launches, which the launch template resizes to the
	// coretype's storage (containers' scratch lives on it).
	RootDeviceName = "/dev/xvda"
	// unschedulableAfter cancels a job that can never start (its queue's
	// compute environment is at its maxvCpus, or no instance type fits
	// it): Batch's statusReason then starts "Terminated by
	// JobStateTimeLimit", which the adapter reads as a system failure.
	unschedulableAfterMinutes = 30
)

// ComputeStack is where runs run: per enabled coretype an AWS Batch
// managed EC2 compute environment and its job queue; per software image a
// single-node and (if MultiNode) a multi-node parallel job definition.
type ComputeStack struct {
	awscdk.Stack
	Vpc    awsec2.IVpc
	Queues map[string]awsbatch.JobQueue // by coretype code
	// ComputeEnvironments are the queues' environments, by coretype code.
	ComputeEnvironments map[string]awsbatch.ManagedEc2EcsComputeEnvironment
	// Definitions are the job definitions by batchdep.Definitions key.
	Definitions map[string][2]awsbatch.CfnJobDefinition // single, multi (nil if none)
	// Deployment is what the functions are told (BATCH_DEPLOYMENT), with
	// ARNs as tokens; DeploymentJSON is it encoded.
	Deployment     batchdep.Deployment
	DeploymentJSON *string
	JobRole        awsiam.Role
	ExecutionRole  awsiam.Role
	JobLogs        awslogs.LogGroup
}

func newComputeStack(root awscdk.Stack, props Props) *ComputeStack {
	st := awscdk.NewNestedStack(root, jsii.String("Compute"), &awscdk.NestedStackProps{
		Description: jsii.String("OpenRescale compute: AWS Batch per coretype, job definitions per software image"),
	})
	cs := &ComputeStack{
		Stack: st, Queues: map[string]awsbatch.JobQueue{}, ComputeEnvironments: map[string]awsbatch.ManagedEc2EcsComputeEnvironment{},
		Definitions: map[string][2]awsbatch.CfnJobDefinition{},
		Deployment:  batchdep.Deployment{Queues: map[string]batchdep.Queue{}, Definitions: map[string]batchdep.Definition{}},
	}
	if props.VpcID != "" {
		cs.Vpc = awsec2.Vpc_FromLookup(st, jsii.String("Vpc"), &awsec2.VpcLookupOptions{VpcId: jsii.String(props.VpcID)})
	} else {
		// Public subnets only and no NAT gateway: a NAT gateway bills by
		// the hour whether or not anything runs. Instances get public
		// addresses to reach ECR, S3 and the API; the security group
		// admits nothing from outside.
		cs.Vpc = awsec2.NewVpc(st, jsii.String("Vpc"), &awsec2.VpcProps{
			MaxAzs:      jsii.Number(2),
			NatGateways: jsii.Number(0),
			SubnetConfiguration: &[]*awsec2.SubnetConfiguration{{
				Name: jsii.String("public"), SubnetType: awsec2.SubnetType_PUBLIC, CidrMask: jsii.Number(20),
			}},
		})
	}
	if v, ok := cs.Vpc.(awsec2.Vpc); ok {
		suppress(v, "AwsSolutions-VPC7", "flow logs bill CloudWatch ingestion per GB; the VPC carries only job traffic out to AWS APIs and admits nothing in; enable them per deployment if required")
	}
	sg := awsec2.NewSecurityGroup(st, jsii.String("Nodes"), &awsec2.SecurityGroupProps{
		Vpc:              cs.Vpc,
		Description:      jsii.String("Batch instances: no inbound but from each other (MPI between the nodes of a job)"),
		AllowAllOutbound: jsii.Bool(true),
	})
	sg.AddIngressRule(sg, awsec2.Port_AllTraffic(), jsii.String("nodes of one multi-node job talk to each other"), nil)

	cs.JobLogs = awslogs.NewLogGroup(st, jsii.String("JobLogs"), &awslogs.LogGroupProps{
		Retention:     awslogs.RetentionDays_ONE_MONTH,
		RemovalPolicy: awscdk.RemovalPolicy_DESTROY,
	})
	// The job role has no permissions: the agent gets S3 credentials for
	// its own job's prefixes from the API, with its job-scoped key, so a
	// container cannot reach other jobs' files with the role.
	cs.JobRole = awsiam.NewRole(st, jsii.String("JobRole"), &awsiam.RoleProps{
		AssumedBy:   awsiam.NewServicePrincipal(jsii.String("ecs-tasks.amazonaws.com"), nil),
		Description: jsii.String("Run containers: no permissions (the agent's S3 credentials come per job from the API)"),
	})
	cs.ExecutionRole = awsiam.NewRole(st, jsii.String("ExecutionRole"), &awsiam.RoleProps{
		AssumedBy:   awsiam.NewServicePrincipal(jsii.String("ecs-tasks.amazonaws.com"), nil),
		Description: jsii.String("ECS agent: pulls the run images, writes the run logs"),
	})
	cs.JobLogs.GrantWrite(cs.ExecutionRole)

	for _, ct := range props.Coretypes {
		cs.addCoretype(ct, sg, props)
	}
	cs.addImages(props)

	b, err := json.Marshal(cs.Deployment)
	if err != nil {
		panic(fmt.Sprintf("encode batch deployment: %v", err)) // plain structs of strings and ints
	}
	// The ARNs in it are tokens; CloudFormation joins them into the string.
	cs.DeploymentJSON = jsii.String(string(b))
	return cs
}

func (cs *ComputeStack) addCoretype(ct catalog.Coretype, sg awsec2.ISecurityGroup, props Props) {
	st := cs.Stack
	d := ct.Deployment
	maxCores := slices.Max(ct.Cores)
	vcpusPerCore := max(d.VCPUsPerCore, 1)
	// Storage and memory are per core in the catalog; one launch template
	// serves the environment's every instance size, so it is sized for
	// the largest node.
	storageGB := ct.Storage * maxCores
	if storageGB < 30 {
		storageGB = 30 // the ECS-optimized AMI's own root volume size
	}
	lt := awsec2.NewLaunchTemplate(st, jsii.String("LaunchTemplate-"+ct.Code), &awsec2.LaunchTemplateProps{
		BlockDevices: &[]*awsec2.BlockDevice{{
			DeviceName: jsii.String(RootDeviceName),
			Volume: awsec2.BlockDeviceVolume_Ebs(jsii.Number(float64(storageGB)), &awsec2.EbsDeviceOptions{
				VolumeType:          awsec2.EbsDeviceVolumeType_GP3,
				Encrypted:           jsii.Bool(true),
				DeleteOnTermination: jsii.Bool(true),
			}),
		}},
		RequireImdsv2: jsii.Bool(true),
	})
	spot := props.Spot[ct.Code]
	alloc := awsbatch.AllocationStrategy_BEST_FIT_PROGRESSIVE
	if spot {
		alloc = awsbatch.AllocationStrategy_SPOT_PRICE_CAPACITY_OPTIMIZED
	}
	var types []awsec2.InstanceType
	for _, it := range d.InstanceTypeNames() {
		types = append(types, awsec2.NewInstanceType(jsii.String(it)))
	}
	ce := awsbatch.NewManagedEc2EcsComputeEnvironment(st, jsii.String("Env-"+ct.Code), &awsbatch.ManagedEc2EcsComputeEnvironmentProps{
		Vpc:                       cs.Vpc,
		VpcSubnets:                &awsec2.SubnetSelection{SubnetType: awsec2.SubnetType_PUBLIC},
		SecurityGroups:            &[]awsec2.ISecurityGroup{sg},
		InstanceTypes:             &types,
		UseOptimalInstanceClasses: jsii.Bool(false),
		// Nothing runs, nothing is billed: instances start for jobs and
		// stop once the queue is empty.
		MinvCpus:           jsii.Number(0),
		MaxvCpus:           jsii.Number(float64(maxCores * vcpusPerCore * props.MaxNodes)),
		Spot:               jsii.Bool(spot),
		AllocationStrategy: alloc,
		LaunchTemplate:     lt,
		Images:             &[]*awsbatch.EcsMachineImage{{ImageType: awsbatch.EcsMachineImageType_ECS_AL2023}},
	})
	q := awsbatch.NewJobQueue(st, jsii.String("Queue-"+ct.Code), &awsbatch.JobQueueProps{
		ComputeEnvironments: &[]*awsbatch.OrderedComputeEnvironment{{ComputeEnvironment: ce, Order: jsii.Number(1)}},
		Priority:            jsii.Number(1),
		JobStateTimeLimitActions: &[]*awsbatch.JobStateTimeLimitAction{
			{Action: awsbatch.JobStateTimeLimitActionsAction_CANCEL, MaxTime: awscdk.Duration_Minutes(jsii.Number(unschedulableAfterMinutes)), Reason: awsbatch.JobStateTimeLimitActionsReason_COMPUTE_ENVIRONMENT_MAX_RESOURCE},
			{Action: awsbatch.JobStateTimeLimitActionsAction_CANCEL, MaxTime: awscdk.Duration_Minutes(jsii.Number(unschedulableAfterMinutes)), Reason: awsbatch.JobStateTimeLimitActionsReason_JOB_RESOURCE_REQUIREMENT},
		},
	})
	cs.Queues[ct.Code] = q
	cs.ComputeEnvironments[ct.Code] = ce
	cs.Deployment.Queues[ct.Code] = batchdep.Queue{
		Queue:            *q.JobQueueArn(),
		CoresPerNode:     maxCores,
		VCPUsPerCore:     vcpusPerCore,
		MaxNodes:         props.MaxNodes,
		MemoryMiBPerNode: ct.Memory * maxCores,
		// The root volume also holds the OS and images: the catalog's
		// figure is what jobs may ask for, the volume is that much.
		StorageBytesPerNode: int64(storageGB) << 30,
	}
}

// addImages makes the job definitions: the default image's for
// user_included and custom software, and one set per catalog image.
func (cs *ComputeStack) addImages(props Props) {
	type entry struct {
		key, image string
		multi      bool
	}
	entries := []entry{{key: batchdep.DefaultDefinition, image: catalog.DefaultImage, multi: true}}
	for _, im := range props.Images {
		entries = append(entries, entry{key: batchdep.DefinitionKey(im.Analysis, im.Version), image: im.Image, multi: im.MultiNode})
	}
	assets := map[string]awsecrassets.DockerImageAsset{}
	for i, e := range entries {
		asset, ok := assets[e.image]
		if !ok {
			// The agent is the entry point of every run's container:
			// infra/agentimage/Dockerfile adds it to the software image.
			asset = awsecrassets.NewDockerImageAsset(cs.Stack, jsii.String(fmt.Sprintf("Image%d", len(assets))), &awsecrassets.DockerImageAssetProps{
				Directory: jsii.String(props.AgentImageDir),
				BuildArgs: &map[string]*string{"BASE_IMAGE": jsii.String(e.image)},
				Platform:  awsecrassets.Platform_LINUX_AMD64(),
			})
			asset.Repository().GrantPull(cs.ExecutionRole)
			assets[e.image] = asset
		}
		single := cs.jobDefinition(fmt.Sprintf("Def%d", i), asset.ImageUri(), false)
		var multi awsbatch.CfnJobDefinition
		def := batchdep.Definition{Single: *single.Ref()}
		if e.multi {
			multi = cs.jobDefinition(fmt.Sprintf("Def%dMulti", i), asset.ImageUri(), true)
			def.Multi = *multi.Ref()
		}
		cs.Definitions[e.key] = [2]awsbatch.CfnJobDefinition{single, multi}
		cs.Deployment.Definitions[e.key] = def
	}
}

// jobDefinition is a single-node container definition, or a multi-node
// parallel one whose one node range "0:" runs the same container on every
// node, main node 0; SubmitJob sets numNodes from the job.
func (cs *ComputeStack) jobDefinition(id string, image *string, multi bool) awsbatch.CfnJobDefinition {
	container := &awsbatch.CfnJobDefinition_ContainerPropertiesProperty{
		Image:            image,
		Vcpus:            jsii.Number(defaultJobVCPUs),
		Memory:           jsii.Number(defaultJobMemoryMiB),
		JobRoleArn:       cs.JobRole.RoleArn(),
		ExecutionRoleArn: cs.ExecutionRole.RoleArn(),
		LogConfiguration: &awsbatch.CfnJobDefinition_LogConfigurationProperty{
			LogDriver: jsii.String("awslogs"),
			Options: &map[string]*string{
				"awslogs-group":         cs.JobLogs.LogGroupName(),
				"awslogs-stream-prefix": jsii.String("run"),
			},
		},
	}
	props := &awsbatch.CfnJobDefinitionProps{
		Type:                 jsii.String("container"),
		PlatformCapabilities: jsii.Strings("EC2"),
		PropagateTags:        jsii.Bool(true),
		RetryStrategy: &awsbatch.CfnJobDefinition_RetryStrategyProperty{
			Attempts: jsii.Number(jobAttempts),
			EvaluateOnExit: &[]*awsbatch.CfnJobDefinition_EvaluateOnExitProperty{
				{OnStatusReason: jsii.String("Host EC2*"), Action: jsii.String("RETRY")},
				{OnReason: jsii.String("*"), Action: jsii.String("EXIT")},
			},
		},
	}
	if multi {
		props.Type = jsii.String("multinode")
		props.NodeProperties = &awsbatch.CfnJobDefinition_NodePropertiesProperty{
			NumNodes: jsii.Number(2),
			MainNode: jsii.Number(0),
			NodeRangeProperties: &[]*awsbatch.CfnJobDefinition_NodeRangePropertyProperty{{
				TargetNodes: jsii.String("0:"),
				Container:   container,
			}},
		}
	} else {
		props.ContainerProperties = container
	}
	return awsbatch.NewCfnJobDefinition(cs.Stack, jsii.String(id), props)
}

// grantSubmit lets fn submit runs to the queues with the definitions.
func (cs *ComputeStack) grantSubmit(fn awslambda.Function) {
	var res []*string
	for _, code := range slices.Sorted(mapsKeys(cs.Queues)) {
		res = append(res, cs.Queues[code].JobQueueArn())
	}
	for _, key := range slices.Sorted(mapsKeys(cs.Definitions)) {
		for _, d := range cs.Definitions[key] {
			if d != nil {
				res = append(res, d.Ref())
			}
		}
	}
	fn.AddToRolePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:   jsii.Strings("batch:SubmitJob"),
		Resources: &res,
	}))
	// SubmitJob with tags (rescale:job, rescale:run, rescale:owner) also
	// needs TagResource on the job it creates, and on nothing else.
	fn.AddToRolePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:    jsii.Strings("batch:TagResource"),
		Resources:  &[]*string{cs.jobArns()},
		Conditions: &map[string]any{"StringEquals": map[string]any{"batch:CreateAction": "SubmitJob"}},
	}))
}

// grantControl lets fn end runs and read their state.
func (cs *ComputeStack) grantControl(fn awslambda.Function) {
	fn.AddToRolePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:   jsii.Strings("batch:TerminateJob"),
		Resources: &[]*string{cs.jobArns()},
	}))
	fn.AddToRolePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		// DescribeJobs supports no resource-level permissions (Service
		// Authorization Reference, AWS Batch: "Resource types" is empty
		// for it), so "*" is the only resource it can be granted on.
		Actions:   jsii.Strings("batch:DescribeJobs"),
		Resources: jsii.Strings("*"),
	}))
}

// jobArns matches Batch jobs of this account and region: job ids are made
// by Batch, so no narrower pattern exists for them.
func (cs *ComputeStack) jobArns() *string {
	st := cs.Stack
	return awscdk.Fn_Join(jsii.String(""), &[]*string{
		jsii.String("arn:"), st.Partition(), jsii.String(":batch:"), st.Region(), jsii.String(":"), st.Account(), jsii.String(":job/*"),
	})
}
