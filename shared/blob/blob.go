// Package blob is the file-storage port: streaming writes and ranged reads of
// objects named by keys such as "user/<userid>/<name>-<uuid>". Adapters:
// fileblob (a directory on disk) and s3blob (Amazon S3 or any S3-protocol
// server).
//
// Errors: a missing key is errs.NotFound in every adapter.
package blob

import (
	"context"
	"io"
	"os"
	"time"
)

// DefaultContentType is what adapters store when Put is given no content
// type, so every adapter reports the same value (S3 alone would say
// "binary/octet-stream").
const DefaultContentType = "application/octet-stream"

// Attrs describes a stored object.
type Attrs struct {
	Key         string
	Size        int64
	ModTime     time.Time
	ContentType string
}

// Event is what an adapter reports after an object is created or removed;
// it mirrors the S3 notification fields that the events/ handlers use, so the
// local and AWS paths run the same handler.
type Event struct {
	Name string // "ObjectCreated:Put" or "ObjectRemoved:Delete"
	Key  string
	Size int64
	Time time.Time
}

// Bucket is the port.
type Bucket interface {
	// Put streams r into key (replacing any object there) without buffering
	// the whole body, and returns the stored object's attributes. A failed
	// or cancelled Put leaves no object behind.
	Put(ctx context.Context, key string, r io.Reader, contentType string) (Attrs, error)
	// NewRangeReader reads length bytes from offset; length < 0 reads to the
	// end. An offset beyond the end is errs.Invalid.
	// An offset equal to the size is not beyond the end: it yields no bytes,
	// like io.SectionReader, so resuming a complete download needs no special
	// case.
	NewRangeReader(ctx context.Context, key string, offset, length int64) (io.ReadCloser, error)
	// Stat returns an object's attributes.
	Stat(ctx context.Context, key string) (Attrs, error)
	// Delete removes an object; a missing object is not an error.
	Delete(ctx context.Context, key string) error
	// List calls fn for every object whose key starts with prefix, in key
	// order, stopping at fn's first error.
	// Attrs.ContentType is empty in List: S3's listing does not carry it,
	// and adapters agree so no caller comes to rely on it locally.
	List(ctx context.Context, prefix string, fn func(Attrs) error) error
}

// FileOpener is what an adapter that keeps objects as local files may also
// do (fileblob): open the object's file, so that a download can hand it to
// the kernel (sendfile) instead of copying it through the process. The
// file is the object as it was when opened, even if it is replaced later.
type FileOpener interface {
	OpenFile(ctx context.Context, key string) (*os.File, error)
}

// ValidKey reports whether key is safe for every adapter: non-empty, at most
// 1024 bytes, no NUL, no leading "/", no "." or ".." segment and no empty
// segment.
func ValidKey(key string) bool {
	if key == "" || len(key) > 1024 || key[0] == '/' {
		return false
	}
	start := 0
	for i := 0; i <= len(key); i++ {
		if i < len(key) && key[i] == 0 {
			return false
		}
		if i == len(key) || key[i] == '/' {
			seg := key[start:i]
			if seg == "" || seg == "." || seg == ".." {
				return false
			}
			start = i + 1
		}
	}
	return true
}
