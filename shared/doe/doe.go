// Package doe turns a design-of-experiments job's definition into runs and
// renders its templates: the parameter file (paramFile, typeId 3), the job
// variables with their value generators (jobvariables, monteCarloIterations,
// includeNominalRun), template files (typeId 2, templateTasks), Output values
// read back from a run's file, and a summary CSV. It is pure: no store, HTTP
// or files; readers in, values or writers out, memory bounded by the Max*
// limits below. Bad input is an errs.Invalid error whose Field names it
// ("paramFile", "jobvariables[1].valueGeneratorSettings.maxvalue",
// "monteCarloIterations", "template") and whose message names the line.
//
// # Parameter file (ParseParamFile, ParseCaseFile)
//
// CSV, comma-separated, UTF-8 (a leading BOM is skipped; UTF-16 is refused).
// The first non-blank row names the variables; every further row is one run:
//
//	description, v,   z
//	case 1a,     2.2, 3.4
//	"case 1b, with a comma", 2.3, 3.4
//
// Records end at LF, CRLF or a lone CR (old Mac Excel). Blank and
// whitespace-only lines are skipped. Spaces around an unquoted value are
// trimmed; a quoted value ("...", with "" for a quote) keeps everything
// between its quotes, commas and line breaks included (CRLF and CR inside
// quotes become LF). A quote inside an unquoted value is an ordinary
// character. Names are [A-Za-z_][A-Za-z0-9_]* (so a template can name them),
// unique, at most MaxNameLen bytes. Every row has exactly one non-empty value
// per name. A value that is a decimal number (1, -2.5, .5, 1e-3) gets that
// Value and keeps its text as DisplayValue, as written ("2.50" stays "2.50");
// any other value (including NaN, Inf, 0x10 and out-of-range numbers) is text:
// Value 0, Text and DisplayValue the text.
//
// # Job variables (Expand)
//
// Variable types Param, Design and Case are inputs: they take generated
// values. Output, Constraint and Objective are results a run reports
// (Responses, ParseOutputs); they generate nothing and their generator fields
// are ignored. Generators and their valueGeneratorSettings (keys are
// case-insensitive; numbers may be JSON numbers or numeric strings; unknown
// keys are ignored; a key also accepts the aliases in brackets):
//
//	FixedRange  {"minvalue": 1, "maxvalue": 10, "increment": 1}   1, 2, ... 10
//	            [min, max, step]; increment > 0, maxvalue >= minvalue;
//	            maxvalue is included when a step lands on it.
//	Linspace    {"minvalue": 0, "maxvalue": 1, "count": 5}        0, 0.25, ... 1
//	            [min, max, numberOfValues, numValues, num]; count >= 1 values
//	            spaced evenly from minvalue to maxvalue, both included.
//	Uniform     {"minvalue": 0, "maxvalue": 1}                    random in [min, max)
//	Normal      {"mean": 0, "stddev": 1}                          [std, sigma, standardDeviation]
//	Triangular  {"minvalue": 0, "mode": 1, "maxvalue": 3}         min <= mode <= max
//	LogNormal   {"mean": 10, "stddev": 2}                         mean > 0
//
// LogNormal's mean and stddev are those of the variable itself, not of its
// logarithm. Every generator also takes "nominal" [value]: the value of the
// nominal run.
//
// FixedRange and Linspace are deterministic and multiply out as a full
// factorial in displayOrder (the first variable changes slowest): 3 values
// × 3 values → 9 runs. Their values are rounded to 12 significant digits of
// the range's scale, so 0.1 steps give 0.3, not 0.30000000000000004. The
// others are random: with monteCarloIterations = n every combination of the
// deterministic values is run n times, and each run draws each random
// variable afresh. Draws come from a PCG (math/rand/v2) seeded with the
// caller's seed, in run order and, within a run, in displayOrder, using only
// the generator's raw 64-bit outputs and transforms defined here, so a
// recorded seed reproduces the job's values. Random values are rounded to 10
// significant digits. monteCarloIterations is required with a random
// generator and ignored without one.
//
// includeNominalRun appends one more run, last (so the other runs keep their
// numbers), with Nominal set and each variable at its "nominal" setting or,
// without one, at the centre of its generator: the midpoint of minvalue and
// maxvalue for FixedRange, Linspace and Uniform, the mode for Triangular, the
// mean for Normal and LogNormal. It does not consume random draws.
//
// Generated DisplayValues are plain decimals ("20", "3.5", "0.0001"), in
// exponent form only below 1e-6 or from 1e21 ("1e-07"). Value is exactly
// the number DisplayValue spells.
//
// # Templates (Render)
//
// A template is any text; Render copies it and replaces placeholders:
//
//	${name}                    the value's DisplayValue; an undefined name is an error
//	${name?string("0.00")}     the value formatted as a number (see below)
//	$name                      the value, if name is defined; otherwise "$name" is kept
//	$$                         a literal "$"
//	$ before anything else     itself: "$(", "$1", "$ " and a final "$" are literal
//
// A name is [A-Za-z_][A-Za-z0-9_]* and $name takes the longest such name:
// "$xy" is x followed by "y" only if written "${x}y". ${...} must be one of
// the forms above, closed on the same line (spaces inside the braces are
// allowed); anything else after "${" (bash's "${v:-d}", "${#a[@]}", "${1}")
// is an error naming the line: write "$${" for a literal "${". The lenient
// bare form lets a templated shell script keep $HOME or $PATH as they are.
//
// The number format is the ?string(...) Rescale documents for its templates,
// a subset of Java's DecimalFormat patterns: "0" is a digit always shown, "#"
// a digit shown if not a trailing zero, "." the decimal point, and an
// optional "E0"/"E00" exponent whose zeros give its minimum digits. Rounding
// is half-even on the value's exact binary value.
//
//	x          0.9     1.49    -55.123   9810
//	"0"        1       1       -55       9810
//	"0.0"      0.9     1.5     -55.1     9810.0
//	"0.00##"   0.90    1.49    -55.123   9810.00
//	"0E0"      9E-1    1E0     -6E1      1E4
//	"00E00"    90E-02  15E-01  -55E00    98E02
//	"0.0##E0"  9.0E-1  1.49E0  -5.512E1  9.81E3
//
// The pattern is quoted with straight double or single quotes, or with curly
// ones (“0.0”, ‘0.0’) as pasted from a document. Negative zero prints as
// zero.
//
// # Outputs (ParseOutputs, Summary)
//
// A run reports its Output (and Constraint, Objective) values in a text file
// the user names, one per line, the name first:
//
//	Cd = -0.0187556
//	Cl: 0.140742
//	iterations 412
//
// The name may be followed by "=", ":" or "," or just whitespace, then a
// decimal number (ending at whitespace, "," or ";"; anything after it is
// ignored). Lines for other names, lines whose value is not a number, and
// lines longer than MaxLineBytes are ignored, so a solver's log can serve;
// when a name appears more than once the last line wins (the final
// iteration). Summary writes the runs' values and outputs as CSV:
//
//	run,x,y,Cd
//	1,20,3,-0.0187556
package doe

