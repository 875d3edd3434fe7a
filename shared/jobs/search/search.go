// Package search parses and evaluates the text-search language of the job
// list's q parameter (GET /api/v2/jobs/?q=...).
//
// The spec describes the language by example only: plain text and quoted
// terms match a job's name or its analyses' names; #tag, owner:, comment:,
// project:, software: and version: match facets; and, or, not (any case) and
// parentheses combine them, e.g.
//
//	#hastag and (not owner:user@example.com or project:myproject)
//
// This package pins that down as the following grammar (EBNF; white space
// separates tokens and is otherwise ignored; "and", "or" and "not" are
// keywords in any case):
//
//	query      = [ or_expr ] .                      (* empty: every job *)
//	or_expr    = and_expr { "or" and_expr } .
//	and_expr   = not_expr { [ "and" ] not_expr } .  (* "a b" means "a and b" *)
//	not_expr   = { "not" } primary .
//	primary    = "(" or_expr ")" | term .
//	term       = text | tag | facet .
//	text       = word | phrase .
//	tag        = ( "#" | "%23" ) ( bare | phrase ) .
//	facet      = facet_name ":" ( bare | phrase ) . (* no space after ":" *)
//	facet_name = "owner" | "comment" | "project" | "software" | "version" .
//	phrase     = `"` { char - `"` } `"`
//	           | "“" { char - "”" } "”"
//	           | "”" { char - "”" } "”" .
//	bare       = bare_char { bare_char } .
//	bare_char  = char - ( space | "(" | ")" | `"` | "“" | "”" ) .
//	word       = bare (* that is not a keyword and does not start like a tag or facet *) .
//
// Precedence is not > and > or. Facet names are case-insensitive too.
//
// Decisions the spec leaves open, and why:
//
//   - A word that looks like a facet with an unknown name ("foo:bar",
//     "http://x") is plain text: colons occur in job names, and rejecting
//     them would make such names unsearchable without quotes.
//   - "-" is not a negation operator. The spec names only and/or/not, and
//     job names and tags commonly contain or start with dashes ("-v2"), so a
//     leading "-" is just part of a word.
//   - The typographic quotes the spec's own text shows (“ ”) delimit phrases,
//     as does a pair of right quotes (”…”), which some keyboards produce.
//     There are no escapes: a phrase in "…" may contain “ and ”, one in “…”
//     may contain ", so every value can be written.
//   - "%23" at the start of a term is "#", because clients that
//     double-encode (or copy the spec's %23tagname literally) send it that
//     way; no other percent-decoding is done.
//   - An empty or blank query matches every job; an empty or blank phrase,
//     a lone "#", or a facet with no value is an error rather than a
//     silent match-all, since it is almost certainly a typo.
//   - Queries longer than MaxLen bytes or nesting parentheses deeper than
//     MaxDepth are rejected, bounding parse time and recursion.
//
// Matching is defined on the Doc interface; see the node types for the
// semantics of each term.
package search

import (
	"strings"
	"unicode"
)

// Limits on a query. The length bound keeps the whole parse O(1) per
// request; the depth bound keeps the recursive descent far from the stack
// limit whatever the length bound becomes.
const (
	MaxLen   = 1000
	MaxDepth = 50
)

// Facet names, as written in a query (matched case-insensitively).
const (
	FacetOwner    = "owner"
	FacetComment  = "comment"
	FacetProject  = "project"
	FacetSoftware = "software"
	FacetVersion  = "version"
)

// Doc is the view of a job that queries are evaluated against. The jobs
// package implements it; keeping it an interface lets the list endpoint
// evaluate queries without this package knowing the job record.
type Doc interface {
	// Name is the job's name.
	Name() string
	// AnalysisNames are the display names and codes of the job's analyses.
	AnalysisNames() []string
	// Tags are the job's tags and the tags of its files. Normalized names
	// are expected, but Match normalizes again, so raw names work too.
	Tags() []string
	// Owner is the owner's email address.
	Owner() string
	// Comments are the job's comments.
	Comments() []string
	// Project is the name of the job's project, "" if it has none.
	Project() string
	// ProjectID is the id of the job's project, "" if it has none.
	ProjectID() string
	// Software are the codes and names of the job's analyses.
	Software() []string
	// Versions are the versions and version codes of the job's analyses.
	Versions() []string
}

// Expr is a parsed query. The set of node types is closed so that callers
// (for example a store adapter translating queries to SQL) can switch over
// them exhaustively.
type Expr interface {
	// Match reports whether the job satisfies the query.
	Match(d Doc) bool
	// String is the canonical form: binary operators fully parenthesised,
	// keywords lower case, values quoted only when they must be. Parsing
	// it yields an Expr with the same String, provided the form is within
	// MaxLen and MaxDepth: the added parentheses and spelled-out "and"s
	// can take a query that was just inside the limits beyond them.
	String() string
	isExpr()
}

// All matches every job; it is what an empty query parses to.
type All struct{}

// Text matches when Value occurs, ignoring case, in the job's name or in
// any of its analysis names. Value is verbatim (a phrase keeps its spaces).
type Text struct{ Value string }

// Tag matches when the normalized Name equals any normalized tag of the job
// or its files. Name is stored normalized (see NormalizeTag).
type Tag struct{ Name string }

