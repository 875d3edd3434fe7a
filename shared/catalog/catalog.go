// Package catalog is the platform's static catalog: coretypes (hardware),
// analyses (software and its versions) and compute prices. It is seed data
// embedded in the binary rather than records in the store, because it changes
// with releases, not with users, and every deployment (Lambda or local) must
// answer identically without a migration step.
//
// The API types render exactly the field names and JSON types of the spec's
// sample responses (003: Coretypes, Analyses, List All Compute Prices), so
// handlers can encode them directly. Deployment data for infra rides along in
// the seed file but never reaches a response.
//
// Analysis codes: besides the spec's examples (abaqus, openfoam, ls_dyna,
// adina, user_included) the catalog has "user_included_mpi" for
// bring-your-own MPI programs. It is a separate code rather than a second
// version of user_included because (1) a request that names user_included
// without a version resolves to the latest, i.e. first listed, version, and
// existing clients expect that to stay the plain "0" runtime the spec's
// examples use; (2) an MPI runtime is a different environment (MPI library,
// machinefile, inter-node SSH), not a newer release of the same software,
// which is what versions mean for every other analysis; (3) a distinct code
// and name make it findable in listings and search.
package catalog

import (
	"bytes"
	"cmp"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/openrescale/platform/shared/errs"
)

// data holds the seed files; embedding keeps the catalog identical in every
// deployment and avoids a file path that Lambda and local mode would resolve
// differently.
//
//go:embed data/*.json
var data embed.FS

// Coretype is one hardware class as GET /api/v2/coretypes/ renders it. Field
// order and JSON types follow the spec's sample: price is a number while
// lowPriorityPrice is a string, displayOrder may be null.
type Coretype struct {
	HasSSD           bool    `json:"hasSsd"`
	Code             string  `json:"code"`
	Compute          string  `json:"compute"`
	Name             string  `json:"name"`
	IsDeprecated     bool    `json:"isDeprecated"`
	Price            float64 `json:"price"`
	RemoteVizAllowed bool    `json:"remoteVizAllowed"`
	// Storage is scratch per core, in GB.
	Storage          int    `json:"storage"`
	LowPriorityPrice string `json:"lowPriorityPrice"`
	WalltimeRequired bool   `json:"walltimeRequired"`
	DisplayOrder     *int   `json:"displayOrder"`
	IO               string `json:"io"`
	// Memory is per core, in MB.
	Memory        int    `json:"memory"`
	Cores         []int  `json:"cores"`
	IsPrimary     bool   `json:"isPrimary"`
	ProcessorInfo string `json:"processorInfo"`
	StorageIO     string `json:"storageIo"`
	Description   string `json:"description"`

	// Deployment is how infra runs this coretype; nil for deprecated
	// coretypes, which accept no jobs and so need no compute environment.
	// Never rendered: clients must not learn or depend on instance types.
	Deployment *Deployment `json:"-"`
}

// SupportsCores reports whether n cores per node is one of the coretype's
// instance sizes.
func (c Coretype) SupportsCores(n int) bool { return slices.Contains(c.Cores, n) }

// Deployment is the infra side of a coretype: one AWS Batch compute
// environment per coretype, launching the listed EC2 instance types.
type Deployment struct {
	EC2InstanceFamily string `json:"ec2InstanceFamily"`
	// InstanceTypes maps cores per node (decimal, one key per entry of the
	// coretype's cores) to the EC2 instance type providing that size.
	InstanceTypes map[string]string `json:"instanceTypes"`
	// VCPUsPerCore converts the coretype's cores (physical, as the real
	// service counts them) to the vCPUs AWS Batch schedules: 2 with
	// hyperthreading, 1 on instances that disable SMT (hpc6a, hpc6id).
	VCPUsPerCore int `json:"vcpusPerCore"`
	// GPUsPerNode is keyed like InstanceTypes; absent for CPU-only coretypes
	// because GPU count is not proportional to cores on every family.
	GPUsPerNode map[string]int `json:"gpusPerNode,omitempty"`
	// EFA: the instances need an Elastic Fabric Adapter and a cluster
	// placement group for multi-node MPI.
	EFA bool `json:"efa,omitempty"`
}

