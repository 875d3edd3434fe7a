package lifecycle

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strconv"

	"github.com/openrescale/platform/shared/compute"
	"github.com/openrescale/platform/shared/doe"
	"github.com/openrescale/platform/shared/errs"
	"github.com/openrescale/platform/shared/files"
	"github.com/openrescale/platform/shared/jobs"
)

// maxTemplateBytes bounds a template and its rendering, which are held in
// memory while a run starts.
const maxTemplateBytes = 16 << 20

// planRuns derives a job's runs: one per row of its parameter (or case)
// file, or the runs its job variables generate, or the single run of a
// plain job. seed makes random generators reproducible: it is drawn once,
// at submit, and kept in the job's record.
func (s *Service) planRuns(ctx context.Context, j jobs.Job, seed uint64) ([]doe.Run, error) {
	sp := j.Spec
	read := func(field string, ref *jobs.FileRef, parse func(io.Reader) ([]doe.Run, error)) ([]doe.Run, error) {
		f, err := s.cfg.Files.Get(ctx, j.OwnerID, ref.ID)
		if err != nil {
			return nil, errs.Field(field, "%s: file %s: %s", field, ref.ID, message(err))
		}
		rd, err := s.cfg.Bucket.NewRangeReader(ctx, f.Key, 0, -1)
		if err != nil {
			return nil, fmt.Errorf("read %s %s: %w", field, ref.ID, err)
		}
		defer rd.Close()
		return parse(rd)
	}
	switch {
	case sp.ParamFile != nil && sp.ParamFile.ID != "":
		return read("paramFile", sp.ParamFile, doe.ParseParamFile)
	case sp.CaseFile != nil && sp.CaseFile.ID != "":
		return read("caseFile", sp.CaseFile, doe.ParseCaseFile)
	}
	var vars []doe.Variable
	for _, v := range sp.JobVariables {
		vars = append(vars, doe.Variable{Name: v.Name, VariableType: v.VariableType, GeneratorType: v.ValueGeneratorType,
			Settings: v.ValueGeneratorSettings, DisplayOrder: int(v.DisplayOrder)})
	}
	mc := 0
	if sp.MonteCarloIterations != nil {
		mc = int(*sp.MonteCarloIterations)
	}
	if len(vars) > 0 {
		runs, err := doe.Expand(vars, mc, seed, sp.IncludeNominalRun)
		if err != nil || len(runs) > 0 {
			return runs, err
		}
	}
	return []doe.Run{{Index: 1, Type: doe.RunTypeCase}}, nil
}

func runVariables(r doe.Run) []Variable {
	out := make([]Variable, len(r.Values))
	for i, v := range r.Values {
		out[i] = Variable{Name: v.Name, Value: v.Value, DisplayValue: v.DisplayValue, IsRelative: v.IsRelative}
	}
	return out
}

// varsOf is a run's values by name, as templates see them.
func varsOf(r Run) map[string]string {
	m := make(map[string]string, len(r.Variables))
	for _, v := range r.Variables {
		m[v.Name] = v.DisplayValue
	}
	return m
}

// renderTemplates renders the job's templates for one run into blobs the
// run stages as executable files (the SDK's example runs one as its
// command). A template that names a variable the run lacks fails the run
// with the reason.
func (s *Service) renderTemplates(ctx context.Context, j jobs.Job, run Run) ([]compute.File, error) {
	var out []compute.File
	vars := varsOf(run)
	for ai, ja := range j.Spec.JobAnalyses {
		for ti, t := range ja.TemplateTasks {
			if t.TemplateFile == nil || t.ProcessedFilename == "" {
				continue
			}
			field := fmt.Sprintf("jobanalyses[%d].templateTasks[%d]", ai, ti)
			f, err := s.cfg.Files.Get(ctx, j.OwnerID, t.TemplateFile.ID)
			if err != nil {
				return nil, stepErr(ErrInvalid, "%s: template file %s: %s", field, t.TemplateFile.ID, message(err))
			}
			if f.Size > maxTemplateBytes {
				return nil, stepErr(ErrInvalid, "%s: template %s is larger than %d bytes", field, f.Name, maxTemplateBytes)
			}
			rd, err := s.cfg.Bucket.NewRangeReader(ctx, f.Key, 0, -1)
			if err != nil {
				return nil, systemErr(err)
			}
			var buf bytes.Buffer
			err = doe.Render(&limitWriter{w: &buf, left: maxTemplateBytes}, rd, vars)
			rd.Close()
			if err != nil {
				if errs.Is(err, errs.Invalid) {
					return nil, stepErr(ErrUserCommand, "Run %s: template %s: %s", run.ID, f.Name, message(err))
				}
				return nil, systemErr(err)
			}
			key := templatePrefix(j.OwnerID, j.ID, run.ID) + strconv.Itoa(ai) + "-" + strconv.Itoa(ti)
			if _, err := s.cfg.Bucket.Put(ctx, key, &buf, "application/octet-stream"); err != nil {
				return nil, systemErr(fmt.Errorf("store rendered template: %w", err))
			}
			out = append(out, compute.File{Name: t.ProcessedFilename, Key: key, Executable: true})
		}
	}
	return out, nil
}

// templatePrefix holds a run's rendered templates, beside (not inside) its
// outputs: the run's working directory has them, so they come back as
// outputs from there.
func templatePrefix(uid, jobID, run string) string {
	return files.UserPrefix(uid) + "output/job_" + jobID + "/templates/run" + run + "/"
}

type limitWriter struct {
	w    io.Writer
	left int64
}

func (l *limitWriter) Write(p []byte) (int, error) {
	if int64(len(p)) > l.left {
		return 0, errs.Field("template", "the rendered template is larger than %d bytes", maxTemplateBytes)
	}
	l.left -= int64(len(p))
	return l.w.Write(p)
}
