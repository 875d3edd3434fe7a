// Package jobs serves /api/v2/jobs/: jobs as saved objects (create, list,
// get, update, delete), their tags and sharing. Handlers parse, authorise
// through shared/jobs and render the spec's job objects (render.go).
package jobs

import (
	"context"
	"encoding/json"
	ffiles "github.com/openrescale/platform/functions/files"
	"net/http"
	"strconv"
	"strings"

	"github.com/openrescale/platform/shared/accounts"
	"github.com/openrescale/platform/shared/catalog"
	"github.com/openrescale/platform/shared/customfields"
	"github.com/openrescale/platform/shared/errs"
	"github.com/openrescale/platform/shared/files"
	"github.com/openrescale/platform/shared/httpapi"
	"github.com/openrescale/platform/shared/jobs"
)

// Catalog is what rendering reads; *catalog.Catalog is one.
type Catalog interface {
	jobs.Catalog
	Analysis(code string) (catalog.Analysis, bool)
}

// Users finds share recipients; *accounts.Service is one.
type Users interface {
	UserByEmail(ctx context.Context, email string) (accounts.User, error)
}

// Handlers serve the jobs endpoints.
type Handlers struct {
	Jobs    *jobs.Service
	Catalog Catalog
	Files   jobs.Files
	Users   Users
	Base    httpapi.BaseURL
	// FileView renders inputFiles exactly as the files endpoints do.
	FileView ffiles.Renderer
	// CustomFields supplies the job's customFields; nil renders {}.
	CustomFields CustomFields
}

// CustomFields reads the values set on a job the caller may read;
// *customfields.Service is one.
type CustomFields interface {
	JobValues(ctx context.Context, j jobs.Job) (map[string]customfields.Value, error)
}

func (h Handlers) renderFile(r *http.Request, f files.File) any {
	return h.FileView.Render(r, f)
}

func owner(r *http.Request) (jobs.Owner, error) {
	me, err := httpapi.Caller(r)
	if err != nil {
		return jobs.Owner{}, err
	}
	return jobs.Owner{UserID: me.UserID, Email: me.Email}, nil
}

// decodeSpec reads a whole job body.
func decodeSpec(w http.ResponseWriter, r *http.Request) (jobs.Spec, error) {
	var raw json.RawMessage
	if err := httpapi.DecodeJSON(w, r, &raw); err != nil {
		return jobs.Spec{}, err
	}
	if len(raw) == 0 {
		raw = json.RawMessage(`{}`)
	}
	return jobs.ParseSpec(raw)
}

func (h Handlers) writeJob(w http.ResponseWriter, r *http.Request, status int, j jobs.Job) error {
	v, err := h.render(r, j)
	if err != nil {
		return err
	}
	httpapi.WriteJSON(w, status, v)
	return nil
}

// Create is POST /api/v2/jobs/: validates and saves the job (it does not
// start it) and answers 201 with the job as GET shows it.
func (h Handlers) Create(w http.ResponseWriter, r *http.Request) error {
	me, err := owner(r)
	if err != nil {
		return err
	}
	spec, err := decodeSpec(w, r)
	if err != nil {
		return err
	}
	j, err := h.Jobs.Create(r.Context(), me, spec)
	if err != nil {
		return err
	}
	return h.writeJob(w, r, http.StatusCreated, j)
}

// Get is GET /api/v2/jobs/{id}/, for the owner and users it is shared with.
func (h Handlers) Get(w http.ResponseWriter, r *http.Request) error {
	me, err := owner(r)
	if err != nil {
		return err
	}
	j, _, err := h.Jobs.Get(r.Context(), me.UserID, r.PathValue("id"))
	if err != nil {
		return err
	}
	return h.writeJob(w, r, http.StatusOK, j)
}

// Patch is PATCH /api/v2/jobs/{id}/: the given top-level fields replace
// the job's, then the whole job is validated as on create.
func (h Handlers) Patch(w http.ResponseWriter, r *http.Request) error {
	me, err := owner(r)
	if err != nil {
		return err
	}
	var patch map[string]json.RawMessage
	if err := httpapi.DecodeJSON(w, r, &patch); err != nil {
		return err
	}
	j, err := h.Jobs.Patch(r.Context(), me.UserID, r.PathValue("id"), patch)
	if err != nil {
		return err
	}
	return h.writeJob(w, r, http.StatusOK, j)
}

