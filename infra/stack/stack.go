// Package stack is the platform's AWS deployment, generated from the route
// table: one Lambda function and one API Gateway method per route, each
// function granted exactly what its route's Needs say. It is a library so
// tests can synthesise it without building the Lambda binary.
package stack

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigateway"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsdynamodb"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambdadestinations"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3notifications"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/openrescale/platform/shared/httpapi"
)

// AuthorizerRoute is the ROUTE value that makes cmd/lambda the authorizer,
// so no route-table entry may use it.
const AuthorizerRoute = "authorizer"

// ObjectEventsRoute is the ROUTE value that makes cmd/lambda the handler of
// the files bucket's notifications (events/s3objects), reserved like
// AuthorizerRoute.
const ObjectEventsRoute = "s3-object-created"

// UploadSessionDays is how long an upload session lives (shared/uploads'
// store TTL); S3 keeps an unfinished multipart upload's parts, billed, until
// it is aborted, so the bucket aborts them once no session can complete them.
const UploadSessionDays = 7

// Defaults for Props' optional numbers.
const (
	DefaultRateLimit  = 100
	DefaultBurstLimit = 200
)

// Props configures the platform stack.
type Props struct {
	awscdk.StackProps
	// Routes is the route table (api.Routes); only Name, Method, Path,
	// Public and Needs are read.
	Routes []httpapi.Route
	// AssetDir holds the built cmd/lambda binary named "bootstrap", the
	// layout the provided.al2023 runtime expects.
	AssetDir string
	// FunctionEnv is added to every route function's environment, for
	// cmd/lambda's optional settings (PUBLIC_URL, RATE_LIMIT,
	// KEY_MAX_LIFETIME).
	FunctionEnv map[string]string
	// RateLimit (requests per second, steady) and BurstLimit cap the whole
	// stage; zero means the defaults. Per-key limits are applied by the
	// functions themselves.
	RateLimit, BurstLimit float64
}

// PlatformStack is the synthesised stack and the constructs callers and
// tests may want to reach.
type PlatformStack struct {
	awscdk.Stack
	Table     awsdynamodb.Table
	Bucket    awss3.Bucket
	API       awsapigateway.RestApi
	Functions map[string]awslambda.Function // by route name, plus AuthorizerRoute and ObjectEventsRoute
	// UploadRole is what POST /api/credentials/ hands out scoped sessions
	// of; nil when no route needs httpapi.IssueUploadCredentials.
	UploadRole awsiam.Role
	// ObjectEventsFailed receives the storage events the ObjectEventsRoute
	// function still failed on after its retries.
	ObjectEventsFailed awssqs.Queue

	// credentialIssuers are the functions whose routes need
	// httpapi.IssueUploadCredentials, collected by grant.
	credentialIssuers []awslambda.Function
}

