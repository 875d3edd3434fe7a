package apikeys_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openrescale/platform/functions/apikeys"
	"github.com/openrescale/platform/shared/accounts"
	"github.com/openrescale/platform/shared/auth"
	"github.com/openrescale/platform/shared/httpapi"
	"github.com/openrescale/platform/shared/store"
	"github.com/openrescale/platform/shared/store/dynamostore/dynamolocal"
	"github.com/openrescale/platform/shared/store/enginetest"
)

func TestMain(m *testing.M) { dynamolocal.Main(m) }

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// env serves the key routes with the real accounts service and the real
// token authentication, on one store engine, at a clock the test moves.
type env struct {
	h      http.Handler
	clock  *clock
	secret string // the first key's
}

const day = 24 * time.Hour

func newEnv(t *testing.T, st store.Store, maxLifetime time.Duration) *env {
	t.Helper()
	c := &clock{t: time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)}
	accts := accounts.New(st, c.now)
	u, err := accts.EnsureUser(t.Context(), "alice@example.com")
	if err != nil {
		t.Fatal(err)
	}
	_, secret, err := accts.CreateKey(t.Context(), u.ID, accounts.KeyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	kh := apikeys.Handlers{Keys: accts, MaxLifetime: maxLifetime, Now: c.now}
	h, err := httpapi.NewHandler([]httpapi.Route{
		{Name: "apikeys-list", Method: "GET", Path: "/api/v2/users/me/api-keys/", Handler: kh.List},
		{Name: "apikeys-create", Method: "POST", Path: "/api/v2/users/me/api-keys/", Handler: kh.Create},
	}, httpapi.Config{Auth: auth.Tokens{Keys: accts}})
	if err != nil {
		t.Fatal(err)
	}
	return &env{h: h, clock: c, secret: secret}
}

func (e *env) do(t *testing.T, method, key, body string) (int, []byte) {
	t.Helper()
	req := httptest.NewRequest(method, "/api/v2/users/me/api-keys/?page_size=100", strings.NewReader(body))
	req.Header.Set("Authorization", "Token "+key)
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	e.h.ServeHTTP(rec, req)
	b, _ := io.ReadAll(rec.Body)
	return rec.Code, b
}

type keyJSON struct {
	ID        string     `json:"id"`
	Prefix    string     `json:"prefix"`
	Key       string     `json:"key"`
	IsActive  bool       `json:"isActive"`
	CreatedAt time.Time  `json:"createdAt"`
	ExpiresAt *time.Time `json:"expiresAt"`
}

func (e *env) create(t *testing.T, body string) keyJSON {
	t.Helper()
	code, b := e.do(t, "POST", e.secret, body)
	if code != http.StatusCreated {
		t.Fatalf("create %s: %d %s", body, code, b)
	}
	var k keyJSON
	if err := json.Unmarshal(b, &k); err != nil {
		t.Fatal(err)
	}
	return k
}

// The visible prefix identifies a key without giving it away: exactly the
// first 12 of its 44 characters, and no listing holds any secret.
func TestPrefixAndListingsHoldNoSecret(t *testing.T) {
	enginetest.Run(t, func(t *testing.T, st store.Store) {
		e := newEnv(t, st, 0)
		var secrets []string
		for range 3 {
			k := e.create(t, `{}`)
			if len(k.Key) != 44 || !strings.HasPrefix(k.Key, "rsk_") {
				t.Fatalf("secret %q: want rsk_ and 40 more characters", k.Key)
			}
			if len(k.Prefix) != 12 || k.Prefix != k.Key[:12] {
				t.Fatalf("prefix %q of %q: want its first 12 characters", k.Prefix, k.Key)
			}
			secrets = append(secrets, k.Key)
		}
		secrets = append(secrets, e.secret)
		code, body := e.do(t, "GET", e.secret, "")
		if code != 200 {
			t.Fatalf("list: %d %s", code, body)
		}
		var page struct{ Results []keyJSON }
		if err := json.Unmarshal(body, &page); err != nil || len(page.Results) != 4 {
			t.Fatalf("list: %v %s", err, body)
		}
		for _, s := range secrets {
			// Anything longer than the prefix is a leak.
			if strings.Contains(string(body), s[:13]) {
				t.Fatalf("listing holds (part of) secret %q past its prefix:\n%s", s, body)
			}
		}
		for _, k := range page.Results {
			if k.Key != "" || len(k.Prefix) != 12 {
				t.Fatalf("listed key %+v", k)
			}
		}
	})
}

