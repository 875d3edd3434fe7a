package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"reflect"
	"strconv"
	"strings"

	"github.com/openrescale/platform/shared/errs"
)

// MaxJSONBody caps JSON request bodies; uploads stream through other paths.
const MaxJSONBody = 1 << 20

// DecodeJSON reads a JSON object body into v. An empty body leaves v as is
// (several spec calls POST with no body). Content types other than JSON are
// 415, except that a form-encoded body that is really JSON is accepted,
// because `curl -d '{...}'` without -H sends exactly that.
func DecodeJSON(w http.ResponseWriter, r *http.Request, v any) error {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil {
			return errs.E(errs.Unsupported, "unsupported media type %q", ct)
		}
		if mt != "application/json" && !strings.HasSuffix(mt, "+json") && mt != "application/x-www-form-urlencoded" && mt != "text/plain" {
			return errs.E(errs.Unsupported, "unsupported media type %q: send application/json", mt)
		}
	}
	body := http.MaxBytesReader(w, r.Body, MaxJSONBody)
	data, err := io.ReadAll(body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return errs.E(errs.TooLarge, "request body exceeds %d bytes", mbe.Limit)
		}
		return errs.Wrap(errs.Invalid, err, "could not read request body")
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(v); err != nil {
		var ute *json.UnmarshalTypeError
		if errors.As(err, &ute) && ute.Field != "" {
			return errs.Field(ute.Field, "%s: expected %s, got %s", ute.Field, ute.Type, ute.Value)
		}
		var fe *FieldError
		if errors.As(err, &fe) {
			return errs.Field(fe.Field, "%s: %s", fe.Field, fe.Msg)
		}
		return errs.Wrap(errs.Invalid, err, "malformed JSON body: %v", err)
	}
	if dec.More() {
		return errs.E(errs.Invalid, "malformed JSON body: trailing data after the object")
	}
	return nil
}

// FieldError lets custom unmarshalers name the field they reject.
type FieldError struct {
	Field, Msg string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Msg }

// Int is an integer that also accepts a JSON string holding one
// ("coresPerSlot": "1"), as existing clients send.
type Int int64

// UnmarshalJSON implements json.Unmarshaler.
func (n *Int) UnmarshalJSON(b []byte) error {
	s := strings.TrimSpace(string(b))
	if s == "null" {
		return nil
	}
	if strings.HasPrefix(s, `"`) {
		var str string
		if err := json.Unmarshal(b, &str); err != nil {
			return err
		}
		s = strings.TrimSpace(str)
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		// Accept integral floats such as 4.0.
		f, ferr := strconv.ParseFloat(s, 64)
		if ferr != nil || f != float64(int64(f)) {
			// An UnmarshalTypeError gets the field's name filled in by
			// encoding/json, so the 400 can name it.
			return &json.UnmarshalTypeError{Value: "non-integer " + strconv.Quote(s), Type: reflect.TypeFor[int64]()}
		}
		v = int64(f)
	}
	*n = Int(v)
	return nil
}
