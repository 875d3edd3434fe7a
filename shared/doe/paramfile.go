package doe

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/openrescale/platform/shared/errs"
)

// ParseParamFile reads a parameter file (CSV, typeId 3; format in the package
// comment): a header row of variable names, then one run per row, numbered
// from 1, of type RunTypeCase. It streams r and stops at the first error:
// errs.Invalid with Field "paramFile" and the line in the message (a
// record's first line), or a read error as it came.
func ParseParamFile(r io.Reader) ([]Run, error) { return parseCSV(r, "paramFile") }

// ParseCaseFile reads a case file (caseFile) in the parameter file's format;
// errors name the field "caseFile".
func ParseCaseFile(r io.Reader) ([]Run, error) { return parseCSV(r, "caseFile") }

func parseCSV(r io.Reader, field string) ([]Run, error) {
	c := &csvReader{
		br:    bufio.NewReaderSize(io.LimitReader(r, MaxParamFileBytes+1), 32<<10),
		line:  1,
		field: field,
	}
	if err := c.skipBOM(); err != nil {
		return nil, err
	}
	header, hline, err := c.record()
	if err == io.EOF {
		return nil, errs.Field(field, "the file is empty: want a header row of variable names, then one row per run")
	}
	if err != nil {
		return nil, err
	}
	if len(header) > MaxVariables {
		return nil, errs.Field(field, "line %d: %d columns, more than %d variables", hline, len(header), MaxVariables)
	}
	seen := make(map[string]int, len(header))
	for i, name := range header {
		switch {
		case name == "":
			return nil, errs.Field(field, "line %d: column %d has no variable name", hline, i+1)
		case !isName(name):
			hint := ""
			if strings.ContainsAny(name, ";\t") {
				hint = "; the file must be comma-separated"
			}
			return nil, errs.Field(field, "line %d: column %d: %q is not a variable name (letters, digits and _, not starting with a digit, at most %d bytes)%s",
				hline, i+1, name, MaxNameLen, hint)
		}
		if j, dup := seen[name]; dup {
			return nil, errs.Field(field, "line %d: variable %q names columns %d and %d", hline, name, j+1, i+1)
		}
		seen[name] = i
	}

	var runs []Run
	for {
		rec, line, err := c.record()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		if len(rec) != len(header) {
			return nil, errs.Field(field, "line %d: %d values, but the header (line %d) names %d variables", line, len(rec), hline, len(header))
		}
		if len(runs) == MaxRuns {
			return nil, errs.Field(field, "line %d: more than %d runs", line, MaxRuns)
		}
		if (len(runs)+1)*len(header) > MaxValues {
			return nil, errs.Field(field, "line %d: more than %d values in all (runs × variables)", line, MaxValues)
		}
		vals := make([]Value, len(rec))
		for i, text := range rec {
			if text == "" {
				return nil, errs.Field(field, "line %d: no value for %q (column %d)", line, header[i], i+1)
			}
			vals[i] = Value{Name: header[i], DisplayValue: text}
			if v, ok := parseNumber(text); ok {
				vals[i].Value = v
			} else {
				vals[i].Text = text
			}
		}
		runs = append(runs, Run{Index: len(runs) + 1, Type: RunTypeCase, Values: vals})
	}
	if len(runs) == 0 {
		return nil, errs.Field(field, "line %d: a header but no runs: want one row per run after it", hline)
	}
	return runs, nil
}

// csvReader reads records byte by byte, counting lines and bytes.
type csvReader struct {
	br    *bufio.Reader
	line  int   // line of the next byte
	n     int64 // bytes read
	field string
	buf   []byte
}

var errTooLarge = errors.New("too large")

func (c *csvReader) readByte() (byte, error) {
	b, err := c.br.ReadByte()
	if err == io.EOF {
		return 0, io.EOF
	}
	if err != nil {
		return 0, fmt.Errorf("%s: read: %w", c.field, err)
	}
	c.n++
	if c.n > MaxParamFileBytes {
		return 0, errTooLarge
	}
	return b, nil
}

func (c *csvReader) skipBOM() error {
	p, _ := c.br.Peek(3)
	switch {
	case len(p) >= 3 && p[0] == 0xEF && p[1] == 0xBB && p[2] == 0xBF:
		c.br.Discard(3)
		c.n += 3
	case len(p) >= 2 && (p[0] == 0xFF && p[1] == 0xFE || p[0] == 0xFE && p[1] == 0xFF):
		return errs.Field(c.field, "the file is UTF-16: save it as CSV UTF-8")
	}
	return nil
}

