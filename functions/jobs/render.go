package jobs

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	"github.com/openrescale/platform/shared/catalog"
	"github.com/openrescale/platform/shared/customfields"
	"github.com/openrescale/platform/shared/errs"
	"github.com/openrescale/platform/shared/files"
	"github.com/openrescale/platform/shared/jobs"
)

// dateLayout is the spec's timestamp: microseconds, "Z" for UTC.
const dateLayout = "2006-01-02T15:04:05.000000Z07:00"

// jobView is the spec's job object (GET /api/v2/jobs/{id}/), fields in the
// spec's order; nulls where the spec shows null for features this platform
// does not have (optimizer, remote visualisation).
type jobView struct {
	ArchiveFilters       []json.RawMessage             `json:"archiveFilters"`
	BillingPriorityValue *string                       `json:"billingPriorityValue"`
	CaseFile             any                           `json:"caseFile"`
	ExpectedRuns         *int                          `json:"expectedRuns"`
	ID                   string                        `json:"id"`
	IncludeNominalRun    bool                          `json:"includeNominalRun"`
	IsLowPriority        bool                          `json:"isLowPriority"`
	IsTemplateDryRun     bool                          `json:"isTemplateDryRun"`
	JobAnalyses          []analysisView                `json:"jobanalyses"`
	JobVariables         []jobs.JobVariable            `json:"jobvariables"`
	CustomFields         map[string]customfields.Value `json:"customFields"`
	UserTags             []files.Tag                   `json:"userTags"`
	MonteCarloIterations *int64                        `json:"monteCarloIterations"`
	Name                 string                        `json:"name"`
	Optimizer            any                           `json:"optimizer"`
	Owner                string                        `json:"owner"`
	ParamFile            any                           `json:"paramFile"`
	ProjectID            *string                       `json:"projectId"`
	RemoteVizConfig      any                           `json:"remoteVizConfig"`
	ResourceFilters      []json.RawMessage             `json:"resourceFilters"`
}

type analysisRefView struct {
	Code        string `json:"code"`
	Name        string `json:"name"`
	Version     string `json:"version"`
	VersionName string `json:"versionName"`
}

type analysisView struct {
	Analysis                   analysisRefView            `json:"analysis"`
	Command                    string                     `json:"command"`
	EnvVars                    map[string]string          `json:"envVars"`
	Flags                      map[string]json.RawMessage `json:"flags"`
	Hardware                   hardwareView               `json:"hardware"`
	InputFiles                 []any                      `json:"inputFiles"`
	PostProcessScript          any                        `json:"postProcessScript"`
	PostProcessScriptCommand   string                     `json:"postProcessScriptCommand"`
	PreProcessScript           any                        `json:"preProcessScript"`
	PreProcessScriptCommand    string                     `json:"preProcessScriptCommand"`
	TemplateTasks              []templateTaskView         `json:"templateTasks"`
	UseRescaleLicense          bool                       `json:"useRescaleLicense"`
	UseMPI                     bool                       `json:"useMpi"`
	OnDemandLicenseSeller      *jobs.LicenseSeller        `json:"onDemandLicenseSeller"`
	UserDefinedLicenseSettings *jobs.LicenseSettings      `json:"userDefinedLicenseSettings"`
}

type templateTaskView struct {
	ProcessedFilename string `json:"processedFilename"`
	TemplateFile      any    `json:"templateFile"`
}

type hardwareView struct {
	CoreSummary  coreSummary    `json:"coreSummary"`
	CoreType     string         `json:"coreType,omitempty"`
	CoreClass    *coreClassView `json:"coreClass,omitempty"`
	CoresPerSlot int64          `json:"coresPerSlot"`
	Slots        int64          `json:"slots"`
	Walltime     *int64         `json:"walltime"`
	Type         string         `json:"type,omitempty"`
}

type coreSummary struct {
	MemoryPerNode  int64 `json:"memoryPerNode"`
	NumberOfNodes  nodes `json:"numberOfNodes"`
	StoragePerNode int64 `json:"storagePerNode"`
	GPUsPerNode    int   `json:"gpusPerNode"`
}

// nodes renders as 1.0, as the spec's samples do (the real service sends
// a float), so clients that check the type see what they expect.
type nodes int64

func (n nodes) MarshalJSON() ([]byte, error) {
	return []byte(strconv.FormatInt(int64(n), 10) + ".0"), nil
}

