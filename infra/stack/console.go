package stack

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudfront"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudfrontorigins"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3deployment"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"
)

// ConsoleStack serves the console (web/console) from a private bucket
// through CloudFront, with the API under the same origin at /api/*, so
// the browser needs no CORS for API calls and the console no API URL.
type ConsoleStack struct {
	awscdk.Stack
	Bucket       awss3.Bucket
	Distribution awscloudfront.Distribution
	// URL is the distribution's https:// address ending in "/".
	URL *string
}

func newConsoleStack(root awscdk.Stack, api *APIStack, dir string) *ConsoleStack {
	st := awscdk.NewNestedStack(root, jsii.String("Console"), &awscdk.NestedStackProps{
		Description: jsii.String("OpenRescale console: static site and the API under one origin"),
	})
	cs := &ConsoleStack{Stack: st}
	cs.Bucket = awss3.NewBucket(st, jsii.String("Site"), &awss3.BucketProps{
		BlockPublicAccess: awss3.BlockPublicAccess_BLOCK_ALL(),
		EnforceSSL:        jsii.Bool(true),
		Encryption:        awss3.BucketEncryption_S3_MANAGED,
		// Rebuilt from the repository on every deploy.
		RemovalPolicy:     awscdk.RemovalPolicy_DESTROY,
		AutoDeleteObjects: jsii.Bool(true),
	})
	suppressBucketLogs(cs.Bucket, "console bucket (public files of the repository)")
	apiDomain := awscdk.Fn_Join(jsii.String(""), &[]*string{api.RestAPI.Ref(), jsii.String(".execute-api."), st.Region(), jsii.String("."), st.UrlSuffix()})
	// API responses are never cached (TTL 0 unless the API says
	// otherwise, which it does not), but the Authorization header must be
	// in the cache key to reach the origin at all: CloudFront drops it
	// from origin requests otherwise, and caching cannot be disabled
	// outright on a policy that names headers.
	apiCache := awscloudfront.NewCachePolicy(st, jsii.String("ApiCache"), &awscloudfront.CachePolicyProps{
		Comment:             jsii.String("API: forward Authorization, cache nothing by default"),
		DefaultTtl:          awscdk.Duration_Seconds(jsii.Number(0)),
		MinTtl:              awscdk.Duration_Seconds(jsii.Number(0)),
		MaxTtl:              awscdk.Duration_Seconds(jsii.Number(1)),
		HeaderBehavior:      awscloudfront.CacheHeaderBehavior_AllowList(jsii.String("Authorization")),
		QueryStringBehavior: awscloudfront.CacheQueryStringBehavior_All(),
		CookieBehavior:      awscloudfront.CacheCookieBehavior_None(),
	})
	cs.Distribution = awscloudfront.NewDistribution(st, jsii.String("Distribution"), &awscloudfront.DistributionProps{
		Comment:           jsii.String("OpenRescale console and API"),
		DefaultRootObject: jsii.String("index.html"),
		DefaultBehavior: &awscloudfront.BehaviorOptions{
			Origin:               awscloudfrontorigins.S3BucketOrigin_WithOriginAccessControl(cs.Bucket, nil),
			ViewerProtocolPolicy: awscloudfront.ViewerProtocolPolicy_REDIRECT_TO_HTTPS,
			// HSTS, nosniff, frame denial and a strict referrer policy
			// (CloudFront's managed SecurityHeadersPolicy). The local
			// binary's Content-Security-Policy is not repeated here: it
			// lives unexported in web/console.
			ResponseHeadersPolicy: awscloudfront.ResponseHeadersPolicy_SECURITY_HEADERS(),
		},
		AdditionalBehaviors: &map[string]*awscloudfront.BehaviorOptions{
			"/api/*": {
				// The stage's path is the origin's, so /api/v2/... here is
				// /prod/api/v2/... there.
				Origin: awscloudfrontorigins.NewHttpOrigin(apiDomain, &awscloudfrontorigins.HttpOriginProps{
					OriginPath:     jsii.String("/" + StageName),
					ProtocolPolicy: awscloudfront.OriginProtocolPolicy_HTTPS_ONLY,
				}),
				ViewerProtocolPolicy: awscloudfront.ViewerProtocolPolicy_HTTPS_ONLY,
				AllowedMethods:       awscloudfront.AllowedMethods_ALLOW_ALL(),
				CachePolicy:          apiCache,
				// API Gateway routes by its own Host name.
				OriginRequestPolicy: awscloudfront.OriginRequestPolicy_ALL_VIEWER_EXCEPT_HOST_HEADER(),
			},
		},
	})
	suppress(cs.Distribution, "AwsSolutions-CFR3", "standard logs need an ACL-enabled bucket; API requests are logged at the stage, and the console's are static files")
	suppress(cs.Distribution, "AwsSolutions-CFR4", "with the default *.cloudfront.net certificate CloudFront cannot enforce a minimum TLS version (its policy is fixed); a team adding a custom domain and ACM certificate sets MinimumProtocolVersion TLSv1.2_2021 with it")
	awss3deployment.NewBucketDeployment(st, jsii.String("SiteFiles"), &awss3deployment.BucketDeploymentProps{
		Sources:           &[]awss3deployment.ISource{awss3deployment.Source_Asset(jsii.String(dir), nil)},
		DestinationBucket: cs.Bucket,
		// No invalidation (which would grant cloudfront:CreateInvalidation
		// on every distribution): the files are stored no-cache, as the
		// local binary serves them, so CloudFront revalidates them.
		CacheControl: &[]awss3deployment.CacheControl{awss3deployment.CacheControl_NoCache()},
	})
	cdknag.NagSuppressions_AddStackSuppressions(st, &[]*cdknag.NagPackSuppression{{
		Id:     jsii.String("AwsSolutions-L1"),
		Reason: jsii.String("CDK's own BucketDeployment handler: its runtime is pinned by aws-cdk-lib and moves with CDK upgrades"),
	}}, jsii.Bool(false))
	cs.URL = awscdk.Fn_Join(jsii.String(""), &[]*string{jsii.String("https://"), cs.Distribution.DistributionDomainName(), jsii.String("/")})
	return cs
}