// NewPlatformStack defines the stack under scope. It checks the route table
// first, because CDK reports construct errors as panics from inside jsii.
func NewPlatformStack(scope constructs.Construct, id string, props Props) (*PlatformStack, error) {
	if err := validate(props); err != nil {
		return nil, err
	}
	rate, burst := props.RateLimit, props.BurstLimit
	if rate == 0 {
		rate = DefaultRateLimit
	}
	if burst == 0 {
		burst = DefaultBurstLimit
	}

	st := awscdk.NewStack(scope, jsii.String(id), &props.StackProps)
	ps := &PlatformStack{Stack: st, Functions: map[string]awslambda.Function{}}

	ps.Table = newTable(st)
	ps.Bucket = awss3.NewBucket(st, jsii.String("Files"), &awss3.BucketProps{
		BlockPublicAccess: awss3.BlockPublicAccess_BLOCK_ALL(),
		EnforceSSL:        jsii.Bool(true),
		Encryption:        awss3.BucketEncryption_S3_MANAGED,
		// Users' input and output files outlive any one deployment.
		RemovalPolicy: awscdk.RemovalPolicy_RETAIN,
		LifecycleRules: &[]*awss3.LifecycleRule{{
			Id:                                  jsii.String("AbortStaleMultipartUploads"),
			AbortIncompleteMultipartUploadAfter: awscdk.Duration_Days(jsii.Number(UploadSessionDays)),
		}},
		// Browsers PUT parts to presigned URLs and GET presigned downloads
		// from any page; the URL's signature, not the origin, is what
		// authorises, so any origin may. The part ETags must be readable
		// because completing an upload sends them back.
		Cors: &[]*awss3.CorsRule{{
			AllowedMethods: &[]awss3.HttpMethods{awss3.HttpMethods_PUT, awss3.HttpMethods_GET},
			AllowedOrigins: jsii.Strings("*"),
			AllowedHeaders: jsii.Strings("*"),
			ExposedHeaders: jsii.Strings("ETag"),
			MaxAge:         jsii.Number(3600),
		}},
	})

	// One asset for all functions: the binary is uploaded once and each
	// function picks its route by ROUTE.
	code := awslambda.Code_FromAsset(jsii.String(props.AssetDir), nil)
	// tune exists for functions outside API Gateway, which its 29 s
	// limit and small memory do not fit.
	newFunction := func(name, description string, env map[string]string, tune func(*awslambda.FunctionProps)) awslambda.Function {
		vars := map[string]*string{
			"ROUTE":      jsii.String(name),
			"TABLE_NAME": ps.Table.TableName(),
		}
		for k, v := range env {
			vars[k] = jsii.String(v)
		}
		fp := &awslambda.FunctionProps{
			Runtime:      awslambda.Runtime_PROVIDED_AL2023(),
			Architecture: awslambda.Architecture_ARM_64(),
			Handler:      jsii.String("bootstrap"),
			Code:         code,
			Description:  jsii.String(description),
			Environment:  &vars,
			MemorySize:   jsii.Number(256),
			// API Gateway gives up on an integration after 29 s; running
			// longer would only bill for answers nobody receives.
			Timeout: awscdk.Duration_Seconds(jsii.Number(29)),
		}
		if tune != nil {
			tune(fp)
		}
		fn := awslambda.NewFunction(st, jsii.String("Fn-"+name), fp)
		ps.Functions[name] = fn
		return fn
	}

	authFn := newFunction(AuthorizerRoute, "API key authorizer", nil, nil)
	ps.Table.GrantReadData(authFn)
	authorizer := awsapigateway.NewRequestAuthorizer(st, jsii.String("ApiKeyAuthorizer"), &awsapigateway.RequestAuthorizerProps{
		Handler:         authFn,
		IdentitySources: &[]*string{awsapigateway.IdentitySource_Header(jsii.String("Authorization"))},
		// The decision is cached per Authorization header value, and the
		// authorizer allows the whole stage, so a key is looked up at most
		// once a minute however many routes it calls. The cost is that a
		// deleted or expired key, or a deactivated user, keeps working for
		// up to this long; a minute bounds that exposure while still
		// sparing DynamoDB and the authorizer's cold starts on busy
		// clients (job polling loops).
		ResultsCacheTtl: awscdk.Duration_Seconds(jsii.Number(60)),
	})

	ps.API = awsapigateway.NewRestApi(st, jsii.String("Api"), &awsapigateway.RestApiProps{
		Description: jsii.String("Rescale-compatible REST API"),
		// Regional: clients are scripts and CLIs, often in the same region,
		// which an edge (CloudFront) endpoint would only add a hop for.
		EndpointTypes: &[]awsapigateway.EndpointType{awsapigateway.EndpointType_REGIONAL},
		// The CloudWatch role is an account-wide API Gateway setting; a
		// stack that owns it breaks other APIs in the account when it is
		// deleted, and no access logging here needs it.
		CloudWatchRole: jsii.Bool(false),
		DeployOptions: &awsapigateway.StageOptions{
			StageName:            jsii.String("prod"),
			ThrottlingRateLimit:  jsii.Number(rate),
			ThrottlingBurstLimit: jsii.Number(burst),
		},
	})
	addGatewayResponses(ps.API)

	for _, rt := range props.Routes {
		fn := newFunction(rt.Name, rt.Method+" "+rt.Path, props.FunctionEnv, nil)
		// cmd/lambda wires files, uploads and job input deletion only when
		// BUCKET_NAME is set, even for routes that never touch the bucket
		// themselves; the name alone grants nothing.
		fn.AddEnvironment(jsii.String("BUCKET_NAME"), ps.Bucket.BucketName(), nil)
		if err := grant(ps, fn, rt.Needs); err != nil {
			return nil, fmt.Errorf("route %s: %w", rt.Name, err)
		}
		resPath, _ := ResourcePath(rt.Path) // checked by validate
		opts := &awsapigateway.MethodOptions{
			AuthorizationType: awsapigateway.AuthorizationType_CUSTOM,
			Authorizer:        authorizer,
		}
		if rt.Public {
			opts = &awsapigateway.MethodOptions{AuthorizationType: awsapigateway.AuthorizationType_NONE}
		}
		// httpapi.AnyMethod is API Gateway's own "ANY".
		ps.API.Root().ResourceForPath(jsii.String(resPath)).AddMethod(
			jsii.String(rt.Method),
			// No test-invoke permission: the console's test button is not
			// worth a second Lambda permission per route, which would take
			// the stack past CloudFormation's 500 resources.
			awsapigateway.NewLambdaIntegration(fn, &awsapigateway.LambdaIntegrationOptions{Proxy: jsii.Bool(true), AllowTestInvoke: jsii.Bool(false)}),
			opts,
		)
	}

	if len(ps.credentialIssuers) > 0 {
		ps.UploadRole = newUploadRole(st, ps.Bucket, ps.credentialIssuers)
	}
	ps.ObjectEventsFailed = addObjectEvents(st, ps, func(tune func(*awslambda.FunctionProps)) awslambda.Function {
		return newFunction(ObjectEventsRoute, "files bucket object created/removed events", nil, tune)
	})

	awscdk.NewCfnOutput(st, jsii.String("ApiUrl"), &awscdk.CfnOutputProps{
		Value:       ps.API.Url(),
		Description: jsii.String("Base URL of the API (stage prod); clients append /api/v2/..."),
	})
	awscdk.NewCfnOutput(st, jsii.String("TableName"), &awscdk.CfnOutputProps{Value: ps.Table.TableName()})
	awscdk.NewCfnOutput(st, jsii.String("BucketName"), &awscdk.CfnOutputProps{Value: ps.Bucket.BucketName()})
	return ps, nil
}

