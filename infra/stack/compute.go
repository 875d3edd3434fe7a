package stack

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

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
	// 2023 AMI Batch launches, which the launch templates resize to the
	// coretype's storage (containers' scratch lives on it).
	RootDeviceName = "/dev/xvda"
	// unschedulableAfter cancels a job that can never start (its queue's
	// compute environment is at its maxvCpus, or no instance type fits
	// it): Batch's statusReason then starts "Terminated by
	// JobStateTimeLimit", which the adapter reads as a system failure.
	unschedulableAfterMinutes = 30
)

// ContainerStopTimeout is how long ECS waits after a container's SIGTERM
// (a stop, TerminateJob) before SIGKILL: the agent stops the command and
// uploads the outputs in that time (shared/compute/awsbatch, "Stops").
// ECS's default is 30 seconds; its agent accepts up to 10 minutes.
const ContainerStopTimeout = "120s"

// InstanceUserData sets the instances' ECS agent configuration. Batch
// merges launch template user data with its own only in MIME multi-part
// form.
const InstanceUserData = `MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="==RESCALE=="

--==RESCALE==
Content-Type: text/x-shellscript; charset="us-ascii"

#!/bin/bash
echo ECS_CONTAINER_STOP_TIMEOUT=` + ContainerStopTimeout + ` >> /etc/ecs/ecs.config

--==RESCALE==--
`

// ComputeStack is where runs run: per enabled coretype an AWS Batch
// managed EC2 compute environment and its job queue; per software image a
// single-node and (if MultiNode) a multi-node parallel job definition.
type ComputeStack struct {
	awscdk.Stack
	Vpc    awsec2.IVpc
	Queues map[string]awsbatch.CfnJobQueue // by coretype code
	// ComputeEnvironments are the queues' environments, by coretype code.
	ComputeEnvironments map[string]awsbatch.CfnComputeEnvironment
	// Definitions are the job definitions by batchdep.Definitions key.
	Definitions map[string][2]awsbatch.CfnJobDefinition // single, multi (nil if none)
	// Deployment is what the functions are told (BATCH_DEPLOYMENT), with
	// ARNs as tokens; DeploymentJSON is it encoded.
	Deployment     batchdep.Deployment
	DeploymentJSON *string
	JobRole        awsiam.Role
	ExecutionRole  awsiam.Role
	JobLogs        awslogs.LogGroup
	// InstanceRole is the Batch instances' (ECS container instances').
	InstanceRole    awsiam.Role
	instanceProfile awsiam.CfnInstanceProfile
	nodes           awsec2.SecurityGroup
}

