// Package enginetest gives tests of code above the ports one empty store
// per engine (bbolt, and DynamoDB Local through dynamolocal), or a store and
// bucket per deployment, so every domain test runs on both without each
// package repeating the set-up.
// Packages using it call dynamolocal.Main from their TestMain.
package enginetest

import (
	"crypto/rand"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/openrescale/platform/shared/blob"
	"github.com/openrescale/platform/shared/blob/fileblob"
	"github.com/openrescale/platform/shared/blob/s3blob"
	"github.com/openrescale/platform/shared/blob/s3blob/s3local"
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

// OnlyEnv names the environment variable that keeps one engine (its Name,
// e.g. ENGINETEST_ONLY=bolt), and the backends built on it. `make
// mutation` sets it: it runs each package's tests once per mutant, and a
// JVM start per run would cost more than the run. It has no effect under
// REQUIRE_TEST_SERVERS=1, so CI cannot be narrowed by it.
const OnlyEnv = "ENGINETEST_ONLY"

func only() string {
	if os.Getenv("REQUIRE_TEST_SERVERS") == "1" {
		return ""
	}
	return os.Getenv(OnlyEnv)
}

// Engines lists the store engines. The DynamoDB one skips or fails (under
// REQUIRE_TEST_SERVERS=1) when DynamoDB Local cannot start.
func Engines() []Engine {
	all := engines()
	if o := only(); o != "" {
		for _, e := range all {
			if e.Name == o {
				return []Engine{e}
			}
		}
	}
	return all
}

func engines() []Engine {
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

// Backend pairs a store engine with the file storage deployed beside it.
type Backend struct {
	Name string
	Open func(tb testing.TB) (store.Store, blob.Bucket)
}

// Backends are the two deployments' adapters: bbolt with files on disk
// (local mode), and DynamoDB Local with an in-process S3-protocol server
// (AWS).
func Backends() []Backend {
	all := backends()
	if o := only(); o != "" {
		for _, b := range all {
			if strings.HasPrefix(b.Name, o+"+") {
				return []Backend{b}
			}
		}
	}
	return all
}

func backends() []Backend {
	eng := engines()
	return []Backend{
		{Name: "bolt+fileblob", Open: func(tb testing.TB) (store.Store, blob.Bucket) {
			b, err := fileblob.New(filepath.Join(tb.TempDir(), "blobs"))
			if err != nil {
				tb.Fatal(err)
			}
			tb.Cleanup(func() { b.Close() })
			return eng[0].Open(tb), b
		}},
		{Name: "dynamo+s3", Open: func(tb testing.TB) (store.Store, blob.Bucket) {
			const bucket = "test-bucket"
			return eng[1].Open(tb), s3blob.New(s3local.Start(tb, bucket), bucket)
		}},
	}
}
