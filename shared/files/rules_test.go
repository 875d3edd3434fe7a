package files

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openrescale/platform/shared/blob"
	"github.com/openrescale/platform/shared/errs"
	"github.com/openrescale/platform/shared/store"
)

func TestValidTypeAndName(t *testing.T) {
	for typ := -1; typ <= 12; typ++ {
		want := typ >= 1 && typ <= 10 && typ != 6
		if ValidType(typ) != want {
			t.Errorf("ValidType(%d) = %v", typ, !want)
		}
	}
	for name, ok := range map[string]bool{
		strings.Repeat("n", 255): true, strings.Repeat("n", 256): false, "a": true, ".": false, "..": false, "...": true,
		"a\\b": false, "a/b": false, "\xff": false, "é": true,
	} {
		if err := ValidName(name); (err == nil) != ok {
			t.Errorf("ValidName(%.20q…): %v", name, err)
		}
	}
	for in, ok := range map[string]bool{strings.Repeat("t", 200): true, strings.Repeat("t", 201): false, " - _ ": false, "  x  ": true, "\xff": false} {
		tag, err := NewTag(in)
		if (err == nil) != ok {
			t.Errorf("NewTag(%.20q…): %v", in, err)
		}
		if ok && tag.Name != strings.TrimSpace(in) {
			t.Errorf("NewTag(%q) = %q", in, tag.Name)
		}
	}
}

func TestKeys(t *testing.T) {
	tests := []struct{ name, prefix string }{
		{"airfoil2d.zip", "user/user_u1/airfoil2d.zip-"},
		{"AZaz09.-_", "user/user_u1/AZaz09.-_-"},
		{"a b@c", "user/user_u1/a_b_c-"},
		{"..hidden", "user/user_u1/hidden-"},
		{"...", "user/user_u1/file-"},
		{"résumé", "user/user_u1/r_sum_-"},
		{strings.Repeat("k", 150), "user/user_u1/" + strings.Repeat("k", 100) + "-"},
	}
	for _, tt := range tests {
		k := NewKey("u1", tt.name)
		if !strings.HasPrefix(k, tt.prefix) || len(k) != len(tt.prefix)+32 {
			t.Errorf("NewKey(%q) = %q, want %s and 32 hex digits", tt.name, k, tt.prefix)
		}
	}
	if a, b := NewKey("u1", "x"), NewKey("u1", "x"); a == b {
		t.Fatal("two uploads of one name got one key")
	}
	if UserPrefix("u1") != "user/user_u1/" {
		t.Fatal(UserPrefix("u1"))
	}
}

