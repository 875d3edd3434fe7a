package folders_test

import (
	"context"
	"errors"
	"github.com/openrescale/platform/shared/store/enginetest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/openrescale/platform/shared/blob/fileblob"
	"github.com/openrescale/platform/shared/errs"
	"github.com/openrescale/platform/shared/files"
	"github.com/openrescale/platform/shared/folders"
	"github.com/openrescale/platform/shared/store"
	"github.com/openrescale/platform/shared/store/dynamostore/dynamolocal"
)

func TestMain(m *testing.M) { dynamolocal.Main(m) }

type env struct {
	st      store.Store
	files   *files.Service
	folders *folders.Service
	del     *flakyDeleter
}

// flakyDeleter fails every file delete after the first okBefore ones, until
// healed, to interrupt recursive deletes.
type flakyDeleter struct {
	inner    folders.FileDeleter
	okBefore atomic.Int64
	failing  atomic.Bool
}

func (d *flakyDeleter) Delete(ctx context.Context, f files.File) error {
	if d.failing.Load() && d.okBefore.Add(-1) < 0 {
		return errors.New("injected failure")
	}
	return d.inner.Delete(ctx, f)
}

func forEachEngine(t *testing.T, fn func(t *testing.T, e env)) {
	for _, eng := range enginetest.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			st := eng.Open(t)
			b, err := fileblob.New(filepath.Join(t.TempDir(), "blobs"))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { b.Close() })
			fs := &files.Service{Repo: files.NewRepo(st), Bucket: b, Now: time.Now}
			del := &flakyDeleter{inner: fs}
			fn(t, env{st: st, files: fs, folders: folders.New(st, del, time.Now), del: del})
		})
	}
}

const alice, bob = "alice1", "bob001"

func mustCreate(t *testing.T, s *folders.Service, uid, parent, name string) folders.Folder {
	t.Helper()
	f, err := s.Create(t.Context(), uid, parent, name)
	if err != nil {
		t.Fatalf("create %q: %v", name, err)
	}
	return f
}

func upload(t *testing.T, e env, uid, folder, name string, tags ...string) files.File {
	t.Helper()
	f, err := e.files.Upload(t.Context(), files.UploadRequest{Owner: files.Owner{UserID: uid, Email: uid + "@example.com"}, Name: name, FolderID: folder, Body: strings.NewReader("data of " + name)})
	if err != nil {
		t.Fatalf("upload %s: %v", name, err)
	}
	if len(tags) > 0 {
		for _, n := range tags {
			tag, err := files.NewTag(n)
			if err != nil {
				t.Fatal(err)
			}
			f.Tags = append(f.Tags, tag)
		}
		if f, err = e.files.Repo.Update(t.Context(), f); err != nil {
			t.Fatal(err)
		}
	}
	return f
}

func wantCode(t *testing.T, err error, code, field string) {
	t.Helper()
	if errs.Code(err) != code {
		t.Fatalf("err = %v, want code %q", err, code)
	}
	if field != "" {
		if e, _ := errs.As(err); e.Field != field {
			t.Fatalf("err field %q, want %q (%v)", e.Field, field, err)
		}
	}
}

func TestRootsConcurrentFirstUse(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e env) {
		const n = 16
		got := make([]folders.Roots, n)
		errc := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				got[i], errc[i] = e.folders.Roots(t.Context(), alice)
			}()
		}
		wg.Wait()
		for i := range n {
			if errc[i] != nil {
				t.Fatalf("call %d: %v", i, errc[i])
			}
			if got[i] != got[0] || got[i].MyJobs == "" || got[i].MyLibrary == "" || got[i].MyJobs == got[i].MyLibrary {
				t.Fatalf("roots differ: %+v vs %+v", got[i], got[0])
			}
		}
		res, err := e.st.Query(t.Context(), store.Query{PK: "USER#" + alice, SKPrefix: "FOLDER#"})
		if err != nil {
			t.Fatal(err)
		}
		if res.Total != 2 {
			t.Fatalf("%d folder records after concurrent first use, want exactly 2", res.Total)
		}
		lib, err := e.folders.Get(t.Context(), alice, got[0].MyLibrary)
		if err != nil || lib.Name != folders.LibraryRootName || lib.Type() != folders.TypeLibrary || !lib.IsRoot() {
			t.Fatalf("library root %+v %v", lib, err)
		}
		jobs, err := e.folders.Get(t.Context(), alice, got[0].MyJobs)
		if err != nil || jobs.Kind != folders.KindJob || !jobs.IsRoot() {
			t.Fatalf("jobs root %+v %v", jobs, err)
		}
		other, err := e.folders.Roots(t.Context(), bob)
		if err != nil || other.MyLibrary == got[0].MyLibrary {
			t.Fatalf("bob's roots %+v %v", other, err)
		}
	})
}

