// Package storetest is the contract every store.Store engine must honour.
// Engines run the same suite, so code tested against the embedded engine
// behaves the same on DynamoDB.
package storetest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openrescale/platform/shared/errs"
	"github.com/openrescale/platform/shared/store"
)

// Run runs the contract against stores made by newStore. newStore is called
// once per subtest; the stores may share one backing table because every
// subtest writes under keys of its own. Run closes each store when its
// subtest ends.
func Run(t *testing.T, newStore func(t *testing.T) store.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s store.Store, k keys)
	}{
		{"put then get round-trips every field", testRoundTrip},
		{"update increments version", testUpdateIncrementsVersion},
		{"version given to put is ignored", testVersionIgnored},
		{"get missing is NotFound", testGetMissing},
		{"put IfAbsent on missing creates version 1", testIfAbsentMissing},
		{"put IfAbsent on existing conflicts and keeps original", testIfAbsentExisting},
		{"put IfVersion matching updates", testIfVersionMatch},
		{"put IfVersion mismatching conflicts and keeps data", testIfVersionMismatch},
		{"put IfVersion on missing conflicts", testIfVersionMissing},
		{"put IfExists on missing conflicts", testIfExistsMissing},
		{"put IfExists on existing updates", testIfExistsExisting},
		{"delete missing without condition is nil", testDeleteMissing},
		{"delete removes item", testDelete},
		{"delete IfVersion mismatch conflicts and keeps item", testDeleteIfVersionMismatch},
		{"delete IfVersion match removes item", testDeleteIfVersionMatch},
		{"delete IfExists on missing is NotFound", testDeleteIfExistsMissing},
		{"delete IfVersion on missing conflicts", testDeleteIfVersionMissing},
		{"version restarts at 1 after delete", testVersionAfterDelete},
		{"query primary by pk", testQueryPrimary},
		{"query primary by sk prefix", testQueryPrefix},
		{"query primary descending", testQueryDesc},
		{"query offset and limit", testQueryOffsetLimit},
		{"query without total pages alike", testQueryNoTotal},
		{"query never leaks other partitions", testQueryIsolation},
		{"query empty partition", testQueryEmpty},
		{"query gsi1", func(t *testing.T, s store.Store, k keys) { testQueryGSI(t, s, k, store.GSI1) }},
		{"query gsi2", func(t *testing.T, s store.Store, k keys) { testQueryGSI(t, s, k, store.GSI2) }},
		{"index entries follow updates and deletes", testIndexMaintenance},
		{"expired item is invisible", testExpired},
		{"expired item counts as absent for writes", testExpiredWrites},
		{"transact applies all ops", testTransactApplies},
		{"transact failing check applies nothing", testTransactFailingCheck},
		{"transact failing IfAbsent applies nothing", testTransactFailingIfAbsent},
		{"transact failing IfVersion delete applies nothing", testTransactFailingDelete},
		{"transact with max ops succeeds", testTransactMax},
		{"transact over max ops is Invalid", testTransactTooMany},
		{"transact touching one item twice is Invalid", testTransactDuplicate},
		{"transact check without condition is Invalid", testTransactCheckNoCond},
		{"item over max size is Invalid", testTooLarge},
		{"item just under max size is stored", testNearMaxSize},
		{"invalid keys and conditions are Invalid", testInvalid},
		{"concurrent IfVersion updates lose nothing", testConcurrentIncrements},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// Parallel: DynamoDB Local answers in milliseconds but a serial
			// suite adds them up; unique keys make sharing a table safe.
			t.Parallel()
			s := newStore(t)
			t.Cleanup(func() {
				if err := s.Close(); err != nil {
					t.Errorf("close: %v", err)
				}
			})
			tc.fn(t, s, newKeys(t))
		})
	}
}

// keys hands out partition keys unique to one subtest and one run, so runs
// against a long-lived table never see each other's items.
type keys struct{ prefix string }

func newKeys(t *testing.T) keys {
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatalf("random key: %v", err)
	}
	name := strings.NewReplacer(" ", "_", "/", ".").Replace(t.Name())
	return keys{prefix: "storetest#" + name + "#" + hex.EncodeToString(b[:]) + "#"}
}

func (k keys) pk(name string) string { return k.prefix + name }

type counter struct {
	N int `json:"n"`
}

func data(t *testing.T, v any) json.RawMessage {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("marshal: %v", err)
	}
	return b
}

func mustPut(t *testing.T, s store.Store, it store.Item, cond store.Cond) store.Item {
	t.Helper()
	got, err := s.Put(t.Context(), it, cond)
	if err != nil {
		t.Fatalf("put %s/%s: %v", it.PK, it.SK, err)
	}
	return got
}

func mustGet(t *testing.T, s store.Store, pk, sk string) store.Item {
	t.Helper()
	got, err := s.Get(t.Context(), pk, sk)
	if err != nil {
		t.Fatalf("get %s/%s: %v", pk, sk, err)
	}
	return got
}

func wantCode(t *testing.T, err error, code, what string) {
	t.Helper()
	if !errs.Is(err, code) {
		t.Fatalf("%s: got error %v (code %q), want code %q", what, err, errs.Code(err), code)
	}
}

func wantMissing(t *testing.T, s store.Store, pk, sk string) {
	t.Helper()
	_, err := s.Get(t.Context(), pk, sk)
	wantCode(t, err, errs.NotFound, "get "+pk+"/"+sk)
}

func wantData(t *testing.T, got store.Item, want json.RawMessage) {
	t.Helper()
	if !bytes.Equal(got.Data, want) {
		t.Fatalf("data of %s/%s = %s, want %s", got.PK, got.SK, got.Data, want)
	}
}

