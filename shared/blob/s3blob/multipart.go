package s3blob

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"github.com/openrescale/platform/shared/blob"
	"github.com/openrescale/platform/shared/blob/internal/blobio"
	"github.com/openrescale/platform/shared/errs"
)

var (
	_ blob.Multipart     = (*Bucket)(nil)
	_ blob.PartPresigner = (*Bucket)(nil)
	_ blob.Signer        = (*Bucket)(nil)
)

// multipartError maps S3's multipart errors to the port's codes.
func multipartError(err error, op, id string) error {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		switch ae.ErrorCode() {
		case "NoSuchUpload":
			return errs.Wrap(errs.NotFound, err, "multipart upload %q not found", id)
		case "InvalidPart", "InvalidPartOrder", "EntityTooSmall", "MalformedXML":
			return errs.Wrap(errs.Invalid, err, "parts do not match the upload: %s", ae.ErrorCode())
		}
	}
	return fmt.Errorf("s3blob: %s %s: %w", op, id, err)
}

// CreateMultipart implements blob.Multipart.
func (b *Bucket) CreateMultipart(ctx context.Context, key, contentType string) (string, error) {
	if err := blobio.CheckKey(key); err != nil {
		return "", err
	}
	ct, err := blobio.ContentType(contentType)
	if err != nil {
		return "", err
	}
	out, err := b.client.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{
		Bucket: aws.String(b.bucket), Key: aws.String(key), ContentType: aws.String(ct),
	})
	if err != nil {
		return "", mapError(err, "create multipart", key)
	}
	return aws.ToString(out.UploadId), nil
}

// UploadPart implements blob.Multipart. Clients upload parts through
// PresignPart; this path serves server-side callers and the contract tests.
// SigV4 must hash the body before sending it, so a seekable body (a file, a
// bytes.Reader) is sent as is with its length, and any other reader goes up
// as an unsigned payload, which S3 accepts only over TLS and with a known
// length: pass a seekable body in production.
func (b *Bucket) UploadPart(ctx context.Context, key, id string, n int, r io.Reader) (blob.Part, error) {
	if err := blobio.CheckKey(key); err != nil {
		return blob.Part{}, err
	}
	if n < 1 || n > blob.MaxParts {
		return blob.Part{}, errs.Field("partNumber", "part number %d is not between 1 and %d", n, blob.MaxParts)
	}
	in := &s3.UploadPartInput{
		Bucket: aws.String(b.bucket), Key: aws.String(key), UploadId: aws.String(id),
		PartNumber: aws.Int32(int32(n)),
	}
	var size int64
	var opts []func(*s3.Options)
	if rs, ok := r.(io.ReadSeeker); ok {
		cur, err := rs.Seek(0, io.SeekCurrent)
		if err == nil {
			var end int64
			if end, err = rs.Seek(0, io.SeekEnd); err == nil {
				_, err = rs.Seek(cur, io.SeekStart)
			}
			size = end - cur
		}
		if err != nil {
			return blob.Part{}, fmt.Errorf("s3blob: upload part %d of %s: %w", n, id, err)
		}
		in.Body, in.ContentLength = rs, aws.Int64(size)
	} else {
		body := &countingReader{r: blobio.ContextReader(ctx, r)}
		in.Body = body
		opts = append(opts, s3.WithAPIOptions(v4.SwapComputePayloadSHA256ForUnsignedPayloadMiddleware))
	}
	out, err := b.client.UploadPart(ctx, in, opts...)
	if err != nil {
		return blob.Part{}, multipartError(err, "upload part", id)
	}
	if cr, ok := in.Body.(*countingReader); ok {
		size = cr.n
	}
	return blob.Part{Number: n, Size: size, ETag: aws.ToString(out.ETag), Time: time.Now()}, nil
}

