// Package stack is the platform's AWS deployment, generated from the route
// table, the lifecycle's state machine and the catalog: one Lambda function
// and one API Gateway method per route, each function granted exactly what
// its route's Needs say; the job state machine and its step functions; an
// AWS Batch compute environment and queue per enabled coretype; the Batch
// event and reconciler wiring; and the console site. It is a library so
// tests can synthesise it without building the binaries.
//
// # Nested stacks
//
// CloudFormation allows 500 resources per template and every route costs
// about five, so the deployment is split by seam into nested stacks under
// one root stack:
//
//	Data           table, files bucket, object events function
//	Api            RestApi, authorizer, gateway responses, shared path parts
//	Api<Group>     the routes of one resource group (RouteGroups)
//	Compute        VPC, per coretype a compute environment and queue, job
//	               definitions per software image, job roles
//	Orchestration  the step functions and the job state machine
//	Events         Batch state change rule and its DLQ, reconciler schedule
//	Console        the console's bucket and CloudFront distribution
//
// and the API's deployment and stage in the root, because they must follow
// every method. Each template is tested to stay under MaxResources.
package stack

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/openrescale/platform/cmd/lambda/lambdatier"
	"github.com/openrescale/platform/shared/catalog"
	"github.com/openrescale/platform/shared/httpapi"
	"github.com/openrescale/platform/shared/lifecycle"
)

// Reserved ROUTE values: cmd/lambda serves these instead of a route-table
// entry, so no route may use them.
const (
	// AuthorizerRoute is the API key authorizer.
	AuthorizerRoute = "authorizer"
	// ObjectEventsRoute handles the files bucket's notifications
	// (events/s3objects).
	ObjectEventsRoute = "s3-object-created"
	// BatchJobStateRoute handles EventBridge "Batch Job State Change"
	// events (events/batchstate).
	BatchJobStateRoute = "batch-job-state"
	// ReconcileRoute is the scheduled reconciler of jobs with Batch.
	ReconcileRoute = "reconcile"
)

// StepRoute is the ROUTE of the Lambda function running lifecycle step
// name (a value of lifecycle.Placeholders()).
func StepRoute(name string) string { return "step-" + name }

// UploadSessionDays is how long an upload session lives (shared/uploads'
// store TTL); S3 keeps an unfinished multipart upload's parts, billed, until
// it is aborted, so the bucket aborts them once no session can complete them.
const UploadSessionDays = 7

// Defaults for Props' optional numbers.
const (
	DefaultRateLimit  = 100
	DefaultBurstLimit = 200
	// DefaultMaxNodes bounds a multi-node job, and so each compute
	// environment's maxvCpus (MaxNodes of the coretype's largest node).
	DefaultMaxNodes = 4
)

// MaxResources is the most resources any one template of the deployment
// may hold: CloudFormation's limit is 500, and the margin leaves room for
// a few routes between a failing test and a failing deploy.
const MaxResources = 400

// DefaultCoretypes are the coretypes enabled when the deployment names
// none: two small x86 families (c5, c5d), so a first deployment can run
// the tutorial without service quota increases.
var DefaultCoretypes = []string{"emerald", "luna"}

// Props configures the platform stack.
type Props struct {
	awscdk.StackProps
	// Routes is the route table (api.Routes); only Name, Method, Path,
	// Public and Needs are read.
	Routes []httpapi.Route
	// AssetDir holds the built cmd/lambda binary named "bootstrap", the
	// layout the provided.al2023 runtime expects: the full tier, which
	// serves every function.
	AssetDir string
	// TableAssetDir holds cmd/lambda built for the table tier
	// (lambdatier.Tags(lambdatier.Table)), which the functions that only
	// use the table run for cheaper cold starts; "" runs them from
	// AssetDir.
	TableAssetDir string
	// AgentImageDir is the Docker build context of the job agent image:
	// infra/agentimage's Dockerfile and the linux/amd64 cmd/agent binary
	// named "agent". It is built at deploy time (cdk deploy needs Docker),
	// once per software image, FROM that image.
	AgentImageDir string
	// ConsoleDir is the console's static site (web/console), uploaded to
	// its bucket as is.
	ConsoleDir string
	// FunctionEnv is added to every route function's environment, for
	// cmd/lambda's optional settings (PUBLIC_URL, RATE_LIMIT,
	// KEY_MAX_LIFETIME).
	FunctionEnv map[string]string
	// RateLimit (requests per second, steady) and BurstLimit cap the whole
	// stage; zero means the defaults. Per-key limits are applied by the
	// functions themselves.
	RateLimit, BurstLimit float64

	// Coretypes are the enabled coretypes, each with its Deployment.
	Coretypes []catalog.Coretype
	// Spot lists coretype codes whose compute environment runs on Spot.
	Spot map[string]bool
	// MaxNodes bounds multi-node jobs; 0 means DefaultMaxNodes.
	MaxNodes int
	// Images are the software images (catalog.Images); runs of software
	// without one use catalog.DefaultImage if user_included or custom.
	Images []catalog.SoftwareImage
	// VpcID imports an existing VPC (its public subnets run the compute)
	// instead of creating one. Lookups need AWS credentials once; cdk
	// keeps the answer in cdk.context.json.
	VpcID string
	// PrivateSubnets runs the compute in the imported VPC's private
	// subnets, whose NAT gives containers outbound access. Only there can
	// multi-node (MPI) jobs run: see maxNodes.
	PrivateSubnets bool
}

