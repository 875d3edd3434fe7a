package jobs

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"

	"github.com/openrescale/platform/shared/errs"
	"github.com/openrescale/platform/shared/httpapi"
)

// Spec is what a client says about a job: the create body, normalised
// (coreType as a string, numbers as numbers). It is stored as is, so a PATCH
// can be applied by overlaying its keys on the stored spec and validating
// the result exactly like a create.
type Spec struct {
	Name                 string            `json:"name"`
	JobAnalyses          []JobAnalysis     `json:"jobanalyses"`
	ParamFile            *FileRef          `json:"paramFile"`
	CaseFile             *FileRef          `json:"caseFile"`
	JobVariables         []JobVariable     `json:"jobvariables"`
	ResourceFilters      []json.RawMessage `json:"resourceFilters"`
	ArchiveFilters       []json.RawMessage `json:"archiveFilters"`
	IsTemplateDryRun     bool              `json:"isTemplateDryRun"`
	IncludeNominalRun    bool              `json:"includeNominalRun"`
	MonteCarloIterations *int64            `json:"monteCarloIterations"`
	BillingPriorityValue *string           `json:"billingPriorityValue"`
	ProjectID            *string           `json:"projectId"`
	IsLowPriority        bool              `json:"isLowPriority"`
}

// JobAnalysis is one analysis of a job.
type JobAnalysis struct {
	Analysis                   AnalysisRef                `json:"analysis"`
	Command                    string                     `json:"command"`
	UseMPI                     bool                       `json:"useMpi"`
	EnvVars                    map[string]string          `json:"envVars"`
	Flags                      map[string]json.RawMessage `json:"flags"`
	Hardware                   Hardware                   `json:"hardware"`
	InputFiles                 []FileRef                  `json:"inputFiles"`
	UseRescaleLicense          bool                       `json:"useRescaleLicense"`
	TemplateTasks              []TemplateTask             `json:"templateTasks"`
	PreProcessScript           *FileRef                   `json:"preProcessScript"`
	PreProcessScriptCommand    string                     `json:"preProcessScriptCommand"`
	PostProcessScript          *FileRef                   `json:"postProcessScript"`
	PostProcessScriptCommand   string                     `json:"postProcessScriptCommand"`
	OnDemandLicenseSeller      *LicenseSeller             `json:"onDemandLicenseSeller"`
	UserDefinedLicenseSettings *LicenseSettings           `json:"userDefinedLicenseSettings"`
}

// AnalysisRef names an analysis version; Version is empty for "latest"
// until validation resolves it to the version's code.
type AnalysisRef struct {
	Code    string `json:"code"`
	Version string `json:"version"`
}

// Hardware is a job analysis's hardware request: a coretype or a coretype
// set (coreClass).
type Hardware struct {
	CoreType     string   `json:"coreType,omitempty"`
	CoreClass    *CodeRef `json:"coreClass,omitempty"`
	CoresPerSlot int64    `json:"coresPerSlot"`
	Slots        int64    `json:"slots"`
	Walltime     *int64   `json:"walltime"`
	Type         string   `json:"type,omitempty"`
}

// CodeRef is {"code": "..."}.
type CodeRef struct {
	Code string `json:"code"`
}

// FileRef points at a file by id; clients may send the whole file object
// they got back, of which only id counts.
type FileRef struct {
	ID string `json:"id"`
}

// TemplateTask is a DOE template and the file name it is processed into.
type TemplateTask struct {
	ProcessedFilename string   `json:"processedFilename"`
	TemplateFile      *FileRef `json:"templateFile"`
}

// JobVariable is a DOE variable.
type JobVariable struct {
	Name         string `json:"name"`
	VariableType string `json:"variableType"`
	DisplayOrder int64  `json:"displayOrder"`
	// The spec's field table says variableGeneratorType, its sample
	// valueGeneratorType; both are read, the sample's name is written.
	ValueGeneratorType     string          `json:"valueGeneratorType"`
	ValueGeneratorSettings json.RawMessage `json:"valueGeneratorSettings"`
}

