package main

import (
	"context"
	"log/slog"
	"testing"

	"github.com/openrescale/platform/cmd/lambda/lambdatier"
)

// BenchmarkBuild is build()'s share of a cold start, per kind of
// function (package initialisers are bench/coldstart's to measure). It
// reaches no AWS service: construction only. With -tags lambda.tableonly,
// the table tier's functions only.
func BenchmarkBuild(b *testing.B) {
	routes := []string{"analyses-list", "jobs-get", "authorizer"}
	if buildTier == lambdatier.Full {
		routes = append(routes, "jobs-submit", "files-upload", "step-start-run", "batch-job-state")
	}
	for _, route := range routes {
		b.Run(route, func(b *testing.B) {
			env := benchEnv(route)
			log := slog.New(slog.DiscardHandler)
			for b.Loop() {
				if _, err := build(context.Background(), func(k string) string { return env[k] }, log); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func benchEnv(route string) map[string]string {
	env := map[string]string{
		"ROUTE": route, "TABLE_NAME": "t", "BUCKET_NAME": "b",
		"AWS_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "y",
	}
	// The lifecycle's settings, where infra gives them (jobs-submit,
	// step-*, batch-job-state).
	if route != "analyses-list" && route != "jobs-get" && route != "authorizer" && route != "files-upload" {
		env["API_URL"] = "https://example.com/prod/api/v2/"
		env["STATE_MACHINE_ARN"] = "arn:aws:states:us-east-1:123456789012:stateMachine:Job"
		env["BATCH_DEPLOYMENT"] = `{"queues":{"standard-plus":{"queue":"q","coresPerNode":4}},"definitions":{"*":{"single":"d"}}}`
	}
	return env
}
