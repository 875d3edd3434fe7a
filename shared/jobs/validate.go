package jobs

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/openrescale/platform/shared/catalog"
	"github.com/openrescale/platform/shared/errs"
	"github.com/openrescale/platform/shared/files"
	"github.com/openrescale/platform/shared/ids"
	"github.com/openrescale/platform/shared/names"
)

// Catalog is what validation reads; *catalog.Catalog is one.
type Catalog interface {
	Coretype(code string) (catalog.Coretype, bool)
	FindVersion(code, version string) (catalog.Analysis, catalog.AnalysisVersion, error)
}

// Files finds a user's file records; *files.Repo is one.
type Files interface {
	Get(ctx context.Context, uid, id string) (files.File, error)
}

// Limits on what one job may ask for. The spec sets none; they bound what a
// job costs to store and render (every GET renders its inputs) and keep
// integers far from overflow in core and walltime arithmetic.
const (
	MaxJobAnalyses       = 20
	MaxInputFiles        = 1000 // per job analysis
	MaxJobVariables      = 1000
	MaxSlots             = 1000 // nodes of one job analysis
	MaxWalltime          = 8760 // hours: a year
	MaxMonteCarlo        = 100000
	MaxLicenseFeatureUse = 1000000 // count of one licence feature
)

var (
	variableTypes     = []string{"Param", "Design", "Output", "Case", "Constraint", "Objective"}
	billingPriorities = []string{"INSTANT", "ON_DEMAND", "RESERVED"}
	// Priorities in a coretype set's code ("<coretype>-<priority>-..."):
	// od On Demand Economy, odp On Demand Priority, res On Demand Reserved,
	// mirroring billingPriorityValue.
	corePriorities = []string{"od", "odp", "res"}
)

// CoreTypeConfig is one coretype of a coretype set.
type CoreTypeConfig struct {
	CoreType string `json:"coreType"`
	Name     string `json:"name"`
	Order    int    `json:"order"`
	Priority string `json:"priority"`
}

// ParseCoreClass splits a coretype set's code such as
// "standard-plus-od-hpc-3-od" into its coretypes, in order. Coretype codes
// may contain dashes, so a part ends at each priority keyword.
func ParseCoreClass(cat Catalog, code string) ([]CoreTypeConfig, error) {
	var out []CoreTypeConfig
	var acc []string
	for _, part := range strings.Split(code, "-") {
		if slices.Contains(corePriorities, part) && len(acc) > 0 {
			ct := strings.Join(acc, "-")
			c, ok := cat.Coretype(ct)
			if !ok {
				return nil, fmt.Errorf("unknown coretype %q", errs.Clip(ct))
			}
			out = append(out, CoreTypeConfig{CoreType: ct, Name: c.Name, Order: len(out), Priority: part})
			acc = nil
			continue
		}
		acc = append(acc, part)
	}
	if len(acc) > 0 || len(out) == 0 {
		return nil, fmt.Errorf("%q is not a coretype set: expected <coretype>-<priority>[-<coretype>-<priority>...] with priority one of %s", errs.Clip(code), strings.Join(corePriorities, ", "))
	}
	return out, nil
}

// Validate checks s against the catalog and the owner's files and
// normalises it: the analysis version is resolved to its versionCode and a
// missing coresPerSlot becomes the coretype's smallest size. It returns the
// total size of the input files.
func Validate(ctx context.Context, s *Spec, cat Catalog, fs Files, ownerID string) (int64, error) {
	s.Name = strings.TrimSpace(s.Name)
	switch {
	case s.Name == "":
		return 0, errs.Field("name", "name: this field is required")
	case utf8.RuneCountInString(s.Name) > 200:
		return 0, errs.Field("name", "name: at most 200 characters")
	case len(s.JobAnalyses) == 0:
		return 0, errs.Field("jobanalyses", "jobanalyses: a job needs at least one analysis")
	case len(s.JobAnalyses) > MaxJobAnalyses:
		return 0, errs.Field("jobanalyses", "jobanalyses: at most %d analyses per job, got %d", MaxJobAnalyses, len(s.JobAnalyses))
	case len(s.JobVariables) > MaxJobVariables:
		return 0, errs.Field("jobvariables", "jobvariables: at most %d variables per job, got %d", MaxJobVariables, len(s.JobVariables))
	case s.MonteCarloIterations != nil && *s.MonteCarloIterations < 0:
		return 0, errs.Field("monteCarloIterations", "monteCarloIterations: must not be negative")
	case s.MonteCarloIterations != nil && *s.MonteCarloIterations > MaxMonteCarlo:
		return 0, errs.Field("monteCarloIterations", "monteCarloIterations: at most %d", MaxMonteCarlo)
	case s.BillingPriorityValue != nil && !slices.Contains(billingPriorities, *s.BillingPriorityValue):
		return 0, errs.Field("billingPriorityValue", "billingPriorityValue: must be one of %s", strings.Join(billingPriorities, ", "))
	}
	if err := names.Check("name", "name: a job name", s.Name); err != nil {
		return 0, err
	}
	for i, v := range s.JobVariables {
		p := fmt.Sprintf("jobvariables[%d]", i)
		if strings.TrimSpace(v.Name) == "" {
			return 0, errs.Field(p+".name", "%s.name: this field is required", p)
		}
		if err := names.Check(p+".name", p+".name: a variable name", v.Name); err != nil {
			return 0, err
		}
		if !slices.Contains(variableTypes, v.VariableType) {
			return 0, errs.Field(p+".variableType", "%s.variableType: must be one of %s", p, strings.Join(variableTypes, ", "))
		}
	}
	for i := range s.JobAnalyses {
		if err := validateAnalysis(fmt.Sprintf("jobanalyses[%d]", i), &s.JobAnalyses[i], cat); err != nil {
			return 0, err
		}
	}
	return checkFiles(ctx, s, fs, ownerID)
}

