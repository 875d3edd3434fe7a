package httpapi

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/openrescale/platform/shared/errs"
)

// Each boundary of the paginator: the first and last valid values and the
// first invalid ones.
func TestParsePageBoundaries(t *testing.T) {
	tests := []struct {
		query      string
		page, size int
		field      string // the parameter a 400 names
	}{
		{"?page=1", 1, 10, ""},
		{"?page=0", 0, 0, "page"},
		{"?page=-1", 0, 0, "page"},
		{"?page_size=1", 1, 1, ""},
		{"?page_size=0", 0, 0, "page_size"},
		{"?page_size=x", 0, 0, "page_size"},
		// (page-1) × page_size may reach 2147483647 and not pass it.
		{"?page=2147483648&page_size=1", 2147483648, 1, ""},
		{"?page=2147483649&page_size=1", 0, 0, "page"},
		{"?page=1073741824&page_size=2", 1073741824, 2, ""},
		{"?page=1073741825&page_size=2", 0, 0, "page"},
	}
	for _, tt := range tests {
		p, err := ParsePageSizes(httptest.NewRequest("GET", "/x/"+tt.query, nil), PageSizes{Default: 10, Max: 5000})
		if tt.field != "" {
			if e, ok := errs.As(err); !ok || e.Code != errs.Invalid || e.Field != tt.field {
				t.Errorf("%s: %v, want a 400 naming %s", tt.query, err, tt.field)
			}
			continue
		}
		if err != nil || p.Page != tt.page || p.Size != tt.size {
			t.Errorf("%s: page %d size %d %v, want %d %d", tt.query, p.Page, p.Size, err, tt.page, tt.size)
		}
	}
}

// next and previous appear exactly when there is such a page; a page past
// the end is 404, except page 1.
func TestNewPageLinks(t *testing.T) {
	tests := []struct {
		page, size, total, n int
		next, previous       string // "" for none
		notFound             bool
	}{
		{1, 2, 0, 0, "", "", false},
		{1, 2, 2, 2, "", "", false},
		{1, 2, 3, 2, "page=2", "", false},
		{2, 2, 3, 1, "", "page=1", false},
		{2, 2, 4, 2, "", "page=1", false},
		{2, 2, 5, 2, "page=3", "page=1", false},
		{3, 2, 4, 0, "", "", true},
		{2, 2, 2, 0, "", "", true},
		{2, 2, 1, 0, "", "", true},
	}
	for _, tt := range tests {
		name := fmt.Sprintf("page %d of %d by %d", tt.page, tt.total, tt.size)
		r := httptest.NewRequest("GET", fmt.Sprintf("/api/v2/things/?page=%d&page_size=%d", tt.page, tt.size), nil)
		body, err := NewPage(r, BaseURL{}, PageRequest{Page: tt.page, Size: tt.size}, tt.total, make([]int, tt.n))
		if tt.notFound {
			if e, ok := errs.As(err); !ok || e.Code != errs.NotFound || e.Message != "Invalid page." {
				t.Errorf("%s: %v, want 404 Invalid page.", name, err)
			}
			continue
		}
		if err != nil || body.Count != tt.total || len(body.Results) != tt.n {
			t.Errorf("%s: %+v %v", name, body, err)
			continue
		}
		for what, pair := range map[string][2]any{"next": {body.Next, tt.next}, "previous": {body.Previous, tt.previous}} {
			got, want := pair[0].(*string), pair[1].(string)
			switch {
			case want == "" && got != nil:
				t.Errorf("%s: %s %q, want none", name, what, *got)
			case want != "" && (got == nil || *got != "http://example.com/api/v2/things/?"+want+fmt.Sprintf("&page_size=%d", tt.size)):
				t.Errorf("%s: %s %v, want %s", name, what, got, want)
			}
		}
	}
	if b, _ := NewPage[int](httptest.NewRequest("GET", "/x/", nil), BaseURL{}, PageRequest{Page: 1, Size: 10}, 0, nil); b.Results == nil {
		t.Error("an empty page's results must render as [], not null")
	}
}

// Paginate's slice bounds, at and past the end of the list.
func TestPaginateSlices(t *testing.T) {
	items := []int{1, 2, 3, 4, 5}
	for query, want := range map[string]string{
		"?page_size=5":        `"results":[1,2,3,4,5]`,
		"?page_size=4":        `"results":[1,2,3,4]`,
		"?page=2&page_size=4": `"results":[5]`,
		"?page=2&page_size=2": `"results":[3,4]`,
		"?page=3&page_size=2": `"results":[5]`,
		"?page=1&page_size=9": `"results":[1,2,3,4,5]`,
	} {
		rec := httptest.NewRecorder()
		if err := Paginate(rec, httptest.NewRequest("GET", "/x/"+query, nil), BaseURL{}, items); err != nil || !strings.Contains(rec.Body.String(), want) {
			t.Errorf("%s: %v %s, want %s", query, err, rec.Body, want)
		}
	}
}

