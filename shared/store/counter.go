package store

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/openrescale/platform/shared/errs"
)

// Counter is an exact count of some items (a user's jobs) kept in one item
// beside them, so that a list's "count" costs one read instead of a read of
// the whole partition. Every write that adds or removes counted items
// carries the counter's op (Op) in its transaction; Count answers it.
//
// Items written before the counter existed are counted once, by Count:
// until then the counter is "not counted", and every Op still rewrites it
// (bumping its version), so a recount that raced a write fails its
// condition instead of storing a stale number.
type Counter struct {
	PK, SK string
}

type counterData struct {
	N       int  `json:"n"`
	Counted bool `json:"counted"`
}

// Op returns the write that moves the count by delta, guarded by the
// version it read. A Transact carrying it that fails on it has raced
// another counted write; TransactCounted retries those.
func (c Counter) Op(ctx context.Context, st Store, delta int) (Op, error) {
	d, it, err := c.read(ctx, st)
	if err != nil {
		return Op{}, err
	}
	cond := Cond{IfAbsent: true}
	if it.Version > 0 {
		cond = Cond{IfVersion: it.Version}
	}
	if d.Counted {
		d.N = max(0, d.N+delta)
	}
	b, _ := json.Marshal(d)
	return Op{Kind: OpPut, Item: Item{PK: c.PK, SK: c.SK, Data: b}, Cond: cond}, nil
}

// Count returns the count. A counter that has not counted yet counts with
// count (which reads the items) and stores the result if no counted write
// happened meanwhile; if one did, this answer is count's, and the next
// call counts again.
func (c Counter) Count(ctx context.Context, st Store, count func(context.Context) (int, error)) (int, error) {
	d, it, err := c.read(ctx, st)
	if err != nil {
		return 0, err
	}
	if d.Counted {
		return d.N, nil
	}
	n, err := count(ctx)
	if err != nil {
		return 0, err
	}
	cond := Cond{IfAbsent: true}
	if it.Version > 0 {
		cond = Cond{IfVersion: it.Version}
	}
	b, _ := json.Marshal(counterData{N: n, Counted: true})
	if _, err := st.Put(ctx, Item{PK: c.PK, SK: c.SK, Data: b}, cond); err != nil && !errs.Is(err, errs.Conflict) {
		return 0, fmt.Errorf("store count %s/%s: %w", c.PK, c.SK, err)
	}
	return n, nil
}

func (c Counter) read(ctx context.Context, st Store) (counterData, Item, error) {
	var d counterData
	it, err := st.Get(ctx, c.PK, c.SK)
	if errs.Is(err, errs.NotFound) {
		return d, Item{}, nil
	}
	if err != nil {
		return d, Item{}, fmt.Errorf("read count %s/%s: %w", c.PK, c.SK, err)
	}
	if err := json.Unmarshal(it.Data, &d); err != nil {
		return d, Item{}, fmt.Errorf("decode count %s/%s: %w", c.PK, c.SK, err)
	}
	return d, it, nil
}

// TransactCounted applies ops and the counter's move by delta in one
// transaction, retrying while the only failed condition is the counter's
// (another counted write got in between); any other conflict is returned.
func TransactCounted(ctx context.Context, st Store, c Counter, delta int, ops []Op) error {
	for attempt := 0; ; attempt++ {
		cop, err := c.Op(ctx, st, delta)
		if err != nil {
			return err
		}
		err = st.Transact(ctx, append(ops[:len(ops):len(ops)], cop))
		if !errs.Is(err, errs.Conflict) || attempt == 20 {
			return err
		}
		now, rerr := st.Get(ctx, c.PK, c.SK)
		switch {
		case rerr == nil && cop.Cond.IfAbsent, rerr == nil && now.Version != cop.Cond.IfVersion:
			continue // the counter moved under us
		case errs.Is(rerr, errs.NotFound) && !cop.Cond.IfAbsent:
			continue
		}
		return err
	}
}
