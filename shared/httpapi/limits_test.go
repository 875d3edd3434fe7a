package httpapi

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// The documented limits, written as documented (docs/api-decisions.md)
// rather than read from the constants, so that changing one fails here.

// JSON bodies up to 1 MiB; 413 beyond.
func TestJSONBodyLimitIsOneMiB(t *testing.T) {
	const mib = 1048576
	h := testHandler(t, nil)
	body := func(size int) string {
		const head, tail = `{"name":"`, `"}`
		return head + strings.Repeat("x", size-len(head)-len(tail)) + tail
	}
	tests := []struct {
		name   string
		size   int
		status int
	}{
		{"one byte under", mib - 1, http.StatusCreated},
		{"exactly 1 MiB", mib, http.StatusCreated},
		{"one byte over", mib + 1, http.StatusRequestEntityTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := body(tt.size)
			if len(b) != tt.size {
				t.Fatalf("built a %d-byte body", len(b))
			}
			req := httptest.NewRequest("POST", "/api/v2/things/", strings.NewReader(b))
			req.Header.Set("Authorization", "Token good")
			req.Header.Set("Content-Type", "application/json")
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tt.status {
				t.Fatalf("%d-byte body: %d, want %d: %.200s", tt.size, rec.Code, tt.status, rec.Body)
			}
			if tt.status == http.StatusRequestEntityTooLarge && !strings.Contains(rec.Body.String(), "1048576") {
				t.Fatalf("413 does not state the limit: %s", rec.Body)
			}
		})
	}
}

// page_size defaults to 10 and is clamped to 5000.
func TestPageSizeDefaultAndClamp(t *testing.T) {
	tests := []struct {
		query      string
		size, page int
	}{
		{"", 10, 1},
		{"?page=3", 10, 3},
		{"?page_size=1", 1, 1},
		{"?page_size=4999", 4999, 1},
		{"?page_size=5000", 5000, 1},
		{"?page_size=5001", 5000, 1},
		{"?page_size=1000000&page=2", 5000, 2},
	}
	for _, tt := range tests {
		p, err := ParsePage(httptest.NewRequest("GET", "/api/v2/things/"+tt.query, nil))
		if err != nil || p.Size != tt.size || p.Page != tt.page {
			t.Errorf("%q: page %d size %d (%v), want page %d size %d", tt.query, p.Page, p.Size, err, tt.page, tt.size)
		}
		if want := (tt.page - 1) * tt.size; p.Offset() != want {
			t.Errorf("%q: offset %d, want %d", tt.query, p.Offset(), want)
		}
	}
	// Through a list: a page of the default size links to the next.
	items := make([]int, 12)
	rec := httptest.NewRecorder()
	if err := Paginate(rec, httptest.NewRequest("GET", "/api/v2/things/", nil), BaseURL{}, items); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(rec.Body.String(), `"results":[0,0,0,0,0,0,0,0,0,0]`) || !strings.Contains(rec.Body.String(), `"next":"http://example.com/api/v2/things/?page=2"`) {
		t.Fatalf("default page: %s", rec.Body)
	}
}