// PlatformStack is the synthesised deployment and the constructs callers
// and tests may want to reach.
type PlatformStack struct {
	awscdk.Stack
	Data          *DataStack
	API           *APIStack
	RouteGroups   []*RouteGroupStack
	Compute       *ComputeStack
	Orchestration *OrchestrationStack
	Events        *EventsStack
	Console       *ConsoleStack
	// Functions holds every function of the platform by ROUTE.
	Functions map[string]awslambda.Function
}

// Stacks returns the root and every nested stack, for checks that must
// see every template.
func (ps *PlatformStack) Stacks() []awscdk.Stack {
	out := []awscdk.Stack{ps.Stack, ps.Data.Stack, ps.API.Stack, ps.Compute.Stack, ps.Orchestration.Stack, ps.Events.Stack, ps.Console.Stack}
	for _, g := range ps.RouteGroups {
		out = append(out, g.Stack)
	}
	return out
}

// NewPlatformStack defines the deployment under scope. It checks props
// first, because CDK reports construct errors as panics from inside jsii.
func NewPlatformStack(scope constructs.Construct, id string, props Props) (*PlatformStack, error) {
	groups, err := validate(props)
	if err != nil {
		return nil, err
	}
	if props.RateLimit == 0 {
		props.RateLimit = DefaultRateLimit
	}
	if props.BurstLimit == 0 {
		props.BurstLimit = DefaultBurstLimit
	}
	if props.MaxNodes == 0 {
		props.MaxNodes = DefaultMaxNodes
	}

	st := awscdk.NewStack(scope, jsii.String(id), &props.StackProps)
	ps := &PlatformStack{Stack: st, Functions: map[string]awslambda.Function{}}
	fns := &functions{assetDirs: map[string]string{lambdatier.Full: props.AssetDir, lambdatier.Table: props.TableAssetDir}, all: ps.Functions,
		needs: map[string][]httpapi.Permission{AuthorizerRoute: {httpapi.TableRead}}}
	if props.TableAssetDir == "" {
		fns.assetDirs[lambdatier.Table] = props.AssetDir
	}
	for _, rt := range props.Routes {
		fns.needs[rt.Name] = rt.Needs
	}

	ps.Data = newDataStack(st, fns)
	fns.table, fns.bucket = ps.Data.Table, ps.Data.Bucket
	ps.API = newAPIStack(st, fns, props)
	ps.Compute = newComputeStack(st, props)
	ps.Orchestration = newOrchestrationStack(st, fns, ps.API, ps.Compute)
	ps.API.addShared(sharedPaths(groups))
	for _, g := range groups {
		rg, err := newRouteGroupStack(st, fns, ps.API, ps.Compute, ps.Orchestration, g, props)
		if err != nil {
			return nil, err
		}
		ps.RouteGroups = append(ps.RouteGroups, rg)
	}
	ps.API.deploy(st, ps.RouteGroups, props)
	ps.Events = newEventsStack(st, fns, ps.Compute, ps.Orchestration, ps.API)
	ps.Console = newConsoleStack(st, ps.API, props.ConsoleDir)
	addNagSuppressions(ps)

	awscdk.NewCfnOutput(st, jsii.String("ApiUrl"), &awscdk.CfnOutputProps{
		Value:       ps.API.URL,
		Description: jsii.String("Base URL of the API (stage prod); clients append api/v2/..."),
	})
	awscdk.NewCfnOutput(st, jsii.String("ConsoleUrl"), &awscdk.CfnOutputProps{
		Value:       ps.Console.URL,
		Description: jsii.String("The console, with the API under the same origin at /api/"),
	})
	awscdk.NewCfnOutput(st, jsii.String("TableName"), &awscdk.CfnOutputProps{Value: ps.Data.Table.TableName()})
	awscdk.NewCfnOutput(st, jsii.String("BucketName"), &awscdk.CfnOutputProps{Value: ps.Data.Bucket.BucketName()})
	awscdk.NewCfnOutput(st, jsii.String("StateMachineArn"), &awscdk.CfnOutputProps{Value: ps.Orchestration.StateMachine.StateMachineArn()})
	return ps, nil
}

// reservedRoutes are the ROUTE values of functions that are not routes.
func reservedRoutes() map[string]bool {
	r := map[string]bool{AuthorizerRoute: true, ObjectEventsRoute: true, BatchJobStateRoute: true, ReconcileRoute: true}
	for _, step := range lifecycle.Placeholders() {
		r[StepRoute(step)] = true
	}
	return r
}

