package doe

import (
	"bufio"
	"encoding/csv"
	"io"
	"strconv"
)

// ParseOutputs reads the values of the named variables (Responses) from a
// run's output file (format in the package comment) and returns those found,
// in the order of names, as numbers. A name missing from the file is missing
// from the result; only read errors are errors.
func ParseOutputs(r io.Reader, names []string) ([]Value, error) {
	want := make(map[string]int, len(names))
	for i, n := range names {
		if _, dup := want[n]; !dup {
			want[n] = i
		}
	}
	found := make([]*Value, len(names))
	br := bufio.NewReaderSize(r, MaxLineBytes)
	skipping := false // inside a line longer than the buffer
	for {
		line, err := br.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			skipping = true
			continue
		}
		if err != nil && err != io.EOF {
			return nil, err
		}
		if !skipping {
			if name, v, ok := outputLine(line); ok {
				if i, ok := want[name]; ok {
					found[i] = &Value{Name: name, Value: v, DisplayValue: formatNumber(v)}
				}
			}
		}
		skipping = false
		if err == io.EOF {
			break
		}
	}
	var out []Value
	for _, v := range found {
		if v != nil {
			out = append(out, *v)
		}
	}
	return out, nil
}

// outputLine parses "name [=:,] number ...".
func outputLine(line []byte) (name string, v float64, ok bool) {
	i := 0
	skip := func() {
		for i < len(line) && (line[i] == ' ' || line[i] == '\t' || line[i] == '\r' || line[i] == '\n') {
			i++
		}
	}
	skip()
	start := i
	if i >= len(line) || !isNameStart(line[i]) {
		return "", 0, false
	}
	for i < len(line) && isNameByte(line[i]) {
		i++
	}
	name = string(line[start:i])
	sep := i
	skip()
	if i < len(line) && (line[i] == '=' || line[i] == ':' || line[i] == ',') {
		i++
		skip()
	} else if i == sep {
		return "", 0, false // "Cdx" is not Cd
	}
	start = i
	for i < len(line) && line[i] != ' ' && line[i] != '\t' && line[i] != '\r' && line[i] != '\n' && line[i] != ',' && line[i] != ';' {
		i++
	}
	v, ok = parseNumber(string(line[start:i]))
	return name, v, ok
}

// Summary writes the runs as CSV: a header "run" then one column per
// variable (in the order they first appear in runs' Values, then in
// outputs), and one row per run with its DisplayValues; a value a run lacks
// is empty. outputs are the values ParseOutputs found, by run Index; they
// replace a run's value of the same name.
func Summary(w io.Writer, runs []Run, outputs map[int][]Value) error {
	col := map[string]int{}
	header := []string{"run"}
	add := func(vals []Value) {
		for _, v := range vals {
			if _, ok := col[v.Name]; !ok {
				col[v.Name] = len(header)
				header = append(header, v.Name)
			}
		}
	}
	for _, r := range runs {
		add(r.Values)
	}
	for _, r := range runs {
		add(outputs[r.Index])
	}
	cw := csv.NewWriter(w)
	if err := cw.Write(header); err != nil {
		return err
	}
	row := make([]string, len(header))
	for _, r := range runs {
		clear(row)
		row[0] = strconv.Itoa(r.Index)
		for _, vals := range [][]Value{r.Values, outputs[r.Index]} {
			for _, v := range vals {
				row[col[v.Name]] = v.DisplayValue
			}
		}
		if err := cw.Write(row); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}
