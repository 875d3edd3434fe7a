// Package folders keeps the v3 folder tree: two roots per user (MyJobs and
// MyLibrary), library folders the user creates, and job folders that only
// jobs create. Files live in folders through files.File.FolderID.
//
// Store layout (single table; every key carries the owner):
//
//	USER#<uid>                                  / FOLDER#<id>   the record;
//	    GSI1 USER#<uid>#CHILDREN#<parentId> / <lower name>      (listing, by name)
//	    GSI2 USER#<uid>#FOLDERDELETING#<parentId> / <id>        instead of GSI1 once a
//	                                                            recursive delete has begun
//	USER#<uid>                                  / FOLDERROOTS   {myJobs, myLibrary}
//	USER#<uid>#FOLDERNAME#<parentId>#<lower name> / FOLDERNAME  name claim
//	USER#<uid>#JOBFOLDER#<jobId>                / JOBFOLDER     a job's folder
package folders

import (
	"strings"
	"time"
	"unicode/utf8"

	"github.com/openrescale/platform/shared/errs"
	"github.com/openrescale/platform/shared/names"
)

// Kind says which tree a folder belongs to; it is inherited from the parent
// at creation, so "inside MyJobs" needs no walk up the tree.
type Kind string

const (
	KindLibrary Kind = "library"
	KindJob     Kind = "job"
)

// Folder types as the spec renders them.
const (
	TypeLibrary   = "LibraryFolder"
	TypeJobInput  = "JobInputFolder"
	TypeJobOutput = "JobOutputFolder"
)

// Root folder names, as the spec's ancestry samples show the library root.
const (
	LibraryRootName = "my_library"
	JobsRootName    = "my_jobs"
)

// MaxDepth bounds the tree, so reading a folder's ancestry (one read per
// level) and deleting recursively stay bounded.
const MaxDepth = 32

// Folder is a folder's record.
type Folder struct {
	ID       string `json:"id"`
	OwnerID  string `json:"ownerId"`
	Name     string `json:"name"`
	ParentID string `json:"parentId"` // "" for the two roots
	Kind     Kind   `json:"kind"`
	// JobID is the job whose folder this is (or is inside of).
	JobID string `json:"jobId,omitempty"`
	// Output marks a job's output folder and everything below it.
	Output      bool      `json:"output,omitempty"`
	DateCreated time.Time `json:"dateCreated"`
	// Deleting is set when a recursive delete starts here; the folder and
	// its subtree are gone for every reader from then on, and a second
	// delete finishes the job.
	Deleting bool `json:"deleting,omitempty"`

	// Version is the store version read, for conditional writes.
	Version int64 `json:"-"`
}

// IsRoot reports whether f is MyJobs or MyLibrary.
func (f Folder) IsRoot() bool { return f.ParentID == "" }

// Type is the spec's folder type.
func (f Folder) Type() string {
	switch {
	case f.Kind == KindLibrary:
		return TypeLibrary
	case f.Output:
		return TypeJobOutput
	default:
		return TypeJobInput
	}
}

// Roots are a user's two root folder ids.
type Roots struct {
	MyJobs    string `json:"myJobs"`
	MyLibrary string `json:"myLibrary"`
}

// ValidName checks a folder name: one path element (it becomes a directory
// when a client downloads the tree), no control characters, at most 255
// bytes, not blank.
func ValidName(name string) error {
	switch {
	case strings.TrimSpace(name) == "":
		return errs.Field("name", "This field may not be blank.")
	case name == "." || name == "..":
		return errs.Field("name", "a folder name must not be '.' or '..'")
	case len(name) > 255:
		return errs.Field("name", "a folder name must be at most 255 bytes")
	case !utf8.ValidString(name):
		return errs.Field("name", "a folder name must be valid UTF-8")
	case strings.ContainsAny(name, "/\\"):
		return errs.Field("name", "a folder name must not contain '/' or '\\'")
	}
	return names.Check("name", "a folder name", name)
}

// nameKey is the form names are compared in: two folders whose names differ
// only in case would collide on a case-insensitive disk when downloaded.
func nameKey(name string) string { return strings.ToLower(name) }
