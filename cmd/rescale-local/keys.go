package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/openrescale/platform/shared/accounts"
	"github.com/openrescale/platform/shared/store"
	"github.com/openrescale/platform/shared/store/dynamostore"
)

// target is the store the admin commands write: a local data directory,
// or a deployed DynamoDB table (the stack's TableName output), so the
// first key of a deployment needs no hand-written items.
type target struct {
	data, table, endpoint string
}

func (t *target) flags(fs *flag.FlagSet) {
	fs.StringVar(&t.data, "data", "./data", "data directory (local server)")
	fs.StringVar(&t.table, "dynamodb-table", "", "a deployed platform's DynamoDB table instead of --data (credentials and region from the usual AWS chain)")
	fs.StringVar(&t.endpoint, "dynamodb-endpoint", "", "with --dynamodb-table: DynamoDB's endpoint URL (e.g. DynamoDB Local's)")
}

// open opens the target store. The data directory is opened directly, so
// it works while no server runs; while one does, the store's lock makes it
// fail fast with a message pointing at the API instead. A table is
// checked to exist first, so a wrong name or region says so rather than
// failing on the first write.
func (t *target) open(ctx context.Context) (store.Store, error) {
	if t.table == "" {
		if t.endpoint != "" {
			return nil, errors.New("--dynamodb-endpoint needs --dynamodb-table")
		}
		return openStore(t.data)
	}
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("aws configuration: %w", err)
	}
	client := dynamodb.NewFromConfig(cfg, func(o *dynamodb.Options) {
		if t.endpoint != "" {
			o.BaseEndpoint = aws.String(t.endpoint)
		}
	})
	if _, err := client.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(t.table)}); err != nil {
		var nf *types.ResourceNotFoundException
		if errors.As(err, &nf) {
			return nil, fmt.Errorf("table %s does not exist in region %s: use the stack's TableName output, and its region (AWS_REGION)", t.table, client.Options().Region)
		}
		return nil, fmt.Errorf("table %s: %w", t.table, err)
	}
	return dynamostore.New(client, t.table), nil
}

func runKeysCreate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("keys create", flag.ContinueOnError)
	fs.SetOutput(stderr)
	email := fs.String("email", "", "user's email (created if new)")
	days := fs.Int("expires-in-days", 0, "key lifetime in days (0: never expires)")
	var tg target
	tg.flags(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *email == "" {
		return fmt.Errorf("keys create: --email is required")
	}
	if *days < 0 {
		return fmt.Errorf("keys create: --expires-in-days must not be negative")
	}
	st, err := tg.open(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	svc := accounts.New(st, time.Now)
	u, err := svc.EnsureUser(ctx, *email)
	if err != nil {
		return err
	}
	k, secret, err := svc.CreateKey(ctx, u.ID, accounts.KeyOptions{TTL: time.Duration(*days) * 24 * time.Hour})
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "created key %s (%s...) for %s\n", k.ID, k.Prefix, u.Email)
	fmt.Fprintln(stdout, secret)
	return nil
}

func runUsersSetActive(ctx context.Context, args []string, active bool, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("users", flag.ContinueOnError)
	fs.SetOutput(stderr)
	email := fs.String("email", "", "user's email")
	var tg target
	tg.flags(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	st, err := tg.open(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	svc := accounts.New(st, time.Now)
	u, err := svc.UserByEmail(ctx, *email)
	if err != nil {
		return err
	}
	if err := svc.SetActive(ctx, u.ID, active); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "user %s active=%v\n", u.Email, active)
	return nil
}