func TestCreateRules(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e env) {
		ctx := t.Context()
		roots, err := e.folders.Roots(ctx, alice)
		if err != nil {
			t.Fatal(err)
		}
		bobRoots, err := e.folders.Roots(ctx, bob)
		if err != nil {
			t.Fatal(err)
		}
		data := mustCreate(t, e.folders, alice, roots.MyLibrary, "Data")
		job, err := e.folders.CreateJobFolder(ctx, alice, "job001", "Airfoil")
		if err != nil {
			t.Fatal(err)
		}
		tests := []struct {
			name, uid, parent, folder string
			code, field               string
		}{
			{"in library", alice, roots.MyLibrary, "Results", "", ""},
			{"nested", alice, data.ID, "run 1", "", ""},
			{"same name elsewhere", alice, data.ID, "Data", "", ""},
			{"duplicate", alice, roots.MyLibrary, "Data", errs.Invalid, "name"},
			{"duplicate other case", alice, roots.MyLibrary, "dATA", errs.Invalid, "name"},
			{"blank", alice, roots.MyLibrary, "  ", errs.Invalid, "name"},
			{"slash", alice, roots.MyLibrary, "a/b", errs.Invalid, "name"},
			{"dot dot", alice, roots.MyLibrary, "..", errs.Invalid, "name"},
			{"control", alice, roots.MyLibrary, "a\x00b", errs.Invalid, "name"},
			{"bidi override", alice, roots.MyLibrary, "gnp\u202eexe", errs.Invalid, "name"},
			{"missing parent", alice, "nope42", "x", errs.NotFound, ""},
			{"malformed parent", alice, "../x", "x", errs.NotFound, ""},
			{"other user's parent", alice, bobRoots.MyLibrary, "x", errs.NotFound, ""},
			{"other user's folder as bob", bob, data.ID, "x", errs.NotFound, ""},
			{"in MyJobs", alice, roots.MyJobs, "x", errs.Invalid, "parent_folder_id"},
			{"in a job folder", alice, job.ID, "x", errs.Invalid, "parent_folder_id"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				f, err := e.folders.Create(ctx, tt.uid, tt.parent, tt.folder)
				wantCode(t, err, tt.code, tt.field)
				if tt.code == "" && (f.ID == "" || f.Name != tt.folder || f.ParentID != tt.parent || f.Kind != folders.KindLibrary || f.OwnerID != tt.uid) {
					t.Fatalf("created %+v", f)
				}
			})
		}
	})
}

func TestConcurrentCreateSameName(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e env) {
		roots, err := e.folders.Roots(t.Context(), alice)
		if err != nil {
			t.Fatal(err)
		}
		const n = 8
		var ok, dup atomic.Int32
		var wg sync.WaitGroup
		for range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := e.folders.Create(t.Context(), alice, roots.MyLibrary, "same")
				switch {
				case err == nil:
					ok.Add(1)
				case errs.Is(err, errs.Invalid):
					dup.Add(1)
				default:
					t.Errorf("create: %v", err)
				}
			}()
		}
		wg.Wait()
		if ok.Load() != 1 || dup.Load() != n-1 {
			t.Fatalf("%d created, %d duplicates", ok.Load(), dup.Load())
		}
	})
}