// Put is PUT /api/v2/jobs/{id}/: the body is the whole job.
func (h Handlers) Put(w http.ResponseWriter, r *http.Request) error {
	me, err := owner(r)
	if err != nil {
		return err
	}
	spec, err := decodeSpec(w, r)
	if err != nil {
		return err
	}
	j, err := h.Jobs.Replace(r.Context(), me.UserID, r.PathValue("id"), spec)
	if err != nil {
		return err
	}
	return h.writeJob(w, r, http.StatusOK, j)
}

type deleteRequest struct {
	JobIDs           []string `json:"jobIds"`
	DeleteInputFiles bool     `json:"deleteInputFiles"`
}

// Delete is DELETE /api/v2/jobs/{id}/ with optional {"deleteInputFiles"}.
func (h Handlers) Delete(w http.ResponseWriter, r *http.Request) error {
	me, err := owner(r)
	if err != nil {
		return err
	}
	var req deleteRequest
	if err := httpapi.DecodeJSON(w, r, &req); err != nil {
		return err
	}
	if err := h.Jobs.Delete(r.Context(), me.UserID, []string{r.PathValue("id")}, req.DeleteInputFiles || queryTrue(r, "deleteInputFiles")); err != nil {
		return err
	}
	httpapi.NoContent(w)
	return nil
}

// DeleteMany is DELETE /api/v2/jobs/ with {"jobIds": [...]}: all or
// nothing (see docs/api-decisions.md).
func (h Handlers) DeleteMany(w http.ResponseWriter, r *http.Request) error {
	me, err := owner(r)
	if err != nil {
		return err
	}
	var req deleteRequest
	if err := httpapi.DecodeJSON(w, r, &req); err != nil {
		return err
	}
	if len(req.JobIDs) == 0 {
		return errs.Field("jobIds", "jobIds: this field is required")
	}
	if err := h.Jobs.Delete(r.Context(), me.UserID, req.JobIDs, req.DeleteInputFiles || queryTrue(r, "deleteInputFiles")); err != nil {
		return err
	}
	httpapi.NoContent(w)
	return nil
}

func queryTrue(r *http.Request, name string) bool {
	v, _ := strconv.ParseBool(r.URL.Query().Get(name))
	return v
}