// InstanceType is the EC2 instance type for a node of the given cores.
func (d Deployment) InstanceType(cores int) (string, bool) {
	t, ok := d.InstanceTypes[strconv.Itoa(cores)]
	return t, ok
}

// GPUs is the number of GPUs on a node of the given cores (0 if none).
func (d Deployment) GPUs(cores int) int { return d.GPUsPerNode[strconv.Itoa(cores)] }

// InstanceTypeNames lists the deployment's instance types, sorted, for a
// compute environment's instanceTypes.
func (d Deployment) InstanceTypeNames() []string {
	return slices.Sorted(maps.Values(d.InstanceTypes))
}

// Analysis is one software package as GET /api/v2/analyses/ renders it.
type Analysis struct {
	Industries          []Industry        `json:"industries"`
	Code                string            `json:"code"`
	Description         string            `json:"description"` // HTML, as in the spec
	Versions            []AnalysisVersion `json:"versions"`    // latest first
	SupportDesks        []SupportDesk     `json:"supportDesks"`
	HasRescaleLicense   bool              `json:"hasRescaleLicense"`
	VendorName          string            `json:"vendorName"`
	Pricing             string            `json:"pricing"`
	HasShortTermLicense bool              `json:"hasShortTermLicense"`
	LicenseSettings     []LicenseSetting  `json:"licenseSettings"`
	// OptimizerType is an object of unspecified shape ("TODO" in the spec)
	// and null in every sample; raw JSON keeps whatever the seed holds.
	OptimizerType json.RawMessage `json:"optimizerType"`
	Thumbnail     string          `json:"thumbnail"`
	Resources     []Resource      `json:"resources"`
	Name          string          `json:"name"`
	// Category is the kind of work the software does, one of Categories.
	// Not in the spec (docs/api-decisions.md): clients filter by it.
	Category string `json:"category"`
}

// Categories are the values of Analysis.Category.
var Categories = []string{"CFD", "FEA", "Crash", "EM", "Multiphysics", "Molecular Dynamics", "Chemistry", "Data Science", "Visualization", "Custom"}

// Latest is the version a job may name to mean the analysis's latest
// version, as leaving it out does.
const Latest = "latest"

// Version finds a version by its versionCode or, failing that, by its
// display version. versionCode wins because it is what job requests carry
// (the spec's job examples send "2.3.0-openmpi", and ls_dyna "9.0.0" for
// R9.0.0). Display versions are accepted too because the listing shows
// "version" first and a client copying it (abaqus "6.14-1") means the same
// software; Validate keeps both unique within an analysis.
func (a Analysis) Version(v string) (AnalysisVersion, bool) {
	for _, av := range a.Versions {
		if av.VersionCode == v {
			return cloneVersion(av), true
		}
	}
	for _, av := range a.Versions {
		if av.Version == v {
			return cloneVersion(av), true
		}
	}
	return AnalysisVersion{}, false
}

// AnalysisVersion is one installable version of an analysis.
type AnalysisVersion struct {
	Eula             *string  `json:"eula"`
	AllowedCoreTypes []string `json:"allowedCoreTypes"` // empty: every coretype
	StdCommand       string   `json:"stdCommand"`
	Version          string   `json:"version"` // display name, e.g. "6.14-1"
	MPICommand       string   `json:"mpiCommand"`
	VersionCode      string   `json:"versionCode"` // what jobs reference, e.g. "6.14.1-pcmpi"
	SMPCommand       string   `json:"smpCommand"`
}

