package asl

import (
	"crypto/md5"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"
	"math"
	"strconv"
	"strings"
)

// An intrinsic call, as in "States.Format('{} runs', $.count)". Arguments
// are literals, paths or nested calls.
type call struct {
	fn   string
	args []arg
}

type arg struct {
	lit    any
	fmtLit string // a string literal with \{ and \} still escaped
	path   *path
	call   *call
	isLit  bool
}

// intrinsicArity gives the arity of the functions implemented (max -1:
// any number); ok is false for every other name, which Parse refuses.
func intrinsicArity(name string) (min, max int, ok bool) {
	switch name {
	case "States.Format":
		return 1, -1, true
	case "States.Array":
		return 0, -1, true
	case "States.UUID":
		return 0, 0, true
	case "States.StringToJson", "States.JsonToString", "States.ArrayLength", "States.ArrayUnique",
		"States.Base64Encode", "States.Base64Decode":
		return 1, 1, true
	case "States.ArrayContains", "States.ArrayGetItem", "States.MathAdd", "States.Hash":
		return 2, 2, true
	case "States.ArrayRange", "States.JsonMerge":
		return 3, 3, true
	}
	return 0, 0, false
}

func isIntrinsic(s string) bool { return strings.HasPrefix(s, "States.") }

func parseIntrinsic(s string) (*call, error) {
	p := &intrinsicParser{src: s}
	c, err := p.call()
	if err != nil {
		return nil, fmt.Errorf("intrinsic %q: %w", s, err)
	}
	p.space()
	if p.pos != len(p.src) {
		return nil, fmt.Errorf("intrinsic %q: unexpected %q after the call", s, p.src[p.pos:])
	}
	return c, nil
}

type intrinsicParser struct {
	src string
	pos int
}

func (p *intrinsicParser) space() {
	for p.pos < len(p.src) && (p.src[p.pos] == ' ' || p.src[p.pos] == '\t' || p.src[p.pos] == '\n') {
		p.pos++
	}
}

func (p *intrinsicParser) call() (*call, error) {
	p.space()
	open := strings.IndexByte(p.src[p.pos:], '(')
	if open < 0 {
		return nil, fmt.Errorf("missing (")
	}
	name := strings.TrimSpace(p.src[p.pos : p.pos+open])
	minArgs, maxArgs, ok := intrinsicArity(name)
	if !ok {
		return nil, fmt.Errorf("intrinsic function %s is not supported", name)
	}
	p.pos += open + 1
	c := &call{fn: name}
	p.space()
	if p.pos < len(p.src) && p.src[p.pos] == ')' {
		p.pos++
	} else {
		for {
			a, err := p.arg()
			if err != nil {
				return nil, err
			}
			c.args = append(c.args, a)
			p.space()
			if p.pos >= len(p.src) {
				return nil, fmt.Errorf("missing )")
			}
			if p.src[p.pos] == ')' {
				p.pos++
				break
			}
			if p.src[p.pos] != ',' {
				return nil, fmt.Errorf("expected , or ) at %q", p.src[p.pos:])
			}
			p.pos++
		}
	}
	if len(c.args) < minArgs || (maxArgs >= 0 && len(c.args) > maxArgs) {
		return nil, fmt.Errorf("%s takes %s, got %d", name, arity(minArgs, maxArgs), len(c.args))
	}
	if name == "States.Format" && c.args[0].isLit {
		// Only the template tells escaped braces from placeholders.
		c.args[0].lit = c.args[0].fmtLit
	}
	if name == "States.JsonMerge" {
		// Step Functions only implements the shallow merge.
		if a := c.args[2]; !a.isLit || a.lit != false {
			return nil, fmt.Errorf("States.JsonMerge: only a shallow merge (false) is supported")
		}
	}
	return c, nil
}

func arity(min, max int) string {
	switch {
	case max < 0:
		return fmt.Sprintf("at least %d arguments", min)
	case min == max:
		return fmt.Sprintf("%d arguments", min)
	}
	return fmt.Sprintf("%d to %d arguments", min, max)
}

