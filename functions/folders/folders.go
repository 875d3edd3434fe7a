// Package folders serves the v3 folder endpoints: the caller's roots,
// creating, reading (with ancestry), listing and deleting folders. Handlers
// parse, call shared/folders and render the spec's shapes.
package folders

import (
	"context"
	ffiles "github.com/openrescale/platform/functions/files"
	"net/http"

	"github.com/openrescale/platform/shared/errs"
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

// Handlers serve the folder endpoints.
type Handlers struct {
	Folders Service
	Base    httpapi.BaseURL
	// Files renders listed files exactly as the files endpoints do.
	Files ffiles.Renderer
}

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
		ID: f.ID, Name: f.Name, DateInserted: f.DateCreated.UTC().Format(ffiles.DateLayout),
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
		items = append(items, contentItem{Type: "file", Item: listedFile{FileView: h.Files.Render(r, f), UserTags: ft}})
	}
	page, err := httpapi.NewPage(r, h.Base, p, c.Total, items)
	if err != nil {
		return err
	}
	httpapi.WriteJSON(w, http.StatusOK, contentsBody{PageBody: page, AllTags: tags})
	return nil
}

// listedFile is a File object whose tags carry the folder-wide counts the
// contents sample shows; the outer userTags wins over the embedded one.
type listedFile struct {
	ffiles.FileView
	UserTags []TagView `json:"userTags"`
}
