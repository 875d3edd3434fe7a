package console_test

import (
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path"
	"regexp"
	"strings"
	"testing"

	"github.com/openrescale/platform/functions/api"
	"github.com/openrescale/platform/web/console"
)

func serve(t *testing.T, h http.Handler, method, target string, header ...string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, target, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func TestSite(t *testing.T) {
	site := console.NewSite(console.FS())
	index, err := fs.ReadFile(console.FS(), "index.html")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		method, path string
		status       int
		ctype        string
		body         string // a substring of the body
	}{
		{"GET", "/", 200, "text/html; charset=utf-8", string(index)},
		{"GET", "/index.html", 200, "text/html; charset=utf-8", `<main id="main"`},
		{"GET", "/js/app.js", 200, "text/javascript; charset=utf-8", "hashchange"},
		{"GET", "/js/views/job.js", 200, "text/javascript; charset=utf-8", "export async function render"},
		{"GET", "/config.js", 200, "text/javascript; charset=utf-8", "apiBase"},
		{"GET", "/style.css", 200, "text/css; charset=utf-8", ":focus-visible"},
		{"HEAD", "/style.css", 200, "text/css; charset=utf-8", ""},
		{"GET", "/nope.html", 404, "text/html; charset=utf-8", "Not found"},
		{"GET", "/js", 404, "text/html; charset=utf-8", "Not found"},
		{"GET", "/js/", 404, "text/html; charset=utf-8", "Not found"},
		{"GET", "/jobs/abc", 404, "text/html; charset=utf-8", "Not found"},
		{"GET", "/../static/index.html", 404, "text/html; charset=utf-8", "Not found"},
		{"POST", "/", 405, "text/plain; charset=utf-8", "method not allowed"},
		{"DELETE", "/js/app.js", 405, "text/plain; charset=utf-8", "method not allowed"},
	} {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			rec := serve(t, site, tc.method, tc.path)
			if rec.Code != tc.status {
				t.Fatalf("status %d, want %d: %s", rec.Code, tc.status, rec.Body)
			}
			if got := rec.Header().Get("Content-Type"); got != tc.ctype {
				t.Fatalf("Content-Type %q, want %q", got, tc.ctype)
			}
			if !strings.Contains(rec.Body.String(), tc.body) {
				t.Fatalf("body lacks %q:\n%s", tc.body, rec.Body)
			}
			if tc.method == "HEAD" && rec.Body.Len() != 0 {
				t.Fatalf("HEAD has a body of %d bytes", rec.Body.Len())
			}
			if tc.status == 405 && rec.Header().Get("Allow") != "GET, HEAD" {
				t.Fatalf("Allow %q", rec.Header().Get("Allow"))
			}
			if rec.Header().Get("X-Content-Type-Options") != "nosniff" && tc.status != 405 {
				t.Fatal("no nosniff")
			}
		})
	}
}

