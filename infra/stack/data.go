package stack

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsdynamodb"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambdadestinations"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3notifications"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// DataStack holds what outlives deployments: the table and the files
// bucket (both retained on delete), and the bucket's event handler.
type DataStack struct {
	awscdk.Stack
	Table  awsdynamodb.Table
	Bucket awss3.Bucket
	// ObjectEventsFailed receives the storage events the ObjectEventsRoute
	// function still failed on after its retries.
	ObjectEventsFailed awssqs.Queue
}

func newDataStack(root awscdk.Stack, fns *functions) *DataStack {
	st := awscdk.NewNestedStack(root, jsii.String("Data"), &awscdk.NestedStackProps{
		Description: jsii.String("OpenRescale data: table, files bucket, object events"),
	})
	ds := &DataStack{Stack: st}
	ds.Table = newTable(st)
	ds.Bucket = awss3.NewBucket(st, jsii.String("Files"), &awss3.BucketProps{
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
	suppressBucketLogs(ds.Bucket, "files bucket")
	fns.table, fns.bucket = ds.Table, ds.Bucket
	ds.ObjectEventsFailed = addObjectEvents(st, ds, fns)
	return ds
}

// addObjectEvents subscribes the ObjectEventsRoute function to the bucket's
// created and removed notifications and returns its failure queue.
func addObjectEvents(st awscdk.Stack, ds *DataStack, fns *functions) awssqs.Queue {
	failed := awssqs.NewQueue(st, jsii.String("ObjectEventsFailed"), &awssqs.QueueProps{
		// SQS's longest: time to notice, fix and replay (the handler
		// treats events as hints, so a late replay is harmless).
		RetentionPeriod: awscdk.Duration_Days(jsii.Number(14)),
		Encryption:      awssqs.QueueEncryption_SQS_MANAGED,
		EnforceSSL:      jsii.Bool(true),
	})
	suppress(failed, "AwsSolutions-SQS3", "this queue is the dead-letter queue (the object events function's on-failure destination)")
	env := map[string]*string{EnvBucket: ds.Bucket.BucketName()}
	fn := fns.new(st, ObjectEventsRoute, "files bucket object created/removed events", env, func(p *awslambda.FunctionProps) {
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
	ds.Table.GrantReadWriteData(fn)
	ds.Bucket.GrantRead(fn, nil)
	dest := awss3notifications.NewLambdaDestination(fn)
	ds.Bucket.AddEventNotification(awss3.EventType_OBJECT_CREATED, dest)
	ds.Bucket.AddEventNotification(awss3.EventType_OBJECT_REMOVED, dest)
	return failed
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