// Key lifetimes: expiresInDays, the deployment's maximum lifetime capping
// it (and applying to keys that ask for none), and expired keys listed
// inactive and refused with the spec's message.
func TestKeyLifetime(t *testing.T) {
	for _, eng := range enginetest.Engines() {
		t.Run(eng.Name, func(t *testing.T) { keyLifetime(t, eng.Open) })
	}
}

func keyLifetime(t *testing.T, open func(testing.TB) store.Store) {
	tests := []struct {
		name        string
		maxLifetime time.Duration
		body        string
		want        time.Duration // 0: never expires
	}{
		{"no policy, no expiry", 0, `{}`, 0},
		{"no policy, 30 days", 0, `{"expiresInDays": 30}`, 30 * day},
		{"no policy, days as a string", 0, `{"expiresInDays": "7"}`, 7 * day},
		{"policy applies to keys asking for none", 90 * day, `{}`, 90 * day},
		{"policy caps a longer request", 90 * day, `{"expiresInDays": 365}`, 90 * day},
		{"shorter than the policy", 90 * day, `{"expiresInDays": 10}`, 10 * day},
		{"policy in hours", 36 * time.Hour, `{"expiresInDays": 2}`, 36 * time.Hour},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, open(t), tt.maxLifetime)
			created := e.clock.now()
			k := e.create(t, tt.body)
			if !k.IsActive {
				t.Fatalf("new key inactive: %+v", k)
			}
			if tt.want == 0 {
				if k.ExpiresAt != nil {
					t.Fatalf("expiresAt %v, want none", k.ExpiresAt)
				}
				e.clock.add(3650 * day)
				if code, b := e.do(t, "GET", k.Key, ""); code != 200 {
					t.Fatalf("non-expiring key ten years on: %d %s", code, b)
				}
				return
			}
			if k.ExpiresAt == nil || !k.ExpiresAt.Equal(created.Add(tt.want)) {
				t.Fatalf("expiresAt %v, want %v", k.ExpiresAt, created.Add(tt.want))
			}
			e.clock.add(tt.want - time.Second)
			if code, b := e.do(t, "GET", k.Key, ""); code != 200 {
				t.Fatalf("a second before expiry: %d %s", code, b)
			}
			e.clock.add(time.Second)
			code, b := e.do(t, "GET", k.Key, "")
			if code != http.StatusUnauthorized || !strings.Contains(string(b), `"detail":"API key is no longer active"`) {
				t.Fatalf("at expiry: %d %s", code, b)
			}
			// Listed still, and inactive.
			_, b = e.do(t, "GET", e.secret, "")
			var page struct{ Results []keyJSON }
			_ = json.Unmarshal(b, &page)
			found := false
			for _, l := range page.Results {
				if l.ID == k.ID {
					found = true
					if l.IsActive {
						t.Fatalf("expired key listed active: %s", b)
					}
				} else if !l.IsActive {
					t.Fatalf("non-expiring key listed inactive: %s", b)
				}
			}
			if !found {
				t.Fatalf("expired key not listed: %s", b)
			}
		})
	}
	t.Run("bad expiresInDays", func(t *testing.T) {
		e := newEnv(t, open(t), 0)
		for _, body := range []string{`{"expiresInDays": 0}`, `{"expiresInDays": 3651}`, `{"expiresInDays": "x"}`} {
			code, b := e.do(t, "POST", e.secret, body)
			if code != 400 || !strings.Contains(string(b), "expiresInDays") {
				t.Errorf("%s: %d %s", body, code, b)
			}
		}
		for _, body := range []string{`{"expiresInDays": 1}`, `{"expiresInDays": 3650}`} {
			if code, b := e.do(t, "POST", e.secret, body); code != 201 {
				t.Errorf("%s: %d %s", body, code, b)
			}
		}
	})
}
