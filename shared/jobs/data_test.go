package jobs

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/openrescale/platform/shared/catalog"
	"github.com/openrescale/platform/shared/files"
	"github.com/openrescale/platform/shared/store"
)

func TestListData(t *testing.T) {
	engines(t, func(t *testing.T, st store.Store) {
		cat, err := catalog.Load()
		if err != nil {
			t.Fatal(err)
		}
		var now time.Time
		svc := New(st, cat, files.NewRepo(st), nil, func() time.Time { return now })
		at := func(o Owner, when string) string {
			t.Helper()
			now, err = time.Parse(time.RFC3339, when)
			if err != nil {
				t.Fatal(err)
			}
			_, err := svc.Create(t.Context(), o, mustSpec(t, basic))
			if err != nil {
				t.Fatal(err)
			}
			return when
		}
		a := at(alice, "2024-11-12T10:00:00Z")
		b := at(alice, "2024-11-13T00:00:00Z") // on createdAfter: included
		c := at(alice, "2024-11-14T12:00:00Z")
		d := at(alice, "2024-11-14T23:59:59Z")
		e := at(alice, "2024-11-15T00:00:00Z") // on createdBefore: excluded
		at(bob, "2024-11-14T12:00:00Z")
		day := func(s string) time.Time { t, _ := time.Parse(time.DateOnly, s); return t }
		tests := []struct {
			name  string
			q     DataQuery
			want  []string
			total int
		}{
			{"first page", DataQuery{Limit: 2}, []string{e, d}, 5},
			{"second page", DataQuery{Offset: 2, Limit: 2}, []string{c, b}, 5},
			{"past the end", DataQuery{Offset: 9, Limit: 2}, nil, 5},
			{"count only", DataQuery{Limit: 0}, nil, 5},
			{"window", DataQuery{CreatedAfter: day("2024-11-13"), CreatedBefore: day("2024-11-15"), Limit: 100}, []string{d, c, b}, 3},
			{"window paged", DataQuery{CreatedAfter: day("2024-11-13"), CreatedBefore: day("2024-11-15"), Offset: 1, Limit: 1}, []string{c}, 3},
			{"window count only", DataQuery{CreatedAfter: day("2024-11-13"), CreatedBefore: day("2024-11-15")}, nil, 3},
			{"after", DataQuery{CreatedAfter: day("2024-11-14"), Limit: 100}, []string{e, d, c}, 3},
			{"before", DataQuery{CreatedBefore: day("2024-11-13"), Limit: 100}, []string{a}, 1},
			{"empty window", DataQuery{CreatedAfter: day("2024-11-15"), CreatedBefore: day("2024-11-15"), Limit: 100}, nil, 0},
			{"one day", DataQuery{CreatedAfter: day("2024-11-14"), CreatedBefore: day("2024-11-15"), Limit: 100}, []string{d, c}, 2},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				got, total, err := svc.ListData(t.Context(), alice.UserID, tt.q)
				if err != nil {
					t.Fatal(err)
				}
				var dates []string
				for _, j := range got {
					if j.OwnerID != alice.UserID {
						t.Fatalf("listed %s's job", j.OwnerID)
					}
					dates = append(dates, j.DateInserted.UTC().Format(time.RFC3339))
				}
				if total != tt.total || !slices.Equal(dates, tt.want) {
					t.Fatalf("got %v (total %d), want %v (total %d)", dates, total, tt.want, tt.total)
				}
			})
		}
	})
}

func TestFileTags(t *testing.T) {
	engines(t, func(t *testing.T, st store.Store) {
		f := newFixture(t, st, nil)
		tagged := func(o Owner, id string, names ...string) {
			t.Helper()
			var tags []files.Tag
			for _, n := range names {
				tg, err := files.NewTag(n)
				if err != nil {
					t.Fatal(err)
				}
				tags = append(tags, tg)
			}
			_, err := f.files.Create(t.Context(), files.File{ID: id, OwnerID: o.UserID, OwnerEmail: o.Email, Name: id + ".zip",
				TypeID: files.TypeInput, DateUploaded: time.Now(), Key: files.NewKey(o.UserID, id), Size: 1, IsUploaded: true, Tags: tags})
			if err != nil {
				t.Fatal(err)
			}
		}
		withInputs := func(ids ...string) Job {
			t.Helper()
			refs := ""
			for i, id := range ids {
				if i > 0 {
					refs += ","
				}
				refs += fmt.Sprintf(`{"id": %q}`, id)
			}
			j, err := f.svc.Create(t.Context(), alice, mustSpec(t, fmt.Sprintf(`{"name": "x", "jobanalyses": [{"analysis": {"code": "user_included"},
				"command": "run", "hardware": {"coreType": "standard-plus", "coresPerSlot": 1}, "inputFiles": [%s]}]}`, refs)))
			if err != nil {
				t.Fatal(err)
			}
			return j
		}
		tagged(alice, "hotIn", "Hot Stuff")
		tagged(alice, "plainIn")
		j1 := withInputs("hotIn", "plainIn")
		j2 := withInputs("plainIn")
		// Enough files for one job to take the list-the-owner's-files path.
		var many []string
		for i := range fileGetsPerOwner + 1 {
			id := fmt.Sprintf("many%d", i)
			tagged(alice, id, fmt.Sprintf("t%d", i))
			many = append(many, id)
		}
		j3 := withInputs(many...)
		for _, batch := range [][]Job{{j1, j2}, {j1, j2, j3}} {
			got, err := f.svc.FileTags(t.Context(), batch)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got[j1.ID], []string{"hotstuff"}) || len(got[j2.ID]) != 0 {
				t.Fatalf("file tags %v", got)
			}
			if len(batch) == 3 && (len(got[j3.ID]) != len(many) || !slices.Contains(got[j3.ID], "t7")) {
				t.Fatalf("file tags of j3: %v", got[j3.ID])
			}
		}
		// A file deleted since the job was saved has no tags.
		hot, err := f.files.Get(t.Context(), alice.UserID, "hotIn")
		if err != nil {
			t.Fatal(err)
		}
		if err := f.files.Delete(t.Context(), hot); err != nil {
			t.Fatal(err)
		}
		got, err := f.svc.FileTags(t.Context(), []Job{j1})
		if err != nil || len(got[j1.ID]) != 0 {
			t.Fatalf("after delete: %v %v", got, err)
		}
	})
}