func wantVersion(t *testing.T, got store.Item, want int64) {
	t.Helper()
	if got.Version != want {
		t.Fatalf("version of %s/%s = %d, want %d", got.PK, got.SK, got.Version, want)
	}
}

func query(t *testing.T, s store.Store, q store.Query) store.Result {
	t.Helper()
	res, err := s.Query(t.Context(), q)
	if err != nil {
		t.Fatalf("query %+v: %v", q, err)
	}
	return res
}

// sks lists the sort keys a query returned, in order, which makes failures
// readable.
func sks(res store.Result) []string {
	out := make([]string, len(res.Items))
	for i, it := range res.Items {
		out[i] = it.SK
	}
	return out
}

func wantSKs(t *testing.T, res store.Result, total int, want ...string) {
	t.Helper()
	if got := sks(res); !slices.Equal(got, want) {
		t.Fatalf("query returned %q, want %q", got, want)
	}
	if res.Total != total {
		t.Fatalf("query total = %d, want %d", res.Total, total)
	}
}

func testRoundTrip(t *testing.T, s store.Store, k keys) {
	// Whole seconds: DynamoDB's TTL is epoch seconds, so that is the
	// precision every engine promises.
	exp := time.Now().Add(time.Hour).Truncate(time.Second)
	in := store.Item{
		PK: k.pk("p"), SK: "s",
		GSI1PK: k.pk("g1"), GSI1SK: "g1s",
		GSI2PK: k.pk("g2"), GSI2SK: "g2s",
		ExpiresAt: exp,
		Data:      json.RawMessage(`{"name":"ada","tags":["x","y"],"n":1.5}`),
	}
	put := mustPut(t, s, in, store.Cond{})
	wantVersion(t, put, 1)
	got := mustGet(t, s, in.PK, in.SK)
	wantVersion(t, got, 1)
	wantData(t, got, in.Data)
	if got.PK != in.PK || got.SK != in.SK || got.GSI1PK != in.GSI1PK || got.GSI1SK != in.GSI1SK ||
		got.GSI2PK != in.GSI2PK || got.GSI2SK != in.GSI2SK {
		t.Fatalf("keys: got %+v, want %+v", got, in)
	}
	if !got.ExpiresAt.Equal(exp) {
		t.Fatalf("ExpiresAt = %v, want %v", got.ExpiresAt, exp)
	}
	if !put.ExpiresAt.Equal(exp) {
		t.Fatalf("ExpiresAt returned by put = %v, want %v", put.ExpiresAt, exp)
	}

	// An item without optional fields comes back without them.
	bare := store.Item{PK: k.pk("p"), SK: "bare"}
	mustPut(t, s, bare, store.Cond{})
	got = mustGet(t, s, bare.PK, bare.SK)
	if got.GSI1PK != "" || got.GSI2PK != "" || !got.ExpiresAt.IsZero() || len(got.Data) != 0 {
		t.Fatalf("bare item came back as %+v", got)
	}
}

func testUpdateIncrementsVersion(t *testing.T, s store.Store, k keys) {
	it := store.Item{PK: k.pk("p"), SK: "s", Data: data(t, counter{1})}
	mustPut(t, s, it, store.Cond{})
	it.Data = data(t, counter{2})
	put := mustPut(t, s, it, store.Cond{})
	wantVersion(t, put, 2)
	got := mustGet(t, s, it.PK, it.SK)
	wantVersion(t, got, 2)
	wantData(t, got, it.Data)
	it.Data = data(t, counter{3})
	wantVersion(t, mustPut(t, s, it, store.Cond{}), 3)
}

func testVersionIgnored(t *testing.T, s store.Store, k keys) {
	it := store.Item{PK: k.pk("p"), SK: "s", Version: 42}
	wantVersion(t, mustPut(t, s, it, store.Cond{}), 1)
	wantVersion(t, mustGet(t, s, it.PK, it.SK), 1)
}

func testGetMissing(t *testing.T, s store.Store, k keys) {
	wantMissing(t, s, k.pk("nothing"), "here")
	// A neighbour in the same partition does not make the item exist.
	mustPut(t, s, store.Item{PK: k.pk("p"), SK: "a"}, store.Cond{})
	wantMissing(t, s, k.pk("p"), "b")
}

func testIfAbsentMissing(t *testing.T, s store.Store, k keys) {
	got := mustPut(t, s, store.Item{PK: k.pk("p"), SK: "s"}, store.Cond{IfAbsent: true})
	wantVersion(t, got, 1)
}

func testIfAbsentExisting(t *testing.T, s store.Store, k keys) {
	orig := data(t, counter{1})
	mustPut(t, s, store.Item{PK: k.pk("p"), SK: "s", Data: orig}, store.Cond{})
	_, err := s.Put(t.Context(), store.Item{PK: k.pk("p"), SK: "s", Data: data(t, counter{2})}, store.Cond{IfAbsent: true})
	wantCode(t, err, errs.Conflict, "put IfAbsent on existing")
	got := mustGet(t, s, k.pk("p"), "s")
	wantData(t, got, orig)
	wantVersion(t, got, 1)
}

func testIfVersionMatch(t *testing.T, s store.Store, k keys) {
	it := mustPut(t, s, store.Item{PK: k.pk("p"), SK: "s", Data: data(t, counter{1})}, store.Cond{})
	it.Data = data(t, counter{2})
	got := mustPut(t, s, it, store.Cond{IfVersion: 1})
	wantVersion(t, got, 2)
	got = mustPut(t, s, it, store.Cond{IfVersion: 2, IfExists: true})
	wantVersion(t, got, 3)
	wantData(t, mustGet(t, s, it.PK, it.SK), it.Data)
}