// AllowsCoretype reports whether jobs of this version may run on the
// coretype. An empty list allows all, as the spec's ADINA sample implies.
func (v AnalysisVersion) AllowsCoretype(code string) bool {
	return len(v.AllowedCoreTypes) == 0 || slices.Contains(v.AllowedCoreTypes, code)
}

// Industry is an industry an analysis serves; icon may be null.
type Industry struct {
	Name string  `json:"name"`
	Icon *string `json:"icon"`
}

// SupportDesk is who answers questions about an analysis.
type SupportDesk struct {
	Code        string `json:"code"`
	DisplayName string `json:"displayName"`
	Email       string `json:"email"`
}

// LicenseSetting is a licence input a job of this analysis may need (set
// as an environment variable named Name).
type LicenseSetting struct {
	IsServer    bool   `json:"isServer"`
	LicenseType string `json:"licenseType"`
	HelpText    string `json:"helpText"`
	Name        string `json:"name"`
	Label       string `json:"label"`
}

// Resource is a tutorial link.
type Resource struct {
	URL  string `json:"url"`
	Name string `json:"name"`
}

// ComputePrice is one entry of GET /api/v2/billing/computeprices/: the
// per-core-hour price of a coretype for an OS and billing plan. The
// "2021-on-demand" plan is On Demand Economy (the coretype's
// lowPriorityPrice), "2021-on-demand-pro" On Demand Priority (its price).
type ComputePrice struct {
	CoreType string `json:"coreType"`
	OS       string `json:"os"` // "linux" or "windows"
	PlanType string `json:"planType"`
	PlanName string `json:"planName"`
	Value    Money  `json:"value"`
	IsActive bool   `json:"isActive"`
}

// Money is an amount as the spec renders it: a decimal string, so that
// clients never see binary floating-point rounding.
type Money struct {
	Currency string `json:"currency"`
	Amount   string `json:"amount"`
	Symbol   string `json:"symbol"`
}

// Catalog is the validated, immutable catalog. Accessors return copies, so a
// caller editing a result cannot change what the next request sees.
type Catalog struct {
	coretypes  []Coretype // displayOrder (null last), then code
	analyses   []Analysis // by code
	prices     []ComputePrice
	coretypeAt map[string]int
	analysisAt map[string]int
}

// coretypeSeed is a coretype as stored in coretypes.json: the API fields
// plus the deployment under its own key. The outer field shadows the
// embedded json:"-" one, so only the seed decoder sees "deployment".
type coretypeSeed struct {
	Coretype
	Deployment *Deployment `json:"deployment"`
}

// Load parses and validates the embedded seed files. An error means the
// binary was built with a broken catalog; callers should fail at startup.
func Load() (*Catalog, error) {
	var seeds []coretypeSeed
	if err := decodeStrict("data/coretypes.json", &seeds); err != nil {
		return nil, err
	}
	coretypes := make([]Coretype, len(seeds))
	for i, s := range seeds {
		c := s.Coretype
		c.Deployment = s.Deployment
		coretypes[i] = c
	}
	var analyses []Analysis
	if err := decodeStrict("data/analyses.json", &analyses); err != nil {
		return nil, err
	}
	var prices []ComputePrice
	if err := decodeStrict("data/computeprices.json", &prices); err != nil {
		return nil, err
	}
	return New(coretypes, analyses, prices)
}

// decodeStrict rejects unknown keys and trailing data, because a typo in a
// seed key would otherwise silently drop a field the API must render.
func decodeStrict(name string, v any) error {
	f, err := data.Open(name)
	if err != nil {
		return fmt.Errorf("catalog: open %s: %w", name, err)
	}
	defer f.Close()
	return decode(name, f, v)
}

