// Package lambdatier says which build of cmd/lambda a function runs.
//
// cmd/lambda is one main package and one route table, built twice:
//
//   - the table tier (build tag lambda.tableonly) links DynamoDB and
//     nothing else of the AWS SDK, and serves the functions that only read
//     and write the table: most API routes, and the authorizer;
//   - the full tier (no tag) links S3, STS, Batch and Step Functions too,
//     and serves every function.
//
// The split is for cold starts: every SDK service package linked runs its
// initialisers at every start, and a smaller binary faults in fewer pages
// (bench/coldstart measures both builds). Infra builds both assets and
// picks one per function with Tier; a function started from the wrong
// asset fails its init, naming the build it needs.
package lambdatier

import "github.com/openrescale/platform/shared/httpapi"

// The tiers.
const (
	Table = "table"
	Full  = "full"
)

// TableTag is the build tag of the table tier.
const TableTag = "lambda.tableonly"

// Tier is the build that serves a function needing needs: Table when it
// needs nothing but the table (TableRead, TableWrite), Full otherwise.
// For API routes needs is the route's Needs; the authorizer reads the
// table only ([TableRead]: Table); s3-object-created, the step functions,
// batch-job-state and reconcile use S3, Batch and Step Functions (Full).
func Tier(needs []httpapi.Permission) string {
	for _, n := range needs {
		if n != httpapi.TableRead && n != httpapi.TableWrite {
			return Full
		}
	}
	return Table
}

// Tags are the build tags of a tier's asset, as infra passes them to
// go build -tags (comma-separated): lambda.norpc drops aws-lambda-go's
// legacy RPC mode, which provided runtimes never use.
func Tags(tier string) []string {
	if tier == Table {
		return []string{"lambda.norpc", TableTag}
	}
	return []string{"lambda.norpc"}
}
