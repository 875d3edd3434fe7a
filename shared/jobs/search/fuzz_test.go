package search

import (
	"math"
	"strings"
	"testing"

	"github.com/openrescale/platform/shared/errs"
)

// FuzzParse checks the properties the list endpoint relies on for any input:
// no panic, errors are always a 400 on q, the canonical form is a fixed
// point, and it means the same as the input on every test job.
func FuzzParse(f *testing.F) {
	for _, seed := range []string{
		"",
		"#hastag and (not owner:user@example.com or project:myproject)",
		"#tag or project:myproject",
		"%23tag or project:myproject",
		"foo bar",
		"a or b and c",
		"NOT a AND b Or c",
		"not not (a or b)",
		`"quoted phrase" and “typographic quotes”`,
		"“say \"hi\"”",
		"”right quotes”",
		`comment:"some text" software:FooWare version:1.2.3`,
		`#"Example Tag" #my-tag_1`,
		`project:" padded "`,
		"foo:bar http://x :owner:x ſoftware:x",
		"-foo a#b",
		`"and" "#x" "%23x" "owner:y"`,
		"((((a))))",
		"(a b) (c d) or (e or f)",
		// White space the quotes keep and the trims and the tag
		// normalization drop.
		"#\"-\u00a0x\"", "\"\u00a0x\"", "comment:\"\u0085\"", "#\"a\nb\"", "owner:\"\u2003a b\"",
		// Canonical forms beyond the limits.
		strings.Repeat("a ", MaxLen/2),
		strings.Repeat("a (b or ", 25) + "c" + strings.Repeat(")", 25),
		// Errors.
		"(a", "a)", "()", "a and", "or", `""`, `"abc`, "#", "%23", "#-_-", "owner:", "owner: x",
		"ab\xffc",
	} {
		f.Add(seed)
	}
	docs := jobs()
	f.Fuzz(func(t *testing.T, q string) {
		e, err := Parse(q)
		if err != nil {
			fe, ok := errs.As(err)
			if !ok || fe.Code != errs.Invalid || fe.Field != "q" {
				t.Fatalf("Parse(%q) error %#v is not an Invalid error on q", q, err)
			}
			return
		}
		s := e.String()
		again, err := parse(s, math.MaxInt)
		if err != nil {
			t.Fatalf("Parse(%q) gave %q, which does not parse: %v", q, s, err)
		}
		// Through the public entry point, the limits apply to the canonical
		// form like to any other query, and nothing else may fail.
		_, err = Parse(s)
		if within := len(s) <= MaxLen && parenDepth(again) <= MaxDepth; within != (err == nil) {
			t.Fatalf("Parse(%q): canonical %q (%d bytes, depth %d): %v", q, s, len(s), parenDepth(again), err)
		}
		if s2 := again.String(); s2 != s {
			t.Fatalf("Parse(%q) gave %q, which reparses as %q", q, s, s2)
		}
		for id, d := range docs {
			if e.Match(d) != again.Match(d) {
				t.Fatalf("%q and its canonical form %q disagree on job %s", q, s, id)
			}
		}
	})
}

// parenDepth is how deeply String nests parentheses: one level per And or Or.
func parenDepth(e Expr) int {
	var xs []Expr
	switch x := e.(type) {
	case Not:
		return parenDepth(x.X)
	case And:
		xs = x.X
	case Or:
		xs = x.X
	default:
		return 0
	}
	deepest := 0
	for _, x := range xs {
		deepest = max(deepest, parenDepth(x))
	}
	return deepest + 1
}
