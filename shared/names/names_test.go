package names

import (
	"strings"
	"testing"

	"github.com/openrescale/platform/shared/errs"
)

func TestCheck(t *testing.T) {
	for _, ok := range []string{"Example Job", "Ölpumpe – Lauf 3", "模拟", "a\u200db", "x y"} {
		if err := Check("name", "a name", ok); err != nil {
			t.Errorf("%q refused: %v", ok, err)
		}
	}
	for s, want := range map[string]string{
		"a\x00b":        "U+0000 at byte 1",
		"line\nbreak":   "U+000A",
		"tab\there":     "U+0009",
		"esc\x1b[31m":   "U+001B",
		"del\x7f":       "U+007F",
		"c1\u0085":      "U+0085",
		"gnp\u202eexe":  "U+202E at byte 3",
		"iso\u2066late": "U+2066",
		"mark\u200f":    "U+200F",
		"bad\xffutf8":   "valid UTF-8 (byte 3)",
	} {
		err := Check("name", "a name", s)
		e, ok := errs.As(err)
		if !ok || e.Code != errs.Invalid || e.Field != "name" || !strings.Contains(e.Message, want) {
			t.Errorf("%q: %v, want Invalid on name mentioning %q", s, err, want)
		}
	}
}
