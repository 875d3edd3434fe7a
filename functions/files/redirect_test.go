package files_test

import (
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/openrescale/platform/functions/api"
	ffiles "github.com/openrescale/platform/functions/files"
	"github.com/openrescale/platform/shared/blob/s3blob"
	"github.com/openrescale/platform/shared/blob/s3blob/s3local"
	"github.com/openrescale/platform/shared/files"
	"github.com/openrescale/platform/shared/store/boltstore"
)

// In AWS, downloads bigger than Lambda can return answer 302 to a presigned
// S3 URL; smaller ones and HEADs are still served directly, because the
// spec's curl download does not follow redirects.
func TestLargeDownloadsRedirectToStorage(t *testing.T) {
	st, err := boltstore.Open(filepath.Join(t.TempDir(), "s.db"), boltstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	const bucket = "redirect-test"
	svc := &files.Service{Repo: files.NewRepo(st), Bucket: s3blob.New(s3local.Start(t, bucket), bucket), Now: time.Now}
	deps := &api.Deps{Files: svc, FileRedirect: ffiles.Redirect{Above: 10, TTL: time.Minute}}
	e := &env{svc: svc, deps: deps, handler: handlerFor(t, deps)}

	small := e.upload(t, aliceToken, "small.txt", "tiny")
	big := e.upload(t, aliceToken, "big.txt", "more than ten bytes of content")
	tests := []struct {
		name, method, id string
		status           int
	}{
		{"small file streams", "GET", small["id"].(string), http.StatusOK},
		{"large file redirects", "GET", big["id"].(string), http.StatusFound},
		{"HEAD never redirects", "HEAD", big["id"].(string), http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.do(t, tt.method, "/api/v2/files/"+tt.id+"/contents/", aliceToken, nil)
			if r.Code != tt.status {
				t.Fatalf("status %d, want %d: %s", r.Code, tt.status, r.Body)
			}
			if tt.status != http.StatusFound {
				return
			}
			loc := r.Header().Get("Location")
			if !strings.Contains(loc, bucket) || !strings.Contains(loc, "X-Amz-Signature=") {
				t.Fatalf("Location %q is not a presigned URL of the bucket", loc)
			}
			resp, err := http.Get(loc) // no Authorization: the signature is the grant
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != 200 || string(body) != "more than ten bytes of content" {
				t.Fatalf("following the redirect: %d %q", resp.StatusCode, body)
			}
		})
	}
}
