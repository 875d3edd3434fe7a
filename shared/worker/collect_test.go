package worker

import (
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
)

func TestFilterMatch(t *testing.T) {
	tests := []struct {
		name string
		f    Filter
		rel  string
		want bool
	}{
		{"empty filter: everything", Filter{}, "a/b/c.txt", true},
		{"skip an archive", Filter{Skip: []string{"case.zip"}}, "case.zip", false},
		{"skip is exact", Filter{Skip: []string{"case.zip"}}, "sub/case.zip", true},
		{"base-name glob at any depth", Filter{Exclude: []string{"*.log"}}, "a/b/log.txt", true},
		{"base-name glob excludes", Filter{Exclude: []string{"*.log"}}, "a/b/run.log", false},
		{"directory name excludes its tree", Filter{Exclude: []string{"processor*"}}, "case/processor0/0/U", false},
		{"anchored path glob", Filter{Include: []string{"case/system/*"}}, "case/system/fvSchemes", true},
		{"anchored path glob elsewhere", Filter{Include: []string{"case/system/*"}}, "other/case/system/fvSchemes", false},
		{"leading slash", Filter{Include: []string{"/case/0"}}, "case/0/U", true},
		{"directory prefix", Filter{Include: []string{"case/313"}}, "case/313/U", true},
		{"double star", Filter{Include: []string{"**/log.*"}}, "a/b/log.simpleFoam", true},
		{"double star at top", Filter{Include: []string{"**/log.*"}}, "log.simpleFoam", true},
		{"double star in the middle", Filter{Include: []string{"case/**/U"}}, "case/313/U", true},
		{"not included", Filter{Include: []string{"*.csv"}}, "case/313/U", false},
		{"exclude wins over include", Filter{Include: []string{"*.csv"}, Exclude: []string{"big*"}}, "big.csv", false},
		{"any include suffices", Filter{Include: []string{"*.csv", "*.vtk"}}, "out/a.vtk", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.f.Match(tt.rel); got != tt.want {
				t.Errorf("%+v.Match(%q) = %v, want %v", tt.f, tt.rel, got, tt.want)
			}
		})
	}
	if err := (Filter{Include: []string{"[a-"}}).Validate(); err == nil {
		t.Error("a malformed pattern validated")
	}
}

// collectTree is a run's directory after the run, with an archive, a
// symlink out of it and a symlink inside it.
func collectTree(t *testing.T) string {
	t.Helper()
	base := t.TempDir()
	dir := filepath.Join(base, "work")
	for name, body := range map[string]string{
		"case.zip":               "zip",
		"case/system/fvSchemes":  "schemes",
		"case/313/U":             "u",
		"case/log.simpleFoam":    "converged",
		"process_output.log":     "out",
		"case/processor0/0/p":    "p",
		"../outside-secret.txt":  "secret",
		"case/constant/empty.gz": "",
	} {
		p := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		os.WriteFile(p, []byte(body), 0o644)
	}
	os.Symlink("../outside-secret.txt", filepath.Join(dir, "escape"))
	os.Symlink(base, filepath.Join(dir, "escape-dir"))
	os.Symlink("system/fvSchemes", filepath.Join(dir, "case/inside-link"))
	return dir
}

