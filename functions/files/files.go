// Package files serves /api/v2/files/: upload, listing, metadata, download
// with ranges, plain-text lines and tags. Handlers parse, authorise, call
// shared/files and render the spec's File object (render, the one place).
package files

import (
	"context"
	"net/http"
	"path"
	"strings"
	"time"

	"github.com/openrescale/platform/shared/errs"
	"github.com/openrescale/platform/shared/files"
	"github.com/openrescale/platform/shared/httpapi"
	"github.com/openrescale/platform/shared/ids"
)

// Folders resolves the current_folder_id of an upload. The folders package
// implements it; nil means folders do not exist yet and files keep no
// folder.
type Folders interface {
	// UploadFolder returns the folder id to store for an upload into
	// folderID: "" is the user's MyLibrary root; an unknown folder or
	// another user's is errs.NotFound; a job folder is errs.Invalid.
	UploadFolder(ctx context.Context, userID, folderID string) (string, error)
}

// InUse tells whether a job still needs a file, so it cannot be deleted
// under a running job. nil: nothing ever uses a file.
type InUse interface {
	FileInUse(ctx context.Context, userID, fileID string) (bool, error)
}

// Storage describes where file bytes live, rendered as each file's
// "storage" and "pathParts.container".
type Storage struct {
	ID        string // e.g. "s3" or "local"
	Type      string // "S3Storage" in AWS, "LocalStorage" locally
	Container string // the bucket name, or "local"
	Region    string // AWS region; "" locally
}

// Handlers serve the files endpoints.
type Handlers struct {
	Files   *files.Service
	Folders Folders
	InUse   InUse
	Base    httpapi.BaseURL
	Storage Storage
	// Redirect sends downloads of large files straight to storage.
	Redirect Redirect
}

// Redirect configures 302s to presigned storage URLs. In AWS a response
// through Lambda is capped at 6 MB, so bigger files must be fetched from S3
// directly; smaller ones are still streamed, because `curl` without -L (the
// spec's own download command) does not follow redirects.
type Redirect struct {
	// Above is the size in bytes beyond which GETs redirect (0: never).
	Above int64
	// TTL is how long the presigned URL is valid.
	TTL time.Duration
}

// checksum, pathParts and storageView are the nested objects of the
// spec's later File samples (v3 folder contents, job input files).
type checksum struct {
	HashFunction string `json:"hashFunction"`
	FileHash     string `json:"fileHash"`
}

type pathParts struct {
	Path      string `json:"path"`
	Container string `json:"container"`
}

type storageView struct {
	ID                 string            `json:"id"`
	StorageType        string            `json:"storageType"`
	EncryptionType     string            `json:"encryptionType"`
	ConnectionSettings map[string]string `json:"connectionSettings"`
}

// FileView is the spec's File object, fields in the spec's order.
type FileView struct {
	TypeID               int         `json:"typeId"`
	Name                 string      `json:"name"`
	DateUploaded         string      `json:"dateUploaded"`
	RelativePath         string      `json:"relativePath"`
	EncodedEncryptionKey *string     `json:"encodedEncryptionKey"`
	DownloadURL          string      `json:"downloadUrl"`
	SharedWith           []string    `json:"sharedWith"`
	DecryptedSize        int64       `json:"decryptedSize"`
	Owner                string      `json:"owner"`
	Path                 string      `json:"path"`
	IsUploaded           bool        `json:"isUploaded"`
	ViewInBrowser        bool        `json:"viewInBrowser"`
	ID                   string      `json:"id"`
	IsDeleted            bool        `json:"isDeleted"`
	MD5                  *string     `json:"md5"`
	UserTags             []files.Tag `json:"userTags"`
	FileChecksums        []checksum  `json:"fileChecksums"`
	PathParts            pathParts   `json:"pathParts"`
	Storage              storageView `json:"storage"`
}

// DateLayout is the spec's timestamp: microseconds, "Z" for UTC.
const DateLayout = "2006-01-02T15:04:05.000000Z07:00"

