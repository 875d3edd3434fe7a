package e2e

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// --key-max-lifetime reaches the key handlers: new keys expire after at
// most that long, asked for or not.
func TestKeyMaxLifetimeFlag(t *testing.T) {
	tests := []struct {
		name string
		args []string
		body string
		want time.Duration // 0: never expires
	}{
		{"no flag, no expiry", nil, `{}`, 0},
		{"no flag, expiresInDays", nil, `{"expiresInDays": 30}`, 30 * 24 * time.Hour},
		{"flag applies to keys asking for none", []string{"--key-max-lifetime", "48h"}, `{}`, 48 * time.Hour},
		{"flag caps expiresInDays", []string{"--key-max-lifetime", "48h"}, `{"expiresInDays": 30}`, 48 * time.Hour},
		{"shorter request kept", []string{"--key-max-lifetime", "48h"}, `{"expiresInDays": 1}`, 24 * time.Hour},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := start(t, t.TempDir(), []string{"RESCALE_LOCAL_API_KEY=" + testKey}, tt.args...)
			r := do(t, "POST", s.URL+"/api/v2/users/me/api-keys/", testKey, strings.NewReader(tt.body))
			if r.Status != 201 {
				t.Fatalf("create: %d %s", r.Status, r.Body)
			}
			var k struct {
				CreatedAt time.Time  `json:"createdAt"`
				ExpiresAt *time.Time `json:"expiresAt"`
				IsActive  bool       `json:"isActive"`
				Key       string     `json:"key"`
			}
			if err := json.Unmarshal(r.Body, &k); err != nil {
				t.Fatal(err)
			}
			switch {
			case tt.want == 0 && k.ExpiresAt != nil:
				t.Fatalf("expiresAt %v, want none", k.ExpiresAt)
			case tt.want != 0 && (k.ExpiresAt == nil || k.ExpiresAt.Sub(k.CreatedAt) != tt.want):
				t.Fatalf("created %v, expires %v: want %v later", k.CreatedAt, k.ExpiresAt, tt.want)
			case !k.IsActive:
				t.Fatalf("new key inactive")
			}
			if r := do(t, "GET", s.URL+"/api/v2/coretypes/?page_size=1", k.Key, nil); r.Status != 200 {
				t.Fatalf("new key refused: %d %s", r.Status, r.Body)
			}
		})
	}
}