// TestCaching: no-cache with a strong ETag per file, answered 304 when the
// browser already has it, 200 with the body when it has another version.
func TestCaching(t *testing.T) {
	site := console.NewSite(console.FS())
	seen := map[string]string{}
	err := fs.WalkDir(console.FS(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rec := serve(t, site, "GET", "/"+p)
		tag := rec.Header().Get("ETag")
		if rec.Code != 200 || rec.Header().Get("Cache-Control") != "no-cache" || !regexp.MustCompile(`^"[0-9a-f]{24}"$`).MatchString(tag) {
			t.Fatalf("%s: %d, Cache-Control %q, ETag %q", p, rec.Code, rec.Header().Get("Cache-Control"), tag)
		}
		if other, dup := seen[tag]; dup {
			t.Fatalf("%s and %s share ETag %s", p, other, tag)
		}
		seen[tag] = p
		for _, tc := range []struct {
			match  string
			status int
		}{
			{tag, 304},
			{`W/` + tag, 304},
			{`"other", ` + tag, 304},
			{"*", 304},
			{`"0123456789abcdef01234567"`, 200},
		} {
			rec := serve(t, site, "GET", "/"+p, "If-None-Match", tc.match)
			if rec.Code != tc.status {
				t.Fatalf("%s with If-None-Match %s: %d, want %d", p, tc.match, rec.Code, tc.status)
			}
			if tc.status == 304 && rec.Body.Len() != 0 {
				t.Fatalf("%s: 304 with a body", p)
			}
			if tc.status == 200 && rec.Body.Len() == 0 {
				t.Fatalf("%s: 200 without a body", p)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(seen) < 10 {
		t.Fatalf("only %d files served", len(seen))
	}
}

func TestSecurityHeaders(t *testing.T) {
	site := console.NewSite(console.FS())
	rec := serve(t, site, "GET", "/")
	csp := rec.Header().Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'self'", "frame-ancestors 'none'", "object-src 'none'"} {
		if !strings.Contains(csp, want) {
			t.Fatalf("CSP %q lacks %q", csp, want)
		}
	}
	if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") {
		t.Fatalf("CSP allows inline code: %q", csp)
	}
	if rec.Header().Get("Referrer-Policy") != "no-referrer" {
		t.Fatal("no Referrer-Policy")
	}
}

var (
	importRE = regexp.MustCompile(`(?m)^\s*import\s[^;]*?from\s+"([^"]+)"|^\s*import\s+"([^"]+)"`)
	srcRE    = regexp.MustCompile(`(?:src|href)="([^"#:]+)"`)
)

// TestReferencesResolve: every module import and every file index.html
// names is an embedded file with a served type, so a typo in a path is a
// test failure here, not a blank page in a browser. No inline script
// either: the CSP would block it.
func TestReferencesResolve(t *testing.T) {
	fsys := console.FS()
	exists := func(p string) bool {
		_, err := fs.Stat(fsys, p)
		return err == nil
	}
	checked := 0
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		var refs []string
		switch path.Ext(p) {
		case ".js":
			for _, m := range importRE.FindAllStringSubmatch(string(b), -1) {
				refs = append(refs, m[1]+m[2])
			}
		case ".html":
			for _, m := range srcRE.FindAllStringSubmatch(string(b), -1) {
				refs = append(refs, m[1])
			}
			if regexp.MustCompile(`<script(?:\s[^>]*)?>[^<]+</script>`).Match(b) {
				t.Errorf("%s has an inline script", p)
			}
		}
		for _, ref := range refs {
			if !strings.HasPrefix(ref, ".") && path.Ext(p) == ".js" {
				t.Errorf("%s imports %q: bare specifiers need a build step", p, ref)
				continue
			}
			target := path.Join(path.Dir(p), ref)
			if !exists(target) {
				t.Errorf("%s references %q: no file %s", p, ref, target)
			}
			checked++
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if checked < 15 {
		t.Fatalf("only %d references found: is the pattern still right?", checked)
	}
}

// routePath makes a concrete path from a route pattern.
func routePath(p string) string {
	p = regexp.MustCompile(`\{[a-z_]+\.\.\.\}`).ReplaceAllString(p, "a/b.txt")
	return regexp.MustCompile(`\{[a-z_]+\}`).ReplaceAllString(p, "x1")
}

// TestWithAPINoShadowing: with the console mounted, every route of the
// table (with its method, and without its trailing slash) still reaches
// the API, as does anything under /api; everything else is the console's.
func TestWithAPINoShadowing(t *testing.T) {
	routes := append(api.Routes(api.Deps{}), api.LocalRoutes(api.Deps{})...)
	apiStub := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Reached", "api")
		w.WriteHeader(299)
	})
	h, err := console.WithAPI(apiStub, routes, console.NewSite(console.FS()))
	if err != nil {
		t.Fatal(err)
	}
	if len(routes) < 50 {
		t.Fatalf("only %d routes", len(routes))
	}
	for _, rt := range routes {
		method := rt.Method
		if method == "ANY" {
			method = "GET"
		}
		for _, p := range []string{routePath(rt.Path), strings.TrimSuffix(routePath(rt.Path), "/")} {
			if rec := serve(t, h, method, p); rec.Header().Get("X-Reached") != "api" {
				t.Errorf("%s %s %s (route %s) did not reach the API: %d", method, p, rt.Path, rt.Name, rec.Code)
			}
		}
	}
	for _, tc := range []struct {
		method, path string
		api          bool
	}{
		{"GET", "/api", true},
		{"GET", "/api/", true},
		{"GET", "/api/v9/unknown/thing", true},
		{"POST", "/api/v2/not-a-route/", true},
		{"GET", "/healthz", true},
		{"HEAD", "/healthz", true},
		{"GET", "/", false},
		{"GET", "/index.html", false},
		{"GET", "/js/app.js", false},
		{"GET", "/apiary", false},
		{"GET", "/healthz-not", false},
		{"POST", "/jobs", false},
	} {
		rec := serve(t, h, tc.method, tc.path)
		if got := rec.Header().Get("X-Reached") == "api"; got != tc.api {
			t.Errorf("%s %s: reached API %v, want %v (%d)", tc.method, tc.path, got, tc.api, rec.Code)
		}
	}
}

// TestJavaScript runs the modules' unit tests (jstest/) with node's test
// runner. CI has node (the test servers need it); elsewhere a missing node
// skips, unless REQUIRE_TEST_SERVERS=1 says this run must have it.
func TestJavaScript(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		if os.Getenv("REQUIRE_TEST_SERVERS") == "1" {
			t.Fatal("node not found and REQUIRE_TEST_SERVERS=1")
		}
		t.Skip("node not found")
	}
	files, err := fs.Glob(os.DirFS("jstest"), "*.test.js")
	if err != nil || len(files) == 0 {
		t.Fatalf("no jstest/*.test.js: %v", err)
	}
	args := []string{"--test"}
	for _, f := range files {
		args = append(args, "jstest/"+f)
	}
	cmd := exec.Command(node, args...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("node %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	if !regexp.MustCompile(`(?m)^# pass [1-9]`).Match(out) || !regexp.MustCompile(`(?m)^# fail 0$`).Match(out) {
		t.Fatalf("node ran no passing tests:\n%s", out)
	}
}
