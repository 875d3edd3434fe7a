package worker

import (
	"archive/tar"
	"archive/zip"
	"compress/bzip2"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"
)

// Input is one input file of a run. Open is called once, when it is staged;
// the reader is streamed to disk, never held in memory.
type Input struct {
	Name string // file name in the working directory, e.g. "airFoil2D.zip"
	Open func(ctx context.Context) (io.ReadCloser, error)
}

// Staged is what Stage put into the working directory.
type Staged struct {
	// Archives are the names of the inputs that were unpacked. They stay in
	// the working directory (a command may use them) but are not outputs:
	// pass them as Filter.Skip to Collect.
	Archives []string
	Files    int   // regular files written, archives and their members included
	Bytes    int64 // their total size
}

// Stage puts inputs into dir, which must exist. Every input is first copied
// under its name; one named *.zip, *.tar, *.tar.gz, *.tgz, *.tar.bz2 or
// *.tbz2 is then unpacked into dir itself as Rescale does (a zip holding
// airFoil2D/Allrun gives dir/airFoil2D/Allrun), keeping the archive's
// permission bits (executable scripts stay executable; setuid, setgid and
// sticky bits are dropped; the owner can always read and write). Other
// compressed files (*.gz: OpenFOAM reads its meshes gzipped) are copied as
// they are.
//
// Names that are absolute, climb out of dir, or would be written through a
// symlink leading out of it, and symlinks whose target is absolute or
// outside dir, fail the staging with ErrUnsafePath; nothing outside dir is
// ever written (all writes go through an os.Root). Archive members that are
// neither files, directories nor links (devices, fifos) are skipped.
func Stage(ctx context.Context, dir string, inputs []Input) (Staged, error) {
	var st Staged
	root, err := os.OpenRoot(dir)
	if err != nil {
		return st, fmt.Errorf("worker: stage: %w", err)
	}
	defer root.Close()
	for _, in := range inputs {
		if err := stageOne(ctx, root, in, &st); err != nil {
			return st, fmt.Errorf("worker: stage %q: %w", in.Name, err)
		}
	}
	return st, nil
}

func stageOne(ctx context.Context, root *os.Root, in Input, st *Staged) error {
	name, err := localName(in.Name)
	if err != nil {
		return err
	}
	if name == "." {
		return fmt.Errorf("%w: %q names the directory itself", ErrUnsafePath, in.Name)
	}
	if in.Open == nil {
		return errors.New("input has no Open function")
	}
	rc, err := in.Open(ctx)
	if err != nil {
		return fmt.Errorf("open: %w", err)
	}
	n, err := writeFile(ctx, root, name, 0o644, time.Time{}, rc)
	rc.Close()
	if err != nil {
		return err
	}
	st.Files++
	st.Bytes += n
	kind := archiveKind(name)
	if kind == "" {
		return nil
	}
	if err := unpack(ctx, root, name, kind, st); err != nil {
		return fmt.Errorf("unpack: %w", err)
	}
	st.Archives = append(st.Archives, filepath.ToSlash(name))
	return nil
}

// archiveKind says how a name is unpacked: "zip", "tar", "tar.gz",
// "tar.bz2" or "" (copied only). xz is not in the standard library and not
// worth a dependency until a user needs it.
func archiveKind(name string) string {
	n := strings.ToLower(name)
	switch {
	case strings.HasSuffix(n, ".zip"):
		return "zip"
	case strings.HasSuffix(n, ".tar.gz"), strings.HasSuffix(n, ".tgz"):
		return "tar.gz"
	case strings.HasSuffix(n, ".tar.bz2"), strings.HasSuffix(n, ".tbz2"), strings.HasSuffix(n, ".tbz"):
		return "tar.bz2"
	case strings.HasSuffix(n, ".tar"):
		return "tar"
	}
	return ""
}

// localName turns a slash-separated relative name into a clean local path,
// or ErrUnsafePath.
// A name that cleans to the directory itself ("./" in a tar made with
// `tar -C dir .`) is ".".
func localName(name string) (string, error) {
	if path.IsAbs(name) || !filepath.IsLocal(filepath.FromSlash(name)) {
		return "", fmt.Errorf("%w: %q", ErrUnsafePath, name)
	}
	return filepath.Clean(filepath.FromSlash(name)), nil
}

func unpack(ctx context.Context, root *os.Root, name, kind string, st *Staged) error {
	f, err := root.Open(name)
	if err != nil {
		return err
	}
	defer f.Close()
	if kind == "zip" {
		fi, err := f.Stat()
		if err != nil {
			return err
		}
		return unzip(ctx, root, f, fi.Size(), st)
	}
	var r io.Reader = f
	switch kind {
	case "tar.gz":
		zr, err := gzip.NewReader(f)
		if err != nil {
			return err
		}
		defer zr.Close()
		r = zr
	case "tar.bz2":
		r = bzip2.NewReader(f)
	}
	return untar(ctx, root, r, st)
}

