package doe

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"strings"

	"github.com/openrescale/platform/shared/errs"
)

// Variable is a job variable as the job holds it ("jobvariables"):
// GeneratorType is valueGeneratorType (variableGeneratorType in the spec's
// create table) and Settings the raw valueGeneratorSettings.
type Variable struct {
	Name          string
	VariableType  string
	GeneratorType string
	Settings      json.RawMessage
	DisplayOrder  int
}

// Variable types.
const (
	TypeParam      = "Param"
	TypeDesign     = "Design"
	TypeCase       = "Case"
	TypeOutput     = "Output"
	TypeConstraint = "Constraint"
	TypeObjective  = "Objective"
)

// Generator types.
const (
	GenFixedRange = "FixedRange"
	GenLinspace   = "Linspace"
	GenUniform    = "Uniform"
	GenNormal     = "Normal"
	GenTriangular = "Triangular"
	GenLogNormal  = "LogNormal"
)

var variableTypes = []string{TypeParam, TypeDesign, TypeCase, TypeOutput, TypeConstraint, TypeObjective}

var generatorTypes = []string{GenFixedRange, GenLinspace, GenUniform, GenNormal, GenTriangular, GenLogNormal}

// pcgStream is the PCG's second seed word; the caller's seed is the first.
const pcgStream = 0x9E3779B97F4A7C15

// canonical returns the member of names equal to s ignoring case, or "".
func canonical(s string, names []string) string {
	for _, n := range names {
		if strings.EqualFold(s, n) {
			return n
		}
	}
	return ""
}

// isInput reports whether a (canonical) variable type takes generated values.
func isInput(t string) bool { return t == TypeParam || t == TypeDesign || t == TypeCase }

// Responses returns the names of the Output, Constraint and Objective
// variables in displayOrder: the values ParseOutputs looks for.
func Responses(vars []Variable) []string {
	sorted := sortedVars(vars)
	var names []string
	for _, i := range sorted {
		if t := canonical(vars[i].VariableType, variableTypes); t != "" && !isInput(t) {
			names = append(names, vars[i].Name)
		}
	}
	return names
}

// sortedVars returns the indexes of vars by DisplayOrder, ties in slice order.
func sortedVars(vars []Variable) []int {
	idx := make([]int, len(vars))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return vars[idx[a]].DisplayOrder < vars[idx[b]].DisplayOrder })
	return idx
}

// generator is one input variable's parsed generator.
type generator struct {
	field   string // jobvariables[i]
	name    string
	values  []float64 // deterministic values; nil for a random generator
	draw    func(*rng) float64
	nominal float64
}

