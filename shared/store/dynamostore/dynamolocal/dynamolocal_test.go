package dynamolocal_test

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/openrescale/platform/shared/store/dynamostore/dynamolocal"
)

func TestMain(m *testing.M) { dynamolocal.Main(m) }

func TestSharedAnswers(t *testing.T) {
	client, endpoint := dynamolocal.Shared(t)
	if _, err := client.ListTables(t.Context(), &dynamodb.ListTablesInput{}); err != nil {
		t.Fatalf("list tables at %s: %v", endpoint, err)
	}
	again, endpoint2 := dynamolocal.Shared(t)
	if endpoint2 != endpoint || again == nil {
		t.Fatalf("second Shared: endpoint %s, want the same server %s", endpoint2, endpoint)
	}
}

func TestStartIsPrivate(t *testing.T) {
	_, shared := dynamolocal.Shared(t)
	client, endpoint := dynamolocal.Start(t)
	if endpoint == shared {
		t.Fatalf("Start reused the shared server %s", endpoint)
	}
	if _, err := client.ListTables(t.Context(), &dynamodb.ListTablesInput{}); err != nil {
		t.Fatalf("list tables at %s: %v", endpoint, err)
	}
}
