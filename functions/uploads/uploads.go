// Package uploads serves the resumable multipart upload extension under
// /api/v2/uploads/ (docs/api-decisions.md, "Uploads, storage events and
// credentials").
package uploads

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/openrescale/platform/shared/blob"
	"github.com/openrescale/platform/shared/errs"
	"github.com/openrescale/platform/shared/files"
	"github.com/openrescale/platform/shared/httpapi"
	"github.com/openrescale/platform/shared/uploads"
)

// Handlers serve the upload routes.
type Handlers struct {
	Uploads *uploads.Service
	Base    httpapi.BaseURL
	// Local is set in local mode, where parts are PUT to this server; Keys
	// then refuses part URLs whose user or issuing key is no longer active.
	Local *uploads.LocalURLs
	Keys  uploads.KeyChecker
	// Folders resolves currentFolderId as the direct upload does (nil:
	// files keep no folder).
	Folders interface {
		UploadFolder(ctx context.Context, userID, folderID string) (string, error)
	}
}

type sessionBody struct {
	ID              string      `json:"id"`
	FileID          string      `json:"fileId"`
	Name            string      `json:"name"`
	Path            string      `json:"path"`
	TypeID          int         `json:"typeId"`
	CurrentFolderID string      `json:"currentFolderId,omitempty"`
	Size            *int64      `json:"size"`
	PartSize        int64       `json:"partSize"`
	PartCount       *int64      `json:"partCount"`
	MinPartSize     int64       `json:"minPartSize"`
	MaxParts        int         `json:"maxParts"`
	Status          string      `json:"status"`
	CreatedAt       time.Time   `json:"createdAt"`
	ExpiresAt       time.Time   `json:"expiresAt"`
	Parts           []blob.Part `json:"parts,omitempty"`
	ReceivedBytes   *int64      `json:"receivedBytes,omitempty"`
}

func render(s uploads.Session) sessionBody {
	b := sessionBody{
		ID: s.ID, FileID: s.FileID, Name: s.Name, Path: s.Key, TypeID: s.TypeID, CurrentFolderID: s.FolderID,
		PartSize: s.PartSize, MinPartSize: blob.MinPartSize, MaxParts: blob.MaxParts, Status: s.State,
		CreatedAt: s.Created, ExpiresAt: s.Expires,
	}
	if s.Size > 0 {
		size, n := s.Size, (s.Size+s.PartSize-1)/s.PartSize
		b.Size, b.PartCount = &size, &n
	}
	return b
}

// Create starts a session: 201.
func (h Handlers) Create(w http.ResponseWriter, r *http.Request) error {
	me, err := httpapi.Caller(r)
	if err != nil {
		return err
	}
	var body struct {
		Name            string      `json:"name"`
		Size            httpapi.Int `json:"size"`
		TypeID          httpapi.Int `json:"typeId"`
		CurrentFolderID string      `json:"currentFolderId"`
		ContentType     string      `json:"contentType"`
	}
	if err := httpapi.DecodeJSON(w, r, &body); err != nil {
		return err
	}
	if body.Name == "" {
		return errs.Field("name", "This field is required.")
	}
	folder := body.CurrentFolderID
	if h.Folders != nil {
		// Checked at the start, not at completion: a bad folder must fail
		// before the client spends an hour uploading parts.
		if folder, err = h.Folders.UploadFolder(r.Context(), me.UserID, body.CurrentFolderID); err != nil {
			if e, ok := errs.As(err); ok && e.Field == "current_folder_id" {
				// Same rule, this body's spelling of the field.
				return &errs.Error{Code: e.Code, Field: "currentFolderId", Message: strings.ReplaceAll(e.Message, "current_folder_id", "currentFolderId")}
			}
			return err
		}
	}
	s, err := h.Uploads.Start(r.Context(), uploads.StartRequest{
		Owner: files.Owner{UserID: me.UserID, Email: me.Email}, Name: body.Name, Size: int64(body.Size),
		TypeID: int(body.TypeID), FolderID: folder, ContentType: body.ContentType,
	})
	if err != nil {
		return err
	}
	httpapi.WriteJSON(w, http.StatusCreated, render(s))
	return nil
}