func testIfVersionMismatch(t *testing.T, s store.Store, k keys) {
	orig := data(t, counter{1})
	it := mustPut(t, s, store.Item{PK: k.pk("p"), SK: "s", Data: orig}, store.Cond{})
	mustPut(t, s, it, store.Cond{}) // now version 2
	for _, v := range []int64{1, 3} {
		stale := it
		stale.Data = data(t, counter{99})
		_, err := s.Put(t.Context(), stale, store.Cond{IfVersion: v})
		wantCode(t, err, errs.Conflict, fmt.Sprintf("put IfVersion %d on version 2", v))
	}
	got := mustGet(t, s, it.PK, it.SK)
	wantVersion(t, got, 2)
	wantData(t, got, orig)
}

func testIfVersionMissing(t *testing.T, s store.Store, k keys) {
	_, err := s.Put(t.Context(), store.Item{PK: k.pk("p"), SK: "s"}, store.Cond{IfVersion: 1})
	wantCode(t, err, errs.Conflict, "put IfVersion on missing")
	wantMissing(t, s, k.pk("p"), "s")
}

func testIfExistsMissing(t *testing.T, s store.Store, k keys) {
	_, err := s.Put(t.Context(), store.Item{PK: k.pk("p"), SK: "s"}, store.Cond{IfExists: true})
	wantCode(t, err, errs.Conflict, "put IfExists on missing")
	wantMissing(t, s, k.pk("p"), "s")
}

func testIfExistsExisting(t *testing.T, s store.Store, k keys) {
	it := mustPut(t, s, store.Item{PK: k.pk("p"), SK: "s"}, store.Cond{})
	it.Data = data(t, counter{5})
	wantVersion(t, mustPut(t, s, it, store.Cond{IfExists: true}), 2)
	wantData(t, mustGet(t, s, it.PK, it.SK), it.Data)
}

func testDeleteMissing(t *testing.T, s store.Store, k keys) {
	if err := s.Delete(t.Context(), k.pk("p"), "s", store.Cond{}); err != nil {
		t.Fatalf("delete missing: %v", err)
	}
}

func testDelete(t *testing.T, s store.Store, k keys) {
	mustPut(t, s, store.Item{PK: k.pk("p"), SK: "a"}, store.Cond{})
	mustPut(t, s, store.Item{PK: k.pk("p"), SK: "b"}, store.Cond{})
	if err := s.Delete(t.Context(), k.pk("p"), "a", store.Cond{}); err != nil {
		t.Fatalf("delete: %v", err)
	}
	wantMissing(t, s, k.pk("p"), "a")
	mustGet(t, s, k.pk("p"), "b")
	if err := s.Delete(t.Context(), k.pk("p"), "b", store.Cond{IfExists: true}); err != nil {
		t.Fatalf("delete IfExists: %v", err)
	}
	wantMissing(t, s, k.pk("p"), "b")
}

func testDeleteIfVersionMismatch(t *testing.T, s store.Store, k keys) {
	mustPut(t, s, store.Item{PK: k.pk("p"), SK: "s"}, store.Cond{})
	err := s.Delete(t.Context(), k.pk("p"), "s", store.Cond{IfVersion: 2})
	wantCode(t, err, errs.Conflict, "delete IfVersion mismatch")
	mustGet(t, s, k.pk("p"), "s")
}

func testDeleteIfVersionMatch(t *testing.T, s store.Store, k keys) {
	mustPut(t, s, store.Item{PK: k.pk("p"), SK: "s"}, store.Cond{})
	if err := s.Delete(t.Context(), k.pk("p"), "s", store.Cond{IfVersion: 1}); err != nil {
		t.Fatalf("delete IfVersion match: %v", err)
	}
	wantMissing(t, s, k.pk("p"), "s")
}

func testDeleteIfExistsMissing(t *testing.T, s store.Store, k keys) {
	err := s.Delete(t.Context(), k.pk("p"), "s", store.Cond{IfExists: true})
	wantCode(t, err, errs.NotFound, "delete IfExists on missing")
}

func testDeleteIfVersionMissing(t *testing.T, s store.Store, k keys) {
	err := s.Delete(t.Context(), k.pk("p"), "s", store.Cond{IfVersion: 1})
	wantCode(t, err, errs.Conflict, "delete IfVersion on missing")
}

func testVersionAfterDelete(t *testing.T, s store.Store, k keys) {
	it := store.Item{PK: k.pk("p"), SK: "s"}
	mustPut(t, s, it, store.Cond{})
	mustPut(t, s, it, store.Cond{})
	if err := s.Delete(t.Context(), it.PK, it.SK, store.Cond{}); err != nil {
		t.Fatalf("delete: %v", err)
	}
	wantVersion(t, mustPut(t, s, it, store.Cond{}), 1)
}

// seed writes one item per sort key under pk, in an order unlike the sorted
// one so engines cannot pass by returning insertion order.
func seed(t *testing.T, s store.Store, pk string, sortKeys ...string) {
	t.Helper()
	for i := len(sortKeys) - 1; i >= 0; i-- {
		mustPut(t, s, store.Item{PK: pk, SK: sortKeys[i], Data: data(t, map[string]string{"sk": sortKeys[i]})}, store.Cond{})
	}
}

