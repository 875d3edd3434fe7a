// Package enginetest gives tests of code above the store port one empty
// store per engine (bbolt, and DynamoDB Local through dynamolocal), so every
// domain test runs on both without each package repeating the set-up.
// Packages using it call dynamolocal.Main from their TestMain.
package enginetest

import (
	"crypto/rand"
	"encoding/hex"
	"path/filepath"
	"testing"
	"time"

	"github.com/openrescale/platform/shared/store"
	"github.com/openrescale/platform/shared/store/boltstore"
	"github.com/openrescale/platform/shared/store/dynamostore"
	"github.com/openrescale/platform/shared/store/dynamostore/dynamolocal"
)

// Engine opens a fresh, empty store of one kind.
type Engine struct {
	Name string
	Open func(tb testing.TB) store.Store
}

// Engines lists the store engines. The DynamoDB one skips or fails (under
// REQUIRE_TEST_SERVERS=1) when DynamoDB Local cannot start.
func Engines() []Engine {
	return []Engine{
		{Name: "bolt", Open: func(tb testing.TB) store.Store {
			st, err := boltstore.Open(filepath.Join(tb.TempDir(), "store.db"), boltstore.Options{Timeout: time.Second})
			if err != nil {
				tb.Fatal(err)
			}
			tb.Cleanup(func() { st.Close() })
			return st
		}},
		{Name: "dynamo", Open: func(tb testing.TB) store.Store {
			client, _ := dynamolocal.Shared(tb)
			var b [6]byte
			_, _ = rand.Read(b[:])
			// A table per test keeps parallel tests on one server apart.
			table := "t-" + hex.EncodeToString(b[:])
			if err := dynamostore.CreateTable(tb.Context(), client, table); err != nil {
				tb.Fatalf("create table %s: %v", table, err)
			}
			return dynamostore.New(client, table)
		}},
	}
}

// Run runs fn as a subtest on each engine.
func Run(t *testing.T, fn func(t *testing.T, st store.Store)) {
	for _, e := range Engines() {
		t.Run(e.Name, func(t *testing.T) { fn(t, e.Open(t)) })
	}
}

// Bench runs fn as a sub-benchmark on each engine.
func Bench(b *testing.B, fn func(b *testing.B, st store.Store)) {
	for _, e := range Engines() {
		b.Run(e.Name, func(b *testing.B) { fn(b, e.Open(b)) })
	}
}