func (p *intrinsicParser) arg() (arg, error) {
	p.space()
	if p.pos >= len(p.src) {
		return arg{}, fmt.Errorf("missing argument")
	}
	rest := p.src[p.pos:]
	switch {
	case rest[0] == '\'':
		s, f, n, err := stringLiteral(rest)
		if err != nil {
			return arg{}, err
		}
		p.pos += n
		return arg{lit: s, fmtLit: f, isLit: true}, nil
	case rest[0] == '$':
		n := pathLen(rest)
		pp, err := parsePath(rest[:n])
		if err != nil {
			return arg{}, err
		}
		p.pos += n
		return arg{path: &pp}, nil
	case isIntrinsic(rest):
		c, err := p.call()
		if err != nil {
			return arg{}, err
		}
		return arg{call: c}, nil
	}
	n := strings.IndexAny(rest, ",)")
	if n < 0 {
		n = len(rest)
	}
	tok := strings.TrimSpace(rest[:n])
	switch tok {
	case "true":
		p.pos += n
		return arg{lit: true, isLit: true}, nil
	case "false":
		p.pos += n
		return arg{lit: false, isLit: true}, nil
	case "null":
		p.pos += n
		return arg{lit: nil, isLit: true}, nil
	}
	if _, err := strconv.ParseFloat(tok, 64); err == nil {
		p.pos += n
		return arg{lit: json.Number(tok), isLit: true}, nil
	}
	return arg{}, fmt.Errorf("unexpected argument %q", tok)
}

// stringLiteral reads a '...' literal, where \ escapes the next
// character (\' \{ \} \\). It returns the plain value and, for
// States.Format's template, one that keeps \{ and \} escaped.
func stringLiteral(s string) (plain, forFormat string, n int, err error) {
	var b, f strings.Builder
	for i := 1; i < len(s); i++ {
		switch s[i] {
		case '\\':
			if i+1 >= len(s) {
				return "", "", 0, fmt.Errorf("unterminated string literal")
			}
			i++
			if s[i] == '{' || s[i] == '}' || s[i] == '\\' {
				f.WriteByte('\\')
			}
			b.WriteByte(s[i])
			f.WriteByte(s[i])
		case '\'':
			return b.String(), f.String(), i + 1, nil
		default:
			b.WriteByte(s[i])
			f.WriteByte(s[i])
		}
	}
	return "", "", 0, fmt.Errorf("unterminated string literal")
}

// pathLen is how far a path argument extends: up to a comma, a closing
// parenthesis or a space outside brackets.
func pathLen(s string) int {
	depth := 0
	var quote byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '\'' || c == '"':
			if depth > 0 {
				quote = c
			}
		case c == '[':
			depth++
		case c == ']':
			depth--
		case depth == 0 && (c == ',' || c == ')' || c == ' ' || c == '\t'):
			return i
		}
	}
	return len(s)
}

func (c *call) eval(doc, ctx any) (any, *Error) {
	args := make([]any, len(c.args))
	for i, a := range c.args {
		switch {
		case a.isLit:
			args[i] = a.lit
		case a.path != nil:
			v, ok := a.path.get(doc, ctx)
			if !ok {
				return nil, runtimeErr("%s: argument %d: path %s has no value", c.fn, i+1, a.path.raw)
			}
			args[i] = v
		default:
			v, err := a.call.eval(doc, ctx)
			if err != nil {
				return nil, err
			}
			args[i] = v
		}
	}
	v, err := c.apply(args)
	if err != nil {
		return nil, runtimeErr("%s: %v", c.fn, err)
	}
	return v, nil
}

