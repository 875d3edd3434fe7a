package motoserver_test

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/batch"
	"github.com/aws/aws-sdk-go-v2/service/batch/types"

	"github.com/openrescale/platform/shared/awslocal/motoserver"
)

func TestMain(m *testing.M) { motoserver.Main(m) }

func TestSharedResets(t *testing.T) {
	srv := motoserver.Shared(t)
	b := srv.Batch()
	_, err := b.RegisterJobDefinition(t.Context(), &batch.RegisterJobDefinitionInput{
		JobDefinitionName: aws.String("probe"), Type: types.JobDefinitionTypeContainer,
		ContainerProperties: &types.ContainerProperties{Image: aws.String("busybox"), Vcpus: aws.Int32(1), Memory: aws.Int32(128)},
	})
	if err != nil {
		t.Fatalf("register at %s: %v", srv.Endpoint, err)
	}
	again := motoserver.Shared(t)
	if again.Endpoint != srv.Endpoint {
		t.Fatalf("second Shared: endpoint %s, want the same server %s", again.Endpoint, srv.Endpoint)
	}
	out, err := again.Batch().DescribeJobDefinitions(t.Context(), &batch.DescribeJobDefinitionsInput{})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.JobDefinitions) != 0 {
		t.Fatalf("after Shared's reset: %d job definitions", len(out.JobDefinitions))
	}
}

func TestBatchAsInfraCreatesIt(t *testing.T) {
	srv := motoserver.Shared(t)
	b := srv.Batch()
	q, err := srv.CreateBatchQueue(t.Context(), "emerald")
	if err != nil {
		t.Fatal(err)
	}
	def, err := motoserver.RegisterJobDefinition(t.Context(), b, "agent")
	if err != nil {
		t.Fatal(err)
	}
	out, err := b.SubmitJob(t.Context(), &batch.SubmitJobInput{JobName: aws.String("probe"), JobQueue: aws.String(q), JobDefinition: aws.String(def)})
	if err != nil {
		t.Fatal(err)
	}
	d, err := b.DescribeJobs(t.Context(), &batch.DescribeJobsInput{Jobs: []string{aws.ToString(out.JobId)}})
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Jobs) != 1 || d.Jobs[0].Status != types.JobStatusSucceeded {
		t.Fatalf("moto without docker should finish jobs at once: %+v", d.Jobs)
	}
}