// Renderer turns a File into the spec's File object: the one place that
// happens, for the files endpoints and for everything that embeds files
// (folder contents, a job's inputFiles).
type Renderer struct {
	Base    httpapi.BaseURL
	Storage Storage
}

// Render renders f for the request r (downloadUrl is absolute on this
// server).
func (rd Renderer) Render(r *http.Request, f files.File) FileView {
	v := FileView{
		TypeID: f.TypeID, Name: f.Name, DateUploaded: f.DateUploaded.UTC().Format(DateLayout),
		RelativePath: f.RelativePath,
		// Bytes are encrypted at rest by the storage itself (SSE-S3, the
		// local disk's own); there is no per-file key to hand out.
		EncodedEncryptionKey: nil,
		DownloadURL:          rd.Base.URL(r, "/api/v2/files/"+f.ID+"/contents/"),
		SharedWith:           nonNil(f.SharedWith),
		DecryptedSize:        f.Size,
		Owner:                f.OwnerEmail,
		Path:                 f.Key,
		IsUploaded:           f.IsUploaded,
		ViewInBrowser:        viewInBrowser(f),
		ID:                   f.ID,
		IsDeleted:            f.IsDeleted,
		UserTags:             nonNil(f.Tags),
		FileChecksums:        []checksum{},
		PathParts:            pathParts{Path: f.Key, Container: rd.Storage.Container},
		Storage: storageView{
			ID: rd.Storage.ID, StorageType: rd.Storage.Type, EncryptionType: "default",
			ConnectionSettings: map[string]string{},
		},
	}
	if f.MD5 != "" {
		v.MD5 = &f.MD5
	}
	if f.SHA512 != "" {
		v.FileChecksums = append(v.FileChecksums, checksum{HashFunction: "sha512", FileHash: f.SHA512})
	}
	if rd.Storage.Region != "" {
		v.Storage.ConnectionSettings["region"] = rd.Storage.Region
	}
	return v
}

