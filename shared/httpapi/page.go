package httpapi

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/openrescale/platform/shared/errs"
)

// Page sizes: the default matches the spec's samples (14 coretypes answer
// with a next page); the maximum is generous because existing scripts fetch
// whole lists with page_size in the thousands.
const (
	DefaultPageSize = 10
	MaxPageSize     = 5000
)

// MaxOffset bounds the index of a page's first item, (page-1) × page_size:
// no list here comes near it, and below it offsets cannot overflow in any
// arithmetic a list does with them (stores, limits, next links).
const MaxOffset = 1<<31 - 1

// PageRequest is a parsed ?page=&page_size=.
type PageRequest struct {
	Page int // from 1
	Size int
}

// Offset is the index of the page's first item.
func (p PageRequest) Offset() int { return (p.Page - 1) * p.Size }

// PageSizes are a list's default and maximum page_size.
type PageSizes struct{ Default, Max int }

// ListPageSizes are those of every list but the few with their own
// (a file's lines).
var ListPageSizes = PageSizes{Default: DefaultPageSize, Max: MaxPageSize}

// ParsePage reads page and page_size with ListPageSizes.
func ParsePage(r *http.Request) (PageRequest, error) { return ParsePageSizes(r, ListPageSizes) }

// ParsePageSizes reads page and page_size: the one paginator every list
// uses. A page_size above the maximum is clamped (as Django REST Framework
// does); non-numbers, and a page whose offset would pass MaxOffset, are 400s
// naming the parameter.
func ParsePageSizes(r *http.Request, sizes PageSizes) (PageRequest, error) {
	q := r.URL.Query()
	p := PageRequest{Page: 1, Size: sizes.Default}
	if s := q.Get("page"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			return p, errs.Field("page", "page must be a positive integer, got %q", errs.Clip(s))
		}
		p.Page = n
	}
	if s := q.Get("page_size"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			return p, errs.Field("page_size", "page_size must be a positive integer, got %q", errs.Clip(s))
		}
		p.Size = min(n, sizes.Max)
	}
	if p.Page-1 > MaxOffset/p.Size {
		return p, errs.Field("page", "page %d is out of range: page × page_size may not pass %d", p.Page, MaxOffset)
	}
	return p, nil
}

// PageBody is the spec's list envelope.
type PageBody[T any] struct {
	Count    int     `json:"count"`
	Next     *string `json:"next"`
	Previous *string `json:"previous"`
	Results  []T     `json:"results"`
}

// NewPage builds the envelope for one page of total items. A page past the
// end is 404 "Invalid page." as in Django REST Framework, except page 1,
// which is always an (empty) page.
func NewPage[T any](r *http.Request, base BaseURL, p PageRequest, total int, results []T) (PageBody[T], error) {
	if results == nil {
		results = []T{}
	}
	if p.Page > 1 && p.Offset() >= total {
		return PageBody[T]{}, errs.E(errs.NotFound, "Invalid page.")
	}
	body := PageBody[T]{Count: total, Results: results}
	if p.Offset()+len(results) < total {
		u := base.PageURL(r, p.Page+1)
		body.Next = &u
	}
	if p.Page > 1 {
		u := base.PageURL(r, p.Page-1)
		body.Previous = &u
	}
	return body, nil
}

// Paginate slices an in-memory list and renders its page.
func Paginate[T any](w http.ResponseWriter, r *http.Request, base BaseURL, all []T) error {
	p, err := ParsePage(r)
	if err != nil {
		return err
	}
	lo := min(p.Offset(), len(all))
	hi := min(lo+p.Size, len(all))
	body, err := NewPage(r, base, p, len(all), all[lo:hi])
	if err != nil {
		return err
	}
	WriteJSON(w, http.StatusOK, body)
	return nil
}

// BaseURL builds absolute URLs that point back at this server as the
// client sees it.
type BaseURL struct {
	// Public, when set (e.g. "https://api.example.com/prod"), is used
	// as is; otherwise the request's Host and X-Forwarded-* headers decide.
	Public string
}

// Origin returns scheme://host[/prefix] for r.
func (b BaseURL) Origin(r *http.Request) string {
	if b.Public != "" {
		return strings.TrimRight(b.Public, "/")
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	if p := firstValue(r.Header.Get("X-Forwarded-Proto")); p == "http" || p == "https" {
		scheme = p
	}
	host := r.Host
	if h := firstValue(r.Header.Get("X-Forwarded-Host")); h != "" && validHost(h) {
		host = h
	}
	return scheme + "://" + host + validPrefix(firstValue(r.Header.Get("X-Forwarded-Prefix")))
}

// validPrefix accepts a path prefix such as "/prod" that a proxy (or the API
// Gateway stage) adds in front of our paths.
func validPrefix(p string) string {
	p = strings.TrimRight(p, "/")
	if p == "" || p[0] != '/' || len(p) > 128 {
		return ""
	}
	for i := 1; i < len(p); i++ {
		c := p[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '/' || c == '.') {
			return ""
		}
	}
	return p
}

// URL returns the absolute URL of path on this server.
func (b BaseURL) URL(r *http.Request, path string) string {
	return b.Origin(r) + path
}

// PageURL is the current request's URL with page replaced.
func (b BaseURL) PageURL(r *http.Request, page int) string {
	q := r.URL.Query()
	q.Set("page", strconv.Itoa(page))
	return b.Origin(r) + r.URL.EscapedPath() + "?" + encodeSorted(q)
}

func encodeSorted(q url.Values) string { return q.Encode() } // Encode sorts keys

func firstValue(h string) string {
	if i := strings.IndexByte(h, ','); i >= 0 {
		h = h[:i]
	}
	return strings.TrimSpace(h)
}

// validHost rejects header values that would make a broken or injected URL.
func validHost(h string) bool {
	if len(h) > 255 {
		return false
	}
	for i := 0; i < len(h); i++ {
		c := h[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '-' || c == ':' || c == '[' || c == ']') {
			return false
		}
	}
	return true
}