import (
	"math"
	"strconv"
	"strings"
)

// Limits. Together they bound memory: a parameter file or an expansion holds
// at most MaxValues values.
const (
	// MaxRuns is the most runs a job may have (the nominal run included).
	MaxRuns = 10000
	// MaxVariables is the most variables a parameter file or a job may name.
	MaxVariables = 1000
	// MaxValues bounds runs × input variables.
	MaxValues = 1_000_000
	// MaxNameLen is the longest variable name, in bytes.
	MaxNameLen = 128
	// MaxParamFileBytes is the largest parameter file.
	MaxParamFileBytes = 32 << 20
	// MaxRecordBytes is the longest row of a parameter file.
	MaxRecordBytes = 256 << 10
	// MaxLineBytes is the longest line ParseOutputs reads; longer lines are
	// skipped.
	MaxLineBytes = 64 << 10
)

// Run types, as the spec's run "type" has them.
const (
	RunTypeOptimization = 1
	RunTypeIteration    = 2
	RunTypeCase         = 3
)

// Value is one variable's value in one run, as the spec's run "variables"
// show it.
type Value struct {
	Name string
	// Value is the number; 0 for a text value.
	Value float64
	// DisplayValue is the text a template gets for ${Name}.
	DisplayValue string
	// IsRelative is in the spec (values relative to a default written in the
	// template placeholder); this package never sets it.
	IsRelative bool
	// Text is the text of a value that is not a number (equal to
	// DisplayValue); "" for numbers.
	Text string
}

