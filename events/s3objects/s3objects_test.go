package s3objects_test

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha512"
	"encoding/hex"
	"encoding/json"
	"github.com/openrescale/platform/shared/store/enginetest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	awsevents "github.com/aws/aws-lambda-go/events"

	"github.com/openrescale/platform/events/s3objects"
	"github.com/openrescale/platform/shared/blob"
	"github.com/openrescale/platform/shared/blob/fileblob"
	"github.com/openrescale/platform/shared/errs"
	"github.com/openrescale/platform/shared/files"
	"github.com/openrescale/platform/shared/store"
	"github.com/openrescale/platform/shared/store/boltstore"
	"github.com/openrescale/platform/shared/store/dynamostore/dynamolocal"
)

func TestMain(m *testing.M) { dynamolocal.Main(m) }

// Keys in the fixtures, decoded.
const (
	putKey       = "user/user_alice1/wing section+flap.inp-6b1f0d6c3a2e4f0e9d8c7b6a5f4e3d2c"
	multipartKey = "user/user_alice1/mesh.cas-0a1b2c3d4e5f60718293a4b5c6d7e8f9"
)

type env struct {
	repo   *files.Repo
	bucket blob.Bucket
	st     store.Store
}

// engines runs fn against the local adapters and the AWS ones (DynamoDB
// Local and an S3-protocol server).
func engines(t *testing.T, fn func(t *testing.T, e env)) {
	for _, be := range enginetest.Backends() {
		t.Run(be.Name, func(t *testing.T) {
			st, b := be.Open(t)
			fn(t, env{repo: files.NewRepo(st), bucket: b, st: st})
		})
	}
}

func fixture(t *testing.T, name string) awsevents.S3Event {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "fixtures", "s3", name))
	if err != nil {
		t.Fatal(err)
	}
	var e awsevents.S3Event
	if err := json.Unmarshal(data, &e); err != nil {
		t.Fatalf("decode %s: %v", name, err)
	}
	return e
}