// Uploads at the size cap, and the records and usage they leave.
func TestUploadCapAndRecord(t *testing.T) {
	eachBackend(t, func(t *testing.T, st store.Store, b blob.Bucket) {
		ctx := t.Context()
		s := newService(t, st, b)
		s.MaxFileBytes = 10
		at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
		s.Now = func() time.Time { return at }
		f, err := s.Upload(ctx, UploadRequest{Owner: alice, Name: "ten.txt", FolderID: "lib1", ContentType: "text/plain", Body: strings.NewReader("0123456789")})
		if err != nil {
			t.Fatalf("exactly the cap: %v", err)
		}
		if f.Size != 10 || f.TypeID != TypeInput || !f.DateUploaded.Equal(at) || f.RelativePath != "ten.txt" || f.FolderID != "lib1" ||
			f.OwnerEmail != alice.Email || !f.IsUploaded || f.Version != 1 || f.Tags == nil || f.SharedWith == nil {
			t.Fatalf("record %+v", f)
		}
		if _, err := s.Upload(ctx, UploadRequest{Owner: alice, Name: "eleven.txt", Body: strings.NewReader("0123456789a")}); !errs.Is(err, errs.TooLarge) {
			t.Fatalf("one over the cap: %v", err)
		}
		got, err := s.Repo.Get(ctx, alice.UserID, f.ID)
		if err != nil || got.Key != f.Key || got.Version != 1 || got.MD5 != f.MD5 {
			t.Fatalf("stored %+v %v", got, err)
		}
		if u, _ := s.Repo.Usage(ctx, alice.UserID); u != 10 {
			t.Fatalf("usage %d", u)
		}
		if _, err := s.Upload(ctx, UploadRequest{Owner: alice, Name: "typed.txt", TypeID: TypeOutput, Body: strings.NewReader("x")}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Open(ctx, File{ID: "p", Key: f.Key}, 0, -1); !errs.Is(err, errs.Conflict) {
			t.Fatalf("open of a file not uploaded: %v", err)
		}
		if _, _, err := s.OpenFile(ctx, File{ID: "p", Key: f.Key}); !errs.Is(err, errs.Conflict) {
			t.Fatalf("OpenFile of a file not uploaded: %v", err)
		}
		osf, ok, err := s.OpenFile(ctx, f)
		if _, local := b.(blob.FileOpener); ok != local || err != nil {
			t.Fatalf("OpenFile: ok %v, err %v, bucket local %v", ok, err, local)
		}
		if osf != nil {
			osf.Close()
		}
	})
}

// Usage follows creates, rehashes and deletes, counts only uploaded bytes
// and never goes below zero.
func TestUsageAccounting(t *testing.T) {
	eachBackend(t, func(t *testing.T, st store.Store, _ blob.Bucket) {
		ctx := t.Context()
		r := NewRepo(st)
		rec := func(id string, size int64, uploaded bool) File {
			return File{ID: id, OwnerID: alice.UserID, OwnerEmail: alice.Email, Name: id, TypeID: TypeInput,
				DateUploaded: time.Now(), Key: NewKey(alice.UserID, id), Size: size, IsUploaded: uploaded}
		}
		usage := func() int64 {
			u, err := r.Usage(ctx, alice.UserID)
			if err != nil {
				t.Fatal(err)
			}
			return u
		}
		a, err := r.Create(ctx, rec("fa", 100, true))
		if err != nil {
			t.Fatal(err)
		}
		pending, err := r.Create(ctx, rec("fp", 50, false))
		if err != nil || usage() != 100 {
			t.Fatalf("usage %d after an uploaded and a pending file (%v)", usage(), err)
		}
		if _, err := r.Create(ctx, rec("fa", 1, true)); !errs.Is(err, errs.Conflict) {
			t.Fatalf("taken id: %v", err)
		}
		done, err := r.MarkUploaded(ctx, pending)
		if err != nil || !done.IsUploaded || done.Version != pending.Version+1 || usage() != 150 {
			t.Fatalf("mark uploaded: %+v %v, usage %d", done, err, usage())
		}
		grown := a
		grown.Size = 130
		grown, err = r.Rehashed(ctx, grown, 100)
		if err != nil || usage() != 180 || grown.Version != a.Version+1 {
			t.Fatalf("rehash up: %v, usage %d", err, usage())
		}
		shrunk := grown
		shrunk.Size = 30
		if shrunk, err = r.Rehashed(ctx, shrunk, 130); err != nil || usage() != 80 {
			t.Fatalf("rehash down: %v, usage %d", err, usage())
		}
		if _, err := r.Rehashed(ctx, pending, 0); err == nil {
			t.Fatal("rehash of a record not uploaded")
		}
		if _, err := r.Rehashed(ctx, a, 100); !errs.Is(err, errs.Conflict) {
			t.Fatalf("rehash at a stale version: %v", err)
		}
		if err := r.Delete(ctx, a); !errs.Is(err, errs.Conflict) {
			t.Fatalf("delete at a stale version: %v", err)
		}
		if err := r.Delete(ctx, shrunk); err != nil || usage() != 50 {
			t.Fatalf("delete: %v, usage %d", err, usage())
		}
		// A pending file's delete gives back nothing.
		p2, _ := r.Create(ctx, rec("fq", 70, false))
		if err := r.Delete(ctx, p2); err != nil || usage() != 50 {
			t.Fatalf("delete pending: %v, usage %d", err, usage())
		}
		// Usage never goes negative, even from a record that claims more.
		big := done
		big.Size = 1000
		if err := r.Delete(ctx, big); err != nil || usage() != 0 {
			t.Fatalf("delete of an oversized record: %v, usage %d", err, usage())
		}
		if _, total, _ := r.List(ctx, alice.UserID, ListOptions{}); total != 0 {
			t.Fatalf("count %d after deleting everything", total)
		}
		if _, err := r.ByKey(ctx, done.Key); !errs.Is(err, errs.NotFound) {
			t.Fatalf("key reference survived: %v", err)
		}
	})
}

// Search pages count only matches; offsets and limits cut at their edges.
func TestListSearchPaging(t *testing.T) {
	eachBackend(t, func(t *testing.T, st store.Store, _ blob.Bucket) {
		ctx := t.Context()
		r := NewRepo(st)
		t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		for i := range 6 {
			name := fmt.Sprintf("other%d.txt", i)
			if i%2 == 0 {
				name = fmt.Sprintf("Match%d.csv", i)
			}
			if _, err := r.Create(ctx, File{ID: fmt.Sprintf("f%d", i), OwnerID: alice.UserID, Name: name, DateUploaded: t0.Add(time.Duration(i) * time.Minute),
				Key: NewKey(alice.UserID, name), Size: 1, IsUploaded: true}); err != nil {
				t.Fatal(err)
			}
		}
		tests := []struct {
			o     ListOptions
			ids   string
			total int
		}{
			{ListOptions{Search: "match"}, "f4,f2,f0", 3},
			{ListOptions{Search: "MATCH", Limit: 2}, "f4,f2", 3},
			{ListOptions{Search: "match", Offset: 1, Limit: 1}, "f2", 3},
			{ListOptions{Search: "match", Offset: 2, Limit: 5}, "f0", 3},
			{ListOptions{Search: "match", Offset: 3}, "", 3},
			{ListOptions{Search: "nothing"}, "", 0},
			{ListOptions{Limit: 2}, "f5,f4", 6},
			{ListOptions{Offset: 5, Limit: 2}, "f0", 6},
			{ListOptions{}, "f5,f4,f3,f2,f1,f0", 6},
		}
		for _, tt := range tests {
			fs, total, err := r.List(ctx, alice.UserID, tt.o)
			var ids []string
			for _, f := range fs {
				ids = append(ids, f.ID)
			}
			if err != nil || total != tt.total || strings.Join(ids, ",") != tt.ids {
				t.Errorf("%+v: %v of %d (%v), want %s of %d", tt.o, ids, total, err, tt.ids, tt.total)
			}
		}
	})
}

// Tags: adding is idempotent by normalised name, at most 100 per file;
// removing a missing tag is NotFound; concurrent adds all land.
func TestTagRules(t *testing.T) {
	eachBackend(t, func(t *testing.T, st store.Store, b blob.Bucket) {
		ctx := t.Context()
		s := newService(t, st, b)
		f, err := s.Upload(ctx, UploadRequest{Owner: alice, Name: "t.txt", Body: strings.NewReader("x")})
		if err != nil {
			t.Fatal(err)
		}
		first, err := s.AddTag(ctx, alice.UserID, f.ID, "Wind Tunnel")
		if err != nil || first.NormalizedName != "windtunnel" {
			t.Fatalf("add: %+v %v", first, err)
		}
		again, err := s.AddTag(ctx, alice.UserID, f.ID, "wind-tunnel")
		if err != nil || again.Name != "Wind Tunnel" {
			t.Fatalf("re-add answers the stored spelling: %+v %v", again, err)
		}
		var wg sync.WaitGroup
		for i := range 8 {
			wg.Go(func() {
				if _, err := s.AddTag(ctx, alice.UserID, f.ID, fmt.Sprintf("c%d", i)); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		for i := 9; i < 100; i++ {
			if _, err := s.AddTag(ctx, alice.UserID, f.ID, fmt.Sprintf("n%d", i)); err != nil {
				t.Fatalf("tag %d of 100: %v", i+1, err)
			}
		}
		got, _ := s.Get(ctx, alice.UserID, f.ID)
		if len(got.Tags) != 100 {
			t.Fatalf("%d tags, want 100", len(got.Tags))
		}
		if _, err := s.AddTag(ctx, alice.UserID, f.ID, "one too many"); !errs.Is(err, errs.Invalid) {
			t.Fatalf("tag 101: %v", err)
		}
		if _, err := s.AddTag(ctx, alice.UserID, f.ID, "c3"); err != nil {
			t.Fatalf("an existing tag on a full file: %v", err)
		}
		if err := s.RemoveTag(ctx, alice.UserID, f.ID, "WIND_TUNNEL"); err != nil {
			t.Fatal(err)
		}
		if err := s.RemoveTag(ctx, alice.UserID, f.ID, "windtunnel"); !errs.Is(err, errs.NotFound) {
			t.Fatalf("remove missing: %v", err)
		}
		if _, err := s.AddTag(ctx, bob.UserID, f.ID, "x"); !errs.Is(err, errs.NotFound) {
			t.Fatalf("bob tags alice's file: %v", err)
		}
		if _, err := s.AddTag(ctx, alice.UserID, f.ID, " "); !errs.Is(err, errs.Invalid) {
			t.Fatalf("blank tag: %v", err)
		}
		if err := s.RemoveTag(ctx, alice.UserID, f.ID, ""); !errs.Is(err, errs.Invalid) {
			t.Fatalf("blank remove: %v", err)
		}
	})
}

// Update re-reads on a conflict and gives up with 409 after its attempts;
// Remove checks the current record.
func TestUpdateRetriesAndRemove(t *testing.T) {
	eachBackend(t, func(t *testing.T, st store.Store, b blob.Bucket) {
		ctx := t.Context()
		s := newService(t, st, b)
		f, err := s.Upload(ctx, UploadRequest{Owner: alice, Name: "u.txt", Body: strings.NewReader("x")})
		if err != nil {
			t.Fatal(err)
		}
		// A writer that always gets in first: each attempt conflicts.
		calls := 0
		_, err = s.Update(ctx, alice.UserID, f.ID, func(cur *File) error {
			calls++
			other := *cur
			other.TypeID = 1 + calls%5
			if _, err := s.Repo.Update(context.WithoutCancel(ctx), other); err != nil {
				t.Fatal(err)
			}
			return Rename(cur, "mine.txt")
		})
		if !errs.Is(err, errs.Conflict) || calls != 9 {
			t.Fatalf("sustained contention: %v after %d attempts, want a conflict after 9", err, calls)
		}
		// One that gets in once.
		calls = 0
		got, err := s.Update(ctx, alice.UserID, f.ID, func(cur *File) error {
			calls++
			if calls == 1 {
				other := *cur
				other.TypeID = TypeScript
				if _, err := s.Repo.Update(ctx, other); err != nil {
					t.Fatal(err)
				}
			}
			return Rename(cur, "mine.txt")
		})
		if err != nil || calls != 2 || got.Name != "mine.txt" || got.TypeID != TypeScript || got.RelativePath != "mine.txt" {
			t.Fatalf("one conflict: %+v %v after %d calls", got, err, calls)
		}
		if err := Rename(&got, "bad/name"); !errs.Is(err, errs.Invalid) {
			t.Fatalf("rename to an invalid name: %v", err)
		}
		out := File{Name: "result.csv", RelativePath: "sub/result.csv"}
		if err := Rename(&out, "renamed.csv"); err != nil || out.RelativePath != "sub/result.csv" || out.Name != "renamed.csv" {
			t.Fatalf("output rename: %+v %v", out, err)
		}
		veto := errs.E(errs.Conflict, "in use")
		if err := s.Remove(ctx, alice.UserID, f.ID, func(File) error { return veto }); !errs.Is(err, errs.Conflict) {
			t.Fatalf("vetoed remove: %v", err)
		}
		seen := ""
		if err := s.Remove(ctx, alice.UserID, f.ID, func(cur File) error { seen = cur.Name; return nil }); err != nil || seen != "mine.txt" {
			t.Fatalf("remove: %v (checked %q)", err, seen)
		}
		if _, err := s.Get(ctx, alice.UserID, f.ID); !errs.Is(err, errs.NotFound) {
			t.Fatalf("after remove: %v", err)
		}
		if err := s.Remove(ctx, alice.UserID, f.ID, nil); !errs.Is(err, errs.NotFound) {
			t.Fatalf("second remove: %v", err)
		}
	})
}
