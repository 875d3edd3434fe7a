// Package runs serves what running jobs expose (spec 003, "Jobs" and
// "Runs"): submit and stop, status and cluster-status histories, extended
// logs, runs, output files, a running run's directory and tail, instances
// and snapshots. Handlers parse, call shared/lifecycle and render.
package runs

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	ffiles "github.com/openrescale/platform/functions/files"
	"github.com/openrescale/platform/shared/compute"
	"github.com/openrescale/platform/shared/errs"
	"github.com/openrescale/platform/shared/files"
	"github.com/openrescale/platform/shared/httpapi"
	"github.com/openrescale/platform/shared/lifecycle"
)

// Handlers serve the endpoints.
type Handlers struct {
	Lifecycle *lifecycle.Service
	// Live reads a running run's working directory; nil where compute
	// cannot (the endpoints then answer 503).
	Live     compute.Live
	Files    *files.Service
	FileView ffiles.Renderer
	Base     httpapi.BaseURL
}

// caller is the authenticated user; a deployment without a lifecycle
// (none is wired yet) answers 503 rather than failing inside a handler.
func (h Handlers) caller(r *http.Request) (string, error) {
	if h.Lifecycle == nil {
		return "", errs.E(errs.Unavailable, "running jobs is not available in this deployment")
	}
	me, err := httpapi.Caller(r)
	return me.UserID, err
}

// discardBody accepts what clients send with the bodyless POSTs: nothing,
// {} or any JSON, with any content type (curl -X POST sends a form type).
func discardBody(r *http.Request) {
	if r.Body != nil {
		var b [64]byte
		_, _ = r.Body.Read(b[:])
	}
}

// Submit is POST /api/v2/jobs/{id}/submit/.
func (h Handlers) Submit(w http.ResponseWriter, r *http.Request) error {
	uid, err := h.caller(r)
	if err != nil {
		return err
	}
	discardBody(r)
	if err := h.Lifecycle.Submit(r.Context(), uid, r.PathValue("id")); err != nil {
		return err
	}
	httpapi.WriteJSON(w, http.StatusOK, struct{}{})
	return nil
}

func (h Handlers) stop(mode compute.StopMode) httpapi.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		uid, err := h.caller(r)
		if err != nil {
			return err
		}
		discardBody(r)
		if err := h.Lifecycle.Stop(r.Context(), uid, r.PathValue("id"), mode); err != nil {
			return err
		}
		w.WriteHeader(http.StatusAccepted)
		return nil
	}
}

// Stop is POST /api/v2/jobs/{id}/stop/ (202).
func (h Handlers) Stop(w http.ResponseWriter, r *http.Request) error {
	return h.stop(compute.Graceful)(w, r)
}

// ForceStop is POST /api/v2/jobs/{id}/force_stop/ (202).
func (h Handlers) ForceStop(w http.ResponseWriter, r *http.Request) error {
	return h.stop(compute.Force)(w, r)
}

// Shutdown is POST /api/v2/jobs/{id}/shutdown/ (202; outputs discarded).
func (h Handlers) Shutdown(w http.ResponseWriter, r *http.Request) error {
	return h.stop(compute.Discard)(w, r)
}

// StopRun is POST /api/v2/jobs/{id}/runs/{run}/stop/ ({}).
func (h Handlers) StopRun(w http.ResponseWriter, r *http.Request) error {
	uid, err := h.caller(r)
	if err != nil {
		return err
	}
	discardBody(r)
	if err := h.Lifecycle.StopRun(r.Context(), uid, r.PathValue("id"), r.PathValue("run")); err != nil {
		return err
	}
	httpapi.WriteJSON(w, http.StatusOK, struct{}{})
	return nil
}

// statusView is a status as the spec renders it.
type statusView struct {
	ID     string  `json:"id"`
	Status string  `json:"status"`
	Date   string  `json:"statusDate"`
	Reason *string `json:"statusReason"`
}

