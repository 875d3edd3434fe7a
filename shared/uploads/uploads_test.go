package uploads_test

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"github.com/openrescale/platform/shared/store/enginetest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/openrescale/platform/events/s3objects"
	"github.com/openrescale/platform/shared/blob"
	"github.com/openrescale/platform/shared/errs"
	"github.com/openrescale/platform/shared/files"
	"github.com/openrescale/platform/shared/store"
	"github.com/openrescale/platform/shared/store/dynamostore/dynamolocal"
	"github.com/openrescale/platform/shared/uploads"
)

func TestMain(m *testing.M) { dynamolocal.Main(m) }

var (
	alice = files.Owner{UserID: "alice1", Email: "alice@example.com"}
	bob   = files.Owner{UserID: "bob001", Email: "bob@example.com"}
)

type bucket interface {
	blob.Bucket
	blob.Multipart
}

// engines runs fn on bolt+fileblob and on DynamoDB Local+S3 protocol.
func engines(t *testing.T, fn func(t *testing.T, svc *uploads.Service, objects *s3objects.Handler)) {
	wire := func(t *testing.T, st store.Store, b bucket) {
		fsvc := &files.Service{Repo: files.NewRepo(st), Bucket: b, Now: time.Now}
		objects := &s3objects.Handler{Repo: fsvc.Repo, Bucket: b}
		svc := &uploads.Service{
			Store: st, Files: fsvc, Multipart: b, URLs: uploads.LocalURLs{Secret: []byte("k"), Now: time.Now}, Now: time.Now,
			Finish: func(ctx context.Context, key string) (files.File, error) {
				return objects.Created(ctx, s3objects.Event{Kind: s3objects.Created, Key: key})
			},
			SyncFinishBytes: 1 << 30,
		}
		objects.Sessions = svc
		fn(t, svc, objects)
	}
	for _, be := range enginetest.Backends() {
		t.Run(be.Name, func(t *testing.T) {
			st, b := be.Open(t)
			wire(t, st, b.(bucket))
		})
	}
}

func TestSessionsAreTheOwners(t *testing.T) {
	engines(t, func(t *testing.T, svc *uploads.Service, _ *s3objects.Handler) {
		ctx := t.Context()
		s, err := svc.Start(ctx, uploads.StartRequest{Owner: alice, Name: "a.bin", Size: 100})
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(s.Key, "user/user_alice1/") || s.PartSize != uploads.DefaultPartSize {
			t.Fatalf("session %+v", s)
		}
		if _, err := svc.Get(ctx, bob.UserID, s.ID); !errs.Is(err, errs.NotFound) {
			t.Fatalf("bob reads alice's session: %v", err)
		}
		if _, err := svc.PartURLs(ctx, bob.UserID, "keyB01", s.ID, []int{1}); !errs.Is(err, errs.NotFound) {
			t.Fatalf("bob presigns alice's parts: %v", err)
		}
		if _, err := svc.Complete(ctx, bob.UserID, s.ID, nil); !errs.Is(err, errs.NotFound) {
			t.Fatalf("bob completes alice's upload: %v", err)
		}
		if err := svc.Abort(ctx, bob.UserID, s.ID); !errs.Is(err, errs.NotFound) {
			t.Fatalf("bob aborts alice's upload: %v", err)
		}
		// A signed part URL names its user: bob cannot reuse alice's.
		l := uploads.LocalURLs{Secret: []byte("k"), Now: time.Now}
		u, _ := l.PartURL(ctx, s, "keyA01", 1, time.Minute)
		q, _ := url.ParseQuery(u[strings.Index(u, "?")+1:])
		sig, exp := q.Get("sig"), q.Get("expires")
		if q.Get("u") != alice.UserID || q.Get("k") != "keyA01" {
			t.Fatalf("part URL %s", u)
		}
		keys := &fakeKeys{}
		if _, err := svc.UploadSignedPart(ctx, l, keys, bob.UserID, "keyA01", s.ID, 1, exp, sig, strings.NewReader("x")); !errs.Is(err, errs.Forbidden) {
			t.Fatalf("signature for alice accepted for bob: %v", err)
		}
		if _, err := svc.UploadSignedPart(ctx, l, keys, alice.UserID, "keyB01", s.ID, 1, exp, sig, strings.NewReader("x")); !errs.Is(err, errs.Forbidden) {
			t.Fatalf("signature for alice's key accepted for another key: %v", err)
		}
		if _, err := svc.UploadSignedPart(ctx, l, keys, alice.UserID, "keyA01", s.ID, 2, exp, sig, strings.NewReader("x")); !errs.Is(err, errs.Forbidden) {
			t.Fatalf("signature for part 1 accepted for part 2: %v", err)
		}
		if _, err := svc.UploadSignedPart(ctx, l, keys, alice.UserID, "keyA01", s.ID, 1, exp, sig, strings.NewReader("x")); err != nil || keys.checked != alice.UserID+"/keyA01" {
			t.Fatalf("genuine part URL: %v (checked %q)", err, keys.checked)
		}
		keys.err = errs.E(errs.Forbidden, "revoked")
		if _, err := svc.UploadSignedPart(ctx, l, keys, alice.UserID, "keyA01", s.ID, 1, exp, sig, strings.NewReader("x")); !errs.Is(err, errs.Forbidden) {
			t.Fatalf("part URL of a revoked key: %v", err)
		}
		for _, bad := range []uploads.StartRequest{{Owner: alice, Name: "../x"}, {Owner: alice, Name: "x", Size: -1}, {Owner: alice, Name: "x", TypeID: 6}} {
			if _, err := svc.Start(ctx, bad); !errs.Is(err, errs.Invalid) {
				t.Errorf("start %+v: %v", bad, err)
			}
		}
		big, err := svc.Start(ctx, uploads.StartRequest{Owner: alice, Name: "huge", Size: 200 << 30})
		if err != nil || big.PartSize*blob.MaxParts < 200<<30 || big.PartSize%(1<<20) != 0 {
			t.Fatalf("200 GiB session: part size %d, %v", big.PartSize, err)
		}
	})
}