func testQueryPrimary(t *testing.T, s store.Store, k keys) {
	seed(t, s, k.pk("p"), "a", "b#1", "b#2", "c", "ba")
	res := query(t, s, store.Query{PK: k.pk("p")})
	wantSKs(t, res, 5, "a", "b#1", "b#2", "ba", "c")
	for _, it := range res.Items {
		if it.PK != k.pk("p") || it.Version != 1 {
			t.Fatalf("query item %+v: want pk %s version 1", it, k.pk("p"))
		}
		wantData(t, it, data(t, map[string]string{"sk": it.SK}))
	}
}

func testQueryPrefix(t *testing.T, s store.Store, k keys) {
	seed(t, s, k.pk("p"), "a", "b#1", "b#2", "ba", "c")
	wantSKs(t, query(t, s, store.Query{PK: k.pk("p"), SKPrefix: "b#"}), 2, "b#1", "b#2")
	wantSKs(t, query(t, s, store.Query{PK: k.pk("p"), SKPrefix: "b"}), 3, "b#1", "b#2", "ba")
	wantSKs(t, query(t, s, store.Query{PK: k.pk("p"), SKPrefix: "b", Desc: true}), 3, "ba", "b#2", "b#1")
	wantSKs(t, query(t, s, store.Query{PK: k.pk("p"), SKPrefix: "z"}), 0)
}

func testQueryDesc(t *testing.T, s store.Store, k keys) {
	seed(t, s, k.pk("p"), "2024-01", "2024-02", "2023-12", "2024-03")
	wantSKs(t, query(t, s, store.Query{PK: k.pk("p"), Desc: true}), 4, "2024-03", "2024-02", "2024-01", "2023-12")
}

func testQueryOffsetLimit(t *testing.T, s store.Store, k keys) {
	seed(t, s, k.pk("p"), "a", "b", "c", "d", "e")
	pk := k.pk("p")
	cases := []struct {
		q    store.Query
		want []string
	}{
		{store.Query{PK: pk, Limit: 2}, []string{"a", "b"}},
		{store.Query{PK: pk, Offset: 2, Limit: 2}, []string{"c", "d"}},
		{store.Query{PK: pk, Offset: 4, Limit: 2}, []string{"e"}},
		{store.Query{PK: pk, Offset: 5, Limit: 2}, nil},
		{store.Query{PK: pk, Offset: 9}, nil},
		{store.Query{PK: pk, Offset: 3}, []string{"d", "e"}},
		{store.Query{PK: pk, Limit: 10}, []string{"a", "b", "c", "d", "e"}},
		{store.Query{PK: pk, Desc: true, Offset: 1, Limit: 2}, []string{"d", "c"}},
	}
	for _, c := range cases {
		res := query(t, s, c.q)
		if got := sks(res); !slices.Equal(got, c.want) || res.Total != 5 {
			t.Errorf("offset %d limit %d desc %v: got %q total %d, want %q total 5",
				c.q.Offset, c.q.Limit, c.q.Desc, got, res.Total, c.want)
		}
	}
	// Total counts matches of the prefix, not of the partition.
	wantSKs(t, query(t, s, store.Query{PK: pk, SKPrefix: "b", Limit: 1}), 1, "b")
}

// A NoTotal query returns the same pages as a counting one, in both
// orders, on the base table and an index, skipping expired items, with
// Total -1; partitions that extend each other stay apart.
func testQueryNoTotal(t *testing.T, s store.Store, k keys) {
	pk := k.pk("p")
	seed(t, s, pk, "a", "b", "c", "d", "e")
	seed(t, s, pk+"x", "a", "z")
	seed(t, s, k.pk("o"), "q")
	mustPut(t, s, store.Item{PK: pk, SK: "bb", ExpiresAt: time.Now().Add(-time.Hour)}, store.Cond{})
	cases := []struct {
		q    store.Query
		want []string
	}{
		{store.Query{PK: pk, Limit: 2}, []string{"a", "b"}},
		{store.Query{PK: pk, Offset: 1, Limit: 2}, []string{"b", "c"}},
		{store.Query{PK: pk, Offset: 4, Limit: 2}, []string{"e"}},
		{store.Query{PK: pk, Offset: 5, Limit: 2}, nil},
		{store.Query{PK: pk}, []string{"a", "b", "c", "d", "e"}},
		{store.Query{PK: pk, Desc: true, Limit: 2}, []string{"e", "d"}},
		{store.Query{PK: pk, Desc: true, Offset: 3, Limit: 5}, []string{"b", "a"}},
		{store.Query{PK: pk, SKPrefix: "b", Desc: true}, []string{"b"}},
		{store.Query{PK: pk + "x", Desc: true, Limit: 1}, []string{"z"}},
		{store.Query{PK: k.pk("o"), Desc: true, Limit: 3}, []string{"q"}},
		{store.Query{PK: k.pk("none"), Desc: true, Limit: 3}, nil},
	}
	for _, c := range cases {
		c.q.NoTotal = true
		res := query(t, s, c.q)
		if got := sks(res); !slices.Equal(got, c.want) || res.Total != -1 {
			t.Errorf("%s offset %d limit %d desc %v: got %q total %d, want %q total -1",
				c.q.PK[len(k.prefix):], c.q.Offset, c.q.Limit, c.q.Desc, got, res.Total, c.want)
		}
	}
	g := k.pk("g")
	for i, sk := range []string{"2024-01", "2024-02", "2024-03"} {
		mustPut(t, s, gsiItem(store.GSI1, k.pk(fmt.Sprint("u", i)), "i"+sk, g, sk), store.Cond{})
	}
	res := query(t, s, store.Query{Index: store.GSI1, PK: g, Desc: true, Limit: 2, NoTotal: true})
	if got := sks(res); !slices.Equal(got, []string{"i2024-03", "i2024-02"}) || res.Total != -1 || res.Items[0].PK != k.pk("u2") {
		t.Errorf("index page: %q total %d %+v", got, res.Total, res.Items)
	}
}

