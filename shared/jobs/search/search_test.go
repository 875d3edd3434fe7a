package search

import (
	"slices"
	"strings"
	"testing"

	"github.com/openrescale/platform/shared/errs"
	"github.com/openrescale/platform/shared/files"
)

func TestParseCanonical(t *testing.T) {
	tests := []struct{ in, want string }{
		// The spec's examples.
		{"#hastag and (not owner:user@example.com or project:myproject)",
			"(#hastag and (not owner:user@example.com or project:myproject))"},
		{"#tag or project:myproject", "(#tag or project:myproject)"},
		{"%23tag or project:myproject", "(#tag or project:myproject)"},

		// Empty query.
		{"", ""},
		{"  \t\n ", ""},

		// Plain words, implicit and.
		{"foam", "foam"},
		{"  foam  ", "foam"},
		{"the foam", "(the and foam)"},
		{"a b c", "(a and b and c)"},
		{"a\tb\u00a0c", "(a and b and c)"},

		// Precedence: not > and > or.
		{"a or b and c", "(a or (b and c))"},
		{"a and b or c", "((a and b) or c)"},
		{"not a and b", "(not a and b)"},
		{"not a or b", "(not a or b)"},
		{"not (a or b)", "not (a or b)"},
		{"a b or c d", "((a and b) or (c and d))"},
		{"a or not b c", "(a or (not b and c))"},
		{"not not a", "not not a"},
		{"a not b", "(a and not b)"},

		// Parentheses and flattening.
		{"(a)", "a"},
		{"((((a))))", "a"},
		{"(a and b) and c", "(a and b and c)"},
		{"a and (b and c)", "(a and b and c)"},
		{"(a b) (c d)", "(a and b and c and d)"},
		{"a or (b or c)", "(a or b or c)"},
		{"(a or b) (c or d)", "((a or b) and (c or d))"},
		{"(a or b)c", "((a or b) and c)"},
		{"a(b)c", "(a and b and c)"},
		{"not(a)", "not a"},

		// Keywords in any case; keyword-like words are just words.
		{"a AND b", "(a and b)"},
		{"a Or b", "(a or b)"},
		{"NOT a", "not a"},
		{"nOt a aNd b oR c", "((not a and b) or c)"},
		{"android oregon notes", "(android and oregon and notes)"},
		{`"and"`, `"and"`},
		{`"OR" "not"`, `("OR" and "not")`},

		// Quoted phrases.
		{`"the FOAM"`, `"the FOAM"`},
		{`"foam"`, "foam"},
		{`" foam "`, `" foam "`},
		{`mpi "hello world" run`, `(mpi and "hello world" and run)`},
		{`"a"b"c"`, "(a and b and c)"},
		{`"(a)"`, `"(a)"`},
		{`"#tag"`, `"#tag"`},
		{`"%23tag"`, `"%23tag"`},
		{`"owner:x"`, `"owner:x"`},
		{`"foo:bar"`, "foo:bar"},
		{`"a“b”"`, `"a“b”"`},

		// Typographic quotes, as the spec's own text shows them.
		{"“quote terms”", `"quote terms"`},
		{"“say \"hi\"”", "“say \"hi\"”"},
		{"”right quotes”", `"right quotes"`},
		{"comment:“some text”", `comment:"some text"`},
		{"#“my tag”", "#mytag"},

		// Tags: normalized like file tags.
		{"#MyTag", "#mytag"},
		{"#my-tag_1", "#mytag1"},
		{`#"Example Tag"`, "#exampletag"},
		{"%23Example-Tag", "#exampletag"},
		{"#and", "#and"},
		{"#a:b", "#a:b"},
		{`#"a(b"`, `#"a(b"`},
		{"a#b", "a#b"},

		// Facets.
		{"owner:user@example.com", "owner:user@example.com"},
		{"OWNER:User@Example.com", "owner:User@Example.com"},
		{`comment:"some text"`, `comment:"some text"`},
		{`comment:" padded "`, `comment:" padded "`},
		{"comment:word", "comment:word"},
		{"project:myproject", "project:myproject"},
		{`project:"My Project"`, `project:"My Project"`},
		{`project:" spaced "`, "project:spaced"},
		{"software:FooWare", "software:FooWare"},
		{`software:"Custom User-Defined MPI Software"`, `software:"Custom User-Defined MPI Software"`},
		{"version:1.2.3", "version:1.2.3"},
		{"Version:v2019-R1", "version:v2019-R1"},
		{"owner:and", "owner:and"},
		{"project:owner:x", "project:owner:x"},
		{"owner:#x", "owner:#x"},
		{`comment:"a"b`, `(comment:a and b)`},
		{"(owner:a)", "owner:a"},
		{"(owner:a)or(b)", "(owner:a or b)"},

		// Unknown facets are words; so are URLs and lone colons.
		{"foo:bar", "foo:bar"},
		{"http://example.com", "http://example.com"},
		{"foo:", "foo:"},
		{":", ":"},
		{":owner:x", ":owner:x"},
		{`foo:"bar baz"`, `(foo: and "bar baz")`},
		{"ſoftware:x", "ſoftware:x"}, // long s is not an s: ASCII-only folding

		// Dashes are not negation.
		{"-foo", "-foo"},
		{"foo -bar", "(foo and -bar)"},
		{"-", "-"},
	}
	for _, tt := range tests {
		e, err := Parse(tt.in)
		if err != nil {
			t.Errorf("Parse(%q): %v", tt.in, err)
			continue
		}
		if got := e.String(); got != tt.want {
			t.Errorf("Parse(%q).String() = %q, want %q", tt.in, got, tt.want)
			continue
		}
		again, err := Parse(tt.want)
		if err != nil || again.String() != tt.want {
			t.Errorf("canonical %q does not round-trip: %v, %v", tt.want, again, err)
		}
	}
}

