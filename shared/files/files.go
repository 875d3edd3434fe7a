// Package files keeps file records (the spec's File object) and streams
// their contents through the blob port. A record and its blob are tied by
// Key, which is also the spec's "path": user/user_<uid>/<name>-<uuid>.
//
// Store layout (single table; every key carries the owner):
//
//	USER#<uid>        / FILE#<id>    the record; GSI1 USER#<uid>#FILES / <dateUploaded>#<id>
//	                                 GSI2 USER#<uid>#FOLDER#<folderId> / <name>#<id>
//	BLOBKEY#<key>     / BLOBKEY      key → {userId, fileId}, for storage events
//	USER#<uid>        / USAGE        bytes stored by the user
package files

import (
	"crypto/rand"
	"encoding/hex"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/openrescale/platform/shared/errs"
	"github.com/openrescale/platform/shared/names"
)

// Type ids, as the spec lists them.
const (
	TypeInput          = 1
	TypeTemplate       = 2
	TypeParameter      = 3
	TypeScript         = 4
	TypeOutput         = 5
	TypeDesignVariable = 7
	TypeCase           = 8
	TypeOptimizer      = 9
	TypeTemporary      = 10
)

// ValidType reports whether t is one of the spec's type ids.
func ValidType(t int) bool {
	switch t {
	case 1, 2, 3, 4, 5, 7, 8, 9, 10:
		return true
	}
	return false
}

// Tag is a user tag on a file or job.
type Tag struct {
	Name           string `json:"name"`
	NormalizedName string `json:"normalizedName"`
}

// NewTag validates a tag name and normalises it: spaces, dashes and
// underscores removed (spec), compared without regard to case.
func NewTag(name string) (Tag, error) {
	name = strings.TrimSpace(name)
	if name == "" || len(name) > 200 || !utf8.ValidString(name) {
		return Tag{}, errs.Field("name", "a tag name must be 1 to 200 characters")
	}
	norm := strings.Map(func(r rune) rune {
		switch r {
		case ' ', '-', '_', '\t':
			return -1
		}
		return r
	}, name)
	if norm == "" {
		return Tag{}, errs.Field("name", "a tag name needs at least one character other than spaces, dashes and underscores")
	}
	if err := names.Check("name", "a tag name", name); err != nil {
		return Tag{}, err
	}
	return Tag{Name: name, NormalizedName: strings.ToLower(norm)}, nil
}

// File is a stored file's record.
type File struct {
	ID           string    `json:"id"`
	OwnerID      string    `json:"ownerId"`
	OwnerEmail   string    `json:"owner"`
	Name         string    `json:"name"`
	TypeID       int       `json:"typeId"`
	DateUploaded time.Time `json:"dateUploaded"`
	RelativePath string    `json:"relativePath"`
	// Key is the blob key, rendered as "path".
	Key         string   `json:"path"`
	Size        int64    `json:"decryptedSize"`
	MD5         string   `json:"md5"`
	SHA512      string   `json:"sha512"`
	ContentType string   `json:"contentType"`
	IsUploaded  bool     `json:"isUploaded"`
	IsDeleted   bool     `json:"isDeleted"`
	FolderID    string   `json:"folderId"`
	JobID       string   `json:"jobId,omitempty"`
	Tags        []Tag    `json:"userTags"`
	SharedWith  []string `json:"sharedWith"`

	// Version is the store version the record was read at, for
	// optimistic updates.
	Version int64 `json:"-"`
}

// ValidName checks a file name: a single path element, no NUL, control or
// bidirectional formatting characters (names.Check), at most 255 bytes.
func ValidName(name string) error {
	switch {
	case name == "", name == ".", name == "..":
		return errs.Field("name", "a file name must not be empty, '.' or '..'")
	case len(name) > 255:
		return errs.Field("name", "a file name must be at most 255 bytes")
	case !utf8.ValidString(name):
		return errs.Field("name", "a file name must be valid UTF-8")
	case strings.ContainsAny(name, "/\\"):
		return errs.Field("name", "a file name must not contain '/' or '\\'")
	}
	return names.Check("name", "a file name", name)
}

// NewKey makes the blob key for a new upload, in the spec's shape
// user/user_<uid>/<name>-<uuid>. The name goes in for humans browsing the
// bucket; the uuid makes it unique.
func NewKey(userID, name string) string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("crypto/rand failed: " + err.Error()) // never fails on supported platforms
	}
	return "user/user_" + userID + "/" + safeKeyName(name) + "-" + hex.EncodeToString(b[:])
}

// UserPrefix is the blob prefix of everything a user owns.
func UserPrefix(userID string) string { return "user/user_" + userID + "/" }

// safeKeyName keeps the blob key portable across S3 and filesystems.
func safeKeyName(name string) string {
	out := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '-' || r == '_' {
			return r
		}
		return '_'
	}, name)
	out = strings.TrimLeft(out, ".")
	if len(out) > 100 {
		out = out[:100]
	}
	if out == "" {
		out = "file"
	}
	return out
}
