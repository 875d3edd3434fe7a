// Package boltstore is the embedded store.Store engine: one bbolt file, so a
// single binary runs without any database server.
//
// Layout: bucket "items" maps PK+"\x00"+SK to the JSON of a record; buckets
// "gsi1" and "gsi2" map indexPK+"\x00"+indexSK+"\x00"+PK+"\x00"+SK to an
// empty value and are kept in step with "items" inside the same write
// transaction. Keys may not contain NUL (both engines reject it), so the
// separator keeps partitions apart and byte order equals DynamoDB's
// sort-key order.
package boltstore

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"

	"github.com/openrescale/platform/shared/errs"
	"github.com/openrescale/platform/shared/store"
)

var _ store.Store = (*Store)(nil)

const sep = 0

// DefaultTimeout is the file-lock wait used when Options.Timeout is zero;
// bbolt itself would wait forever, which turns a second server start into a
// silent hang.
const DefaultTimeout = time.Second

// Options configures Open.
type Options struct {
	// Timeout bounds the wait for the file lock (zero: DefaultTimeout).
	Timeout time.Duration
}

// Store is a store.Store on a bbolt file.
type Store struct {
	db *bolt.DB
}

func bucketItems() []byte { return []byte("items") }

func bucketIndex(idx store.Index) []byte { return []byte(idx) }

// Open opens or creates the database file at path. Another process holding
// the file yields an errs.Unavailable error.
func Open(path string, opts Options) (*Store, error) {
	timeout := opts.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: timeout})
	if errors.Is(err, bolterrors.ErrTimeout) {
		return nil, errs.Wrap(errs.Unavailable, err,
			"data directory is in use by another process (is the server running?): %s", path)
	}
	if err != nil {
		return nil, fmt.Errorf("boltstore open %s: %w", path, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketItems(), bucketIndex(store.GSI1), bucketIndex(store.GSI2)} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return fmt.Errorf("bucket %s: %w", b, err)
			}
		}
		return nil
	})
	if err != nil {
		return nil, errors.Join(fmt.Errorf("boltstore open %s: %w", path, err), db.Close())
	}
	return &Store{db: db}, nil
}

// Close releases the file and its lock.
func (s *Store) Close() error {
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("boltstore close: %w", err)
	}
	return nil
}

// record is the stored form of an item. Data is []byte rather than
// json.RawMessage so that an empty item stays empty instead of becoming
// "null".
type record struct {
	PK     string `json:"pk"`
	SK     string `json:"sk"`
	GSI1PK string `json:"g1p,omitempty"`
	GSI1SK string `json:"g1s,omitempty"`
	GSI2PK string `json:"g2p,omitempty"`
	GSI2SK string `json:"g2s,omitempty"`
	Ver    int64  `json:"ver"`
	TTL    int64  `json:"ttl,omitempty"`
	Data   []byte `json:"data,omitempty"`
}

// ttlKey is how an encoded record with an expiry names it.
var ttlKey = []byte(`"ttl":`)

func (r *record) item() store.Item {
	it := store.Item{
		PK: r.PK, SK: r.SK,
		GSI1PK: r.GSI1PK, GSI1SK: r.GSI1SK,
		GSI2PK: r.GSI2PK, GSI2SK: r.GSI2SK,
		Version:   r.Ver,
		ExpiresAt: store.ExpiresAtOf(r.TTL),
	}
	if len(r.Data) > 0 {
		it.Data = json.RawMessage(r.Data)
	}
	return it
}

func join(parts ...string) []byte {
	var b bytes.Buffer
	for i, p := range parts {
		if i > 0 {
			b.WriteByte(sep)
		}
		b.WriteString(p)
	}
	return b.Bytes()
}

func itemKeyBytes(pk, sk string) []byte { return join(pk, sk) }

func indexKey(r *record, idx store.Index) []byte {
	switch idx {
	case store.GSI1:
		if r.GSI1PK != "" {
			return join(r.GSI1PK, r.GSI1SK, r.PK, r.SK)
		}
	case store.GSI2:
		if r.GSI2PK != "" {
			return join(r.GSI2PK, r.GSI2SK, r.PK, r.SK)
		}
	}
	return nil
}

