package doe

import (
	"bufio"
	"bytes"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/openrescale/platform/shared/errs"
)

// maxPlaceholder is the longest ${...}, in bytes.
const maxPlaceholder = 512

// Render copies the template src to dst, replacing placeholders with vars
// (a run's Vars; syntax in the package comment). It streams: memory stays
// bounded whatever the lengths of src and its lines. An undefined ${name}, a
// malformed ${...} or a number format on a value that is not a number is
// errs.Invalid with Field "template" and the line in the message (the
// caller names the task, e.g. sets Field to "templateTasks[0]"); read and
// write errors come back as they were. On error dst may hold part of the
// output. Rendering into io.Discard checks a template against a run.
func Render(dst io.Writer, src io.Reader, vars map[string]string) error {
	return render(dst, src, vars, 32<<10)
}

func render(dst io.Writer, src io.Reader, vars map[string]string, bufSize int) error {
	t := &renderer{
		br:   bufio.NewReaderSize(src, bufSize),
		bw:   bufio.NewWriterSize(dst, bufSize),
		vars: vars,
		line: 1,
	}
	if err := t.run(); err != nil {
		return err
	}
	return t.bw.Flush()
}

type renderer struct {
	br   *bufio.Reader
	bw   *bufio.Writer
	vars map[string]string
	line int
	name []byte
}

func (t *renderer) run() error {
	for {
		chunk, err := t.br.ReadSlice('$')
		text := chunk
		if err == nil {
			text = chunk[:len(chunk)-1]
		}
		t.line += bytes.Count(text, []byte{'\n'})
		if _, werr := t.bw.Write(text); werr != nil {
			return werr
		}
		switch err {
		case nil:
			if err := t.dollar(); err != nil {
				return err
			}
		case bufio.ErrBufferFull:
		case io.EOF:
			return nil
		default:
			return err
		}
	}
}

// dollar handles what follows a '$'.
func (t *renderer) dollar() error {
	b, err := t.br.ReadByte()
	if err == io.EOF {
		return t.bw.WriteByte('$')
	}
	if err != nil {
		return err
	}
	switch {
	case b == '$':
		return t.bw.WriteByte('$')
	case b == '{':
		return t.braced()
	case isNameStart(b):
		t.name = append(t.name[:0], b)
		for len(t.name) <= MaxNameLen {
			b, err = t.br.ReadByte()
			if err == io.EOF {
				break
			}
			if err != nil {
				return err
			}
			if !isNameByte(b) {
				t.br.UnreadByte()
				break
			}
			t.name = append(t.name, b)
		}
		if v, ok := t.vars[string(t.name)]; ok && len(t.name) <= MaxNameLen {
			_, err = t.bw.WriteString(v)
			return err
		}
		// Not a variable: kept as written (a longer name's rest follows
		// as ordinary text).
		t.bw.WriteByte('$')
		_, err = t.bw.Write(t.name)
		return err
	default:
		t.br.UnreadByte() // ordinary text again, newlines counted
		return t.bw.WriteByte('$')
	}
}

// braced handles ${...} after the "${".
func (t *renderer) braced() error {
	t.name = t.name[:0]
	for {
		b, err := t.br.ReadByte()
		if err != nil && err != io.EOF {
			return err
		}
		if err == io.EOF || b == '\n' || len(t.name) >= maxPlaceholder {
			return errs.Field("template", "line %d: ${%s is not closed by } on its line (write $${ for a literal ${)", t.line, clip(t.name))
		}
		if b == '}' {
			break
		}
		t.name = append(t.name, b)
	}
	body := string(t.name)
	name, format, ok := parsePlaceholder(body)
	if !ok {
		return errs.Field("template", "line %d: ${%s} is not a placeholder: want ${name} or ${name?string(\"0.00\")} (write $${ for a literal ${)", t.line, clip(t.name))
	}
	v, defined := t.vars[name]
	if !defined {
		return errs.Field("template", "line %d: variable %q is not defined (the run has %s)", t.line, name, listNames(slices.Sorted(maps.Keys(t.vars))))
	}
	if format != "" {
		nf, ok := parseNumFormat(format)
		if !ok {
			return errs.Field("template", "line %d: ${%s}: %q is not a number format (0, # and . with an optional E0 exponent, e.g. \"0.00\", \"0.0##E00\")", t.line, clip(t.name), format)
		}
		x, ok := parseNumber(strings.TrimSpace(v))
		if !ok {
			return errs.Field("template", "line %d: ${%s}: the value of %s, %q, is not a number", t.line, clip(t.name), name, clipString(v))
		}
		v = nf.format(x)
	}
	_, err := t.bw.WriteString(v)
	return err
}

