package files_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/openrescale/platform/functions/api"
)

// The limits below are written as the documents state them
// (docs/api-decisions.md), not taken from the constants, so changing a
// constant fails here.

// Uploads at, below and above the size limit, at the value AWS deploys
// (4 MiB); over it is 413 and leaves nothing.
func TestUploadSizeLimitBoundary(t *testing.T) {
	const limit = 4194304 // 4 MiB, MAX_UPLOAD_BYTES in AWS
	tests := []struct {
		name   string
		size   int
		status int
	}{
		{"one byte below", limit - 1, http.StatusCreated},
		{"exactly the limit", limit, http.StatusCreated},
		{"one byte over", limit + 1, http.StatusRequestEntityTooLarge},
	}
	each(t, func(t *testing.T, e *env) {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				body := multipartBody(filePart("edge.bin", strings.Repeat("z", tt.size)))
				r := e.do(t, "POST", "/api/v2/files/contents/", aliceToken, strings.NewReader(body), "Content-Type", formType)
				if r.Code != tt.status {
					t.Fatalf("%d-byte file: %d, want %d: %.300s", tt.size, r.Code, tt.status, r.Body)
				}
				if tt.status != http.StatusCreated {
					if d := fmt.Sprint(r.JSON(t)["detail"]); !strings.Contains(d, "4194304") {
						t.Fatalf("detail %q does not state the limit", d)
					}
					e.assertEmpty(t)
					return
				}
				f := r.JSON(t)
				if f["decryptedSize"] != float64(tt.size) {
					t.Fatalf("stored %v bytes, want %d", f["decryptedSize"], tt.size)
				}
				if d := e.do(t, "DELETE", "/api/v2/files/"+f["id"].(string)+"/", aliceToken, nil); d.Code != http.StatusNoContent {
					t.Fatalf("clean up: %d", d.Code)
				}
			})
		}
	}, func(d *api.Deps) { d.Files.MaxFileBytes = limit })
}

// endless is a body that never ends, counting what is read of it.
type endless struct{ read atomic.Int64 }

func (b *endless) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = 'z'
	}
	b.read.Add(int64(len(p)))
	return len(p), nil
}

// A Content-Length that already says the file is too large is refused
// before a byte of the body is read.
func TestUploadRefusedBeforeTheBodyIsRead(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		body := &endless{}
		req := httptest.NewRequest("POST", "/api/v2/files/contents/", body)
		req.ContentLength = 64 << 20
		req.Header.Set("Authorization", aliceToken)
		req.Header.Set("Content-Type", formType)
		rec := httptest.NewRecorder()
		e.handler.ServeHTTP(rec, req)
		if rec.Code != http.StatusRequestEntityTooLarge {
			t.Fatalf("status %d, want 413: %s", rec.Code, rec.Body)
		}
		if n := body.read.Load(); n != 0 {
			t.Fatalf("read %d bytes of a body already known to be too large", n)
		}
		e.assertEmpty(t)
	}, func(d *api.Deps) { d.Files.MaxFileBytes = 4194304 })
}

// An unsatisfiable range is 416 with the size in Content-Range (RFC 7233
// 4.4), so a client can tell how large the file is.
func TestUnsatisfiableRangeStatesTheSize(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		f := e.upload(t, aliceToken, "thousand.dat", strings.Repeat("a", 1000))
		url := "/api/v2/files/" + f["id"].(string) + "/contents/"
		for _, rng := range []string{"bytes=1000-", "bytes=5000-6000", "bytes=1000-1000,2000-"} {
			r := e.do(t, "GET", url, aliceToken, nil, "Range", rng)
			if r.Code != http.StatusRequestedRangeNotSatisfiable || r.Header().Get("Content-Range") != "bytes */1000" ||
				r.Header().Get("Content-Type") != "application/json" || r.JSON(t)["detail"] == "" {
				t.Errorf("Range %s: %d Content-Range %q %s", rng, r.Code, r.Header().Get("Content-Range"), r.Body)
			}
		}
		if r := e.do(t, "GET", url, aliceToken, nil, "Range", "bytes=999-"); r.Code != http.StatusPartialContent || r.Header().Get("Content-Range") != "bytes 999-999/1000" {
			t.Errorf("last byte: %d %q", r.Code, r.Header().Get("Content-Range"))
		}
	})
}