// addObjectEvents subscribes the ObjectEventsRoute function to the bucket's
// created and removed notifications and returns its failure queue.
func addObjectEvents(st awscdk.Stack, ps *PlatformStack, newFunction func(func(*awslambda.FunctionProps)) awslambda.Function) awssqs.Queue {
	failed := awssqs.NewQueue(st, jsii.String("ObjectEventsFailed"), &awssqs.QueueProps{
		// SQS's longest: time to notice, fix and replay (the handler
		// treats events as hints, so a late replay is harmless).
		RetentionPeriod: awscdk.Duration_Days(jsii.Number(14)),
		Encryption:      awssqs.QueueEncryption_SQS_MANAGED,
		EnforceSSL:      jsii.Bool(true),
	})
	fn := newFunction(func(p *awslambda.FunctionProps) {
		// S3 invokes asynchronously, so API Gateway's 29 s does not apply:
		// the function streams whole objects (multipart uploads above the
		// 64 MiB the complete call hashes itself) through MD5 and SHA-512,
		// which takes minutes for large files. More memory buys the CPU
		// and network throughput the hashing is bound by.
		p.Timeout = awscdk.Duration_Minutes(jsii.Number(15))
		p.MemorySize = jsii.Number(1024)
		// S3 delivers at least once and the handler is idempotent, so
		// retrying is safe; an event still failing after Lambda's maximum
		// of 2 retries is kept rather than dropped, or its file would stay
		// isUploaded=false for good.
		p.RetryAttempts = jsii.Number(2)
		p.MaxEventAge = awscdk.Duration_Hours(jsii.Number(6))
		p.OnFailure = awslambdadestinations.NewSqsDestination(failed)
	})
	fn.AddEnvironment(jsii.String("BUCKET_NAME"), ps.Bucket.BucketName(), nil)
	ps.Table.GrantReadWriteData(fn)
	ps.Bucket.GrantRead(fn, nil)
	dest := awss3notifications.NewLambdaDestination(fn)
	ps.Bucket.AddEventNotification(awss3.EventType_OBJECT_CREATED, dest)
	ps.Bucket.AddEventNotification(awss3.EventType_OBJECT_REMOVED, dest)
	return failed
}

