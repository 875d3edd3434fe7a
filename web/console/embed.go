// Package console is the web console: plain HTML, CSS and JavaScript
// modules that call the public API with the user's key, embedded so the
// local binary serves them without a build step, and exported as a
// directory tree so infra can publish the same files as a static site.
//
// Client-side pages are hash routes (/#/jobs/abc), so the server only ever
// serves real files: an unknown path is a 404, on the local binary and on
// a static bucket alike, and no rewrite rule is needed anywhere.
package console

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"sync"

	"github.com/openrescale/platform/shared/httpapi"
)

//go:embed static
var static embed.FS

// Dir is the console's directory inside this package, for tools that
// publish it as files (infra's static site).
const Dir = "web/console/static"

// FS is the console's files, rooted at index.html.
func FS() fs.FS {
	sub, err := fs.Sub(static, "static")
	if err != nil { // "static" is a literal embedded above
		panic(err)
	}
	return sub
}

// contentTypes are set explicitly: mime.TypeByExtension reads the host's
// mime tables, and a browser refuses a module script whose type is wrong.
var contentTypes = map[string]string{
	".html": "text/html; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".css":  "text/css; charset=utf-8",
	".svg":  "image/svg+xml",
	".png":  "image/png",
	".ico":  "image/x-icon",
	".json": "application/json",
	".txt":  "text/plain; charset=utf-8",
}

// csp allows only this origin: the local binary serves the API on the same
// origin. A static site pointed elsewhere by config.js sets its own policy.
const csp = "default-src 'self'; img-src 'self' data: blob:; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// Site serves fsys's files for GET and HEAD. Names carry no content hash
// (there is no build step), so every response is "no-cache" with a strong
// ETag: browsers revalidate and get a 304 when nothing changed, and a new
// binary never leaves them running stale modules.
type Site struct {
	fsys  fs.FS
	mu    sync.Mutex
	etags map[string]string
}

// NewSite serves fsys (normally FS()).
func NewSite(fsys fs.FS) *Site {
	return &Site{fsys: fsys, etags: map[string]string{}}
}

func (s *Site) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	name := strings.TrimPrefix(path.Clean("/"+r.URL.Path), "/")
	if name == "" {
		name = "index.html"
	}
	ctype, known := contentTypes[path.Ext(name)]
	body, err := fs.ReadFile(s.fsys, name)
	if err != nil || !known {
		notFound(w)
		return
	}
	h := w.Header()
	h.Set("Content-Type", ctype)
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	if ctype == contentTypes[".html"] {
		h.Set("Content-Security-Policy", csp)
	}
	tag := s.etag(name, body)
	h.Set("ETag", tag)
	if match := r.Header.Get("If-None-Match"); match != "" && etagMatches(match, tag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	h.Set("Content-Length", fmt.Sprint(len(body)))
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodGet {
		_, _ = w.Write(body)
	}
}

// etag is computed once per file: the embedded files never change.
func (s *Site) etag(name string, body []byte) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t, ok := s.etags[name]; ok {
		return t
	}
	sum := sha256.Sum256(body)
	t := `"` + hex.EncodeToString(sum[:12]) + `"`
	s.etags[name] = t
	return t
}

func etagMatches(header, tag string) bool {
	for _, v := range strings.Split(header, ",") {
		v = strings.TrimSpace(v)
		if v == "*" || strings.TrimPrefix(v, "W/") == tag {
			return true
		}
	}
	return false
}

func notFound(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusNotFound)
	_, _ = io.WriteString(w, `<!doctype html><html lang="en"><title>Not found</title><main><h1>Not found</h1><p><a href="/">Open the console</a></p></main></html>`)
}

// WithAPI puts the console beside the API: a request goes to api if the
// route table could serve its path (any method: the API answers 405 for
// a wrong one) or if it is under /api at all, and to site otherwise. So
// the console never shadows an API route, and a mistyped API path still
// gets the API's JSON 404, not an HTML page.
func WithAPI(api http.Handler, routes []httpapi.Route, site http.Handler) (http.Handler, error) {
	owned := http.NewServeMux()
	seen := map[string]bool{}
	for _, rt := range routes {
		p := httpapi.MuxPath(rt.Path)
		if seen[p] {
			continue
		}
		seen[p] = true
		if err := register(owned, p); err != nil {
			return nil, fmt.Errorf("route %s: %w", rt.Name, err)
		}
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if apiPath(owned, r) {
			api.ServeHTTP(w, r)
			return
		}
		site.ServeHTTP(w, r)
	}), nil
}

func apiPath(owned *http.ServeMux, r *http.Request) bool {
	p := r.URL.Path
	if p == "/api" || strings.HasPrefix(p, "/api/") {
		return true
	}
	r2 := r.Clone(r.Context())
	r2.Method = http.MethodGet // patterns are registered without methods
	r2.URL.Path, r2.URL.RawPath = httpapi.CanonicalPath(p), ""
	_, pattern := owned.Handler(r2)
	return pattern != ""
}

func register(mux *http.ServeMux, pattern string) (err error) {
	defer func() {
		if p := recover(); p != nil { // ServeMux panics on conflicting patterns
			err = fmt.Errorf("register %q: %v", pattern, p)
		}
	}()
	mux.Handle(pattern, http.NotFoundHandler())
	return nil
}
