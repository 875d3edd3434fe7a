package stack

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigateway"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3"
	"github.com/aws/jsii-runtime-go"

	"github.com/openrescale/platform/shared/compute/awsbatch"
	"github.com/openrescale/platform/shared/httpapi"
)

// StageName is the API's one stage; URLs end in /prod/.
const StageName = "prod"

// The API is declared with CloudFormation resources (Cfn*), not the
// RestApi construct: the construct must own its methods, and methods in
// other stacks need its id, root and authorizer as plain values.

// APIStack holds the REST API itself: authorizer, gateway responses and
// the path parts several route groups share.
type APIStack struct {
	awscdk.Stack
	RestAPI    awsapigateway.CfnRestApi
	Authorizer awsapigateway.CfnAuthorizer
	// URL is the stage's base URL, ending in "/prod/".
	URL *string
	// resources maps shared resource paths to their ids ("/" is the root).
	resources map[string]*string
	// routeSig changes whenever a method changes, so a new deployment is
	// made (a stage serves the snapshot its deployment took).
	routeSig []string
	Stage    awsapigateway.CfnStage
}

func newAPIStack(root awscdk.Stack, fns *functions, props Props) *APIStack {
	st := awscdk.NewNestedStack(root, jsii.String("Api"), &awscdk.NestedStackProps{
		Description: jsii.String("OpenRescale REST API: authorizer, gateway responses, shared paths"),
	})
	as := &APIStack{Stack: st, resources: map[string]*string{}}
	as.RestAPI = awsapigateway.NewCfnRestApi(st, jsii.String("Api"), &awsapigateway.CfnRestApiProps{
		Name:        jsii.String(*root.StackName() + "-api"),
		Description: jsii.String("Rescale-compatible REST API"),
		// Regional: clients are scripts and CLIs, often in the same region,
		// which an edge (CloudFront) endpoint would only add a hop for; the
		// console reaches it through its own distribution.
		EndpointConfiguration: &awsapigateway.CfnRestApi_EndpointConfigurationProperty{Types: jsii.Strings("REGIONAL")},
	})
	suppress(as.RestAPI, "AwsSolutions-APIG2", "every handler validates its request and answers 400 {\"detail\", \"field\"} as the spec's service does; a gateway validator would answer in another shape")
	as.resources["/"] = as.RestAPI.AttrRootResourceId()
	as.URL = awscdk.Fn_Join(jsii.String(""), &[]*string{
		jsii.String("https://"), as.RestAPI.Ref(), jsii.String(".execute-api."), st.Region(), jsii.String("."), st.UrlSuffix(), jsii.String("/" + StageName + "/"),
	})

	authFn := fns.new(st, AuthorizerRoute, "API key authorizer", nil, nil)
	fns.table.GrantReadData(authFn)
	as.Authorizer = awsapigateway.NewCfnAuthorizer(st, jsii.String("ApiKeyAuthorizer"), &awsapigateway.CfnAuthorizerProps{
		RestApiId:      as.RestAPI.Ref(),
		Name:           jsii.String("ApiKey"),
		Type:           jsii.String("REQUEST"),
		IdentitySource: jsii.String("method.request.header.Authorization"),
		AuthorizerUri:  lambdaInvocationURI(st, authFn),
		// The decision is cached per Authorization header value, and the
		// authorizer allows the whole stage, so a key is looked up at most
		// once a minute however many routes it calls. The cost is that a
		// deleted or expired key, or a deactivated user, keeps working for
		// up to this long; a minute bounds that exposure while still
		// sparing DynamoDB and the authorizer's cold starts on busy
		// clients (job polling loops).
		AuthorizerResultTtlInSeconds: jsii.Number(60),
	})
	authFn.AddPermission(jsii.String("ApiGatewayInvoke"), &awslambda.Permission{
		Principal: awsiam.NewServicePrincipal(jsii.String("apigateway.amazonaws.com"), nil),
		SourceArn: executeAPIArn(st, as.RestAPI, "authorizers/"+"*"),
	})
	addGatewayResponses(st, as.RestAPI)
	return as
}

// lambdaInvocationURI is API Gateway's URI for invoking fn.
func lambdaInvocationURI(st awscdk.Stack, fn awslambda.IFunction) *string {
	return awscdk.Fn_Join(jsii.String(""), &[]*string{
		jsii.String("arn:"), st.Partition(), jsii.String(":apigateway:"), st.Region(),
		jsii.String(":lambda:path/2015-03-31/functions/"), fn.FunctionArn(), jsii.String("/invocations"),
	})
}