// load returns the stored record, expired or not (nil if none), and whether
// it is live at now.
func load(tx *bolt.Tx, pk, sk string, now int64) (*record, bool, error) {
	v := tx.Bucket(bucketItems()).Get(itemKeyBytes(pk, sk))
	if v == nil {
		return nil, false, nil
	}
	var r record
	if err := json.Unmarshal(v, &r); err != nil {
		return nil, false, fmt.Errorf("decode %s/%s: %w", pk, sk, err)
	}
	return &r, !store.Expired(r.TTL, now), nil
}

// check evaluates cond against the item's state; an expired item is absent.
func check(cond store.Cond, r *record, live bool) error {
	switch {
	case cond.IfAbsent && live:
		return errs.E(errs.Conflict, "item already exists")
	case cond.IfExists && !live, cond.IfVersion != 0 && !live:
		return errs.E(errs.Conflict, "item does not exist")
	case cond.IfVersion != 0 && r.Ver != cond.IfVersion:
		return errs.E(errs.Conflict, "item is at version %d, not %d", r.Ver, cond.IfVersion)
	}
	return nil
}

func remove(tx *bolt.Tx, r *record) error {
	for _, idx := range []store.Index{store.GSI1, store.GSI2} {
		if k := indexKey(r, idx); k != nil {
			if err := tx.Bucket(bucketIndex(idx)).Delete(k); err != nil {
				return fmt.Errorf("unindex %s: %w", idx, err)
			}
		}
	}
	if err := tx.Bucket(bucketItems()).Delete(itemKeyBytes(r.PK, r.SK)); err != nil {
		return fmt.Errorf("delete: %w", err)
	}
	return nil
}

func put(tx *bolt.Tx, it store.Item, cond store.Cond, now int64) (store.Item, error) {
	old, live, err := load(tx, it.PK, it.SK, now)
	if err != nil {
		return store.Item{}, err
	}
	if err := check(cond, old, live); err != nil {
		return store.Item{}, err
	}
	r := &record{
		PK: it.PK, SK: it.SK,
		GSI1PK: it.GSI1PK, GSI1SK: it.GSI1SK,
		GSI2PK: it.GSI2PK, GSI2SK: it.GSI2SK,
		Ver:  1,
		TTL:  store.TTLOf(it.ExpiresAt),
		Data: it.Data,
	}
	if live {
		r.Ver = old.Ver + 1
	}
	if old != nil {
		// Drop old index entries even when the keys look unchanged: simpler
		// than diffing, and bolt rewrites the page either way.
		if err := remove(tx, old); err != nil {
			return store.Item{}, err
		}
	}
	v, err := json.Marshal(r)
	if err != nil {
		return store.Item{}, fmt.Errorf("encode: %w", err)
	}
	if err := tx.Bucket(bucketItems()).Put(itemKeyBytes(r.PK, r.SK), v); err != nil {
		return store.Item{}, fmt.Errorf("write: %w", err)
	}
	for _, idx := range []store.Index{store.GSI1, store.GSI2} {
		if k := indexKey(r, idx); k != nil {
			if err := tx.Bucket(bucketIndex(idx)).Put(k, nil); err != nil {
				return store.Item{}, fmt.Errorf("index %s: %w", idx, err)
			}
		}
	}
	return r.item(), nil
}

// del deletes under cond; IfExists alone on a missing item is NotFound, as
// the port specifies for Delete (Transact turns it into Conflict).
func del(tx *bolt.Tx, pk, sk string, cond store.Cond, now int64) error {
	old, live, err := load(tx, pk, sk, now)
	if err != nil {
		return err
	}
	if !live && cond == (store.Cond{IfExists: true}) {
		return errs.E(errs.NotFound, "item does not exist")
	}
	if err := check(cond, old, live); err != nil {
		return err
	}
	if old == nil {
		return nil
	}
	return remove(tx, old)
}

func nowSeconds() int64 { return time.Now().Unix() }