// Get shows the session and the parts received so far, for resuming.
func (h Handlers) Get(w http.ResponseWriter, r *http.Request) error {
	me, err := httpapi.Caller(r)
	if err != nil {
		return err
	}
	s, parts, err := h.Uploads.Parts(r.Context(), me.UserID, r.PathValue("id"))
	if err != nil {
		return err
	}
	b := render(s)
	if s.State == uploads.Pending {
		var n int64
		for _, p := range parts {
			n += p.Size
		}
		b.Parts, b.ReceivedBytes = parts, &n
		if b.Parts == nil {
			b.Parts = []blob.Part{}
		}
	}
	httpapi.WriteJSON(w, http.StatusOK, b)
	return nil
}

// PartURLs presigns part uploads.
func (h Handlers) PartURLs(w http.ResponseWriter, r *http.Request) error {
	me, err := httpapi.Caller(r)
	if err != nil {
		return err
	}
	var body struct {
		PartNumbers []httpapi.Int `json:"partNumbers"`
	}
	if err := httpapi.DecodeJSON(w, r, &body); err != nil {
		return err
	}
	nums := make([]int, len(body.PartNumbers))
	for i, n := range body.PartNumbers {
		nums[i] = int(n)
	}
	urls, err := h.Uploads.PartURLs(r.Context(), me.UserID, me.KeyID, r.PathValue("id"), nums)
	if err != nil {
		return err
	}
	for i := range urls {
		if strings.HasPrefix(urls[i].URL, "/") {
			urls[i].URL = h.Base.URL(r, urls[i].URL)
		}
	}
	httpapi.WriteJSON(w, http.StatusOK, map[string]any{"parts": urls})
	return nil
}

// Complete assembles the parts into the file: 200 with the file record.
func (h Handlers) Complete(w http.ResponseWriter, r *http.Request) error {
	me, err := httpapi.Caller(r)
	if err != nil {
		return err
	}
	var body struct {
		Parts []struct {
			PartNumber httpapi.Int `json:"partNumber"`
			ETag       string      `json:"etag"`
		} `json:"parts"`
	}
	if err := httpapi.DecodeJSON(w, r, &body); err != nil {
		return err
	}
	parts := make([]blob.Part, len(body.Parts))
	for i, p := range body.Parts {
		parts[i] = blob.Part{Number: int(p.PartNumber), ETag: p.ETag}
	}
	f, err := h.Uploads.Complete(r.Context(), me.UserID, r.PathValue("id"), parts)
	if err != nil {
		return err
	}
	httpapi.WriteJSON(w, http.StatusOK, map[string]any{
		"id": f.ID, "name": f.Name, "path": f.Key, "isUploaded": f.IsUploaded,
		"decryptedSize": f.Size, "md5": f.MD5, "sha512": f.SHA512, "typeId": f.TypeID,
	})
	return nil
}

// Abort discards the session and its parts: 204.
func (h Handlers) Abort(w http.ResponseWriter, r *http.Request) error {
	me, err := httpapi.Caller(r)
	if err != nil {
		return err
	}
	if err := h.Uploads.Abort(r.Context(), me.UserID, r.PathValue("id")); err != nil {
		return err
	}
	httpapi.NoContent(w)
	return nil
}

// PutPart is the local stand-in for S3's presigned part URL: public, the
// signature authorises, and the body streams into the part.
func (h Handlers) PutPart(w http.ResponseWriter, r *http.Request) error {
	if h.Local == nil {
		return errs.E(errs.NotFound, "Not found.")
	}
	n, err := strconv.Atoi(r.PathValue("n"))
	if err != nil {
		return errs.Field("partNumber", "part number %q is not a number", r.PathValue("n"))
	}
	q := r.URL.Query()
	p, err := h.Uploads.UploadSignedPart(r.Context(), *h.Local, h.Keys, q.Get("u"), q.Get("k"), r.PathValue("id"), n, q.Get("expires"), q.Get("sig"), r.Body)
	if err != nil {
		return err
	}
	// S3 answers a part upload with its ETag header and no body.
	w.Header().Set("ETag", p.ETag)
	w.WriteHeader(http.StatusOK)
	return nil
}
