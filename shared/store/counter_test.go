package store_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/openrescale/platform/shared/store"
	"github.com/openrescale/platform/shared/store/boltstore"
)

func TestCounter(t *testing.T) {
	st, err := boltstore.Open(filepath.Join(t.TempDir(), "s.db"), boltstore.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := t.Context()
	c := store.Counter{PK: "U#1", SK: "COUNT"}
	add := func(sk string) error {
		return store.TransactCounted(ctx, st, c, 1, []store.Op{{Kind: store.OpPut, Item: store.Item{PK: "U#1#ITEMS", SK: sk}, Cond: store.Cond{IfAbsent: true}}})
	}
	recount := func(ctx context.Context) (int, error) {
		res, err := st.Query(ctx, store.Query{PK: "U#1#ITEMS"})
		return res.Total, err
	}
	// Items from before the counter: counted once, on the first Count.
	for i := range 3 {
		if _, err := st.Put(ctx, store.Item{PK: "U#1#ITEMS", SK: fmt.Sprint("old", i)}, store.Cond{}); err != nil {
			t.Fatal(err)
		}
	}
	if err := add("new0"); err != nil {
		t.Fatal(err)
	}
	calls := 0
	counting := func(ctx context.Context) (int, error) { calls++; return recount(ctx) }
	for range 2 {
		if n, err := c.Count(ctx, st, counting); err != nil || n != 4 {
			t.Fatalf("count %d, %v; want 4", n, err)
		}
	}
	if calls != 1 {
		t.Fatalf("counted the items %d times, want once", calls)
	}

	// Concurrent counted writes lose nothing.
	var wg sync.WaitGroup
	for g := range 10 {
		wg.Go(func() {
			for i := range 5 {
				if err := add(fmt.Sprintf("c%d-%d", g, i)); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	if n, _ := c.Count(ctx, st, nil); n != 54 {
		t.Fatalf("count %d after 50 concurrent adds, want 54", n)
	}
	// A failing write (duplicate item) moves nothing.
	if err := add("new0"); err == nil {
		t.Fatal("duplicate item added")
	}
	if n, _ := c.Count(ctx, st, nil); n != 54 {
		t.Fatalf("count %d after a failed add, want 54", n)
	}

	// A recount that races a counted write does not store its number.
	c2 := store.Counter{PK: "U#2", SK: "COUNT"}
	if _, err := c2.Op(ctx, st, 1); err != nil { // reading is not writing
		t.Fatal(err)
	}
	racing := func(ctx context.Context) (int, error) {
		n, err := st.Query(ctx, store.Query{PK: "U#2#ITEMS"})
		if err := store.TransactCounted(ctx, st, c2, 1, []store.Op{{Kind: store.OpPut, Item: store.Item{PK: "U#2#ITEMS", SK: "late"}}}); err != nil {
			return 0, err
		}
		return n.Total, err
	}
	if n, err := c2.Count(ctx, st, racing); err != nil || n != 0 {
		t.Fatalf("racing recount %d, %v", n, err)
	}
	if n, err := c2.Count(ctx, st, func(ctx context.Context) (int, error) {
		res, err := st.Query(ctx, store.Query{PK: "U#2#ITEMS"})
		return res.Total, err
	}); err != nil || n != 1 {
		t.Fatalf("recount after the race %d, %v; want 1", n, err)
	}
}