func newComputeStack(root awscdk.Stack, props Props) *ComputeStack {
	st := awscdk.NewNestedStack(root, jsii.String("Compute"), &awscdk.NestedStackProps{
		Description: jsii.String("OpenRescale compute: AWS Batch per coretype, job definitions per software image"),
	})
	cs := &ComputeStack{
		Stack: st, Queues: map[string]awsbatch.CfnJobQueue{}, ComputeEnvironments: map[string]awsbatch.CfnComputeEnvironment{},
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
	cs.nodes = sg
	cs.InstanceRole = awsiam.NewRole(st, jsii.String("InstanceRole"), &awsiam.RoleProps{
		AssumedBy:   awsiam.NewServicePrincipal(jsii.String("ec2.amazonaws.com"), nil),
		Description: jsii.String("Batch instances: join their ECS cluster (the AWS managed policy for ECS container instances)"),
		ManagedPolicies: &[]awsiam.IManagedPolicy{
			awsiam.ManagedPolicy_FromAwsManagedPolicyName(jsii.String("service-role/AmazonEC2ContainerServiceforEC2Role")),
		},
	})
	cs.instanceProfile = awsiam.NewCfnInstanceProfile(st, jsii.String("InstanceProfile"), &awsiam.CfnInstanceProfileProps{
		Roles: &[]any{cs.InstanceRole.RoleName()},
	})

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
		cs.addCoretype(ct, props)
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

func (cs *ComputeStack) addCoretype(ct catalog.Coretype, props Props) {
	st := cs.Stack
	d := ct.Deployment
	maxCores := slices.Max(ct.Cores)
	vcpusPerCore := max(d.VCPUsPerCore, 1)

	// One launch template per instance size, each with the coretype's
	// storage per core times that size's cores as its root volume (the
	// containers' scratch), so a one-core instance does not carry the
	// largest node's volume. Batch picks the template of the instance
	// type it launches (launch template overrides); the largest node's is
	// the default.
	sizes := slices.Clone(ct.Cores)
	slices.Sort(sizes)
	var overrides []any
	var defaultLT awsec2.LaunchTemplate
	var types []*string
	for i, cores := range sizes {
		it, _ := d.InstanceType(cores) // catalog.Validate: one per size
		types = append(types, jsii.String(it))
		lt := awsec2.NewLaunchTemplate(st, jsii.String(fmt.Sprintf("LaunchTemplate-%s-%d", ct.Code, cores)), &awsec2.LaunchTemplateProps{
			BlockDevices: &[]*awsec2.BlockDevice{{
				DeviceName: jsii.String(RootDeviceName),
				Volume: awsec2.BlockDeviceVolume_Ebs(jsii.Number(float64(rootVolumeGB(ct, cores))), &awsec2.EbsDeviceOptions{
					VolumeType:          awsec2.EbsDeviceVolumeType_GP3,
					Encrypted:           jsii.Bool(true),
					DeleteOnTermination: jsii.Bool(true),
				}),
			}},
			RequireImdsv2: jsii.Bool(true),
			UserData:      awsec2.UserData_Custom(jsii.String(InstanceUserData)),
		})
		if i == len(sizes)-1 {
			defaultLT = lt
			continue
		}
		overrides = append(overrides, &awsbatch.CfnComputeEnvironment_LaunchTemplateSpecificationOverrideProperty{
			LaunchTemplateId:    lt.LaunchTemplateId(),
			Version:             lt.LatestVersionNumber(),
			TargetInstanceTypes: &[]*string{jsii.String(it)},
		})
	}
	slices.SortFunc(types, func(a, b *string) int { return strings.Compare(*a, *b) })

	spot := props.Spot[ct.Code]
	crType, alloc := "EC2", "BEST_FIT_PROGRESSIVE"
	if spot {
		crType, alloc = "SPOT", "SPOT_PRICE_CAPACITY_OPTIMIZED"
	}
	var subnets []*string
	for _, sn := range cs.subnets(props) {
		subnets = append(subnets, sn.SubnetId())
	}
	ce := awsbatch.NewCfnComputeEnvironment(st, jsii.String("Env-"+ct.Code), &awsbatch.CfnComputeEnvironmentProps{
		Type:  jsii.String("MANAGED"),
		State: jsii.String("ENABLED"),
		// No ServiceRole: Batch uses its service-linked role, created on
		// first use in the account.
		ComputeResources: &awsbatch.CfnComputeEnvironment_ComputeResourcesProperty{
			Type:               jsii.String(crType),
			AllocationStrategy: jsii.String(alloc),
			// Nothing runs, nothing is billed: instances start for jobs
			// and stop once the queue is empty.
			MinvCpus:         jsii.Number(0),
			MaxvCpus:         jsii.Number(float64(maxCores * vcpusPerCore * props.MaxNodes)),
			InstanceTypes:    &types,
			Subnets:          &subnets,
			SecurityGroupIds: &[]*string{cs.nodes.SecurityGroupId()},
			InstanceRole:     cs.instanceProfile.AttrArn(),
			Ec2Configuration: &[]any{&awsbatch.CfnComputeEnvironment_Ec2ConfigurationObjectProperty{ImageType: jsii.String("ECS_AL2023")}},
			LaunchTemplate: &awsbatch.CfnComputeEnvironment_LaunchTemplateSpecificationProperty{
				LaunchTemplateId: defaultLT.LaunchTemplateId(),
				Version:          defaultLT.LatestVersionNumber(),
				Overrides:        &overrides,
			},
		},
	})
	q := awsbatch.NewCfnJobQueue(st, jsii.String("Queue-"+ct.Code), &awsbatch.CfnJobQueueProps{
		Priority: jsii.Number(1),
		State:    jsii.String("ENABLED"),
		ComputeEnvironmentOrder: &[]any{&awsbatch.CfnJobQueue_ComputeEnvironmentOrderProperty{
			ComputeEnvironment: ce.AttrComputeEnvironmentArn(), Order: jsii.Number(1),
		}},
		JobStateTimeLimitActions: &[]any{
			unschedulable("MISCONFIGURATION:COMPUTE_ENVIRONMENT_MAX_RESOURCE"),
			unschedulable("MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT"),
		},
	})
	cs.Queues[ct.Code] = q
	cs.ComputeEnvironments[ct.Code] = ce
	cs.Deployment.Queues[ct.Code] = batchdep.Queue{
		Queue:            *q.AttrJobQueueArn(),
		CoresPerNode:     maxCores,
		VCPUsPerCore:     vcpusPerCore,
		MaxNodes:         maxNodes(ct, props),
		MemoryMiBPerNode: ct.Memory * maxCores,
		// The catalog's storage is what jobs may ask for; the largest
		// node's volume holds that much.
		StorageBytesPerNode: int64(rootVolumeGB(ct, maxCores)) << 30,
	}
}

// maxNodes is what the adapter may submit multi-node jobs of on the
// coretype's queue: 1 (single-node only) where AWS Batch cannot run them.
// Multi-node parallel jobs are not supported on Spot compute environments,
// and their containers use awsvpc networking, whose network interfaces get
// no public address: in public subnets without a NAT gateway they could
// reach neither S3 nor the API (AWS Batch user guide, "Compute environment
// considerations for MNP").
func maxNodes(ct catalog.Coretype, props Props) int {
	if props.Spot[ct.Code] || !props.PrivateSubnets {
		return 1
	}
	return props.MaxNodes
}

// subnets are where the instances run: the VPC's public subnets, or with
// PrivateSubnets its private subnets with egress (the imported VPC's NAT).
func (cs *ComputeStack) subnets(props Props) []awsec2.ISubnet {
	if props.PrivateSubnets {
		return *cs.Vpc.PrivateSubnets()
	}
	return *cs.Vpc.PublicSubnets()
}

// rootVolumeGB is a node's root volume: the coretype's storage per core
// times the node's cores, and at least the ECS-optimized AMI's own 30 GB.
func rootVolumeGB(ct catalog.Coretype, cores int) int {
	return max(ct.Storage*cores, 30)
}

func unschedulable(reason string) *awsbatch.CfnJobQueue_JobStateTimeLimitActionProperty {
	return &awsbatch.CfnJobQueue_JobStateTimeLimitActionProperty{
		Action: jsii.String("CANCEL"), State: jsii.String("RUNNABLE"), Reason: jsii.String(reason),
		MaxTimeSeconds: jsii.Number(unschedulableAfterMinutes * 60),
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
		res = append(res, cs.Queues[code].AttrJobQueueArn())
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
	cs.grantDescribe(fn)
}

// grantDescribe lets fn read Batch jobs.
func (cs *ComputeStack) grantDescribe(fn awslambda.Function) {
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