func TestJobFolders(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e env) {
		ctx := t.Context()
		roots, _ := e.folders.Roots(ctx, alice)
		a, err := e.folders.CreateJobFolder(ctx, alice, "job001", "Airfoil/2D")
		if err != nil {
			t.Fatal(err)
		}
		if a.ParentID != roots.MyJobs || a.JobID != "job001" || a.Name != "Airfoil_2D" || a.Type() != folders.TypeJobInput {
			t.Fatalf("job folder %+v", a)
		}
		again, err := e.folders.CreateJobFolder(ctx, alice, "job001", "Airfoil/2D")
		if err != nil || again.ID != a.ID {
			t.Fatalf("second call %+v %v, want the same folder", again, err)
		}
		b, err := e.folders.CreateJobFolder(ctx, alice, "job002", "Airfoil/2D")
		if err != nil || b.ID == a.ID || b.Name != "Airfoil_2D (job002)" {
			t.Fatalf("same-named job %+v %v", b, err)
		}
		out, err := e.folders.CreateJobSubfolder(ctx, alice, a.ID, "outputs", true)
		if err != nil || out.Type() != folders.TypeJobOutput || out.JobID != "job001" {
			t.Fatalf("output folder %+v %v", out, err)
		}
		deep, err := e.folders.CreateJobSubfolder(ctx, alice, out.ID, "run1", false)
		if err != nil || deep.Type() != folders.TypeJobOutput {
			t.Fatalf("inside output folder %+v %v", deep, err)
		}
		_, err = e.folders.CreateJobSubfolder(ctx, alice, roots.MyLibrary, "x", false)
		wantCode(t, err, errs.Invalid, "parent_folder_id")
		wantCode(t, e.folders.Delete(ctx, alice, a.ID), errs.Invalid, "")
		wantCode(t, e.folders.Delete(ctx, alice, out.ID), errs.Invalid, "")
		wantCode(t, e.folders.Delete(ctx, alice, roots.MyJobs), errs.Invalid, "")
		wantCode(t, e.folders.Delete(ctx, alice, roots.MyLibrary), errs.Invalid, "")
		if _, err := e.folders.JobFolder(ctx, bob, "job001"); !errs.Is(err, errs.NotFound) {
			t.Fatalf("bob sees alice's job folder: %v", err)
		}

		upload(t, e, alice, deep.ID, "result.txt")
		if err := e.folders.DeleteJobFolder(ctx, alice, "job001"); err != nil {
			t.Fatal(err)
		}
		for _, id := range []string{a.ID, out.ID, deep.ID} {
			if _, err := e.folders.Get(ctx, alice, id); !errs.Is(err, errs.NotFound) {
				t.Fatalf("folder %s after job folder delete: %v", id, err)
			}
		}
		c, err := e.folders.CreateJobFolder(ctx, alice, "job001", "Airfoil/2D")
		if err != nil || c.ID == a.ID || c.Name != "Airfoil_2D" {
			t.Fatalf("job folder after delete %+v %v", c, err)
		}
	})
}

func TestUploadFolder(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e env) {
		ctx := t.Context()
		roots, _ := e.folders.Roots(ctx, alice)
		lib := mustCreate(t, e.folders, alice, roots.MyLibrary, "lib")
		job, _ := e.folders.CreateJobFolder(ctx, alice, "job001", "J")
		bobRoots, _ := e.folders.Roots(ctx, bob)
		tests := []struct {
			name, folder, want, code string
		}{
			{"default", "", roots.MyLibrary, ""},
			{"library folder", lib.ID, lib.ID, ""},
			{"unknown", "zzzzzz", "", errs.NotFound},
			{"malformed", "a/b", "", errs.NotFound},
			{"other user's", bobRoots.MyLibrary, "", errs.NotFound},
			{"MyJobs", roots.MyJobs, "", errs.Invalid},
			{"job folder", job.ID, "", errs.Invalid},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				got, err := e.folders.UploadFolder(ctx, alice, tt.folder)
				field := ""
				if tt.code != "" {
					field = "current_folder_id"
				}
				wantCode(t, err, tt.code, field)
				if tt.code == errs.NotFound {
					if e, _ := errs.As(err); e.Message != "current_folder_id: folder not found" {
						t.Fatalf("message %q", e.Message)
					}
				}
				if got != tt.want {
					t.Fatalf("folder %q, want %q", got, tt.want)
				}
			})
		}
	})
}

func TestAncestry(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e env) {
		ctx := t.Context()
		roots, _ := e.folders.Roots(ctx, alice)
		l1 := mustCreate(t, e.folders, alice, roots.MyLibrary, "level_1_folder")
		l2 := mustCreate(t, e.folders, alice, l1.ID, "level_2_folder")
		l3 := mustCreate(t, e.folders, alice, l2.ID, "level_3_folder")
		path, err := e.folders.Ancestry(ctx, alice, l3.ID)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, f := range path {
			names = append(names, f.Name)
		}
		if got := strings.Join(names, "/"); got != "my_library/level_1_folder/level_2_folder/level_3_folder" {
			t.Fatalf("ancestry %s", got)
		}
		if _, err := e.folders.Ancestry(ctx, bob, l3.ID); !errs.Is(err, errs.NotFound) {
			t.Fatalf("bob reads alice's ancestry: %v", err)
		}
	})
}