// LicenseSeller is an on-demand licence provider.
type LicenseSeller struct {
	Code string `json:"code"`
	Name string `json:"name"`
}

// LicenseSettings are user-defined licence feature sets.
type LicenseSettings struct {
	FeatureSets []FeatureSet `json:"featureSets"`
}

// FeatureSet is one acceptable set of licence features.
type FeatureSet struct {
	Name     string    `json:"name"`
	Features []Feature `json:"features"`
}

// Feature is a licence feature and how many the job needs.
type Feature struct {
	Name  string `json:"name"`
	Count int64  `json:"count"`
}

// Wire types: what clients may send. They differ from the stored types in
// accepting looser JSON (numbers as strings, coreType as an object) and in
// keeping list elements raw, so that a type error can be reported with its
// index ("jobanalyses[0].hardware.coresPerSlot"), which encoding/json's own
// error path leaves out.

type specWire struct {
	Name                 *string           `json:"name"`
	JobAnalyses          []json.RawMessage `json:"jobanalyses"`
	ParamFile            *FileRef          `json:"paramFile"`
	CaseFile             *FileRef          `json:"caseFile"`
	JobVariables         []json.RawMessage `json:"jobvariables"`
	ResourceFilters      []json.RawMessage `json:"resourceFilters"`
	ArchiveFilters       []json.RawMessage `json:"archiveFilters"`
	IsTemplateDryRun     bool              `json:"isTemplateDryRun"`
	IncludeNominalRun    bool              `json:"includeNominalRun"`
	MonteCarloIterations *httpapi.Int      `json:"monteCarloIterations"`
	BillingPriorityValue *string           `json:"billingPriorityValue"`
	ProjectID            *string           `json:"projectId"`
	IsLowPriority        bool              `json:"isLowPriority"`
}

type analysisWire struct {
	Analysis                   *AnalysisRef               `json:"analysis"`
	Command                    string                     `json:"command"`
	UseMPI                     bool                       `json:"useMpi"`
	EnvVars                    map[string]string          `json:"envVars"`
	Flags                      map[string]json.RawMessage `json:"flags"`
	Hardware                   *hardwareWire              `json:"hardware"`
	InputFiles                 []json.RawMessage          `json:"inputFiles"`
	UseRescaleLicense          bool                       `json:"useRescaleLicense"`
	TemplateTasks              []TemplateTask             `json:"templateTasks"`
	PreProcessScript           *FileRef                   `json:"preProcessScript"`
	PreProcessScriptCommand    string                     `json:"preProcessScriptCommand"`
	PostProcessScript          *FileRef                   `json:"postProcessScript"`
	PostProcessScriptCommand   string                     `json:"postProcessScriptCommand"`
	OnDemandLicenseSeller      *LicenseSeller             `json:"onDemandLicenseSeller"`
	UserDefinedLicenseSettings *licenseSettingsWire       `json:"userDefinedLicenseSettings"`
}

type hardwareWire struct {
	CoreType     *codeOrString `json:"coreType"`
	CoreClass    *codeOrString `json:"coreClass"`
	CoresPerSlot *httpapi.Int  `json:"coresPerSlot"`
	Slots        *httpapi.Int  `json:"slots"`
	Walltime     *httpapi.Int  `json:"walltime"`
	Type         string        `json:"type"`
}

type variableWire struct {
	Name                   string          `json:"name"`
	VariableType           string          `json:"variableType"`
	DisplayOrder           httpapi.Int     `json:"displayOrder"`
	ValueGeneratorType     string          `json:"valueGeneratorType"`
	VariableGeneratorType  string          `json:"variableGeneratorType"`
	ValueGeneratorSettings json.RawMessage `json:"valueGeneratorSettings"`
}

