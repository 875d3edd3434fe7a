// Package s3local runs an in-process S3-protocol server (gofakes3 with an
// in-memory backend) for tests that need a real *s3.Client without AWS or
// Docker.
package s3local

import (
	"net/http/httptest"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
)

// Start serves a fresh in-memory S3 until t ends, creates bucket in it and
// returns a client for it. Bucket names follow S3 rules (3-63 characters,
// lower case).
func Start(t testing.TB, bucket string) *s3.Client {
	t.Helper()
	faker := gofakes3.New(s3mem.New())
	srv := httptest.NewServer(faker.Server())
	t.Cleanup(srv.Close)

	// s3.New rather than config.LoadDefaultConfig, so no AWS_* variable or
	// ~/.aws file on the test machine can point the client elsewhere.
	client := s3.New(s3.Options{
		Region:       "us-east-1",
		Credentials:  credentials.NewStaticCredentialsProvider("test", "test", ""),
		BaseEndpoint: aws.String(srv.URL),
		UsePathStyle: true,
		HTTPClient:   srv.Client(),
		// Over TLS the SDK sends its default CRC32 checksums as aws-chunked
		// trailers, and gofakes3 v1.2.0 stores UploadPart bodies without
		// decoding that framing: the object silently grows by the chunk
		// headers. Plain HTTP sends the checksum as a header and is fine,
		// but WhenRequired keeps a switch to TLS from corrupting data.
		// Real S3 keeps the SDK defaults.
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired,
	})
	if _, err := client.CreateBucket(t.Context(), &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		t.Fatalf("s3local: create bucket %q: %v", bucket, err)
	}
	return client
}
