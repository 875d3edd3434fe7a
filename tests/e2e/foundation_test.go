package e2e

import (
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

const testKey = "rsk_e2eFixedKeyForTheDefaultUser0123456789"

func TestCoretypesAuthAndPagination(t *testing.T) {
	s := start(t, t.TempDir(), []string{"RESCALE_LOCAL_API_KEY=" + testKey})

	all := do(t, "GET", s.URL+"/api/v2/coretypes/?page_size=1000", testKey, nil)
	if all.Status != 200 {
		t.Fatalf("coretypes: %d %s", all.Status, all.Body)
	}
	full := all.JSON(t)
	count := int(full["count"].(float64))
	results := full["results"].([]any)
	if count < 12 || len(results) != count || full["next"] != nil || full["previous"] != nil {
		t.Fatalf("full list: count %d, %d results, next %v", count, len(results), full["next"])
	}
	names := map[string]bool{}
	for _, r := range results {
		names[r.(map[string]any)["name"].(string)] = true
	}
	for _, want := range []string{"Marble", "Emerald", "Onyx"} {
		if !names[want] {
			t.Errorf("coretype %q missing; have %v", want, names)
		}
	}

	tests := []struct {
		name, path, key string
		headers         []string
		status          int
		detail          string
	}{
		{"no header", "/api/v2/coretypes/", "", nil, 401, "Authentication credentials were not provided."},
		{"bad key", "/api/v2/coretypes/", "rsk_notARealKey00000000000000", nil, 401, "Invalid token."},
		{"lowercase scheme", "/api/v2/coretypes/", "", []string{"Authorization", "token " + testKey}, 200, ""},
		{"no trailing slash", "/api/v2/coretypes", testKey, nil, 200, ""},
		{"unknown path", "/api/v2/nope/", testKey, nil, 404, "Not found."},
		{"wrong method", "/api/v2/coretypes/", testKey, []string{"X-Method", "DELETE"}, 405, ""},
		// Authentication before routing: clients validate a key with
		// GET /api/v2/, and a bad key must not learn which paths exist.
		{"API root, bad key", "/api/v2/", "rsk_notARealKey00000000000000", nil, 401, "Invalid token."},
		{"API root, no key", "/api/v2/", "", nil, 401, "Authentication credentials were not provided."},
		{"unknown path, bad key", "/api/v2/nope/", "rsk_notARealKey00000000000000", nil, 401, "Invalid token."},
		{"wrong method, no key", "/api/v2/coretypes/", "", []string{"X-Method", "DELETE"}, 401, ""},
		{"API root", "/api/v2/", testKey, nil, 200, ""},
		{"API root v3", "/api/v3", testKey, nil, 200, ""},
		{"unknown version", "/api/v9/", testKey, nil, 404, "Not found."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			method := "GET"
			if len(tt.headers) == 2 && tt.headers[0] == "X-Method" {
				method, tt.headers = tt.headers[1], nil
			}
			r := do(t, method, s.URL+tt.path, tt.key, nil, tt.headers...)
			if r.Status != tt.status {
				t.Fatalf("status %d, want %d: %s", r.Status, tt.status, r.Body)
			}
			if ct := r.Header.Get("Content-Type"); ct != "application/json" {
				t.Fatalf("content type %q", ct)
			}
			if tt.detail != "" && r.JSON(t)["detail"] != tt.detail {
				t.Fatalf("detail %v, want %q", r.JSON(t)["detail"], tt.detail)
			}
		})
	}

	t.Run("API root lists absolute URLs", func(t *testing.T) {
		root := do(t, "GET", s.URL+"/api/v2/", testKey, nil).JSON(t)
		for name, path := range map[string]string{"jobs": "/api/v2/jobs/", "files": "/api/v2/files/", "coretypes": "/api/v2/coretypes/", "analyses": "/api/v2/analyses/"} {
			if root[name] != s.URL+path {
				t.Errorf("root[%q] = %v, want %s", name, root[name], s.URL+path)
			}
		}
		if r := do(t, "GET", fmt.Sprint(root["coretypes"]), testKey, nil); r.Status != 200 {
			t.Errorf("following the root's coretypes: %d", r.Status)
		}
		v3 := do(t, "GET", s.URL+"/api/v3/", testKey, nil).JSON(t)
		if v3["users/me/folders"] != s.URL+"/api/v3/users/me/folders/" {
			t.Errorf("v3 root %v", v3)
		}
	})

	t.Run("page 2 of size 2 and following next", func(t *testing.T) {
		r := do(t, "GET", s.URL+"/api/v2/coretypes/?page_size=2&page=2", testKey, nil)
		page := r.JSON(t)
		got := page["results"].([]any)
		if len(got) != 2 || fmt.Sprint(got[0]) != fmt.Sprint(results[2]) || fmt.Sprint(got[1]) != fmt.Sprint(results[3]) {
			t.Fatalf("page 2 is not items 3-4 of the full list: %s", r.Body)
		}
		next, _ := page["next"].(string)
		if !strings.HasPrefix(next, s.URL+"/api/v2/coretypes/?") {
			t.Fatalf("next %q is not an absolute URL on this server", next)
		}
		seen := 4
		for next != "" {
			p := do(t, "GET", next, testKey, nil)
			if p.Status != 200 {
				t.Fatalf("following %s: %d %s", next, p.Status, p.Body)
			}
			body := p.JSON(t)
			seen += len(body["results"].([]any))
			next, _ = body["next"].(string)
		}
		if seen != count {
			t.Fatalf("following next links saw %d items, want %d", seen, count)
		}
	})

	t.Run("next honours X-Forwarded-Host", func(t *testing.T) {
		r := do(t, "GET", s.URL+"/api/v2/coretypes/?page_size=2", testKey, nil, "X-Forwarded-Host", "hpc.example.com", "X-Forwarded-Proto", "https")
		if next := r.JSON(t)["next"]; next != "https://hpc.example.com/api/v2/coretypes/?page=2&page_size=2" {
			t.Fatalf("next = %v", next)
		}
	})

	t.Run("analyses and prices", func(t *testing.T) {
		a := do(t, "GET", s.URL+"/api/v2/analyses/?search=openfoam", testKey, nil)
		if a.Status != 200 || !strings.Contains(string(a.Body), `"code":"openfoam"`) {
			t.Fatalf("analyses search: %d %s", a.Status, a.Body)
		}
		p := do(t, "GET", s.URL+"/api/v2/billing/computeprices/", testKey, nil)
		if p.Status != 200 || !strings.HasPrefix(string(p.Body), "[") {
			t.Fatalf("computeprices: %d %.200s", p.Status, p.Body)
		}
	})
}