// /lines/ pages: 1000 lines by default, page_size clamped to 10000.
func TestLinesPageSizes(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		id := e.upload(t, aliceToken, "many.txt", strings.Repeat("x\n", 10001))["id"].(string)
		tests := []struct {
			query string
			lines int
			next  string
		}{
			{"", 1000, "page=2"},
			{"?page_size=9999", 9999, "page=2&page_size=9999"},
			{"?page_size=10000", 10000, "page=2&page_size=10000"},
			{"?page_size=10001", 10000, "page=2&page_size=10001"},
			{"?page_size=1000000", 10000, "page=2&page_size=1000000"},
			{"?page=2&page_size=10000", 1, ""},
		}
		for _, tt := range tests {
			page := e.do(t, "GET", "/api/v2/files/"+id+"/lines/"+tt.query, aliceToken, nil).JSON(t)
			lines, _ := page["lines"].([]any)
			next, _ := page["next"].(string)
			if len(lines) != tt.lines || !strings.HasSuffix(next, tt.next) || (tt.next == "") != (next == "") {
				t.Errorf("%q: %d lines, next %q; want %d, next ending %q", tt.query, len(lines), next, tt.lines, tt.next)
			}
		}
	})
}

// viewInBrowser: the spec's sample shows false for an input zip; text of
// at most 10 MiB is viewable.
func TestViewInBrowser(t *testing.T) {
	const tenMiB = 10485760
	tests := []struct {
		name, file, content string
		headers             []string
		want                bool
	}{
		{"input zip", "input.zip", "PK\x03\x04zipbytes", nil, false},
		{"zip sent as octet-stream", "airfoil2d.zip", "PK\x03\x04zipbytes", []string{"Content-Type", "application/octet-stream"}, false},
		{"restart file", "case.rst", "binary", nil, false},
		{"binary by type", "data", "x", []string{"Content-Type", "image/png"}, false},
		{"log", "process_output.log", "line\n", nil, true},
		{"LS-DYNA deck", "neon.refined.rev01.k", "*KEYWORD\n", nil, true},
		{"text by type", "README", "hello\n", []string{"Content-Type", "text/plain"}, true},
		{"JSON by type", "out", "{}", []string{"Content-Type", "application/json"}, true},
		{"text of exactly 10 MiB", "big.txt", strings.Repeat("t", tenMiB), nil, true},
		{"text over 10 MiB", "bigger.txt", strings.Repeat("t", tenMiB+1), nil, false},
	}
	each(t, func(t *testing.T, e *env) {
		for _, tt := range tests {
			body := multipartBody(filePart(tt.file, tt.content, tt.headers...))
			r := e.do(t, "POST", "/api/v2/files/contents/", aliceToken, strings.NewReader(body), "Content-Type", formType)
			if r.Code != http.StatusCreated {
				t.Fatalf("%s: upload %d %s", tt.name, r.Code, r.Body)
			}
			f := r.JSON(t)
			if f["viewInBrowser"] != tt.want {
				t.Errorf("%s: upload answered viewInBrowser %v, want %v", tt.name, f["viewInBrowser"], tt.want)
			}
			if got := e.do(t, "GET", "/api/v2/files/"+f["id"].(string)+"/", aliceToken, nil).JSON(t)["viewInBrowser"]; got != tt.want {
				t.Errorf("%s: GET viewInBrowser %v, want %v", tt.name, got, tt.want)
			}
		}
	})
}
