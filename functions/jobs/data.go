package jobs

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/openrescale/platform/shared/errs"
	"github.com/openrescale/platform/shared/httpapi"
	"github.com/openrescale/platform/shared/jobs"
)

// Data jobs: GET /api/v2/data/jobs/ (jobs metadata, offset paging) and
// GET /api/v2/data/jobs/fields/. See docs/api-decisions.md, Data jobs.

const (
	dataDefaultLimit = 100
	dataMaxLimit     = 10000
	// dataDateLayout is dateCreated as the spec's sample shows it (UTC).
	dataDateLayout = "2006-01-02 15:04:05"
)

// dataFields is the fields endpoint's list, in the spec's order; each is
// also a response property (dataView).
var dataFields = []string{
	"date_created", "name", "status", "owner", "workspace", "project", "hardware",
	"job_analyses", "priority", "tags", "custom_values", "job_id", "study",
}

// dataFieldAliases are the fields parameter's other accepted names (the
// spec's parameter table names date_inserted and the study's parts, where
// the fields endpoint has date_created and study).
var dataFieldAliases = map[string]string{
	"date_inserted":     "date_created",
	"study_name":        "study",
	"study_short_name":  "study",
	"study_description": "study",
}

// dataView is one result; fields not selected are nil and omitted.
type dataView struct {
	DateCreated  json.RawMessage `json:"dateCreated,omitempty"`
	Name         json.RawMessage `json:"name,omitempty"`
	Status       json.RawMessage `json:"status,omitempty"`
	Owner        json.RawMessage `json:"owner,omitempty"`
	Workspace    json.RawMessage `json:"workspace,omitempty"`
	Project      json.RawMessage `json:"project,omitempty"`
	Hardware     json.RawMessage `json:"hardware,omitempty"`
	JobAnalyses  json.RawMessage `json:"jobAnalyses,omitempty"`
	Priority     json.RawMessage `json:"priority,omitempty"`
	Tags         json.RawMessage `json:"tags,omitempty"`
	CustomValues json.RawMessage `json:"customValues,omitempty"`
	JobID        json.RawMessage `json:"jobId,omitempty"`
	Study        json.RawMessage `json:"study,omitempty"`
}

type dataPage struct {
	Count    int        `json:"count"`
	Next     *string    `json:"next"`
	Previous *string    `json:"previous"`
	Results  []dataView `json:"results"`
}

type dataStatus struct {
	Status       string  `json:"status"`
	StatusDate   *string `json:"statusDate"`
	StatusReason string  `json:"statusReason"`
}

type dataCoretype struct {
	Name    string `json:"name"`
	Acronym string `json:"acronym"`
}

type dataHardware struct {
	Slots            int64        `json:"slots"`
	Coretype         dataCoretype `json:"coretype"`
	Walltime         *int64       `json:"walltime"`
	Autosuspend      bool         `json:"autosuspend"`
	CoresPerSlot     int64        `json:"coresPerSlot"`
	ClusterStartTime *string      `json:"clusterStartTime"`
}

type dataAnalysis struct {
	AnalysisName    string `json:"analysisName"`
	AnalysisType    string `json:"analysisType"`
	AnalysisVersion string `json:"analysisVersion"`
}

// dataPriority maps billingPriorityValue to the spec's priority codes (the
// same codes coretype sets use); a job without one is on demand.
var dataPriority = map[string]string{"INSTANT": "odp", "ON_DEMAND": "od", "RESERVED": "res"}

// DataFields is GET /api/v2/data/jobs/fields/.
func (h Handlers) DataFields(w http.ResponseWriter, r *http.Request) error {
	if _, err := owner(r); err != nil {
		return err
	}
	httpapi.WriteJSON(w, http.StatusOK, map[string][]string{"fields": dataFields})
	return nil
}

