package files

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/openrescale/platform/shared/store"
	"github.com/openrescale/platform/shared/store/enginetest"
)

type readCounting struct {
	store.Store
	counting, items atomic.Int64
}

func (r *readCounting) Query(ctx context.Context, q store.Query) (store.Result, error) {
	res, err := r.Store.Query(ctx, q)
	if !q.NoTotal {
		r.counting.Add(1)
	}
	r.items.Add(int64(len(res.Items)))
	return res, err
}

// The file count rides in the usage item, changed with every create and
// delete: page 1 reads a page, not every record.
func TestFileCountExact(t *testing.T) { enginetest.Run(t, fileCountExact) }

func fileCountExact(t *testing.T, st store.Store) {
	ctx := t.Context()
	rc := &readCounting{Store: st}
	r := NewRepo(rc)
	rec := func(id string, size int64) File {
		return File{ID: id, OwnerID: alice.UserID, OwnerEmail: alice.Email, Name: id, TypeID: TypeInput,
			DateUploaded: time.Now(), Key: NewKey(alice.UserID, id), Size: size, IsUploaded: true}
	}
	// A record and usage from before the count was kept.
	old := rec("old001", 5)
	it, _ := r.item(old)
	if _, err := st.Put(ctx, it, store.Cond{}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Put(ctx, store.Item{PK: userPK(alice.UserID), SK: "USAGE", Data: []byte(`{"bytes":5}`)}, store.Cond{}); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 5 {
				if _, err := r.Create(ctx, rec(fmt.Sprintf("f%d%d", g, i), 1)); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	list := func() int {
		t.Helper()
		fs, n, err := r.List(ctx, alice.UserID, ListOptions{Limit: 10})
		if err != nil || len(fs) != min(10, n) {
			t.Fatalf("list: %d of %d, %v", len(fs), n, err)
		}
		return n
	}
	if n := list(); n != 21 {
		t.Fatalf("count %d, want 21", n)
	}
	c0, i0 := rc.counting.Load(), rc.items.Load()
	if n := list(); n != 21 {
		t.Fatalf("count %d, want 21", n)
	}
	if c, i := rc.counting.Load()-c0, rc.items.Load()-i0; c != 0 || i != 10 {
		t.Fatalf("page 1 counted %d times and read %d items, want 0 and 10", c, i)
	}
	f, _ := r.Get(ctx, alice.UserID, "f00")
	if err := r.Delete(ctx, f); err != nil {
		t.Fatal(err)
	}
	if n := list(); n != 20 {
		t.Fatalf("count %d after a delete, want 20", n)
	}
	if u, _ := r.Usage(ctx, alice.UserID); u != 5+19 {
		t.Fatalf("usage %d, want 24", u)
	}
	if _, n, _ := r.List(ctx, alice.UserID, ListOptions{Search: "f1", Limit: 2}); n != 5 {
		t.Fatalf("search count %d, want 5", n)
	}
}