func (h Handlers) render(r *http.Request, f files.File) FileView {
	return Renderer{Base: h.Base, Storage: h.Storage}.Render(r, f)
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// maxBrowserView is the largest file a browser is offered to show inline;
// the spec marks a 200 KB .dat viewable and a 600 MB restart file not.
const maxBrowserView = 10 << 20

// textExtension reports names solvers and scripts write as plain text,
// which generic MIME tables do not know. ".rst" is absent on purpose: in
// this domain it is a solver restart file, not reStructuredText.
func textExtension(ext string) bool {
	switch ext {
	case ".txt", ".log", ".in", ".out", ".dat", ".csv", ".tsv", ".echo", ".inp", ".k", ".key",
		".py", ".sh", ".bash", ".json", ".xml", ".yaml", ".yml", ".md", ".cfg", ".conf", ".ini",
		".toml", ".html", ".htm", ".c", ".h", ".cpp", ".f", ".f90", ".m", ".r", ".tcl", ".sif",
		".err", ".stdout", ".stderr":
		return true
	}
	return false
}

// viewInBrowser: small files whose content type or extension says text.
func viewInBrowser(f files.File) bool {
	if !f.IsUploaded || f.Size > maxBrowserView {
		return false
	}
	// A restart file is binary whatever type the upload guessed from its
	// name: Debian's /etc/mime.types maps ".rst" to a text/ type.
	if strings.ToLower(path.Ext(f.Name)) == ".rst" {
		return false
	}
	if textual(f.ContentType) {
		return true
	}
	return textExtension(strings.ToLower(path.Ext(f.Name)))
}

func textual(contentType string) bool {
	ct, _, _ := strings.Cut(strings.ToLower(contentType), ";")
	ct = strings.TrimSpace(ct)
	switch {
	case strings.HasPrefix(ct, "text/"), strings.HasSuffix(ct, "+json"), strings.HasSuffix(ct, "+xml"):
		return true
	}
	switch ct {
	case "application/json", "application/xml", "application/javascript", "application/x-sh", "application/x-yaml", "application/yaml":
		return true
	}
	return false
}

// lookup returns the caller's file named by the path's {id}.
func (h Handlers) lookup(r *http.Request) (httpapi.Principal, files.File, error) {
	me, err := httpapi.Caller(r)
	if err != nil {
		return me, files.File{}, err
	}
	id := r.PathValue("id")
	if !ids.Valid(id) {
		return me, files.File{}, errs.E(errs.NotFound, "Not found.")
	}
	f, err := h.Files.Get(r.Context(), me.UserID, id)
	return me, f, err
}

// List is GET /api/v2/files/: the caller's files, newest first; ?search=
// matches part of the name. owner=1 excludes files shared with the caller,
// and as files are not shared yet it changes nothing.
func (h Handlers) List(w http.ResponseWriter, r *http.Request) error {
	me, err := httpapi.Caller(r)
	if err != nil {
		return err
	}
	p, err := httpapi.ParsePage(r)
	if err != nil {
		return err
	}
	search := strings.TrimSpace(r.URL.Query().Get("search"))
	list, total, err := h.Files.List(r.Context(), me.UserID, files.ListOptions{Search: search, Offset: p.Offset(), Limit: p.Size})
	if err != nil {
		return err
	}
	views := make([]FileView, len(list))
	for i, f := range list {
		views[i] = h.render(r, f)
	}
	body, err := httpapi.NewPage(r, h.Base, p, total, views)
	if err != nil {
		return err
	}
	httpapi.WriteJSON(w, http.StatusOK, body)
	return nil
}

// Get is GET /api/v2/files/{id}/.
func (h Handlers) Get(w http.ResponseWriter, r *http.Request) error {
	_, f, err := h.lookup(r)
	if err != nil {
		return err
	}
	httpapi.WriteJSON(w, http.StatusOK, h.render(r, f))
	return nil
}

// Patch is PATCH /api/v2/files/{id}/: name and typeId change; every other
// field is read-only and ignored, because clients send back the whole
// object they read (the spec's own example does).
func (h Handlers) Patch(w http.ResponseWriter, r *http.Request) error {
	me, err := httpapi.Caller(r)
	if err != nil {
		return err
	}
	id, err := httpapi.PathID(r, "id")
	if err != nil {
		return err
	}
	req, err := decodePatch(w, r)
	if err != nil {
		return err
	}
	if req.TypeID != nil && !files.ValidType(int(*req.TypeID)) {
		return errs.Field("typeId", "typeId %d is not one of 1-5, 7-10", *req.TypeID)
	}
	f, err := h.Files.Update(r.Context(), me.UserID, id, func(f *files.File) error {
		if req.Name != nil && *req.Name != f.Name {
			if err := files.Rename(f, *req.Name); err != nil {
				return err
			}
		}
		if req.TypeID != nil {
			f.TypeID = int(*req.TypeID)
		}
		return nil
	})
	if err != nil {
		return err
	}
	httpapi.WriteJSON(w, http.StatusOK, h.render(r, f))
	return nil
}

// Delete is DELETE /api/v2/files/{id}/: 204, or 409 while a running job
// uses the file.
func (h Handlers) Delete(w http.ResponseWriter, r *http.Request) error {
	me, err := httpapi.Caller(r)
	if err != nil {
		return err
	}
	id, err := httpapi.PathID(r, "id")
	if err != nil {
		return err
	}
	err = h.Files.Remove(r.Context(), me.UserID, id, func(f files.File) error {
		if h.InUse == nil {
			return nil
		}
		used, err := h.InUse.FileInUse(r.Context(), me.UserID, f.ID)
		if err != nil {
			return err
		}
		if used {
			return errs.E(errs.Conflict, "file %s is used by a running job; delete it when the job has finished", f.ID)
		}
		return nil
	})
	if err != nil {
		return err
	}
	httpapi.NoContent(w)
	return nil
}
