// Package s3blob is the blob.Bucket adapter for Amazon S3 and S3-protocol
// servers.
//
// Put streams bodies of unknown length through the SDK's upload manager:
// bodies under one part (5 MiB) go up as a single PutObject, larger ones as a
// multipart upload with at most 5 parts of 5 MiB buffered at a time, which
// also caps an object at 10,000 parts (about 48 GiB). A failed multipart
// upload is aborted here, on a context that survives the caller's
// cancellation, because S3 keeps (and bills for) the parts of an upload that
// is neither completed nor aborted.
//
// Events are not emitted: in AWS, S3 bucket notifications deliver them.
package s3blob

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/feature/s3/manager"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"

	"github.com/openrescale/platform/shared/blob"
	"github.com/openrescale/platform/shared/blob/internal/blobio"
	"github.com/openrescale/platform/shared/errs"
)

// abortTimeout bounds the cleanup request after a failed upload, which runs
// even when the caller's context is already cancelled.
const abortTimeout = 30 * time.Second

// Bucket is a blob.Bucket over one S3 bucket.
type Bucket struct {
	client   *s3.Client
	bucket   string
	uploader *manager.Uploader
}

var _ blob.Bucket = (*Bucket)(nil)

// New returns a Bucket using client for the named bucket. The client's
// configuration (region, endpoint, credentials) is the caller's business.
func New(client *s3.Client, bucket string) *Bucket {
	return &Bucket{
		client: client,
		bucket: bucket,
		uploader: manager.NewUploader(client, func(u *manager.Uploader) {
			// The manager's own abort uses the caller's context, which is
			// already cancelled in the case that matters most; Put aborts
			// instead.
			u.LeavePartsOnError = true
			// The manager has its own checksum setting, defaulting to CRC32
			// trailers on every part; follow the client's so a client set to
			// WhenRequired (for S3-protocol servers that cannot decode
			// aws-chunked trailers) is not overridden for multipart uploads.
			if c := client.Options().RequestChecksumCalculation; c != aws.RequestChecksumCalculationUnset {
				u.RequestChecksumCalculation = c
			}
		}),
	}
}

// Put implements blob.Bucket. The returned ModTime is the client's clock at
// completion; Stat reports S3's own LastModified.
func (b *Bucket) Put(ctx context.Context, key string, r io.Reader, contentType string) (blob.Attrs, error) {
	if err := blobio.CheckKey(key); err != nil {
		return blob.Attrs{}, err
	}
	ct, err := blobio.ContentType(contentType)
	if err != nil {
		return blob.Attrs{}, err
	}
	if err := ctx.Err(); err != nil {
		return blob.Attrs{}, fmt.Errorf("s3blob: put %q: %w", key, err)
	}
	// Counting here gives the size without a HeadObject round trip; the
	// manager's output does not carry it.
	body := &countingReader{r: blobio.ContextReader(ctx, r)}
	_, err = b.uploader.Upload(ctx, &s3.PutObjectInput{
		Bucket:      aws.String(b.bucket),
		Key:         aws.String(key),
		Body:        body,
		ContentType: aws.String(ct),
	})
	if err != nil {
		if aerr := b.abort(ctx, key, err); aerr != nil {
			err = errors.Join(err, aerr)
		}
		return blob.Attrs{}, mapError(err, "put", key)
	}
	return blob.Attrs{Key: key, Size: body.n, ModTime: time.Now(), ContentType: ct}, nil
}

