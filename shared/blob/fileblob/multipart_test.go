package fileblob_test

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openrescale/platform/shared/blob"
	"github.com/openrescale/platform/shared/blob/blobtest"
	"github.com/openrescale/platform/shared/blob/fileblob"
)

func TestMultipartContract(t *testing.T) {
	blobtest.RunMultipart(t, func(t *testing.T) blob.Bucket {
		b, dir := newBucket(t)
		t.Cleanup(func() { assertNoStagingDebris(t, dir) })
		return b
	})
}

// Completion is an object creation like any other: the event handlers see
// it under S3's event name.
func TestCompleteEmitsEvent(t *testing.T) {
	var mu sync.Mutex
	var got []blob.Event
	b, err := fileblob.New(t.TempDir(), fileblob.WithEvents(func(_ context.Context, e blob.Event) {
		mu.Lock()
		got = append(got, e)
		mu.Unlock()
	}))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	id, err := b.CreateMultipart(t.Context(), "user/u/x", "")
	if err != nil {
		t.Fatal(err)
	}
	p, err := b.UploadPart(t.Context(), "user/u/x", id, 1, strings.NewReader("abc"))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 0 {
		t.Fatalf("a part emitted %v", got)
	}
	if _, err := b.CompleteMultipart(t.Context(), "user/u/x", id, []blob.Part{p}); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Name != "ObjectCreated:CompleteMultipartUpload" || got[0].Key != "user/u/x" || got[0].Size != 3 {
		t.Fatalf("events %+v", got)
	}
}

// Upload ids come from clients: one that is not ours cannot reach outside
// the uploads directory.
func TestUploadIDCannotEscape(t *testing.T) {
	dir := t.TempDir()
	b, err := fileblob.New(filepath.Join(dir, "root"))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if err := os.WriteFile(filepath.Join(dir, "info"), []byte(`{"key":"k"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"..", "../..", "../../x", ""} {
		if _, err := b.ListParts(t.Context(), "k", id); err == nil {
			t.Errorf("upload id %q accepted", id)
		}
	}
}

// An upload id and its key can fall on the same lock stripe (1 in 64); a
// completion holding the id's stripe must not wait for the key's. 300
// completions meet such a pair with probability above 99%.
func TestCompleteNeverDeadlocksOnSharedStripe(t *testing.T) {
	b, err := fileblob.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	done := make(chan error, 1)
	go func() {
		for i := range 300 {
			key := "user/u/obj-" + strings.Repeat("x", i%7) + string(rune('a'+i%26)) + "-" + strconv.Itoa(i)
			id, err := b.CreateMultipart(t.Context(), key, "")
			if err != nil {
				done <- err
				return
			}
			p, err := b.UploadPart(t.Context(), key, id, 1, strings.NewReader("abc"))
			if err != nil {
				done <- err
				return
			}
			if _, err := b.CompleteMultipart(t.Context(), key, id, []blob.Part{p}); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("CompleteMultipart deadlocked")
	}
}