var printedKeyRE = regexp.MustCompile(`RESCALE_API_KEY=(rsk_[A-Za-z0-9]+)`)

func TestKeysSurviveRestartAndCLI(t *testing.T) {
	data := t.TempDir()
	s := start(t, data, nil)
	m := printedKeyRE.FindStringSubmatch(s.Stdout())
	if m == nil {
		t.Fatalf("first start printed no key:\n%s", s.Stdout())
	}
	key := m[1]
	if r := do(t, "GET", s.URL+"/api/v2/coretypes/", key, nil); r.Status != 200 {
		t.Fatalf("printed key rejected: %d %s", r.Status, r.Body)
	}
	created := do(t, "POST", s.URL+"/api/v2/users/me/api-keys/", key, strings.NewReader(`{"expiresInDays": "30"}`))
	if created.Status != 201 {
		t.Fatalf("create key: %d %s", created.Status, created.Body)
	}
	second := created.JSON(t)["key"].(string)

	// While the server holds the data dir, the CLI refuses clearly.
	_, stderr, err := runCLI(t, "keys", "create", "--email", "bob@example.com", "--data", data)
	if err == nil || !strings.Contains(stderr, "in use by a running rescale-local server") {
		t.Fatalf("keys create on a busy data dir: err %v, stderr %s", err, stderr)
	}
	if err := s.stop(syscall.SIGTERM); err != nil {
		t.Fatalf("SIGTERM exit: %v", err)
	}

	out, stderr, err := runCLI(t, "keys", "create", "--email", "bob@example.com", "--data", data)
	if err != nil {
		t.Fatalf("keys create: %v %s", err, stderr)
	}
	bob := strings.TrimSpace(out)

	s2 := start(t, data, nil)
	if printedKeyRE.MatchString(s2.Stdout()) {
		t.Fatalf("restart printed a new key:\n%s", s2.Stdout())
	}
	for name, k := range map[string]string{"printed": key, "api-created": second, "cli-created": bob} {
		if r := do(t, "GET", s2.URL+"/api/v2/coretypes/", k, nil); r.Status != 200 {
			t.Errorf("%s key after restart: %d %s", name, r.Status, r.Body)
		}
	}
	list := do(t, "GET", s2.URL+"/api/v2/users/me/api-keys/", key, nil).JSON(t)
	if list["count"].(float64) != 2 {
		t.Fatalf("admin keys after restart: %v", list)
	}
	for _, r := range list["results"].([]any) {
		if _, leaked := r.(map[string]any)["key"]; leaked {
			t.Fatalf("listing shows a secret: %v", r)
		}
	}
	// Bob cannot see or delete the admin's keys.
	adminKeyID := list["results"].([]any)[1].(map[string]any)["id"].(string)
	if r := do(t, "DELETE", s2.URL+"/api/v2/users/me/api-keys/"+adminKeyID+"/", bob, nil); r.Status != 404 {
		t.Fatalf("bob deleting admin's key: %d %s", r.Status, r.Body)
	}
	if r := do(t, "DELETE", s2.URL+"/api/v2/users/me/api-keys/"+adminKeyID+"/", key, nil); r.Status != 204 {
		t.Fatalf("admin deleting own key: %d %s", r.Status, r.Body)
	}
	if r := do(t, "GET", s2.URL+"/api/v2/coretypes/", second, nil); r.Status != 401 {
		t.Fatalf("deleted key still works: %d", r.Status)
	}
	if err := s2.stop(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}

	// A deactivated user's keys die.
	if _, stderr, err := runCLI(t, "users", "deactivate", "--email", "bob@example.com", "--data", data); err != nil {
		t.Fatalf("deactivate: %v %s", err, stderr)
	}
	s3 := start(t, data, nil)
	r := do(t, "GET", s3.URL+"/api/v2/coretypes/", bob, nil)
	if r.Status != 401 || r.JSON(t)["detail"] != "User inactive or deleted." {
		t.Fatalf("deactivated user's key: %d %s", r.Status, r.Body)
	}
}