type coreClassView struct {
	Acronym         string                `json:"acronym"`
	Code            string                `json:"code"`
	CoreTypeConfigs []jobs.CoreTypeConfig `json:"coreTypeConfigs"`
}

// listView is a job as GET /api/v2/jobs/ lists it.
type listView struct {
	AnalysisNames        []string      `json:"analysisNames"`
	ClusterStatusDisplay statusDisplay `json:"clusterStatusDisplay"`
	DateInserted         string        `json:"dateInserted"`
	ID                   string        `json:"id"`
	IsVisible            bool          `json:"isVisible"`
	JobStatus            statusDisplay `json:"jobStatus"`
	Name                 string        `json:"name"`
	Owner                string        `json:"owner"`
	SharedWith           []string      `json:"sharedWith"`
	Storage              int64         `json:"storage"`
}

type statusDisplay struct {
	Content    string `json:"content"`
	LabelClass string `json:"labelClass"`
	UseLabel   bool   `json:"useLabel"`
}

func (h Handlers) renderList(j jobs.Job) listView {
	names := make([]string, 0, len(j.Spec.JobAnalyses))
	for _, ja := range j.Spec.JobAnalyses {
		name := ja.Analysis.Code
		if a, ok := h.Catalog.Analysis(ja.Analysis.Code); ok {
			name = a.Name
		}
		names = append(names, name)
	}
	return listView{
		AnalysisNames: names,
		// Clusters do not exist before submission; the spec's saved job
		// ("MPI Hello") shows "" for both statuses.
		ClusterStatusDisplay: statusDisplay{Content: j.ClusterStatus},
		DateInserted:         j.DateInserted.UTC().Format(dateLayout),
		ID:                   j.ID,
		IsVisible:            true,
		JobStatus:            statusDisplay{Content: jobs.StatusDisplay(j.Status)},
		Name:                 j.Spec.Name,
		Owner:                j.OwnerEmail,
		SharedWith:           j.SharedWith,
		Storage:              j.InputBytes,
	}
}

// fileCache expands file ids once per response.
type fileCache struct {
	h       Handlers
	r       *http.Request
	ownerID string
	seen    map[string]any
}

func (c *fileCache) ref(ctx context.Context, f *jobs.FileRef) (any, error) {
	if f == nil {
		return nil, nil
	}
	if v, ok := c.seen[f.ID]; ok {
		return v, nil
	}
	rec, err := c.h.Files.Get(ctx, c.ownerID, f.ID)
	var v any
	switch {
	case err == nil:
		v = c.h.renderFile(c.r, rec)
	case errs.Is(err, errs.NotFound):
		// Deleted since the job was saved: the job still names it.
		v = map[string]any{"id": f.ID, "isDeleted": true}
	default:
		return nil, err
	}
	c.seen[f.ID] = v
	return v, nil
}

