package asl

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
)

// Values inside the interpreter are what encoding/json gives with UseNumber:
// nil, bool, string, json.Number, []any and map[string]any. json.Number
// keeps numbers exactly as written, so ids and large integers pass through
// the states unchanged.

// maxPayloadBytes is Step Functions' limit on a state's input or output
// (256 KiB). Enforcing it also keeps every persisted frame under
// store.MaxItemBytes.
const maxPayloadBytes = 256 * 1024

func decodeJSON(raw []byte) (any, error) {
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, err
	}
	if _, err := d.Token(); err != io.EOF {
		return nil, fmt.Errorf("unexpected data after the JSON value")
	}
	return v, nil
}

// encodeJSON is json.Marshal without HTML escaping: payloads go to steps
// and to people reading histories, never into HTML.
func encodeJSON(v any) (json.RawMessage, error) {
	var b bytes.Buffer
	e := json.NewEncoder(&b)
	e.SetEscapeHTML(false)
	if err := e.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(b.Bytes(), "\n"), nil
}

func mustEncode(v any) json.RawMessage {
	b, err := encodeJSON(v)
	if err != nil {
		// Values come from decodeJSON or the interpreter's own constructors,
		// which are always encodable.
		panic(fmt.Sprintf("asl: encode: %v", err))
	}
	return b
}

// deepCopy copies maps and slices so that setting a ResultPath never
// changes a value another frame or a caller still holds.
func deepCopy(v any) any {
	switch x := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[k] = deepCopy(e)
		}
		return m
	case []any:
		s := make([]any, len(x))
		for i, e := range x {
			s[i] = deepCopy(e)
		}
		return s
	}
	return v
}

func numberRat(n json.Number) (*big.Rat, bool) {
	return new(big.Rat).SetString(string(n))
}

// number converts Go numbers made by the interpreter (lengths, sums) to the
// value representation.
func number(i int64) json.Number { return json.Number(fmt.Sprint(i)) }

// typeName names a value's JSON type for error causes.
func typeName(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case string:
		return "string"
	case json.Number:
		return "number"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return fmt.Sprintf("%T", v)
}

// equalValues compares JSON values, numbers by value (1 equals 1.0).
func equalValues(a, b any) bool {
	switch x := a.(type) {
	case json.Number:
		y, ok := b.(json.Number)
		if !ok {
			return false
		}
		rx, ok1 := numberRat(x)
		ry, ok2 := numberRat(y)
		return ok1 && ok2 && rx.Cmp(ry) == 0
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !equalValues(x[i], y[i]) {
				return false
			}
		}
		return true
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, v := range x {
			w, ok := y[k]
			if !ok || !equalValues(v, w) {
				return false
			}
		}
		return true
	}
	return a == b
}