func TestParseTree(t *testing.T) {
	// The spec example, as a tree, so that node types and values are pinned
	// down and not only their printing.
	e, err := Parse("#hastag AND (NOT owner:user@example.com or project:myproject)")
	if err != nil {
		t.Fatal(err)
	}
	want := And{X: []Expr{
		Tag{Name: "hastag"},
		Or{X: []Expr{
			Not{X: Facet{Name: FacetOwner, Value: "user@example.com"}},
			Facet{Name: FacetProject, Value: "myproject"},
		}},
	}}
	if !equal(e, want) {
		t.Fatalf("got %#v, want %#v", e, want)
	}
	if e, _ := Parse(""); e != (All{}) {
		t.Errorf(`Parse("") = %#v, want All{}`, e)
	}
}

func equal(a, b Expr) bool {
	switch x := a.(type) {
	case And:
		y, ok := b.(And)
		return ok && slices.EqualFunc(x.X, y.X, equal)
	case Or:
		y, ok := b.(Or)
		return ok && slices.EqualFunc(x.X, y.X, equal)
	case Not:
		y, ok := b.(Not)
		return ok && equal(x.X, y.X)
	}
	return a == b
}

func TestParseErrors(t *testing.T) {
	tests := []struct{ in, want string }{
		// Parentheses.
		{"(a", `unexpected end of query at column 3; expected ")" to close "(" at column 1`},
		{"(a or (b)", `unexpected end of query at column 10; expected ")" to close "(" at column 1`},
		{"a)", `unexpected ")" at column 2; no "(" to match it`},
		{"(a))", `unexpected ")" at column 4; no "(" to match it`},
		{")", `unexpected ")" at column 1; expected a term`},
		{"()", `unexpected ")" at column 2; expected a term after "("`},
		{"#hastag and (not owner:user@example.com or )", `unexpected ")" at column 44; expected a term after "or"`},
		{"owner:a)or(b", `unexpected ")" at column 8; no "(" to match it`},
		{"(", `unexpected end of query at column 2; expected a term after "("`},

		// Dangling operators.
		{"and", `unexpected "and" at column 1; expected a term`},
		{"AND a", `unexpected "AND" at column 1; expected a term`},
		{"a and", `unexpected end of query at column 6; expected a term after "and"`},
		{"a OR", `unexpected end of query at column 5; expected a term after "OR"`},
		{"a or or b", `unexpected "or" at column 6; expected a term after "or"`},
		{"a and or b", `unexpected "or" at column 7; expected a term after "and"`},
		{"a and and b", `unexpected "and" at column 7; expected a term after "and"`},
		{"not", `unexpected end of query at column 4; expected a term after "not"`},
		{"a not", `unexpected end of query at column 6; expected a term after "not"`},
		{"not or a", `unexpected "or" at column 5; expected a term after "not"`},
		{"or a", `unexpected "or" at column 1; expected a term`},
		{"(a or) b", `unexpected ")" at column 6; expected a term after "or"`},

		// Quotes.
		{`""`, `empty quotes at column 1; expected a word or phrase inside`},
		{`a "   "`, `empty quotes at column 3; expected a word or phrase inside`},
		{"“”", `empty quotes at column 1; expected a word or phrase inside`},
		{`"abc`, `unterminated quote at column 1; expected a closing "`},
		{`a "abc”`, `unterminated quote at column 3; expected a closing "`},
		{"a “abc\"", `unterminated quote at column 3; expected a closing ”`},
		{"”abc", `unterminated quote at column 1; expected a closing ”`},
		{"éé \"x", `unterminated quote at column 4; expected a closing "`}, // columns count characters

		// Tags.
		{"#", `"#" at column 1 needs a tag name, as in #mytag`},
		{"a # b", `"#" at column 3 needs a tag name, as in #mytag`},
		{"(#)", `"#" at column 2 needs a tag name, as in #mytag`},
		{"%23", `"%23" at column 1 needs a tag name, as in #mytag`},
		{"#-_-", `tag "#-_-" at column 1 has nothing but spaces, dashes and underscores`},
		{`#" - "`, `tag "#\" - \"" at column 1 has nothing but spaces, dashes and underscores`},
		{`#""`, `empty quotes at column 2; expected a word or phrase inside`},
		{`#"abc`, `unterminated quote at column 2; expected a closing "`},

		// Facets.
		{"owner:", `owner: at column 1 needs a value, as in owner:value or owner:"some text"`},
		{"a Project:", `project: at column 3 needs a value, as in project:value or project:"some text"`},
		{"owner: user@example.com", `owner: at column 1 needs a value, as in owner:value or owner:"some text"; there must be no space after the colon`},
		{"(software:)", `software: at column 2 needs a value, as in software:value or software:"some text"`},
		{`comment:""`, `empty quotes at column 9; expected a word or phrase inside`},
		{`comment:"abc`, `unterminated quote at column 9; expected a closing "`},
		{"version:\"\u00a0\"", `empty quotes at column 9; expected a word or phrase inside`},

		// Limits.
		{strings.Repeat("a", MaxLen+1), "the query is 1001 bytes long; at most 1000 are allowed"},
		{strings.Repeat("(", MaxDepth+1) + "a" + strings.Repeat(")", MaxDepth+1),
			`"(" at column 51 is nested too deeply; at most 50 levels of parentheses are allowed`},
		{strings.Repeat("(", 1000), `"(" at column 51 is nested too deeply; at most 50 levels of parentheses are allowed`},
		{"ab\xffc", "invalid UTF-8 at column 3"},

		// The first error in reading order wins.
		{`) "abc`, `unexpected ")" at column 1; expected a term`},
		{`a or "abc`, `unterminated quote at column 6; expected a closing "`},
	}
	for _, tt := range tests {
		e, err := Parse(tt.in)
		if err == nil {
			t.Errorf("Parse(%q) = %v, want error %q", tt.in, e, tt.want)
			continue
		}
		fe, ok := errs.As(err)
		if !ok || fe.Code != errs.Invalid || fe.Field != "q" {
			t.Errorf("Parse(%q) error %#v is not an Invalid error on q", tt.in, err)
			continue
		}
		if want := "q: " + tt.want; fe.Message != want {
			t.Errorf("Parse(%q) error\n got %q\nwant %q", tt.in, fe.Message, want)
		}
	}
}

