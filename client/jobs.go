package client

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
)

func jobPath(id string) string { return "/api/v2/jobs/" + url.PathEscape(id) + "/" }

// JobQuery filters GET /api/v2/jobs/ (each field optional).
type JobQuery struct {
	Status string // job_status: PENDING, EXECUTING, COMPLETED, …
	State  string // completed, not_completed
	Q      string // the search language: text, #tag, project:, …
	F      string // visibility: 0 all, 1 owned (default), 2 shared
}

// ListJobs lists up to limit jobs (0: all), newest first, and the total.
func (c *Client) ListJobs(ctx context.Context, q JobQuery, limit int) ([]JobSummary, int, error) {
	v := url.Values{}
	for k, s := range map[string]string{"job_status": q.Status, "state": q.State, "q": q.Q, "f": q.F} {
		if s != "" {
			v.Set(k, s)
		}
	}
	return list[JobSummary](ctx, c, "/api/v2/jobs/", v, limit)
}

// GetJob reads a job.
func (c *Client) GetJob(ctx context.Context, id string) (Job, error) {
	var j Job
	err := c.call(ctx, http.MethodGet, jobPath(id), nil, nil, &j)
	return j, err
}

// CreateJob saves a job (it does not start it); body is the job object of
// POST /api/v2/jobs/.
func (c *Client) CreateJob(ctx context.Context, body json.RawMessage) (Job, error) {
	var j Job
	err := c.call(ctx, http.MethodPost, "/api/v2/jobs/", nil, body, &j)
	return j, err
}

// SubmitJob starts a saved job; submitting again does nothing.
func (c *Client) SubmitJob(ctx context.Context, id string) error {
	return c.call(ctx, http.MethodPost, jobPath(id)+"submit/", nil, struct{}{}, nil)
}

// Stop modes of a job.
const (
	StopGraceful = "stop"
	StopForce    = "force_stop"
	StopShutdown = "shutdown"
)

// StopJob stops a job: StopGraceful, StopForce or StopShutdown.
func (c *Client) StopJob(ctx context.Context, id, mode string) error {
	switch mode {
	case StopGraceful, StopForce, StopShutdown:
	default:
		return fmt.Errorf("unknown stop mode %q", mode)
	}
	return c.call(ctx, http.MethodPost, jobPath(id)+mode+"/", nil, nil, nil)
}

// StopRun stops one run of a job gracefully.
func (c *Client) StopRun(ctx context.Context, id, run string) error {
	return c.call(ctx, http.MethodPost, jobPath(id)+"runs/"+url.PathEscape(run)+"/stop/", nil, nil, nil)
}

// Statuses lists a job's statuses, newest first (none for a saved job).
func (c *Client) Statuses(ctx context.Context, id string) ([]Status, error) {
	st, _, err := list[Status](ctx, c, jobPath(id)+"statuses/", nil, 0)
	return st, err
}

// Runs lists a job's runs.
func (c *Client) Runs(ctx context.Context, id string) ([]Run, error) {
	r, _, err := list[Run](ctx, c, jobPath(id)+"runs/", nil, 0)
	return r, err
}

// JobFiles lists a job's output files, of one run when run is not "",
// whose relative path contains search (when not "").
func (c *Client) JobFiles(ctx context.Context, id, run, search string) ([]File, error) {
	p := jobPath(id) + "files/"
	if run != "" {
		p = jobPath(id) + "runs/" + url.PathEscape(run) + "/files/"
	}
	v := url.Values{}
	if search != "" {
		v.Set("search", search)
	}
	f, _, err := list[File](ctx, c, p, v, 0)
	return f, err
}

// TailRun reads the last lines of a file in a running run's working
// directory. A run that is not running answers 409.
func (c *Client) TailRun(ctx context.Context, id, run, path string, lines int) (Tail, error) {
	var t Tail
	p := jobPath(id) + "runs/" + url.PathEscape(run) + "/tail/" + (&url.URL{Path: path}).EscapedPath() + "/"
	err := c.call(ctx, http.MethodGet, p, url.Values{"lines": {strconv.Itoa(lines)}}, nil, &t)
	return t, err
}
