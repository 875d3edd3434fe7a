package accounts

import (
	"strings"
	"testing"
	"time"

	"github.com/openrescale/platform/shared/errs"
	"github.com/openrescale/platform/shared/store"
	"github.com/openrescale/platform/shared/store/enginetest"
)

// A key with a TTL works up to, not at, its expiry instant.
func TestKeyExpiryBoundary(t *testing.T) {
	enginetest.Run(t, func(t *testing.T, st store.Store) {
		ctx := t.Context()
		s, c := newService(t, st)
		u, _ := s.EnsureUser(ctx, "alice@example.com")
		created := c.now()
		k, secret, err := s.CreateKey(ctx, u.ID, KeyOptions{TTL: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		if k.ExpiresAt == nil || !k.ExpiresAt.Equal(created.Add(time.Hour)) || !k.CreatedAt.Equal(created) {
			t.Fatalf("created %v expires %v, want %v and an hour later", k.CreatedAt, k.ExpiresAt, created)
		}
		for _, tt := range []struct {
			at     time.Duration
			active bool
		}{{0, true}, {time.Hour - time.Nanosecond, true}, {time.Hour, false}, {time.Hour + time.Nanosecond, false}} {
			c.set(created.Add(tt.at))
			if got := k.Active(c.now()); got != tt.active {
				t.Errorf("Active at +%v = %v", tt.at, got)
			}
			_, _, err := s.Authenticate(ctx, secret)
			if tt.active != (err == nil) {
				t.Errorf("Authenticate at +%v: %v", tt.at, err)
			}
			if err := s.CheckKey(ctx, u.ID, k.ID); tt.active != (err == nil) {
				t.Errorf("CheckKey at +%v: %v", tt.at, err)
			}
		}
	})
}

// Job keys (spec 002) end with their job: listed, marked with the job, and
// answering "API key is no longer active"; other keys, other jobs' keys and
// other users' keys of the same job id are untouched.
func TestExpireJobKeys(t *testing.T) {
	enginetest.Run(t, func(t *testing.T, st store.Store) {
		ctx := t.Context()
		s, c := newService(t, st)
		u, _ := s.EnsureUser(ctx, "alice@example.com")
		other, _ := s.EnsureUser(ctx, "bob@example.com")
		_, plain, _ := s.CreateKey(ctx, u.ID, KeyOptions{})
		jk, job1, err := s.CreateKey(ctx, u.ID, KeyOptions{JobID: "job1", TTL: 24 * time.Hour})
		if err != nil || jk.JobID != "job1" {
			t.Fatalf("job key %+v: %v", jk, err)
		}
		_, job1again, _ := s.CreateKey(ctx, u.ID, KeyOptions{JobID: "job1"})
		_, job2, _ := s.CreateKey(ctx, u.ID, KeyOptions{JobID: "job2"})
		_, bobs, _ := s.CreateKey(ctx, other.ID, KeyOptions{JobID: "job1"})
		c.add(time.Minute)
		if err := s.ExpireJobKeys(ctx, u.ID, "job1"); err != nil {
			t.Fatal(err)
		}
		c.add(time.Nanosecond)
		for name, tt := range map[string]struct {
			secret string
			msg    string
		}{
			"job1's key":            {job1, "API key is no longer active"},
			"job1's second key":     {job1again, "API key is no longer active"},
			"job2's key":            {job2, ""},
			"a key of no job":       {plain, ""},
			"bob's key for job1":    {bobs, ""},
			"an unknown key":        {"rsk_" + strings.Repeat("0", 40), "Invalid token."},
			"a secret that is \"\"": {"", "Authentication credentials were not provided."},
		} {
			_, _, err := s.Authenticate(ctx, tt.secret)
			if tt.msg == "" {
				if err != nil {
					t.Errorf("%s: %v", name, err)
				}
				continue
			}
			if e, ok := errs.As(err); !ok || e.Code != errs.Unauthenticated || e.Message != tt.msg {
				t.Errorf("%s: %v, want %q", name, err, tt.msg)
			}
		}
		keys, total, err := s.ListKeys(ctx, u.ID, 0, 10)
		if err != nil || total != 4 || len(keys) != 4 {
			t.Fatalf("listed %d of %d: %v", len(keys), total, err)
		}
		expired := 0
		for _, k := range keys {
			if k.JobID == "job1" {
				expired++
				if k.Active(c.now()) || k.ExpiresAt == nil || !k.ExpiresAt.Before(c.now()) {
					t.Errorf("job1 key %+v still active", k)
				}
			}
		}
		if expired != 2 {
			t.Fatalf("%d job1 keys listed, want 2", expired)
		}
		// Ending a job twice, or one with no keys, is fine.
		if err := s.ExpireJobKeys(ctx, u.ID, "job1"); err != nil {
			t.Fatal(err)
		}
		if err := s.ExpireJobKeys(ctx, u.ID, "nokeys"); err != nil {
			t.Fatal(err)
		}
	})
}

// ListKeys pages oldest first with the total of all keys.
func TestListKeysPages(t *testing.T) {
	enginetest.Run(t, func(t *testing.T, st store.Store) {
		ctx := t.Context()
		s, c := newService(t, st)
		u, _ := s.EnsureUser(ctx, "alice@example.com")
		var ids []string
		for range 5 {
			k, _, err := s.CreateKey(ctx, u.ID, KeyOptions{})
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, k.ID)
			c.add(time.Second)
		}
		for _, tt := range []struct{ offset, limit, first, n int }{{0, 2, 0, 2}, {2, 2, 2, 2}, {4, 2, 4, 1}, {5, 2, 0, 0}, {0, 10, 0, 5}} {
			keys, total, err := s.ListKeys(ctx, u.ID, tt.offset, tt.limit)
			if err != nil || total != 5 || len(keys) != tt.n {
				t.Fatalf("offset %d limit %d: %d keys of %d, %v", tt.offset, tt.limit, len(keys), total, err)
			}
			for i, k := range keys {
				if k.ID != ids[tt.first+i] || k.UserID != u.ID || k.Digest == "" || len(k.Prefix) != 12 {
					t.Fatalf("offset %d: key %d is %+v, want %s", tt.offset, i, k, ids[tt.first+i])
				}
			}
		}
	})
}

// Fixed secrets (RESCALE_LOCAL_API_KEY): 20 to 256 characters, no
// whitespace; the prefix never shows more than 12 characters of them.
func TestFixedSecretBounds(t *testing.T) {
	enginetest.Run(t, func(t *testing.T, st store.Store) {
		ctx := t.Context()
		s, _ := newService(t, st)
		u, _ := s.EnsureUser(ctx, "alice@example.com")
		for i, tt := range []struct {
			secret string
			ok     bool
		}{
			{strings.Repeat("a", 19), false},
			{strings.Repeat("b", 20), true},
			{strings.Repeat("c", 256), true},
			{strings.Repeat("d", 257), false},
			{strings.Repeat("e", 30) + "\t", false},
			{strings.Repeat("f", 30) + "\n", false},
			{strings.Repeat("g", 30) + "\r", false},
		} {
			k, secret, err := s.CreateKey(ctx, u.ID, KeyOptions{Secret: tt.secret})
			if tt.ok != (err == nil) {
				t.Fatalf("case %d (%d chars): %v", i, len(tt.secret), err)
			}
			if !tt.ok {
				if e, ok := errs.As(err); !ok || e.Code != errs.Invalid || e.Field != "key" {
					t.Fatalf("case %d: %v, want invalid key", i, err)
				}
				continue
			}
			if secret != tt.secret || k.Prefix != tt.secret[:12] {
				t.Fatalf("case %d: secret %q prefix %q", i, secret, k.Prefix)
			}
			if _, _, err := s.Authenticate(ctx, tt.secret); err != nil {
				t.Fatalf("case %d: %v", i, err)
			}
		}
		if _, _, err := s.CreateKey(ctx, "nobody", KeyOptions{}); !errs.Is(err, errs.NotFound) {
			t.Fatalf("key for an unknown user: %v", err)
		}
	})
}

// Emails up to 254 characters (RFC 5321's path limit), lower-cased.
func TestNormalizeEmailLength(t *testing.T) {
	local := strings.Repeat("a", 64)
	domain := func(n int) string { // n characters ending in ".com"
		return strings.Repeat("b", n-4) + ".com"
	}
	ok := local + "@" + domain(254-65)
	if len(ok) != 254 {
		t.Fatalf("built %d characters", len(ok))
	}
	if got, err := NormalizeEmail(strings.ToUpper(ok)); err != nil || got != ok {
		t.Fatalf("254 characters: %q %v", got, err)
	}
	long := local + "@" + domain(255-65)
	if _, err := NormalizeEmail(long); !errs.Is(err, errs.Invalid) {
		t.Fatalf("255 characters: %v", err)
	}
}

// A user's keys stop working when the user is deactivated and come back
// with them; SetActive on an unknown user is NotFound.
func TestSetActive(t *testing.T) {
	enginetest.Run(t, func(t *testing.T, st store.Store) {
		ctx := t.Context()
		s, _ := newService(t, st)
		u, _ := s.EnsureUser(ctx, "alice@example.com")
		if !u.Active {
			t.Fatal("a new user is inactive")
		}
		if err := s.SetActive(ctx, "nobody", false); !errs.Is(err, errs.NotFound) {
			t.Fatalf("unknown user: %v", err)
		}
		for _, active := range []bool{false, false, true} {
			if err := s.SetActive(ctx, u.ID, active); err != nil {
				t.Fatal(err)
			}
			got, err := s.UserByEmail(ctx, "ALICE@example.com")
			if err != nil || got.Active != active || got.ID != u.ID {
				t.Fatalf("after SetActive(%v): %+v %v", active, got, err)
			}
		}
		if _, err := s.UserByEmail(ctx, "bob@example.com"); !errs.Is(err, errs.NotFound) {
			t.Fatalf("unknown email: %v", err)
		}
		if _, err := s.UserByEmail(ctx, "not an email"); !errs.Is(err, errs.Invalid) {
			t.Fatalf("bad email: %v", err)
		}
		if _, err := s.EnsureUser(ctx, "not an email"); !errs.Is(err, errs.Invalid) {
			t.Fatalf("EnsureUser with a bad email: %v", err)
		}
	})
}