// pending creates a not-yet-uploaded record for key, as an upload session
// does before the bytes arrive.
func pending(t *testing.T, e env, key string) files.File {
	t.Helper()
	f, err := e.repo.Create(t.Context(), files.File{
		ID: map[string]string{putKey: "fput01", multipartKey: "fmul01"}[key], OwnerID: "alice1", OwnerEmail: "alice@example.com",
		Name: "input", TypeID: files.TypeInput, DateUploaded: time.Now().UTC(), Key: key,
		Tags: []files.Tag{}, SharedWith: []string{},
	})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func put(t *testing.T, b blob.Bucket, key string, data []byte) {
	t.Helper()
	if _, err := b.Put(t.Context(), key, bytes.NewReader(data), "text/plain"); err != nil {
		t.Fatal(err)
	}
}

func sums(data []byte) (string, string) {
	m, s := md5.Sum(data), sha512.Sum512(data)
	return hex.EncodeToString(m[:]), hex.EncodeToString(s[:])
}

func TestFromS3DecodesKeys(t *testing.T) {
	evs, err := s3objects.FromS3(fixture(t, "object-created-put.json"))
	if err != nil || len(evs) != 1 {
		t.Fatalf("events %v, %v", evs, err)
	}
	ev := evs[0]
	if ev.Kind != s3objects.Created || ev.Key != putKey || ev.Size != 27 || ev.Sequencer != "0067D3F5ED8C4A2E11" || ev.Time.IsZero() {
		t.Fatalf("event %+v", ev)
	}
	evs, _ = s3objects.FromS3(fixture(t, "object-removed-delete.json"))
	if len(evs) != 1 || evs[0].Kind != s3objects.Removed || evs[0].Key != putKey {
		t.Fatalf("removed %+v", evs)
	}
	// The bucket's "s3:TestEvent" on notification setup has no records.
	if evs, err := s3objects.FromS3(fixture(t, "test-event.json")); err != nil || len(evs) != 0 {
		t.Fatalf("test event: %v %v", evs, err)
	}
	if _, err := s3objects.FromS3(awsevents.S3Event{Records: []awsevents.S3EventRecord{{EventName: "ObjectCreated:Put", S3: awsevents.S3Entity{Object: awsevents.S3Object{Key: "bad%zz"}}}}}); !errs.Is(err, errs.Invalid) {
		t.Fatalf("undecodable key: %v", err)
	}
}

func TestCreatedCompletesRecordOnce(t *testing.T) {
	engines(t, func(t *testing.T, e env) {
		ctx := t.Context()
		h := &s3objects.Handler{Repo: e.repo, Bucket: e.bucket}
		f := pending(t, e, putKey)
		data := []byte("*NODE\n1, 0.0, 0.0, 0.0\n*END")
		put(t, e.bucket, putKey, data)

		ev := fixture(t, "object-created-put.json")
		if err := h.HandleS3(ctx, ev); err != nil {
			t.Fatal(err)
		}
		got, err := e.repo.Get(ctx, "alice1", f.ID)
		if err != nil {
			t.Fatal(err)
		}
		wantMD5, wantSHA := sums(data)
		if !got.IsUploaded || got.Size != int64(len(data)) || got.MD5 != wantMD5 || got.SHA512 != wantSHA || got.ContentType != "text/plain" {
			t.Fatalf("record %+v", got)
		}
		// Replays (S3 delivers at least once) change nothing.
		for range 2 {
			if err := h.HandleS3(ctx, ev); err != nil {
				t.Fatal(err)
			}
		}
		again, _ := e.repo.Get(ctx, "alice1", f.ID)
		if again.Version != got.Version {
			t.Fatalf("replay rewrote the record: version %d → %d", got.Version, again.Version)
		}
		if u, _ := e.repo.Usage(ctx, "alice1"); u != int64(len(data)) {
			t.Fatalf("usage %d, want %d", u, len(data))
		}
	})
}

func TestConcurrentDuplicatesCountUsageOnce(t *testing.T) {
	engines(t, func(t *testing.T, e env) {
		ctx := t.Context()
		h := &s3objects.Handler{Repo: e.repo, Bucket: e.bucket}
		f := pending(t, e, multipartKey)
		data := bytes.Repeat([]byte("0123456789abcdef"), 4096)
		put(t, e.bucket, multipartKey, data)
		ev := fixture(t, "object-created-multipart.json")
		var wg sync.WaitGroup
		for range 4 {
			wg.Go(func() {
				if err := h.HandleS3(ctx, ev); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		got, _ := e.repo.Get(ctx, "alice1", f.ID)
		if !got.IsUploaded || got.Size != int64(len(data)) {
			t.Fatalf("record %+v", got)
		}
		if u, _ := e.repo.Usage(ctx, "alice1"); u != int64(len(data)) {
			t.Fatalf("usage %d after duplicate events, want %d", u, len(data))
		}
	})
}

func TestUnknownAndVanishedObjects(t *testing.T) {
	engines(t, func(t *testing.T, e env) {
		ctx := t.Context()
		h := &s3objects.Handler{Repo: e.repo, Bucket: e.bucket}
		// No record and no session: not a platform upload.
		put(t, e.bucket, putKey, []byte("written with storage credentials"))
		if err := h.HandleS3(ctx, fixture(t, "object-created-put.json")); err != nil {
			t.Fatal(err)
		}
		if _, err := e.repo.ByKey(ctx, putKey); !errs.Is(err, errs.NotFound) {
			t.Fatalf("a record appeared: %v", err)
		}
		// A Created whose object was removed before delivery (out of order).
		f := pending(t, e, multipartKey)
		if err := h.HandleS3(ctx, fixture(t, "object-created-multipart.json")); err != nil {
			t.Fatal(err)
		}
		if got, _ := e.repo.Get(ctx, "alice1", f.ID); got.IsUploaded || got.Version != f.Version {
			t.Fatalf("vanished object completed the record: %+v", got)
		}
	})
}

func TestRemoved(t *testing.T) {
	engines(t, func(t *testing.T, e env) {
		ctx := t.Context()
		h := &s3objects.Handler{Repo: e.repo, Bucket: e.bucket}
		f := pending(t, e, putKey)
		put(t, e.bucket, putKey, []byte("v1"))
		if err := h.HandleS3(ctx, fixture(t, "object-created-put.json")); err != nil {
			t.Fatal(err)
		}
		removed := fixture(t, "object-removed-delete.json")
		// Delivered while the object exists (it was re-created after the
		// removal): stale, ignored.
		if err := h.HandleS3(ctx, removed); err != nil {
			t.Fatal(err)
		}
		if got, _ := e.repo.Get(ctx, "alice1", f.ID); got.IsDeleted {
			t.Fatal("stale removal marked the file deleted")
		}
		// Really gone: the record says so, once.
		if err := e.bucket.Delete(ctx, putKey); err != nil {
			t.Fatal(err)
		}
		for range 2 {
			if err := h.HandleS3(ctx, removed); err != nil {
				t.Fatal(err)
			}
		}
		got, _ := e.repo.Get(ctx, "alice1", f.ID)
		if !got.IsDeleted || !got.IsUploaded {
			t.Fatalf("record after removal %+v", got)
		}
		// A record deleted through the platform (record first) leaves
		// nothing for the event to do.
		if err := e.repo.Delete(ctx, got); err != nil {
			t.Fatal(err)
		}
		if err := h.HandleS3(ctx, removed); err != nil {
			t.Fatal(err)
		}
	})
}

// sessions claims one key, creating its record the first time, as the
// upload session store does.
type sessions struct {
	repo  *files.Repo
	key   string
	calls atomic.Int32
}

func (s *sessions) ClaimKey(ctx context.Context, key string) (files.File, bool, error) {
	s.calls.Add(1)
	if key != s.key {
		return files.File{}, false, nil
	}
	f, err := s.repo.Create(ctx, files.File{
		ID: "sess01", OwnerID: "alice1", Name: "mesh.cas", TypeID: files.TypeInput,
		DateUploaded: time.Now().UTC(), Key: key, Tags: []files.Tag{}, SharedWith: []string{},
	})
	return f, err == nil, err
}

func TestPendingSessionIsCompleted(t *testing.T) {
	engines(t, func(t *testing.T, e env) {
		ctx := t.Context()
		s := &sessions{repo: e.repo, key: multipartKey}
		h := &s3objects.Handler{Repo: e.repo, Bucket: e.bucket, Sessions: s}
		data := []byte("assembled from parts")
		put(t, e.bucket, multipartKey, data)
		if err := h.HandleS3(ctx, fixture(t, "object-created-multipart.json")); err != nil {
			t.Fatal(err)
		}
		got, err := e.repo.Get(ctx, "alice1", "sess01")
		wantMD5, _ := sums(data)
		if err != nil || !got.IsUploaded || got.MD5 != wantMD5 {
			t.Fatalf("session record %+v, %v", got, err)
		}
		// Keys outside user/ never reach the session store.
		put(t, e.bucket, "jobs/x/out.log", []byte("x"))
		before := s.calls.Load()
		if err := h.Handle(ctx, s3objects.Event{Kind: s3objects.Created, Key: "jobs/x/out.log"}); err != nil {
			t.Fatal(err)
		}
		if s.calls.Load() != before {
			t.Fatal("session store asked about a non-user key")
		}
	})
}

// The local wiring: fileblob events through the queue reach the handler,
// and Close waits for all of them.
func TestQueueDrainsOnClose(t *testing.T) {
	dir := t.TempDir()
	st, err := boltstore.Open(filepath.Join(dir, "s.db"), boltstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	repo := files.NewRepo(st)
	var q *s3objects.Queue
	b, err := fileblob.New(filepath.Join(dir, "blobs"), fileblob.WithEvents(func(ctx context.Context, e blob.Event) { q.Push(ctx, e) }))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	h := &s3objects.Handler{Repo: repo, Bucket: b}
	var handled atomic.Int32
	q = s3objects.NewQueue(func(ctx context.Context, ev s3objects.Event) error {
		time.Sleep(5 * time.Millisecond) // slower than the writer
		handled.Add(1)
		return h.Handle(ctx, ev)
	}, 2, nil)

	var recs []files.File
	for i := range 20 {
		key := files.NewKey("alice1", "part"+strings.Repeat("x", i))
		f, err := repo.Create(t.Context(), files.File{ID: "q" + string(rune('a'+i)) + "0000", OwnerID: "alice1", Key: key, Name: "p", TypeID: 1, DateUploaded: time.Now(), Tags: []files.Tag{}, SharedWith: []string{}})
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, f)
		put(t, b, key, []byte(key))
	}
	q.Close()
	if n := handled.Load(); n != 20 {
		t.Fatalf("%d events handled before Close returned, want 20", n)
	}
	for _, f := range recs {
		got, _ := repo.Get(t.Context(), "alice1", f.ID)
		if !got.IsUploaded || got.Size != int64(len(f.Key)) {
			t.Fatalf("record %+v", got)
		}
	}
	// After Close, events are handled in line rather than dropped.
	key := files.NewKey("alice1", "late")
	late, _ := repo.Create(t.Context(), files.File{ID: "late00", OwnerID: "alice1", Key: key, Name: "late", TypeID: 1, DateUploaded: time.Now(), Tags: []files.Tag{}, SharedWith: []string{}})
	put(t, b, key, []byte("late"))
	if got, _ := repo.Get(t.Context(), "alice1", late.ID); !got.IsUploaded {
		t.Fatal("event after Close was lost")
	}
}

type owners map[string]string

func (o owners) OwnerEmail(_ context.Context, uid string) (string, error) {
	if e, ok := o[uid]; ok {
		return e, nil
	}
	return "", errs.E(errs.NotFound, "no user %s", uid)
}

func (o owners) UploadFolder(_ context.Context, uid, _ string) (string, error) {
	return "lib" + uid, nil
}

// Objects written with storage credentials (POST /api/credentials/) become
// file records; keys in the platform's own naming and unknown users' keys do
// not.
func TestRegistersCredentialUploads(t *testing.T) {
	engines(t, func(t *testing.T, e env) {
		ctx := t.Context()
		h := &s3objects.Handler{Repo: e.repo, Bucket: e.bucket, Owners: owners{"alice1": "alice@example.com"}}
		tests := []struct {
			name, key string
			register  bool
		}{
			{"nested path", "user/user_alice1/SGE/run.sh", true},
			{"top level", "user/user_alice1/notes.txt", true},
			{"platform naming", putKey, false},
			{"unknown user", "user/user_nobody/x.txt", false},
			{"outside user prefixes", "shared/x.txt", false},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				data := []byte("#!/bin/sh\necho " + tt.name + "\n")
				put(t, e.bucket, tt.key, data)
				ev := s3objects.Event{Kind: s3objects.Created, Name: "ObjectCreated:Put", Key: tt.key, Size: int64(len(data))}
				for i := 0; i < 2; i++ { // a duplicate delivery registers nothing more
					if err := h.Handle(ctx, ev); err != nil {
						t.Fatal(err)
					}
				}
				f, err := e.repo.ByKey(ctx, tt.key)
				if !tt.register {
					if !errs.Is(err, errs.NotFound) {
						t.Fatalf("record appeared: %+v %v", f, err)
					}
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				m, s := sums(data)
				rel := strings.TrimPrefix(tt.key, "user/user_alice1/")
				if !f.IsUploaded || f.MD5 != m || f.SHA512 != s || f.Size != int64(len(data)) || f.OwnerEmail != "alice@example.com" ||
					f.RelativePath != rel || f.FolderID != "libalice1" || !strings.HasSuffix(rel, f.Name) {
					t.Fatalf("record %+v", f)
				}
			})
		}
		list, total, err := e.repo.List(ctx, "alice1", files.ListOptions{})
		if err != nil || total != 2 {
			t.Fatalf("alice has %d files (%v): %+v", total, err, list)
		}
	})
}

// An uploaded object overwritten through storage credentials (possible in
// S3) is re-hashed, so the record and usage describe the bytes downloads
// serve.
func TestOverwriteReregisters(t *testing.T) {
	engines(t, func(t *testing.T, e env) {
		ctx := t.Context()
		h := &s3objects.Handler{Repo: e.repo, Bucket: e.bucket, Owners: owners{"alice1": "alice@example.com"}}
		key := "user/user_alice1/SGE/input.dat"
		created := func(data []byte) files.File {
			t.Helper()
			put(t, e.bucket, key, data)
			if err := h.Handle(ctx, s3objects.Event{Kind: s3objects.Created, Name: "ObjectCreated:Put", Key: key, Size: int64(len(data))}); err != nil {
				t.Fatal(err)
			}
			f, err := e.repo.ByKey(ctx, key)
			if err != nil {
				t.Fatal(err)
			}
			return f
		}
		first := created([]byte("short"))
		longer := []byte("a longer body than before")
		f := created(longer)
		m, s := sums(longer)
		if f.ID != first.ID || f.Size != int64(len(longer)) || f.MD5 != m || f.SHA512 != s {
			t.Fatalf("after overwrite: %+v", f)
		}
		if u, _ := e.repo.Usage(ctx, "alice1"); u != int64(len(longer)) {
			t.Fatalf("usage %d, want %d", u, len(longer))
		}
		// A repeated delivery, or an event without a size, changes nothing.
		for _, size := range []int64{int64(len(longer)), 0} {
			if err := h.Handle(ctx, s3objects.Event{Kind: s3objects.Created, Name: "ObjectCreated:Put", Key: key, Size: size}); err != nil {
				t.Fatal(err)
			}
		}
		if again, _ := e.repo.ByKey(ctx, key); again.Version != f.Version {
			t.Fatalf("replay rewrote the record: version %d → %d", f.Version, again.Version)
		}
	})
}
