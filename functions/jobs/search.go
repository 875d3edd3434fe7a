package jobs

import (
	"github.com/openrescale/platform/shared/jobs"
	"github.com/openrescale/platform/shared/jobs/search"
)

// doc is the view of a job that q queries are evaluated against.
type doc struct {
	j   jobs.Job
	cat Catalog
}

var _ search.Doc = doc{}

func (d doc) Name() string { return d.j.Spec.Name }

func (d doc) AnalysisNames() []string {
	var out []string
	for _, ja := range d.j.Spec.JobAnalyses {
		out = append(out, ja.Analysis.Code)
		if a, ok := d.cat.Analysis(ja.Analysis.Code); ok {
			out = append(out, a.Name)
		}
	}
	return out
}

// Tags are the job's own tags. The spec also matches tags of the job's
// files; that needs a file read per job and listed job, so it waits for
// the tags to be copied onto the job record.
func (d doc) Tags() []string {
	out := make([]string, len(d.j.Tags))
	for i, t := range d.j.Tags {
		out[i] = t.NormalizedName
	}
	return out
}

func (d doc) Owner() string { return d.j.OwnerEmail }

// Comments: jobs have no comments yet.
func (d doc) Comments() []string { return nil }

// Project: there are no project records yet, only the projectId a job
// carries, so project:x matches the id.
func (d doc) Project() string { return "" }

func (d doc) ProjectID() string {
	if d.j.Spec.ProjectID == nil {
		return ""
	}
	return *d.j.Spec.ProjectID
}

func (d doc) Software() []string { return d.AnalysisNames() }

func (d doc) Versions() []string {
	var out []string
	for _, ja := range d.j.Spec.JobAnalyses {
		out = append(out, ja.Analysis.Version)
		if a, ok := d.cat.Analysis(ja.Analysis.Code); ok {
			if v, ok := a.Version(ja.Analysis.Version); ok {
				out = append(out, v.Version)
			}
		}
	}
	return out
}

// matcher compiles q into a predicate over jobs.
func (h Handlers) matcher(q string) (func(jobs.Job) bool, error) {
	expr, err := search.Parse(q)
	if err != nil {
		return nil, err
	}
	return func(j jobs.Job) bool { return expr.Match(doc{j: j, cat: h.Catalog}) }, nil
}
