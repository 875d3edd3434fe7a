package search

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/openrescale/platform/shared/errs"
)

type tokKind int

const (
	tEOF tokKind = iota
	tLParen
	tRParen
	tAnd
	tOr
	tNot
	tText
	tTag
	tFacet
)

type token struct {
	kind  tokKind
	pos   int    // byte offset of the token's first byte
	src   string // the token as written, for error messages
	facet string // facet name, lower case, for tFacet
	value string // text, tag (normalized) or facet value
}

// lexer produces tokens on demand, so that the first error in reading order
// is the one reported, whether it is lexical or syntactic.
type lexer struct {
	q   string
	pos int
}

func (l *lexer) next() (token, error) {
	for l.pos < len(l.q) {
		r, size := utf8.DecodeRuneInString(l.q[l.pos:])
		if !unicode.IsSpace(r) {
			break
		}
		l.pos += size
	}
	start := l.pos
	if start >= len(l.q) {
		return token{kind: tEOF, pos: start}, nil
	}
	r, size := utf8.DecodeRuneInString(l.q[start:])
	switch {
	case r == '(':
		l.pos += size
		return token{kind: tLParen, pos: start, src: "("}, nil
	case r == ')':
		l.pos += size
		return token{kind: tRParen, pos: start, src: ")"}, nil
	case isQuote(r):
		v, err := l.phrase()
		if err != nil {
			return token{}, err
		}
		return token{kind: tText, pos: start, src: l.q[start:l.pos], value: v}, nil
	case hasTagPrefix(l.q[start:]):
		return l.tag()
	}
	word := l.bare()
	if k := keyword(word); k != tEOF {
		return token{kind: k, pos: start, src: word}, nil
	}
	if name := facetPrefix(word); name != "" {
		return l.facet(start, name, word[len(name)+1:])
	}
	return token{kind: tText, pos: start, src: word, value: word}, nil
}

// bare consumes a run of non-delimiter characters.
func (l *lexer) bare() string {
	start := l.pos
	for l.pos < len(l.q) {
		r, size := utf8.DecodeRuneInString(l.q[l.pos:])
		if isDelim(r) {
			break
		}
		l.pos += size
	}
	return l.q[start:l.pos]
}

// phrase consumes a quoted phrase starting at l.pos and returns its inside,
// verbatim. A blank phrase is an error: it would match everything, which is
// never what someone typing quotes meant.
func (l *lexer) phrase() (string, error) {
	start := l.pos
	open, size := utf8.DecodeRuneInString(l.q[start:])
	closer := "”"
	if open == '"' {
		closer = `"`
	}
	body := start + size
	end := strings.Index(l.q[body:], closer)
	if end < 0 {
		return "", syntaxError("unterminated quote at column %d; expected a closing %s", column(l.q, start), closer)
	}
	v := l.q[body : body+end]
	l.pos = body + end + len(closer)
	if strings.TrimSpace(v) == "" {
		return "", syntaxError("empty quotes at column %d; expected a word or phrase inside", column(l.q, start))
	}
	return v, nil
}

// tag consumes "#" or "%23" and the tag name after it.
func (l *lexer) tag() (token, error) {
	start := l.pos
	prefix := "#"
	if l.q[start] != '#' {
		prefix = "%23"
	}
	l.pos += len(prefix)
	var raw string
	if r, _ := utf8.DecodeRuneInString(l.q[l.pos:]); l.pos < len(l.q) && isQuote(r) {
		v, err := l.phrase()
		if err != nil {
			return token{}, err
		}
		raw = v
	} else {
		raw = l.bare()
	}
	src := l.q[start:l.pos]
	if raw == "" {
		return token{}, syntaxError("%q at column %d needs a tag name, as in #mytag", prefix, column(l.q, start))
	}
	name := NormalizeTag(raw)
	if name == "" {
		return token{}, syntaxError("tag %q at column %d has nothing but spaces, dashes and underscores", src, column(l.q, start))
	}
	return token{kind: tTag, pos: start, src: src, value: name}, nil
}

// facet finishes a facet whose name and colon have been read; rest is what
// followed the colon in the same word. The bare run stops at a quote, so
// comment:"x" arrives here with rest == "" and the quote next.
func (l *lexer) facet(start int, name, rest string) (token, error) {
	v := rest
	if v == "" {
		r, _ := utf8.DecodeRuneInString(l.q[l.pos:])
		if l.pos >= len(l.q) || !isQuote(r) {
			hint := ""
			if l.pos < len(l.q) && unicode.IsSpace(r) {
				hint = "; there must be no space after the colon"
			}
			return token{}, syntaxError("%s: at column %d needs a value, as in %s:value or %s:\"some text\"%s",
				name, column(l.q, start), name, name, hint)
		}
		p, err := l.phrase()
		if err != nil {
			return token{}, err
		}
		v = p
	}
	// Only comment: searches by substring, where surrounding spaces can be
	// meant; the others compare whole values, where they cannot.
	if name != FacetComment {
		v = strings.TrimSpace(v)
		if v == "" {
			return token{}, syntaxError("%s: at column %d needs a value, not just spaces", name, column(l.q, start))
		}
	}
	return token{kind: tFacet, pos: start, src: l.q[start:l.pos], facet: name, value: v}, nil
}

// syntaxError is the one way this package reports a bad query: an Invalid
// error on field q, whose message starts with "q: " like the httpapi
// decoder's field errors.
func syntaxError(format string, args ...any) error {
	return errs.Field("q", "q: "+format, args...)
}

// keyword returns the operator a word spells, or tEOF if it is not one.
// ASCII-only folding: strings.EqualFold would also accept look-alikes such
// as the Kelvin sign for "k", which nobody types as a keyword.
func keyword(w string) tokKind {
	switch asciiLower(w) {
	case "and":
		return tAnd
	case "or":
		return tOr
	case "not":
		return tNot
	}
	return tEOF
}

// facetPrefix returns the facet name (lower case) that w starts with,
// followed by a colon, or "" if its first colon does not end a known name.
func facetPrefix(w string) string {
	i := strings.IndexByte(w, ':')
	if i <= 0 {
		return ""
	}
	switch name := asciiLower(w[:i]); name {
	case FacetOwner, FacetComment, FacetProject, FacetSoftware, FacetVersion:
		return name
	}
	return ""
}

func hasTagPrefix(s string) bool {
	return strings.HasPrefix(s, "#") || strings.HasPrefix(s, "%23")
}

// asciiLower lowers ASCII letters only and returns "" for anything longer
// than the longest keyword or facet name, which is all it is used for.
func asciiLower(s string) string {
	if len(s) > len(FacetSoftware) {
		return ""
	}
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// column is the 1-based character position of byte offset off, which is
// what someone looking at the query counts.
func column(q string, off int) int { return utf8.RuneCountInString(q[:off]) + 1 }