func clip(b []byte) string { return clipString(string(b)) }

func clipString(s string) string {
	if len(s) > 60 {
		return s[:60] + "..."
	}
	return s
}

// parsePlaceholder splits the inside of ${...}: " name ", "name?string("0.0")".
func parsePlaceholder(body string) (name, format string, ok bool) {
	body = strings.TrimSpace(body)
	i := 0
	for i < len(body) && isNameByte(body[i]) {
		i++
	}
	name, rest := body[:i], strings.TrimSpace(body[i:])
	if !isName(name) {
		return "", "", false
	}
	if rest == "" {
		return name, "", true
	}
	rest, found := strings.CutPrefix(rest, "?string")
	if !found {
		return "", "", false
	}
	rest = strings.TrimSpace(rest)
	if !strings.HasPrefix(rest, "(") || !strings.HasSuffix(rest, ")") {
		return "", "", false
	}
	rest = strings.TrimSpace(rest[1 : len(rest)-1])
	for _, q := range [][2]string{{`"`, `"`}, {`'`, `'`}, {"“", "”"}, {"‘", "’"}} {
		if len(rest) >= len(q[0])+len(q[1]) && strings.HasPrefix(rest, q[0]) && strings.HasSuffix(rest, q[1]) {
			f := rest[len(q[0]) : len(rest)-len(q[1])]
			if f == "" {
				return "", "", false
			}
			return name, f, true
		}
	}
	return "", "", false
}

// numFormat is the subset of a Java DecimalFormat pattern Rescale's
// templates use: [#...][0...][.0...#...][E0...].
type numFormat struct {
	minInt, minFrac, maxFrac int
	sci                      bool
	minExp                   int
}

// maxDigits bounds each part of a pattern.
const maxDigits = 40

func parseNumFormat(p string) (numFormat, bool) {
	var f numFormat
	i := 0
	hashes := 0
	for i < len(p) && p[i] == '#' {
		hashes++
		i++
	}
	for i < len(p) && p[i] == '0' {
		f.minInt++
		i++
	}
	if i < len(p) && p[i] == '.' {
		i++
		for i < len(p) && p[i] == '0' {
			f.minFrac++
			i++
		}
		f.maxFrac = f.minFrac
		for i < len(p) && p[i] == '#' {
			f.maxFrac++
			i++
		}
	}
	if i < len(p) && p[i] == 'E' {
		f.sci = true
		i++
		for i < len(p) && p[i] == '0' {
			f.minExp++
			i++
		}
		// Exponent patterns need fixed integer digits (no engineering
		// notation) and an exponent digit.
		if f.minExp == 0 || hashes > 0 || f.minInt == 0 {
			return f, false
		}
	}
	if i != len(p) || hashes+f.minInt+f.maxFrac == 0 ||
		hashes+f.minInt > maxDigits || f.maxFrac > maxDigits || f.minExp > maxDigits {
		return f, false
	}
	return f, true
}

func (f numFormat) format(x float64) string {
	neg := x < 0
	if neg {
		x = -x
	}
	var intPart, frac, exp string
	if f.sci {
		e := 0
		digits := strings.Repeat("0", f.minInt+f.maxFrac)
		if x != 0 {
			s := strconv.FormatFloat(x, 'e', f.minInt+f.maxFrac-1, 64) // d.ddde±xx
			mant, es, _ := strings.Cut(s, "e")
			digits = strings.Replace(mant, ".", "", 1)
			e, _ = strconv.Atoi(es)
			e -= f.minInt - 1
		}
		intPart, frac = digits[:f.minInt], digits[f.minInt:]
		sign := ""
		if e < 0 {
			sign, e = "-", -e
		}
		es := strconv.Itoa(e)
		if len(es) < f.minExp {
			es = strings.Repeat("0", f.minExp-len(es)) + es
		}
		exp = "E" + sign + es
	} else {
		s := strconv.FormatFloat(x, 'f', f.maxFrac, 64)
		intPart, frac, _ = strings.Cut(s, ".")
		if intPart == "0" && f.minInt == 0 {
			intPart = ""
		}
		if len(intPart) < f.minInt {
			intPart = strings.Repeat("0", f.minInt-len(intPart)) + intPart
		}
	}
	for len(frac) > f.minFrac && frac[len(frac)-1] == '0' {
		frac = frac[:len(frac)-1]
	}
	if intPart == "" && frac == "" {
		intPart = "0"
	}
	out := intPart
	if frac != "" {
		out += "." + frac
	}
	if neg && strings.Trim(intPart+frac, "0") != "" {
		out = "-" + out
	}
	return out + exp
}