// maxInstanceSizes is the most instance sizes a coretype may have: Batch
// allows 10 launch template overrides per compute environment.
const maxInstanceSizes = 11

var coretypeCode = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]*$`)

// validate rejects props the stack cannot express, before any construct is
// made, and returns the routes grouped into their nested stacks.
func validate(p Props) ([]routeGroup, error) {
	for name, dir := range map[string]string{"AssetDir": p.AssetDir, "AgentImageDir": p.AgentImageDir, "ConsoleDir": p.ConsoleDir} {
		if dir == "" {
			return nil, fmt.Errorf("%s is required", name)
		}
	}
	assets := []string{filepath.Join(p.AssetDir, "bootstrap"), filepath.Join(p.AgentImageDir, "Dockerfile"), filepath.Join(p.AgentImageDir, "agent")}
	if p.TableAssetDir != "" {
		assets = append(assets, filepath.Join(p.TableAssetDir, "bootstrap"))
	}
	for _, f := range assets {
		if fi, err := os.Stat(f); err != nil {
			return nil, fmt.Errorf("asset: %w", err)
		} else if fi.IsDir() {
			return nil, fmt.Errorf("asset: %s is a directory", f)
		}
	}
	if fi, err := os.Stat(p.ConsoleDir); err != nil || !fi.IsDir() {
		return nil, fmt.Errorf("console: %s is not a directory (%v)", p.ConsoleDir, err)
	}
	if len(p.Routes) == 0 {
		return nil, errors.New("no routes")
	}
	names := reservedRoutes()
	methods := map[string]string{}
	for _, rt := range p.Routes {
		if rt.Name == "" || rt.Method == "" {
			return nil, fmt.Errorf("route %q %s %s: name and method are required", rt.Name, rt.Method, rt.Path)
		}
		if names[rt.Name] {
			return nil, fmt.Errorf("route name %q is used twice or is reserved", rt.Name)
		}
		names[rt.Name] = true
		rp, err := ResourcePath(rt.Path)
		if err != nil {
			return nil, fmt.Errorf("route %s: %w", rt.Name, err)
		}
		// "/x/" and "/x" become one resource; two routes there would clash.
		key := rt.Method + " " + rp
		if other, ok := methods[key]; ok {
			return nil, fmt.Errorf("routes %s and %s both map to %s", other, rt.Name, key)
		}
		methods[key] = rt.Name
		for _, n := range rt.Needs {
			if !knownPermissions[n] {
				// Failing beats deploying a function that lacks what it needs.
				return nil, fmt.Errorf("route %s: unknown permission %q", rt.Name, n)
			}
		}
	}
	if len(p.Coretypes) == 0 {
		return nil, errors.New("no coretypes enabled")
	}
	seen := map[string]bool{}
	for _, ct := range p.Coretypes {
		if !coretypeCode.MatchString(ct.Code) || seen[ct.Code] {
			return nil, fmt.Errorf("coretype %q: bad or repeated code", ct.Code)
		}
		seen[ct.Code] = true
		if ct.Deployment == nil || len(ct.Deployment.InstanceTypes) == 0 {
			return nil, fmt.Errorf("coretype %s: no deployment (deprecated coretypes cannot be enabled)", ct.Code)
		}
		if n := len(ct.Deployment.InstanceTypes); n > maxInstanceSizes {
			// One launch template override per size but the largest.
			return nil, fmt.Errorf("coretype %s: %d instance sizes, a Batch compute environment takes at most %d launch template overrides", ct.Code, n, maxInstanceSizes-1)
		}
		for _, it := range ct.Deployment.InstanceTypeNames() {
			if !x86Instance(it) {
				// The agent image is built for linux/amd64.
				return nil, fmt.Errorf("coretype %s: instance type %s is not x86_64, which the agent image is built for", ct.Code, it)
			}
		}
	}
	for code := range p.Spot {
		if !seen[code] {
			return nil, fmt.Errorf("spot: coretype %q is not enabled", code)
		}
	}
	if p.PrivateSubnets && p.VpcID == "" {
		return nil, errors.New("privateSubnets needs vpcId: the VPC the stack creates has public subnets only (no NAT gateway)")
	}
	if p.MaxNodes < 0 {
		return nil, fmt.Errorf("maxNodes %d: must be positive", p.MaxNodes)
	}
	return groupRoutes(p.Routes)
}

// graviton matches the EC2 families with AWS Graviton (arm64) processors:
// a "g" after the generation digit (c7g, m6gd, r8g, x2gd, im4gn, is4gen;
// but not g4dn, whose "g" is the family).
var graviton = regexp.MustCompile(`^[a-z]+[0-9]+g[a-z]*\.`)

func x86Instance(t string) bool { return !graviton.MatchString(t) }
