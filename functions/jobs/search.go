package jobs

import (
	"context"
	"slices"

	"github.com/openrescale/platform/shared/jobs"
	"github.com/openrescale/platform/shared/jobs/search"
)

// doc is the view of a job that q queries are evaluated against.
type doc struct {
	j   jobs.Job
	cat Catalog
	// fileTags are the normalised tags of the job's files, gathered for
	// the whole listing when q has a #tag term (nil otherwise).
	fileTags []string
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

// Tags are the job's own tags and its files' tags, as the spec's #tag
// matches both.
func (d doc) Tags() []string {
	out := make([]string, len(d.j.Tags), len(d.j.Tags)+len(d.fileTags))
	for i, t := range d.j.Tags {
		out[i] = t.NormalizedName
	}
	return append(out, d.fileTags...)
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

// matcher compiles q into a predicate over jobs. When q has a #tag term,
// prepare (else nil) gathers the candidates' file tags first, once per
// listing: files are read only for searches that can use their tags.
func (h Handlers) matcher(q string) (match func(jobs.Job) bool, prepare func(context.Context, []jobs.Job) error, err error) {
	expr, err := search.Parse(q)
	if err != nil {
		return nil, nil, err
	}
	if !hasTag(expr) {
		return func(j jobs.Job) bool { return expr.Match(doc{j: j, cat: h.Catalog}) }, nil, nil
	}
	var fileTags map[string][]string
	prepare = func(ctx context.Context, candidates []jobs.Job) error {
		ft, err := h.Jobs.FileTags(ctx, candidates)
		fileTags = ft
		return err
	}
	match = func(j jobs.Job) bool {
		return expr.Match(doc{j: j, cat: h.Catalog, fileTags: fileTags[j.ID]})
	}
	return match, prepare, nil
}

// hasTag reports whether e has a #tag term.
func hasTag(e search.Expr) bool {
	switch e := e.(type) {
	case search.Tag, *search.Tag:
		return true
	case search.Not:
		return hasTag(e.X)
	case *search.Not:
		return hasTag(e.X)
	case search.And:
		return slices.ContainsFunc(e.X, hasTag)
	case *search.And:
		return slices.ContainsFunc(e.X, hasTag)
	case search.Or:
		return slices.ContainsFunc(e.X, hasTag)
	case *search.Or:
		return slices.ContainsFunc(e.X, hasTag)
	}
	return false
}