func testQueryIsolation(t *testing.T, s store.Store, k keys) {
	// Partition keys that extend each other catch engines that match
	// partitions by byte prefix.
	seed(t, s, k.pk("p"), "a", "b")
	seed(t, s, k.pk("p")+"x", "a", "c")
	seed(t, s, k.pk("p")+"#", "a")
	seed(t, s, k.pk("o"), "a")
	wantSKs(t, query(t, s, store.Query{PK: k.pk("p")}), 2, "a", "b")
	wantSKs(t, query(t, s, store.Query{PK: k.pk("p") + "x"}), 2, "a", "c")
	wantSKs(t, query(t, s, store.Query{PK: k.pk("p"), SKPrefix: "a"}), 1, "a")
	for _, it := range query(t, s, store.Query{PK: k.pk("p")}).Items {
		if it.PK != k.pk("p") {
			t.Fatalf("query of %s returned item of %s", k.pk("p"), it.PK)
		}
	}
}

func testQueryEmpty(t *testing.T, s store.Store, k keys) {
	res := query(t, s, store.Query{PK: k.pk("none")})
	wantSKs(t, res, 0)
	res = query(t, s, store.Query{Index: store.GSI1, PK: k.pk("none")})
	wantSKs(t, res, 0)
}

// gsiItem sets the keys of the named index, leaving the other index empty.
func gsiItem(idx store.Index, pk, sk, gpk, gsk string) store.Item {
	it := store.Item{PK: pk, SK: sk}
	if idx == store.GSI1 {
		it.GSI1PK, it.GSI1SK = gpk, gsk
	} else {
		it.GSI2PK, it.GSI2SK = gpk, gsk
	}
	return it
}

func testQueryGSI(t *testing.T, s store.Store, k keys, idx store.Index) {
	g := k.pk("g")
	// Items of different base partitions share one index partition, which
	// is what indexes are for (for example, lookups across users).
	mustPut(t, s, gsiItem(idx, k.pk("u1"), "x", g, "2024-03"), store.Cond{})
	mustPut(t, s, gsiItem(idx, k.pk("u2"), "y", g, "2024-01"), store.Cond{})
	mustPut(t, s, gsiItem(idx, k.pk("u1"), "z", g, "2023-07"), store.Cond{})
	mustPut(t, s, gsiItem(idx, k.pk("u3"), "w", g+"x", "2024-02"), store.Cond{})
	// No index keys: absent from the index.
	mustPut(t, s, store.Item{PK: k.pk("u1"), SK: "plain"}, store.Cond{})
	// Keys of the other index only: absent from this one.
	other := store.GSI2
	if idx == store.GSI2 {
		other = store.GSI1
	}
	mustPut(t, s, gsiItem(other, k.pk("u4"), "v", g, "2024-05"), store.Cond{})

	res := query(t, s, store.Query{Index: idx, PK: g})
	if got, want := sks(res), []string{"z", "y", "x"}; !slices.Equal(got, want) || res.Total != 3 {
		t.Fatalf("index %s: got base sks %q total %d, want %q total 3", idx, got, res.Total, want)
	}
	if res.Items[0].PK != k.pk("u1") || res.Items[1].PK != k.pk("u2") {
		t.Fatalf("index %s returned base keys %+v", idx, res.Items)
	}
	res = query(t, s, store.Query{Index: idx, PK: g, SKPrefix: "2024", Desc: true})
	if got, want := sks(res), []string{"x", "y"}; !slices.Equal(got, want) || res.Total != 2 {
		t.Fatalf("index %s prefix desc: got %q total %d, want %q total 2", idx, got, res.Total, want)
	}
	res = query(t, s, store.Query{Index: idx, PK: g, Offset: 1, Limit: 1})
	if got, want := sks(res), []string{"y"}; !slices.Equal(got, want) || res.Total != 3 {
		t.Fatalf("index %s page: got %q total %d, want %q total 3", idx, got, res.Total, want)
	}
	// Index items carry the whole item, not just keys.
	full := res.Items[0]
	if full.Version != 1 || (idx == store.GSI1 && full.GSI1SK != "2024-01") || (idx == store.GSI2 && full.GSI2SK != "2024-01") {
		t.Fatalf("index %s item incomplete: %+v", idx, full)
	}
}

func testIndexMaintenance(t *testing.T, s store.Store, k keys) {
	g, h := k.pk("g"), k.pk("h")
	it := store.Item{PK: k.pk("p"), SK: "s", GSI1PK: g, GSI1SK: "1", GSI2PK: h, GSI2SK: "1"}
	mustPut(t, s, it, store.Cond{})
	// Moving the item within and between index partitions leaves no stale
	// entry behind.
	it.GSI1SK = "2"
	mustPut(t, s, it, store.Cond{})
	res := query(t, s, store.Query{Index: store.GSI1, PK: g})
	if res.Total != 1 || res.Items[0].GSI1SK != "2" {
		t.Fatalf("after gsi1 sk change: %+v", res)
	}
	it.GSI1PK = g + "2"
	mustPut(t, s, it, store.Cond{})
	wantSKs(t, query(t, s, store.Query{Index: store.GSI1, PK: g}), 0)
	wantSKs(t, query(t, s, store.Query{Index: store.GSI1, PK: g + "2"}), 1, "s")
	it.GSI1PK, it.GSI1SK = "", ""
	mustPut(t, s, it, store.Cond{})
	wantSKs(t, query(t, s, store.Query{Index: store.GSI1, PK: g + "2"}), 0)
	wantSKs(t, query(t, s, store.Query{Index: store.GSI2, PK: h}), 1, "s")
	if err := s.Delete(t.Context(), it.PK, it.SK, store.Cond{}); err != nil {
		t.Fatalf("delete: %v", err)
	}
	wantSKs(t, query(t, s, store.Query{Index: store.GSI2, PK: h}), 0)
}