// In AWS the ObjectCreated event can beat the complete call's own record
// write; both orders end with one uploaded record under the reserved id.
func TestEventBeforeComplete(t *testing.T) {
	engines(t, func(t *testing.T, svc *uploads.Service, objects *s3objects.Handler) {
		ctx := t.Context()
		s, err := svc.Start(ctx, uploads.StartRequest{Owner: alice, Name: "mesh.cas"})
		if err != nil {
			t.Fatal(err)
		}
		data := bytes.Repeat([]byte("mesh"), 1000)
		p, err := svc.Multipart.UploadPart(ctx, s.Key, s.UploadID, 1, bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		// The client completes against storage (as with an SDK), the event
		// arrives, then the client tells the API.
		if _, err := svc.Multipart.CompleteMultipart(ctx, s.Key, s.UploadID, []blob.Part{p}); err != nil {
			t.Fatal(err)
		}
		if err := objects.Handle(ctx, s3objects.Event{Kind: s3objects.Created, Key: s.Key}); err != nil {
			t.Fatal(err)
		}
		f, err := svc.Files.Repo.Get(ctx, alice.UserID, s.FileID)
		sum := md5.Sum(data)
		if err != nil || !f.IsUploaded || f.MD5 != hex.EncodeToString(sum[:]) || f.Name != "mesh.cas" {
			t.Fatalf("record after the event: %+v %v", f, err)
		}
		got, err := svc.Complete(ctx, alice.UserID, s.ID, []blob.Part{p})
		if err != nil || got.ID != s.FileID || got.Version != f.Version {
			t.Fatalf("complete after the event: %+v %v", got, err)
		}
		if u, _ := svc.Files.Repo.Usage(ctx, alice.UserID); u != int64(len(data)) {
			t.Fatalf("usage %d", u)
		}
		if err := svc.Abort(ctx, alice.UserID, s.ID); !errs.Is(err, errs.Conflict) {
			t.Fatalf("abort of a completed upload: %v", err)
		}
	})
}

func TestAbortAndExpiry(t *testing.T) {
	engines(t, func(t *testing.T, svc *uploads.Service, _ *s3objects.Handler) {
		ctx := t.Context()
		s, err := svc.Start(ctx, uploads.StartRequest{Owner: alice, Name: "gone.bin"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := svc.Multipart.UploadPart(ctx, s.Key, s.UploadID, 1, bytes.NewReader([]byte("x"))); err != nil {
			t.Fatal(err)
		}
		if err := svc.Abort(ctx, alice.UserID, s.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := svc.Get(ctx, alice.UserID, s.ID); !errs.Is(err, errs.NotFound) {
			t.Fatalf("session after abort: %v", err)
		}
		if _, err := svc.Multipart.ListParts(ctx, s.Key, s.UploadID); !errs.Is(err, errs.NotFound) {
			t.Fatalf("parts after abort: %v", err)
		}
		if _, ok, err := svc.ClaimKey(ctx, s.Key); ok || err != nil {
			t.Fatalf("aborted session claimed: %v %v", ok, err)
		}
		// Sessions expire with the store's TTL, which the stores read on
		// the real clock: a session started an hour ago with a minute to
		// live is gone, one started now is not. (No sleeping: TTLs are
		// whole seconds, rounded up.)
		svc.SessionTTL = time.Minute
		svc.Now = func() time.Time { return time.Now().Add(-time.Hour) }
		old, err := svc.Start(ctx, uploads.StartRequest{Owner: alice, Name: "slow.bin"})
		if err != nil {
			t.Fatal(err)
		}
		svc.Now = time.Now
		fresh, err := svc.Start(ctx, uploads.StartRequest{Owner: alice, Name: "fresh.bin"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := svc.Get(ctx, alice.UserID, old.ID); !errs.Is(err, errs.NotFound) {
			t.Fatalf("expired session: %v", err)
		}
		if _, ok, err := svc.ClaimKey(ctx, old.Key); ok || err != nil {
			t.Fatalf("expired session claimed its key: %v %v", ok, err)
		}
		if _, err := svc.Get(ctx, alice.UserID, fresh.ID); err != nil {
			t.Fatalf("live session: %v", err)
		}
	})
}

type fakeKeys struct {
	checked string
	err     error
}

func (f *fakeKeys) CheckKey(_ context.Context, uid, keyID string) error {
	f.checked = uid + "/" + keyID
	return f.err
}
