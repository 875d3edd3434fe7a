package files

import (
	"net/http"

	"github.com/openrescale/platform/shared/errs"
	"github.com/openrescale/platform/shared/httpapi"
)

type tagRequest struct {
	Name *string `json:"name"`
}

func decodeTag(w http.ResponseWriter, r *http.Request) (string, error) {
	var req tagRequest
	if err := httpapi.DecodeJSON(w, r, &req); err != nil {
		return "", err
	}
	if req.Name == nil {
		return "", errs.Field("name", "This field is required.")
	}
	return *req.Name, nil
}

// AddTag is POST /api/v2/files/{id}/tags/: 201 with the tag; adding a tag
// whose normalised name is already there answers the stored one.
func (h Handlers) AddTag(w http.ResponseWriter, r *http.Request) error {
	me, err := httpapi.Caller(r)
	if err != nil {
		return err
	}
	id, err := httpapi.PathID(r, "id")
	if err != nil {
		return err
	}
	name, err := decodeTag(w, r)
	if err != nil {
		return err
	}
	tag, err := h.Files.AddTag(r.Context(), me.UserID, id, name)
	if err != nil {
		return err
	}
	httpapi.WriteJSON(w, http.StatusCreated, tag)
	return nil
}

// ListTags is GET /api/v2/files/{id}/tags/: a bare array, as the spec shows.
func (h Handlers) ListTags(w http.ResponseWriter, r *http.Request) error {
	_, f, err := h.lookup(r)
	if err != nil {
		return err
	}
	httpapi.WriteJSON(w, http.StatusOK, nonNil(f.Tags))
	return nil
}

// RemoveTag is DELETE /api/v2/files/{id}/tags/ with {"name"}: 204, or 404
// when the file has no such tag.
func (h Handlers) RemoveTag(w http.ResponseWriter, r *http.Request) error {
	me, err := httpapi.Caller(r)
	if err != nil {
		return err
	}
	id, err := httpapi.PathID(r, "id")
	if err != nil {
		return err
	}
	name, err := decodeTag(w, r)
	if err != nil {
		return err
	}
	if err := h.Files.RemoveTag(r.Context(), me.UserID, id, name); err != nil {
		return err
	}
	httpapi.NoContent(w)
	return nil
}