func testExpired(t *testing.T, s store.Store, k keys) {
	past := time.Now().Add(-time.Hour)
	future := time.Now().Add(time.Hour)
	g := k.pk("g")
	mustPut(t, s, store.Item{PK: k.pk("p"), SK: "old", GSI1PK: g, GSI1SK: "old", ExpiresAt: past}, store.Cond{})
	mustPut(t, s, store.Item{PK: k.pk("p"), SK: "new", GSI1PK: g, GSI1SK: "new", ExpiresAt: future}, store.Cond{})
	mustPut(t, s, store.Item{PK: k.pk("p"), SK: "forever", GSI1PK: g, GSI1SK: "forever"}, store.Cond{})
	wantMissing(t, s, k.pk("p"), "old")
	mustGet(t, s, k.pk("p"), "new")
	wantSKs(t, query(t, s, store.Query{PK: k.pk("p")}), 2, "forever", "new")
	wantSKs(t, query(t, s, store.Query{PK: k.pk("p"), Limit: 1}), 2, "forever")
	wantSKs(t, query(t, s, store.Query{Index: store.GSI1, PK: g}), 2, "forever", "new")
}

func testExpiredWrites(t *testing.T, s store.Store, k keys) {
	past := time.Now().Add(-time.Hour)
	expired := func(sk string) store.Item {
		it := store.Item{PK: k.pk("p"), SK: sk, ExpiresAt: past}
		mustPut(t, s, it, store.Cond{})
		mustPut(t, s, it, store.Cond{}) // an old version, to see it is not continued
		it.ExpiresAt = time.Time{}
		return it
	}

	it := expired("absent")
	wantVersion(t, mustPut(t, s, it, store.Cond{IfAbsent: true}), 1)

	it = expired("plain")
	wantVersion(t, mustPut(t, s, it, store.Cond{}), 1)
	wantVersion(t, mustGet(t, s, it.PK, it.SK), 1)

	it = expired("exists")
	_, err := s.Put(t.Context(), it, store.Cond{IfExists: true})
	wantCode(t, err, errs.Conflict, "put IfExists on expired")
	_, err = s.Put(t.Context(), it, store.Cond{IfVersion: 2})
	wantCode(t, err, errs.Conflict, "put IfVersion on expired")
	err = s.Delete(t.Context(), it.PK, it.SK, store.Cond{IfExists: true})
	wantCode(t, err, errs.NotFound, "delete IfExists on expired")
	if err := s.Delete(t.Context(), it.PK, it.SK, store.Cond{}); err != nil {
		t.Fatalf("delete expired: %v", err)
	}

	// Transactions see expiry the same way.
	tx := expired("tx")
	err = s.Transact(t.Context(), []store.Op{{Kind: store.OpCheck, Item: tx, Cond: store.Cond{IfExists: true}}})
	wantCode(t, err, errs.Conflict, "transact check IfExists on expired")
	tx2 := expired("tx2")
	err = s.Transact(t.Context(), []store.Op{
		{Kind: store.OpPut, Item: tx, Cond: store.Cond{IfAbsent: true}},
		{Kind: store.OpPut, Item: tx2},
	})
	if err != nil {
		t.Fatalf("transact puts over expired: %v", err)
	}
	wantVersion(t, mustGet(t, s, tx.PK, tx.SK), 1)
	wantVersion(t, mustGet(t, s, tx2.PK, tx2.SK), 1)
}

func testTransactApplies(t *testing.T, s store.Store, k keys) {
	pk := k.pk("p")
	mustPut(t, s, store.Item{PK: pk, SK: "del"}, store.Cond{})
	mustPut(t, s, store.Item{PK: pk, SK: "upd", Data: data(t, counter{1})}, store.Cond{})
	mustPut(t, s, store.Item{PK: pk, SK: "chk"}, store.Cond{})
	err := s.Transact(t.Context(), []store.Op{
		{Kind: store.OpPut, Item: store.Item{PK: pk, SK: "new", GSI1PK: k.pk("g"), GSI1SK: "1", Data: data(t, counter{7})}, Cond: store.Cond{IfAbsent: true}},
		{Kind: store.OpCheck, Item: store.Item{PK: pk, SK: "chk"}, Cond: store.Cond{IfVersion: 1}},
		{Kind: store.OpPut, Item: store.Item{PK: pk, SK: "upd", Data: data(t, counter{2})}, Cond: store.Cond{IfVersion: 1}},
		{Kind: store.OpPut, Item: store.Item{PK: pk, SK: "plain"}},
		{Kind: store.OpDelete, Item: store.Item{PK: pk, SK: "del"}, Cond: store.Cond{IfExists: true}},
		{Kind: store.OpDelete, Item: store.Item{PK: pk, SK: "never-existed"}},
	})
	if err != nil {
		t.Fatalf("transact: %v", err)
	}
	got := mustGet(t, s, pk, "new")
	wantVersion(t, got, 1)
	wantData(t, got, data(t, counter{7}))
	got = mustGet(t, s, pk, "upd")
	wantVersion(t, got, 2)
	wantData(t, got, data(t, counter{2}))
	wantVersion(t, mustGet(t, s, pk, "plain"), 1)
	wantVersion(t, mustGet(t, s, pk, "chk"), 1)
	wantMissing(t, s, pk, "del")
	wantSKs(t, query(t, s, store.Query{Index: store.GSI1, PK: k.pk("g")}), 1, "new")
	if err := s.Transact(t.Context(), nil); err != nil {
		t.Fatalf("empty transact: %v", err)
	}
}