func TestLimitsAreInclusive(t *testing.T) {
	long := strings.TrimSpace(strings.Repeat("ab ", MaxLen/3+1))[:MaxLen]
	if _, err := Parse(long); err != nil {
		t.Errorf("a %d-byte query: %v", len(long), err)
	}
	deep := strings.Repeat("(", MaxDepth) + "a" + strings.Repeat(")", MaxDepth)
	if e, err := Parse(deep); err != nil || e.String() != "a" {
		t.Errorf("%d levels: %v, %v", MaxDepth, e, err)
	}
	// A maximal run of "not"s is a chain, not recursion in the parser.
	nots := strings.Repeat("not ", (MaxLen-1)/4) + "a"
	if _, err := Parse(nots); err != nil {
		t.Errorf("%d nots: %v", strings.Count(nots, "not"), err)
	}
}

// job is the test Doc.
type job struct {
	name      string
	analyses  []string // display names and codes
	tags      []string
	owner     string
	comments  []string
	project   string
	projectID string
	versions  []string
}

func (j job) Name() string            { return j.name }
func (j job) AnalysisNames() []string { return j.analyses }
func (j job) Tags() []string          { return j.tags }
func (j job) Owner() string           { return j.owner }
func (j job) Comments() []string      { return j.comments }
func (j job) Project() string         { return j.project }
func (j job) ProjectID() string       { return j.projectID }
func (j job) Software() []string      { return j.analyses }
func (j job) Versions() []string      { return j.versions }