// DataList is GET /api/v2/data/jobs/: the caller's own jobs, newest first,
// paged by limit and offset.
func (h Handlers) DataList(w http.ResponseWriter, r *http.Request) error {
	me, err := owner(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	fields, err := parseDataFields(q.Get("fields"))
	if err != nil {
		return err
	}
	var dq jobs.DataQuery
	if dq.CreatedAfter, err = parseDataDate(q, "createdAfter"); err != nil {
		return err
	}
	if dq.CreatedBefore, err = parseDataDate(q, "createdBefore"); err != nil {
		return err
	}
	if dq.Limit, err = parseDataInt(q, "limit", dataDefaultLimit, dataMaxLimit); err != nil {
		return err
	}
	if dq.Offset, err = parseDataInt(q, "offset", 0, httpapi.MaxOffset); err != nil {
		return err
	}
	list, total, err := h.Jobs.ListData(r.Context(), me.UserID, dq)
	if err != nil {
		return err
	}
	page := dataPage{Count: total, Results: make([]dataView, 0, len(list))}
	for _, j := range list {
		page.Results = append(page.Results, h.renderData(j, fields))
	}
	if fields == nil || fields["custom_values"] {
		values, err := h.dataCustomValues(r.Context(), list)
		if err != nil {
			return err
		}
		for i := range page.Results {
			if values[i] != nil {
				page.Results[i].CustomValues = values[i]
			}
		}
	}
	if dq.Limit > 0 && dq.Offset+dq.Limit < total {
		u := h.dataPageURL(r, dq.Offset+dq.Limit)
		page.Next = &u
	}
	if dq.Offset > 0 && dq.Limit > 0 {
		u := h.dataPageURL(r, max(0, min(dq.Offset, total)-dq.Limit))
		page.Previous = &u
	}
	httpapi.WriteJSON(w, http.StatusOK, page)
	return nil
}

// dataPageURL is the request's URL with offset replaced (keys sorted, as in
// the spec's sample next URL).
func (h Handlers) dataPageURL(r *http.Request, offset int) string {
	q := r.URL.Query()
	q.Set("offset", strconv.Itoa(offset))
	return h.Base.Origin(r) + r.URL.EscapedPath() + "?" + q.Encode()
}

// parseDataFields returns the selected response fields (nil: all).
func parseDataFields(s string) (map[string]bool, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	out := map[string]bool{}
	for f := range strings.SplitSeq(s, ",") {
		f = strings.ToLower(strings.TrimSpace(f))
		if f == "" {
			continue
		}
		if a, ok := dataFieldAliases[f]; ok {
			f = a
		}
		if !slices.Contains(dataFields, f) {
			return nil, errs.Field("fields", "fields: unknown field %q; the fields are %s (see /api/v2/data/jobs/fields/)", f, strings.Join(dataFields, ", "))
		}
		out[f] = true
	}
	if len(out) == 0 {
		return nil, nil
	}
	return out, nil
}

// parseDataDate reads YYYY-MM-DD as midnight UTC; a full RFC 3339
// timestamp is accepted too.
func parseDataDate(q url.Values, name string) (time.Time, error) {
	s := strings.TrimSpace(q.Get(name))
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.UTC(), nil
	}
	return time.Time{}, errs.Field(name, "%s must be a date as YYYY-MM-DD, got %q", name, s)
}

// parseDataInt reads a non-negative integer no larger than max (max < 0:
// unbounded).
func parseDataInt(q url.Values, name string, def, max int) (int, error) {
	s := strings.TrimSpace(q.Get(name))
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 || (max >= 0 && n > max) {
		if max >= 0 {
			return 0, errs.Field(name, "%s must be an integer from 0 to %d, got %q", name, max, errs.Clip(s))
		}
		return 0, errs.Field(name, "%s must be a non-negative integer, got %q", name, errs.Clip(s))
	}
	return n, nil
}

func mustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		return json.RawMessage("null")
	}
	return b
}

var emptyObject = json.RawMessage("{}")

