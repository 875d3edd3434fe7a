package main

import (
	"bytes"
	"flag"
	"os"
	"reflect"
	"testing"

	"github.com/openrescale/platform/cmd/lambda/internal/gencatalog"
	"github.com/openrescale/platform/shared/catalog"
)

var update = flag.Bool("update", false, "rewrite catalog_gen.go from shared/catalog's seed files")

// The functions' catalog is Go literals of what catalog.Load parses, so
// a seed file edit must come with `go generate ./cmd/lambda`; this fails
// until it does, and checks the literals build the very same catalog.
func TestCatalogSeed(t *testing.T) {
	want, err := catalog.Load()
	if err != nil {
		t.Fatal(err)
	}
	src, err := gencatalog.Source("main", want)
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		// This binary holds the old literals: the next run checks the new.
		if err := os.WriteFile("catalog_gen.go", src, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	have, err := os.ReadFile("catalog_gen.go")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(have, src) {
		t.Fatal("catalog_gen.go is stale: run go generate ./cmd/lambda")
	}
	got, err := catalog.New(seedCoretypes(), seedAnalyses(), seedComputePrices())
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name      string
		got, want any
	}{
		{"coretypes", got.Coretypes(), want.Coretypes()},
		{"analyses", got.Analyses(), want.Analyses()},
		{"prices", got.ComputePrices(), want.ComputePrices()},
		// lazyCatalog serves the lists as the literals themselves.
		{"coretypes as generated", seedCoretypes(), want.Coretypes()},
		{"analyses as generated", seedAnalyses(), want.Analyses()},
		{"prices as generated", seedComputePrices(), want.ComputePrices()},
		{"the lists' coretypes", lazyCatalog{}.Coretypes(), got.Coretypes()},
		{"the lists' analyses", lazyCatalog{}.Analyses(), got.Analyses()},
		{"the lists' prices", lazyCatalog{}.ComputePrices(), got.ComputePrices()},
	} {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("%s built from catalog_gen.go differ from catalog.Load's", c.name)
		}
	}
	if len(want.Coretypes()) == 0 || len(want.Analyses()) == 0 || len(want.ComputePrices()) == 0 {
		t.Fatal("the embedded catalog is empty")
	}
}

// The list built at init goes to the first caller only: each caller owns
// its copy, as the catalog's own methods promise.
func TestReadyListsHandedOutOnce(t *testing.T) {
	ready := seedAnalyses()
	c := lazyCatalog{lists: &readyLists{analyses: ready}}
	first, second := c.Analyses(), c.Analyses()
	if len(first) == 0 || &first[0] != &ready[0] {
		t.Fatal("the first call did not get the list built at init")
	}
	if &second[0] == &first[0] || !reflect.DeepEqual(first, second) {
		t.Fatal("the second call shares the first's list, or differs from it")
	}
	if got := (lazyCatalog{}).Coretypes(); !reflect.DeepEqual(got, seedCoretypes()) {
		t.Fatal("coretypes without ready lists")
	}
}