// Get returns the item or errs.NotFound.
func (s *Store) Get(ctx context.Context, pk, sk string) (store.Item, error) {
	if err := store.ValidateKeys(pk, sk); err != nil {
		return store.Item{}, fmt.Errorf("boltstore get: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return store.Item{}, fmt.Errorf("boltstore get %s/%s: %w", pk, sk, err)
	}
	var it store.Item
	err := s.db.View(func(tx *bolt.Tx) error {
		r, live, err := load(tx, pk, sk, nowSeconds())
		if err != nil {
			return err
		}
		if !live {
			return errs.E(errs.NotFound, "item not found")
		}
		it = r.item()
		return nil
	})
	if err != nil {
		return store.Item{}, fmt.Errorf("boltstore get %s/%s: %w", pk, sk, err)
	}
	return it, nil
}

// Put writes the item under cond and returns it with its new version.
func (s *Store) Put(ctx context.Context, it store.Item, cond store.Cond) (store.Item, error) {
	if err := store.FirstErr(store.ValidateItem(it), store.ValidateCond(cond)); err != nil {
		return store.Item{}, fmt.Errorf("boltstore put: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return store.Item{}, fmt.Errorf("boltstore put %s/%s: %w", it.PK, it.SK, err)
	}
	var out store.Item
	err := s.db.Update(func(tx *bolt.Tx) error {
		var err error
		out, err = put(tx, it, cond, nowSeconds())
		return err
	})
	if err != nil {
		return store.Item{}, fmt.Errorf("boltstore put %s/%s: %w", it.PK, it.SK, err)
	}
	return out, nil
}

// Delete removes the item under cond.
func (s *Store) Delete(ctx context.Context, pk, sk string, cond store.Cond) error {
	if err := store.FirstErr(store.ValidateKeys(pk, sk), store.ValidateCond(cond)); err != nil {
		return fmt.Errorf("boltstore delete: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("boltstore delete %s/%s: %w", pk, sk, err)
	}
	err := s.db.Update(func(tx *bolt.Tx) error { return del(tx, pk, sk, cond, nowSeconds()) })
	if err != nil {
		return fmt.Errorf("boltstore delete %s/%s: %w", pk, sk, err)
	}
	return nil
}

// Transact applies all ops in one bolt transaction: any error rolls back.
// Ops touch distinct items (validated), so applying them in order is the
// same as checking every condition against the state before the
// transaction, as DynamoDB does.
func (s *Store) Transact(ctx context.Context, ops []store.Op) error {
	if err := store.ValidateOps(ops); err != nil {
		return fmt.Errorf("boltstore transact: %w", err)
	}
	if len(ops) == 0 {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("boltstore transact: %w", err)
	}
	err := s.db.Update(func(tx *bolt.Tx) error {
		now := nowSeconds()
		for i, op := range ops {
			var err error
			switch op.Kind {
			case store.OpPut:
				_, err = put(tx, op.Item, op.Cond, now)
			case store.OpDelete:
				err = del(tx, op.Item.PK, op.Item.SK, op.Cond, now)
				if errs.Is(err, errs.NotFound) {
					// In a transaction every failed condition is a Conflict.
					err = errs.Wrap(errs.Conflict, err, "item does not exist")
				}
			case store.OpCheck:
				var (
					r    *record
					live bool
				)
				r, live, err = load(tx, op.Item.PK, op.Item.SK, now)
				if err == nil {
					err = check(op.Cond, r, live)
				}
			}
			if err != nil {
				return fmt.Errorf("op %d (%s/%s): %w", i, op.Item.PK, op.Item.SK, err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("boltstore transact: %w", err)
	}
	return nil
}

// Query lists matching live items. It walks every match to count Total, as
// the DynamoDB engine must too, but decodes only the page it returns.
func (s *Store) Query(ctx context.Context, q store.Query) (store.Result, error) {
	if err := store.ValidateQuery(q); err != nil {
		return store.Result{}, fmt.Errorf("boltstore query: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return store.Result{}, fmt.Errorf("boltstore query %s %s: %w", q.Index, q.PK, err)
	}
	var res store.Result
	err := s.db.View(func(tx *bolt.Tx) error {
		now := nowSeconds()
		items := tx.Bucket(bucketItems())
		b := items
		if q.Index != store.Primary {
			b = tx.Bucket(bucketIndex(q.Index))
		}
		// PK+NUL+prefix: the NUL stops partition "a" from matching "ab".
		prefix := join(q.PK, q.SKPrefix)
		if q.NoTotal {
			page, err := pageOnly(b, items, prefix, q, now)
			res = store.Result{Items: page, Total: -1}
			return err
		}
		var matches [][]byte // encoded records, valid until the tx ends
		c := b.Cursor()
		for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			if q.Index != store.Primary {
				parts := bytes.Split(k, []byte{sep})
				if len(parts) != 4 {
					return fmt.Errorf("malformed %s key %q", q.Index, k)
				}
				v = items.Get(join(string(parts[2]), string(parts[3])))
				if v == nil {
					return fmt.Errorf("%s entry %q has no item", q.Index, k)
				}
			}
			// Most records have no expiry, and a record without one has no
			// "ttl" key (omitempty; a quote inside a string is escaped and
			// Data is base64), so only those with the key are decoded:
			// counting a large partition stays cheap.
			if !bytes.Contains(v, ttlKey) {
				matches = append(matches, v)
				continue
			}
			var e struct {
				TTL int64 `json:"ttl"`
			}
			if err := json.Unmarshal(v, &e); err != nil {
				return fmt.Errorf("decode %q: %w", k, err)
			}
			if !store.Expired(e.TTL, now) {
				matches = append(matches, v)
			}
		}
		res.Total = len(matches)
		if q.Desc {
			slices.Reverse(matches)
		}
		page := matches[min(q.Offset, len(matches)):]
		if q.Limit > 0 && len(page) > q.Limit {
			page = page[:q.Limit]
		}
		for _, v := range page {
			var r record
			if err := json.Unmarshal(v, &r); err != nil {
				return fmt.Errorf("decode: %w", err)
			}
			res.Items = append(res.Items, r.item())
		}
		return nil
	})
	if err != nil {
		return store.Result{}, fmt.Errorf("boltstore query %s %s: %w", q.Index, q.PK, err)
	}
	return res, nil
}

// pageOnly walks the matches in the query's order and stops at the page's
// end: what a NoTotal query costs is the items it skips and returns.
func pageOnly(b, items *bolt.Bucket, prefix []byte, q store.Query, now int64) ([]store.Item, error) {
	c := b.Cursor()
	var k, v []byte
	next := c.Next
	if q.Desc {
		// Keys are UTF-8 and NUL separated, so no key with the prefix has
		// a 0xFF after it: seeking there lands just past the last match.
		k, v = c.Seek(append(bytes.Clone(prefix), 0xFF))
		if k == nil {
			k, v = c.Last()
		} else {
			k, v = c.Prev()
		}
		next = c.Prev
	} else {
		k, v = c.Seek(prefix)
	}
	var out []store.Item
	skipped := 0
	for ; k != nil && bytes.HasPrefix(k, prefix); k, v = next() {
		if q.Limit > 0 && len(out) == q.Limit {
			break
		}
		if b != items {
			parts := bytes.Split(k, []byte{sep})
			if len(parts) != 4 {
				return nil, fmt.Errorf("malformed index key %q", k)
			}
			if v = items.Get(join(string(parts[2]), string(parts[3]))); v == nil {
				return nil, fmt.Errorf("index entry %q has no item", k)
			}
		}
		if skipped < q.Offset && !bytes.Contains(v, ttlKey) {
			skipped++ // no expiry: live, and not decoded (see Query)
			continue
		}
		var r record
		if err := json.Unmarshal(v, &r); err != nil {
			return nil, fmt.Errorf("decode %q: %w", k, err)
		}
		if store.Expired(r.TTL, now) {
			continue
		}
		if skipped < q.Offset {
			skipped++
			continue
		}
		out = append(out, r.item())
	}
	return out, nil
}

// PurgeExpired deletes expired items and returns how many. Expired items are
// already invisible; purging only reclaims space (DynamoDB's TTL does that
// on its own), so callers run it now and then, not for correctness.
func (s *Store) PurgeExpired(ctx context.Context) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("boltstore purge: %w", err)
	}
	n := 0
	err := s.db.Update(func(tx *bolt.Tx) error {
		now := nowSeconds()
		var dead []*record
		err := tx.Bucket(bucketItems()).ForEach(func(k, v []byte) error {
			var r record
			if err := json.Unmarshal(v, &r); err != nil {
				return fmt.Errorf("decode %q: %w", k, err)
			}
			if store.Expired(r.TTL, now) {
				dead = append(dead, &r)
			}
			return nil
		})
		if err != nil {
			return err
		}
		// Deleting while iterating a bolt cursor skips keys, hence two passes.
		for _, r := range dead {
			if err := remove(tx, r); err != nil {
				return fmt.Errorf("%s/%s: %w", r.PK, r.SK, err)
			}
		}
		n = len(dead)
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("boltstore purge: %w", err)
	}
	return n, nil
}