// newline consumes the rest of a line break that began with b ('\r' or
// '\n') and counts the line.
func (c *csvReader) newline(b byte) error {
	c.line++
	if b == '\r' {
		next, err := c.br.Peek(1)
		if err == nil && next[0] == '\n' {
			if _, err := c.readByte(); err != nil {
				return err
			}
		}
	}
	return nil
}

// record returns the next non-blank record and the line it starts on, or
// io.EOF.
func (c *csvReader) record() ([]string, int, error) {
	for {
		start := c.line
		rec, blank, err := c.fields(start)
		if err == errTooLarge {
			return nil, start, errs.Field(c.field, "line %d: the file is larger than %d MiB", start, MaxParamFileBytes>>20)
		}
		if err != nil {
			return nil, start, err
		}
		if blank {
			continue
		}
		for i, f := range rec {
			if !utf8.ValidString(f) {
				return nil, start, errs.Field(c.field, "line %d: column %d is not UTF-8 text (save the file as CSV UTF-8)", start, i+1)
			}
		}
		return rec, start, nil
	}
}

// fields reads one record. blank reports a line of nothing but spaces and
// tabs; io.EOF comes only when no byte was left.
func (c *csvReader) fields(start int) (rec []string, blank bool, err error) {
	size := 0
	quotedAny := false
	for {
		// Start of a field: skip leading blanks.
		b, err := c.readByte()
		for err == nil && (b == ' ' || b == '\t') {
			size++
			b, err = c.readByte()
		}
		if err == io.EOF {
			if len(rec) == 0 && size == 0 && !quotedAny {
				return nil, false, io.EOF
			}
			rec = append(rec, "")
			return rec, len(rec) == 1 && !quotedAny, nil
		}
		if err != nil {
			return nil, false, err
		}
		c.buf = c.buf[:0]
		if b == '"' {
			quotedAny = true
			qline := c.line
			for {
				b, err = c.readByte()
				if err == io.EOF {
					return nil, false, errs.Field(c.field, "line %d: a quoted value is never closed", qline)
				}
				if err != nil {
					return nil, false, err
				}
				size++
				if size > MaxRecordBytes {
					return nil, false, errs.Field(c.field, "line %d: a row longer than %d KiB (a quote left open on line %d?)", start, MaxRecordBytes>>10, qline)
				}
				if b == '"' {
					next, perr := c.br.Peek(1)
					if perr == nil && next[0] == '"' {
						if _, err := c.readByte(); err != nil {
							return nil, false, err
						}
						size++
						c.buf = append(c.buf, '"')
						continue
					}
					break
				}
				if b == '\r' || b == '\n' {
					if err := c.newline(b); err != nil {
						return nil, false, err
					}
					b = '\n'
				}
				c.buf = append(c.buf, b)
			}
			// After the closing quote: blanks, then a separator.
			b, err = c.readByte()
			for err == nil && (b == ' ' || b == '\t') {
				b, err = c.readByte()
			}
			if err != nil && err != io.EOF {
				return nil, false, err
			}
			rec = append(rec, string(c.buf))
			switch {
			case err == io.EOF:
				return rec, false, nil
			case b == ',':
				continue
			case b == '\r' || b == '\n':
				return rec, false, c.newline(b)
			default:
				return nil, false, errs.Field(c.field, "line %d: %q after the closing quote of column %d (quote the whole value, doubling quotes inside)", c.line, b, len(rec))
			}
		}
		// Unquoted: up to a comma or the end of the line.
		for {
			if b == ',' || b == '\r' || b == '\n' {
				break
			}
			size++
			if size > MaxRecordBytes {
				return nil, false, errs.Field(c.field, "line %d: a row longer than %d KiB", start, MaxRecordBytes>>10)
			}
			c.buf = append(c.buf, b)
			b, err = c.readByte()
			if err == io.EOF {
				break
			}
			if err != nil {
				return nil, false, err
			}
		}
		rec = append(rec, strings.TrimRight(string(c.buf), " \t"))
		if err == io.EOF {
			return rec, len(rec) == 1 && rec[0] == "" && !quotedAny, nil
		}
		if b == ',' {
			continue
		}
		if err := c.newline(b); err != nil {
			return nil, false, err
		}
		return rec, len(rec) == 1 && rec[0] == "" && !quotedAny, nil
	}
}