// decode reads one JSON value. Lines whose first non-blank characters are
// "//" are comments (the seed files say where their values come from); a
// JSON string cannot span lines, so such a line is never part of a value.
// They are emptied rather than removed, so that the lines of what follows
// stay where an editor shows them.
func decode(name string, r io.Reader, v any) error {
	raw, err := io.ReadAll(r)
	if err != nil {
		return fmt.Errorf("catalog: read %s: %w", name, err)
	}
	lines := bytes.SplitAfter(raw, []byte("\n"))
	for i, l := range lines {
		if bytes.HasPrefix(bytes.TrimLeft(l, " \t"), []byte("//")) {
			lines[i] = l[len(bytes.TrimRight(l, "\r\n")):] // the line ending alone
		}
	}
	dec := json.NewDecoder(bytes.NewReader(bytes.Join(lines, nil)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("catalog: decode %s: %w", name, err)
	}
	if err := dec.Decode(&struct{}{}); !errors.Is(err, io.EOF) {
		return fmt.Errorf("catalog: decode %s: trailing data after the top-level value", name)
	}
	return nil
}

// New builds a catalog from the given records (copied, so the caller keeps
// ownership of its slices) and validates it. Tests and tools use it to build
// catalogs other than the embedded one.
func New(coretypes []Coretype, analyses []Analysis, prices []ComputePrice) (*Catalog, error) {
	c := &Catalog{
		coretypes: make([]Coretype, len(coretypes)),
		analyses:  make([]Analysis, len(analyses)),
		prices:    slices.Clone(prices),
	}
	for i, ct := range coretypes {
		c.coretypes[i] = cloneCoretype(ct)
	}
	for i, a := range analyses {
		c.analyses[i] = cloneAnalysis(a)
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	slices.SortStableFunc(c.coretypes, func(a, b Coretype) int {
		// Coretypes without a displayOrder go last, as they are the odd
		// ones (test, deprecated) that a UI lists after the real choices.
		switch {
		case a.DisplayOrder == nil && b.DisplayOrder != nil:
			return 1
		case a.DisplayOrder != nil && b.DisplayOrder == nil:
			return -1
		case a.DisplayOrder != nil && *a.DisplayOrder != *b.DisplayOrder:
			return cmp.Compare(*a.DisplayOrder, *b.DisplayOrder)
		}
		return cmp.Compare(a.Code, b.Code)
	})
	slices.SortStableFunc(c.analyses, func(a, b Analysis) int { return cmp.Compare(a.Code, b.Code) })
	slices.SortStableFunc(c.prices, func(a, b ComputePrice) int {
		return cmp.Or(cmp.Compare(a.CoreType, b.CoreType), cmp.Compare(a.OS, b.OS), cmp.Compare(a.PlanType, b.PlanType))
	})
	c.coretypeAt = make(map[string]int, len(c.coretypes))
	for i, ct := range c.coretypes {
		c.coretypeAt[ct.Code] = i
	}
	c.analysisAt = make(map[string]int, len(c.analyses))
	for i, a := range c.analyses {
		c.analysisAt[a.Code] = i
	}
	return c, nil
}

// Validate checks the catalog's internal consistency and reports every
// problem at once, so one run of the tests shows all mistakes in a seed edit.
func (c *Catalog) Validate() error {
	var problems []error
	bad := func(format string, args ...any) { problems = append(problems, fmt.Errorf(format, args...)) }

	known := map[string]bool{}
	for i, ct := range c.coretypes {
		if ct.Code == "" {
			bad("coretype #%d: empty code", i)
			continue
		}
		if known[ct.Code] {
			bad("coretype %q: duplicate code", ct.Code)
		}
		known[ct.Code] = true
		if ct.Name == "" {
			bad("coretype %q: empty name", ct.Code)
		}
		if len(ct.Cores) == 0 {
			bad("coretype %q: no cores", ct.Code)
		}
		for j, n := range ct.Cores {
			if n < 1 || (j > 0 && n <= ct.Cores[j-1]) {
				bad("coretype %q: cores must be positive and ascending, got %v", ct.Code, ct.Cores)
				break
			}
		}
		if ct.Price < 0 {
			bad("coretype %q: negative price", ct.Code)
		}
		if _, err := strconv.ParseFloat(ct.LowPriorityPrice, 64); err != nil {
			bad("coretype %q: lowPriorityPrice %q: %w", ct.Code, ct.LowPriorityPrice, err)
		}
		if ct.Memory < 1 {
			bad("coretype %q: memory must be positive", ct.Code)
		}
		validateDeployment(ct, bad)
	}

	seen := map[string]bool{}
	for i, a := range c.analyses {
		if a.Code == "" {
			bad("analysis #%d: empty code", i)
			continue
		}
		if seen[a.Code] {
			bad("analysis %q: duplicate code", a.Code)
		}
		seen[a.Code] = true
		if a.Name == "" {
			bad("analysis %q: empty name", a.Code)
		}
		if len(a.Versions) == 0 {
			bad("analysis %q: no versions", a.Code)
		}
		if !slices.Contains(Categories, a.Category) {
			bad("analysis %q: category %q is not one of %v", a.Code, a.Category, Categories)
		}
		codes, names := map[string]bool{}, map[string]bool{}
		for _, v := range a.Versions {
			if v.VersionCode == "" {
				bad("analysis %q: version %q has an empty versionCode", a.Code, v.Version)
			}
			if codes[v.VersionCode] {
				bad("analysis %q: duplicate versionCode %q", a.Code, v.VersionCode)
			}
			codes[v.VersionCode] = true
			if names[v.Version] {
				bad("analysis %q: duplicate version %q", a.Code, v.Version)
			}
			if v.Version == Latest || v.VersionCode == Latest {
				bad("analysis %q: %q is reserved for the latest version", a.Code, Latest)
			}
			names[v.Version] = true
			for _, ref := range v.AllowedCoreTypes {
				if !known[ref] {
					bad("analysis %q version %q: allowedCoreTypes references unknown coretype %q", a.Code, v.VersionCode, ref)
				}
			}
		}
	}

	type priceKey struct{ coreType, os, plan string }
	priced := map[priceKey]bool{}
	for _, p := range c.prices {
		if !known[p.CoreType] {
			bad("compute price: unknown coretype %q", p.CoreType)
		}
		if p.OS != "linux" && p.OS != "windows" {
			bad("compute price %q: os must be linux or windows, got %q", p.CoreType, p.OS)
		}
		if p.PlanType == "" || p.PlanName == "" {
			bad("compute price %q/%s: empty plan", p.CoreType, p.OS)
		}
		if _, err := strconv.ParseFloat(p.Value.Amount, 64); err != nil {
			bad("compute price %q/%s/%s: amount %q: %w", p.CoreType, p.OS, p.PlanType, p.Value.Amount, err)
		}
		if p.Value.Currency == "" {
			bad("compute price %q/%s/%s: empty currency", p.CoreType, p.OS, p.PlanType)
		}
		k := priceKey{p.CoreType, p.OS, p.PlanType}
		if priced[k] {
			bad("compute price %q/%s/%s: duplicate", p.CoreType, p.OS, p.PlanType)
		}
		priced[k] = true
	}

	if len(problems) > 0 {
		return fmt.Errorf("catalog: invalid: %w", errors.Join(problems...))
	}
	return nil
}

// validateDeployment requires a deployment for every coretype that accepts
// jobs, with exactly one instance type per advertised size: a size without an
// instance type would be accepted by the API and then never launch.
func validateDeployment(ct Coretype, bad func(string, ...any)) {
	d := ct.Deployment
	if d == nil {
		if !ct.IsDeprecated {
			bad("coretype %q: no deployment", ct.Code)
		}
		return
	}
	if d.EC2InstanceFamily == "" {
		bad("coretype %q: deployment without ec2InstanceFamily", ct.Code)
	}
	if d.VCPUsPerCore < 1 {
		bad("coretype %q: deployment vcpusPerCore must be at least 1", ct.Code)
	}
	sizes := map[string]bool{}
	for _, n := range ct.Cores {
		sizes[strconv.Itoa(n)] = true
		if t, ok := d.InstanceType(n); !ok || !strings.HasPrefix(t, d.EC2InstanceFamily+".") {
			bad("coretype %q: deployment needs an %s.* instance type for %d cores, got %q", ct.Code, d.EC2InstanceFamily, n, t)
		}
	}
	for k := range d.InstanceTypes {
		if !sizes[k] {
			bad("coretype %q: deployment instance type for %s cores, which is not in cores %v", ct.Code, k, ct.Cores)
		}
	}
	for k, g := range d.GPUsPerNode {
		if !sizes[k] || g < 0 {
			bad("coretype %q: deployment gpusPerNode[%s]=%d does not match cores %v", ct.Code, k, g, ct.Cores)
		}
	}
}

// Coretypes lists every coretype, deprecated ones included (the API marks
// them isDeprecated rather than hiding them, so old jobs still resolve), in
// displayOrder then code order.
func (c *Catalog) Coretypes() []Coretype {
	out := make([]Coretype, len(c.coretypes))
	for i, ct := range c.coretypes {
		out[i] = cloneCoretype(ct)
	}
	return out
}

// Coretype looks a coretype up by code.
func (c *Catalog) Coretype(code string) (Coretype, bool) {
	i, ok := c.coretypeAt[code]
	if !ok {
		return Coretype{}, false
	}
	return cloneCoretype(c.coretypes[i]), true
}

// Deployment is the infra data of a coretype; false for unknown codes and
// for deprecated coretypes, which have no compute environment.
func (c *Catalog) Deployment(code string) (Deployment, bool) {
	i, ok := c.coretypeAt[code]
	if !ok || c.coretypes[i].Deployment == nil {
		return Deployment{}, false
	}
	return *cloneDeployment(c.coretypes[i].Deployment), true
}

// Analyses lists every analysis in code order.
func (c *Catalog) Analyses() []Analysis {
	out := make([]Analysis, len(c.analyses))
	for i, a := range c.analyses {
		out[i] = cloneAnalysis(a)
	}
	return out
}

// Analysis looks an analysis up by code.
func (c *Catalog) Analysis(code string) (Analysis, bool) {
	i, ok := c.analysisAt[code]
	if !ok {
		return Analysis{}, false
	}
	return cloneAnalysis(c.analyses[i]), true
}

// FindVersion resolves a job's {"code", "version"}. An empty version, or
// "latest", means the latest, i.e. the first listed, because the spec makes
// "version" optional in job requests. Codes are case-sensitive, as in the
// real service; an unknown one is answered with the nearest known codes.
// Errors are Invalid on field "analysis", since they always stem from the
// client's job body.
func (c *Catalog) FindVersion(code, version string) (Analysis, AnalysisVersion, error) {
	a, ok := c.Analysis(code)
	if !ok {
		if near := c.nearestCodes(code); len(near) > 0 {
			return Analysis{}, AnalysisVersion{}, errs.Field("analysis", "unknown analysis code %q; did you mean %s?", errs.Clip(code), strings.Join(near, " or "))
		}
		return Analysis{}, AnalysisVersion{}, errs.Field("analysis", "unknown analysis code %q", errs.Clip(code))
	}
	if version == "" || version == Latest {
		return a, cloneVersion(a.Versions[0]), nil
	}
	v, ok := a.Version(version)
	if !ok {
		known := make([]string, len(a.Versions))
		for i, av := range a.Versions {
			known[i] = av.VersionCode
		}
		return Analysis{}, AnalysisVersion{}, errs.Field("analysis",
			"analysis %q has no version %q (available: %s, or %s)", code, errs.Clip(version), strings.Join(known, ", "), Latest)
	}
	return a, v, nil
}

// nearestCodes are the analysis codes nearest to code (up to three, all at
// the same edit distance), if any is near enough to be a typo, a different
// case or "-" for "_".
func (c *Catalog) nearestCodes(code string) []string {
	if len(code) > 64 {
		return nil
	}
	type cand struct {
		code string
		d    int
	}
	var found []cand
	limit := max(2, len(code)/3)
	for _, a := range c.analyses {
		if d := editDistance(strings.ToLower(code), a.Code); d <= limit {
			found = append(found, cand{a.Code, d})
		}
	}
	slices.SortStableFunc(found, func(x, y cand) int { return cmp.Or(cmp.Compare(x.d, y.d), cmp.Compare(x.code, y.code)) })
	var out []string
	for _, f := range found {
		if f.d > found[0].d || len(out) == 3 {
			break
		}
		out = append(out, f.code)
	}
	return out
}

// editDistance is the Levenshtein distance between a and b, in bytes (codes
// are ASCII).
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// SearchAnalyses returns the analyses whose code, name, vendor or
// description contains q, case-insensitively; an empty q returns all. The
// description is matched as text, without its HTML markup, so that a search
// for "b" does not match every <b> tag.
func (c *Catalog) SearchAnalyses(q string) []Analysis {
	q = strings.ToLower(strings.TrimSpace(q))
	var out []Analysis
	for _, a := range c.analyses {
		fields := []string{a.Code, a.Name, a.VendorName, htmlText(a.Description)}
		if q == "" || slices.ContainsFunc(fields, func(s string) bool { return strings.Contains(strings.ToLower(s), q) }) {
			out = append(out, cloneAnalysis(a))
		}
	}
	return out
}

// ComputePrices lists every price, ordered by coretype, os and plan.
func (c *Catalog) ComputePrices() []ComputePrice { return slices.Clone(c.prices) }

// htmlText drops tags and decodes entities; the seed descriptions are simple
// trusted markup, so a tag stripper is enough (no parser needed).
func htmlText(s string) string {
	var b strings.Builder
	inTag := false
	for _, r := range s {
		switch {
		case r == '<':
			inTag = true
		case r == '>' && inTag:
			inTag = false
		case !inTag:
			b.WriteRune(r)
		}
	}
	return html.UnescapeString(b.String())
}

// Clones. Every list comes out non-nil so that it renders as [] like the
// spec's samples, even for records built in code with nil slices.

func list[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return slices.Clone(s)
}

func ptrCopy[T any](p *T) *T {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}

func cloneCoretype(c Coretype) Coretype {
	c.Cores = list(c.Cores)
	c.DisplayOrder = ptrCopy(c.DisplayOrder)
	c.Deployment = cloneDeployment(c.Deployment)
	return c
}

func cloneDeployment(d *Deployment) *Deployment {
	if d == nil {
		return nil
	}
	out := *d
	out.InstanceTypes = maps.Clone(d.InstanceTypes)
	out.GPUsPerNode = maps.Clone(d.GPUsPerNode)
	return &out
}

func cloneVersion(v AnalysisVersion) AnalysisVersion {
	v.Eula = ptrCopy(v.Eula)
	v.AllowedCoreTypes = list(v.AllowedCoreTypes)
	return v
}

func cloneAnalysis(a Analysis) Analysis {
	a.Industries = list(a.Industries)
	for i := range a.Industries {
		a.Industries[i].Icon = ptrCopy(a.Industries[i].Icon)
	}
	a.Versions = list(a.Versions)
	for i := range a.Versions {
		a.Versions[i] = cloneVersion(a.Versions[i])
	}
	a.SupportDesks = list(a.SupportDesks)
	a.LicenseSettings = list(a.LicenseSettings)
	a.Resources = list(a.Resources)
	// A missing optimizerType must still render as null, never be omitted.
	if len(a.OptimizerType) == 0 {
		a.OptimizerType = json.RawMessage("null")
	} else {
		a.OptimizerType = bytes.Clone(a.OptimizerType)
	}
	return a
}
