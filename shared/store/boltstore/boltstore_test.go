package boltstore_test

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/openrescale/platform/shared/errs"
	"github.com/openrescale/platform/shared/store"
	"github.com/openrescale/platform/shared/store/boltstore"
	"github.com/openrescale/platform/shared/store/storetest"
)

func open(t *testing.T, path string) *boltstore.Store {
	t.Helper()
	s, err := boltstore.Open(path, boltstore.Options{Timeout: time.Second})
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	return s
}

func TestContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		return open(t, filepath.Join(t.TempDir(), "data.db"))
	})
}

func TestLockedFileIsUnavailable(t *testing.T) {
	path := filepath.Join(t.TempDir(), "data.db")
	s := open(t, path)
	defer s.Close()
	// flock locks are per open file description, so a second Open in the
	// same process contends exactly like a second server would.
	start := time.Now()
	_, err := boltstore.Open(path, boltstore.Options{Timeout: 100 * time.Millisecond})
	if !errs.Is(err, errs.Unavailable) {
		t.Fatalf("second open: got %v, want code %q", err, errs.Unavailable)
	}
	if e, _ := errs.As(err); e == nil || !strings.Contains(e.Message, "in use by another process") {
		t.Fatalf("second open message: %v", err)
	}
	if time.Since(start) > 5*time.Second {
		t.Fatalf("second open took %v despite a 100ms timeout", time.Since(start))
	}
}

func TestWritesSurviveReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "data.db")
	s := open(t, path)
	it := store.Item{PK: "p", SK: "s", GSI1PK: "g", GSI1SK: "1", Data: []byte(`{"a":1}`)}
	if _, err := s.Put(t.Context(), it, store.Cond{}); err != nil {
		t.Fatalf("put: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	s = open(t, path)
	defer s.Close()
	got, err := s.Get(t.Context(), "p", "s")
	if err != nil || string(got.Data) != `{"a":1}` || got.Version != 1 {
		t.Fatalf("after reopen: %+v, %v", got, err)
	}
	res, err := s.Query(t.Context(), store.Query{Index: store.GSI1, PK: "g"})
	if err != nil || res.Total != 1 {
		t.Fatalf("index after reopen: %+v, %v", res, err)
	}
}

func TestPurgeExpired(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "data.db"))
	defer s.Close()
	ctx := t.Context()
	past := time.Now().Add(-time.Minute)
	for _, it := range []store.Item{
		{PK: "p", SK: "dead", GSI1PK: "g", GSI1SK: "1", ExpiresAt: past},
		{PK: "p", SK: "dead2", ExpiresAt: past},
		{PK: "p", SK: "live", GSI1PK: "g", GSI1SK: "2", ExpiresAt: time.Now().Add(time.Hour)},
		{PK: "p", SK: "forever"},
	} {
		if _, err := s.Put(ctx, it, store.Cond{}); err != nil {
			t.Fatalf("put %s: %v", it.SK, err)
		}
	}
	n, err := s.PurgeExpired(ctx)
	if err != nil || n != 2 {
		t.Fatalf("purge: %d, %v; want 2", n, err)
	}
	res, err := s.Query(ctx, store.Query{Index: store.GSI1, PK: "g"})
	if err != nil || res.Total != 1 || res.Items[0].SK != "live" {
		t.Fatalf("index after purge: %+v, %v", res, err)
	}
	if n, err := s.PurgeExpired(ctx); err != nil || n != 0 {
		t.Fatalf("second purge: %d, %v; want 0", n, err)
	}
}
