package doe

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/openrescale/platform/shared/errs"
)

var testVars = map[string]string{
	"x": "2.5", "index": "3", "name": "case 1a", "_u": "u", "Größe": "no", "big": "9810", "neg": "-55.123",
	"v": "0.9", "w": "1.49", "zero": "0", "dollar": "$x", "uni": "µm 日本",
}

func TestRender(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"no placeholders", "plain text\nline 2\n", "plain text\nline 2\n"},
		{"empty", "", ""},
		{"braced", "vel: ${x}\n", "vel: 2.5\n"},
		{"braced spaces", "${ x }", "2.5"},
		{"bare", "vel: $x\n", "vel: 2.5\n"},
		{"bare then punctuation", "$x.dat $x/y $x-1", "2.5.dat 2.5/y 2.5-1"},
		{"braced joins text", "${index}th", "3th"},
		{"bare takes the longest name", "$indexth", "$indexth"},
		{"bare undefined kept", "cd $HOME && echo $PATH", "cd $HOME && echo $PATH"},
		{"underscore name", "$_u ${_u}", "u u"},
		{"escape", "cost: $$5 and $${x}", "cost: $5 and ${x}"},
		{"escape then bare", "$$$x", "$2.5"},
		{"triple", "$$$", "$$"},
		{"lone dollar at end", "price $", "price $"},
		{"dollar before non-name", "$(date) $1 $ x $- $\n", "$(date) $1 $ x $- $\n"},
		{"shell subst kept", "index=$( printf \"%.0f\" ${index} )\necho > out.$index.txt\n",
			"index=$( printf \"%.0f\" 3 )\necho > out.3.txt\n"},
		{"value with dollar not re-expanded", "${dollar}", "$x"},
		{"text value", "# ${name}\n", "# case 1a\n"},
		{"non-ASCII text", "größe: ${x} µm — ${uni}\n", "größe: 2.5 µm — µm 日本\n"},
		{"non-ASCII after $ is literal", "$Größe", "$Größe"},
		{"CRLF kept", "a=${x}\r\nb=$x\r\n", "a=2.5\r\nb=2.5\r\n"},
		{"adjacent", "${x}${index}$x$index", "2.532.53"},
		{"format int", `${v?string("0")} ${w?string("0")} ${neg?string("0")} ${big?string("0")}`, "1 1 -55 9810"},
		{"format one decimal", `${v?string("0.0")} ${w?string("0.0")} ${neg?string("0.0")} ${big?string("0.0")}`, "0.9 1.5 -55.1 9810.0"},
		{"format optional digits", `${v?string("0.00##")} ${w?string("0.00##")} ${neg?string("0.00##")} ${big?string("0.00##")}`, "0.90 1.49 -55.123 9810.00"},
		{"format sci", `${v?string("0E0")} ${w?string("0E0")} ${neg?string("0E0")} ${big?string("0E0")}`, "9E-1 1E0 -6E1 1E4"},
		{"format sci two digits", `${v?string("00E00")} ${w?string("00E00")} ${neg?string("00E00")} ${big?string("00E00")}`, "90E-02 15E-01 -55E00 98E02"},
		{"format sci fraction", `${v?string("0.0##E0")} ${w?string("0.0##E0")} ${neg?string("0.0##E0")} ${big?string("0.0##E0")}`, "9.0E-1 1.49E0 -5.512E1 9.81E3"},
		{"format leading zeros", `${index?string("000")}`, "003"},
		{"format hash", `${v?string("#.##")} ${zero?string("#.##")} ${zero?string("#")}`, ".9 0 0"},
		{"format zero sci", `${zero?string("0.0E0")}`, "0.0E0"},
		{"format no negative zero", `${neg?string("0")} ${x?string("0")}`, "-55 2"},
		{"format half even", `${x?string("0")}`, "2"},
		{"format quotes", `${x?string('0.00')} ${x?string(“0.00”)} ${ x ?string ( "0.0" ) }`, "2.50 2.50 2.5"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			if err := Render(&out, strings.NewReader(tt.in), testVars); err != nil {
				t.Fatal(err)
			}
			if out.String() != tt.want {
				t.Fatalf("got  %q\nwant %q", out.String(), tt.want)
			}
			// Any buffering and any read sizes give the same output.
			out.Reset()
			if err := render(&out, iotest.OneByteReader(strings.NewReader(tt.in)), testVars, 16); err != nil || out.String() != tt.want {
				t.Fatalf("small buffer: %q, %v", out.String(), err)
			}
		})
	}
}

func TestRenderNegativeZero(t *testing.T) {
	var out bytes.Buffer
	if err := Render(&out, strings.NewReader(`${a?string("0.0")} ${b?string("0")}`), map[string]string{"a": "-0.01", "b": "-0.4"}); err != nil {
		t.Fatal(err)
	}
	if out.String() != "0.0 0" {
		t.Fatalf("got %q", out.String())
	}
}