func (c *call) apply(args []any) (any, error) {
	switch c.fn {
	case "States.Format":
		return format(args)
	case "States.StringToJson":
		s, ok := args[0].(string)
		if !ok {
			return nil, fmt.Errorf("argument is a %s, not a string", typeName(args[0]))
		}
		v, err := decodeJSON([]byte(s))
		if err != nil {
			return nil, fmt.Errorf("not JSON: %v", err)
		}
		return v, nil
	case "States.JsonToString":
		return string(mustEncode(args[0])), nil
	case "States.Array":
		return append([]any{}, args...), nil
	case "States.ArrayLength":
		a, ok := args[0].([]any)
		if !ok {
			return nil, fmt.Errorf("argument is a %s, not an array", typeName(args[0]))
		}
		return number(int64(len(a))), nil
	case "States.ArrayContains":
		a, ok := args[0].([]any)
		if !ok {
			return nil, fmt.Errorf("argument 1 is a %s, not an array", typeName(args[0]))
		}
		for _, e := range a {
			if equalValues(e, args[1]) {
				return true, nil
			}
		}
		return false, nil
	case "States.ArrayGetItem":
		a, ok := args[0].([]any)
		if !ok {
			return nil, fmt.Errorf("argument 1 is a %s, not an array", typeName(args[0]))
		}
		i, err := intArg(args[1], 2)
		if err != nil {
			return nil, err
		}
		if i < 0 || i >= int64(len(a)) {
			return nil, fmt.Errorf("index %d is outside the array of %d", i, len(a))
		}
		return a[i], nil
	case "States.ArrayRange":
		var n [3]int64
		for i := range n {
			v, err := intArg(args[i], i+1)
			if err != nil {
				return nil, err
			}
			n[i] = v
		}
		if n[2] == 0 {
			return nil, fmt.Errorf("the step must not be 0")
		}
		out := []any{}
		for v := n[0]; (n[2] > 0 && v <= n[1]) || (n[2] < 0 && v >= n[1]); v += n[2] {
			if len(out) == 1000 {
				return nil, fmt.Errorf("the range has more than 1000 items")
			}
			out = append(out, number(v))
		}
		return out, nil
	case "States.ArrayUnique":
		a, ok := args[0].([]any)
		if !ok {
			return nil, fmt.Errorf("argument is a %s, not an array", typeName(args[0]))
		}
		out := []any{}
	next:
		for _, e := range a {
			for _, o := range out {
				if equalValues(e, o) {
					continue next
				}
			}
			out = append(out, e)
		}
		return out, nil
	case "States.MathAdd":
		x, err := intArg(args[0], 1)
		if err != nil {
			return nil, err
		}
		y, err := intArg(args[1], 2)
		if err != nil {
			return nil, err
		}
		return number(x + y), nil
	case "States.UUID":
		return uuid4()
	case "States.Base64Encode":
		s, ok := args[0].(string)
		if !ok {
			return nil, fmt.Errorf("argument is a %s, not a string", typeName(args[0]))
		}
		return base64.StdEncoding.EncodeToString([]byte(s)), nil
	case "States.Base64Decode":
		s, ok := args[0].(string)
		if !ok {
			return nil, fmt.Errorf("argument is a %s, not a string", typeName(args[0]))
		}
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			return nil, fmt.Errorf("not base64: %v", err)
		}
		return string(b), nil
	case "States.Hash":
		return hashOf(args[0], args[1])
	case "States.JsonMerge":
		a, ok1 := args[0].(map[string]any)
		b, ok2 := args[1].(map[string]any)
		if !ok1 || !ok2 {
			return nil, fmt.Errorf("arguments are a %s and a %s, not two objects", typeName(args[0]), typeName(args[1]))
		}
		out := make(map[string]any, len(a)+len(b))
		for k, v := range a {
			out[k] = v
		}
		for k, v := range b {
			out[k] = v
		}
		return out, nil
	}
	return nil, fmt.Errorf("not implemented")
}

// intArg accepts integers (as Step Functions' math intrinsics do) in the
// 32-bit range it documents.
func intArg(v any, pos int) (int64, error) {
	n, ok := v.(json.Number)
	if !ok {
		return 0, fmt.Errorf("argument %d is a %s, not a number", pos, typeName(v))
	}
	f, err := n.Float64()
	if err != nil || f != math.Trunc(f) || f < math.MinInt32 || f > math.MaxInt32 {
		return 0, fmt.Errorf("argument %d (%s) is not an integer between %d and %d", pos, n, math.MinInt32, math.MaxInt32)
	}
	return int64(f), nil
}

func format(args []any) (any, error) {
	tmpl, ok := args[0].(string)
	if !ok {
		return nil, fmt.Errorf("the template is a %s, not a string", typeName(args[0]))
	}
	var b strings.Builder
	next := 1
	for i := 0; i < len(tmpl); i++ {
		switch {
		case tmpl[i] == '\\' && i+1 < len(tmpl):
			i++
			b.WriteByte(tmpl[i])
		case tmpl[i] == '{' && i+1 < len(tmpl) && tmpl[i+1] == '}':
			if next >= len(args) {
				return nil, fmt.Errorf("the template has more {} than arguments")
			}
			switch v := args[next].(type) {
			case string:
				b.WriteString(v)
			case json.Number:
				b.WriteString(string(v))
			case bool, nil:
				b.WriteString(string(mustEncode(v)))
			default:
				return nil, fmt.Errorf("argument %d is a %s; only strings, numbers, booleans and null can be formatted", next+1, typeName(v))
			}
			next++
			i++
		default:
			b.WriteByte(tmpl[i])
		}
	}
	if next != len(args) {
		return nil, fmt.Errorf("%d arguments for %d {}", len(args)-1, next-1)
	}
	return b.String(), nil
}

func hashOf(data, alg any) (any, error) {
	a, ok := alg.(string)
	if !ok {
		return nil, fmt.Errorf("the algorithm is a %s, not a string", typeName(alg))
	}
	var h hash.Hash
	switch a {
	case "MD5":
		h = md5.New()
	case "SHA-1":
		h = sha1.New()
	case "SHA-256":
		h = sha256.New()
	case "SHA-384":
		h = sha512.New384()
	case "SHA-512":
		h = sha512.New()
	default:
		return nil, fmt.Errorf("algorithm %q is not one of MD5, SHA-1, SHA-256, SHA-384, SHA-512", a)
	}
	s, ok := data.(string)
	if !ok {
		s = string(mustEncode(data))
	}
	h.Write([]byte(s))
	return hex.EncodeToString(h.Sum(nil)), nil
}

func uuid4() (any, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, err
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:], nil
}