type licenseSettingsWire struct {
	FeatureSets []struct {
		Name     string `json:"name"`
		Features []struct {
			Name  string      `json:"name"`
			Count httpapi.Int `json:"count"`
		} `json:"features"`
	} `json:"featureSets"`
}

// codeOrString accepts "standard-plus" and {"code": "standard-plus"}: the
// spec documents the string for coreType and the object for coreClass, and
// clients send either.
type codeOrString string

func (c *codeOrString) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if bytes.Equal(b, []byte("null")) {
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		*c = codeOrString(s)
		return nil
	}
	var o struct {
		Code *string `json:"code"`
	}
	if err := json.Unmarshal(b, &o); err != nil || o.Code == nil {
		return &json.UnmarshalTypeError{Value: "value " + string(b), Type: reflect.TypeFor[CodeRef]()}
	}
	*c = codeOrString(*o.Code)
	return nil
}

// ParseSpec decodes a job body. Type errors name the field by its full
// path; missing and invalid values are left to Validate.
func ParseSpec(data []byte) (Spec, error) {
	var w specWire
	if err := decodeAt("", data, &w); err != nil {
		return Spec{}, err
	}
	s := Spec{
		JobAnalyses:          []JobAnalysis{},
		ParamFile:            w.ParamFile,
		CaseFile:             w.CaseFile,
		JobVariables:         []JobVariable{},
		ResourceFilters:      w.ResourceFilters,
		ArchiveFilters:       w.ArchiveFilters,
		IsTemplateDryRun:     w.IsTemplateDryRun,
		IncludeNominalRun:    w.IncludeNominalRun,
		BillingPriorityValue: w.BillingPriorityValue,
		ProjectID:            w.ProjectID,
		IsLowPriority:        w.IsLowPriority,
	}
	if w.Name != nil {
		s.Name = *w.Name
	}
	if w.MonteCarloIterations != nil {
		n := int64(*w.MonteCarloIterations)
		s.MonteCarloIterations = &n
	}
	if s.ResourceFilters == nil {
		s.ResourceFilters = []json.RawMessage{}
	}
	if s.ArchiveFilters == nil {
		s.ArchiveFilters = []json.RawMessage{}
	}
	for i, raw := range w.JobAnalyses {
		ja, err := parseAnalysis(fmt.Sprintf("jobanalyses[%d]", i), raw)
		if err != nil {
			return Spec{}, err
		}
		s.JobAnalyses = append(s.JobAnalyses, ja)
	}
	for i, raw := range w.JobVariables {
		var v variableWire
		if err := decodeAt(fmt.Sprintf("jobvariables[%d]", i), raw, &v); err != nil {
			return Spec{}, err
		}
		jv := JobVariable{Name: v.Name, VariableType: v.VariableType, DisplayOrder: int64(v.DisplayOrder),
			ValueGeneratorType: v.ValueGeneratorType, ValueGeneratorSettings: v.ValueGeneratorSettings}
		if jv.ValueGeneratorType == "" {
			jv.ValueGeneratorType = v.VariableGeneratorType
		}
		if len(jv.ValueGeneratorSettings) == 0 || string(jv.ValueGeneratorSettings) == "null" {
			jv.ValueGeneratorSettings = json.RawMessage(`{}`)
		}
		s.JobVariables = append(s.JobVariables, jv)
	}
	return s, nil
}