// jobs is a small set covering each branch of the spec example.
func jobs() map[string]job {
	return map[string]job{
		// Tagged, owned by user@, in myproject: the "or project" branch.
		"mine-in-project": {name: "the FOAM 2", analyses: []string{"OpenFOAM", "openfoam"},
			tags: []string{"hastag"}, owner: "user@example.com", project: "myproject", projectID: "pRj01",
			versions: []string{"2.3.0", "v230"}, comments: []string{"Converged after 300 iterations"}},
		// Tagged through a file, as "Has Tag", owned by someone else: the
		// "not owner" branch.
		"shared-tagged": {name: "the FOAM", analyses: []string{"OpenFOAM", "openfoam"},
			tags: []string{"Has-Tag"}, owner: "mark@rescale.com",
			versions: []string{"2.3.0", "v230"}},
		// Tagged, owned by user@ (different case), another project: no branch.
		"mine-elsewhere": {name: "MPI Hello", analyses: []string{"Custom User-Defined MPI Software", "user_included_mpi"},
			tags: []string{"hastag"}, owner: "USER@example.com", project: "other", projectID: "pRj02"},
		// Not tagged at all.
		"untagged": {name: "Beam bending", analyses: []string{"ANSYS Mechanical", "ansys"},
			owner: "mark@rescale.com", project: "myproject", projectID: "pRj01",
			versions: []string{"2019 R1", "19.3"}, comments: []string{"needs a finer MESH"}},
		// A tag that only contains the wanted one.
		"near-miss-tag": {name: "Crash test", analyses: []string{"LS-DYNA", "ls_dyna"},
			tags: []string{"hastags"}, owner: "mark@rescale.com"},
		// Tagged, owned by user@, in myproject by id rather than name.
		"mine-project-by-id": {name: "Wing sweep", analyses: []string{"ANSYS Fluent", "ansys_fluent"},
			tags: []string{"hastag", "wing"}, owner: "user@example.com", project: "My Project", projectID: "myproject"},
	}
}

