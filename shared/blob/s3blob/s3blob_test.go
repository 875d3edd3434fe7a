package s3blob_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/openrescale/platform/shared/blob"
	"github.com/openrescale/platform/shared/blob/blobtest"
	"github.com/openrescale/platform/shared/blob/s3blob"
	"github.com/openrescale/platform/shared/blob/s3blob/s3local"
	"github.com/openrescale/platform/shared/errs"
)

const bucket = "blobtest-bucket"

func TestContract(t *testing.T) {
	blobtest.Run(t, func(t *testing.T) blob.Bucket {
		client := s3local.Start(t, bucket)
		t.Cleanup(func() { assertNoUploads(t, client) })
		return s3blob.New(client, bucket)
	})
}

// assertNoUploads checks that failed and cancelled Puts aborted their
// multipart uploads instead of leaving parts behind.
func assertNoUploads(t *testing.T, client *s3.Client) {
	t.Helper()
	out, err := client.ListMultipartUploads(context.Background(), &s3.ListMultipartUploadsInput{Bucket: aws.String(bucket)})
	var ae smithy.APIError
	if errors.As(err, &ae) && ae.ErrorCode() == "NoSuchUpload" {
		return // gofakes3's answer for a bucket that never had an upload
	}
	if err != nil {
		t.Fatalf("ListMultipartUploads: %v", err)
	}
	for _, u := range out.Uploads {
		t.Errorf("multipart upload left behind: key %q id %q", aws.ToString(u.Key), aws.ToString(u.UploadId))
	}
}

// Cancelling after the first part is in flight must still abort the upload,
// which the manager alone would attempt with the dead context.
func TestCancelledMultipartIsAborted(t *testing.T) {
	client := s3local.Start(t, bucket)
	b := s3blob.New(client, bucket)
	ctx, cancel := context.WithCancel(t.Context())
	r := &cancelAfter{n: 11 << 20, cancel: cancel}
	// Which failure the upload manager reports first (the cancelled context
	// or the reader's error) is a race; what matters is that Put fails and
	// leaves neither an object nor an unfinished multipart upload.
	if _, err := b.Put(ctx, "big/obj", r, ""); err == nil {
		t.Fatal("Put of a cancelled upload succeeded")
	}
	if _, err := b.Stat(t.Context(), "big/obj"); !errs.Is(err, errs.NotFound) {
		t.Fatalf("Stat after a cancelled Put = %v, want NotFound", err)
	}
	assertNoUploads(t, client)
}

type cancelAfter struct {
	n      int64
	cancel context.CancelFunc
}

func (c *cancelAfter) Read(p []byte) (int, error) {
	if c.n <= 0 {
		c.cancel()
		return 0, io.ErrNoProgress
	}
	p = p[:min(int64(len(p)), c.n)]
	c.n -= int64(len(p))
	return len(p), nil
}

// A misconfigured bucket name must surface as a fault, not as "the user's
// file is gone". (Stat cannot tell: a HEAD 404 has no body to say which.)
func TestMissingBucketIsNotNotFound(t *testing.T) {
	client := s3local.Start(t, bucket)
	b := s3blob.New(client, "no-such-bucket")
	_, err := b.NewRangeReader(t.Context(), "k", 0, -1)
	if err == nil || errs.Is(err, errs.NotFound) {
		t.Errorf("read in a missing bucket = %v; want an internal error, not NotFound", err)
	}
	if err := b.Delete(t.Context(), "k"); err == nil {
		t.Error("Delete in a missing bucket succeeded")
	}
}

// The upload manager has a checksum setting of its own; s3blob copies the
// client's. Over TLS with the manager's default, gofakes3 stores the
// aws-chunked framing of each part as data, so this test would see a larger
// object with a different hash.
func TestMultipartFollowsClientChecksumSetting(t *testing.T) {
	srv := httptest.NewTLSServer(gofakes3.New(s3mem.New()).Server())
	t.Cleanup(srv.Close)
	client := s3.New(s3.Options{
		Region:                     "us-east-1",
		Credentials:                credentials.NewStaticCredentialsProvider("test", "test", ""),
		BaseEndpoint:               aws.String(srv.URL),
		UsePathStyle:               true,
		HTTPClient:                 srv.Client(),
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired,
	})
	if _, err := client.CreateBucket(t.Context(), &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		t.Fatal(err)
	}
	b := s3blob.New(client, bucket)
	data := bytes.Repeat([]byte("0123456789abcdef"), 6<<20/16) // two parts
	if _, err := b.Put(t.Context(), "k", io.MultiReader(bytes.NewReader(data)), ""); err != nil {
		t.Fatal(err)
	}
	rc, err := b.NewRangeReader(t.Context(), "k", 0, -1)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	got, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, data) {
		t.Errorf("read back %d bytes, want the %d written", len(got), len(data))
	}
}

func TestMultipartContract(t *testing.T) {
	blobtest.RunMultipart(t, func(t *testing.T) blob.Bucket {
		client := s3local.Start(t, bucket)
		return s3blob.New(client, bucket)
	})
}

// gofakes3 does not verify signatures, so this checks that the presigned
// URLs are SigV4 query-signed requests of the right operation (shape) and
// that a plain HTTP PUT/GET of them reaches that operation (routing); the
// signature itself is S3's to verify and is only exercised in AWS.
func TestPresignedPartAndGet(t *testing.T) {
	client := s3local.Start(t, bucket)
	b := s3blob.New(client, bucket)
	ctx := t.Context()
	id, err := b.CreateMultipart(ctx, "user/user_a/big file.bin", "")
	if err != nil {
		t.Fatal(err)
	}
	raw, err := b.PresignPart(ctx, "user/user_a/big file.bin", id, 1, 15*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	if q.Get("partNumber") != "1" || q.Get("uploadId") != id || q.Get("X-Amz-Algorithm") != "AWS4-HMAC-SHA256" ||
		q.Get("X-Amz-Expires") != "900" || q.Get("X-Amz-Signature") == "" || !strings.Contains(q.Get("X-Amz-Credential"), "/s3/aws4_request") ||
		u.EscapedPath() != "/"+bucket+"/user/user_a/big%20file.bin" {
		t.Fatalf("presigned part URL %s", raw)
	}
	data := []byte("part one, sent with a plain PUT")
	req, _ := http.NewRequestWithContext(ctx, http.MethodPut, raw, bytes.NewReader(data))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("ETag") == "" {
		t.Fatalf("PUT to presigned URL: %d", resp.StatusCode)
	}
	parts, err := b.ListParts(ctx, "user/user_a/big file.bin", id)
	if err != nil || len(parts) != 1 || parts[0].Size != int64(len(data)) {
		t.Fatalf("parts %+v %v", parts, err)
	}
	if _, err := b.CompleteMultipart(ctx, "user/user_a/big file.bin", id, []blob.Part{{Number: 1, ETag: resp.Header.Get("ETag")}}); err != nil {
		t.Fatal(err)
	}

	get, err := b.PresignGet(ctx, "user/user_a/big file.bin", "big file.bin", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	gu, _ := url.Parse(get)
	if gu.Query().Get("X-Amz-Expires") != "60" || !strings.Contains(gu.Query().Get("response-content-disposition"), `filename="big file.bin"`) {
		t.Fatalf("presigned get URL %s", get)
	}
	resp, err = http.Get(get)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !bytes.Equal(got, data) {
		t.Fatalf("GET presigned: %d %q", resp.StatusCode, got)
	}
}