// Expand generates the runs of a job's variables (package comment: types,
// generators, factorial and Monte Carlo, nominal run), numbered from 1, of
// type RunTypeCase, each with the input variables' values in displayOrder.
// monteCarlo is monteCarloIterations (0 for none) and seed the recorded seed
// of the job's random draws. Errors are errs.Invalid naming the field:
// "jobvariables[i].name", ".variableType", ".valueGeneratorType",
// ".valueGeneratorSettings.<key>" (i is the index in vars), or
// "monteCarloIterations", and "jobvariables" for the run count.
func Expand(vars []Variable, monteCarlo int, seed uint64, includeNominal bool) ([]Run, error) {
	if len(vars) > MaxVariables {
		return nil, errs.Field("jobvariables", "%d variables, more than %d", len(vars), MaxVariables)
	}
	seen := make(map[string]int, len(vars))
	for i, v := range vars {
		f := fmt.Sprintf("jobvariables[%d]", i)
		if !isName(v.Name) {
			return nil, errs.Field(f+".name", "%q is not a variable name (letters, digits and _, not starting with a digit, at most %d bytes)", v.Name, MaxNameLen)
		}
		if j, dup := seen[v.Name]; dup {
			return nil, errs.Field(f+".name", "%q is also the name of jobvariables[%d]", v.Name, j)
		}
		seen[v.Name] = i
		if canonical(v.VariableType, variableTypes) == "" {
			return nil, errs.Field(f+".variableType", "%q is not a variable type: want one of %s", v.VariableType, strings.Join(variableTypes, ", "))
		}
	}

	var gens []generator
	randomAt := -1
	for _, i := range sortedVars(vars) {
		v := vars[i]
		if !isInput(canonical(v.VariableType, variableTypes)) {
			continue
		}
		g, err := parseGenerator(fmt.Sprintf("jobvariables[%d]", i), v)
		if err != nil {
			return nil, err
		}
		if g.values == nil && randomAt < 0 {
			randomAt = i
		}
		gens = append(gens, g)
	}
	if len(gens) == 0 {
		return nil, errs.Field("jobvariables", "no Param, Design or Case variable to generate runs from")
	}

	// Run count: the factorial of the deterministic values, times the
	// Monte Carlo iterations if anything is random.
	if monteCarlo < 0 {
		return nil, errs.Field("monteCarloIterations", "%d is negative", monteCarlo)
	}
	iters := 1
	if randomAt >= 0 {
		if monteCarlo == 0 {
			return nil, errs.Field("monteCarloIterations", "required (at least 1): jobvariables[%d] uses the random generator %s", randomAt, canonical(vars[randomAt].GeneratorType, generatorTypes))
		}
		if monteCarlo > MaxRuns {
			return nil, errs.Field("monteCarloIterations", "%d is more than %d runs", monteCarlo, MaxRuns)
		}
		iters = monteCarlo
	}
	limit := MaxRuns
	if includeNominal {
		limit--
	}
	n := iters
	for _, g := range gens {
		if g.values == nil {
			continue
		}
		n *= len(g.values) // both factors are at most MaxRuns: no overflow
		if n > limit {
			what := "the values of the variables multiply out to"
			if randomAt >= 0 {
				what = "the values of the variables times monteCarloIterations make"
			}
			nominal := ""
			if includeNominal {
				nominal = " (with the nominal run)"
			}
			return nil, errs.Field("jobvariables", "%s more than %d runs%s", what, MaxRuns, nominal)
		}
	}
	total := n
	if includeNominal {
		total++
	}
	if total*len(gens) > MaxValues {
		return nil, errs.Field("jobvariables", "%d runs × %d variables is more than %d values", total, len(gens), MaxValues)
	}

	r := &rng{src: rand.NewPCG(seed, pcgStream)}
	runs := make([]Run, 0, total)
	pos := make([]int, len(gens)) // odometer over the deterministic values
	for combo := 0; combo < n/iters; combo++ {
		for it := 0; it < iters; it++ {
			vals := make([]Value, len(gens))
			for k, g := range gens {
				if g.values != nil {
					vals[k] = numberValue(g.name, g.values[pos[k]])
				} else {
					x := roundSig(g.draw(r), 10)
					if math.IsInf(x, 0) || math.IsNaN(x) {
						return nil, errs.Field(g.field+".valueGeneratorSettings", "run %d: a draw of %q is not a finite number: the settings are too large", len(runs)+1, g.name)
					}
					vals[k] = numberValue(g.name, x)
				}
			}
			runs = append(runs, Run{Index: len(runs) + 1, Type: RunTypeCase, Values: vals})
		}
		// Advance the odometer: the last deterministic variable fastest.
		for k := len(gens) - 1; k >= 0; k-- {
			if gens[k].values == nil {
				continue
			}
			pos[k]++
			if pos[k] < len(gens[k].values) {
				break
			}
			pos[k] = 0
		}
	}
	if includeNominal {
		vals := make([]Value, len(gens))
		for k, g := range gens {
			vals[k] = numberValue(g.name, g.nominal)
		}
		runs = append(runs, Run{Index: len(runs) + 1, Type: RunTypeCase, Nominal: true, Values: vals})
	}
	return runs, nil
}

// settings are a generator's valueGeneratorSettings by lower-case key.
type settings struct {
	field string
	m     map[string]settingValue
}

type settingValue struct {
	key string // as written
	raw json.RawMessage
}

func parseSettings(field string, raw json.RawMessage) (settings, error) {
	s := settings{field: field, m: map[string]settingValue{}}
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return s, nil
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return s, errs.Field(field, "want a JSON object of settings")
	}
	for k, v := range m {
		lk := strings.ToLower(k)
		if prev, dup := s.m[lk]; dup {
			return s, errs.Field(field, "both %q and %q", prev.key, k)
		}
		s.m[lk] = settingValue{key: k, raw: v}
	}
	return s, nil
}