func validateAnalysis(p string, ja *JobAnalysis, cat Catalog) error {
	if ja.Analysis.Code == "" {
		return errs.Field(p+".analysis.code", "%s.analysis.code: this field is required", p)
	}
	// The code is resolved alone first so that the error names the field
	// that is wrong: an unknown code, or a version the code lacks.
	an, ver, err := cat.FindVersion(ja.Analysis.Code, "")
	field := p + ".analysis.code"
	if err == nil && ja.Analysis.Version != "" {
		an, ver, err = cat.FindVersion(ja.Analysis.Code, ja.Analysis.Version)
		field = p + ".analysis.version"
	}
	if err != nil {
		msg := err.Error()
		if e, ok := errs.As(err); ok {
			msg = e.Message
		}
		return errs.Field(field, "%s: %s", field, msg)
	}
	ja.Analysis.Version = ver.VersionCode
	if ja.UseRescaleLicense && !an.HasRescaleLicense {
		return errs.Field(p+".useRescaleLicense", "%s.useRescaleLicense: Rescale provides no licence for %s", p, an.Name)
	}
	if strings.TrimSpace(ja.Command) == "" {
		return errs.Field(p+".command", "%s.command: this field is required", p)
	}
	hw := &ja.Hardware
	hp := p + ".hardware"
	var coretypes []catalog.Coretype
	switch {
	case hw.CoreType != "" && hw.CoreClass != nil:
		return errs.Field(hp, "%s: give coreType or coreClass, not both", hp)
	case hw.CoreType != "":
		ct, ok := cat.Coretype(hw.CoreType)
		if !ok {
			return errs.Field(hp+".coreType", "%s.coreType: unknown coretype %q", hp, errs.Clip(hw.CoreType))
		}
		coretypes = append(coretypes, ct)
	case hw.CoreClass != nil:
		configs, err := ParseCoreClass(cat, hw.CoreClass.Code)
		if err != nil {
			return errs.Field(hp+".coreClass", "%s.coreClass: %v", hp, err)
		}
		for _, c := range configs {
			ct, _ := cat.Coretype(c.CoreType)
			coretypes = append(coretypes, ct)
		}
	default:
		return errs.Field(hp+".coreType", "%s.coreType: a coreType or a coreClass is required", hp)
	}
	field = hp + ".coreType"
	if hw.CoreClass != nil {
		field = hp + ".coreClass"
	}
	for _, ct := range coretypes {
		if ct.IsDeprecated {
			return errs.Field(field, "%s: coretype %q is deprecated and accepts no jobs", field, ct.Code)
		}
		if !ver.AllowsCoretype(ct.Code) {
			return errs.Field(field, "%s: %s %s does not run on coretype %q (allowed: %s)", field, ja.Analysis.Code, ver.VersionCode, ct.Code, strings.Join(ver.AllowedCoreTypes, ", "))
		}
	}
	// The spec's examples always give coresPerSlot; a missing one means the
	// smallest node, the cheapest valid choice.
	if hw.CoresPerSlot == 0 {
		hw.CoresPerSlot = int64(coretypes[0].Cores[0])
	}
	for _, ct := range coretypes {
		if !ct.SupportsCores(int(hw.CoresPerSlot)) {
			return errs.Field(hp+".coresPerSlot", "%s.coresPerSlot: coretype %q has nodes of %s cores, not %d", hp, ct.Code, joinInts(ct.Cores), hw.CoresPerSlot)
		}
	}
	if hw.Slots < 1 || hw.Slots > MaxSlots {
		return errs.Field(hp+".slots", "%s.slots: must be at least 1 and at most %d, got %d", hp, MaxSlots, hw.Slots)
	}
	if hw.Walltime != nil && (*hw.Walltime < 1 || *hw.Walltime > MaxWalltime) {
		return errs.Field(hp+".walltime", "%s.walltime: must be a positive number of hours, at most %d, got %d", hp, MaxWalltime, *hw.Walltime)
	}
	for _, ct := range coretypes {
		if ct.WalltimeRequired && hw.Walltime == nil {
			return errs.Field(hp+".walltime", "%s.walltime: coretype %q requires a walltime (hours)", hp, ct.Code)
		}
	}
	for k := range ja.EnvVars {
		if k == "" || strings.ContainsAny(k, "=\x00") {
			return errs.Field(p+".envVars", "%s.envVars: %q is not a valid environment variable name", p, errs.Clip(k))
		}
		if err := names.Check(p+".envVars", p+".envVars: an environment variable name", k); err != nil {
			return err
		}
	}
	if ja.OnDemandLicenseSeller != nil && ja.UserDefinedLicenseSettings != nil {
		return errs.Field(p+".userDefinedLicenseSettings", "%s: give onDemandLicenseSeller or userDefinedLicenseSettings, not both", p)
	}
	if s := ja.OnDemandLicenseSeller; s != nil && s.Code == "" {
		return errs.Field(p+".onDemandLicenseSeller.code", "%s.onDemandLicenseSeller.code: this field is required", p)
	}
	if u := ja.UserDefinedLicenseSettings; u != nil {
		for i, set := range u.FeatureSets {
			sp := fmt.Sprintf("%s.userDefinedLicenseSettings.featureSets[%d]", p, i)
			if err := names.Check(sp+".name", sp+".name: a feature set name", set.Name); err != nil {
				return err
			}
			for j, f := range set.Features {
				fp := fmt.Sprintf("%s.features[%d]", sp, j)
				if f.Name == "" {
					return errs.Field(fp+".name", "%s.name: this field is required", fp)
				}
				if err := names.Check(fp+".name", fp+".name: a feature name", f.Name); err != nil {
					return err
				}
				if f.Count < 1 || f.Count > MaxLicenseFeatureUse {
					return errs.Field(fp+".count", "%s.count: must be at least 1 and at most %d", fp, MaxLicenseFeatureUse)
				}
			}
		}
	}
	for j, t := range ja.TemplateTasks {
		tp := fmt.Sprintf("%s.templateTasks[%d].processedFilename", p, j)
		if err := names.Check(tp, tp+": a file name", t.ProcessedFilename); err != nil {
			return err
		}
	}
	return nil
}