func TestMatch(t *testing.T) {
	tests := []struct {
		q    string
		want []string
	}{
		{"#hastag and (not owner:user@example.com or project:myproject)",
			[]string{"mine-in-project", "mine-project-by-id", "shared-tagged"}},
		{"#tag or project:myproject", []string{"mine-in-project", "mine-project-by-id", "untagged"}},
		{"", []string{"mine-elsewhere", "mine-in-project", "mine-project-by-id", "near-miss-tag", "shared-tagged", "untagged"}},

		// Text: substring of the name or an analysis name, any case.
		{"foam", []string{"mine-in-project", "shared-tagged"}},
		{`"foam 2"`, []string{"mine-in-project"}},
		{"“the foam”", []string{"mine-in-project", "shared-tagged"}},
		{"mpi hello", []string{"mine-elsewhere"}},
		{"ansys", []string{"mine-project-by-id", "untagged"}},
		{"ansys not fluent", []string{"untagged"}},
		{"dyna", []string{"near-miss-tag"}},
		{"nothing-like-this", nil},

		// Tags: normalized equality, not substring.
		{"#HAS_TAG", []string{"mine-elsewhere", "mine-in-project", "mine-project-by-id", "shared-tagged"}},
		{`#"has tag"`, []string{"mine-elsewhere", "mine-in-project", "mine-project-by-id", "shared-tagged"}},
		{"#hastags", []string{"near-miss-tag"}},
		{"#has", nil},

		// Facets.
		{"owner:USER@EXAMPLE.COM", []string{"mine-elsewhere", "mine-in-project", "mine-project-by-id"}},
		{"owner:user", nil},
		{"comment:mesh", []string{"untagged"}},
		{`comment:"after 300"`, []string{"mine-in-project"}},
		{"project:MYPROJECT", []string{"mine-in-project", "mine-project-by-id", "untagged"}},
		{`project:"my project"`, []string{"mine-project-by-id"}},
		{"project:prj02", []string{"mine-elsewhere"}},
		{"project:my", nil},
		{"software:openfoam", []string{"mine-in-project", "shared-tagged"}},
		{`software:"custom user-defined mpi software"`, []string{"mine-elsewhere"}},
		{"software:ansys", []string{"untagged"}}, // whole value: not ansys_fluent
		{"version:2.3.0", []string{"mine-in-project", "shared-tagged"}},
		{"version:V230", []string{"mine-in-project", "shared-tagged"}},
		{`version:"2019 R1"`, []string{"untagged"}},
		{"version:2.3", nil},

		// Combinations.
		{"not #hastag", []string{"near-miss-tag", "untagged"}},
		{"foam or ansys and not #hastag", []string{"mine-in-project", "shared-tagged", "untagged"}},
		{"(foam or ansys) and not #hastag", []string{"untagged"}},
	}
	all := jobs()
	for _, tt := range tests {
		e, err := Parse(tt.q)
		if err != nil {
			t.Errorf("Parse(%q): %v", tt.q, err)
			continue
		}
		var got []string
		for id, j := range all {
			if e.Match(j) {
				got = append(got, id)
			}
		}
		slices.Sort(got)
		if !slices.Equal(got, tt.want) {
			t.Errorf("%q matches %q, want %q", tt.q, got, tt.want)
		}
	}
}

func TestNormalizeTagAgreesWithFiles(t *testing.T) {
	for _, name := range []string{"new - tag _ 1", "Example Tag", "hastag", "Has-Tag", "UPPER_case", "\ttabbed\t", "ünïcode Tag", "a:b"} {
		tag, err := files.NewTag(name)
		if err != nil {
			t.Fatalf("files.NewTag(%q): %v", name, err)
		}
		if got := NormalizeTag(name); got != tag.NormalizedName {
			t.Errorf("NormalizeTag(%q) = %q, files.NewTag says %q", name, got, tag.NormalizedName)
		}
		if got := NormalizeTag(tag.NormalizedName); got != tag.NormalizedName {
			t.Errorf("NormalizeTag is not idempotent on %q: %q", tag.NormalizedName, got)
		}
	}
}
