package main

import (
	"errors"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
)

// awsConfig is the SDK configuration Lambda's environment describes:
// region and the function role's credentials are environment variables
// (AWS_REGION, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN),
// and there are no shared config files. config.LoadDefaultConfig would
// find the same values, but it links the SSO, SSO-OIDC and sign-in
// clients (whose package initialisers run at every cold start), reads
// files that do not exist and builds a credential chain; this is what it
// ends up with, for a fraction of the start-up.
//
// AWS_ENDPOINT_URL and AWS_ENDPOINT_URL_<SERVICE> are honoured as the SDK
// honours them (tests point the functions at DynamoDB Local, an S3 server
// and moto this way), unless AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true.
type awsEnv struct {
	cfg    aws.Config
	getenv func(string) string
}

func newAWSEnv(getenv func(string) string) (awsEnv, error) {
	region := getenv("AWS_REGION")
	if region == "" {
		region = getenv("AWS_DEFAULT_REGION")
	}
	id, secret := getenv("AWS_ACCESS_KEY_ID"), getenv("AWS_SECRET_ACCESS_KEY")
	if region == "" || id == "" || secret == "" {
		return awsEnv{}, errors.New("AWS_REGION, AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must be set (Lambda sets them)")
	}
	return awsEnv{getenv: getenv, cfg: aws.Config{
		Region: region,
		// Static: Lambda's credentials last as long as the execution
		// environment, and the cache only saves an allocation per call.
		Credentials: aws.NewCredentialsCache(credentials.NewStaticCredentialsProvider(id, secret, getenv("AWS_SESSION_TOKEN"))),
		// One connection pool for every client of the function.
		HTTPClient: awshttp.NewBuildableClient(),
	}}, nil
}

// endpoint is the configured endpoint of the service whose SDK id is
// service ("DynamoDB", "S3", "STS", "Batch", "SFN"), nil for AWS's own.
func (e awsEnv) endpoint(service string) *string {
	if strings.EqualFold(e.getenv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS"), "true") {
		return nil
	}
	if u := e.getenv("AWS_ENDPOINT_URL_" + strings.ToUpper(strings.ReplaceAll(service, " ", "_"))); u != "" {
		return aws.String(u)
	}
	if u := e.getenv("AWS_ENDPOINT_URL"); u != "" {
		return aws.String(u)
	}
	return nil
}