func TestRenderErrors(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"undefined", "a\nb ${nope}\n", `line 2: variable "nope" is not defined (the run has Größe, _u, big, dollar, index, name, neg, uni, v, w, ...)`},
		{"undefined after CRLF", "a\r\nb\r\n${nope}", `line 3: variable "nope"`},
		{"line after long lines", strings.Repeat("x", 100000) + "\n" + strings.Repeat("y", 100000) + "\n${nope}", "line 3:"},
		{"line after a value with newlines", "${x}\n\n\n${nope}", "line 4:"},
		{"unclosed", "a\n${x\n", "line 2: ${x is not closed by } on its line"},
		{"unclosed at end", "${x", "line 1: ${x is not closed"},
		{"empty braces", "${}", "line 1: ${} is not a placeholder"},
		{"bash default", "${HOME:-/tmp}", "${HOME:-/tmp} is not a placeholder"},
		{"bash length", "${#arr[@]}", "is not a placeholder"},
		{"positional", "${1}", "${1} is not a placeholder"},
		{"two names", "${a b}", "is not a placeholder"},
		{"unknown builtin", "${x?upper_case}", "is not a placeholder"},
		{"empty format", `${x?string("")}`, "is not a placeholder"},
		{"unquoted format", `${x?string(0.0)}`, "is not a placeholder"},
		{"bad format", `${x?string("0,000")}`, `"0,000" is not a number format`},
		{"engineering format", `${x?string("##0E0")}`, "is not a number format"},
		{"exponent without digits", `${x?string("0E")}`, "is not a number format"},
		{"format of text", `${name?string("0.0")}`, `the value of name, "case 1a", is not a number`},
		{"too long", "${" + strings.Repeat("a", 600) + "}", "is not closed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Render(io.Discard, strings.NewReader(tt.in), testVars)
			checkField(t, err, "template", tt.want)
			err2 := render(io.Discard, iotest.OneByteReader(strings.NewReader(tt.in)), testVars, 16)
			if err2 == nil || err2.Error() != err.Error() {
				t.Fatalf("small buffer: %v", err2)
			}
		})
	}
}

func TestRenderLongLines(t *testing.T) {
	// A line far longer than any buffer streams through.
	long := strings.Repeat("abc ", 1<<18) // 1 MiB, one line
	in := long + "${x}" + long + "$x\n"
	var out bytes.Buffer
	if err := Render(&out, strings.NewReader(in), testVars); err != nil {
		t.Fatal(err)
	}
	if out.String() != long+"2.5"+long+"2.5\n" {
		t.Fatal("wrong output")
	}
	// A bare name longer than MaxNameLen is text.
	name := strings.Repeat("n", MaxNameLen+10)
	out.Reset()
	if err := Render(&out, strings.NewReader("$"+name+" $x"), map[string]string{"x": "1", name: "no"}); err != nil {
		t.Fatal(err)
	}
	if out.String() != "$"+name+" 1" {
		t.Fatalf("got %q", out.String())
	}
}

func TestRenderIOErrors(t *testing.T) {
	boom := errors.New("boom")
	err := Render(io.Discard, io.MultiReader(strings.NewReader("a $"), iotest.ErrReader(boom)), testVars)
	if !errors.Is(err, boom) || errs.Code(err) != errs.Internal {
		t.Fatalf("read: %v", err)
	}
	err = Render(failWriter{boom}, strings.NewReader("${x}"), testVars)
	if !errors.Is(err, boom) {
		t.Fatalf("write: %v", err)
	}
}

type failWriter struct{ err error }

func (w failWriter) Write([]byte) (int, error) { return 0, w.err }

// TestRenderRun renders a template with a run from each source.
func TestRenderRun(t *testing.T) {
	runs, err := ParseParamFile(strings.NewReader("description, v, z\ncase 1a, 2.2, 3.4\ncase 1b, 2.3, 3.4\n"))
	if err != nil {
		t.Fatal(err)
	}
	tmpl := "# ${description}\nvel: ${v}\nz: ${z?string(\"0.00\")}\n"
	var out bytes.Buffer
	if err := Render(&out, strings.NewReader(tmpl), runs[1].Vars()); err != nil {
		t.Fatal(err)
	}
	if out.String() != "# case 1b\nvel: 2.3\nz: 3.40\n" {
		t.Fatalf("got %q", out.String())
	}
	gen, err := Expand([]Variable{param("index", "FixedRange", `{"minvalue": 1, "maxvalue": 10, "increment": 1}`)}, 0, 0, false)
	if err != nil {
		t.Fatal(err)
	}
	out.Reset()
	if err := Render(&out, strings.NewReader("echo results > output.${index}.txt"), gen[9].Vars()); err != nil {
		t.Fatal(err)
	}
	if out.String() != "echo results > output.10.txt" {
		t.Fatalf("got %q", out.String())
	}
}
