package ids

import (
	"context"
	"testing"

	"github.com/openrescale/platform/shared/errs"
)

func TestNewShapeAndSpread(t *testing.T) {
	seen := map[string]bool{}
	for i := 0; i < 10000; i++ {
		id := Short()
		if len(id) != Length || !Valid(id) {
			t.Fatalf("bad id %q", id)
		}
		if seen[id] {
			t.Fatalf("duplicate id %q after %d draws", id, i)
		}
		seen[id] = true
	}
}

func TestNewUniqueRetriesOnConflict(t *testing.T) {
	tests := []struct {
		name      string
		conflicts int
		wantErr   string
	}{
		{"first try", 0, ""},
		{"two collisions", 2, ""},
		{"always colliding", 100, errs.Internal},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			calls := 0
			var last string
			id, err := NewUnique(context.Background(), func(_ context.Context, id string) error {
				calls++
				last = id
				if calls <= tt.conflicts {
					return errs.E(errs.Conflict, "exists")
				}
				return nil
			})
			if errs.Code(err) != tt.wantErr {
				t.Fatalf("err = %v, want code %q", err, tt.wantErr)
			}
			if tt.wantErr == "" && (id != last || calls != tt.conflicts+1) {
				t.Fatalf("id %q last %q calls %d", id, last, calls)
			}
		})
	}
}

func TestValid(t *testing.T) {
	for s, want := range map[string]bool{"XkpTse": true, "": false, "a/b": false, "../x": false, "abc def": false} {
		if Valid(s) != want {
			t.Errorf("Valid(%q) = %v", s, !want)
		}
	}
}