func TestRecursiveDelete(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e env) {
		ctx := t.Context()
		roots, _ := e.folders.Roots(ctx, alice)
		a := mustCreate(t, e.folders, alice, roots.MyLibrary, "a")
		b := mustCreate(t, e.folders, alice, a.ID, "b")
		c := mustCreate(t, e.folders, alice, b.ID, "c")
		keep := mustCreate(t, e.folders, alice, roots.MyLibrary, "keep")
		var doomed []files.File
		for _, p := range []struct{ folder, name string }{{a.ID, "a1"}, {a.ID, "a2"}, {b.ID, "b1"}, {c.ID, "c1"}, {c.ID, "c2"}} {
			doomed = append(doomed, upload(t, e, alice, p.folder, p.name))
		}
		kept := upload(t, e, alice, keep.ID, "k1")

		if err := e.folders.Delete(ctx, bob, a.ID); !errs.Is(err, errs.NotFound) {
			t.Fatalf("bob deletes alice's folder: %v", err)
		}

		// Interrupt the delete after two files; what is left must be
		// hidden, and a second delete must finish.
		e.del.okBefore.Store(2)
		e.del.failing.Store(true)
		if err := e.folders.Delete(ctx, alice, a.ID); err == nil {
			t.Fatal("delete with failing file deletes succeeded")
		}
		if _, err := e.folders.Get(ctx, alice, a.ID); !errs.Is(err, errs.NotFound) {
			t.Fatalf("half-deleted folder still visible: %v", err)
		}
		if _, err := e.folders.Get(ctx, alice, c.ID); !errs.Is(err, errs.NotFound) {
			t.Fatalf("folder inside a half-deleted tree still visible: %v", err)
		}
		if _, err := e.folders.Create(ctx, alice, b.ID, "late"); !errs.Is(err, errs.NotFound) {
			t.Fatalf("create inside a half-deleted tree: %v", err)
		}
		list, err := e.folders.Contents(ctx, alice, roots.MyLibrary, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(list.Folders) != 1 || list.Folders[0].ID != keep.ID || list.Total != 1 {
			t.Fatalf("library lists %+v", list.Folders)
		}
		e.del.failing.Store(false)
		if err := e.folders.Delete(ctx, alice, a.ID); err != nil {
			t.Fatalf("resumed delete: %v", err)
		}

		for _, f := range []folders.Folder{a, b, c} {
			if _, err := e.folders.Get(ctx, alice, f.ID); !errs.Is(err, errs.NotFound) {
				t.Fatalf("folder %s after delete: %v", f.Name, err)
			}
		}
		for _, f := range doomed {
			if _, err := e.files.Repo.Get(ctx, alice, f.ID); !errs.Is(err, errs.NotFound) {
				t.Fatalf("file %s after delete: %v", f.Name, err)
			}
			if _, err := e.files.Bucket.Stat(ctx, f.Key); !errs.Is(err, errs.NotFound) {
				t.Fatalf("blob of %s after delete: %v", f.Name, err)
			}
		}
		if _, err := e.files.Repo.Get(ctx, alice, kept.ID); err != nil {
			t.Fatalf("file outside the tree: %v", err)
		}
		if used, _ := e.files.Repo.Usage(ctx, alice); used != kept.Size {
			t.Fatalf("usage %d, want %d", used, kept.Size)
		}
		if _, err := e.folders.Create(ctx, alice, roots.MyLibrary, "a"); err != nil {
			t.Fatalf("name not free after delete: %v", err)
		}
		if err := e.folders.Delete(ctx, alice, a.ID); !errs.Is(err, errs.NotFound) {
			t.Fatalf("deleting again: %v", err)
		}
	})
}

func TestContentsPaging(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e env) {
		ctx := t.Context()
		roots, _ := e.folders.Roots(ctx, alice)
		for _, n := range []string{"Beta", "alpha", "gamma"} {
			mustCreate(t, e.folders, alice, roots.MyLibrary, n)
		}
		upload(t, e, alice, roots.MyLibrary, "z.txt", "Maps")
		upload(t, e, alice, roots.MyLibrary, "B.txt", "maps", "big data")
		upload(t, e, alice, roots.MyLibrary, "a.txt")
		var got []string
		for off := 0; off < 6; off += 2 {
			c, err := e.folders.Contents(ctx, alice, roots.MyLibrary, off, 2)
			if err != nil {
				t.Fatal(err)
			}
			if c.Total != 6 || len(c.Folders)+len(c.Files) != 2 {
				t.Fatalf("offset %d: total %d, %d+%d items", off, c.Total, len(c.Folders), len(c.Files))
			}
			for _, f := range c.Folders {
				got = append(got, f.Name+"/")
			}
			for _, f := range c.Files {
				got = append(got, f.Name)
			}
			if off == 0 {
				if len(c.Tags) != 2 || c.Tags[0].NormalizedName != "bigdata" || c.Tags[1].NormalizedName != "maps" || c.Tags[1].Count != 2 {
					t.Fatalf("tags %+v", c.Tags)
				}
			}
		}
		if s := strings.Join(got, " "); s != "alpha/ Beta/ gamma/ a.txt B.txt z.txt" {
			t.Fatalf("order %s", s)
		}
		if _, err := e.folders.Contents(ctx, bob, roots.MyLibrary, 0, 10); !errs.Is(err, errs.NotFound) {
			t.Fatalf("bob lists alice's folder: %v", err)
		}
	})
}