// executeAPIArn is the execute-api ARN of the API with the given suffix
// (stage/METHOD/path, or authorizers/id).
func executeAPIArn(st awscdk.Stack, api awsapigateway.CfnRestApi, suffix string) *string {
	return awscdk.Fn_Join(jsii.String(""), &[]*string{
		jsii.String("arn:"), st.Partition(), jsii.String(":execute-api:"), st.Region(), jsii.String(":"), st.Account(),
		jsii.String(":"), api.Ref(), jsii.String("/" + suffix),
	})
}

// addShared creates the path parts several groups hang under.
func (as *APIStack) addShared(paths []string) {
	for _, p := range paths {
		if _, ok := as.resources[p]; ok {
			continue
		}
		parent := p[:strings.LastIndex(p, "/")]
		if parent == "" {
			parent = "/"
		}
		res := awsapigateway.NewCfnResource(as.Stack, jsii.String("Path"+resourceID(p)), &awsapigateway.CfnResourceProps{
			RestApiId: as.RestAPI.Ref(),
			ParentId:  as.resources[parent],
			PathPart:  jsii.String(p[strings.LastIndex(p, "/")+1:]),
		})
		as.resources[p] = res.Ref()
	}
}

// resourceID makes a construct id of a resource path; ids only need to be
// unique within a stack, and stable.
func resourceID(p string) string {
	r := strings.NewReplacer("/", "-", "{", "", "}", "", "+", "Greedy", ".", "dot", ":", "colon", "$", "dollar", "_", "u")
	return r.Replace(p)
}

// RouteGroupStack holds the functions and methods of one route group.
type RouteGroupStack struct {
	awscdk.Stack
	Routes []httpapi.Route
	// UploadRole is what POST /api/credentials/ hands out scoped sessions
	// of; nil when no route of the group needs IssueUploadCredentials.
	// Each group with issuers has its own, trusted by exactly them, so
	// no role trusts functions of another stack (which would make the
	// stacks depend on each other both ways).
	UploadRole awsiam.Role
}

func newRouteGroupStack(root awscdk.Stack, fns *functions, api *APIStack, comp *ComputeStack, orch *OrchestrationStack, g routeGroup, props Props) (*RouteGroupStack, error) {
	st := awscdk.NewNestedStack(root, jsii.String(g.Name), &awscdk.NestedStackProps{
		Description: jsii.String("OpenRescale API routes: " + g.Name),
	})
	rg := &RouteGroupStack{Stack: st, Routes: g.Routes}
	own := map[string]*string{}
	resourceFor := func(rp string) *string {
		if id, ok := api.resources[rp]; ok {
			return id
		}
		for _, a := range ancestors(rp, true) {
			if _, ok := api.resources[a]; ok {
				continue
			}
			if _, ok := own[a]; ok {
				continue
			}
			parent := a[:strings.LastIndex(a, "/")]
			parentID, ok := api.resources[parent]
			if parent == "" {
				parentID, ok = api.resources["/"], true
			}
			if !ok {
				parentID = own[parent]
			}
			res := awsapigateway.NewCfnResource(st, jsii.String("Path"+resourceID(a)), &awsapigateway.CfnResourceProps{
				RestApiId: api.RestAPI.Ref(),
				ParentId:  parentID,
				PathPart:  jsii.String(a[strings.LastIndex(a, "/")+1:]),
			})
			own[a] = res.Ref()
		}
		return own[rp]
	}

	var issuers []awslambda.Function
	for _, rt := range g.Routes {
		env := map[string]*string{EnvBucket: fns.bucket.BucketName()}
		for k, v := range props.FunctionEnv {
			env[k] = jsii.String(v)
		}
		// cmd/lambda wires files, uploads and job input deletion only when
		// BUCKET_NAME is set, even for routes that never touch the bucket
		// themselves; the name alone grants nothing.
		fn := fns.new(st, rt.Name, rt.Method+" "+rt.Path, env, nil)
		if grant(fn, rt.Needs, fns, comp, orch, api) {
			issuers = append(issuers, fn)
		}
		rp, _ := ResourcePath(rt.Path) // checked by validate
		mp := &awsapigateway.CfnMethodProps{
			RestApiId:         api.RestAPI.Ref(),
			ResourceId:        resourceFor(rp),
			HttpMethod:        jsii.String(rt.Method), // httpapi.AnyMethod is API Gateway's own "ANY"
			AuthorizationType: jsii.String("CUSTOM"),
			AuthorizerId:      api.Authorizer.Ref(),
			Integration: &awsapigateway.CfnMethod_IntegrationProperty{
				Type:                  jsii.String("AWS_PROXY"),
				IntegrationHttpMethod: jsii.String("POST"),
				Uri:                   lambdaInvocationURI(st, fn),
			},
		}
		if rt.Public {
			mp.AuthorizationType, mp.AuthorizerId = jsii.String("NONE"), nil
		}
		m := awsapigateway.NewCfnMethod(st, jsii.String("Method-"+rt.Name), mp)
		suppress(m, "AwsSolutions-COG4", "clients authenticate with Rescale API keys (Authorization: Token ...), checked by the REQUEST authorizer; Cognito is not part of the API")
		if rt.Public {
			suppress(m, "AwsSolutions-APIG4", "public by the route table: health check, API description, and presigned storage routes whose URL signature is the authorization")
		}
		// Any stage, this method and path only. No test-invoke permission:
		// the console's test button is not worth a second permission per
		// route.
		fn.AddPermission(jsii.String("ApiGatewayInvoke"), &awslambda.Permission{
			Principal: awsiam.NewServicePrincipal(jsii.String("apigateway.amazonaws.com"), nil),
			SourceArn: executeAPIArn(st, api.RestAPI, "*/"+sourceMethod(rt.Method)+sourcePath(rp)),
		})
		auth := "CUSTOM"
		if rt.Public {
			auth = "NONE"
		}
		api.routeSig = append(api.routeSig, rt.Method+" "+rp+" "+auth+" "+rt.Name)
	}
	if len(issuers) > 0 {
		rg.UploadRole = newUploadRole(st, fns.bucket, issuers)
	}
	return rg, nil
}

