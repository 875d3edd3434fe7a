// Package apiroot answers what no other route does under /api/: the API
// roots GET /api/v2/ and /api/v3/, which list the version's resources as
// Django REST framework's root view does, and 404 or 405 for everything
// else. It is one route (any method, /api/{path...}) so that API Gateway
// sends unknown paths and methods through the authorizer to it, rather than
// answering them itself before authentication.
package apiroot

import (
	"net/http"
	"strings"
	"sync"

	"github.com/openrescale/platform/shared/httpapi"
)

// Handlers serve the API root.
type Handlers struct {
	Base  httpapi.BaseURL
	index func() index
}

type index struct {
	// roots maps a version ("v2") to its resources (name → path).
	roots   map[string]map[string]string
	matcher *httpapi.Matcher
}

// New indexes the route table (only Method and Path are read) on first
// use: every route's Lambda function builds the route table, and only the
// api-root function ever reads this index, so building it eagerly would
// add to every function's cold start.
func New(routes []httpapi.Route, base httpapi.BaseURL) Handlers {
	return Handlers{Base: base, index: sync.OnceValue(func() index {
		return index{roots: Roots(routes), matcher: httpapi.NewMatcher(routes)}
	})}
}

// Roots lists each version's resources: every GET route under
// /api/<version>/ without path parameters, named by the rest of its path
// ("jobs", "billing/computeprices"), as DRF names a root's entries by their
// router prefix.
func Roots(routes []httpapi.Route) map[string]map[string]string {
	roots := map[string]map[string]string{}
	for _, rt := range routes {
		if rt.Method != http.MethodGet || strings.Contains(rt.Path, "{") {
			continue
		}
		rest, ok := strings.CutPrefix(rt.Path, "/api/")
		if !ok {
			continue
		}
		version, name, ok := strings.Cut(rest, "/")
		name = strings.TrimSuffix(name, "/")
		if !ok || name == "" || !isVersion(version) {
			continue
		}
		if roots[version] == nil {
			roots[version] = map[string]string{}
		}
		roots[version][name] = rt.Path
	}
	return roots
}

func isVersion(s string) bool {
	if len(s) < 2 || s[0] != 'v' {
		return false
	}
	for _, c := range s[1:] {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// Serve is the route's handler.
func (h Handlers) Serve(w http.ResponseWriter, r *http.Request) error {
	var idx index
	if h.index != nil {
		idx = h.index()
	}
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		rest, _ := strings.CutPrefix(httpapi.CanonicalPath(r.URL.Path), "/api/")
		if version, ok := strings.CutSuffix(rest, "/"); ok && !strings.Contains(version, "/") {
			if root, ok := idx.roots[version]; ok {
				body := make(map[string]string, len(root))
				for name, path := range root {
					body[name] = h.Base.URL(r, path)
				}
				httpapi.WriteJSON(w, http.StatusOK, body)
				return nil
			}
		}
	}
	if idx.matcher == nil {
		return httpapi.NewMatcher(nil).NoRoute(w, r)
	}
	return idx.matcher.NoRoute(w, r)
}
