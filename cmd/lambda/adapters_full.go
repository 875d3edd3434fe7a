//go:build !lambda.tableonly

package main

import (
	"github.com/aws/aws-sdk-go-v2/service/batch"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/openrescale/platform/cmd/lambda/lambdatier"
	"github.com/openrescale/platform/events/batchstate"
	"github.com/openrescale/platform/events/runstate"
	"github.com/openrescale/platform/shared/blob"
	"github.com/openrescale/platform/shared/blob/s3blob"
	"github.com/openrescale/platform/shared/compute/awsbatch"
	"github.com/openrescale/platform/shared/orchestration/stepfunctions"
	"github.com/openrescale/platform/shared/storagecreds"
	"github.com/openrescale/platform/shared/storagecreds/stscreds"
)

// The full tier: every function, with the S3, STS, Batch and Step
// Functions adapters (lambdatier).
const buildTier = lambdatier.Full

func (w *wiring) newBucket(name string) objectStore {
	client := s3.NewFromConfig(w.aws.cfg, func(o *s3.Options) { o.BaseEndpoint = w.aws.endpoint("S3") })
	return s3blob.New(client, name)
}

func (w *wiring) newCredentials(role, bucket string) (storagecreds.AccessIssuer, error) {
	client := sts.NewFromConfig(w.aws.cfg, func(o *sts.Options) { o.BaseEndpoint = w.aws.endpoint("STS") })
	return &stscreds.Issuer{Client: client, RoleARN: role, Bucket: bucket}, nil
}

func (w *wiring) lifecycleAdapters(need lifecycleNeeds, bucket blob.Bucket) (lifecycleAdapters, error) {
	var a lifecycleAdapters
	if need.compute {
		bc, err := w.batch()
		if err != nil {
			return a, err
		}
		a.compute, a.live = bc, awsbatch.NewLive(bucket, bc.RunningPrefix)
	}
	if need.orchestrator {
		o, err := w.stepFunctions()
		if err != nil {
			return a, err
		}
		a.orchestrator = o
	}
	return a, nil
}

// batch is the Batch compute adapter of BATCH_DEPLOYMENT; the agent it
// starts calls back API_URL.
func (w *wiring) batch() (*awsbatch.Compute, error) {
	raw, err := w.require(awsbatch.EnvDeployment)
	if err != nil {
		return nil, err
	}
	if _, err := w.require("API_URL"); err != nil {
		return nil, err
	}
	dep, err := awsbatch.ParseDeployment(raw)
	if err != nil {
		return nil, err
	}
	client := batch.NewFromConfig(w.aws.cfg, func(o *batch.Options) { o.BaseEndpoint = w.aws.endpoint("Batch") })
	return awsbatch.New(awsbatch.Config{Client: client, Store: w.store(), Queues: dep.Queues,
		Definitions: dep.Definitions, Bucket: w.getenv("BUCKET_NAME"), Log: w.log})
}

func (w *wiring) stepFunctions() (*stepfunctions.Orchestrator, error) {
	arn, err := w.require("STATE_MACHINE_ARN")
	if err != nil {
		return nil, err
	}
	client := sfn.NewFromConfig(w.aws.cfg, func(o *sfn.Options) { o.BaseEndpoint = w.aws.endpoint("SFN") })
	return stepfunctions.New(client, arn)
}

// batchJobState records Batch's job state changes as run events; ending a
// run answers its task token, so the lifecycle has Step Functions too.
func (w *wiring) batchJobState() (any, error) {
	bucket, err := w.requireBucket()
	if err != nil {
		return nil, err
	}
	bc, err := w.batch()
	if err != nil {
		return nil, err
	}
	o, err := w.stepFunctions()
	if err != nil {
		return nil, err
	}
	svc := w.lifecycleWith(w.services(0), bucket, lifecycleAdapters{compute: bc, orchestrator: o})
	h := batchstate.Handler{Runs: bc, Record: runstate.Handler{Lifecycle: svc}.Handle, Bucket: bucket, Log: w.log}
	return h.Handle, nil
}
