package files

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openrescale/platform/shared/blob"
	"github.com/openrescale/platform/shared/errs"
	"github.com/openrescale/platform/shared/store"
	"github.com/openrescale/platform/shared/store/dynamostore/dynamolocal"
	"github.com/openrescale/platform/shared/store/enginetest"
)

func TestMain(m *testing.M) { dynamolocal.Main(m) }

// eachBackend runs fn on both deployments' adapters (bbolt and files on
// disk; DynamoDB Local and an S3 server).
func eachBackend(t *testing.T, fn func(t *testing.T, st store.Store, b blob.Bucket)) {
	for _, be := range enginetest.Backends() {
		t.Run(be.Name, func(t *testing.T) {
			st, b := be.Open(t)
			fn(t, st, b)
		})
	}
}

func newService(t *testing.T, st store.Store, b blob.Bucket) *Service {
	t.Helper()
	return &Service{Repo: NewRepo(st), Bucket: b, Now: time.Now}
}

var alice = Owner{UserID: "alice1", Email: "alice@example.com"}
var bob = Owner{UserID: "bob001", Email: "bob@example.com"}

func TestUploadReadDelete(t *testing.T) {
	eachBackend(t, func(t *testing.T, st store.Store, b blob.Bucket) {
		ctx := context.Background()
		s := newService(t, st, b)
		data := []byte("hello airfoil\n")
		f, err := s.Upload(ctx, UploadRequest{Owner: alice, Name: "airfoil2d.zip", Body: bytes.NewReader(data)})
		if err != nil {
			t.Fatal(err)
		}
		sum := md5.Sum(data)
		if f.MD5 != hex.EncodeToString(sum[:]) || f.Size != int64(len(data)) || !f.IsUploaded || len(f.SHA512) != 128 {
			t.Fatalf("record %+v", f)
		}
		if !strings.HasPrefix(f.Key, "user/user_alice1/airfoil2d.zip-") {
			t.Fatalf("key %q", f.Key)
		}
		if _, err := s.Repo.Get(ctx, bob.UserID, f.ID); !errs.Is(err, errs.NotFound) {
			t.Fatalf("bob reads alice's file: %v", err)
		}
		rc, err := s.Open(ctx, f, 6, 7)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(rc)
		rc.Close()
		if string(got) != "airfoil" {
			t.Fatalf("range read %q", got)
		}
		if u, _ := s.Repo.Usage(ctx, alice.UserID); u != int64(len(data)) {
			t.Fatalf("usage %d", u)
		}
		byKey, err := s.Repo.ByKey(ctx, f.Key)
		if err != nil || byKey.ID != f.ID {
			t.Fatalf("ByKey: %v %v", byKey, err)
		}
		if err := s.Delete(ctx, f); err != nil {
			t.Fatal(err)
		}
		if u, _ := s.Repo.Usage(ctx, alice.UserID); u != 0 {
			t.Fatalf("usage after delete %d", u)
		}
		if _, err := s.Bucket.Stat(ctx, f.Key); !errs.Is(err, errs.NotFound) {
			t.Fatalf("blob left after delete: %v", err)
		}
	})
}

type failingReader struct{ n int }

func (r *failingReader) Read(p []byte) (int, error) {
	if r.n <= 0 {
		return 0, errors.New("connection reset")
	}
	n := min(len(p), r.n)
	r.n -= n
	return n, nil
}

func TestUploadRejectsAndLeavesNothing(t *testing.T) {
	eachBackend(t, func(t *testing.T, st store.Store, b blob.Bucket) {
		tests := []struct {
			name string
			req  UploadRequest
			code string
		}{
			{"empty body", UploadRequest{Name: "a.txt", Body: strings.NewReader("")}, errs.Invalid},
			{"dot dot", UploadRequest{Name: "../x", Body: strings.NewReader("x")}, errs.Invalid},
			{"slash", UploadRequest{Name: "a/b", Body: strings.NewReader("x")}, errs.Invalid},
			{"nul", UploadRequest{Name: "a\x00b", Body: strings.NewReader("x")}, errs.Invalid},
			{"bad type", UploadRequest{Name: "a", TypeID: 6, Body: strings.NewReader("x")}, errs.Invalid},
			{"truncated body", UploadRequest{Name: "a", Body: &failingReader{n: 100}}, errs.Internal},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				ctx := context.Background()
				s := newService(t, st, b)
				tt.req.Owner = alice
				_, err := s.Upload(ctx, tt.req)
				if errs.Code(err) != tt.code {
					t.Fatalf("err %v, want %s", err, tt.code)
				}
				n := 0
				_ = s.Bucket.List(ctx, "", func(a blob.Attrs) error { n++; return nil })
				files, total, _ := s.Repo.List(ctx, alice.UserID, ListOptions{})
				if n != 0 || total != 0 || len(files) != 0 {
					t.Fatalf("left behind: %d blobs, %d records", n, total)
				}
			})
		}
	})
}

func TestListSearchAndConcurrentUsage(t *testing.T) {
	eachBackend(t, func(t *testing.T, st store.Store, b blob.Bucket) {
		ctx := context.Background()
		s := newService(t, st, b)
		var wg sync.WaitGroup
		for i := 0; i < 12; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				name := "input.txt"
				if i%3 == 0 {
					name = "residuals.csv"
				}
				if _, err := s.Upload(ctx, UploadRequest{Owner: alice, Name: name, Body: strings.NewReader("0123456789")}); err != nil {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		if u, _ := s.Repo.Usage(ctx, alice.UserID); u != 120 {
			t.Fatalf("usage %d after 12 concurrent 10-byte uploads", u)
		}
		all, total, err := s.Repo.List(ctx, alice.UserID, ListOptions{Offset: 10, Limit: 5})
		if err != nil || total != 12 || len(all) != 2 {
			t.Fatalf("page: %d of %d, %v", len(all), total, err)
		}
		found, total, err := s.Repo.List(ctx, alice.UserID, ListOptions{Search: "RESID", Limit: 3})
		if err != nil || total != 4 || len(found) != 3 {
			t.Fatalf("search: %d of %d, %v", len(found), total, err)
		}
		if _, total, _ := s.Repo.List(ctx, bob.UserID, ListOptions{}); total != 0 {
			t.Fatalf("bob sees %d files", total)
		}
	})
}

func TestNewTag(t *testing.T) {
	tests := map[string]string{"new - tag _ 1": "newtag1", "Example Tag": "exampletag"}
	for in, want := range tests {
		tag, err := NewTag(in)
		if err != nil || tag.NormalizedName != want || tag.Name != in {
			t.Errorf("NewTag(%q) = %+v, %v", in, tag, err)
		}
	}
	for _, bad := range []string{"", "  ", "-_-", "a\x00b", "x\u202ey", "esc\x1b"} {
		if _, err := NewTag(bad); !errs.Is(err, errs.Invalid) {
			t.Errorf("NewTag(%q) accepted", bad)
		}
	}
}

func TestValidName(t *testing.T) {
	for _, ok := range []string{"input.zip", "Ölpumpe – Lauf 3.dat", "模拟.k"} {
		if err := ValidName(ok); err != nil {
			t.Errorf("ValidName(%q): %v", ok, err)
		}
	}
	for _, bad := range []string{"", "..", "a/b", "a\\b", "a\x00b", "a\nb", "gnp\u202eexe.zip", "x\u2066y", "\xff", strings.Repeat("x", 256)} {
		if err := ValidName(bad); !errs.Is(err, errs.Invalid) {
			t.Errorf("ValidName(%q) accepted", bad)
		}
	}
}
