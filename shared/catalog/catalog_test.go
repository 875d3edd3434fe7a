package catalog

import (
	"encoding/json"
	"maps"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/openrescale/platform/shared/errs"
)

func load(t *testing.T) *Catalog {
	t.Helper()
	c, err := Load()
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return c
}

// jsonEqual compares two JSON documents by value, so that formatting and key
// order do not matter but every key, type and value does.
func jsonEqual(t *testing.T, got []byte, want string) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("rendered JSON does not parse: %v", err)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("sample JSON does not parse: %v", err)
	}
	if !reflect.DeepEqual(g, w) {
		t.Errorf("rendered\n%s\nwant (spec)\n%s", got, want)
	}
}

func sortedKeys(t *testing.T, doc []byte) []string {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(doc, &m); err != nil {
		t.Fatalf("not a JSON object: %v", err)
	}
	return slices.Sorted(maps.Keys(m))
}

func TestLoad(t *testing.T) {
	c := load(t)
	if n := len(c.Coretypes()); n < 30 {
		t.Errorf("%d coretypes, want at least 30 (clients pick the real service's hardware)", n)
	}
	if n := len(c.Analyses()); n < 40 {
		t.Errorf("%d analyses, want at least 40 (clients pick the real service's software)", n)
	}
	if len(c.Analyses()) == 0 || len(c.ComputePrices()) == 0 {
		t.Errorf("empty analyses or prices")
	}
	var gpu, deprecated int
	for _, ct := range c.Coretypes() {
		if ct.IsDeprecated {
			deprecated++
		}
		if ct.Deployment != nil && len(ct.Deployment.GPUsPerNode) > 0 {
			gpu++
		}
	}
	if gpu == 0 || deprecated == 0 {
		t.Errorf("want at least one GPU and one deprecated coretype, got %d and %d", gpu, deprecated)
	}
}

