package search

import (
	"fmt"
	"unicode/utf8"
)

// Parse parses a q parameter. Syntax errors are errs.Invalid on field "q"
// with a message naming the column (1-based, in characters) and what was
// expected there.
func Parse(q string) (Expr, error) {
	if len(q) > MaxLen {
		return nil, syntaxError("the query is %d bytes long; at most %d are allowed", len(q), MaxLen)
	}
	// Checked up front so that the lexer can treat every rune as
	// meaningful and String never has to re-encode a broken byte.
	for i, r := range q {
		if r == utf8.RuneError {
			if _, size := utf8.DecodeRuneInString(q[i:]); size == 1 {
				return nil, syntaxError("invalid UTF-8 at column %d", column(q, i))
			}
		}
	}
	return parse(q, MaxDepth)
}

// parse is Parse without the length limit and with a chosen depth limit, so
// that tests can re-parse canonical forms, which may exceed both limits.
func parse(q string, maxDepth int) (Expr, error) {
	p := &parser{lex: lexer{q: q}, maxDepth: maxDepth}
	if err := p.advance(); err != nil {
		return nil, err
	}
	if p.tok.kind == tEOF {
		return All{}, nil
	}
	e, err := p.or("")
	if err != nil {
		return nil, err
	}
	if p.tok.kind != tEOF {
		// The and-loop takes every token that can start a term and the
		// or-loop takes "or", so only a stray ")" can be left over.
		return nil, syntaxError("unexpected %q at column %d; no \"(\" to match it", p.tok.src, p.col(p.tok))
	}
	return e, nil
}

type parser struct {
	lex      lexer
	tok      token // one token of lookahead
	depth    int   // open parentheses around the current position
	maxDepth int
}

func (p *parser) advance() error {
	t, err := p.lex.next()
	if err != nil {
		return err
	}
	p.tok = t
	return nil
}

func (p *parser) col(t token) int { return column(p.lex.q, t.pos) }

// or parses or_expr. after describes the token before it, for messages.
func (p *parser) or(after string) (Expr, error) {
	first, err := p.and(after)
	if err != nil {
		return nil, err
	}
	if p.tok.kind != tOr {
		return first, nil
	}
	xs := appendOr(nil, first)
	for p.tok.kind == tOr {
		op := p.tok.src
		if err := p.advance(); err != nil {
			return nil, err
		}
		x, err := p.and(op)
		if err != nil {
			return nil, err
		}
		xs = appendOr(xs, x)
	}
	return Or{X: xs}, nil
}

// and parses and_expr, including the implicit "and" between adjacent terms.
func (p *parser) and(after string) (Expr, error) {
	first, err := p.not(after)
	if err != nil {
		return nil, err
	}
	var xs []Expr // allocated only once a second operand shows up
	for {
		next := ""
		switch p.tok.kind {
		case tAnd:
			next = p.tok.src
			if err := p.advance(); err != nil {
				return nil, err
			}
		case tNot, tLParen, tText, tTag, tFacet:
		default:
			if xs == nil {
				return first, nil
			}
			return And{X: xs}, nil
		}
		x, err := p.not(next)
		if err != nil {
			return nil, err
		}
		if xs == nil {
			xs = appendAnd(nil, first)
		}
		xs = appendAnd(xs, x)
	}
}

// not parses not_expr. A loop rather than recursion, so a long run of
// "not"s costs no stack.
func (p *parser) not(after string) (Expr, error) {
	n := 0
	for p.tok.kind == tNot {
		after = p.tok.src
		n++
		if err := p.advance(); err != nil {
			return nil, err
		}
	}
	x, err := p.primary(after)
	if err != nil {
		return nil, err
	}
	for range n {
		x = Not{X: x}
	}
	return x, nil
}

func (p *parser) primary(after string) (Expr, error) {
	t := p.tok
	switch t.kind {
	case tText:
		return Text{Value: t.value}, p.advance()
	case tTag:
		return Tag{Name: t.value}, p.advance()
	case tFacet:
		return Facet{Name: t.facet, Value: t.value}, p.advance()
	case tLParen:
		if p.depth >= p.maxDepth {
			return nil, syntaxError("\"(\" at column %d is nested too deeply; at most %d levels of parentheses are allowed",
				p.col(t), p.maxDepth)
		}
		p.depth++
		if err := p.advance(); err != nil {
			return nil, err
		}
		x, err := p.or("(")
		if err != nil {
			return nil, err
		}
		if p.tok.kind != tRParen {
			// Anything but ")" would have been taken by the loops in
			// or and and, so this is the end of the query.
			return nil, syntaxError("unexpected end of query at column %d; expected \")\" to close \"(\" at column %d",
				p.col(p.tok), p.col(t))
		}
		p.depth--
		return x, p.advance()
	}
	want := "expected a term"
	if after != "" {
		want = fmt.Sprintf("expected a term after %q", after)
	}
	if t.kind == tEOF {
		return nil, syntaxError("unexpected end of query at column %d; %s", p.col(t), want)
	}
	return nil, syntaxError("unexpected %q at column %d; %s", t.src, p.col(t), want)
}

// appendAnd and appendOr splice operands of the same operator into xs, so
// that "(a and b) and c", "a and (b and c)" and "a and b and c" have one
// canonical form.
func appendAnd(xs []Expr, x Expr) []Expr {
	if a, ok := x.(And); ok {
		return append(xs, a.X...)
	}
	return append(xs, x)
}

func appendOr(xs []Expr, x Expr) []Expr {
	if o, ok := x.(Or); ok {
		return append(xs, o.X...)
	}
	return append(xs, x)
}
