// Package customfields serves custom fields: the workspace's definitions,
// fields assigned to one job, and a job's values. Checks and storage are
// shared/customfields'; handlers parse and render.
package customfields

import (
	"encoding/json"
	"net/http"

	"github.com/openrescale/platform/shared/customfields"
	"github.com/openrescale/platform/shared/errs"
	"github.com/openrescale/platform/shared/httpapi"
	"github.com/openrescale/platform/shared/jobs"
)

// Handlers serve the custom-field endpoints.
type Handlers struct {
	Fields *customfields.Service
}

type workspaceView struct {
	Fields struct {
		Compute     customfields.Sections `json:"compute"`
		Workstation customfields.Sections `json:"workstation"`
	} `json:"fields"`
	IsEnabled bool `json:"isEnabled"`
}

type sectionsView struct {
	Fields customfields.Sections `json:"fields"`
}

// Workspace is GET /api/v2/organizations/{org}/workspaces/{ws}/custom-fields/.
// The spec answers one object, not a page.
func (h Handlers) Workspace(w http.ResponseWriter, r *http.Request) error {
	if _, err := httpapi.Caller(r); err != nil {
		return err
	}
	ws, err := h.Fields.Workspace(r.PathValue("org"), r.PathValue("ws"))
	if err != nil {
		return err
	}
	var v workspaceView
	v.Fields.Compute, v.Fields.Workstation, v.IsEnabled = ws.Fields.Compute, ws.Fields.Workstation, ws.IsEnabled
	httpapi.WriteJSON(w, http.StatusOK, v)
	return nil
}

// Assigned is GET /api/v2/jobs/{id}/custom-fields/assigned/.
func (h Handlers) Assigned(w http.ResponseWriter, r *http.Request) error {
	me, err := httpapi.Caller(r)
	if err != nil {
		return err
	}
	s, err := h.Fields.Assigned(r.Context(), me.UserID, r.PathValue("id"))
	if err != nil {
		return err
	}
	httpapi.WriteJSON(w, http.StatusOK, sectionsView{Fields: s})
	return nil
}

// Assign is POST /api/v2/jobs/{id}/custom-fields/assigned/: {"fields":
// {category: [definition, ...]}}; answers the job's fields as GET does.
func (h Handlers) Assign(w http.ResponseWriter, r *http.Request) error {
	me, err := httpapi.Caller(r)
	if err != nil {
		return err
	}
	var body struct {
		Fields *customfields.Sections `json:"fields"`
	}
	if err := httpapi.DecodeJSON(w, r, &body); err != nil {
		return err
	}
	if body.Fields == nil {
		return errs.Field("fields", "fields: This field is required.")
	}
	s, err := h.Fields.Assign(r.Context(), me.UserID, r.PathValue("id"), *body.Fields)
	if err != nil {
		return err
	}
	httpapi.WriteJSON(w, http.StatusOK, sectionsView{Fields: s})
	return nil
}

// Values is GET /api/v2/jobs/{id}/custom-fields/.
func (h Handlers) Values(w http.ResponseWriter, r *http.Request) error {
	me, err := httpapi.Caller(r)
	if err != nil {
		return err
	}
	v, err := h.Fields.Values(r.Context(), me.UserID, r.PathValue("id"))
	if err != nil {
		return err
	}
	httpapi.WriteJSON(w, http.StatusOK, v)
	return nil
}

// SetValues is POST /api/v2/jobs/{id}/custom-fields/: {name: value, ...};
// answers all of the job's values.
func (h Handlers) SetValues(w http.ResponseWriter, r *http.Request) error {
	me, err := httpapi.Caller(r)
	if err != nil {
		return err
	}
	var body map[string]json.RawMessage
	if err := httpapi.DecodeJSON(w, r, &body); err != nil {
		return err
	}
	v, err := h.Fields.SetValues(r.Context(), jobs.Owner{UserID: me.UserID, Email: me.Email}, r.PathValue("id"), body)
	if err != nil {
		return err
	}
	httpapi.WriteJSON(w, http.StatusOK, v)
	return nil
}
