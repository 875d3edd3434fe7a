package stack

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsdynamodb"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3"
	"github.com/aws/jsii-runtime-go"

	"github.com/openrescale/platform/cmd/lambda/lambdatier"
	"github.com/openrescale/platform/shared/httpapi"
)

// Environment variables cmd/lambda reads, beyond a route's own settings.
const (
	EnvRoute        = "ROUTE"
	EnvTable        = "TABLE_NAME"
	EnvBucket       = "BUCKET_NAME"
	EnvStateMachine = "STATE_MACHINE_ARN"
	// EnvAPIURL is the API's base URL ending in "api/v2/", which the job
	// agent is told to call back (its job-scoped key works there).
	EnvAPIURL = "API_URL"
	// EnvUploadRole is the role storagecreds assumes for scoped storage
	// credentials.
	EnvUploadRole = "UPLOAD_ROLE_ARN"
)

// MaxEnvBytes bounds a function's environment: Lambda refuses more than
// 4 KB of keys and values together.
const MaxEnvBytes = 4096

// functions makes the platform's Lambda functions, all from the one
// cmd/lambda binary, in whichever stack they belong.
type functions struct {
	// assetDirs are the cmd/lambda builds by lambdatier tier; needs are
	// the functions' permissions the tier is chosen by (a function not in
	// it runs the full tier).
	assetDirs map[string]string
	needs     map[string][]httpapi.Permission
	table     awsdynamodb.Table
	bucket    awss3.Bucket
	// code is per stack: an asset belongs to the stack that first uses it.
	code map[string]awslambda.Code
	all  map[string]awslambda.Function
}

// new defines the function for route in scope. tune exists for functions
// outside API Gateway, which its 29 s limit and small memory do not fit.
func (f *functions) new(scope awscdk.Stack, route, description string, env map[string]*string, tune func(*awslambda.FunctionProps)) awslambda.Function {
	if f.code == nil {
		f.code = map[string]awslambda.Code{}
	}
	tier := lambdatier.Full
	if needs, ok := f.needs[route]; ok {
		tier = lambdatier.Tier(needs)
	}
	key := *scope.Node().Path() + "#" + tier
	code, ok := f.code[key]
	if !ok {
		// The same file in every stack has the same hash, so it is
		// uploaded once.
		code = awslambda.Code_FromAsset(jsii.String(f.assetDirs[tier]), nil)
		f.code[key] = code
	}
	vars := map[string]*string{
		EnvRoute: jsii.String(route),
		EnvTable: f.table.TableName(),
	}
	for k, v := range env {
		vars[k] = v
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
	fn := awslambda.NewFunction(scope, jsii.String("Fn-"+route), fp)
	f.all[route] = fn
	return fn
}
