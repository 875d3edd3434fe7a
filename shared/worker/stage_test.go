package worker

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// member is one archive entry of a test archive.
type member struct {
	name string
	mode fs.FileMode // fs.ModeDir, fs.ModeSymlink or permission bits
	body string      // file content or symlink target
	hard bool        // tar hard link to body
}

func makeZip(t *testing.T, ms []member) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, m := range ms {
		h := &zip.FileHeader{Name: m.name, Method: zip.Deflate, Modified: time.Date(2020, 6, 26, 0, 0, 0, 0, time.UTC)}
		h.SetMode(m.mode)
		if m.mode.IsDir() && !strings.HasSuffix(h.Name, "/") {
			h.Name += "/"
		}
		w, err := zw.CreateHeader(h)
		if err != nil {
			t.Fatal(err)
		}
		if !m.mode.IsDir() {
			io.WriteString(w, m.body)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func makeTar(t *testing.T, ms []member, gz bool) []byte {
	t.Helper()
	var buf bytes.Buffer
	var w io.Writer = &buf
	var zw *gzip.Writer
	if gz {
		zw = gzip.NewWriter(&buf)
		w = zw
	}
	tw := tar.NewWriter(w)
	for _, m := range ms {
		h := &tar.Header{Name: m.name, Mode: int64(m.mode.Perm()), ModTime: time.Date(2020, 6, 26, 0, 0, 0, 0, time.UTC)}
		switch {
		case m.hard:
			h.Typeflag, h.Linkname = tar.TypeLink, m.body
		case m.mode.IsDir():
			h.Typeflag, h.Mode = tar.TypeDir, 0o755
		case m.mode&fs.ModeSymlink != 0:
			h.Typeflag, h.Linkname, h.Mode = tar.TypeSymlink, m.body, 0o777
		default:
			h.Typeflag, h.Size = tar.TypeReg, int64(len(m.body))
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg {
			io.WriteString(tw, m.body)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if zw != nil {
		zw.Close()
	}
	return buf.Bytes()
}

func bytesInput(name string, b []byte) Input {
	return Input{Name: name, Open: func(context.Context) (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(b)), nil
	}}
}

// caseMembers is a small OpenFOAM-like case.
var caseMembers = []member{
	{name: "airFoil2D", mode: fs.ModeDir},
	{name: "airFoil2D/Allrun", mode: 0o755, body: "#!/bin/sh\necho run\n"},
	{name: "airFoil2D/system/controlDict", mode: 0o644, body: "application simpleFoam;\n"},
	{name: "airFoil2D/constant/polyMesh/points.gz", mode: 0o644, body: "\x1f\x8bnot really"},
	{name: "airFoil2D/link", mode: fs.ModeSymlink, body: "system/controlDict"},
}

func TestStageArchives(t *testing.T) {
	tests := []struct {
		name      string
		archive   func(t *testing.T) []byte
		wantLinks bool
	}{
		{"case.zip", func(t *testing.T) []byte { return makeZip(t, caseMembers) }, true},
		{"case.tar.gz", func(t *testing.T) []byte { return makeTar(t, caseMembers, true) }, true},
		{"case.tgz", func(t *testing.T) []byte { return makeTar(t, caseMembers, true) }, true},
		{"case.tar", func(t *testing.T) []byte { return makeTar(t, caseMembers, false) }, true},
		{"CASE.ZIP", func(t *testing.T) []byte { return makeZip(t, caseMembers) }, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir, _ := workDir(t)
			st, err := Stage(context.Background(), dir, []Input{bytesInput(tt.name, tt.archive(t))})
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(st.Archives, []string{tt.name}) {
				t.Errorf("Archives = %v, want [%s]", st.Archives, tt.name)
			}
			fi, err := os.Stat(filepath.Join(dir, "airFoil2D/Allrun"))
			if err != nil {
				t.Fatal(err)
			}
			if fi.Mode().Perm() != 0o755 {
				t.Errorf("Allrun mode = %v, want 0755 (executable bit kept)", fi.Mode())
			}
			if got := readFile(t, filepath.Join(dir, "airFoil2D/system/controlDict")); got != "application simpleFoam;\n" {
				t.Errorf("controlDict = %q", got)
			}
			fi, _ = os.Stat(filepath.Join(dir, "airFoil2D/system/controlDict"))
			if fi.Mode().Perm() != 0o644 {
				t.Errorf("controlDict mode = %v, want 0644", fi.Mode())
			}
			if got := readFile(t, filepath.Join(dir, "airFoil2D/constant/polyMesh/points.gz")); got != "\x1f\x8bnot really" {
				t.Errorf("a .gz member was changed: %q", got)
			}
			if target, err := os.Readlink(filepath.Join(dir, "airFoil2D/link")); err != nil || target != "system/controlDict" {
				t.Errorf("symlink = %q, %v", target, err)
			}
			if !exists(filepath.Join(dir, tt.name)) {
				t.Errorf("the archive itself is gone")
			}
			if st.Files != 4 { // archive, Allrun, controlDict, points.gz
				t.Errorf("Files = %d, want 4", st.Files)
			}
		})
	}
}

func TestStagePlainFiles(t *testing.T) {
	dir, _ := workDir(t)
	st, err := Stage(context.Background(), dir, []Input{
		bytesInput("input.txt", []byte("hello")),
		bytesInput("mesh.gz", []byte("\x1f\x8bgzip")), // not an archive: copied as is
		bytesInput("sub/dir/extra.dat", []byte("x")),
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Archives) != 0 || st.Files != 3 || st.Bytes != 5+6+1 {
		t.Errorf("Staged = %+v", st)
	}
	for name, want := range map[string]string{"input.txt": "hello", "mesh.gz": "\x1f\x8bgzip", "sub/dir/extra.dat": "x"} {
		if got := readFile(t, filepath.Join(dir, name)); got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
}

// TestStageRefusesEscapes: hostile names fail the staging with
// ErrUnsafePath and write nothing outside the working directory.
func TestStageRefusesEscapes(t *testing.T) {
	tests := []struct {
		name  string
		input func(t *testing.T) Input
	}{
		{"zip dot-dot", func(t *testing.T) Input {
			return bytesInput("a.zip", makeZip(t, []member{{name: "../evil", mode: 0o644, body: "x"}}))
		}},
		{"zip nested dot-dot", func(t *testing.T) Input {
			return bytesInput("a.zip", makeZip(t, []member{{name: "ok/../../evil", mode: 0o644, body: "x"}}))
		}},
		{"zip absolute", func(t *testing.T) Input {
			return bytesInput("a.zip", makeZip(t, []member{{name: "/tmp/evil", mode: 0o644, body: "x"}}))
		}},
		{"zip backslash dot-dot", func(t *testing.T) Input {
			return bytesInput("a.zip", makeZip(t, []member{{name: `..\evil`, mode: 0o644, body: "x"}}))
		}},
		{"zip symlink out", func(t *testing.T) Input {
			return bytesInput("a.zip", makeZip(t, []member{{name: "link", mode: fs.ModeSymlink, body: "../"}, {name: "link/evil", mode: 0o644, body: "x"}}))
		}},
		{"tar symlink absolute", func(t *testing.T) Input {
			return bytesInput("a.tar", makeTar(t, []member{{name: "link", mode: fs.ModeSymlink, body: "/tmp"}, {name: "link/evil", mode: 0o644, body: "x"}}, false))
		}},
		{"tgz dot-dot", func(t *testing.T) Input {
			return bytesInput("a.tgz", makeTar(t, []member{{name: "../evil", mode: 0o644, body: "x"}}, true))
		}},
		{"tar hard link out", func(t *testing.T) Input {
			return bytesInput("a.tar", makeTar(t, []member{{name: "evil", hard: true, body: "../outside"}}, false))
		}},
		{"input dot-dot", func(*testing.T) Input { return bytesInput("../evil", []byte("x")) }},
		{"input absolute", func(*testing.T) Input { return bytesInput("/tmp/evil", []byte("x")) }},
		{"input empty", func(*testing.T) Input { return bytesInput("", []byte("x")) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			base := t.TempDir()
			dir := filepath.Join(base, "work")
			os.Mkdir(dir, 0o755)
			os.WriteFile(filepath.Join(base, "outside"), []byte("keep"), 0o644)
			_, err := Stage(context.Background(), dir, []Input{tt.input(t)})
			if !errors.Is(err, ErrUnsafePath) {
				t.Errorf("err = %v, want ErrUnsafePath", err)
			}
			ents, _ := os.ReadDir(base)
			var names []string
			for _, e := range ents {
				names = append(names, e.Name())
			}
			if !slices.Equal(names, []string{"outside", "work"}) || readFile(t, filepath.Join(base, "outside")) != "keep" {
				t.Errorf("something was written outside the working directory: %v", names)
			}
			if exists("/tmp/evil") {
				t.Errorf("/tmp/evil written")
			}
		})
	}
}

func TestStageTarDotEntryAndHardLink(t *testing.T) {
	dir, _ := workDir(t)
	ar := makeTar(t, []member{
		{name: "./", mode: fs.ModeDir},
		{name: "./a.txt", mode: 0o600, body: "a"},
		{name: "./b.txt", hard: true, body: "./a.txt"},
	}, true)
	if _, err := Stage(context.Background(), dir, []Input{bytesInput("x.tar.gz", ar)}); err != nil {
		t.Fatal(err)
	}
	if readFile(t, filepath.Join(dir, "b.txt")) != "a" {
		t.Errorf("hard link not made")
	}
}

func TestStageStreamsFromOpen(t *testing.T) {
	dir, _ := workDir(t)
	boom := errors.New("blob store down")
	_, err := Stage(context.Background(), dir, []Input{{Name: "x", Open: func(context.Context) (io.ReadCloser, error) { return nil, boom }}})
	if !errors.Is(err, boom) {
		t.Errorf("err = %v, want the Open error wrapped", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Stage(ctx, dir, []Input{bytesInput("y", []byte("data"))}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: err = %v", err)
	}
}