func sourceMethod(m string) string {
	if m == httpapi.AnyMethod {
		return "*"
	}
	return m
}

// sourcePath is a resource path as execute-api ARNs match it: parameters
// are wildcards.
func sourcePath(rp string) string {
	parts := strings.Split(rp, "/")
	for i, p := range parts {
		if strings.HasPrefix(p, "{") {
			parts[i] = "*"
		}
	}
	return strings.Join(parts, "/")
}

// apiRevision is part of the deployment's identity: bump it when a change
// to the API stack (gateway responses, authorizer) must reach the stage,
// since only method changes do so by themselves.
const apiRevision = "2"

// deploy makes the deployment and stage after every route group's methods.
func (as *APIStack) deploy(root awscdk.Stack, groups []*RouteGroupStack, props Props) {
	sig := slices.Clone(as.routeSig)
	slices.Sort(sig)
	sum := sha256.Sum256([]byte(apiRevision + "\n" + strings.Join(sig, "\n")))
	// A deployment is a snapshot: a new logical id per method set makes
	// CloudFormation create a fresh one and move the stage to it.
	dep := awsapigateway.NewCfnDeployment(root, jsii.String("ApiDeployment"+hex.EncodeToString(sum[:6])), &awsapigateway.CfnDeploymentProps{
		RestApiId:   as.RestAPI.Ref(),
		Description: jsii.String(fmt.Sprintf("%d routes", len(sig))),
	})
	for _, g := range groups {
		dep.Node().AddDependency(g.Stack)
	}
	dep.Node().AddDependency(as.Stack)
	as.Stage = awsapigateway.NewCfnStage(root, jsii.String("ApiStage"), &awsapigateway.CfnStageProps{
		RestApiId:    as.RestAPI.Ref(),
		StageName:    jsii.String(StageName),
		DeploymentId: dep.Ref(),
		MethodSettings: &[]*awsapigateway.CfnStage_MethodSettingProperty{{
			HttpMethod:           jsii.String("*"),
			ResourcePath:         jsii.String("/*"),
			ThrottlingRateLimit:  jsii.Number(props.RateLimit),
			ThrottlingBurstLimit: jsii.Number(props.BurstLimit),
		}},
	})
	// API Gateway writes access and execution logs to CloudWatch only
	// through the account-wide CloudWatch role of its account settings,
	// which a stack must not own (deleting the stack would break every
	// other API in the account); a stage asking for logs fails to deploy
	// in an account without it. The functions log every request instead.
	for _, rule := range []string{"AwsSolutions-APIG1", "AwsSolutions-APIG6"} {
		suppress(as.Stage, rule, "API Gateway logging needs the account-wide CloudWatch role, which a stack must not own (deleting it breaks other APIs in the account); the route functions log each request to their own log groups")
	}
}