func TestCollect(t *testing.T) {
	tests := []struct {
		name string
		f    Filter
		want []string
	}{
		{"everything but the archive", Filter{Skip: []string{"case.zip"}}, []string{
			"case/313/U", "case/constant/empty.gz", "case/log.simpleFoam", "case/processor0/0/p", "case/system/fvSchemes", "process_output.log"}},
		{"without processor dirs", Filter{Skip: []string{"case.zip"}, Exclude: []string{"processor*"}}, []string{
			"case/313/U", "case/constant/empty.gz", "case/log.simpleFoam", "case/system/fvSchemes", "process_output.log"}},
		{"only logs", Filter{Include: []string{"log.*", "*.log"}}, []string{"case/log.simpleFoam", "process_output.log"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := collectTree(t)
			var got []string
			contents := map[string]string{}
			n, size, err := Collect(context.Background(), dir, tt.f, func(_ context.Context, rel string, sz int64, r io.Reader) error {
				b, err := io.ReadAll(r)
				if int64(len(b)) != sz {
					t.Errorf("%s: read %d bytes, size said %d", rel, len(b), sz)
				}
				got = append(got, rel)
				contents[rel] = string(b)
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("collected %v, want %v (in this order)", got, tt.want)
			}
			var wantBytes int64
			for _, c := range contents {
				wantBytes += int64(len(c))
			}
			if n != len(tt.want) || size != wantBytes {
				t.Errorf("count, bytes = %d, %d; want %d, %d", n, size, len(tt.want), wantBytes)
			}
			for _, c := range contents {
				if c == "secret" {
					t.Errorf("a file outside the directory was collected")
				}
			}
		})
	}
}

func TestCollectPutError(t *testing.T) {
	dir := collectTree(t)
	boom := errors.New("bucket full")
	_, _, err := Collect(context.Background(), dir, Filter{}, func(context.Context, string, int64, io.Reader) error { return boom })
	if !errors.Is(err, boom) {
		t.Errorf("err = %v, want the put error wrapped", err)
	}
}

func TestSnapshot(t *testing.T) {
	dir := collectTree(t)
	var buf bytes.Buffer
	if err := Snapshot(context.Background(), dir, &buf); err != nil {
		t.Fatal(err)
	}
	zr, err := zip.NewReader(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(rc)
		rc.Close()
		got[f.Name] = string(b)
	}
	want := map[string]string{
		"case.zip": "zip", "case/system/fvSchemes": "schemes", "case/313/U": "u", "case/log.simpleFoam": "converged",
		"process_output.log": "out", "case/processor0/0/p": "p", "case/constant/empty.gz": "",
	}
	if len(got) != len(want) {
		t.Errorf("snapshot has %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("snapshot %s = %q, want %q", k, got[k], v)
		}
	}
}

// TestCollectConcurrently puts the same outputs as Collect, in any order,
// and stops at the first failing put.
func TestCollectConcurrently(t *testing.T) {
	for _, workers := range []int{1, 4} {
		for _, f := range []Filter{{Skip: []string{"case.zip"}}, {Include: []string{"log.*", "*.log"}}, {Exclude: []string{"processor*"}}} {
			dir := collectTree(t)
			want := map[string]string{}
			wn, wb, err := Collect(context.Background(), dir, f, func(_ context.Context, rel string, _ int64, r io.Reader) error {
				b, err := io.ReadAll(r)
				want[rel] = string(b)
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			var mu sync.Mutex
			got := map[string]string{}
			n, size, err := CollectConcurrently(context.Background(), dir, f, workers, func(_ context.Context, rel string, _ int64, r io.Reader) error {
				b, err := io.ReadAll(r)
				mu.Lock()
				got[rel] = string(b)
				mu.Unlock()
				return err
			})
			if err != nil || n != wn || size != wb || !maps.Equal(got, want) {
				t.Errorf("%d workers, %+v: %d files, %d bytes, %v; want %d, %d\ngot  %v\nwant %v", workers, f, n, size, err, wn, wb, got, want)
			}
		}
		boom := errors.New("bucket full")
		var calls atomic.Int32
		_, _, err := CollectConcurrently(context.Background(), collectTree(t), Filter{}, workers, func(context.Context, string, int64, io.Reader) error {
			calls.Add(1)
			return boom
		})
		if !errors.Is(err, boom) {
			t.Errorf("%d workers: err = %v, want the put error", workers, err)
		}
		if workers == 1 && calls.Load() != 1 {
			t.Errorf("one worker went on after a failed put: %d puts", calls.Load())
		}
	}
}
