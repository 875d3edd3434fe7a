// Command lambda is the one bootstrap binary behind every Lambda function.
// Infra deploys it once per route-table entry with ROUTE naming the entry,
// so each function serves exactly one route with exactly that route's
// permissions; ROUTE=authorizer makes it the API Gateway authorizer.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/openrescale/platform/events/s3objects"
	"github.com/openrescale/platform/functions/api"
	ffiles "github.com/openrescale/platform/functions/files"
	"github.com/openrescale/platform/shared/accounts"
	"github.com/openrescale/platform/shared/auth"
	"github.com/openrescale/platform/shared/blob/s3blob"
	"github.com/openrescale/platform/shared/catalog"
	"github.com/openrescale/platform/shared/customfields"
	"github.com/openrescale/platform/shared/files"
	"github.com/openrescale/platform/shared/folders"
	"github.com/openrescale/platform/shared/gateway"
	"github.com/openrescale/platform/shared/httpapi"
	"github.com/openrescale/platform/shared/jobs"
	"github.com/openrescale/platform/shared/ratelimit"
	"github.com/openrescale/platform/shared/storagecreds"
	"github.com/openrescale/platform/shared/store"
	"github.com/openrescale/platform/shared/store/dynamostore"
	"github.com/openrescale/platform/shared/uploads"
)

func main() {
	log := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	h, err := build(context.Background(), os.Getenv, log)
	if err != nil {
		log.Error("startup failed", "err", err)
		os.Exit(1)
	}
	lambda.Start(h)
}

// build reads the environment once and returns the handler for ROUTE.
func build(ctx context.Context, getenv func(string) string, log *slog.Logger) (any, error) {
	route, table := getenv("ROUTE"), getenv("TABLE_NAME")
	if route == "" || table == "" {
		return nil, fmt.Errorf("ROUTE and TABLE_NAME must be set")
	}
	awsCfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("load AWS config: %w", err)
	}
	st := dynamostore.New(dynamodb.NewFromConfig(awsCfg), table)
	accts := accounts.New(st, time.Now)
	if route == "authorizer" {
		return gateway.Authorizer{Keys: accts}.Authorize, nil
	}
	if route == "s3-object-created" {
		// The bucket's ObjectCreated and ObjectRemoved notifications.
		bucketName := getenv("BUCKET_NAME")
		if bucketName == "" {
			return nil, fmt.Errorf("BUCKET_NAME must be set for ROUTE=%s", route)
		}
		bucket := s3blob.New(s3.NewFromConfig(awsCfg), bucketName)
		fileSvc := &files.Service{Repo: files.NewRepo(st), Bucket: bucket, Now: time.Now}
		h := &s3objects.Handler{Repo: fileSvc.Repo, Bucket: bucket, Log: log}
		h.Sessions = newUploads(st, fileSvc, bucket, h)
		h.Owners = s3objects.Directory{Users: accts, Folders: folders.New(st, fileSvc, time.Now)}
		return h.HandleS3, nil
	}
	cat, err := catalog.Load()
	if err != nil {
		return nil, fmt.Errorf("load catalog: %w", err)
	}
	var lifetime time.Duration
	if s := getenv("KEY_MAX_LIFETIME"); s != "" {
		if lifetime, err = time.ParseDuration(s); err != nil {
			return nil, fmt.Errorf("KEY_MAX_LIFETIME: %w", err)
		}
	}
	rate := 50.0
	if s := getenv("RATE_LIMIT"); s != "" {
		if rate, err = strconv.ParseFloat(s, 64); err != nil {
			return nil, fmt.Errorf("RATE_LIMIT: %w", err)
		}
	}
	base := httpapi.BaseURL{Public: getenv("PUBLIC_URL")}
	deps := api.Deps{Accounts: accts, Catalog: cat, Base: base, KeyMaxLifetime: lifetime, Now: time.Now}
	if bucketName := getenv("BUCKET_NAME"); bucketName != "" {
		// A Lambda request body is at most 6 MB, base64 for binary bodies:
		// 4 MiB of file fits. Larger files go through presigned uploads.
		maxUpload := int64(4 << 20)
		if s := getenv("MAX_UPLOAD_BYTES"); s != "" {
			if maxUpload, err = strconv.ParseInt(s, 10, 64); err != nil {
				return nil, fmt.Errorf("MAX_UPLOAD_BYTES: %w", err)
			}
		}
		bucket := s3blob.New(s3.NewFromConfig(awsCfg), bucketName)
		deps.Files = &files.Service{Repo: files.NewRepo(st), Bucket: bucket, Now: time.Now, MaxFileBytes: maxUpload}
		deps.FileStorage = ffiles.Storage{ID: "s3", Type: "S3Storage", Container: bucketName, Region: awsCfg.Region}
		// Lambda answers at most 6 MB; larger downloads go to S3 directly.
		deps.FileRedirect = ffiles.Redirect{Above: 4 << 20, TTL: 15 * time.Minute}
		deps.Objects = &s3objects.Handler{Repo: deps.Files.Repo, Bucket: bucket, Log: log}
		deps.Uploads = newUploads(st, deps.Files, bucket, deps.Objects)
		deps.Objects.Sessions = deps.Uploads
		if role := getenv("UPLOAD_ROLE_ARN"); role != "" {
			deps.Credentials = &storagecreds.STS{Client: sts.NewFromConfig(awsCfg), RoleARN: role, Bucket: bucketName}
		}
	}
	// A nil *files.Service must not become a non-nil FileDeleter.
	var fileDeleter folders.FileDeleter
	if deps.Files != nil {
		fileDeleter = deps.Files
	}
	deps.Folders = folders.New(st, fileDeleter, time.Now)
	deps.FileFolders = deps.Folders
	// Input files go with their jobs only where the function has the
	// bucket (BUCKET_NAME); elsewhere deleteInputFiles answers 503.
	jobFiles := files.NewRepo(st)
	deps.Jobs, deps.JobCatalog, deps.JobFiles = jobs.New(st, cat, jobFiles, fileDeleter, time.Now), cat, jobFiles
	deps.FileInUse = deps.Jobs
	if deps.CustomFields, err = customfields.New(st, deps.Jobs, jobFiles, accts, time.Now); err != nil {
		return nil, err
	}
	return Handler(route, deps, httpapi.Config{
		Auth:  gateway.Authenticator{Fallback: auth.Tokens{Keys: accts}},
		Limit: ratelimit.New(rate, 2*int(rate), time.Now),
		Log:   log,
		Base:  base,
	})
}

// newUploads wires multipart upload sessions to S3: clients PUT parts to
// presigned URLs, and the complete call hashes objects up to 64 MiB itself
// (S3 streams that to Lambda in well under API Gateway's 29 s); larger ones
// are hashed by the ObjectCreated:CompleteMultipartUpload event's function.
func newUploads(st store.Store, fileSvc *files.Service, bucket *s3blob.Bucket, objects *s3objects.Handler) *uploads.Service {
	return &uploads.Service{
		Store: st, Files: fileSvc, Multipart: bucket, URLs: uploads.S3URLs{Presigner: bucket}, Now: time.Now,
		Finish: func(ctx context.Context, key string) (files.File, error) {
			return objects.Created(ctx, s3objects.Event{Kind: s3objects.Created, Name: "CompleteMultipartUpload", Key: key})
		},
		SyncFinishBytes: 64 << 20,
	}
}
