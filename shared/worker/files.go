package worker

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"slices"
	"strings"
	"syscall"
	"time"
)

// Entry is one entry of a directory listing.
type Entry struct {
	Name    string      // base name
	Path    string      // relative to the working directory, '/'-separated
	Dir     bool        // a directory (not through a symlink)
	Size    int64       // bytes, for regular files
	Mode    fs.FileMode // includes fs.ModeSymlink for links, which are listed, not followed
	ModTime time.Time
}

// relPath checks a path asked of a live run's directory: "" and "." are
// the directory itself; absolute paths and ".." are ErrUnsafePath.
func relPath(rel string) (string, error) {
	if rel == "" {
		return ".", nil
	}
	clean := path.Clean(rel)
	if path.IsAbs(rel) || clean == ".." || strings.HasPrefix(clean, "../") {
		return "", fmt.Errorf("worker: %w: %q", ErrUnsafePath, rel)
	}
	return clean, nil
}

// ListDir lists directory rel of dir (a live run's working directory),
// sorted by name. Paths leaving dir, also through symlinks, are refused
// with ErrUnsafePath or the os.Root error.
func ListDir(dir, rel string) ([]Entry, error) {
	rel, err := relPath(rel)
	if err != nil {
		return nil, err
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("worker: list: %w", err)
	}
	defer root.Close()
	d, err := root.Open(rel)
	if err != nil {
		return nil, fmt.Errorf("worker: list %s: %w", rel, err)
	}
	defer d.Close()
	ents, err := d.ReadDir(-1)
	if err != nil {
		return nil, fmt.Errorf("worker: list %s: %w", rel, err)
	}
	out := make([]Entry, 0, len(ents))
	for _, e := range ents {
		fi, err := e.Info()
		if err != nil {
			continue // vanished since the directory was read
		}
		p := e.Name()
		if rel != "." {
			p = rel + "/" + p
		}
		en := Entry{Name: e.Name(), Path: p, Dir: fi.IsDir(), Mode: fi.Mode(), ModTime: fi.ModTime()}
		if fi.Mode().IsRegular() {
			en.Size = fi.Size()
		}
		out = append(out, en)
	}
	slices.SortFunc(out, func(a, b Entry) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// tailChunk is how much of the file Tail reads at a time, backwards from
// the end: memory stays at one chunk however large the file.
const tailChunk = 32 << 10

// Tail writes the last lines lines of the regular file rel of dir to w (a
// final line without a newline counts). It reads backwards from the end
// a chunk at a time to find where they start, then copies from there to
// the size the file had when opened, so a file growing meanwhile does not
// make it run forever. lines <= 0 writes nothing.
func Tail(dir, rel string, lines int, w io.Writer) error {
	rel, err := relPath(rel)
	if err != nil {
		return err
	}
	if lines <= 0 {
		return nil
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return fmt.Errorf("worker: tail: %w", err)
	}
	defer root.Close()
	f, err := root.Open(rel)
	if err != nil {
		return fmt.Errorf("worker: tail %s: %w", rel, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("worker: tail %s: %w", rel, err)
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("worker: tail %s: not a regular file", rel)
	}
	if err := TailReader(f, fi.Size(), lines, w); err != nil {
		return fmt.Errorf("worker: tail %s: %w", rel, err)
	}
	return nil
}

// TailReader writes the last lines lines of the first size bytes of r to w,
// as Tail does for a file: for the job agent's log as a stored object,
// read by ranges.
func TailReader(r io.ReaderAt, size int64, lines int, w io.Writer) error {
	if lines <= 0 {
		return nil
	}
	start, err := tailStart(r, size, lines)
	if err != nil {
		return err
	}
	_, err = io.Copy(w, io.NewSectionReader(r, start, size-start))
	return err
}

// tailStart finds the offset of the first of the last n lines of the
// first size bytes of r.
func tailStart(r io.ReaderAt, size int64, n int) (int64, error) {
	buf := make([]byte, tailChunk)
	end := size
	// A final newline ends the last line; it does not start another one.
	if size > 0 {
		if _, err := r.ReadAt(buf[:1], size-1); err != nil {
			return 0, err
		}
		if buf[0] == '\n' {
			end--
		}
	}
	for end > 0 {
		off := max(end-tailChunk, 0)
		chunk := buf[:end-off]
		if _, err := r.ReadAt(chunk, off); err != nil && err != io.EOF {
			return 0, err
		}
		for i := len(chunk) - 1; i >= 0; i-- {
			if chunk[i] != '\n' {
				continue
			}
			if n--; n == 0 {
				return off + int64(i) + 1, nil
			}
		}
		end = off
	}
	return 0, nil
}

// CheckDisk fails with ErrNoSpace unless the file system holding dir has at
// least needBytes available (storagePerNode). Space is counted as for an
// unprivileged user (f_bavail) although jobs run as root: a job must not
// eat the file system's reserve.
func CheckDisk(dir string, needBytes int64) error {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return fmt.Errorf("worker: disk space of %s: %w", dir, err)
	}
	avail := uint64(st.Bavail) * uint64(st.Bsize)
	if needBytes > 0 && uint64(needBytes) > avail {
		return fmt.Errorf("worker: %w: %s has %d bytes available, %d needed", ErrNoSpace, dir, avail, needBytes)
	}
	return nil
}

// diskFull reports whether the file system holding dir has no space left
// for unprivileged writers, the likely cause of a failure there.
func diskFull(dir string) bool {
	var st syscall.Statfs_t
	return syscall.Statfs(dir, &st) == nil && st.Bavail == 0
}
