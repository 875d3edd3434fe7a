package doe

import (
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/openrescale/platform/shared/errs"
)

// table renders runs as rows of "name=display" cells, with "#" before a
// text value, for compact comparisons.
func table(runs []Run) [][]string {
	var out [][]string
	for _, r := range runs {
		var row []string
		for _, v := range r.Values {
			cell := v.Name + "=" + v.DisplayValue
			if v.Text != "" {
				cell = v.Name + "=#" + v.Text
			}
			row = append(row, cell)
		}
		out = append(out, row)
	}
	return out
}

func TestParseParamFile(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want [][]string
	}{
		{"plain", "x,y\n1,2\n3,4\n", [][]string{{"x=1", "y=2"}, {"x=3", "y=4"}}},
		{"no final newline", "x,y\n1,2", [][]string{{"x=1", "y=2"}}},
		{"BOM", "\ufeffx,y\n1,2\n", [][]string{{"x=1", "y=2"}}},
		{"CRLF", "x,y\r\n1,2\r\n3,4\r\n", [][]string{{"x=1", "y=2"}, {"x=3", "y=4"}}},
		{"CR only", "x,y\r1,2\r3,4", [][]string{{"x=1", "y=2"}, {"x=3", "y=4"}}},
		{"blank lines", "\n\nx,y\n\n1,2\n  \n\t\n3,4\n\n", [][]string{{"x=1", "y=2"}, {"x=3", "y=4"}}},
		{"spaces trimmed", "description, v, z\ncase 1a, 2.2, 3.4\n", [][]string{{"description=#case 1a", "v=2.2", "z=3.4"}}},
		{"quoted comma", "d,v\n\"a, b\",1\n", [][]string{{"d=#a, b", "v=1"}}},
		{"quoted quote", "d,v\n\"say \"\"hi\"\"\",1\n", [][]string{{`d=#say "hi"`, "v=1"}}},
		{"quoted newline", "d,v\n\"two\nlines\",1\n", [][]string{{"d=#two\nlines", "v=1"}}},
		{"quoted CRLF becomes LF", "d,v\r\n\"two\r\nlines\",1\r\n", [][]string{{"d=#two\nlines", "v=1"}}},
		{"quoted spaces kept", "d,v\n\"  a  \" , 1\n", [][]string{{"d=#  a  ", "v=1"}}},
		{"quoted number is a number", "v\n\"2.5\"\n", [][]string{{"v=2.5"}}},
		{"quoted header", "\"x\",\"y\"\n1,2\n", [][]string{{"x=1", "y=2"}}},
		{"bare quote inside", "d,v\n12\" pipe,1\n", [][]string{{`d=#12" pipe`, "v=1"}}},
		{"display as written", "v\n2.50\n+1\n.5\n-0\n1E3\n", [][]string{{"v=2.50"}, {"v=+1"}, {"v=.5"}, {"v=-0"}, {"v=1E3"}}},
		{"not numbers", "v\nNaN\nInf\n0x10\n1e400\n1_000\n1.2.3\n", [][]string{{"v=#NaN"}, {"v=#Inf"}, {"v=#0x10"}, {"v=#1e400"}, {"v=#1_000"}, {"v=#1.2.3"}}},
		{"non-ASCII", "label,v\nGröße µm,1\n日本,2\n", [][]string{{"label=#Größe µm", "v=1"}, {"label=#日本", "v=2"}}},
		{"underscore names", "_a,b_2\n1,2\n", [][]string{{"_a=1", "b_2=2"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			runs, err := ParseParamFile(strings.NewReader(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			if got := table(runs); !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %q\nwant %q", got, tt.want)
			}
			for i, r := range runs {
				if r.Index != i+1 || r.Type != RunTypeCase || r.Nominal {
					t.Fatalf("run %d: %+v", i, r)
				}
			}
			// Streaming one byte at a time gives the same runs.
			again, err := ParseParamFile(iotest.OneByteReader(strings.NewReader(tt.in)))
			if err != nil || !reflect.DeepEqual(again, runs) {
				t.Fatalf("one byte at a time: %v, %v", err, table(again))
			}
		})
	}
}

func TestParseParamFileNumbers(t *testing.T) {
	runs, err := ParseParamFile(strings.NewReader("a,b,c,d\n20,3.5,-0.0187556,1e-3\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := []Value{
		{Name: "a", Value: 20, DisplayValue: "20"},
		{Name: "b", Value: 3.5, DisplayValue: "3.5"},
		{Name: "c", Value: -0.0187556, DisplayValue: "-0.0187556"},
		{Name: "d", Value: 0.001, DisplayValue: "1e-3"},
	}
	if !reflect.DeepEqual(runs[0].Values, want) {
		t.Fatalf("got %+v", runs[0].Values)
	}
	if got := runs[0].Vars(); !reflect.DeepEqual(got, map[string]string{"a": "20", "b": "3.5", "c": "-0.0187556", "d": "1e-3"}) {
		t.Fatalf("Vars = %v", got)
	}
}

func TestParseParamFileErrors(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"empty", "", "the file is empty"},
		{"only blank lines", "\n \r\n\t\n", "the file is empty"},
		{"header only", "x,y\n", "line 1: a header but no runs"},
		{"too few values", "x,y\n1,2\n3\n", "line 3: 1 values, but the header (line 1) names 2 variables"},
		{"too many values", "x,y\n1,2,3\n", "line 2: 3 values"},
		{"trailing comma", "x,y\n1,2,\n", "line 2: 3 values"},
		{"ragged after blank lines", "x,y\n\n\n1,2\n\n4\n", "line 6: 1 values"},
		{"line of a multi-line record", "d,v\n\"a\nb\",1\n\"c\nd\"\n", "line 4: 1 values"},
		{"CRLF line numbers", "x,y\r\n1,2\r\n3\r\n", "line 3:"},
		{"CR line numbers", "x,y\r1,2\r3\r", "line 3:"},
		{"empty header name", "x,,y\n1,2,3\n", "line 1: column 2 has no variable name"},
		{"invalid header name", "x velocity,y\n1,2\n", `line 1: column 1: "x velocity" is not a variable name`},
		{"header starts with digit", "1x\n1\n", `"1x" is not a variable name`},
		{"semicolons", "x;y\n1;2\n", "must be comma-separated"},
		{"duplicate header", "x,y,x\n1,2,3\n", `line 1: variable "x" names columns 1 and 3`},
		{"empty value", "x,y\n1,\n", `line 2: no value for "y" (column 2)`},
		{"empty quoted value", "x,y\n1,\"\"\n", `line 2: no value for "y"`},
		{"unclosed quote", "x,y\n1,2\n\"open,3\n4,5\n", "line 3: a quoted value is never closed"},
		{"text after quote", "x,y\n\"a\"b,1\n", `line 2: 'b' after the closing quote of column 1`},
		{"not UTF-8", "x,y\n\xe9t\xe9,1\n", "line 2: column 1 is not UTF-8"},
		{"UTF-16", "\xff\xfex\x00", "UTF-16"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseParamFile(strings.NewReader(tt.in))
			checkField(t, err, "paramFile", tt.want)
		})
	}
}