// ListParts implements blob.Multipart.
func (b *Bucket) ListParts(ctx context.Context, key, id string) ([]blob.Part, error) {
	if err := blobio.CheckKey(key); err != nil {
		return nil, err
	}
	var out []blob.Part
	p := s3.NewListPartsPaginator(b.client, &s3.ListPartsInput{Bucket: aws.String(b.bucket), Key: aws.String(key), UploadId: aws.String(id)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, multipartError(err, "list parts", id)
		}
		for _, pt := range page.Parts {
			out = append(out, blob.Part{
				Number: int(aws.ToInt32(pt.PartNumber)), Size: aws.ToInt64(pt.Size),
				ETag: aws.ToString(pt.ETag), Time: aws.ToTime(pt.LastModified),
			})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Number < out[j].Number })
	return out, nil
}

// CompleteMultipart implements blob.Multipart.
func (b *Bucket) CompleteMultipart(ctx context.Context, key, id string, parts []blob.Part) (blob.Attrs, error) {
	if err := blobio.CheckKey(key); err != nil {
		return blob.Attrs{}, err
	}
	have, err := b.ListParts(ctx, key, id)
	if err != nil {
		return blob.Attrs{}, err
	}
	if _, err := blobio.CheckCompletion(parts, have); err != nil {
		return blob.Attrs{}, err
	}
	cp := make([]types.CompletedPart, len(parts))
	for i, p := range parts {
		etag := p.ETag
		if !strings.HasPrefix(etag, `"`) {
			etag = `"` + etag + `"`
		}
		cp[i] = types.CompletedPart{PartNumber: aws.Int32(int32(p.Number)), ETag: aws.String(etag)}
	}
	_, err = b.client.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{
		Bucket: aws.String(b.bucket), Key: aws.String(key), UploadId: aws.String(id),
		MultipartUpload: &types.CompletedMultipartUpload{Parts: cp},
	})
	if err != nil {
		return blob.Attrs{}, multipartError(err, "complete", id)
	}
	return b.Stat(ctx, key)
}

// AbortMultipart implements blob.Multipart.
func (b *Bucket) AbortMultipart(ctx context.Context, key, id string) error {
	if err := blobio.CheckKey(key); err != nil {
		return err
	}
	_, err := b.client.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: aws.String(b.bucket), Key: aws.String(key), UploadId: aws.String(id)})
	if err != nil && !errs.Is(multipartError(err, "abort", id), errs.NotFound) {
		return multipartError(err, "abort", id)
	}
	return nil
}

// PresignPart implements blob.PartPresigner: a SigV4 query-signed UploadPart
// URL. The client PUTs the part's bytes to it, with no other headers.
func (b *Bucket) PresignPart(ctx context.Context, key, id string, n int, ttl time.Duration) (string, error) {
	if err := blobio.CheckKey(key); err != nil {
		return "", err
	}
	req, err := s3.NewPresignClient(b.client, s3.WithPresignExpires(ttl)).PresignUploadPart(ctx, &s3.UploadPartInput{
		Bucket: aws.String(b.bucket), Key: aws.String(key), UploadId: aws.String(id), PartNumber: aws.Int32(int32(n)),
	})
	if err != nil {
		return "", fmt.Errorf("s3blob: presign part %d of %s: %w", n, id, err)
	}
	return req.URL, nil
}

// PresignGet implements blob.Signer.
func (b *Bucket) PresignGet(ctx context.Context, key, filename string, ttl time.Duration) (string, error) {
	if err := blobio.CheckKey(key); err != nil {
		return "", err
	}
	in := &s3.GetObjectInput{Bucket: aws.String(b.bucket), Key: aws.String(key)}
	if filename != "" {
		in.ResponseContentDisposition = aws.String(mime.FormatMediaType("attachment", map[string]string{"filename": filename}))
	}
	req, err := s3.NewPresignClient(b.client, s3.WithPresignExpires(ttl)).PresignGetObject(ctx, in)
	if err != nil {
		return "", fmt.Errorf("s3blob: presign get %q: %w", key, err)
	}
	return req.URL, nil
}