func joinInts(ns []int) string {
	s := make([]string, len(ns))
	for i, n := range ns {
		s[i] = fmt.Sprint(n)
	}
	return strings.Join(s, ", ")
}

// checkFiles makes sure every referenced file exists and is the owner's:
// another user's file is "not found" like a missing one, so ids of other
// tenants' files cannot be probed.
func checkFiles(ctx context.Context, s *Spec, fs Files, ownerID string) (int64, error) {
	var total int64
	seen := map[string]bool{}
	check := func(field string, ref *FileRef, input bool) error {
		if ref == nil {
			return nil
		}
		if ref.ID == "" || !ids.Valid(ref.ID) {
			return errs.Field(field, "%s: a file id is required", field)
		}
		f, err := fs.Get(ctx, ownerID, ref.ID)
		if errs.Is(err, errs.NotFound) || err == nil && f.IsDeleted {
			return errs.Field(field, "%s: file %q not found", field, ref.ID)
		}
		if err != nil {
			return fmt.Errorf("check file %s: %w", ref.ID, err)
		}
		if input && !seen[f.ID] {
			seen[f.ID] = true
			total += f.Size
		}
		return nil
	}
	if err := check("paramFile.id", s.ParamFile, false); err != nil {
		return 0, err
	}
	if err := check("caseFile.id", s.CaseFile, false); err != nil {
		return 0, err
	}
	for i := range s.JobAnalyses {
		ja := &s.JobAnalyses[i]
		p := fmt.Sprintf("jobanalyses[%d]", i)
		if len(ja.InputFiles) > MaxInputFiles {
			return 0, errs.Field(p+".inputFiles", "%s.inputFiles: at most %d input files per analysis, got %d; archive them into one", p, MaxInputFiles, len(ja.InputFiles))
		}
		first := map[string]int{}
		for j, ref := range ja.InputFiles {
			if k, dup := first[ref.ID]; dup {
				return 0, errs.Field(fmt.Sprintf("%s.inputFiles[%d].id", p, j), "%s.inputFiles[%d].id: file %q is already inputFiles[%d]", p, j, errs.Clip(ref.ID), k)
			}
			first[ref.ID] = j
		}
		for j := range ja.InputFiles {
			if err := check(fmt.Sprintf("%s.inputFiles[%d].id", p, j), &ja.InputFiles[j], true); err != nil {
				return 0, err
			}
		}
		for j, t := range ja.TemplateTasks {
			if err := check(fmt.Sprintf("%s.templateTasks[%d].templateFile.id", p, j), t.TemplateFile, false); err != nil {
				return 0, err
			}
		}
		if err := check(p+".preProcessScript.id", ja.PreProcessScript, false); err != nil {
			return 0, err
		}
		if err := check(p+".postProcessScript.id", ja.PostProcessScript, false); err != nil {
			return 0, err
		}
	}
	return total, nil
}
