// Command lambda is the one bootstrap binary behind every Lambda function.
// Infra deploys it once per function with ROUTE naming what it serves:
//
//   - a route-table entry (functions/api: "analyses-list", "jobs-submit",
//     …): that one API route, behind API Gateway, with exactly that
//     route's permissions;
//   - "authorizer": the API Gateway REQUEST authorizer;
//   - "s3-object-created": the files bucket's ObjectCreated/ObjectRemoved
//     notifications (events/s3objects);
//   - "step-<name>" for each job state machine step (lifecycle.Placeholders:
//     step-validate, step-queue, step-start-cluster, step-start-run,
//     step-collect-outputs, step-finish, step-tear-down), invoked by Step
//     Functions with the Task's Parameters (start-run: the Payload with
//     its taskToken) as the event;
//   - "batch-job-state": EventBridge's "Batch Job State Change" events
//     (events/batchstate);
//   - "reconcile": the EventBridge schedule running lifecycle's reconciler.
//
// A cold start pays for everything built before lambda.Start, so build
// constructs only what ROUTE uses: an SDK client per service the function
// calls (from the environment, without config.LoadDefaultConfig), the
// catalog from Go literals rather than JSON (catalog_gen.go), the
// lifecycle and its AWS adapters only where it runs. bench/coldstart
// measures it.
//
// # Tiers
//
// The package builds two assets (lambdatier): with -tags lambda.tableonly
// it links no AWS service but DynamoDB and serves the functions that only
// read and write the table (API routes whose Needs are table:read and
// table:write, and the authorizer); without it, every function. The
// adapters each build has are in adapters_full.go and adapters_table.go;
// a function started from the table tier that needs more fails its init,
// naming the asset to deploy instead.
//
// # Environment
//
// Lambda sets AWS_REGION, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and
// AWS_SESSION_TOKEN; every function needs them. Infra sets:
//
//	ROUTE              every function: what it serves (above)
//	TABLE_NAME         every function: the DynamoDB table
//	BUCKET_NAME        API routes: optional (files, uploads, job input deletion and
//	                   the lifecycle are wired only with it); required by routes needing
//	                   bucket:*, states:*, compute:control, and by s3-object-created,
//	                   step-*, batch-job-state, reconcile
//	PUBLIC_URL         API routes, optional: base of absolute URLs (custom domain)
//	RATE_LIMIT         API routes, optional: per-key requests per second (default 50,
//	                   burst twice that; 0 disables)
//	KEY_MAX_LIFETIME   API routes, optional: API key lifetime cap, a Go duration ("2160h")
//	MAX_UPLOAD_BYTES   files-upload, files-upload-put, optional: request body cap
//	                   (default 4 MiB, what fits a 6 MB Lambda payload in base64)
//	UPLOAD_ROLE_ARN    credentials-create, credentials-create-v2: the role scoped
//	                   storage credentials are sessions of (without it they answer 503)
//	BATCH_DEPLOYMENT   JSON awsbatch.Deployment (queues, job definitions): required by
//	                   routes needing states:start, states:stop or compute:control
//	                   (jobs-submit, jobs-stop, jobs-force-stop, jobs-shutdown,
//	                   runs-stop) and by step-*, batch-job-state, reconcile; optional on
//	                   runs-directory and runs-tail, which read running runs' files only
//	                   with it (awsbatch.Live asks Batch, DescribeJobs, for a run's
//	                   prefix; their Needs do not include compute:control yet)
//	API_URL            wherever BATCH_DEPLOYMENT is: the API base a job's agent calls
//	                   with its job key ("https://…/prod/api/v2/")
//	STATE_MACHINE_ARN  required by routes needing states:start (jobs-submit), and by
//	                   batch-job-state and reconcile (they answer task tokens and
//	                   restart executions); optional on the stop routes; never on
//	                   step-* (the definition names them: a cycle)
//
// Optional everywhere, for tests and emulators: AWS_ENDPOINT_URL and
// AWS_ENDPOINT_URL_<SERVICE> (DYNAMODB, S3, STS, BATCH, SFN), as the SDK
// reads them.
package main

import (
	"context"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
)

//go:generate go test -run=TestCatalogSeed -update .

func main() {
	log := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	h, err := build(context.Background(), os.Getenv, log)
	if err != nil {
		log.Error("startup failed", "err", err)
		os.Exit(1)
	}
	lambda.Start(h)
}
