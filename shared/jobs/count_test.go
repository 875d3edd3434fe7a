package jobs

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/openrescale/platform/shared/store"
)

// readCounting counts what queries read.
type readCounting struct {
	store.Store
	queries, counting, items atomic.Int64
}

func (r *readCounting) Query(ctx context.Context, q store.Query) (store.Result, error) {
	res, err := r.Store.Query(ctx, q)
	r.queries.Add(1)
	if !q.NoTotal {
		r.counting.Add(1)
	}
	r.items.Add(int64(len(res.Items)))
	return res, err
}

// The jobs count is kept in a counter item changed with every create and
// delete, so page 1 reads a page and that item; jobs written before the
// counter are counted once.
func TestJobCountExact(t *testing.T) {
	engines(t, func(t *testing.T, st store.Store) {
		ctx := t.Context()
		rc := &readCounting{Store: st}
		f := newFixture(t, rc, nil)
		// Jobs from before the counter: written without it.
		for i := range 3 {
			j := Job{ID: "old" + string(rune('a'+i)), OwnerID: alice.UserID, OwnerEmail: alice.Email, Spec: mustSpec(t, basic)}
			it, err := f.svc.item(j)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := st.Put(ctx, it, store.Cond{}); err != nil {
				t.Fatal(err)
			}
		}
		var wg sync.WaitGroup
		var ids sync.Map
		for g := range 4 {
			wg.Go(func() {
				for range 3 {
					j, err := f.svc.Create(ctx, alice, mustSpec(t, basic))
					if err != nil {
						t.Error(err)
						return
					}
					ids.Store(j.ID, g)
				}
			})
		}
		wg.Wait()
		total := func() int {
			t.Helper()
			js, n, err := f.svc.List(ctx, alice.UserID, ListOptions{Scope: ScopeOwned, Limit: 10})
			if err != nil {
				t.Fatal(err)
			}
			if len(js) != min(10, n) {
				t.Fatalf("page of %d for count %d", len(js), n)
			}
			return n
		}
		if n := total(); n != 15 {
			t.Fatalf("count %d, want 15", n)
		}
		// Counted now: page 1 is one query for the page, nothing counted.
		q0, c0, i0 := rc.queries.Load(), rc.counting.Load(), rc.items.Load()
		if n := total(); n != 15 {
			t.Fatalf("count %d, want 15", n)
		}
		if q, c, i := rc.queries.Load()-q0, rc.counting.Load()-c0, rc.items.Load()-i0; q != 1 || c != 0 || i != 10 {
			t.Fatalf("page 1 made %d queries (%d counting) reading %d items; want 1, 0, 10", q, c, i)
		}
		if _, n, _ := f.svc.ListData(ctx, alice.UserID, DataQuery{Limit: 5}); n != 15 {
			t.Fatalf("data count %d, want 15", n)
		}
		var some []string
		ids.Range(func(k, _ any) bool {
			if len(some) < 4 {
				some = append(some, k.(string))
			}
			return true
		})
		if err := f.svc.Delete(ctx, alice.UserID, some[:3], false); err != nil {
			t.Fatal(err)
		}
		if err := f.svc.Delete(ctx, alice.UserID, []string{some[3], "nojob1"}, false); err == nil {
			t.Fatal("delete with an unknown id succeeded")
		}
		if err := f.svc.Delete(ctx, alice.UserID, []string{"olda"}, false); err != nil {
			t.Fatal(err)
		}
		if n := total(); n != 11 {
			t.Fatalf("count %d after deleting 4, want 11", n)
		}
		if _, n, _ := f.svc.List(ctx, bob.UserID, ListOptions{Scope: ScopeOwned, Limit: 10}); n != 0 {
			t.Fatalf("bob's count %d", n)
		}
	})
}
