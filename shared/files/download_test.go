package files

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/openrescale/platform/shared/blob/s3blob"
	"github.com/openrescale/platform/shared/blob/s3blob/s3local"
	"github.com/openrescale/platform/shared/store/enginetest"
)

func TestDownloadURL(t *testing.T) {
	// Local mode's adapters: files on disk have no presigned URLs.
	st, b := enginetest.Backends()[0].Open(t)
	local := newService(t, st, b)
	f, err := local.Upload(t.Context(), UploadRequest{Owner: alice, Name: "out.log", Body: strings.NewReader("x")})
	if err != nil {
		t.Fatal(err)
	}
	if u, err := local.DownloadURL(t.Context(), f, time.Minute); u != "" || err != nil {
		t.Fatalf("local bucket presigned %q, %v", u, err)
	}
	s3 := &Service{Repo: local.Repo, Bucket: s3blob.New(s3local.Start(t, "dl-bucket"), "dl-bucket"), Now: time.Now}
	if u, _ := s3.DownloadURL(t.Context(), f, 0); u != "" {
		t.Fatalf("redirects off, got %q", u)
	}
	u, err := s3.DownloadURL(t.Context(), f, 5*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	pu, err := url.Parse(u)
	if err != nil || !strings.HasSuffix(pu.Path, f.Key) || pu.Query().Get("X-Amz-Expires") != "300" ||
		!strings.Contains(pu.Query().Get("response-content-disposition"), `filename=out.log`) {
		t.Fatalf("url %s", u)
	}
}