// SIGTERM while writes are in flight: every write the server acknowledged
// must be there after a restart.
func TestSIGTERMLosesNoAcknowledgedWrite(t *testing.T) {
	data := t.TempDir()
	env := []string{"RESCALE_LOCAL_API_KEY=" + testKey}
	s := start(t, data, env, "--rate-limit", "0")

	// SIGTERM once some writes are acknowledged (not after a wall-clock
	// window, which a loaded machine may fill with none), while the
	// writers keep going until the server is gone.
	const before = 20
	var mu sync.Mutex
	var acked []string
	enough := make(chan struct{})
	var once sync.Once
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				req, _ := http.NewRequest("POST", s.URL+"/api/v2/users/me/api-keys/", strings.NewReader(`{}`))
				req.Header.Set("Authorization", "Token "+testKey)
				req.Header.Set("Content-Type", "application/json")
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					return // the server is gone
				}
				var body struct{ Key string }
				if resp.StatusCode == 201 {
					if jerr := decodeJSON(resp, &body); jerr == nil {
						mu.Lock()
						acked = append(acked, body.Key)
						n := len(acked)
						mu.Unlock()
						if n >= before {
							once.Do(func() { close(enough) })
						}
					}
				}
				resp.Body.Close()
			}
		}()
	}
	select {
	case <-enough:
	case <-time.After(2 * time.Minute): // a hang guard, not a timing assertion
		t.Fatal("the server acknowledged fewer than 20 writes in two minutes")
	}
	if err := s.stop(syscall.SIGTERM); err != nil {
		t.Fatalf("SIGTERM: %v", err)
	}
	wg.Wait()
	s2 := start(t, data, env)
	for _, k := range acked {
		if r := do(t, "GET", s2.URL+"/api/v2/coretypes/?page_size=1", k, nil); r.Status != 200 {
			t.Fatalf("acknowledged key lost after SIGTERM: %d %s", r.Status, r.Body)
		}
	}
	t.Logf("%d acknowledged writes all survived", len(acked))
}

func TestRateLimitPerKey(t *testing.T) {
	data := t.TempDir()
	s := start(t, data, []string{"RESCALE_LOCAL_API_KEY=" + testKey}, "--rate-limit", "0.5", "--rate-burst", "3")
	other := do(t, "POST", s.URL+"/api/v2/users/me/api-keys/", testKey, nil).JSON(t)["key"].(string)
	var last response
	for i := 0; i < 3; i++ {
		last = do(t, "GET", s.URL+"/api/v2/coretypes/", testKey, nil)
	}
	if last.Status != 429 || last.Header.Get("Retry-After") == "" {
		t.Fatalf("over the limit: %d Retry-After %q %s", last.Status, last.Header.Get("Retry-After"), last.Body)
	}
	if r := do(t, "GET", s.URL+"/api/v2/coretypes/", other, nil); r.Status != 200 {
		t.Fatalf("another key starved: %d", r.Status)
	}
}
