package blob

import (
	"context"
	"io"
	"time"
)

// Multipart limits, S3's, enforced by every adapter so an upload that works
// locally works in AWS.
const (
	MinPartSize = 5 << 20 // every part but the last
	MaxPartSize = 5 << 30
	MaxParts    = 10000
)

// Part is one received part of a multipart upload. ETag is S3's: the part's
// MD5 in hex, in double quotes.
type Part struct {
	Number int       `json:"partNumber"`
	Size   int64     `json:"size"`
	ETag   string    `json:"etag"`
	Time   time.Time `json:"lastModified"`
}

// Multipart is an optional Bucket capability: an object assembled from
// parts uploaded separately (and resumably), for bodies that cannot pass
// through API Gateway or Lambda. Both adapters implement it.
//
// Errors: an unknown or finished upload id is errs.NotFound; a part list
// that does not match what was received (missing part, wrong ETag, a
// non-final part under MinPartSize, numbers not ascending) is errs.Invalid.
type Multipart interface {
	// CreateMultipart starts an upload to key and returns its id.
	CreateMultipart(ctx context.Context, key, contentType string) (uploadID string, err error)
	// UploadPart streams one part (1..MaxParts), replacing an earlier
	// upload of the same number, as S3 does.
	UploadPart(ctx context.Context, key, uploadID string, number int, r io.Reader) (Part, error)
	// ListParts returns the parts received so far in number order, so a
	// client can resume.
	ListParts(ctx context.Context, key, uploadID string) ([]Part, error)
	// CompleteMultipart assembles the listed parts into the object at key.
	// Only Number and ETag of each part are read.
	CompleteMultipart(ctx context.Context, key, uploadID string, parts []Part) (Attrs, error)
	// AbortMultipart discards the upload and its parts; an unknown id is
	// not an error, so aborting twice is harmless.
	AbortMultipart(ctx context.Context, key, uploadID string) error
}

// PartPresigner is implemented by adapters whose storage accepts part
// uploads directly from clients (S3): the URL takes a plain HTTP PUT of the
// part's bytes until it expires.
type PartPresigner interface {
	PresignPart(ctx context.Context, key, uploadID string, number int, ttl time.Duration) (string, error)
}

// Signer is implemented by adapters that can hand out a time-limited URL
// reading an object directly, so downloads need not pass through Lambda.
// filename, when set, becomes the download's Content-Disposition name.
type Signer interface {
	PresignGet(ctx context.Context, key, filename string, ttl time.Duration) (string, error)
}
