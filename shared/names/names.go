// Package names holds the rule every name a client gives something follows
// (jobs, job variables, licence features, files, folders, tags): no
// character that changes how the name displays or is parsed, rather than
// what it says.
package names

import (
	"fmt"
	"unicode"
	"unicode/utf8"

	"github.com/openrescale/platform/shared/errs"
)

// Unsafe returns the first character a name must not contain and its byte
// offset: a control character (C0 such as NUL, newline and escape, DEL, C1)
// or a bidirectional formatting character, which makes a name display other
// than it reads (U+202E shows "gnp.exe" as "exe.png"). Invalid UTF-8 is
// reported as utf8.RuneError.
func Unsafe(s string) (r rune, at int, ok bool) {
	for i, c := range s {
		if c == utf8.RuneError {
			if _, n := utf8.DecodeRuneInString(s[i:]); n == 1 {
				return c, i, true
			}
		}
		if unicode.IsControl(c) || bidi(c) {
			return c, i, true
		}
	}
	return 0, 0, false
}

// bidi reports the Unicode bidirectional formatting characters: the marks
// (ALM, LRM, RLM), embeddings and overrides (LRE..RLO), and isolates
// (LRI..PDI).
func bidi(c rune) bool {
	switch {
	case c == 0x061C, c == 0x200E, c == 0x200F:
		return true
	case c >= 0x202A && c <= 0x202E:
		return true
	case c >= 0x2066 && c <= 0x2069:
		return true
	}
	return false
}

// Check is an Invalid error on field if s has an unsafe character; the
// message starts with what ("a file name").
func Check(field, what, s string) error {
	r, at, bad := Unsafe(s)
	if !bad {
		return nil
	}
	if r == utf8.RuneError {
		return errs.Field(field, "%s must be valid UTF-8 (byte %d)", what, at)
	}
	return errs.Field(field, "%s must not contain control or bidirectional formatting characters (%s at byte %d)", what, fmt.Sprintf("U+%04X", r), at)
}
