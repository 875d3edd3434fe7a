package stack

import (
	"fmt"
	"regexp"
	"strings"
)

// pathPart is what API Gateway accepts as one resource path segment: a
// literal, "{name}", or a final greedy "{name+}".
var (
	literalPart = regexp.MustCompile(`^[a-zA-Z0-9:._$-]+$`)
	paramPart   = regexp.MustCompile(`^\{[a-zA-Z0-9._-]+\+?\}$`)
)

// ResourcePath turns a route-table path (net/http ServeMux syntax, ending in
// "/" as the spec's paths do) into an API Gateway REST resource path.
//
// The trailing slash is dropped because a REST API resource cannot end in
// "/": every resource is one non-empty path part under its parent, so
// "/api/v2/coretypes/" cannot be declared (the console and CloudFormation
// reject an empty or slash-bearing path part, and CDK's resourceForPath
// silently ignores the empty last part). No trailing-slash variant is
// declared either, for the same reason. API Gateway instead matches a
// request for "/api/v2/coretypes/" to the resource "/api/v2/coretypes", and
// passes the path as the client sent it in the proxy event; reports of both
// forms reaching the same method: aws/chalice#65 (maintainer, 2016) and
// aws-powertools/powertools-lambda-python#1552 (2022, REST and HTTP APIs).
// The handler then serves both forms alike via httpapi.CanonicalPath.
//
// "{name...}" (a ServeMux rest parameter) becomes the greedy "{name+}".
func ResourcePath(p string) (string, error) {
	if !strings.HasPrefix(p, "/") {
		return "", fmt.Errorf("path %q: must start with /", p)
	}
	trimmed := strings.Trim(p, "/")
	if trimmed == "" {
		return "/", nil
	}
	parts := strings.Split(trimmed, "/")
	for i, part := range parts {
		if name, ok := strings.CutSuffix(part, "...}"); ok && strings.HasPrefix(part, "{") {
			if i != len(parts)-1 {
				return "", fmt.Errorf("path %q: rest parameter %s must be last", p, part)
			}
			part = name + "+}"
		}
		if !literalPart.MatchString(part) && !paramPart.MatchString(part) {
			return "", fmt.Errorf("path %q: API Gateway cannot express path part %q", p, part)
		}
		if strings.HasSuffix(part, "+}") && i != len(parts)-1 {
			return "", fmt.Errorf("path %q: greedy parameter %s must be last", p, part)
		}
		parts[i] = part
	}
	return "/" + strings.Join(parts, "/"), nil
}
