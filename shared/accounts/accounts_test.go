package accounts

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openrescale/platform/shared/errs"
	"github.com/openrescale/platform/shared/store"
	"github.com/openrescale/platform/shared/store/dynamostore/dynamolocal"
	"github.com/openrescale/platform/shared/store/enginetest"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) set(t time.Time) { c.mu.Lock(); c.t = t; c.mu.Unlock() }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func TestMain(m *testing.M) { dynamolocal.Main(m) }

func newService(t *testing.T, st store.Store) (*Service, *clock) {
	t.Helper()
	c := &clock{t: time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)}
	return New(st, c.now), c
}

func TestAuthenticate(t *testing.T) {
	enginetest.Run(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		s, c := newService(t, st)
		u, err := s.EnsureUser(ctx, "Alice@Example.com")
		if err != nil {
			t.Fatal(err)
		}
		if u.Email != "alice@example.com" {
			t.Fatalf("email not normalised: %q", u.Email)
		}
		k, secret, err := s.CreateKey(ctx, u.ID, KeyOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(secret, "rsk_") || len(secret) != 44 || len(k.Prefix) != 12 || k.Prefix != secret[:12] {
			t.Fatalf("secret %q prefix %q", secret, k.Prefix)
		}
		_, shortSecret, err := s.CreateKey(ctx, u.ID, KeyOptions{TTL: time.Hour})
		if err != nil {
			t.Fatal(err)
		}

		tests := []struct {
			name    string
			secret  string
			advance time.Duration
			msg     string
		}{
			{"valid", secret, 0, ""},
			{"empty", "", 0, "Authentication credentials were not provided."},
			{"unknown", "rsk_0000000000000000000000000000000000000000", 0, "Invalid token."},
			{"one char off", offByOne(secret), 0, "Invalid token."},
			{"ttl key before expiry", shortSecret, 0, ""},
			{"ttl key after expiry", shortSecret, 2 * time.Hour, "API key is no longer active"},
			{"non-expiring key much later", secret, 24 * 365 * time.Hour, ""},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				c.add(tt.advance)
				got, key, err := s.Authenticate(ctx, tt.secret)
				if tt.msg == "" {
					if err != nil || got.ID != u.ID || key.UserID != u.ID {
						t.Fatalf("got %+v %v", got, err)
					}
					return
				}
				e, ok := errs.As(err)
				if !ok || e.Code != errs.Unauthenticated || e.Message != tt.msg {
					t.Fatalf("err %v, want unauthenticated %q", err, tt.msg)
				}
			})
		}

		t.Run("deactivated user", func(t *testing.T) {
			if err := s.SetActive(ctx, u.ID, false); err != nil {
				t.Fatal(err)
			}
			_, _, err := s.Authenticate(ctx, secret)
			if e, ok := errs.As(err); !ok || e.Message != "User inactive or deleted." {
				t.Fatalf("err %v", err)
			}
			if err := s.SetActive(ctx, u.ID, true); err != nil {
				t.Fatal(err)
			}
			if _, _, err := s.Authenticate(ctx, secret); err != nil {
				t.Fatalf("reactivated: %v", err)
			}
		})
	})
}

func TestEnsureUserConcurrentCreatesOne(t *testing.T) {
	enginetest.Run(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		s, _ := newService(t, st)
		var wg sync.WaitGroup
		got := make([]string, 8)
		for i := range got {
			wg.Add(1)
			go func() {
				defer wg.Done()
				u, err := s.EnsureUser(ctx, "same@example.com")
				if err != nil {
					t.Error(err)
					return
				}
				got[i] = u.ID
			}()
		}
		wg.Wait()
		for _, id := range got {
			if id != got[0] {
				t.Fatalf("two users for one email: %v", got)
			}
		}
	})
}