func parseAnalysis(path string, raw json.RawMessage) (JobAnalysis, error) {
	var w analysisWire
	if err := decodeAt(path, raw, &w); err != nil {
		return JobAnalysis{}, err
	}
	ja := JobAnalysis{
		Command:                  w.Command,
		UseMPI:                   w.UseMPI,
		EnvVars:                  w.EnvVars,
		Flags:                    w.Flags,
		InputFiles:               []FileRef{},
		UseRescaleLicense:        w.UseRescaleLicense,
		TemplateTasks:            w.TemplateTasks,
		PreProcessScript:         w.PreProcessScript,
		PreProcessScriptCommand:  w.PreProcessScriptCommand,
		PostProcessScript:        w.PostProcessScript,
		PostProcessScriptCommand: w.PostProcessScriptCommand,
		OnDemandLicenseSeller:    w.OnDemandLicenseSeller,
	}
	if w.Analysis != nil {
		ja.Analysis = *w.Analysis
	}
	if ja.EnvVars == nil {
		ja.EnvVars = map[string]string{}
	}
	if ja.Flags == nil {
		ja.Flags = map[string]json.RawMessage{}
	}
	if ja.TemplateTasks == nil {
		ja.TemplateTasks = []TemplateTask{}
	}
	if h := w.Hardware; h != nil {
		if h.CoreType != nil {
			ja.Hardware.CoreType = string(*h.CoreType)
		}
		if h.CoreClass != nil {
			ja.Hardware.CoreClass = &CodeRef{Code: string(*h.CoreClass)}
		}
		if h.CoresPerSlot != nil {
			ja.Hardware.CoresPerSlot = int64(*h.CoresPerSlot)
		}
		// Slots: nil means the default of 1; an explicit 0 is kept so
		// that validation can refuse it.
		ja.Hardware.Slots = 1
		if h.Slots != nil {
			ja.Hardware.Slots = int64(*h.Slots)
		}
		if h.Walltime != nil {
			n := int64(*h.Walltime)
			ja.Hardware.Walltime = &n
		}
		ja.Hardware.Type = h.Type
	}
	for j, rawf := range w.InputFiles {
		var f FileRef
		if err := decodeAt(fmt.Sprintf("%s.inputFiles[%d]", path, j), rawf, &f); err != nil {
			return JobAnalysis{}, err
		}
		ja.InputFiles = append(ja.InputFiles, f)
	}
	if u := w.UserDefinedLicenseSettings; u != nil {
		ls := &LicenseSettings{FeatureSets: []FeatureSet{}}
		for _, fs := range u.FeatureSets {
			set := FeatureSet{Name: fs.Name, Features: []Feature{}}
			for _, f := range fs.Features {
				set.Features = append(set.Features, Feature{Name: f.Name, Count: int64(f.Count)})
			}
			ls.FeatureSets = append(ls.FeatureSets, set)
		}
		ja.UserDefinedLicenseSettings = ls
	}
	return ja, nil
}

// decodeAt decodes raw into v and reports type errors with path prefixed
// to the field encoding/json names.
func decodeAt(path string, raw []byte, v any) error {
	err := json.Unmarshal(raw, v)
	if err == nil {
		return nil
	}
	join := func(f string) string {
		switch {
		case path == "":
			return f
		case f == "":
			return path
		}
		return path + "." + f
	}
	var ute *json.UnmarshalTypeError
	if errors.As(err, &ute) {
		field := join(ute.Field)
		want := ute.Type.Kind().String()
		switch {
		case ute.Type == reflect.TypeFor[httpapi.Int]() || ute.Type == reflect.TypeFor[int64]():
			want = "an integer"
		case ute.Type == reflect.TypeFor[CodeRef]():
			want = `a string or {"code": ...}`
		case ute.Type.Kind() == reflect.Slice:
			want = "a list"
		case ute.Type.Kind() == reflect.Struct || ute.Type.Kind() == reflect.Map || ute.Type.Kind() == reflect.Pointer:
			want = "an object"
		}
		return errs.Field(field, "%s: expected %s, got %s", field, want, ute.Value)
	}
	var se *json.SyntaxError
	if errors.As(err, &se) || path == "" {
		return errs.Wrap(errs.Invalid, err, "malformed JSON body: %v", err)
	}
	return errs.Field(path, "%s: %v", path, strings.TrimPrefix(err.Error(), "json: "))
}
