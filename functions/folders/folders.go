// Package folders serves the v3 folder endpoints: the caller's roots,
// creating, reading (with ancestry), listing and deleting folders. Handlers
// parse, call shared/folders and render the spec's shapes.
package folders

import (
	"context"
	"net/http"
	"path"
	"strings"

	"github.com/openrescale/platform/shared/errs"
	"github.com/openrescale/platform/shared/files"
	"github.com/openrescale/platform/shared/folders"
	"github.com/openrescale/platform/shared/httpapi"
)

// Service is what the handlers need; *folders.Service is one.
type Service interface {
	Roots(ctx context.Context, uid string) (folders.Roots, error)
	Create(ctx context.Context, uid, parentID, name string) (folders.Folder, error)
	Ancestry(ctx context.Context, uid, id string) ([]folders.Folder, error)
	Delete(ctx context.Context, uid, id string) error
	Contents(ctx context.Context, uid, id string, offset, limit int) (folders.Contents, error)
}

// Storage describes where file bytes live, rendered in each listed file's
// "storage" and "pathParts.container".
type Storage struct {
	ID        string // e.g. "s3" or "local"
	Type      string // "S3Storage" in AWS, "LocalStorage" locally
	Container string // the bucket name, or "local"
	Region    string // AWS region; "" locally
}

// Handlers serve the folder endpoints.
type Handlers struct {
	Folders Service
	Base    httpapi.BaseURL
	Storage Storage
	// RenderFile, when set, renders a listed file, so the files endpoints'
	// renderer can be the one place a File becomes JSON; nil uses this
	// package's rendering of the spec's folder-contents sample.
	RenderFile func(r *http.Request, f files.File, tags []TagView) any
}

// dateLayout is the spec's timestamp: microseconds, "Z" for UTC.
const dateLayout = "2006-01-02T15:04:05.000000Z07:00"

type ancestorView struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// folderView is the spec's folder object. IsDeleted appears only in
// contents listings, as in the spec's samples.
type folderView struct {
	ID           string         `json:"id"`
	Name         string         `json:"name"`
	DateInserted string         `json:"dateInserted"`
	Type         string         `json:"type"`
	Ancestry     []ancestorView `json:"ancestry"`
	Job          *string        `json:"job"`
	IsDeleted    *bool          `json:"isDeleted,omitempty"`
}

// renderFolder renders f whose ancestors (root first, excluding f) are
// given.
func renderFolder(f folders.Folder, ancestors []folders.Folder) folderView {
	v := folderView{
		ID: f.ID, Name: f.Name, DateInserted: f.DateCreated.UTC().Format(dateLayout),
		Type: f.Type(), Ancestry: make([]ancestorView, 0, len(ancestors)),
	}
	for _, a := range ancestors {
		v.Ancestry = append(v.Ancestry, ancestorView{ID: a.ID, Name: a.Name})
	}
	if f.JobID != "" {
		job := f.JobID
		v.Job = &job
	}
	return v
}

// Roots is GET /api/v3/users/me/folders/.
func (h Handlers) Roots(w http.ResponseWriter, r *http.Request) error {
	me, err := httpapi.Caller(r)
	if err != nil {
		return err
	}
	roots, err := h.Folders.Roots(r.Context(), me.UserID)
	if err != nil {
		return err
	}
	httpapi.WriteJSON(w, http.StatusOK, map[string]string{"MyJobs": roots.MyJobs, "MyLibrary": roots.MyLibrary})
	return nil
}

type createRequest struct {
	Name *string `json:"name"`
}

// Create is POST /api/v3/folders/{id}/ with {"name"}: 201 with the new
// folder and its ancestry.
func (h Handlers) Create(w http.ResponseWriter, r *http.Request) error {
	me, err := httpapi.Caller(r)
	if err != nil {
		return err
	}
	var req createRequest
	if err := httpapi.DecodeJSON(w, r, &req); err != nil {
		return err
	}
	if req.Name == nil {
		return errs.Field("name", "This field is required.")
	}
	f, err := h.Folders.Create(r.Context(), me.UserID, r.PathValue("id"), *req.Name)
	if err != nil {
		return err
	}
	path, err := h.Folders.Ancestry(r.Context(), me.UserID, f.ID)
	if err != nil {
		return err
	}
	httpapi.WriteJSON(w, http.StatusCreated, renderFolder(f, path[:len(path)-1]))
	return nil
}

// Get is GET /api/v3/folders/{id}/: the folder with its ancestry.
func (h Handlers) Get(w http.ResponseWriter, r *http.Request) error {
	me, err := httpapi.Caller(r)
	if err != nil {
		return err
	}
	path, err := h.Folders.Ancestry(r.Context(), me.UserID, r.PathValue("id"))
	if err != nil {
		return err
	}
	httpapi.WriteJSON(w, http.StatusOK, renderFolder(path[len(path)-1], path[:len(path)-1]))
	return nil
}

// Delete is DELETE /api/v3/folders/{id}/: the folder and everything in it.
func (h Handlers) Delete(w http.ResponseWriter, r *http.Request) error {
	me, err := httpapi.Caller(r)
	if err != nil {
		return err
	}
	if err := h.Folders.Delete(r.Context(), me.UserID, r.PathValue("id")); err != nil {
		return err
	}
	httpapi.NoContent(w)
	return nil
}