// newUploadRole is the role storagecreds.STS assumes with a session policy
// narrowing it to one caller's directory. The role itself bounds what any
// session can do: objects under user/ only, so even a faulty session policy
// cannot reach other keys.
func newUploadRole(st awscdk.Stack, bucket awss3.Bucket, issuers []awslambda.Function) awsiam.Role {
	trusted := make([]awsiam.IPrincipal, 0, len(issuers))
	for _, fn := range issuers {
		trusted = append(trusted, fn.Role())
	}
	role := awsiam.NewRole(st, jsii.String("UploadRole"), &awsiam.RoleProps{
		Description: jsii.String("Scoped storage credentials issued by POST /api/credentials/"),
		// Trusting the issuing functions' roles rather than the account
		// keeps other principals in the account from assuming it even if
		// their own policies allow sts:AssumeRole broadly.
		AssumedBy: awsiam.NewCompositePrincipal(trusted...),
		// A Lambda role assuming another role is role chaining, which STS
		// caps at one hour anyway; storagecreds asks for exactly that.
		MaxSessionDuration: awscdk.Duration_Hours(jsii.Number(1)),
	})
	role.AddToPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:   jsii.Strings("s3:PutObject", "s3:GetObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"),
		Resources: jsii.Strings(*bucket.ArnForObjects(jsii.String("user/*"))),
	}))
	role.AddToPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:   jsii.Strings("s3:ListBucket"),
		Resources: &[]*string{bucket.BucketArn()},
	}))
	for _, fn := range issuers {
		fn.AddToRolePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Actions:   jsii.Strings("sts:AssumeRole"),
			Resources: &[]*string{role.RoleArn()},
		}))
		fn.AddEnvironment(jsii.String("UPLOAD_ROLE_ARN"), role.RoleArn(), nil)
	}
	return role
}

// newTable is the layout shared/store/dynamostore expects.
func newTable(scope constructs.Construct) awsdynamodb.Table {
	str := func(name string) *awsdynamodb.Attribute {
		return &awsdynamodb.Attribute{Name: jsii.String(name), Type: awsdynamodb.AttributeType_STRING}
	}
	t := awsdynamodb.NewTable(scope, jsii.String("Table"), &awsdynamodb.TableProps{
		PartitionKey:        str("pk"),
		SortKey:             str("sk"),
		BillingMode:         awsdynamodb.BillingMode_PAY_PER_REQUEST,
		TimeToLiveAttribute: jsii.String("ttl"),
		PointInTimeRecoverySpecification: &awsdynamodb.PointInTimeRecoverySpecification{
			PointInTimeRecoveryEnabled: jsii.Bool(true),
		},
		// Accounts, keys and job records must survive a stack deletion.
		RemovalPolicy: awscdk.RemovalPolicy_RETAIN,
	})
	for _, gsi := range []string{"gsi1", "gsi2"} {
		t.AddGlobalSecondaryIndex(&awsdynamodb.GlobalSecondaryIndexProps{
			IndexName:      jsii.String(gsi),
			PartitionKey:   str(gsi + "pk"),
			SortKey:        str(gsi + "sk"),
			ProjectionType: awsdynamodb.ProjectionType_ALL,
		})
	}
	return t
}

// grant gives fn exactly the route's permissions.
func grant(ps *PlatformStack, fn awslambda.Function, needs []httpapi.Permission) error {
	for _, n := range needs {
		switch n {
		case httpapi.TableRead:
			ps.Table.GrantReadData(fn)
		case httpapi.TableWrite:
			ps.Table.GrantWriteData(fn)
		case httpapi.BucketRead:
			ps.Bucket.GrantRead(fn, nil)
		case httpapi.BucketWrite:
			ps.Bucket.GrantWrite(fn, nil, nil)
		case httpapi.StartExecution, httpapi.StopExecution, httpapi.ComputeControl:
			// TODO(lifecycle issue): grant states:StartExecution /
			// StopExecution on the job state machine once it exists.
		case httpapi.IssueUploadCredentials:
			// The upload role trusts exactly these functions, so it is made
			// once all of them exist; newUploadRole grants sts:AssumeRole.
			ps.credentialIssuers = append(ps.credentialIssuers, fn)
		default:
			// Failing beats deploying a function that lacks what it needs.
			return fmt.Errorf("unknown permission %q", n)
		}
	}
	return nil
}