// The catalog looks like the real service's: its known codes and names,
// codes in its style, several versions with commands for each analysis,
// every category represented, commercial and open-source software.
func TestRealisticCatalog(t *testing.T) {
	c := load(t)
	codeStyle := regexp.MustCompile(`^[a-z][a-z0-9]*(_[a-z0-9]+)*$`)
	versionCodeStyle := regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9.+_-]*$`)
	byCategory := map[string][]string{}
	commercial, open := 0, 0
	bringYourOwn := map[string]bool{"user_included": true, "user_included_mpi": true, "custom": true}
	for _, a := range c.Analyses() {
		if !codeStyle.MatchString(a.Code) {
			t.Errorf("analysis code %q is not in the real service's style (lower case, underscores)", a.Code)
		}
		byCategory[a.Category] = append(byCategory[a.Category], a.Code)
		switch {
		case bringYourOwn[a.Code]:
		case len(a.LicenseSettings) > 0:
			commercial++
		default:
			open++
		}
		if !bringYourOwn[a.Code] && len(a.Versions) < 2 {
			t.Errorf("%s: %d version, want several", a.Code, len(a.Versions))
		}
		for _, v := range a.Versions {
			if !versionCodeStyle.MatchString(v.VersionCode) {
				t.Errorf("%s: versionCode %q", a.Code, v.VersionCode)
			}
			if !bringYourOwn[a.Code] && (v.StdCommand == "" || v.MPICommand == "" || v.SMPCommand == "") {
				t.Errorf("%s %s: std/mpi/smp command missing", a.Code, v.VersionCode)
			}
		}
		if a.Description == "" || a.Thumbnail == "" || len(a.SupportDesks) == 0 {
			t.Errorf("%s: description, thumbnail or support desk missing", a.Code)
		}
	}
	for _, cat := range []string{"CFD", "FEA", "Crash", "EM", "Molecular Dynamics", "Data Science"} {
		if len(byCategory[cat]) == 0 {
			t.Errorf("no %s analysis", cat)
		}
	}
	if commercial < 10 || open < 10 {
		t.Errorf("%d commercial and %d open-source analyses, want both well represented", commercial, open)
	}
	for _, code := range []string{"openfoam", "openfoam_plus", "foam_extend", "ls_dyna", "abaqus", "adina", "custom", "user_included", "paraview"} {
		if _, ok := c.Analysis(code); !ok {
			t.Errorf("analysis %q (a real service code) missing", code)
		}
	}
	for code, versionCode := range map[string]string{"openfoam": "7-intelmpi", "openfoam_plus": "v1712+-intelmpi"} {
		if _, _, err := c.FindVersion(code, versionCode); err != nil {
			t.Errorf("%s %s (real style): %v", code, versionCode, err)
		}
	}

	names := map[string]string{}
	var gpus int
	for _, ct := range c.Coretypes() {
		if other, dup := names[ct.Name]; dup {
			t.Errorf("coretypes %s and %s are both named %q", other, ct.Code, ct.Name)
		}
		names[ct.Name] = ct.Code
		if ct.Code != "test" && (ct.ProcessorInfo == "" || ct.Description == "" || ct.Compute == "") {
			t.Errorf("%s: processorInfo, description or compute missing", ct.Code)
		}
		if d := ct.Deployment; d != nil && len(d.GPUsPerNode) > 0 {
			gpus++
			if !strings.Contains(ct.ProcessorInfo, "NVIDIA") {
				t.Errorf("%s: GPU coretype whose processorInfo does not name the GPU: %q", ct.Code, ct.ProcessorInfo)
			}
		}
	}
	if gpus < 3 {
		t.Errorf("%d GPU coretypes, want several", gpus)
	}
	for name, code := range map[string]string{"Onyx": "hpc-3", "Marble": "standard-plus", "Mercury": "", "Luna": "luna", "Emerald": "emerald", "Emerald Max": "emerald_max"} {
		if got, ok := names[name]; !ok || (code != "" && got != code) {
			t.Errorf("coretype %q is %q, want %q", name, got, code)
		}
	}
}

// Every coretype code the spec mentions (samples, job examples, allowed
// lists, prices, hardware filters) must exist, or those examples would be
// refused.
func TestSpecCoretypesExist(t *testing.T) {
	c := load(t)
	tests := []struct{ code, name string }{
		{"standard-plus", "Marble"},
		{"test", "HPC Test"},
		{"hpc-3", "Onyx"},
		{"emerald", "Emerald"},
		{"emerald_max", "Emerald Max"},
		{"sapphire", "Sapphire"},
		{"luna", "Luna"},
		{"carbon", "Carbon"},
		{"gpu-kepler", ""},
		{"gpu-tesla", ""},
		{"hi-io", ""},
		{"hi-io-plus", ""},
		{"hi-mem", ""},
		{"hi-mem-hpc", ""},
		{"hpc", ""},
		{"hpc-plus", ""},
		{"lo-mem", ""},
		{"standard", ""},
	}
	for _, tt := range tests {
		t.Run(tt.code, func(t *testing.T) {
			ct, ok := c.Coretype(tt.code)
			if !ok {
				t.Fatalf("coretype %q missing", tt.code)
			}
			if tt.name != "" && ct.Name != tt.name {
				t.Errorf("name %q, want %q", ct.Name, tt.name)
			}
		})
	}
}

// The job examples of spec 001, 002 and 003 must resolve: analysis code and
// version, and the version must allow the example's coretype and cores.
func TestSpecJobExamplesResolve(t *testing.T) {
	c := load(t)
	tests := []struct {
		name, code, version, coretype string
		cores                         int
		wantVersionCode               string
	}{
		{"001 openfoam", "openfoam", "2.3.0-openmpi", "standard-plus", 1, "2.3.0-openmpi"},
		{"003 job listing openfoam", "openfoam", "2.3.1-openmpi", "standard-plus", 1, "2.3.1-openmpi"},
		{"003 create job", "user_included", "0", "standard-plus", 1, "0"},
		{"002 ls-dyna", "ls_dyna", "9.0.0", "hpc-3", 2, "9.0.0"},
		{"003 ls-dyna licence", "ls_dyna", "13.0.0", "emerald", 1, "13.0.0"},
		{"003 abaqus sample", "abaqus", "6.14-1", "standard-plus", 8, "6.14.1-pcmpi"},
		{"000 adina sample", "adina", "9.0.1-openmpi", "hpc-3", 18, "9.0.1-openmpi"},
		{"003 emerald max listing", "user_included", "0", "emerald_max", 36, "0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, v, err := c.FindVersion(tt.code, tt.version)
			if err != nil {
				t.Fatalf("FindVersion: %v", err)
			}
			if v.VersionCode != tt.wantVersionCode {
				t.Errorf("versionCode %q, want %q", v.VersionCode, tt.wantVersionCode)
			}
			if !v.AllowsCoretype(tt.coretype) {
				t.Errorf("version %q does not allow coretype %q", v.VersionCode, tt.coretype)
			}
			ct, ok := c.Coretype(tt.coretype)
			if !ok || !ct.SupportsCores(tt.cores) {
				t.Errorf("coretype %q does not offer %d cores", tt.coretype, tt.cores)
			}
		})
	}
}

// Versions names the job examples render as versionName must be the display
// versions (003: openfoam 2.3.1-openmpi → "2.3.1"; 002: ls_dyna 9.0.0 →
// "R9.0.0").
func TestVersionNames(t *testing.T) {
	c := load(t)
	tests := []struct{ code, version, wantName string }{
		{"openfoam", "2.3.1-openmpi", "2.3.1"},
		{"ls_dyna", "9.0.0", "R9.0.0"},
		{"user_included", "0", "0"},
	}
	for _, tt := range tests {
		_, v, err := c.FindVersion(tt.code, tt.version)
		if err != nil || v.Version != tt.wantName {
			t.Errorf("FindVersion(%q, %q) = %q, %v; want version %q", tt.code, tt.version, v.Version, err, tt.wantName)
		}
	}
}

func TestCoretypeRendersSpecSample(t *testing.T) {
	c := load(t)
	for code, sample := range map[string]string{"standard-plus": specMarble, "test": specHPCTest} {
		t.Run(code, func(t *testing.T) {
			ct, _ := c.Coretype(code)
			got, err := json.Marshal(ct)
			if err != nil {
				t.Fatal(err)
			}
			jsonEqual(t, got, sample)
		})
	}
}

// Every coretype renders exactly the spec's key set and nothing of its
// deployment.
func TestCoretypeKeysAndNoDeployment(t *testing.T) {
	c := load(t)
	want := sortedKeys(t, []byte(specMarble))
	for _, ct := range c.Coretypes() {
		t.Run(ct.Code, func(t *testing.T) {
			got, err := json.Marshal(ct)
			if err != nil {
				t.Fatal(err)
			}
			if keys := sortedKeys(t, got); !slices.Equal(keys, want) {
				t.Errorf("keys %v, want %v", keys, want)
			}
			leaks := []string{"deployment", "ec2InstanceFamily", "instanceTypes", "vcpusPerCore", "gpusPerNode"}
			if d := ct.Deployment; d != nil {
				leaks = append(leaks, d.InstanceTypeNames()...)
			}
			for _, s := range leaks {
				if strings.Contains(string(got), s) {
					t.Errorf("rendered coretype leaks %q: %s", s, got)
				}
			}
			// Null, not absent, is what the spec shows for a missing order.
			if ct.DisplayOrder == nil && !strings.Contains(string(got), `"displayOrder":null`) {
				t.Errorf("displayOrder not rendered as null: %s", got)
			}
		})
	}
}

// Abaqus renders the spec's sample, plus this platform's category.
func TestAbaqusRendersSpecSample(t *testing.T) {
	c := load(t)
	a, ok := c.Analysis("abaqus")
	if !ok {
		t.Fatal("abaqus missing")
	}
	if a.Category != "FEA" {
		t.Errorf("abaqus category %q, want FEA", a.Category)
	}
	a.Category = ""
	got, err := json.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(got, &m); err != nil {
		t.Fatal(err)
	}
	delete(m, "category")
	got, _ = json.Marshal(m)
	jsonEqual(t, got, specAbaqus)
}

// Every analysis renders the spec's Abaqus key set and category, with
// lists as [] and eula/optimizerType as null rather than omitted.
func TestAnalysisKeys(t *testing.T) {
	c := load(t)
	want := append(sortedKeys(t, []byte(specAbaqus)), "category")
	slices.Sort(want)
	var sample struct {
		Versions []json.RawMessage `json:"versions"`
	}
	if err := json.Unmarshal([]byte(specAbaqus), &sample); err != nil {
		t.Fatal(err)
	}
	wantVersion := sortedKeys(t, sample.Versions[0])
	for _, a := range c.Analyses() {
		got, _ := json.Marshal(a)
		if keys := sortedKeys(t, got); !slices.Equal(keys, want) {
			t.Errorf("%s: keys %v, want %v", a.Code, keys, want)
		}
		for _, v := range a.Versions {
			vj, _ := json.Marshal(v)
			if keys := sortedKeys(t, vj); !slices.Equal(keys, wantVersion) {
				t.Errorf("%s %s: version keys %v, want %v", a.Code, v.VersionCode, keys, wantVersion)
			}
		}
		var m map[string]any
		if err := json.Unmarshal(got, &m); err != nil {
			t.Fatal(err)
		}
		for _, k := range []string{"industries", "versions", "supportDesks", "licenseSettings", "resources"} {
			if _, ok := m[k].([]any); !ok {
				t.Errorf("%s: %s renders as %v, want a list", a.Code, k, m[k])
			}
		}
	}
}

func TestNilListsRenderEmpty(t *testing.T) {
	c, err := New(
		[]Coretype{{Code: "x", Name: "X", Cores: []int{1}, Memory: 1, LowPriorityPrice: "0", Deployment: &Deployment{
			EC2InstanceFamily: "c5", InstanceTypes: map[string]string{"1": "c5.large"}, VCPUsPerCore: 2}}},
		[]Analysis{{Code: "a", Name: "A", Category: "Custom", Versions: []AnalysisVersion{{VersionCode: "1"}}}},
		nil)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := c.Analysis("a")
	got, _ := json.Marshal(a)
	for _, s := range []string{`"industries":[]`, `"supportDesks":[]`, `"licenseSettings":[]`, `"resources":[]`, `"optimizerType":null`, `"allowedCoreTypes":[]`, `"eula":null`} {
		if !strings.Contains(string(got), s) {
			t.Errorf("missing %s in %s", s, got)
		}
	}
}

func TestComputePrices(t *testing.T) {
	c := load(t)
	prices := c.ComputePrices()
	type key struct{ ct, os, plan string }
	byKey := map[key]ComputePrice{}
	for _, p := range prices {
		byKey[key{p.CoreType, p.OS, p.PlanType}] = p
	}

	t.Run("spec sample verbatim", func(t *testing.T) {
		var sample []json.RawMessage
		if err := json.Unmarshal([]byte(specComputePrices), &sample); err != nil {
			t.Fatal(err)
		}
		for _, raw := range sample {
			var s ComputePrice
			if err := json.Unmarshal(raw, &s); err != nil {
				t.Fatal(err)
			}
			got, ok := byKey[key{s.CoreType, s.OS, s.PlanType}]
			if !ok {
				t.Errorf("missing %s/%s/%s", s.CoreType, s.OS, s.PlanType)
				continue
			}
			gj, _ := json.Marshal(got)
			jsonEqual(t, gj, string(raw))
		}
	})

	// Every coretype that accepts jobs has all four prices, and the linux ones
	// agree with what GET /coretypes/ says (price = ODP, lowPriorityPrice =
	// ODE), so the two endpoints never contradict each other.
	for _, ct := range c.Coretypes() {
		if ct.IsDeprecated {
			continue
		}
		t.Run(ct.Code, func(t *testing.T) {
			for _, os := range []string{"linux", "windows"} {
				for _, plan := range []string{"2021-on-demand", "2021-on-demand-pro"} {
					p, ok := byKey[key{ct.Code, os, plan}]
					if !ok {
						t.Errorf("missing %s/%s", os, plan)
						continue
					}
					if p.PlanName != plan || p.Value.Currency != "USD" || p.Value.Symbol != "$" || !p.IsActive {
						t.Errorf("odd price entry %+v", p)
					}
				}
			}
			amount := func(plan string) float64 {
				f, _ := strconv.ParseFloat(byKey[key{ct.Code, "linux", plan}].Value.Amount, 64)
				return f
			}
			low, _ := strconv.ParseFloat(ct.LowPriorityPrice, 64)
			if amount("2021-on-demand-pro") != ct.Price || amount("2021-on-demand") != low {
				t.Errorf("linux prices %v/%v disagree with coretype price %v, lowPriorityPrice %v",
					amount("2021-on-demand-pro"), amount("2021-on-demand"), ct.Price, ct.LowPriorityPrice)
			}
		})
	}
}

func TestFindVersion(t *testing.T) {
	c := load(t)
	tests := []struct {
		name, code, version string
		wantCode            string // versionCode; "" = want an error
	}{
		{"by version", "abaqus", "6.13-5", "6.13.5-ibm"},
		{"by versionCode", "abaqus", "6.13.5-ibm", "6.13.5-ibm"},
		{"latest is first listed", "abaqus", "", "6.14.1-pcmpi"},
		{"latest openfoam", "openfoam", "", "v1912-openmpi"},
		{"display version with suffix", "abaqus", "6.12-1-asca", "6.12.0-asca"},
		{"ls_dyna display version", "ls_dyna", "R13.0.0", "13.0.0"},
		{"user_included latest", "user_included", "", "0"},
		{"user_included_mpi latest", "user_included_mpi", "", "4.1-openmpi"},
		{"latest", "openfoam", "latest", "v1912-openmpi"},
		{"real style versionCode", "openfoam_plus", "v1712+-intelmpi", "v1712+-intelmpi"},
		{"real style version", "openfoam_plus", "v1712+", "v1712+-intelmpi"},
		{"openfoam 7 by version", "openfoam", "7", "7-intelmpi"},
		{"unknown code", "fooware", "1.2.3", ""},
		{"unknown code, no version", "fooware", "", ""},
		{"unknown version", "abaqus", "2099", ""},
		{"case matters", "Abaqus", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, v, err := c.FindVersion(tt.code, tt.version)
			if tt.wantCode == "" {
				e, ok := errs.As(err)
				if !ok || e.Code != errs.Invalid || e.Field != "analysis" {
					t.Fatalf("err = %v, want Invalid on field analysis", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("FindVersion: %v", err)
			}
			if a.Code != tt.code || v.VersionCode != tt.wantCode {
				t.Errorf("got %s %s, want %s %s", a.Code, v.VersionCode, tt.code, tt.wantCode)
			}
		})
	}
}

// An unknown analysis code is refused with the nearest known codes.
func TestUnknownCodeSuggestions(t *testing.T) {
	c := load(t)
	tests := []struct{ code, want string }{
		{"openfoam_pls", `unknown analysis code "openfoam_pls"; did you mean openfoam_plus?`},
		{"Abaqus", `did you mean abaqus?`},
		{"ls-dyna", `did you mean ls_dyna?`},
		{"lamps", `did you mean lammps?`},
		{"zzzzzzzzzzzz", `unknown analysis code "zzzzzzzzzzzz"`},
		{strings.Repeat("x", 5000), `unknown analysis code "` + strings.Repeat("x", 64) + `…"`},
	}
	for _, tt := range tests {
		_, _, err := c.FindVersion(tt.code, "")
		e, ok := errs.As(err)
		if !ok || e.Code != errs.Invalid || !strings.Contains(e.Message, tt.want) {
			t.Errorf("FindVersion(%.20q): %v, want a message containing %q", tt.code, err, tt.want)
		}
		if ok && strings.Contains(e.Message, "did you mean") != strings.Contains(tt.want, "did you mean") {
			t.Errorf("FindVersion(%.20q): %q", tt.code, e.Message)
		}
	}
	_, _, err := c.FindVersion("openfoam", "v99")
	if e, _ := errs.As(err); e == nil || !strings.Contains(e.Message, "v1912-openmpi, 7-intelmpi") || !strings.Contains(e.Message, "or latest") {
		t.Errorf("unknown version: %v", err)
	}
}

func TestSearchAnalyses(t *testing.T) {
	c := load(t)
	all := make([]string, 0, len(c.Analyses()))
	for _, a := range c.Analyses() {
		all = append(all, a.Code)
	}
	tests := []struct {
		q    string
		want []string
	}{
		{"", all},
		{"ABAQUS", []string{"abaqus", "calculix"}}, // CalculiX: "an Abaqus-like input format"
		{"ls-dyna", []string{"ls_dyna"}},
		{"fluid dynamics", []string{"abaqus", "ansys_fluent", "openfoam"}},
		{"incremental", []string{"adina"}},               // "<b>I</b>ncremental": text, not markup
		{"Hexagon", []string{"msc_marc", "msc_nastran"}}, // vendor
		{"lattice boltzmann", []string{"powerflow", "xflow"}},
		{"custom user", []string{"user_included", "user_included_mpi"}},
		{"<b>", nil}, // markup is not text
		{"nothing-matches-this", nil},
	}
	for _, tt := range tests {
		t.Run(tt.q, func(t *testing.T) {
			var got []string
			for _, a := range c.SearchAnalyses(tt.q) {
				got = append(got, a.Code)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("SearchAnalyses(%q) = %v, want %v", tt.q, got, tt.want)
			}
		})
	}
}

func TestCoretypeOrder(t *testing.T) {
	c := load(t)
	cts := c.Coretypes()
	for i := 1; i < len(cts); i++ {
		a, b := cts[i-1], cts[i]
		switch {
		case a.DisplayOrder == nil && b.DisplayOrder != nil:
			t.Errorf("%s (no order) before %s", a.Code, b.Code)
		case a.DisplayOrder != nil && b.DisplayOrder != nil && *a.DisplayOrder > *b.DisplayOrder:
			t.Errorf("%s (%d) before %s (%d)", a.Code, *a.DisplayOrder, b.Code, *b.DisplayOrder)
		case (a.DisplayOrder == nil) == (b.DisplayOrder == nil) &&
			(a.DisplayOrder == nil || *a.DisplayOrder == *b.DisplayOrder) && a.Code > b.Code:
			t.Errorf("tie not broken by code: %s before %s", a.Code, b.Code)
		}
	}
}

func TestDeployment(t *testing.T) {
	c := load(t)
	tests := []struct {
		code         string
		ok           bool
		cores        int
		wantInstance string
		wantGPUs     int
	}{
		{"hpc-3", true, 18, "c4.8xlarge", 0}, // the spec's storage-device sample
		{"standard-plus", true, 8, "m5d.4xlarge", 0},
		{"gpu-tesla", true, 16, "p3.8xlarge", 4},
		{"gpu-kepler", false, 0, "", 0}, // deprecated: no compute environment
		{"nope", false, 0, "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.code, func(t *testing.T) {
			d, ok := c.Deployment(tt.code)
			if ok != tt.ok {
				t.Fatalf("ok = %v, want %v", ok, tt.ok)
			}
			if !ok {
				return
			}
			if got, _ := d.InstanceType(tt.cores); got != tt.wantInstance {
				t.Errorf("InstanceType(%d) = %q, want %q", tt.cores, got, tt.wantInstance)
			}
			if got := d.GPUs(tt.cores); got != tt.wantGPUs {
				t.Errorf("GPUs(%d) = %d, want %d", tt.cores, got, tt.wantGPUs)
			}
		})
	}
	for _, ct := range c.Coretypes() {
		if _, ok := c.Deployment(ct.Code); ok == ct.IsDeprecated {
			t.Errorf("%s: deployment present = %v, deprecated = %v", ct.Code, ok, ct.IsDeprecated)
		}
	}
}

// Callers get copies: editing a result must not change the catalog.
func TestAccessorsReturnCopies(t *testing.T) {
	c := load(t)
	ct, _ := c.Coretype("standard-plus")
	ct.Cores[0] = 99
	*ct.DisplayOrder = 99
	ct.Deployment.InstanceTypes["1"] = "x"
	c.Coretypes()[0].Cores[0] = 99
	a, _ := c.Analysis("abaqus")
	a.Versions[0].AllowedCoreTypes[0] = "x"
	c.ComputePrices()[0].Value.Amount = "x"

	again, _ := c.Coretype("standard-plus")
	if again.Cores[0] != 1 || *again.DisplayOrder != 1 || again.Deployment.InstanceTypes["1"] != "m5d.large" {
		t.Errorf("coretype changed through a returned copy: %+v", again)
	}
	if first := c.Coretypes()[0]; first.Cores[0] == 99 {
		t.Errorf("Coretypes shares memory with the catalog")
	}
	if a2, _ := c.Analysis("abaqus"); a2.Versions[0].AllowedCoreTypes[0] != "gpu-kepler" {
		t.Errorf("analysis changed through a returned copy")
	}
	if c.ComputePrices()[0].Value.Amount == "x" {
		t.Errorf("prices changed through a returned copy")
	}
}

// Validate must catch each kind of broken seed. Each case breaks one thing
// in a copy of the real catalog.
func TestValidateCatchesBadCatalogs(t *testing.T) {
	good := load(t)
	tests := []struct {
		name   string
		mutate func(cts []Coretype, as []Analysis, ps []ComputePrice) ([]Coretype, []Analysis, []ComputePrice)
		want   string
	}{
		{"allowedCoreTypes references unknown coretype", func(cts []Coretype, as []Analysis, ps []ComputePrice) ([]Coretype, []Analysis, []ComputePrice) {
			as[0].Versions[0].AllowedCoreTypes = append(as[0].Versions[0].AllowedCoreTypes, "unobtainium")
			return cts, as, ps
		}, `unknown coretype "unobtainium"`},
		{"price references unknown coretype", func(cts []Coretype, as []Analysis, ps []ComputePrice) ([]Coretype, []Analysis, []ComputePrice) {
			ps[0].CoreType = "unobtainium"
			return cts, as, ps
		}, `compute price: unknown coretype "unobtainium"`},
		{"duplicate coretype code", func(cts []Coretype, as []Analysis, ps []ComputePrice) ([]Coretype, []Analysis, []ComputePrice) {
			return append(cts, cts[0]), as, ps
		}, "duplicate code"},
		{"duplicate analysis code", func(cts []Coretype, as []Analysis, ps []ComputePrice) ([]Coretype, []Analysis, []ComputePrice) {
			return cts, append(as, as[0]), ps
		}, "duplicate code"},
		{"duplicate versionCode", func(cts []Coretype, as []Analysis, ps []ComputePrice) ([]Coretype, []Analysis, []ComputePrice) {
			as[0].Versions[1].VersionCode = as[0].Versions[0].VersionCode
			return cts, as, ps
		}, "duplicate versionCode"},
		{"analysis without versions", func(cts []Coretype, as []Analysis, ps []ComputePrice) ([]Coretype, []Analysis, []ComputePrice) {
			as[0].Versions = nil
			return cts, as, ps
		}, "no versions"},
		{"active coretype without deployment", func(cts []Coretype, as []Analysis, ps []ComputePrice) ([]Coretype, []Analysis, []ComputePrice) {
			cts[0].Deployment = nil
			return cts, as, ps
		}, "no deployment"},
		{"size without instance type", func(cts []Coretype, as []Analysis, ps []ComputePrice) ([]Coretype, []Analysis, []ComputePrice) {
			cts[0].Cores = append(cts[0].Cores, 1000)
			return cts, as, ps
		}, "for 1000 cores"},
		{"duplicate price", func(cts []Coretype, as []Analysis, ps []ComputePrice) ([]Coretype, []Analysis, []ComputePrice) {
			return cts, as, append(ps, ps[0])
		}, "duplicate"},
		{"bad amount", func(cts []Coretype, as []Analysis, ps []ComputePrice) ([]Coretype, []Analysis, []ComputePrice) {
			ps[0].Value.Amount = "cheap"
			return cts, as, ps
		}, `amount "cheap"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cts, as, ps := tt.mutate(good.Coretypes(), good.Analyses(), good.ComputePrices())
			_, err := New(cts, as, ps)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("New: err = %v, want one containing %q", err, tt.want)
			}
			// Validate on its own reports the same problem.
			bad := &Catalog{coretypes: cts, analyses: as, prices: ps}
			if err := bad.Validate(); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Validate: err = %v, want one containing %q", err, tt.want)
			}
		})
	}
}

// Seed decoding is strict: an unknown or misspelt key fails the load instead
// of silently dropping a field.
func TestDecodeStrict(t *testing.T) {
	tests := []struct {
		name, doc string
		ok        bool
	}{
		{"known keys", `[{"coreType":"x","os":"linux"}]`, true},
		{"unknown key", `[{"coreType":"x","oss":"linux"}]`, false},
		{"trailing data", `[] []`, false},
		{"wrong type", `[{"isActive":"yes"}]`, false},
		{"comment lines", "// where the values come from\n[\n  // an entry\n  {\"coreType\":\"x//y\"}\r\n]\n", true},
		{"comment after a value", `[{"coreType":"x"}] // no`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var v []ComputePrice
			err := decode("test.json", strings.NewReader(tt.doc), &v)
			if (err == nil) != tt.ok {
				t.Errorf("decode = %v, want ok %v", err, tt.ok)
			}
		})
	}
	var seeds []coretypeSeed
	err := decode("test.json", strings.NewReader(`[{"code":"x","deployment":{"ec2InstanceFamily":"c5","bogus":1}}]`), &seeds)
	if err == nil {
		t.Errorf("unknown key inside deployment accepted")
	}
}
