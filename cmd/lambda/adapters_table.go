//go:build lambda.tableonly

package main

import (
	"context"
	"errors"
	"io"
	"time"

	"github.com/openrescale/platform/cmd/lambda/lambdatier"
	"github.com/openrescale/platform/shared/blob"
	"github.com/openrescale/platform/shared/storagecreds"
)

// The table tier (go build -tags lambda.tableonly): the functions that
// only read and write the table, linking no AWS service but DynamoDB
// (lambdatier). checkTier refuses the others at init, so the adapters
// below are reached only by a function given settings its route does not
// need (UPLOAD_ROLE_ARN, BATCH_DEPLOYMENT, STATE_MACHINE_ARN), which is
// refused too.
const buildTier = lambdatier.Table

// errFullTier is what the table tier answers for an adapter it leaves out.
func (w *wiring) errFullTier(what string) error {
	return errors.New("ROUTE=" + w.route + " is given " + what + ", which the table-tier build leaves out: deploy the function from the full-tier asset")
}

// newBucket is a stand-in: BUCKET_NAME is set on every API route (the
// services name the bucket in what they render, and wire files, uploads
// and job input deletion with it), but a table-tier route touches no
// object, so any call answers 503, as an adapter the function lacks does.
func (w *wiring) newBucket(string) objectStore { return noBucket{} }

func (w *wiring) newCredentials(string, string) (storagecreds.AccessIssuer, error) {
	return nil, w.errFullTier("UPLOAD_ROLE_ARN (STS)")
}

func (w *wiring) lifecycleAdapters(need lifecycleNeeds, _ blob.Bucket) (lifecycleAdapters, error) {
	switch {
	case need.compute:
		return lifecycleAdapters{}, w.errFullTier(envBatchDeployment + " (Batch)")
	case need.orchestrator:
		return lifecycleAdapters{}, w.errFullTier("STATE_MACHINE_ARN (Step Functions)")
	}
	return lifecycleAdapters{}, nil
}

func (w *wiring) batchJobState() (any, error) { return nil, w.errFullTier("Batch events") }

// noBucket stands in for S3 in the table tier.
type noBucket struct{}

var _ objectStore = noBucket{}

func (noBucket) Put(context.Context, string, io.Reader, string) (blob.Attrs, error) {
	return blob.Attrs{}, errNoAdapter("bucket")
}
func (noBucket) NewRangeReader(context.Context, string, int64, int64) (io.ReadCloser, error) {
	return nil, errNoAdapter("bucket")
}
func (noBucket) Stat(context.Context, string) (blob.Attrs, error) {
	return blob.Attrs{}, errNoAdapter("bucket")
}
func (noBucket) Delete(context.Context, string) error { return errNoAdapter("bucket") }
func (noBucket) List(context.Context, string, func(blob.Attrs) error) error {
	return errNoAdapter("bucket")
}
func (noBucket) CreateMultipart(context.Context, string, string) (string, error) {
	return "", errNoAdapter("bucket")
}
func (noBucket) UploadPart(context.Context, string, string, int, io.Reader) (blob.Part, error) {
	return blob.Part{}, errNoAdapter("bucket")
}
func (noBucket) ListParts(context.Context, string, string) ([]blob.Part, error) {
	return nil, errNoAdapter("bucket")
}
func (noBucket) CompleteMultipart(context.Context, string, string, []blob.Part) (blob.Attrs, error) {
	return blob.Attrs{}, errNoAdapter("bucket")
}
func (noBucket) AbortMultipart(context.Context, string, string) error { return errNoAdapter("bucket") }
func (noBucket) PresignPart(context.Context, string, string, int, time.Duration) (string, error) {
	return "", errNoAdapter("bucket")
}
func (noBucket) PresignGet(context.Context, string, string, time.Duration) (string, error) {
	return "", errNoAdapter("bucket")
}