// contentItem is one entry of a contents listing.
type contentItem struct {
	Type string `json:"type"` // "folder" or "file"
	Item any    `json:"item"`
}

// TagView is a tag with the number of the folder's files carrying it, as
// the spec's contents sample renders both allTags and each file's tags.
type TagView struct {
	NormalizedName string `json:"normalizedName"`
	Name           string `json:"name"`
	Count          int    `json:"count"`
	IsFolder       bool   `json:"isFolder"`
}

type contentsBody struct {
	httpapi.PageBody[contentItem]
	AllTags []TagView `json:"allTags"`
}

// Contents is GET /api/v3/folders/{id}/contents/: subfolders then files,
// each by name, paginated, with a summary of the files' tags.
func (h Handlers) Contents(w http.ResponseWriter, r *http.Request) error {
	me, err := httpapi.Caller(r)
	if err != nil {
		return err
	}
	p, err := httpapi.ParsePage(r)
	if err != nil {
		return err
	}
	c, err := h.Folders.Contents(r.Context(), me.UserID, r.PathValue("id"), p.Offset(), p.Size)
	if err != nil {
		return err
	}
	tags := make([]TagView, len(c.Tags))
	counts := make(map[string]int, len(c.Tags))
	for i, t := range c.Tags {
		tags[i] = TagView{NormalizedName: t.NormalizedName, Name: t.Name, Count: t.Count}
		counts[t.NormalizedName] = t.Count
	}
	items := make([]contentItem, 0, len(c.Folders)+len(c.Files))
	notDeleted := false
	for _, f := range c.Folders {
		v := renderFolder(f, c.Path)
		v.IsDeleted = &notDeleted
		items = append(items, contentItem{Type: "folder", Item: v})
	}
	for _, f := range c.Files {
		ft := make([]TagView, 0, len(f.Tags))
		for _, t := range f.Tags {
			ft = append(ft, TagView{NormalizedName: t.NormalizedName, Name: t.Name, Count: counts[t.NormalizedName]})
		}
		render := h.RenderFile
		if render == nil {
			render = h.renderFile
		}
		items = append(items, contentItem{Type: "file", Item: render(r, f, ft)})
	}
	page, err := httpapi.NewPage(r, h.Base, p, c.Total, items)
	if err != nil {
		return err
	}
	httpapi.WriteJSON(w, http.StatusOK, contentsBody{PageBody: page, AllTags: tags})
	return nil
}

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

// fileView is a file as the spec's folder-contents sample shows it.
type fileView struct {
	DateUploaded  string      `json:"dateUploaded"`
	DecryptedSize int64       `json:"decryptedSize"`
	ID            string      `json:"id"`
	IsUploaded    bool        `json:"isUploaded"`
	Name          string      `json:"name"`
	Owner         string      `json:"owner"`
	Path          string      `json:"path"`
	RelativePath  string      `json:"relativePath"`
	PathParts     pathParts   `json:"pathParts"`
	TypeID        int         `json:"typeId"`
	FileChecksums []checksum  `json:"fileChecksums"`
	ViewInBrowser bool        `json:"viewInBrowser"`
	IsDeleted     bool        `json:"isDeleted"`
	DownloadURL   string      `json:"downloadUrl"`
	Storage       storageView `json:"storage"`
	UserTags      []TagView   `json:"userTags"`
	// Bytes are encrypted at rest by the storage itself; there is no
	// per-file key, and a fake one would make clients "decrypt" plain data.
	EncodedEncryptionKey *string `json:"encodedEncryptionKey"`
}

func (h Handlers) renderFile(r *http.Request, f files.File, tags []TagView) any {
	v := fileView{
		DateUploaded: f.DateUploaded.UTC().Format(dateLayout), DecryptedSize: f.Size, ID: f.ID,
		IsUploaded: f.IsUploaded, Name: f.Name, Owner: f.OwnerEmail, Path: f.Key, RelativePath: f.RelativePath,
		PathParts: pathParts{Path: f.Key, Container: h.Storage.Container}, TypeID: f.TypeID,
		FileChecksums: []checksum{}, ViewInBrowser: viewInBrowser(f), IsDeleted: f.IsDeleted,
		// v2 is where downloads are served; the spec's v3 sample URL has
		// no v3 download route to go with it.
		DownloadURL: h.Base.URL(r, "/api/v2/files/"+f.ID+"/contents/"),
		Storage: storageView{ID: h.Storage.ID, StorageType: h.Storage.Type, EncryptionType: "default",
			ConnectionSettings: map[string]string{}},
		UserTags: tags,
	}
	if f.SHA512 != "" {
		v.FileChecksums = append(v.FileChecksums, checksum{HashFunction: "sha512", FileHash: f.SHA512})
	}
	if h.Storage.Region != "" {
		v.Storage.ConnectionSettings["region"] = h.Storage.Region
	}
	return v
}

// viewInBrowser offers small text files for inline viewing.
func viewInBrowser(f files.File) bool {
	if !f.IsUploaded || f.Size > 10<<20 {
		return false
	}
	ct, _, _ := strings.Cut(strings.ToLower(f.ContentType), ";")
	if strings.HasPrefix(strings.TrimSpace(ct), "text/") {
		return true
	}
	switch strings.ToLower(path.Ext(f.Name)) {
	case ".txt", ".log", ".out", ".dat", ".csv", ".json", ".xml", ".yaml", ".yml", ".sh", ".py", ".inp", ".in":
		return true
	}
	return false
}