func date(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000000Z") }

func statusViews(list []lifecycle.Status, prefix string) []statusView {
	out := make([]statusView, len(list))
	n := len(list)
	for i, st := range lifecycle.Newest(list) {
		out[i] = statusView{ID: prefix + strconv.Itoa(n-i), Status: st.Status, Date: date(st.Date), Reason: st.Reason}
	}
	return out
}

// history reads the job's lifecycle record, which every history
// endpoint renders a part of (a saved job's is empty).
func (h Handlers) history(r *http.Request) (lifecycle.Record, error) {
	uid, err := h.caller(r)
	if err != nil {
		return lifecycle.Record{}, err
	}
	return h.Lifecycle.History(r.Context(), uid, r.PathValue("id"))
}

// Statuses is GET /api/v2/jobs/{id}/statuses/, newest first.
func (h Handlers) Statuses(w http.ResponseWriter, r *http.Request) error {
	rec, err := h.history(r)
	if err != nil {
		return err
	}
	return httpapi.Paginate(w, r, h.Base, statusViews(rec.Statuses, "js"))
}

// ClusterStatuses is GET /api/v2/jobs/{id}/cluster_statuses/.
func (h Handlers) ClusterStatuses(w http.ResponseWriter, r *http.Request) error {
	rec, err := h.history(r)
	if err != nil {
		return err
	}
	return httpapi.Paginate(w, r, h.Base, statusViews(rec.Cluster, "cs"))
}

type logView struct {
	DisplayTimestamp string `json:"displayTimestamp"`
	ID               string `json:"id"`
	Level            string `json:"level"`
	Message          string `json:"message"`
	Source           string `json:"source"`
	Timestamp        int64  `json:"timestamp"`
}

// ExtendedLogs is GET /api/v2/jobs/{id}/extendedlogs/: a JSON array, as
// the spec's sample shows (not a page).
func (h Handlers) ExtendedLogs(w http.ResponseWriter, r *http.Request) error {
	rec, err := h.history(r)
	if err != nil {
		return err
	}
	logs := lifecycle.ExtendedLogs(rec)
	out := make([]logView, len(logs))
	for i, l := range logs {
		out[i] = logView{DisplayTimestamp: l.Time.UTC().Format("2006-01-02T15:04:05.000000+00:00"), ID: l.ID,
			Level: l.Level, Message: l.Message, Source: l.Source, Timestamp: l.Time.UnixMilli()}
	}
	httpapi.WriteJSON(w, http.StatusOK, out)
	return nil
}

type variableView struct {
	DisplayValue string  `json:"displayValue"`
	IsRelative   bool    `json:"isRelative"`
	Name         string  `json:"name"`
	Value        float64 `json:"value"`
}

type runView struct {
	DateCompleted   *string        `json:"dateCompleted"`
	DateStarted     *string        `json:"dateStarted"`
	DisplayOrder    int            `json:"displayOrder"`
	ID              string         `json:"id"`
	IsOptimal       bool           `json:"isOptimal"`
	OutputFileCount int            `json:"outputFileCount"`
	OutputFileSize  *int64         `json:"outputFileSize"`
	Parent          *string        `json:"parent"`
	Type            int            `json:"type"`
	Variables       []variableView `json:"variables"`
}

func optDate(t *time.Time) *string {
	if t == nil {
		return nil
	}
	s := date(*t)
	return &s
}

func renderRun(r lifecycle.Run) runView {
	v := runView{DateCompleted: optDate(r.DateCompleted), DateStarted: optDate(r.DateStarted), DisplayOrder: r.DisplayOrder,
		ID: r.ID, IsOptimal: r.IsOptimal, OutputFileCount: r.OutputCount, OutputFileSize: r.OutputBytes,
		Parent: r.Parent, Type: r.Type, Variables: make([]variableView, len(r.Variables))}
	for i, x := range r.Variables {
		v.Variables[i] = variableView{DisplayValue: x.DisplayValue, IsRelative: x.IsRelative, Name: x.Name, Value: x.Value}
	}
	return v
}

// Runs is GET /api/v2/jobs/{id}/runs/.
func (h Handlers) Runs(w http.ResponseWriter, r *http.Request) error {
	uid, err := h.caller(r)
	if err != nil {
		return err
	}
	p, err := httpapi.ParsePage(r)
	if err != nil {
		return err
	}
	list, total, err := h.Lifecycle.Runs(r.Context(), uid, r.PathValue("id"), p.Offset(), p.Size)
	if err != nil {
		return err
	}
	views := make([]runView, len(list))
	for i, run := range list {
		views[i] = renderRun(run)
	}
	return writePage(w, r, h.Base, p, total, views)
}

// writePage renders one page of a list the domain already paged.
func writePage[T any](w http.ResponseWriter, r *http.Request, base httpapi.BaseURL, p httpapi.PageRequest, total int, items []T) error {
	body, err := httpapi.NewPage(r, base, p, total, items)
	if err != nil {
		return err
	}
	httpapi.WriteJSON(w, http.StatusOK, body)
	return nil
}

// Run is GET /api/v2/jobs/{id}/runs/{run}/.
func (h Handlers) Run(w http.ResponseWriter, r *http.Request) error {
	uid, err := h.caller(r)
	if err != nil {
		return err
	}
	run, err := h.Lifecycle.Run(r.Context(), uid, r.PathValue("id"), r.PathValue("run"))
	if err != nil {
		return err
	}
	httpapi.WriteJSON(w, http.StatusOK, renderRun(run))
	return nil
}

func (h Handlers) outputs(w http.ResponseWriter, r *http.Request, runID string) error {
	uid, err := h.caller(r)
	if err != nil {
		return err
	}
	p, err := httpapi.ParsePage(r)
	if err != nil {
		return err
	}
	list, total, err := h.Lifecycle.Outputs(r.Context(), uid, r.PathValue("id"), runID, r.URL.Query().Get("search"), p.Offset(), p.Size)
	if err != nil {
		return err
	}
	views := make([]ffiles.FileView, len(list))
	for i, f := range list {
		views[i] = h.FileView.Render(r, f)
	}
	return writePage(w, r, h.Base, p, total, views)
}

// JobFiles is GET /api/v2/jobs/{id}/files/ (?search=).
func (h Handlers) JobFiles(w http.ResponseWriter, r *http.Request) error {
	return h.outputs(w, r, "")
}

// RunFiles is GET /api/v2/jobs/{id}/runs/{run}/files/.
func (h Handlers) RunFiles(w http.ResponseWriter, r *http.Request) error {
	return h.outputs(w, r, r.PathValue("run"))
}

func (h Handlers) live(r *http.Request) (uid string, err error) {
	if h.Live == nil {
		return "", errs.E(errs.Unavailable, "this deployment cannot read a running run's files")
	}
	uid, err = h.caller(r)
	if err != nil {
		return "", err
	}
	_, err = h.Lifecycle.LiveRun(r.Context(), uid, r.PathValue("id"), r.PathValue("run"))
	return uid, err
}

// maxListed bounds directory-contents: a run with millions of files is
// listed partially rather than with a response that grows without limit.
const maxListed = 10000

type dirEntry struct {
	Path     string `json:"path"`
	Resource string `json:"resource"`
}

// DirectoryContents is GET /api/v2/jobs/{id}/runs/{run}/directory-contents/:
// every file of a running run's working directory with the tail URL that
// reads it (spec 003).
func (h Handlers) DirectoryContents(w http.ResponseWriter, r *http.Request) error {
	if _, err := h.live(r); err != nil {
		return err
	}
	job, run := r.PathValue("id"), r.PathValue("run")
	out := []dirEntry{}
	dirs := []string{""}
	for len(dirs) > 0 && len(out) < maxListed {
		dir := dirs[0]
		dirs = dirs[1:]
		list, err := h.Live.List(r.Context(), job, run, dir)
		if err != nil {
			if dir != "" && errs.Is(err, errs.NotFound) {
				continue // removed while listing
			}
			return err
		}
		for _, e := range list {
			if e.IsDir {
				dirs = append(dirs, e.Path)
				continue
			}
			out = append(out, dirEntry{Path: e.Path, Resource: "/api/v2/jobs/" + job + "/runs/" + run + "/tail/" + e.Path + "/"})
			if len(out) == maxListed {
				break
			}
		}
	}
	httpapi.WriteJSON(w, http.StatusOK, out)
	return nil
}

// maxTailLines caps ?lines= so a request cannot ask for a whole file.
const maxTailLines = 10000

// Tail is GET /api/v2/jobs/{id}/runs/{run}/tail/{path...}/: with ?lines=N
// the file's last lines as {"fileType", "lines"}, without it the raw file
// (spec 003).
func (h Handlers) Tail(w http.ResponseWriter, r *http.Request) error {
	if _, err := h.live(r); err != nil {
		return err
	}
	job, run := r.PathValue("id"), r.PathValue("run")
	rel := strings.TrimSuffix(r.PathValue("path"), "/")
	s := r.URL.Query().Get("lines")
	if s == "" {
		f, err := h.Live.Open(r.Context(), job, run, rel)
		if err != nil {
			return err
		}
		defer f.Close()
		w.Header().Set("Content-Type", "application/octet-stream")
		w.WriteHeader(http.StatusOK)
		_, _ = io.Copy(w, f)
		return nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		return errs.Field("lines", "lines must be a positive integer")
	}
	var buf bytes.Buffer
	if err := h.Live.Tail(r.Context(), job, run, rel, min(n, maxTailLines), &buf); err != nil {
		return err
	}
	kind := "ASCII text"
	if strings.Contains(buf.String(), "\x00") || !utf8.Valid(buf.Bytes()) {
		kind = "data"
	}
	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	if buf.Len() == 0 {
		lines = []string{}
	}
	httpapi.WriteJSON(w, http.StatusOK, map[string]any{"fileType": rel + ": " + kind, "lines": lines})
	return nil
}

type instanceView struct {
	ID                string   `json:"id"`
	ClusterID         string   `json:"clusterId"`
	InstanceGroup     string   `json:"instanceGroup"`
	Role              string   `json:"role"`
	PublicIP          *string  `json:"publicIp"`
	PrivateIP         string   `json:"privateIp"`
	PrivateHostname   string   `json:"privateHostname"`
	PublicHostname    *string  `json:"publicHostname"`
	DateStarted       *string  `json:"dateStarted"`
	SupportedServices []string `json:"supportedServices"`
	Username          string   `json:"username"`
	IsBehindNat       bool     `json:"isBehindNat"`
	SSHPort           *int     `json:"sshPort"`
	Tenancy           string   `json:"tenancy"`
}

// Instances is GET /api/v2/jobs/{id}/instances/: while the cluster runs,
// one instance (locally: this machine, no remote access).
func (h Handlers) Instances(w http.ResponseWriter, r *http.Request) error {
	uid, err := h.caller(r)
	if err != nil {
		return err
	}
	jobID := r.PathValue("id")
	rec, err := h.Lifecycle.History(r.Context(), uid, jobID)
	if err != nil {
		return err
	}
	list := []instanceView{}
	if n := len(rec.Cluster); n > 0 && rec.Cluster[n-1].Status == "Started" {
		var started *string
		for _, c := range rec.Cluster {
			if c.Status == "Started" {
				started = optDate(&c.Date)
			}
		}
		list = append(list, instanceView{ID: jobID + "-0", ClusterID: jobID, InstanceGroup: "compute0", Role: "CUSTOM",
			PrivateIP: "127.0.0.1", PrivateHostname: "localhost", DateStarted: started,
			SupportedServices: []string{}, Username: "job_" + jobID, Tenancy: "default"})
	}
	return httpapi.Paginate(w, r, h.Base, list)
}

// Clusters is GET /api/v3/jobs/{id}/clusters/: the job's cluster while it
// runs (the snapshot flow's first step). A job has one cluster, whose id
// is the job's.
func (h Handlers) Clusters(w http.ResponseWriter, r *http.Request) error {
	uid, err := h.caller(r)
	if err != nil {
		return err
	}
	jobID := r.PathValue("id")
	rec, err := h.Lifecycle.History(r.Context(), uid, jobID)
	if err != nil {
		return err
	}
	type cluster struct {
		ID   string `json:"id"`
		Name string `json:"name"`
	}
	list := []cluster{}
	if n := len(rec.Cluster); n > 0 && rec.Cluster[n-1].Status == "Started" {
		name, _ := h.Lifecycle.JobName(r.Context(), uid, jobID)
		list = append(list, cluster{ID: jobID, Name: name})
	}
	return httpapi.Paginate(w, r, h.Base, list)
}

// taskView is a cluster task (a snapshot) as spec 003 renders it.
type taskView struct {
	ID         string            `json:"id"`
	IsComplete bool              `json:"isComplete"`
	Run        taskRun           `json:"run"`
	Type       string            `json:"type"`
	URLs       map[string]string `json:"urls"`
	FileID     string            `json:"-"`
}

type taskRun struct {
	ID  string `json:"id"`
	Job string `json:"job"`
}

// CreateTask is POST /api/v3/clusters/{id}/tasks/ with {"type":
// "Snapshot", "run": {"job": ..., "id": "1"}}: the running run's working
// directory is zipped into an output file of the run. The snapshot is
// taken within the request, so the task is complete when it answers.
func (h Handlers) CreateTask(w http.ResponseWriter, r *http.Request) error {
	var body struct {
		Type string `json:"type"`
		Run  struct {
			Job json.RawMessage `json:"job"`
			ID  json.RawMessage `json:"id"`
		} `json:"run"`
	}
	if err := httpapi.DecodeJSON(w, r, &body); err != nil {
		return err
	}
	if body.Type != "Snapshot" {
		return errs.Field("type", "type: only \"Snapshot\" tasks are supported")
	}
	clusterID := r.PathValue("id")
	runID := unquote(body.Run.ID)
	if runID == "" {
		runID = "1"
	}
	if job := unquote(body.Run.Job); job != "" && job != clusterID {
		return errs.Field("run.job", "run.job: cluster %s belongs to job %s", clusterID, clusterID)
	}
	r.SetPathValue("run", runID)
	uid, err := h.live(r)
	if err != nil {
		return err
	}
	name := fmt.Sprintf("rescale-snapshot-%s.zip", time.Now().UTC().Format("2006-01-02T15:04:05.000000Z"))
	f, err := h.Lifecycle.SaveSnapshot(r.Context(), uid, clusterID, runID, name, func(w io.Writer) error {
		return h.Live.Snapshot(r.Context(), clusterID, runID, w)
	})
	if err != nil {
		return err
	}
	httpapi.WriteJSON(w, http.StatusCreated, h.task(r, clusterID, runID, f.ID))
	return nil
}

func unquote(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	return strings.TrimSpace(string(raw))
}

// A task's id is its snapshot's file id: nothing else needs keeping.
func (h Handlers) task(r *http.Request, clusterID, runID, fileID string) taskView {
	base := "/api/v3/clusters/" + clusterID + "/tasks/" + fileID + "/"
	return taskView{ID: fileID, IsComplete: true, Run: taskRun{ID: runID, Job: clusterID}, Type: "Snapshot", URLs: map[string]string{
		"details": h.Base.URL(r, base),
		"results": h.Base.URL(r, base+"results/"),
	}}
}

// Task is GET /api/v3/clusters/{id}/tasks/{task}/.
func (h Handlers) Task(w http.ResponseWriter, r *http.Request) error {
	f, err := h.snapshotFile(r)
	if err != nil {
		return err
	}
	rest := strings.TrimPrefix(f.Key, files.UserPrefix(f.OwnerID)+"output/job_"+f.JobID+"/run")
	runID, _, _ := strings.Cut(rest, "/")
	httpapi.WriteJSON(w, http.StatusOK, h.task(r, r.PathValue("id"), runID, f.ID))
	return nil
}

// TaskResults is GET /api/v3/clusters/{id}/tasks/{task}/results/: the
// snapshot's output file.
func (h Handlers) TaskResults(w http.ResponseWriter, r *http.Request) error {
	f, err := h.snapshotFile(r)
	if err != nil {
		return err
	}
	httpapi.WriteJSON(w, http.StatusOK, map[string]any{"file": h.FileView.Render(r, f), "type": "Snapshot"})
	return nil
}

func (h Handlers) snapshotFile(r *http.Request) (files.File, error) {
	uid, err := h.caller(r)
	if err != nil {
		return files.File{}, err
	}
	f, err := h.Files.Repo.Get(r.Context(), uid, r.PathValue("task"))
	if err != nil {
		return files.File{}, err
	}
	if f.JobID != r.PathValue("id") || !strings.HasPrefix(f.Name, "rescale-snapshot-") {
		return files.File{}, errs.E(errs.NotFound, "Not found.")
	}
	return f, nil
}
