package jobs

import (
	"context"
	"fmt"
	"github.com/openrescale/platform/shared/store/enginetest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openrescale/platform/shared/catalog"
	"github.com/openrescale/platform/shared/files"
	"github.com/openrescale/platform/shared/jobs/search"
	"github.com/openrescale/platform/shared/store"
)

// Listing benchmarks over one user's 10,000 jobs on both engines:
//
//	REQUIRE_TEST_SERVERS=1 go test -run='^$' -bench=List -benchtime=2s ./shared/jobs/
//
// Each sub-benchmark also reports x-baseline: its time per request over
// the time of a raw store.Query that reads the same rows (measured in the
// same run), i.e. what the domain adds on top of the store.
const (
	benchJobs  = 10000
	benchFiles = 50
)

func BenchmarkList(b *testing.B) { enginetest.Bench(b, benchList) }

// Page 1 of GET /api/v2/jobs/ as a user's history grows: with the count in
// a counter item it reads one page and one item, whatever the history.
//
//	REQUIRE_TEST_SERVERS=1 go test -run='^$' -bench=ListPage1 -benchtime=2s ./shared/jobs/
func BenchmarkListPage1(b *testing.B) {
	enginetest.Bench(b, func(b *testing.B, st store.Store) {
		for _, n := range []int{10000, 100000} {
			b.Run(fmt.Sprintf("jobs=%d", n), func(b *testing.B) {
				// Each size in its own partition of the shared engine.
				svc, o := seedBenchN(b, st, n, fmt.Sprintf("ubench%d", n))
				page := func() error {
					js, total, err := svc.List(b.Context(), o.UserID, ListOptions{Scope: ScopeOwned, Limit: 10})
					if err == nil && (len(js) != 10 || total != n) {
						err = fmt.Errorf("page1: %d of %d", len(js), total)
					}
					return err
				}
				if err := page(); err != nil { // counts the seeded jobs once
					b.Fatal(err)
				}
				for b.Loop() {
					if err := page(); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	})
}

// benchDoc is a minimal search.Doc (the endpoint's lives in functions/jobs,
// which this package cannot import); matching cost is the same shape.
type benchDoc struct {
	j        Job
	fileTags []string
}

func (d benchDoc) Name() string { return d.j.Spec.Name }
func (d benchDoc) AnalysisNames() []string {
	var out []string
	for _, ja := range d.j.Spec.JobAnalyses {
		out = append(out, ja.Analysis.Code)
	}
	return out
}
func (d benchDoc) Tags() []string {
	out := make([]string, 0, len(d.j.Tags)+len(d.fileTags))
	for _, t := range d.j.Tags {
		out = append(out, t.NormalizedName)
	}
	return append(out, d.fileTags...)
}
func (d benchDoc) Owner() string      { return d.j.OwnerEmail }
func (d benchDoc) Comments() []string { return nil }
func (d benchDoc) Project() string    { return "" }
func (d benchDoc) ProjectID() string  { return "" }
func (d benchDoc) Software() []string { return d.AnalysisNames() }
func (d benchDoc) Versions() []string { return nil }

// seedBench writes benchJobs jobs (every 10th tagged "hot", every 7th
// named "heat exchanger") referring to benchFiles input files (every 5th
// tagged "hot"), in transactions of 100 written concurrently.
func seedBench(b *testing.B, st store.Store) (*Service, Owner) {
	return seedBenchN(b, st, benchJobs, "ubench")
}

// seedBenchN is seedBench for n jobs of the user uid. Jobs are written
// directly, without the job counter, as jobs from before it were.
func seedBenchN(b *testing.B, st store.Store, benchJobs int, uid string) (*Service, Owner) {
	b.Helper()
	ctx := b.Context()
	cat, err := catalog.Load()
	if err != nil {
		b.Fatal(err)
	}
	fr := files.NewRepo(st)
	svc := New(st, cat, fr, nil, time.Now)
	o := Owner{UserID: uid, Email: "bench@example.com"}
	hot, _ := files.NewTag("hot")
	for i := range benchFiles {
		f := files.File{ID: fmt.Sprintf("bf%d", i), OwnerID: o.UserID, OwnerEmail: o.Email, Name: fmt.Sprintf("in%d.zip", i),
			TypeID: files.TypeInput, DateUploaded: time.Now(), Key: files.NewKey(o.UserID, fmt.Sprintf("in%d.zip", i)), Size: 1, IsUploaded: true}
		if i%5 == 0 {
			f.Tags = []files.Tag{hot}
		}
		if _, err := fr.Create(ctx, f); err != nil {
			b.Fatal(err)
		}
	}
	start := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	job := func(i int) Job {
		name := fmt.Sprintf("job %d", i)
		if i%7 == 0 {
			name += " heat exchanger"
		}
		j := Job{ID: fmt.Sprintf("bj%s%06d", uid, i), OwnerID: o.UserID, OwnerEmail: o.Email,
			DateInserted: start.Add(time.Duration(i) * time.Minute), Tags: []files.Tag{}, SharedWith: []string{},
			Spec: Spec{Name: name, JobAnalyses: []JobAnalysis{{
				Analysis: AnalysisRef{Code: "user_included", Version: "0"}, Command: "run",
				Hardware:   Hardware{CoreType: "standard-plus", CoresPerSlot: 1, Slots: 1},
				InputFiles: []FileRef{{ID: fmt.Sprintf("bf%d", (i/3)%benchFiles)}},
			}}}}
		if i%10 == 0 {
			j.Tags = []files.Tag{hot}
		}
		return j
	}
	batches := make(chan int)
	errc := make(chan error, 1)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for lo := range batches {
				ops := make([]store.Op, 0, store.MaxTransactOps)
				for i := lo; i < min(lo+store.MaxTransactOps, benchJobs); i++ {
					it, err := svc.item(job(i))
					if err != nil {
						panic(err)
					}
					ops = append(ops, store.Op{Kind: store.OpPut, Item: it})
				}
				if err := st.Transact(ctx, ops); err != nil {
					select {
					case errc <- err:
					default:
					}
				}
			}
		})
	}
	t0 := time.Now()
	for lo := 0; lo < benchJobs; lo += store.MaxTransactOps {
		batches <- lo
	}
	close(batches)
	wg.Wait()
	select {
	case err := <-errc:
		b.Fatal(err)
	default:
	}
	b.Logf("seeded %d jobs in %v", benchJobs, time.Since(t0).Round(time.Millisecond))
	return svc, o
}

func benchList(b *testing.B, st store.Store) {
	svc, o := seedBench(b, st)
	ctx := b.Context()
	raw := func(limit int) func() error {
		return func() error {
			_, err := st.Query(ctx, store.Query{Index: store.GSI1, PK: jobsByDatePK(o.UserID), Desc: true, Limit: limit, NoTotal: limit > 0})
			return err
		}
	}
	find := func(q string, want int) func() error {
		expr, err := search.Parse(q)
		if err != nil {
			b.Fatal(err)
		}
		return func() error {
			var ft map[string][]string
			opts := ListOptions{Scope: ScopeOwned, Limit: 10,
				Match: func(j Job) bool { return expr.Match(benchDoc{j: j, fileTags: ft[j.ID]}) }}
			if strings.Contains(q, "#") {
				opts.Prepare = func(ctx context.Context, c []Job) error {
					var err error
					ft, err = svc.FileTags(ctx, c)
					return err
				}
			}
			_, total, err := svc.List(ctx, o.UserID, opts)
			if err == nil && total != want {
				err = fmt.Errorf("q %q: %d matches, want %d", q, total, want)
			}
			return err
		}
	}
	window := DataQuery{CreatedAfter: time.Date(2024, 1, 3, 0, 0, 0, 0, time.UTC), CreatedBefore: time.Date(2024, 1, 4, 0, 0, 0, 0, time.UTC), Limit: 100}
	hotTagged := 0
	for i := range benchJobs {
		if i%10 == 0 || ((i/3)%benchFiles)%5 == 0 {
			hotTagged++
		}
	}
	cases := []struct {
		name     string
		baseline func() error
		op       func() error
	}{
		// GET /api/v2/jobs/ page 1 (10 jobs): one page of the index and
		// the count item; the domain decodes 10 records.
		{"page1", raw(10), func() error {
			js, total, err := svc.List(ctx, o.UserID, ListOptions{Scope: ScopeOwned, Limit: 10})
			if err == nil && (len(js) != 10 || total != benchJobs) {
				err = fmt.Errorf("page1: %d of %d", len(js), total)
			}
			return err
		}},
		// q searches decode and match every job; #tag also reads the
		// jobs' files (50 here) once per request.
		{"q-text", raw(0), find(`"heat exchanger"`, (benchJobs+6)/7)},
		{"q-tag", raw(0), find("#hot", hotTagged)},
		// GET /api/v2/data/jobs/ page 1 (100 jobs) and a one-day window.
		{"data-page1", raw(100), func() error {
			js, total, err := svc.ListData(ctx, o.UserID, DataQuery{Limit: 100})
			if err == nil && (len(js) != 100 || total != benchJobs) {
				err = fmt.Errorf("data page1: %d of %d", len(js), total)
			}
			return err
		}},
		{"data-window", raw(0), func() error {
			js, total, err := svc.ListData(ctx, o.UserID, window)
			if err == nil && (len(js) != 100 || total != 24*60) {
				err = fmt.Errorf("data window: %d of %d", len(js), total)
			}
			return err
		}},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			if err := c.op(); err != nil {
				b.Fatal(err)
			}
			base := meanTime(b, c.baseline)
			for b.Loop() {
				if err := c.op(); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(base.Nanoseconds()), "baseline-ns/op")
			b.ReportMetric(float64(b.Elapsed())/float64(b.N)/float64(base), "x-baseline")
		})
	}
}

// meanTime runs fn for about half a second (at least 3, at most 200 times)
// and returns its mean duration.
func meanTime(b *testing.B, fn func() error) time.Duration {
	b.Helper()
	var n int
	t0 := time.Now()
	for n < 3 || (n < 200 && time.Since(t0) < 500*time.Millisecond) {
		if err := fn(); err != nil {
			b.Fatal(err)
		}
		n++
	}
	return time.Since(t0) / time.Duration(n)
}