func TestKeysAreOwnerScoped(t *testing.T) {
	enginetest.Run(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		s, _ := newService(t, st)
		a, _ := s.EnsureUser(ctx, "a@example.com")
		b, _ := s.EnsureUser(ctx, "b@example.com")
		ka, _, err := s.CreateKey(ctx, a.ID, KeyOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := s.CreateKey(ctx, b.ID, KeyOptions{}); err != nil {
			t.Fatal(err)
		}
		keys, total, err := s.ListKeys(ctx, a.ID, 0, 10)
		if err != nil || total != 1 || len(keys) != 1 || keys[0].ID != ka.ID {
			t.Fatalf("a's keys: %v %d %v", keys, total, err)
		}
		if err := s.DeleteKey(ctx, b.ID, ka.ID); !errs.Is(err, errs.NotFound) {
			t.Fatalf("b deleting a's key: %v", err)
		}
		if err := s.DeleteKey(ctx, a.ID, ka.ID); err != nil {
			t.Fatal(err)
		}
	})
}

func TestFixedSecret(t *testing.T) {
	enginetest.Run(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		s, _ := newService(t, st)
		u, _ := s.EnsureUser(ctx, "a@example.com")
		tests := []struct {
			secret string
			code   string
		}{
			{"short", errs.Invalid},
			{"has a space in it somewhere", errs.Invalid},
			{"a-perfectly-fine-local-key", ""},
			{"a-perfectly-fine-local-key", errs.Conflict},
		}
		for _, tt := range tests {
			_, _, err := s.CreateKey(ctx, u.ID, KeyOptions{Secret: tt.secret})
			if errs.Code(err) != tt.code {
				t.Fatalf("secret %q: err %v, want %q", tt.secret, err, tt.code)
			}
		}
	})
}

func TestNormalizeEmail(t *testing.T) {
	for in, ok := range map[string]bool{"a@b.c": true, " A@B.C ": true, "admin@localhost": true, "nope": false, "a b@c.d": false, "Name <a@b.c>": false, "": false} {
		if _, err := NormalizeEmail(in); (err == nil) != ok {
			t.Errorf("NormalizeEmail(%q) err %v", in, err)
		}
	}
}

// CheckKey is what grants and part URLs are checked with when used.
func TestCheckKey(t *testing.T) {
	enginetest.Run(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		s, c := newService(t, st)
		u, _ := s.EnsureUser(ctx, "alice@example.com")
		other, _ := s.EnsureUser(ctx, "bob@example.com")
		k, _, _ := s.CreateKey(ctx, u.ID, KeyOptions{})
		short, _, _ := s.CreateKey(ctx, u.ID, KeyOptions{TTL: time.Hour})
		bobs, _, _ := s.CreateKey(ctx, other.ID, KeyOptions{})
		if err := s.CheckKey(ctx, u.ID, k.ID); err != nil {
			t.Fatalf("active key: %v", err)
		}
		c.add(2 * time.Hour)
		for name, err := range map[string]error{
			"expired key":      s.CheckKey(ctx, u.ID, short.ID),
			"another user's":   s.CheckKey(ctx, u.ID, bobs.ID),
			"unknown user":     s.CheckKey(ctx, "nobody", k.ID),
			"deleted key":      func() error { _ = s.DeleteKey(ctx, other.ID, bobs.ID); return s.CheckKey(ctx, other.ID, bobs.ID) }(),
			"deactivated user": func() error { _ = s.SetActive(ctx, u.ID, false); return s.CheckKey(ctx, u.ID, k.ID) }(),
		} {
			if !errs.Is(err, errs.Forbidden) {
				t.Errorf("%s: %v, want Forbidden", name, err)
			}
		}
	})
}

// offByOne changes a secret's last character to another one (a fixed
// replacement would equal it whenever the random secret ends with it).
func offByOne(secret string) string {
	last := "x"
	if strings.HasSuffix(secret, "x") {
		last = "y"
	}
	return secret[:len(secret)-1] + last
}