func (h Handlers) render(r *http.Request, j jobs.Job) (jobView, error) {
	ctx := r.Context()
	fc := &fileCache{h: h, r: r, ownerID: j.OwnerID, seen: map[string]any{}}
	s := j.Spec
	v := jobView{
		ArchiveFilters: s.ArchiveFilters, BillingPriorityValue: s.BillingPriorityValue,
		ID: j.ID, IncludeNominalRun: s.IncludeNominalRun, IsLowPriority: s.IsLowPriority, IsTemplateDryRun: s.IsTemplateDryRun,
		JobAnalyses: []analysisView{}, JobVariables: s.JobVariables, CustomFields: map[string]customfields.Value{}, UserTags: j.Tags,
		MonteCarloIterations: s.MonteCarloIterations, Name: s.Name, Owner: j.OwnerEmail, ProjectID: s.ProjectID,
		ResourceFilters: s.ResourceFilters,
	}
	// A basic job has one run; a DOE's count depends on its parameter
	// file, which is read when the job is submitted.
	if s.ParamFile == nil && s.CaseFile == nil && len(s.JobVariables) == 0 {
		one := 1
		v.ExpectedRuns = &one
	}
	var err error
	if h.CustomFields != nil {
		if v.CustomFields, err = h.CustomFields.JobValues(ctx, j); err != nil {
			return jobView{}, err
		}
	}
	if v.CaseFile, err = fc.ref(ctx, s.CaseFile); err != nil {
		return jobView{}, err
	}
	if v.ParamFile, err = fc.ref(ctx, s.ParamFile); err != nil {
		return jobView{}, err
	}
	for _, ja := range s.JobAnalyses {
		av := analysisView{
			Analysis: analysisRefView{Code: ja.Analysis.Code, Version: ja.Analysis.Version},
			Command:  ja.Command, EnvVars: ja.EnvVars, Flags: ja.Flags,
			Hardware:                 h.renderHardware(ja.Hardware),
			InputFiles:               []any{},
			PostProcessScriptCommand: ja.PostProcessScriptCommand, PreProcessScriptCommand: ja.PreProcessScriptCommand,
			TemplateTasks:     []templateTaskView{},
			UseRescaleLicense: ja.UseRescaleLicense, UseMPI: ja.UseMPI,
			OnDemandLicenseSeller: ja.OnDemandLicenseSeller, UserDefinedLicenseSettings: ja.UserDefinedLicenseSettings,
		}
		if a, ok := h.Catalog.Analysis(ja.Analysis.Code); ok {
			av.Analysis.Name = a.Name
			if ver, ok := a.Version(ja.Analysis.Version); ok {
				av.Analysis.VersionName = versionName(ver)
			}
		}
		for i := range ja.InputFiles {
			f, err := fc.ref(ctx, &ja.InputFiles[i])
			if err != nil {
				return jobView{}, err
			}
			av.InputFiles = append(av.InputFiles, f)
		}
		for _, t := range ja.TemplateTasks {
			f, err := fc.ref(ctx, t.TemplateFile)
			if err != nil {
				return jobView{}, err
			}
			av.TemplateTasks = append(av.TemplateTasks, templateTaskView{ProcessedFilename: t.ProcessedFilename, TemplateFile: f})
		}
		if av.PreProcessScript, err = fc.ref(ctx, ja.PreProcessScript); err != nil {
			return jobView{}, err
		}
		if av.PostProcessScript, err = fc.ref(ctx, ja.PostProcessScript); err != nil {
			return jobView{}, err
		}
		v.JobAnalyses = append(v.JobAnalyses, av)
	}
	return v, nil
}

// versionName is the display version, except that a version whose display
// name is its code shows "" as the spec's user_included sample does
// (version "0", versionName "").
func versionName(v catalog.AnalysisVersion) string {
	if v.Version == v.VersionCode && v.VersionCode == "0" {
		return ""
	}
	return v.Version
}

// renderHardware computes coreSummary from the (first) coretype: memory
// and scratch scale with the cores of a node; storagePerNode is the
// coretype's per-core storage × cores × 100, which reproduces the spec's
// standard-plus sample (1 core → 4000).
func (h Handlers) renderHardware(hw jobs.Hardware) hardwareView {
	v := hardwareView{CoreType: hw.CoreType, CoresPerSlot: hw.CoresPerSlot, Slots: hw.Slots, Walltime: hw.Walltime, Type: hw.Type}
	code := hw.CoreType
	if hw.CoreClass != nil {
		cv := &coreClassView{Code: hw.CoreClass.Code, CoreTypeConfigs: []jobs.CoreTypeConfig{}}
		if configs, err := jobs.ParseCoreClass(h.Catalog, hw.CoreClass.Code); err == nil {
			cv.CoreTypeConfigs = configs
			code = configs[0].CoreType
			cv.Acronym = acronym(configs[0].CoreType)
		}
		v.CoreClass = cv
	}
	v.CoreSummary.NumberOfNodes = nodes(hw.Slots)
	if ct, ok := h.Catalog.Coretype(code); ok {
		v.CoreSummary.MemoryPerNode = int64(ct.Memory) * hw.CoresPerSlot
		v.CoreSummary.StoragePerNode = int64(ct.Storage) * hw.CoresPerSlot * 100
		if ct.Deployment != nil {
			v.CoreSummary.GPUsPerNode = ct.Deployment.GPUs(int(hw.CoresPerSlot))
		}
	}
	return v
}

// acronym is the initials of a coretype's code ("standard-plus" → "SP",
// as in the spec's coretype set sample).
func acronym(code string) string {
	var b strings.Builder
	for _, w := range strings.FieldsFunc(code, func(r rune) bool { return r == '-' || r == '_' }) {
		b.WriteString(strings.ToUpper(w[:1]))
	}
	return b.String()
}