// Facet matches one job attribute:
//
//   - owner: the owner's email, whole value, ignoring case;
//   - comment: Value occurs in any comment, ignoring case;
//   - project: the project's id or name, whole value, ignoring case;
//   - software: an analysis code or name, whole value, ignoring case —
//     whole rather than substring because plain words already search analysis
//     names by substring, and software:ansys should not also pick ansys-cfx;
//   - version: a version or version code, whole value, ignoring case.
//
// Values of the whole-value facets are trimmed of surrounding space when
// parsed; a comment value is verbatim, like Text.
type Facet struct {
	Name  string // one of the Facet* constants
	Value string
}

// Not matches when X does not.
type Not struct{ X Expr }

// And matches when every operand matches.
type And struct{ X []Expr }

// Or matches when any operand matches.
type Or struct{ X []Expr }

func (All) isExpr()   {}
func (Text) isExpr()  {}
func (Tag) isExpr()   {}
func (Facet) isExpr() {}
func (Not) isExpr()   {}
func (And) isExpr()   {}
func (Or) isExpr()    {}

func (All) Match(Doc) bool { return true }

func (t Text) Match(d Doc) bool {
	return containsFold(d.Name(), t.Value) || anyContainsFold(d.AnalysisNames(), t.Value)
}

func (t Tag) Match(d Doc) bool {
	for _, have := range d.Tags() {
		if NormalizeTag(have) == t.Name {
			return true
		}
	}
	return false
}

func (f Facet) Match(d Doc) bool {
	switch f.Name {
	case FacetOwner:
		return strings.EqualFold(d.Owner(), f.Value)
	case FacetComment:
		return anyContainsFold(d.Comments(), f.Value)
	case FacetProject:
		// A job without a project has "" for both; the parser never
		// produces an empty value, so that cannot match by accident.
		return strings.EqualFold(d.ProjectID(), f.Value) || strings.EqualFold(d.Project(), f.Value)
	case FacetSoftware:
		return anyEqualFold(d.Software(), f.Value)
	case FacetVersion:
		return anyEqualFold(d.Versions(), f.Value)
	}
	return false
}

func (n Not) Match(d Doc) bool { return !n.X.Match(d) }

func (a And) Match(d Doc) bool {
	for _, x := range a.X {
		if !x.Match(d) {
			return false
		}
	}
	return true
}

func (o Or) Match(d Doc) bool {
	for _, x := range o.X {
		if x.Match(d) {
			return true
		}
	}
	return false
}

func (All) String() string { return "" }

func (t Text) String() string {
	if textNeedsQuotes(t.Value) {
		return quote(t.Value)
	}
	return t.Value
}

func (t Tag) String() string { return "#" + valueString(t.Name) }

func (f Facet) String() string { return f.Name + ":" + valueString(f.Value) }

func (n Not) String() string { return "not " + n.X.String() }

func (a And) String() string { return join(a.X, " and ") }

func (o Or) String() string { return join(o.X, " or ") }

func join(xs []Expr, sep string) string {
	var b strings.Builder
	b.WriteByte('(')
	for i, x := range xs {
		if i > 0 {
			b.WriteString(sep)
		}
		b.WriteString(x.String())
	}
	b.WriteByte(')')
	return b.String()
}

// NormalizeTag is the file-tag normalization of the spec (spaces, dashes and
// underscores removed, case ignored), so #my-tag finds a tag "My Tag". It
// agrees with files.NewTag's NormalizedName for every valid tag; it also
// trims other white space after the removal so that it is idempotent, which
// the canonical form relies on.
func NormalizeTag(s string) string {
	s = strings.Map(func(r rune) rune {
		switch r {
		case ' ', '-', '_', '\t':
			return -1
		}
		return r
	}, s)
	return strings.ToLower(strings.TrimSpace(s))
}

func containsFold(s, sub string) bool {
	return strings.Contains(strings.ToLower(s), strings.ToLower(sub))
}

func anyContainsFold(ss []string, sub string) bool {
	for _, s := range ss {
		if containsFold(s, sub) {
			return true
		}
	}
	return false
}

func anyEqualFold(ss []string, v string) bool {
	for _, s := range ss {
		if strings.EqualFold(s, v) {
			return true
		}
	}
	return false
}

// valueString writes a tag or facet value so that the lexer reads it back
// unchanged: bare when it has no delimiters, quoted otherwise.
func valueString(v string) string {
	if v == "" || strings.ContainsFunc(v, isDelim) {
		return quote(v)
	}
	return v
}

// textNeedsQuotes reports whether a bare word with this value would lex as
// something other than the same text: a keyword, a tag, a facet, or more
// than one token.
func textNeedsQuotes(v string) bool {
	return v == "" || strings.ContainsFunc(v, isDelim) || keyword(v) != tEOF ||
		hasTagPrefix(v) || facetPrefix(v) != ""
}

// quote picks the delimiters that cannot occur in v. Values the parser
// produces never contain both `"` and "”" (each kind of phrase stops at one
// of them, and words contain neither), so one of the two always works.
func quote(v string) string {
	if strings.Contains(v, `"`) {
		return "“" + v + "”"
	}
	return `"` + v + `"`
}

func isDelim(r rune) bool {
	return unicode.IsSpace(r) || r == '(' || r == ')' || isQuote(r)
}

func isQuote(r rune) bool { return r == '"' || r == '“' || r == '”' }