// Forwarded prefixes and hosts are taken only when every character is one
// a path or host may hold; each range's ends are in, their neighbours out.
func TestForwardedCharacterRanges(t *testing.T) {
	origin := func(headers ...string) string {
		r := httptest.NewRequest("GET", "/api/v2/jobs/", nil)
		for i := 0; i+1 < len(headers); i += 2 {
			r.Header.Set(headers[i], headers[i+1])
		}
		return BaseURL{}.Origin(r)
	}
	for _, ok := range []string{"/azAZ09", "/a-b_c.d/e", "/" + strings.Repeat("p", 127)} {
		if got := origin("X-Forwarded-Prefix", ok); got != "http://example.com"+ok {
			t.Errorf("prefix %q: origin %q", ok, got)
		}
	}
	for _, bad := range []string{"/a`", "/a{", "/a@", "/a[", "/a:", "/a b", "/a?", "/a%", "prod", "/" + strings.Repeat("p", 128)} {
		if got := origin("X-Forwarded-Prefix", bad); got != "http://example.com" {
			t.Errorf("prefix %q accepted: %q", bad, got)
		}
	}
	for _, ok := range []string{"azAZ09.example", "a-b.c:8443", "[::1]:8080", strings.Repeat("h", 255)} {
		if got := origin("X-Forwarded-Host", ok); got != "http://"+ok {
			t.Errorf("host %q: origin %q", ok, got)
		}
	}
	for _, bad := range []string{"a`b", "a{b", "a@b", "a/b", "a_b", "a b", strings.Repeat("h", 256)} {
		if got := origin("X-Forwarded-Host", bad); got != "http://example.com" {
			t.Errorf("host %q accepted: %q", bad, got)
		}
	}
	r := httptest.NewRequest("GET", "https://secure.example/api/v2/", nil)
	if got := (BaseURL{}).Origin(r); got != "https://secure.example" {
		t.Errorf("TLS request: %q", got)
	}
	if got := (BaseURL{}).URL(httptest.NewRequest("GET", "/", nil), "/api/v2/files/x/"); got != "http://example.com/api/v2/files/x/" {
		t.Errorf("URL %q", got)
	}
}

// Every error code has its status, and the 500s say nothing more.
func TestStatusAndErrorBody(t *testing.T) {
	for code, status := range map[string]int{
		errs.Invalid: 400, errs.Unauthenticated: 401, errs.Forbidden: 403, errs.NotFound: 404,
		errs.MethodNotAllowed: 405, errs.Conflict: 409, errs.TooLarge: 413, errs.Unsupported: 415,
		errs.RateLimited: 429, errs.Unavailable: 503, errs.Internal: 500, "no such code": 500,
	} {
		if got := Status(code); got != status {
			t.Errorf("Status(%q) = %d, want %d", code, got, status)
		}
	}
	tests := []struct {
		err    error
		status int
		body   string
		header [2]string
	}{
		{errs.Field("name", "bad name"), 400, `{"detail":"bad name","field":"name"}`, [2]string{}},
		{&errs.Error{Code: errs.Invalid, Field: "size"}, 400, `{"detail":"size: invalid value","field":"size"}`, [2]string{}},
		{errs.E(errs.Unauthenticated, "Invalid token."), 401, `{"detail":"Invalid token."}`, [2]string{"WWW-Authenticate", "Token"}},
		{&errs.Error{Code: errs.RateLimited, Message: "slow down", RetryAfter: 3}, 429, `{"detail":"slow down"}`, [2]string{"Retry-After", "3"}},
		{errors.New("disk on fire at /secret/path"), 500, `{"detail":"internal error"}`, [2]string{}},
		{errs.E(errs.Internal, "store: table t-secret"), 500, `{"detail":"internal error"}`, [2]string{}},
		{&http.MaxBytesError{Limit: 1048576}, 413, `{"detail":"request body exceeds 1048576 bytes"}`, [2]string{}},
	}
	for _, tt := range tests {
		rec := httptest.NewRecorder()
		Error(rec, httptest.NewRequest("GET", "/", nil), nil, tt.err)
		if rec.Code != tt.status || strings.TrimSpace(rec.Body.String()) != tt.body || (tt.header[0] != "" && rec.Header().Get(tt.header[0]) != tt.header[1]) {
			t.Errorf("%v: %d %s %v", tt.err, rec.Code, rec.Body, rec.Header())
		}
		if tt.status != 401 && rec.Header().Get("WWW-Authenticate") != "" {
			t.Errorf("%v: WWW-Authenticate on a %d", tt.err, tt.status)
		}
	}
}

// Details are cut at 1024 bytes, on a rune boundary, marked with "…".
func TestClipDetailBoundary(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{strings.Repeat("a", 1024), strings.Repeat("a", 1024)},
		{strings.Repeat("a", 1025), strings.Repeat("a", 1024) + "…"},
		{strings.Repeat("a", 1023) + "é", strings.Repeat("a", 1023) + "…"},
		{strings.Repeat("a", 1022) + "é", strings.Repeat("a", 1022) + "é"},
		{strings.Repeat("a", 1022) + "éé", strings.Repeat("a", 1022) + "é…"},
	}
	for i, tt := range tests {
		if got := clipDetail(tt.in); got != tt.want {
			t.Errorf("case %d: %d bytes, want %d", i, len(got), len(tt.want))
		}
	}
}
