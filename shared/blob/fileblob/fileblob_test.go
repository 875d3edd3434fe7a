package fileblob_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openrescale/platform/shared/blob"
	"github.com/openrescale/platform/shared/blob/blobtest"
	"github.com/openrescale/platform/shared/blob/fileblob"
	"github.com/openrescale/platform/shared/errs"
)

func newBucket(t *testing.T, opts ...fileblob.Option) (*fileblob.Bucket, string) {
	t.Helper()
	dir := t.TempDir()
	b, err := fileblob.New(dir, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b, dir
}

func TestContract(t *testing.T) {
	blobtest.Run(t, func(t *testing.T) blob.Bucket {
		b, dir := newBucket(t)
		t.Cleanup(func() { assertNoStagingDebris(t, dir) })
		return b
	})
}

// assertNoStagingDebris checks that every Put, failed or not, cleaned up
// its temp files.
func assertNoStagingDebris(t *testing.T, dir string) {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(dir, ".staging"))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		t.Errorf("staging debris left behind: %s", e.Name())
	}
}

func TestEvents(t *testing.T) {
	var mu sync.Mutex
	var got []blob.Event
	b, _ := newBucket(t, fileblob.WithEvents(func(ctx context.Context, e blob.Event) {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, e)
	}))
	ctx := t.Context()
	if _, err := b.Put(ctx, "u/1/a", strings.NewReader("hello"), ""); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Put(ctx, "u/1/bad", &errReader{}, ""); err == nil {
		t.Fatal("failing Put succeeded")
	}
	if err := b.Delete(ctx, "u/1/a"); err != nil {
		t.Fatal(err)
	}
	if err := b.Delete(ctx, "u/1/a"); err != nil { // missing: no event
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatalf("events = %+v, want a Put and a Delete", got)
	}
	if e := got[0]; e.Name != "ObjectCreated:Put" || e.Key != "u/1/a" || e.Size != 5 || time.Since(e.Time) > time.Minute {
		t.Errorf("put event = %+v", e)
	}
	if e := got[1]; e.Name != "ObjectRemoved:Delete" || e.Key != "u/1/a" || time.Since(e.Time) > time.Minute {
		t.Errorf("delete event = %+v", e)
	}
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errors.New("boom") }

func TestLayoutAndReservedLookingKeys(t *testing.T) {
	b, dir := newBucket(t)
	ctx := t.Context()
	// Names the adapter uses internally are ordinary keys.
	for _, k := range []string{".staging/x", ".meta/y", "objects/z"} {
		if _, err := b.Put(ctx, k, strings.NewReader(k), "text/plain"); err != nil {
			t.Fatalf("Put(%q): %v", k, err)
		}
	}
	var keys []string
	if err := b.List(ctx, "", func(a blob.Attrs) error { keys = append(keys, a.Key); return nil }); err != nil {
		t.Fatal(err)
	}
	if want := []string{".meta/y", ".staging/x", "objects/z"}; !slices.Equal(keys, want) {
		t.Errorf("List = %q, want %q", keys, want)
	}
	data, err := os.ReadFile(filepath.Join(dir, "objects", ".staging", "x"))
	if err != nil || string(data) != ".staging/x" {
		t.Errorf("object file = %q, %v; want plain bytes under objects/", data, err)
	}
}

func TestFileDirectoryConflict(t *testing.T) {
	b, _ := newBucket(t)
	ctx := t.Context()
	if _, err := b.Put(ctx, "a/b", strings.NewReader("x"), ""); err != nil {
		t.Fatal(err)
	}
	_, err := b.Put(ctx, "a", strings.NewReader("x"), "")
	if !errs.Is(err, errs.Conflict) {
		t.Errorf("Put over a key prefix: %v, want Conflict", err)
	}
	_, err = b.Put(ctx, "a/b/c", strings.NewReader("x"), "")
	if !errs.Is(err, errs.Conflict) {
		t.Errorf("Put under an object: %v, want Conflict", err)
	}
	if _, err := b.Stat(ctx, "a/b"); err != nil {
		t.Errorf("original object damaged: %v", err)
	}
}

func TestDeletePrunesEmptyDirs(t *testing.T) {
	b, dir := newBucket(t)
	ctx := t.Context()
	for _, k := range []string{"p/q/r/s", "p/keep"} {
		if _, err := b.Put(ctx, k, strings.NewReader("x"), ""); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Delete(ctx, "p/q/r/s"); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"objects/p/q", ".meta/p/q"} {
		if _, err := os.Stat(filepath.Join(dir, d)); !os.IsNotExist(err) {
			t.Errorf("%s still exists after deleting its only object (%v)", d, err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "objects/p/keep")); err != nil {
		t.Errorf("sibling removed: %v", err)
	}
}

func TestHandPlacedFileInfersType(t *testing.T) {
	b, dir := newBucket(t)
	if err := os.MkdirAll(filepath.Join(dir, "objects", "seed"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "objects", "seed", "index.html"), []byte("<p>"), 0o644); err != nil {
		t.Fatal(err)
	}
	a, err := b.Stat(t.Context(), "seed/index.html")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(a.ContentType, "text/html") || a.Size != 3 {
		t.Errorf("Stat = %+v, want text/html inferred from the extension", a)
	}
}

func TestSymlinkCannotEscapeRoot(t *testing.T) {
	b, dir := newBucket(t)
	outside := t.TempDir()
	if err := os.WriteFile(filepath.Join(outside, "secret"), []byte("s"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(dir, "objects", "link")); err != nil {
		t.Skip("symlinks unsupported:", err)
	}
	if _, err := b.Stat(t.Context(), "link/secret"); err == nil {
		t.Error("Stat followed a symlink out of the root")
	}
	if rc, err := b.NewRangeReader(t.Context(), "link/secret", 0, -1); err == nil {
		rc.Close()
		t.Error("NewRangeReader followed a symlink out of the root")
	}
	if _, err := b.Put(t.Context(), "link/planted", strings.NewReader("x"), ""); err == nil {
		t.Error("Put wrote through a symlink out of the root")
	}
	if _, err := os.Stat(filepath.Join(outside, "planted")); err == nil {
		t.Error("file planted outside the root")
	}
}

func TestStaleTempsRemovedOnOpen(t *testing.T) {
	_, dir := newBucket(t)
	stale := filepath.Join(dir, ".staging", "put-stale")
	fresh := filepath.Join(dir, ".staging", "put-fresh")
	for _, p := range []string{stale, fresh} {
		if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	old := time.Now().Add(-48 * time.Hour)
	if err := os.Chtimes(stale, old, old); err != nil {
		t.Fatal(err)
	}
	b2, err := fileblob.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer b2.Close()
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Errorf("stale temp survived New: %v", err)
	}
	if _, err := os.Stat(fresh); err != nil {
		t.Errorf("fresh temp (maybe another process's Put) removed: %v", err)
	}
}

// S3 takes a 300-byte key segment; most filesystems cap a name at 255 bytes.
// The difference must read as a bad key and a missing object, not a fault.
func TestOverlongSegment(t *testing.T) {
	b, _ := newBucket(t)
	key := "u/" + strings.Repeat("n", 300)
	_, err := b.Put(t.Context(), key, strings.NewReader("x"), "")
	if !errs.Is(err, errs.Invalid) {
		t.Errorf("Put: %v, want Invalid", err)
	}
	if _, err := b.Stat(t.Context(), key); !errs.Is(err, errs.NotFound) {
		t.Errorf("Stat: %v, want NotFound", err)
	}
	if err := b.Delete(t.Context(), key); err != nil {
		t.Errorf("Delete: %v, want nil", err)
	}
}