// addGatewayResponses makes API Gateway's own answers use the spec's
// {"detail": ...} error shape, so clients parse every error alike.
func addGatewayResponses(st awscdk.Stack, api awsapigateway.CfnRestApi) {
	jsonBody := func(body string) *map[string]*string {
		return &map[string]*string{"application/json": jsii.String(body)}
	}
	// Header values are mapping expressions: literals are single-quoted.
	jsonType := jsii.String("'application/json'")
	add := func(typ, status string, headers map[string]*string, body string) {
		headers["gatewayresponse.header.Content-Type"] = jsonType
		p := &awsapigateway.CfnGatewayResponseProps{
			RestApiId:          api.Ref(),
			ResponseType:       jsii.String(typ),
			ResponseParameters: &headers,
			ResponseTemplates:  jsonBody(body),
		}
		if status != "" {
			p.StatusCode = jsii.String(status)
		}
		awsapigateway.NewCfnGatewayResponse(st, jsii.String("Gw"+typ), p)
	}
	// The authorizer answers "Unauthorized" for a missing, malformed,
	// unknown or expired key; API Gateway answers UNAUTHORIZED itself when
	// the Authorization header is absent, and ACCESS_DENIED should a policy
	// ever deny. The spec answers all of these 401 "Invalid token.".
	for _, typ := range []string{"UNAUTHORIZED", "ACCESS_DENIED"} {
		add(typ, "401", map[string]*string{"gatewayresponse.header.WWW-Authenticate": jsii.String("'Token'")}, `{"detail": "Invalid token."}`)
	}
	// API Gateway answers an unknown path (or an unmapped method) with 403
	// "Missing Authentication Token"; the spec's service says 404.
	add("MISSING_AUTHENTICATION_TOKEN", "404", map[string]*string{}, `{"detail": "Not found."}`)
	// Everything else API Gateway says itself (throttling, integration
	// failures) keeps its status but gets the JSON shape.
	for _, typ := range []string{"DEFAULT_4XX", "DEFAULT_5XX"} {
		add(typ, "", map[string]*string{}, `{"detail": $context.error.messageString}`)
	}
}

// knownPermissions are the httpapi.Permission values grant understands.
var knownPermissions = map[httpapi.Permission]bool{
	httpapi.TableRead: true, httpapi.TableWrite: true, httpapi.BucketRead: true, httpapi.BucketWrite: true,
	httpapi.StartExecution: true, httpapi.StopExecution: true, httpapi.ComputeControl: true, httpapi.ComputeRead: true,
	httpapi.IssueUploadCredentials: true,
}

// grant gives a route function exactly its route's permissions, and the
// environment those permissions come with. It reports whether the route
// issues upload credentials (the role is made once all issuers exist).
func grant(fn awslambda.Function, needs []httpapi.Permission, fns *functions, comp *ComputeStack, orch *OrchestrationStack, api *APIStack) (issuer bool) {
	lifecycleEnv := func() {
		fn.AddEnvironment(jsii.String(awsbatch.EnvDeployment), comp.DeploymentJSON, nil)
		fn.AddEnvironment(jsii.String(EnvAPIURL), api.apiV2URL(), nil)
		fn.AddEnvironment(jsii.String(EnvStateMachine), orch.StateMachine.StateMachineArn(), nil)
	}
	for _, n := range needs {
		switch n {
		case httpapi.TableRead:
			fns.table.GrantReadData(fn)
		case httpapi.TableWrite:
			fns.table.GrantWriteData(fn)
		case httpapi.BucketRead:
			fns.bucket.GrantRead(fn, nil)
		case httpapi.BucketWrite:
			fns.bucket.GrantWrite(fn, nil, nil)
		case httpapi.StartExecution:
			// Status of an existing execution makes submit idempotent.
			orch.StateMachine.GrantStartExecution(fn)
			orch.grantDescribe(fn)
			lifecycleEnv()
		case httpapi.StopExecution:
			fn.AddToRolePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
				Actions:   jsii.Strings("states:StopExecution", "states:DescribeExecution"),
				Resources: &[]*string{orch.ExecutionArns()},
			}))
			lifecycleEnv()
		case httpapi.ComputeControl:
			comp.grantControl(fn)
			lifecycleEnv()
		case httpapi.ComputeRead:
			comp.grantDescribe(fn)
			lifecycleEnv()
		case httpapi.IssueUploadCredentials:
			issuer = true
		}
	}
	return issuer
}

// apiV2URL is what the job agent and the lifecycle call back.
func (as *APIStack) apiV2URL() *string {
	return awscdk.Fn_Join(jsii.String(""), &[]*string{as.URL, jsii.String("api/v2/")})
}

// newUploadRole is the role stscreds.Issuer (shared/storagecreds/stscreds) assumes with a session policy
// narrowing it to one caller's directory. The role itself bounds what any
// session can do: objects under user/ only, so even a faulty session policy
// cannot reach other keys.
func newUploadRole(st awscdk.Stack, bucket awss3.IBucket, issuers []awslambda.Function) awsiam.Role {
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
		fn.AddEnvironment(jsii.String(EnvUploadRole), role.RoleArn(), nil)
	}
	return role
}