// failingTransact runs a transaction whose middle op fails and checks that
// the ops around it left no trace.
func failingTransact(t *testing.T, s store.Store, k keys, failing store.Op) {
	t.Helper()
	pk := k.pk("p")
	keep := mustPut(t, s, store.Item{PK: pk, SK: "keep", Data: data(t, counter{1})}, store.Cond{})
	mustPut(t, s, store.Item{PK: pk, SK: "upd", Data: data(t, counter{1})}, store.Cond{})
	err := s.Transact(t.Context(), []store.Op{
		{Kind: store.OpPut, Item: store.Item{PK: pk, SK: "new", GSI1PK: k.pk("g"), GSI1SK: "1"}},
		{Kind: store.OpDelete, Item: store.Item{PK: pk, SK: "keep"}},
		failing,
		{Kind: store.OpPut, Item: store.Item{PK: pk, SK: "upd", Data: data(t, counter{2})}, Cond: store.Cond{IfVersion: 1}},
		{Kind: store.OpPut, Item: store.Item{PK: pk, SK: "new2"}, Cond: store.Cond{IfAbsent: true}},
	})
	wantCode(t, err, errs.Conflict, "transact with failing op")
	wantMissing(t, s, pk, "new")
	wantMissing(t, s, pk, "new2")
	got := mustGet(t, s, pk, "keep")
	wantVersion(t, got, 1)
	wantData(t, got, keep.Data)
	got = mustGet(t, s, pk, "upd")
	wantVersion(t, got, 1)
	wantData(t, got, data(t, counter{1}))
	wantSKs(t, query(t, s, store.Query{Index: store.GSI1, PK: k.pk("g")}), 0)
}

func testTransactFailingCheck(t *testing.T, s store.Store, k keys) {
	failingTransact(t, s, k, store.Op{Kind: store.OpCheck, Item: store.Item{PK: k.pk("p"), SK: "missing"}, Cond: store.Cond{IfExists: true}})
}

func testTransactFailingIfAbsent(t *testing.T, s store.Store, k keys) {
	mustPut(t, s, store.Item{PK: k.pk("p"), SK: "taken"}, store.Cond{})
	failingTransact(t, s, k, store.Op{Kind: store.OpPut, Item: store.Item{PK: k.pk("p"), SK: "taken"}, Cond: store.Cond{IfAbsent: true}})
	wantVersion(t, mustGet(t, s, k.pk("p"), "taken"), 1)
}

func testTransactFailingDelete(t *testing.T, s store.Store, k keys) {
	mustPut(t, s, store.Item{PK: k.pk("p"), SK: "versioned"}, store.Cond{})
	failingTransact(t, s, k, store.Op{Kind: store.OpDelete, Item: store.Item{PK: k.pk("p"), SK: "versioned"}, Cond: store.Cond{IfVersion: 5}})
	mustGet(t, s, k.pk("p"), "versioned")
}

func manyPuts(k keys, n int) []store.Op {
	ops := make([]store.Op, n)
	for i := range ops {
		ops[i] = store.Op{Kind: store.OpPut, Item: store.Item{PK: k.pk("p"), SK: fmt.Sprintf("%03d", i)}}
	}
	return ops
}

func testTransactMax(t *testing.T, s store.Store, k keys) {
	if err := s.Transact(t.Context(), manyPuts(k, store.MaxTransactOps)); err != nil {
		t.Fatalf("transact with %d ops: %v", store.MaxTransactOps, err)
	}
	if res := query(t, s, store.Query{PK: k.pk("p"), Limit: 1}); res.Total != store.MaxTransactOps {
		t.Fatalf("after transact: total %d, want %d", res.Total, store.MaxTransactOps)
	}
}

func testTransactTooMany(t *testing.T, s store.Store, k keys) {
	err := s.Transact(t.Context(), manyPuts(k, store.MaxTransactOps+1))
	wantCode(t, err, errs.Invalid, "transact over max ops")
	wantSKs(t, query(t, s, store.Query{PK: k.pk("p")}), 0)
}

func testTransactDuplicate(t *testing.T, s store.Store, k keys) {
	it := store.Item{PK: k.pk("p"), SK: "s"}
	err := s.Transact(t.Context(), []store.Op{
		{Kind: store.OpPut, Item: it},
		{Kind: store.OpCheck, Item: it, Cond: store.Cond{IfAbsent: true}},
	})
	wantCode(t, err, errs.Invalid, "transact touching one item twice")
	wantMissing(t, s, it.PK, it.SK)
}

func testTransactCheckNoCond(t *testing.T, s store.Store, k keys) {
	err := s.Transact(t.Context(), []store.Op{{Kind: store.OpCheck, Item: store.Item{PK: k.pk("p"), SK: "s"}}})
	wantCode(t, err, errs.Invalid, "transact check without condition")
	err = s.Transact(t.Context(), []store.Op{{Kind: 0, Item: store.Item{PK: k.pk("p"), SK: "s"}}})
	wantCode(t, err, errs.Invalid, "transact op without kind")
}

