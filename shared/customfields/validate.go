package customfields

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/openrescale/platform/shared/errs"
)

// Resolver answers what value checks cannot know alone: whether a user
// exists and whether the caller may read a file.
type Resolver interface {
	// UserEmail returns the normalised email of an existing user, or an
	// error (errs.NotFound when there is no such user).
	UserEmail(ctx context.Context, email string) (string, error)
	// ReadableFile returns nil when the caller uid may read file id.
	ReadableFile(ctx context.Context, uid, id string) error
}

// FieldPath is where a field's value sits in a job, for error fields.
func FieldPath(name string) string { return "customFields." + name }

func invalid(d Definition, format string, args ...any) error {
	return errs.Field(FieldPath(d.Name), "%s: %s", d.Name, fmt.Sprintf(format, args...))
}

// Normalize checks raw against d and returns the value as it is stored and
// rendered (dates as YYYY/MM/DD, numbers unquoted, users by normalised
// email). uid is the caller, whose read access file values need.
func Normalize(ctx context.Context, d Definition, raw json.RawMessage, res Resolver, uid string) (json.RawMessage, error) {
	raw = bytes.TrimSpace(raw)
	isArray := len(raw) > 0 && raw[0] == '['
	if !d.IsMultiple {
		if isArray {
			return nil, invalid(d, "expects a single %s value, not a list", d.ValueType)
		}
		v, _, err := normalizeOne(ctx, d, raw, res, uid)
		if err != nil {
			return nil, err
		}
		return json.Marshal(v)
	}
	if !isArray {
		return nil, invalid(d, "expects a list of %s values (isMultiple), even for one value", d.ValueType)
	}
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		return nil, invalid(d, "malformed list: %v", err)
	}
	if len(items) > MaxMultipleItem {
		return nil, invalid(d, "at most %d values", MaxMultipleItem)
	}
	out := make([]any, 0, len(items))
	others := 0
	for i, it := range items {
		v, other, err := normalizeOne(ctx, d, it, res, uid)
		if err != nil {
			if e, ok := errs.As(err); ok {
				return nil, errs.Field(e.Field, "%s (item %d)", e.Message, i)
			}
			return nil, err
		}
		if other {
			// The spec allows one answer of the user's own per field.
			if others++; others > 1 {
				return nil, invalid(d, "only one value may be outside the listed options, got %q as a second (item %d)", v, i)
			}
		}
		if slices.ContainsFunc(out, func(o any) bool { return fmt.Sprint(o) == fmt.Sprint(v) }) {
			return nil, invalid(d, "%v is listed twice (item %d)", v, i)
		}
		out = append(out, v)
	}
	return json.Marshal(out)
}

// normalizeOne checks a single value; other reports a select answer that
// is not one of the options.
func normalizeOne(ctx context.Context, d Definition, raw json.RawMessage, res Resolver, uid string) (v any, other bool, err error) {
	if d.ValueType == TypeNumber {
		n, err := number(d, raw)
		return n, false, err
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return nil, false, invalid(d, "expects a string (%s), got %s", d.ValueType, clip(raw))
	}
	switch d.ValueType {
	case TypeText:
		if len(s) > MaxTextBytes {
			return nil, false, invalid(d, "text is longer than %d bytes", MaxTextBytes)
		}
		return s, false, nil
	case TypeSelect:
		if slices.Contains(d.EnumOptions, s) {
			return s, false, nil
		}
		if !d.AllowOther {
			return nil, false, invalid(d, "%q is not one of the options (%s)", s, strings.Join(d.EnumOptions, ", "))
		}
		if strings.TrimSpace(s) == "" || len(s) > MaxTextBytes {
			return nil, false, invalid(d, "an answer of your own must be non-blank and at most %d bytes", MaxTextBytes)
		}
		return s, true, nil
	case TypeDate:
		day, err := ParseDate(s)
		if err != nil {
			return nil, false, invalid(d, "%q is not a date; use YYYY/MM/DD, YYYY-MM-DD or an ISO 8601 date-time", s)
		}
		return day, false, nil
	case TypeUser:
		email, err := res.UserEmail(ctx, s)
		if errs.Is(err, errs.NotFound) || errs.Is(err, errs.Invalid) {
			return nil, false, invalid(d, "no user has the email %q", s)
		}
		if err != nil {
			return nil, false, fmt.Errorf("custom field %s: find user: %w", d.Name, err)
		}
		return email, false, nil
	case TypeFile:
		err := res.ReadableFile(ctx, uid, s)
		if errs.Is(err, errs.NotFound) || errs.Is(err, errs.Invalid) || errs.Is(err, errs.Forbidden) {
			return nil, false, invalid(d, "file %q does not exist or you cannot read it", s)
		}
		if err != nil {
			return nil, false, fmt.Errorf("custom field %s: find file: %w", d.Name, err)
		}
		return s, false, nil
	}
	return nil, false, invalid(d, "unknown valueType %q", d.ValueType)
}

// number accepts a JSON number or a string holding one (clients that quote
// everything), and keeps the number's own notation, e.g. 4.2e-10.
func number(d Definition, raw json.RawMessage) (json.Number, error) {
	lit := string(raw)
	if strings.HasPrefix(lit, `"`) {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return "", invalid(d, "expects a number, got %s", clip(raw))
		}
		lit = strings.TrimSpace(s)
	}
	dec := json.NewDecoder(strings.NewReader(lit))
	dec.UseNumber()
	var v any
	n, ok := json.Number(""), false
	if err := dec.Decode(&v); err == nil && !dec.More() {
		n, ok = v.(json.Number)
	}
	if !ok {
		return "", invalid(d, "expects a number such as 42, 4.2 or 4.2e-10, got %s", clip(raw))
	}
	if _, err := strconv.ParseFloat(string(n), 64); err != nil {
		return "", invalid(d, "%s is out of range", n)
	}
	return n, nil
}

// dateLayouts are the well-known forms a date may come in. A time of day,
// if any, is dropped: the date is the one written, in its own offset.
var dateLayouts = []string{
	"2006/01/02", "2006-01-02", "2006/1/2", "2006-1-2",
	time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02T15:04", "2006-01-02T15:04Z07:00",
	"2006-01-02 15:04:05.999999999Z07:00", "2006-01-02 15:04:05.999999999", "2006-01-02 15:04",
	"2006/01/02 15:04:05", "2006/01/02 15:04",
	time.RFC1123, time.RFC1123Z, "Mon, 2 Jan 2006 15:04:05 MST", "Mon, 2 Jan 2006",
	"Jan 2, 2006", "January 2, 2006", "2 Jan 2006", "2 January 2006", "20060102",
}

// ParseDate returns s as YYYY/MM/DD.
func ParseDate(s string) (string, error) {
	s = strings.TrimSpace(s)
	for _, l := range dateLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t.Format("2006/01/02"), nil
		}
	}
	return "", fmt.Errorf("%q is not a date", s)
}

func clip(raw json.RawMessage) string {
	if len(raw) > 40 {
		return string(raw[:40]) + "…"
	}
	if len(raw) == 0 {
		return "nothing"
	}
	return string(raw)
}