// abort cancels the multipart upload behind err, if there is one.
func (b *Bucket) abort(ctx context.Context, key string, err error) error {
	var mf manager.MultiUploadFailure
	if !errors.As(err, &mf) || mf.UploadID() == "" {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), abortTimeout)
	defer cancel()
	_, aerr := b.client.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{
		Bucket:   aws.String(b.bucket),
		Key:      aws.String(key),
		UploadId: aws.String(mf.UploadID()),
	})
	if aerr != nil {
		return fmt.Errorf("abort multipart upload %s: %w", mf.UploadID(), aerr)
	}
	return nil
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// NewRangeReader implements blob.Bucket.
//
// S3 answers a range starting at the object's size with 416, as it does one
// starting past it, and cannot express a zero-length range at all; both
// cases take a HeadObject to tell "empty read" from errs.Invalid.
func (b *Bucket) NewRangeReader(ctx context.Context, key string, offset, length int64) (io.ReadCloser, error) {
	if err := blobio.CheckKey(key); err != nil {
		return nil, err
	}
	if offset < 0 {
		return nil, errs.Field("offset", "negative offset %d", offset)
	}
	if length == 0 {
		return b.emptyRead(ctx, key, offset)
	}
	in := &s3.GetObjectInput{Bucket: aws.String(b.bucket), Key: aws.String(key)}
	// No Range header for a whole-object read: "bytes=0-" on an empty
	// object is a 416 in S3.
	if offset > 0 || length > 0 {
		rng := "bytes=" + strconv.FormatInt(offset, 10) + "-"
		if length > 0 && length <= math.MaxInt64-offset {
			rng += strconv.FormatInt(offset+length-1, 10)
		}
		in.Range = aws.String(rng)
	}
	out, err := b.client.GetObject(ctx, in)
	if err != nil {
		if errs.Is(mapError(err, "read", key), errs.Invalid) {
			return b.emptyRead(ctx, key, offset)
		}
		return nil, mapError(err, "read", key)
	}
	return out.Body, nil
}

// emptyRead returns an empty reader if offset is within or at the end of
// the object, and the error NewRangeReader owes otherwise.
func (b *Bucket) emptyRead(ctx context.Context, key string, offset int64) (io.ReadCloser, error) {
	a, err := b.Stat(ctx, key)
	if err != nil {
		return nil, err
	}
	if offset > a.Size {
		return nil, errs.Field("offset", "offset %d is beyond the end of %q (%d bytes)", offset, key, a.Size)
	}
	return http.NoBody, nil
}

// Stat implements blob.Bucket.
func (b *Bucket) Stat(ctx context.Context, key string) (blob.Attrs, error) {
	if err := blobio.CheckKey(key); err != nil {
		return blob.Attrs{}, err
	}
	out, err := b.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(b.bucket), Key: aws.String(key)})
	if err != nil {
		return blob.Attrs{}, mapError(err, "stat", key)
	}
	return blob.Attrs{
		Key:         key,
		Size:        aws.ToInt64(out.ContentLength),
		ModTime:     aws.ToTime(out.LastModified),
		ContentType: aws.ToString(out.ContentType),
	}, nil
}

// Delete implements blob.Bucket.
func (b *Bucket) Delete(ctx context.Context, key string) error {
	if err := blobio.CheckKey(key); err != nil {
		return err
	}
	_, err := b.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(b.bucket), Key: aws.String(key)})
	// S3 itself says 204 for a missing key; some S3-protocol servers say 404.
	if err != nil && !errs.Is(mapError(err, "delete", key), errs.NotFound) {
		return mapError(err, "delete", key)
	}
	return nil
}

// List implements blob.Bucket. S3 lists keys in UTF-8 byte order, which is
// Go's string order, so pages are passed through as they come.
func (b *Bucket) List(ctx context.Context, prefix string, fn func(blob.Attrs) error) error {
	p := s3.NewListObjectsV2Paginator(b.client, &s3.ListObjectsV2Input{
		Bucket: aws.String(b.bucket),
		Prefix: aws.String(prefix),
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("s3blob: list %q: %w", prefix, err)
		}
		for _, o := range page.Contents {
			err := fn(blob.Attrs{
				Key:     aws.ToString(o.Key),
				Size:    aws.ToInt64(o.Size),
				ModTime: aws.ToTime(o.LastModified),
			})
			if err != nil {
				return err
			}
		}
	}
	return nil
}

// mapError gives S3's "no such key" and "bad range" their errs codes and
// wraps everything else with the operation and key.
func mapError(err error, op, key string) error {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		switch ae.ErrorCode() {
		case "NoSuchKey", "NotFound":
			return errs.Wrap(errs.NotFound, err, "object %q not found", key)
		case "InvalidRange":
			return errs.Wrap(errs.Invalid, err, "range not satisfiable for %q", key)
		case "NoSuchBucket":
			// A missing bucket is a deployment fault, not a missing object.
			return fmt.Errorf("s3blob: %s %q: %w", op, key, err)
		}
	}
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		switch re.HTTPStatusCode() {
		case http.StatusNotFound:
			return errs.Wrap(errs.NotFound, err, "object %q not found", key)
		case http.StatusRequestedRangeNotSatisfiable:
			return errs.Wrap(errs.Invalid, err, "range not satisfiable for %q", key)
		}
	}
	return fmt.Errorf("s3blob: %s %q: %w", op, key, err)
}
