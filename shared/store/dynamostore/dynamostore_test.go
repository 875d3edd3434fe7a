package dynamostore_test

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/openrescale/platform/shared/store"
	"github.com/openrescale/platform/shared/store/dynamostore"
	"github.com/openrescale/platform/shared/store/dynamostore/dynamolocal"
	"github.com/openrescale/platform/shared/store/storetest"
)

func TestMain(m *testing.M) { dynamolocal.Main(m) }

// newTable creates a table with a name unique to this run, so the tests
// could also point at a long-lived DynamoDB without colliding.
func newTable(t *testing.T, client *dynamodb.Client) string {
	t.Helper()
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatalf("random: %v", err)
	}
	table := "storetest-" + hex.EncodeToString(b[:])
	if err := dynamostore.CreateTable(t.Context(), client, table); err != nil {
		t.Fatalf("create table: %v", err)
	}
	return table
}

func TestContract(t *testing.T) {
	client, _ := dynamolocal.Shared(t)
	table := newTable(t, client)
	storetest.Run(t, func(t *testing.T) store.Store {
		return dynamostore.New(client, table)
	})
}

func TestCreateTableIsIdempotent(t *testing.T) {
	client, _ := dynamolocal.Shared(t)
	table := newTable(t, client)
	if err := dynamostore.CreateTable(t.Context(), client, table); err != nil {
		t.Fatalf("second create: %v", err)
	}
	out, err := client.DescribeTimeToLive(t.Context(), &dynamodb.DescribeTimeToLiveInput{TableName: aws.String(table)})
	if err != nil {
		t.Fatalf("describe ttl: %v", err)
	}
	if d := out.TimeToLiveDescription; d == nil || aws.ToString(d.AttributeName) != "ttl" {
		t.Fatalf("ttl description: %+v", out.TimeToLiveDescription)
	}
}

// The layout is an interface of its own: operators read items in the
// console and other tools may query the table, so pin the attribute names
// and types.
func TestItemLayout(t *testing.T) {
	client, _ := dynamolocal.Shared(t)
	table := newTable(t, client)
	s := dynamostore.New(client, table)
	exp := time.Now().Add(time.Hour).Truncate(time.Second)
	_, err := s.Put(t.Context(), store.Item{PK: "p", SK: "s", GSI1PK: "g", GSI1SK: "1", ExpiresAt: exp, Data: []byte(`{}`)}, store.Cond{})
	if err != nil {
		t.Fatalf("put: %v", err)
	}
	out, err := client.GetItem(t.Context(), &dynamodb.GetItemInput{
		TableName: aws.String(table),
		Key:       map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: "p"}, "sk": &types.AttributeValueMemberS{Value: "s"}},
	})
	if err != nil {
		t.Fatalf("get: %v", err)
	}
	want := map[string]string{"pk": "S", "sk": "S", "gsi1pk": "S", "gsi1sk": "S", "ver": "N", "ttl": "N", "data": "B"}
	if len(out.Item) != len(want) {
		t.Fatalf("attributes %v, want exactly %v", keysOf(out.Item), want)
	}
	for name, typ := range want {
		if got := avType(out.Item[name]); got != typ {
			t.Errorf("attribute %s has type %s, want %s", name, got, typ)
		}
	}
	if n, ok := out.Item["ttl"].(*types.AttributeValueMemberN); !ok || n.Value != strconv.FormatInt(exp.Unix(), 10) {
		t.Errorf("ttl = %v, want %d", out.Item["ttl"], exp.Unix())
	}
}

func keysOf(m map[string]types.AttributeValue) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func avType(v types.AttributeValue) string {
	switch v.(type) {
	case *types.AttributeValueMemberS:
		return "S"
	case *types.AttributeValueMemberN:
		return "N"
	case *types.AttributeValueMemberB:
		return "B"
	case nil:
		return "missing"
	}
	return fmt.Sprintf("%T", v)
}