// renderData renders the selected fields (nil: all) of one job.
func (h Handlers) renderData(j jobs.Job, fields map[string]bool) dataView {
	want := func(f string) bool { return fields == nil || fields[f] }
	var v dataView
	s := j.Spec
	if want("date_created") {
		v.DateCreated = mustJSON(j.DateInserted.UTC().Format(dataDateLayout))
	}
	if want("name") {
		v.Name = mustJSON(s.Name)
	}
	if want("status") {
		// A saved job has no status yet; status history is not kept, so
		// statusDate is null and statusReason "".
		v.Status = emptyObject
		if !j.Saved() {
			v.Status = mustJSON(dataStatus{Status: jobs.StatusDisplay(j.Status)})
		}
	}
	if want("owner") {
		v.Owner = mustJSON(j.OwnerEmail)
	}
	if want("workspace") {
		v.Workspace = emptyObject // no workspaces yet
	}
	if want("project") {
		v.Project = emptyObject
		if s.ProjectID != nil && *s.ProjectID != "" {
			// No project records yet: the name is unknown.
			v.Project = mustJSON(map[string]string{"id": *s.ProjectID, "name": ""})
		}
	}
	if want("hardware") {
		v.Hardware = emptyObject
		if len(s.JobAnalyses) > 0 {
			v.Hardware = mustJSON(h.dataHardware(s.JobAnalyses[0].Hardware))
		}
	}
	if want("job_analyses") {
		as := make([]dataAnalysis, 0, len(s.JobAnalyses))
		for _, ja := range s.JobAnalyses {
			a := dataAnalysis{AnalysisName: ja.Analysis.Code, AnalysisType: "compute", AnalysisVersion: ja.Analysis.Version}
			if c, ok := h.Catalog.Analysis(ja.Analysis.Code); ok {
				a.AnalysisName = c.Name
			}
			as = append(as, a)
		}
		v.JobAnalyses = mustJSON(as)
	}
	if want("priority") {
		p := "od"
		if s.BillingPriorityValue != nil {
			if x, ok := dataPriority[*s.BillingPriorityValue]; ok {
				p = x
			}
		}
		v.Priority = mustJSON(p)
	}
	if want("tags") {
		names := make([]string, len(j.Tags))
		for i, t := range j.Tags {
			names[i] = t.Name
		}
		v.Tags = mustJSON(names)
	}
	if want("custom_values") {
		v.CustomValues = emptyObject // see dataCustomValues
	}
	if want("job_id") {
		v.JobID = mustJSON(j.ID)
	}
	if want("study") {
		v.Study = emptyObject // no studies
	}
	return v
}

func (h Handlers) dataHardware(hw jobs.Hardware) dataHardware {
	code := hw.CoreType
	if hw.CoreClass != nil {
		if configs, err := jobs.ParseCoreClass(h.Catalog, hw.CoreClass.Code); err == nil {
			code = configs[0].CoreType
		}
	}
	ct := dataCoretype{Name: code, Acronym: acronym(code)}
	if c, ok := h.Catalog.Coretype(code); ok && c.Name != "" {
		ct.Name = c.Name
	}
	return dataHardware{Slots: hw.Slots, Coretype: ct, Walltime: hw.Walltime, CoresPerSlot: hw.CoresPerSlot}
}

// dataCustomValues renders each job's custom field values as name → value
// (nil where a job has none), reading the page's jobs concurrently.
func (h Handlers) dataCustomValues(ctx context.Context, list []jobs.Job) ([]json.RawMessage, error) {
	out := make([]json.RawMessage, len(list))
	if h.CustomFields == nil || len(list) == 0 {
		return out, nil
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg    sync.WaitGroup
		once  sync.Once
		first error
		next  atomic.Int64
	)
	for range min(16, len(list)) {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= len(list) || ctx.Err() != nil {
					return
				}
				vals, err := h.CustomFields.JobValues(ctx, list[i])
				if err != nil {
					once.Do(func() { first = err; cancel() })
					return
				}
				if len(vals) == 0 {
					continue
				}
				m := make(map[string]json.RawMessage, len(vals))
				for name, v := range vals {
					m[name] = v.Value
					if len(v.Value) == 0 {
						m[name] = json.RawMessage("null")
					}
				}
				out[i] = mustJSON(m)
			}
		})
	}
	wg.Wait()
	if first != nil {
		return nil, first
	}
	return out, ctx.Err()
}