func unzip(ctx context.Context, root *os.Root, ra io.ReaderAt, size int64, st *Staged) error {
	zr, err := zip.NewReader(ra, size)
	if err != nil && !errors.Is(err, zip.ErrInsecurePath) {
		return err // insecure names are refused below, one by one, with their name
	}
	for _, zf := range zr.File {
		if err := ctx.Err(); err != nil {
			return err
		}
		// The zip spec says '/', but some Windows tools write '\'; unzip
		// reads those as separators too.
		entry := strings.ReplaceAll(zf.Name, `\`, "/")
		mode := zf.Mode()
		if err := unpackEntry(ctx, root, entry, mode, zf.Modified, func() (io.ReadCloser, error) { return zf.Open() }, st); err != nil {
			return err
		}
	}
	return nil
}

func untar(ctx context.Context, root *os.Root, r io.Reader, st *Staged) error {
	tr := tar.NewReader(r)
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		h, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		mode := h.FileInfo().Mode()
		open := func() (io.ReadCloser, error) { return io.NopCloser(tr), nil }
		switch h.Typeflag {
		case tar.TypeReg, tar.TypeDir:
		case tar.TypeSymlink:
			open = func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader(h.Linkname)), nil }
		case tar.TypeLink:
			if err := hardlink(root, h.Name, h.Linkname); err != nil {
				return err
			}
			continue
		default:
			continue // devices, fifos, pax/GNU metadata the reader did not fold in
		}
		if err := unpackEntry(ctx, root, h.Name, mode, h.ModTime, open, st); err != nil {
			return err
		}
	}
}

// unpackEntry writes one archive member: a directory, a symlink (its
// content is the target) or a regular file.
func unpackEntry(ctx context.Context, root *os.Root, entry string, mode fs.FileMode, mtime time.Time, open func() (io.ReadCloser, error), st *Staged) error {
	name, err := localName(entry)
	if err != nil {
		return err
	}
	if name == "." {
		return nil // the directory itself: it exists, and its mode is ours
	}
	switch {
	case mode.IsDir() || strings.HasSuffix(entry, "/"):
		if err := root.MkdirAll(name, 0o755); err != nil {
			return fmt.Errorf("%s: %w", entry, err)
		}
		return root.Chmod(name, mode.Perm()|0o700)
	case mode&fs.ModeSymlink != 0:
		rc, err := open()
		if err != nil {
			return fmt.Errorf("%s: %w", entry, err)
		}
		target, err := io.ReadAll(io.LimitReader(rc, 4096))
		rc.Close()
		if err != nil {
			return fmt.Errorf("%s: %w", entry, err)
		}
		return symlink(root, name, string(target))
	case mode.IsRegular():
		rc, err := open()
		if err != nil {
			return fmt.Errorf("%s: %w", entry, err)
		}
		n, err := writeFile(ctx, root, name, mode.Perm()|0o600, mtime, rc)
		rc.Close()
		if err != nil {
			return fmt.Errorf("%s: %w", entry, err)
		}
		st.Files++
		st.Bytes += n
	}
	return nil
}

// symlink creates name -> target if the target, resolved from name's
// directory, stays inside the root.
func symlink(root *os.Root, name, target string) error {
	if target == "" || path.IsAbs(target) || filepath.IsAbs(target) ||
		!filepath.IsLocal(filepath.Join(filepath.Dir(name), filepath.FromSlash(target))) {
		return fmt.Errorf("%w: symlink %s -> %s", ErrUnsafePath, name, target)
	}
	if err := prepare(root, name); err != nil {
		return err
	}
	return root.Symlink(filepath.FromSlash(target), name)
}

func hardlink(root *os.Root, entry, target string) error {
	name, err := localName(entry)
	if err != nil {
		return err
	}
	old, err := localName(target)
	if err != nil {
		return fmt.Errorf("hard link %s: %w", entry, err)
	}
	if err := prepare(root, name); err != nil {
		return err
	}
	return root.Link(old, name)
}

// prepare makes name's parent directory and removes whatever non-directory
// is at name, so a new file or link replaces it instead of being written
// through an earlier member's symlink.
func prepare(root *os.Root, name string) error {
	if dir := filepath.Dir(name); dir != "." {
		if err := root.MkdirAll(dir, 0o755); err != nil {
			return err
		}
	}
	fi, err := root.Lstat(name)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		return err
	case fi.IsDir():
		return fmt.Errorf("%s: is a directory", name)
	}
	return root.Remove(name)
}

// writeFile streams r into a new file name under root with the given
// permissions (exactly: not subject to the umask).
func writeFile(ctx context.Context, root *os.Root, name string, perm fs.FileMode, mtime time.Time, r io.Reader) (int64, error) {
	if err := prepare(root, name); err != nil {
		return 0, err
	}
	f, err := root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return 0, err
	}
	n, err := io.Copy(f, ctxReader{ctx, r})
	if err == nil {
		err = f.Chmod(perm)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil && !mtime.IsZero() {
		err = root.Chtimes(name, mtime, mtime)
	}
	return n, err
}

// ctxReader stops a long copy when its context ends.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