// checkField checks err is errs.Invalid on field with want in its message.
func checkField(t *testing.T, err error, field, want string) {
	t.Helper()
	e, ok := errs.As(err)
	if !ok || e.Code != errs.Invalid || e.Field != field {
		t.Fatalf("err = %v, want an Invalid %s error", err, field)
	}
	if !strings.Contains(e.Message, want) {
		t.Fatalf("message %q does not contain %q", e.Message, want)
	}
}

func TestParseCaseFileField(t *testing.T) {
	_, err := ParseCaseFile(strings.NewReader("x\n"))
	checkField(t, err, "caseFile", "no runs")
	runs, err := ParseCaseFile(strings.NewReader("x\n1\n"))
	if err != nil || len(runs) != 1 {
		t.Fatal(runs, err)
	}
}

func TestParseParamFileLimits(t *testing.T) {
	t.Run("MaxRuns", func(t *testing.T) {
		var b strings.Builder
		b.WriteString("i\n")
		for i := 1; i <= MaxRuns; i++ {
			fmt.Fprintf(&b, "%d\n", i)
		}
		runs, err := ParseParamFile(strings.NewReader(b.String()))
		if err != nil || len(runs) != MaxRuns {
			t.Fatalf("%d runs: %v", len(runs), err)
		}
		b.WriteString("10001\n")
		_, err = ParseParamFile(strings.NewReader(b.String()))
		checkField(t, err, "paramFile", fmt.Sprintf("line %d: more than %d runs", MaxRuns+2, MaxRuns))
	})
	t.Run("MaxVariables", func(t *testing.T) {
		names := make([]string, MaxVariables+1)
		for i := range names {
			names[i] = fmt.Sprintf("v%d", i)
		}
		_, err := ParseParamFile(strings.NewReader(strings.Join(names, ",") + "\n"))
		checkField(t, err, "paramFile", "more than 1000 variables")
	})
	t.Run("MaxValues", func(t *testing.T) {
		names := make([]string, MaxVariables)
		row := make([]string, MaxVariables)
		for i := range names {
			names[i], row[i] = fmt.Sprintf("v%d", i), "1"
		}
		var b strings.Builder
		b.WriteString(strings.Join(names, ",") + "\n")
		line := strings.Join(row, ",") + "\n"
		for i := 0; i <= MaxValues/MaxVariables; i++ {
			b.WriteString(line)
		}
		_, err := ParseParamFile(strings.NewReader(b.String()))
		checkField(t, err, "paramFile", fmt.Sprintf("line %d: more than %d values", MaxValues/MaxVariables+2, MaxValues))
	})
	t.Run("MaxRecordBytes", func(t *testing.T) {
		in := "d\n" + strings.Repeat("a", MaxRecordBytes+1) + "\n"
		_, err := ParseParamFile(strings.NewReader(in))
		checkField(t, err, "paramFile", "line 2: a row longer than 256 KiB")
		in = "d\n\"" + strings.Repeat("a\n", MaxRecordBytes) + "\n"
		_, err = ParseParamFile(strings.NewReader(in))
		checkField(t, err, "paramFile", "a quote left open on line 2?")
	})
	t.Run("MaxParamFileBytes", func(t *testing.T) {
		// Blank lines cost no memory but still count against the file size.
		r := io.MultiReader(strings.NewReader("x\n1\n"), &repeatReader{line: 100 << 10, n: MaxParamFileBytes})
		_, err := ParseParamFile(r)
		checkField(t, err, "paramFile", "larger than 32 MiB")
	})
}

// repeatReader gives n bytes of lines of spaces, each line bytes long.
type repeatReader struct {
	line, n, i int
}

func (r *repeatReader) Read(p []byte) (int, error) {
	if r.n == 0 {
		return 0, io.EOF
	}
	n := min(len(p), r.n)
	for i := range n {
		p[i] = ' '
		if r.i++; r.i%r.line == 0 {
			p[i] = '\n'
		}
	}
	r.n -= n
	return n, nil
}

func TestParseParamFileReadError(t *testing.T) {
	boom := errors.New("boom")
	_, err := ParseParamFile(io.MultiReader(strings.NewReader("x,y\n1,"), iotest.ErrReader(boom)))
	if !errors.Is(err, boom) || errs.Code(err) != errs.Internal {
		t.Fatalf("err = %v", err)
	}
}