// Run is one run of a job: its values in variable order.
type Run struct {
	// Index is the run's number, from 1.
	Index int
	// Type is the spec's run type; this package makes RunTypeCase runs.
	Type int
	// Nominal marks the run includeNominalRun adds.
	Nominal bool
	Values  []Value
}

// Vars returns the run's values by name, as Render takes them.
func (r Run) Vars() map[string]string {
	m := make(map[string]string, len(r.Values))
	for _, v := range r.Values {
		m[v.Name] = v.DisplayValue
	}
	return m
}

// isName reports whether s is a variable name: [A-Za-z_][A-Za-z0-9_]*, at
// most MaxNameLen bytes.
func isName(s string) bool {
	if s == "" || len(s) > MaxNameLen || !isNameStart(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		if !isNameByte(s[i]) {
			return false
		}
	}
	return true
}

func isNameStart(b byte) bool {
	return b == '_' || 'a' <= b && b <= 'z' || 'A' <= b && b <= 'Z'
}

func isNameByte(b byte) bool { return isNameStart(b) || '0' <= b && b <= '9' }

// parseNumber parses a decimal number: [+-]digits[.digits][(e|E)[+-]digits]
// (digits on at least one side of the point). It refuses everything else
// strconv would take (hex, underscores, inf, nan) and out-of-range values.
func parseNumber(s string) (float64, bool) {
	i := 0
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		i++
	}
	digits := 0
	for i < len(s) && '0' <= s[i] && s[i] <= '9' {
		i++
		digits++
	}
	if i < len(s) && s[i] == '.' {
		i++
		for i < len(s) && '0' <= s[i] && s[i] <= '9' {
			i++
			digits++
		}
	}
	if digits == 0 {
		return 0, false
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		exp := 0
		for i < len(s) && '0' <= s[i] && s[i] <= '9' {
			i++
			exp++
		}
		if exp == 0 {
			return 0, false
		}
	}
	if i != len(s) {
		return 0, false
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsInf(v, 0) || math.IsNaN(v) {
		return 0, false
	}
	if v == 0 {
		v = 0 // no negative zero
	}
	return v, true
}

// formatNumber spells v as a plain decimal, shortest exact, in exponent form
// only below 1e-6 or from 1e21 (as JavaScript prints numbers).
func formatNumber(v float64) string {
	if v == 0 {
		return "0"
	}
	if a := math.Abs(v); a >= 1e-6 && a < 1e21 {
		return strconv.FormatFloat(v, 'f', -1, 64)
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

// roundSig rounds v to n significant digits.
func roundSig(v float64, n int) float64 {
	r, _ := strconv.ParseFloat(strconv.FormatFloat(v, 'g', n, 64), 64)
	if r == 0 {
		return 0
	}
	return r
}

// roundScale rounds v to 12 significant digits of scale (the magnitude of a
// range), so float noise in steps and near zero disappears.
func roundScale(v, scale float64) float64 {
	if scale == 0 || math.IsInf(scale, 0) || math.IsNaN(scale) {
		return roundSig(v, 12)
	}
	d := 11 - int(math.Floor(math.Log10(scale)))
	if d < 0 || d > 300 {
		return roundSig(v, 12)
	}
	r, _ := strconv.ParseFloat(strconv.FormatFloat(v, 'f', d, 64), 64)
	if r == 0 {
		return 0
	}
	return r
}

// numberValue makes the Value of a generated number.
func numberValue(name string, v float64) Value {
	return Value{Name: name, Value: v, DisplayValue: formatNumber(v)}
}

// listNames joins up to 10 names for a message.
func listNames(names []string) string {
	if len(names) > 10 {
		return strings.Join(names[:10], ", ") + ", ..."
	}
	return strings.Join(names, ", ")
}