// num returns the setting named by key or one of its aliases; ok is false
// when none is given (or it is null).
func (s settings) num(key string, aliases ...string) (v float64, f string, ok bool, err error) {
	f = s.field + "." + key
	var found *settingValue
	for _, k := range append([]string{key}, aliases...) {
		sv, has := s.m[strings.ToLower(k)]
		if !has {
			continue
		}
		if found != nil {
			return 0, f, false, errs.Field(s.field+"."+sv.key, "both %q and %q", found.key, sv.key)
		}
		found = &sv
	}
	if found == nil {
		return 0, f, false, nil
	}
	f = s.field + "." + found.key
	raw := bytes.TrimSpace(found.raw)
	if string(raw) == "null" {
		return 0, f, false, nil
	}
	text := string(raw)
	if len(raw) > 0 && raw[0] == '"' {
		if err := json.Unmarshal(raw, &text); err != nil {
			return 0, f, false, errs.Field(f, "want a number")
		}
		text = strings.TrimSpace(text)
	}
	v, good := parseNumber(text)
	if !good {
		return 0, f, false, errs.Field(f, "want a number, got %s", truncate(string(raw), 40))
	}
	return v, f, true, nil
}

// need is num for a required setting.
func (s settings) need(key string, aliases ...string) (float64, string, error) {
	v, f, ok, err := s.num(key, aliases...)
	if err != nil {
		return 0, f, err
	}
	if !ok {
		return 0, f, errs.Field(f, "required")
	}
	return v, f, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

var (
	aliasMin    = []string{"min"}
	aliasMax    = []string{"max"}
	aliasStep   = []string{"step"}
	aliasCount  = []string{"numberOfValues", "numValues", "num"}
	aliasStdDev = []string{"std", "sigma", "standardDeviation"}
)

func parseGenerator(field string, v Variable) (generator, error) {
	g := generator{field: field, name: v.Name}
	kind := canonical(v.GeneratorType, generatorTypes)
	if kind == "" {
		if v.GeneratorType == "" {
			return g, errs.Field(field+".valueGeneratorType", "required for %s variable %q without a parameter file: want one of %s",
				canonical(v.VariableType, variableTypes), v.Name, strings.Join(generatorTypes, ", "))
		}
		return g, errs.Field(field+".valueGeneratorType", "%q is not a generator: want one of %s", v.GeneratorType, strings.Join(generatorTypes, ", "))
	}
	s, err := parseSettings(field+".valueGeneratorSettings", v.Settings)
	if err != nil {
		return g, err
	}
	bounds := func() (lo, hi float64, hiField string, err error) {
		if lo, _, err = s.need("minvalue", aliasMin...); err != nil {
			return
		}
		hi, hiField, err = s.need("maxvalue", aliasMax...)
		return
	}
	switch kind {
	case GenFixedRange:
		lo, hi, hiField, err := bounds()
		if err != nil {
			return g, err
		}
		inc, incField, err := s.need("increment", aliasStep...)
		if err != nil {
			return g, err
		}
		if inc <= 0 {
			return g, errs.Field(incField, "must be greater than 0")
		}
		if hi < lo {
			return g, errs.Field(hiField, "%s is less than minvalue %s", formatNumber(hi), formatNumber(lo))
		}
		steps := math.Floor((hi-lo)/inc + 1e-9)
		if steps+1 > MaxRuns {
			return g, errs.Field(incField, "%s to %s in steps of %s is more than %d values", formatNumber(lo), formatNumber(hi), formatNumber(inc), MaxRuns)
		}
		scale := math.Max(math.Max(math.Abs(lo), math.Abs(hi)), inc)
		for i := 0; i <= int(steps); i++ {
			g.values = append(g.values, roundScale(lo+float64(i)*inc, scale))
		}
		g.nominal = roundScale(lo/2+hi/2, scale)
	case GenLinspace:
		lo, hi, _, err := bounds()
		if err != nil {
			return g, err
		}
		c, cField, err := s.need("count", aliasCount...)
		if err != nil {
			return g, err
		}
		if c < 1 || c != math.Trunc(c) {
			return g, errs.Field(cField, "want a whole number of values, at least 1")
		}
		if c > MaxRuns {
			return g, errs.Field(cField, "%s is more than %d values", formatNumber(c), MaxRuns)
		}
		n := int(c)
		scale := math.Max(math.Abs(lo), math.Abs(hi))
		for i := 0; i < n; i++ {
			x := lo
			if n > 1 {
				t := float64(i) / float64(n-1)
				x = lo*(1-t) + hi*t
			}
			g.values = append(g.values, roundScale(x, scale))
		}
		g.nominal = roundScale(lo/2+hi/2, scale)
	case GenUniform:
		lo, hi, hiField, err := bounds()
		if err != nil {
			return g, err
		}
		if hi < lo {
			return g, errs.Field(hiField, "%s is less than minvalue %s", formatNumber(hi), formatNumber(lo))
		}
		g.draw = func(r *rng) float64 { u := r.float(); return lo*(1-u) + hi*u }
		g.nominal = lo/2 + hi/2
	case GenNormal:
		mean, _, err := s.need("mean")
		if err != nil {
			return g, err
		}
		sd, sdField, err := s.need("stddev", aliasStdDev...)
		if err != nil {
			return g, err
		}
		if sd < 0 {
			return g, errs.Field(sdField, "must not be negative")
		}
		g.draw = func(r *rng) float64 { return mean + sd*r.normal() }
		g.nominal = mean
	case GenLogNormal:
		mean, meanField, err := s.need("mean")
		if err != nil {
			return g, err
		}
		sd, sdField, err := s.need("stddev", aliasStdDev...)
		if err != nil {
			return g, err
		}
		if mean <= 0 {
			return g, errs.Field(meanField, "must be greater than 0 (the mean of the variable, not of its logarithm)")
		}
		if sd < 0 {
			return g, errs.Field(sdField, "must not be negative")
		}
		// The variable's mean m and deviation s give its logarithm's
		// mu and sigma: sigma² = ln(1 + s²/m²), mu = ln m − sigma²/2.
		s2 := math.Log1p((sd / mean) * (sd / mean))
		mu, sigma := math.Log(mean)-s2/2, math.Sqrt(s2)
		g.draw = func(r *rng) float64 { return math.Exp(mu + sigma*r.normal()) }
		g.nominal = mean
	case GenTriangular:
		lo, hi, hiField, err := bounds()
		if err != nil {
			return g, err
		}
		mode, modeField, err := s.need("mode")
		if err != nil {
			return g, err
		}
		if hi < lo {
			return g, errs.Field(hiField, "%s is less than minvalue %s", formatNumber(hi), formatNumber(lo))
		}
		if mode < lo || mode > hi {
			return g, errs.Field(modeField, "%s is outside minvalue %s to maxvalue %s", formatNumber(mode), formatNumber(lo), formatNumber(hi))
		}
		g.draw = func(r *rng) float64 { return triangular(r.float(), lo, mode, hi) }
		g.nominal = mode
	}
	if math.IsInf(g.nominal, 0) {
		g.nominal = 0 // lo/2+hi/2 cannot overflow; mean cannot be inf; defensive only
	}
	nominal, _, ok, err := s.num("nominal", "value")
	if err != nil {
		return g, err
	}
	if ok {
		g.nominal = nominal
	}
	return g, nil
}

// triangular is the inverse CDF of the triangular distribution (a, c, b) at u.
func triangular(u, a, c, b float64) float64 {
	if b == a {
		return a
	}
	if u < (c-a)/(b-a) {
		return a + math.Sqrt(u*(b-a)*(c-a))
	}
	return b - math.Sqrt((1-u)*(b-a)*(b-c))
}

// rng turns the PCG's 64-bit outputs into draws with transforms fixed here
// (not math/rand's, which may change between Go releases), so a seed keeps
// its values.
type rng struct{ src *rand.PCG }

// float returns a uniform draw in [0, 1): one PCG output.
func (r *rng) float() float64 { return float64(r.src.Uint64()>>11) * 0x1p-53 }

// normal returns a standard normal draw by Box–Muller: two PCG outputs.
func (r *rng) normal() float64 {
	u1 := 1 - r.float() // (0, 1]: the logarithm stays finite
	u2 := r.float()
	return math.Sqrt(-2*math.Log(u1)) * math.Cos(2*math.Pi*u2)
}