func testTooLarge(t *testing.T, s store.Store, k keys) {
	big := make([]byte, store.MaxItemBytes+1)
	for i := range big {
		big[i] = 'a'
	}
	it := store.Item{PK: k.pk("p"), SK: "s", Data: json.RawMessage(`"` + string(big) + `"`)}
	_, err := s.Put(t.Context(), it, store.Cond{})
	wantCode(t, err, errs.Invalid, "put over max size")
	err = s.Transact(t.Context(), []store.Op{{Kind: store.OpPut, Item: it}})
	wantCode(t, err, errs.Invalid, "transact put over max size")
	wantMissing(t, s, it.PK, it.SK)
}

func testNearMaxSize(t *testing.T, s store.Store, k keys) {
	big := bytes.Repeat([]byte("b"), store.MaxItemBytes-1024)
	it := store.Item{PK: k.pk("p"), SK: "s", Data: json.RawMessage(`"` + string(big) + `"`)}
	mustPut(t, s, it, store.Cond{})
	wantData(t, mustGet(t, s, it.PK, it.SK), it.Data)
}

func testInvalid(t *testing.T, s store.Store, k keys) {
	pk := k.pk("p")
	puts := []struct {
		name string
		it   store.Item
		cond store.Cond
	}{
		{"empty pk", store.Item{SK: "s"}, store.Cond{}},
		{"empty sk", store.Item{PK: pk}, store.Cond{}},
		{"NUL in pk", store.Item{PK: pk + "\x00", SK: "s"}, store.Cond{}},
		{"NUL in sk", store.Item{PK: pk, SK: "a\x00b"}, store.Cond{}},
		{"invalid UTF-8 in sk", store.Item{PK: pk, SK: "\xff"}, store.Cond{}},
		{"sk too long", store.Item{PK: pk, SK: strings.Repeat("s", 1025)}, store.Cond{}},
		{"gsi1 pk without sk", store.Item{PK: pk, SK: "s", GSI1PK: "g"}, store.Cond{}},
		{"gsi2 pk without sk", store.Item{PK: pk, SK: "s", GSI2PK: "g"}, store.Cond{}},
		{"IfAbsent with IfExists", store.Item{PK: pk, SK: "s"}, store.Cond{IfAbsent: true, IfExists: true}},
		{"IfAbsent with IfVersion", store.Item{PK: pk, SK: "s"}, store.Cond{IfAbsent: true, IfVersion: 1}},
		{"negative IfVersion", store.Item{PK: pk, SK: "s"}, store.Cond{IfVersion: -1}},
	}
	for _, c := range puts {
		_, err := s.Put(t.Context(), c.it, c.cond)
		wantCode(t, err, errs.Invalid, "put with "+c.name)
	}
	err := s.Delete(t.Context(), "", "s", store.Cond{})
	wantCode(t, err, errs.Invalid, "delete with empty pk")
	_, err = s.Get(t.Context(), pk, "")
	wantCode(t, err, errs.Invalid, "get with empty sk")
	queries := []struct {
		name string
		q    store.Query
	}{
		{"empty pk", store.Query{}},
		{"unknown index", store.Query{Index: "gsi9", PK: pk}},
		{"negative offset", store.Query{PK: pk, Offset: -1}},
		{"negative limit", store.Query{PK: pk, Limit: -1}},
	}
	for _, c := range queries {
		_, err := s.Query(t.Context(), c.q)
		wantCode(t, err, errs.Invalid, "query with "+c.name)
	}
	wantSKs(t, query(t, s, store.Query{PK: pk}), 0)
}

func testConcurrentIncrements(t *testing.T, s store.Store, k keys) {
	const workers, increments = 8, 10
	pk, sk := k.pk("counter"), "n"
	mustPut(t, s, store.Item{PK: pk, SK: sk, Data: data(t, counter{0})}, store.Cond{IfAbsent: true})

	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	var (
		mu   sync.Mutex
		won  = map[int64]int{} // version written -> how many writers got it
		wg   sync.WaitGroup
		fail = make(chan error, workers)
	)
	for range workers {
		wg.Go(func() {
			for range increments {
				for {
					cur, err := s.Get(ctx, pk, sk)
					if err != nil {
						fail <- fmt.Errorf("get: %w", err)
						return
					}
					var c counter
					if err := json.Unmarshal(cur.Data, &c); err != nil {
						fail <- fmt.Errorf("decode %s: %w", cur.Data, err)
						return
					}
					c.N++
					cur.Data, _ = json.Marshal(c)
					put, err := s.Put(ctx, cur, store.Cond{IfVersion: cur.Version})
					if errs.Is(err, errs.Conflict) {
						continue
					}
					if err != nil {
						fail <- fmt.Errorf("put: %w", err)
						return
					}
					mu.Lock()
					won[put.Version]++
					mu.Unlock()
					break
				}
			}
		})
	}
	wg.Wait()
	close(fail)
	for err := range fail {
		t.Fatal(err)
	}
	got := mustGet(t, s, pk, sk)
	var c counter
	if err := json.Unmarshal(got.Data, &c); err != nil {
		t.Fatalf("decode final: %v", err)
	}
	if c.N != workers*increments {
		t.Fatalf("counter = %d, want %d (lost updates)", c.N, workers*increments)
	}
	wantVersion(t, got, workers*increments+1)
	for v := int64(2); v <= workers*increments+1; v++ {
		if won[v] != 1 {
			t.Fatalf("version %d was won by %d writers, want exactly 1", v, won[v])
		}
	}
}
