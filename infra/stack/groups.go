package stack

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"unicode"

	"github.com/openrescale/platform/shared/httpapi"
)

// A resource group is the routes under one path prefix of up to three
// parts ("/api/v2/jobs", "/api/credentials", "/healthz"). Groups of at
// least OwnStackRoutes routes get a nested stack of their own, named after
// the prefix's last part (ApiJobs); the rest share ApiOther. Grouping by
// prefix keeps every API Gateway resource in exactly one stack, and the
// names stable as routes are added: a route never moves between stacks
// unless its group crosses OwnStackRoutes, which moves the whole group
// (CloudFormation then replaces its functions and methods in one update).
const (
	OwnStackRoutes = 8
	// MaxRoutesPerStack keeps a group stack well under MaxResources: a
	// route costs about five resources (function, role, policy,
	// permission, method) plus its path parts.
	MaxRoutesPerStack = 60
	groupDepth        = 3
)

// routeGroup is the routes of one nested stack.
type routeGroup struct {
	Name   string // stack id, "Api" + name
	Routes []httpapi.Route
}

// groupRoutes splits routes into stacks; the API stack owns the paths that
// are ancestors of routes in more than one group.
func groupRoutes(routes []httpapi.Route) ([]routeGroup, error) {
	byPrefix := map[string][]httpapi.Route{}
	for _, rt := range routes {
		rp, err := ResourcePath(rt.Path)
		if err != nil {
			return nil, err
		}
		byPrefix[prefixOf(rp)] = append(byPrefix[prefixOf(rp)], rt)
	}
	prefixes := slices.Sorted(func(yield func(string) bool) {
		for p := range byPrefix {
			if !yield(p) {
				return
			}
		}
	})
	var groups []routeGroup
	other := routeGroup{Name: "ApiOther"}
	names := map[string]string{}
	for _, p := range prefixes {
		rs := byPrefix[p]
		if len(rs) < OwnStackRoutes {
			other.Routes = append(other.Routes, rs...)
			continue
		}
		name := "Api" + stackName(p)
		if prev, dup := names[name]; dup {
			return nil, fmt.Errorf("route groups %s and %s both make stack %s", prev, p, name)
		}
		names[name] = p
		groups = append(groups, routeGroup{Name: name, Routes: rs})
	}
	if len(other.Routes) > 0 {
		groups = append(groups, other)
	}
	for _, g := range groups {
		if len(g.Routes) > MaxRoutesPerStack {
			return nil, fmt.Errorf("stack %s would hold %d routes, more than %d: split its group (groupDepth) or raise the limit after checking the resource counts", g.Name, len(g.Routes), MaxRoutesPerStack)
		}
	}
	return groups, nil
}

// prefixOf is a resource path's group: its first groupDepth parts.
func prefixOf(rp string) string {
	parts := strings.Split(strings.TrimPrefix(rp, "/"), "/")
	if len(parts) > groupDepth {
		parts = parts[:groupDepth]
	}
	return "/" + strings.Join(parts, "/")
}

// stackName makes a construct id part of a prefix's last part.
func stackName(prefix string) string {
	last := prefix[strings.LastIndex(prefix, "/")+1:]
	var b strings.Builder
	up := true
	for _, r := range last {
		if !unicode.IsLetter(r) && !unicode.IsDigit(r) {
			up = true
			continue
		}
		if up {
			r = unicode.ToUpper(r)
			up = false
		}
		b.WriteRune(r)
	}
	if b.Len() == 0 {
		return "Root"
	}
	return b.String()
}

// sharedPaths are the resource paths that are strict ancestors of routes in
// more than one group, or of a route and another group's path: the API
// stack creates them so that no two stacks declare the same path part.
func sharedPaths(groups []routeGroup) []string {
	owners := map[string]map[int]bool{}
	for i, g := range groups {
		for _, rt := range g.Routes {
			rp, _ := ResourcePath(rt.Path)
			for _, a := range ancestors(rp, true) {
				if owners[a] == nil {
					owners[a] = map[int]bool{}
				}
				owners[a][i] = true
			}
		}
	}
	var out []string
	for p, o := range owners {
		if len(o) > 1 {
			out = append(out, p)
		}
	}
	// Ancestors of a shared path are shared: sorting by depth puts them
	// first, so the API stack can create parents before children.
	slices.SortFunc(out, func(a, b string) int {
		return cmp.Or(cmp.Compare(strings.Count(a, "/"), strings.Count(b, "/")), cmp.Compare(a, b))
	})
	return out
}

// ancestors lists a resource path's parts' paths from the first to the
// path itself (when self) or its parent; "/" has none.
func ancestors(rp string, self bool) []string {
	if rp == "/" {
		return nil
	}
	parts := strings.Split(strings.TrimPrefix(rp, "/"), "/")
	n := len(parts)
	if !self {
		n--
	}
	out := make([]string, 0, n)
	for i := 1; i <= n; i++ {
		out = append(out, "/"+strings.Join(parts[:i], "/"))
	}
	return out
}