// List is GET /api/v2/jobs/: newest first, filtered by f (0 all, 1 owned,
// 2 shared), job_status, state and q.
func (h Handlers) List(w http.ResponseWriter, r *http.Request) error {
	me, err := owner(r)
	if err != nil {
		return err
	}
	p, err := httpapi.ParsePage(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	opts := jobs.ListOptions{Scope: jobs.ScopeOwned, Offset: p.Offset(), Limit: p.Size}
	switch f := q.Get("f"); f {
	case "", "1":
	case "0":
		opts.Scope = jobs.ScopeAll
	case "2":
		opts.Scope = jobs.ScopeShared
	default:
		return errs.Field("f", "f must be 0 (all), 1 (owned) or 2 (shared), got %q", f)
	}
	var preds []func(jobs.Job) bool
	if s := strings.ToUpper(strings.TrimSpace(q.Get("job_status"))); s != "" {
		if !jobs.ValidStatus(s) {
			return errs.Field("job_status", "job_status must be one of PENDING, QUEUED, STARTED, VALIDATED, EXECUTING, COMPLETED, STOPPING, WAITING_FOR_CLUSTER, FORCE_STOP, WAITING_FOR_QUEUE")
		}
		preds = append(preds, func(j jobs.Job) bool { return j.Status == s })
	}
	switch s := q.Get("state"); s {
	case "":
	case "completed":
		preds = append(preds, jobs.Job.Completed)
	case "not_completed":
		preds = append(preds, func(j jobs.Job) bool { return !j.Completed() })
	default:
		return errs.Field("state", "state must be completed or not_completed, got %q", s)
	}
	if s := strings.TrimSpace(q.Get("q")); s != "" {
		m, prepare, err := h.matcher(s)
		if err != nil {
			return err
		}
		preds = append(preds, m)
		opts.Prepare = prepare
	}
	if len(preds) > 0 {
		opts.Match = func(j jobs.Job) bool {
			for _, p := range preds {
				if !p(j) {
					return false
				}
			}
			return true
		}
	}
	list, total, err := h.Jobs.List(r.Context(), me.UserID, opts)
	if err != nil {
		return err
	}
	views := make([]listView, len(list))
	for i, j := range list {
		views[i] = h.renderList(j)
	}
	body, err := httpapi.NewPage(r, h.Base, p, total, views)
	if err != nil {
		return err
	}
	httpapi.WriteJSON(w, http.StatusOK, body)
	return nil
}

type tagRequest struct {
	Name *string `json:"name"`
}

func decodeTag(w http.ResponseWriter, r *http.Request) (files.Tag, error) {
	var req tagRequest
	if err := httpapi.DecodeJSON(w, r, &req); err != nil {
		return files.Tag{}, err
	}
	if req.Name == nil {
		return files.Tag{}, errs.Field("name", "This field is required.")
	}
	return files.NewTag(*req.Name)
}

// AddTag is POST /api/v2/jobs/{id}/tags/: 201 with the tag as stored (a
// tag with the same normalised name is kept once).
func (h Handlers) AddTag(w http.ResponseWriter, r *http.Request) error {
	me, err := owner(r)
	if err != nil {
		return err
	}
	t, err := decodeTag(w, r)
	if err != nil {
		return err
	}
	j, err := h.Jobs.AddTag(r.Context(), me.UserID, r.PathValue("id"), t)
	if err != nil {
		return err
	}
	for _, x := range j.Tags {
		if x.NormalizedName == t.NormalizedName {
			t = x
		}
	}
	httpapi.WriteJSON(w, http.StatusCreated, t)
	return nil
}

// ListTags is GET /api/v2/jobs/{id}/tags/: a bare array, as the spec shows.
func (h Handlers) ListTags(w http.ResponseWriter, r *http.Request) error {
	me, err := owner(r)
	if err != nil {
		return err
	}
	j, _, err := h.Jobs.Get(r.Context(), me.UserID, r.PathValue("id"))
	if err != nil {
		return err
	}
	httpapi.WriteJSON(w, http.StatusOK, j.Tags)
	return nil
}

// RemoveTag is DELETE /api/v2/jobs/{id}/tags/ with {"name"}: 204.
func (h Handlers) RemoveTag(w http.ResponseWriter, r *http.Request) error {
	me, err := owner(r)
	if err != nil {
		return err
	}
	t, err := decodeTag(w, r)
	if err != nil {
		return err
	}
	if _, err := h.Jobs.RemoveTag(r.Context(), me.UserID, r.PathValue("id"), t); err != nil {
		return err
	}
	httpapi.NoContent(w)
	return nil
}

type shareRequest struct {
	Email   string `json:"email"`
	Message string `json:"message"`
}

type shareResponse struct {
	Recipient   string               `json:"recipient"`
	SupportDesk *catalog.SupportDesk `json:"supportDesk"`
}

// Share is POST /api/v2/jobs/{id}/share/: the recipient may read the job
// (GET, listings with f=0 or f=2) but not change or delete it.
func (h Handlers) Share(w http.ResponseWriter, r *http.Request) error {
	me, err := owner(r)
	if err != nil {
		return err
	}
	var req shareRequest
	if err := httpapi.DecodeJSON(w, r, &req); err != nil {
		return err
	}
	email := strings.TrimSpace(req.Email)
	if email == "" {
		return errs.Field("email", "email: this field is required")
	}
	u, err := h.Users.UserByEmail(r.Context(), email)
	if errs.Is(err, errs.NotFound) || errs.Is(err, errs.Invalid) {
		return errs.Field("email", "email: there is no user %q to share with", email)
	}
	if err != nil {
		return err
	}
	j, err := h.Jobs.Share(r.Context(), me.UserID, r.PathValue("id"), jobs.Owner{UserID: u.ID, Email: u.Email})
	if err != nil {
		return err
	}
	resp := shareResponse{Recipient: u.Email}
	// A recipient who is an analysis's support desk is named as such, as
	// the spec's response field suggests.
	for _, code := range j.AnalysisCodes() {
		if a, ok := h.Catalog.Analysis(code); ok {
			for _, d := range a.SupportDesks {
				if strings.EqualFold(d.Email, u.Email) {
					resp.SupportDesk = &d
				}
			}
		}
	}
	httpapi.WriteJSON(w, http.StatusOK, resp)
	return nil
}
