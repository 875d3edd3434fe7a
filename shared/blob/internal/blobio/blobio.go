// Package blobio holds the small pieces both blob adapters need to agree on,
// so fileblob and s3blob cannot drift apart on what a valid content type is or
// on when a cancelled Put stops reading.
package blobio

import (
	"context"
	"io"
	"mime"
	"strings"

	"github.com/openrescale/platform/shared/blob"
	"github.com/openrescale/platform/shared/errs"
)

// maxContentType bounds what we store per object; real types are far shorter
// and a sidecar or header should never be a way to stash data.
const maxContentType = 256

// ContentType returns the content type to store for ct: the default when ct
// is empty, ct itself when it parses as "type/subtype[; params]", otherwise an
// errs.Invalid error. Rejecting here rather than at S3 keeps a header-breaking
// value (say, one with a newline) from being accepted locally but refused in
// AWS.
func ContentType(ct string) (string, error) {
	if ct == "" {
		return blob.DefaultContentType, nil
	}
	if len(ct) > maxContentType {
		return "", errs.Field("contentType", "content type longer than %d bytes", maxContentType)
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil || !strings.Contains(mt, "/") {
		return "", errs.Field("contentType", "content type %q is not a media type", ct)
	}
	return ct, nil
}

// CheckKey returns errs.Invalid for a key blob.ValidKey rejects, so adapters
// refuse it before touching disk or network.
func CheckKey(key string) error {
	if !blob.ValidKey(key) {
		return errs.Field("key", "invalid object key %q", key)
	}
	return nil
}

// ContextReader returns a reader that fails with ctx's error once ctx is
// done. Neither a file nor the S3 upload manager looks at ctx between reads,
// so without this a cancelled Put would keep draining a slow body.
func ContextReader(ctx context.Context, r io.Reader) io.Reader {
	return &ctxReader{ctx: ctx, r: r}
}

type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c *ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// ContextReadCloser is ContextReader for the reader NewRangeReader returns,
// so a download stops when its request is cancelled, as an S3 body does.
func ContextReadCloser(ctx context.Context, rc io.ReadCloser) io.ReadCloser {
	return &ctxReadCloser{ctxReader: ctxReader{ctx: ctx, r: rc}, c: rc}
}

type ctxReadCloser struct {
	ctxReader
	c io.Closer
}

func (c *ctxReadCloser) Close() error { return c.c.Close() }
