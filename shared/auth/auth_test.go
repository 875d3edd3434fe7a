package auth

import (
	"testing"

	"github.com/openrescale/platform/shared/errs"
)

func TestParseToken(t *testing.T) {
	tests := []struct {
		header, key string
		ok          bool
	}{
		{"Token abcdef", "abcdef", true},
		{"token abcdef", "abcdef", true},
		{"TOKEN  abcdef ", "abcdef", true},
		{"Bearer abcdef", "abcdef", true},
		{"", "", false},
		{"Token", "", false},
		{"Token ", "", false},
		{"Basic dXNlcjpwYXNz", "", false},
		{"Token a b", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.header, func(t *testing.T) {
			key, err := ParseToken(tt.header)
			if tt.ok != (err == nil) || key != tt.key {
				t.Fatalf("ParseToken(%q) = %q, %v", tt.header, key, err)
			}
			if err != nil && !errs.Is(err, errs.Unauthenticated) {
				t.Fatalf("code %q, want unauthenticated", errs.Code(err))
			}
		})
	}
}
