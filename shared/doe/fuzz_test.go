package doe

import (
	"bytes"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"testing/iotest"
	"unicode/utf8"

	"github.com/openrescale/platform/shared/errs"
)

func FuzzParseParamFile(f *testing.F) {
	for _, s := range []string{
		"x,y\n1,2\n3,4\n",
		"\ufeffx,y\r\n1,2\r\n",
		"x,y\r1,2\r",
		"description, v, z\ncase 1a, 2.2, 3.4\n",
		"d,v\n\"a, b\",1\n\"two\nlines\",2\n\"q \"\"x\"\"\",3\n",
		"d,v\n\"open,1\n",
		"d,v\n\"a\"b,1\n",
		"x,y\n1\n",
		"x,x\n1,2\n",
		"x,,y\n1,2,3\n",
		"\n\n  \nx\n\n1\n\n",
		"v\nNaN\n1e400\n.5\n-0\n",
		"label\nGröße\n\xe9\n",
		"\xff\xfex",
		"x;y\n1;2\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		runs, err := ParseParamFile(bytes.NewReader(in))
		again, err2 := ParseParamFile(iotest.OneByteReader(bytes.NewReader(in)))
		if !reflect.DeepEqual(runs, again) || (err == nil) != (err2 == nil) || err != nil && err.Error() != err2.Error() {
			t.Fatalf("one byte at a time differs: %v / %v", err, err2)
		}
		if err != nil {
			if e, ok := errs.As(err); !ok || e.Code != errs.Invalid || e.Field != "paramFile" {
				t.Fatalf("err = %v, want an Invalid paramFile error", err)
			}
			if n, ok := errLine(err); ok && n > bytes.Count(in, []byte{'\n'})+bytes.Count(in, []byte{'\r'})+1 {
				t.Fatalf("line %d is past the end: %v", n, err)
			}
			return
		}
		if len(runs) == 0 || len(runs) > MaxRuns {
			t.Fatalf("%d runs", len(runs))
		}
		names := runs[0].Values
		seen := map[string]bool{}
		for _, v := range names {
			if !isName(v.Name) || seen[v.Name] {
				t.Fatalf("bad or repeated name %q", v.Name)
			}
			seen[v.Name] = true
		}
		for i, r := range runs {
			if r.Index != i+1 || r.Type != RunTypeCase || r.Nominal || len(r.Values) != len(names) {
				t.Fatalf("run %d: %+v", i, r)
			}
			for j, v := range r.Values {
				if v.Name != names[j].Name || v.DisplayValue == "" || !utf8.ValidString(v.DisplayValue) || v.IsRelative {
					t.Fatalf("run %d value %d: %+v", r.Index, j, v)
				}
				x, numeric := parseNumber(v.DisplayValue)
				if numeric != (v.Text == "") || numeric && x != v.Value || !numeric && (v.Text != v.DisplayValue || v.Value != 0) {
					t.Fatalf("run %d value %d: %+v", r.Index, j, v)
				}
			}
		}
		// Written back with every field quoted, the file reads the same.
		var b strings.Builder
		quote := func(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }
		for j, v := range names {
			if j > 0 {
				b.WriteByte(',')
			}
			b.WriteString(quote(v.Name))
		}
		b.WriteString("\r\n")
		for _, r := range runs {
			for j, v := range r.Values {
				if j > 0 {
					b.WriteByte(',')
				}
				b.WriteString(quote(v.DisplayValue))
			}
			b.WriteString("\n")
		}
		back, err := ParseParamFile(strings.NewReader(b.String()))
		if err != nil || !reflect.DeepEqual(back, runs) {
			t.Fatalf("round trip: %v\n%q\n%q", err, table(runs), table(back))
		}
	})
}

var lineRE = regexp.MustCompile(`^line (\d+):`)

// errLine returns the line number an error message starts with.
func errLine(err error) (int, bool) {
	e, ok := errs.As(err)
	if !ok {
		return 0, false
	}
	m := lineRE.FindStringSubmatch(e.Message)
	if m == nil {
		return 0, false
	}
	n, _ := strconv.Atoi(m[1])
	return n, true
}

func FuzzRender(f *testing.F) {
	for _, s := range []string{
		"plain\n", "${x}", "$x $y ${name_1}", "$$ $$$x $", "$(date) $1 $HOME",
		"#!/bin/bash\n\nindex=$( printf \"%.0f\" ${index} )\necho > out.$index.txt\n",
		"${x", "${x\n}", "${}", "${HOME:-/tmp}", "${x?string(\"0.00\")}", "${y?string('0.0##E00')}",
		"${y?string(“#.#”)}", "${x?string(\"0,0\")}", "a\r\n${nope}\r\n", "größe $Größe ${x} µm",
	} {
		f.Add([]byte(s), "2.5")
	}
	f.Add([]byte("${x?string(\"0\")}"), "-1e308")
	f.Add([]byte("$x"), "$x${x}")
	f.Fuzz(func(t *testing.T, in []byte, value string) {
		vars := map[string]string{"x": value, "y": "-55.123", "name_1": "case 1a", "index": "3"}
		var out bytes.Buffer
		err := Render(&out, bytes.NewReader(in), vars)
		var out2 bytes.Buffer
		err2 := render(&out2, iotest.OneByteReader(bytes.NewReader(in)), vars, 16)
		if (err == nil) != (err2 == nil) || err != nil && err.Error() != err2.Error() || err == nil && out.String() != out2.String() {
			t.Fatalf("small buffer differs: %v / %v", err, err2)
		}
		if err != nil {
			if e, ok := errs.As(err); !ok || e.Code != errs.Invalid || e.Field != "template" {
				t.Fatalf("err = %v, want an Invalid template error", err)
			}
			if n, ok := errLine(err); !ok || n < 1 || n > bytes.Count(in, []byte{'\n'})+1 {
				t.Fatalf("line %d out of range: %v", n, err)
			}
		}
		// Output is bounded: a placeholder is at least 2 bytes and gives at
		// most a value or a formatted number (under 400 bytes).
		if max := len(in) * (len(value) + 400); out.Len() > max && err == nil {
			t.Fatalf("%d bytes out of %d in", out.Len(), len(in))
		}
		// Without a "$" the template is copied as it is.
		if !bytes.ContainsRune(in, '$') && (err != nil || !bytes.Equal(out.Bytes(), in)) {
			t.Fatalf("no $: %v, %q", err, out.String())
		}
		// Escaped, any text renders back to itself.
		var esc bytes.Buffer
		if err := Render(&esc, strings.NewReader(strings.ReplaceAll(string(in), "$", "$$")), vars); err != nil || !bytes.Equal(esc.Bytes(), in) {
			t.Fatalf("escaped: %v, %q", err, esc.String())
		}
	})
}