// addGatewayResponses makes API Gateway's own answers use the spec's
// {"detail": ...} error shape, so clients parse every error alike.
func addGatewayResponses(api awsapigateway.RestApi) {
	jsonBody := func(body string) *map[string]*string {
		return &map[string]*string{"application/json": jsii.String(body)}
	}
	// Header values are mapping expressions: literals are single-quoted.
	jsonType := "'application/json'"
	// The authorizer answers "Unauthorized" for a missing, malformed,
	// unknown or expired key; API Gateway answers UNAUTHORIZED itself when
	// the Authorization header is absent, and ACCESS_DENIED should a policy
	// ever deny. The spec answers all of these 401 "Invalid token.".
	for _, rt := range []awsapigateway.ResponseType{awsapigateway.ResponseType_UNAUTHORIZED(), awsapigateway.ResponseType_ACCESS_DENIED()} {
		api.AddGatewayResponse(jsii.String("Gw"+*rt.ResponseType()), &awsapigateway.GatewayResponseOptions{
			Type:       rt,
			StatusCode: jsii.String("401"),
			ResponseHeaders: &map[string]*string{
				"Content-Type":     jsii.String(jsonType),
				"WWW-Authenticate": jsii.String("'Token'"),
			},
			Templates: jsonBody(`{"detail": "Invalid token."}`),
		})
	}
	// API Gateway answers an unknown path (or an unmapped method) with 403
	// "Missing Authentication Token"; the spec's service says 404.
	api.AddGatewayResponse(jsii.String("GwMISSING_AUTHENTICATION_TOKEN"), &awsapigateway.GatewayResponseOptions{
		Type:            awsapigateway.ResponseType_MISSING_AUTHENTICATION_TOKEN(),
		StatusCode:      jsii.String("404"),
		ResponseHeaders: &map[string]*string{"Content-Type": jsii.String(jsonType)},
		Templates:       jsonBody(`{"detail": "Not found."}`),
	})
	// Everything else API Gateway says itself (throttling, integration
	// failures) keeps its status but gets the JSON shape.
	for _, rt := range []awsapigateway.ResponseType{awsapigateway.ResponseType_DEFAULT_4XX(), awsapigateway.ResponseType_DEFAULT_5XX()} {
		api.AddGatewayResponse(jsii.String("Gw"+*rt.ResponseType()), &awsapigateway.GatewayResponseOptions{
			Type:            rt,
			ResponseHeaders: &map[string]*string{"Content-Type": jsii.String(jsonType)},
			Templates:       jsonBody(`{"detail": $context.error.messageString}`),
		})
	}
}

// validate rejects props the stack cannot express, before any construct is
// made.
func validate(p Props) error {
	if p.AssetDir == "" {
		return errors.New("AssetDir is required")
	}
	if fi, err := os.Stat(filepath.Join(p.AssetDir, "bootstrap")); err != nil {
		return fmt.Errorf("lambda asset: %w", err)
	} else if fi.IsDir() {
		return fmt.Errorf("lambda asset: %s/bootstrap is a directory", p.AssetDir)
	}
	if len(p.Routes) == 0 {
		return errors.New("no routes")
	}
	names := map[string]bool{AuthorizerRoute: true, ObjectEventsRoute: true}
	methods := map[string]string{}
	for _, rt := range p.Routes {
		if rt.Name == "" || rt.Method == "" {
			return fmt.Errorf("route %q %s %s: name and method are required", rt.Name, rt.Method, rt.Path)
		}
		if names[rt.Name] {
			return fmt.Errorf("route name %q is used twice or is reserved", rt.Name)
		}
		names[rt.Name] = true
		rp, err := ResourcePath(rt.Path)
		if err != nil {
			return fmt.Errorf("route %s: %w", rt.Name, err)
		}
		// "/x/" and "/x" become one resource; two routes there would clash.
		key := rt.Method + " " + rp
		if other, ok := methods[key]; ok {
			return fmt.Errorf("routes %s and %s both map to %s", other, rt.Name, key)
		}
		methods[key] = rt.Name
	}
	return nil
}
