package worker

import (
	"archive/zip"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"
	"sync"
	"syscall"
)

// Filter selects a run's outputs (Rescale's resourceFilters and
// archiveFilters). Paths are relative to the working directory with '/'
// separators. A file is an output if it is not in Skip, matches no Exclude
// pattern, and Include is empty or it matches an Include pattern: Exclude
// wins.
//
// Patterns are path.Match globs (*, ?, [a-z]) with gitignore-like
// anchoring, the least surprising for users who know either:
//   - a pattern without '/' matches any single path element, so "*.log"
//     is every .log file at any depth and "processor*" everything inside
//     any processor* directory;
//   - a pattern with '/' matches from the top of the working directory
//     ("airFoil2D/system/*"; a leading '/' is allowed and ignored), and
//     "**" in it stands for any number of directories ("**/log.*");
//   - a pattern that matches a directory matches everything under it
//     ("airFoil2D/0" is that directory's files).
type Filter struct {
	Include []string
	Exclude []string
	Skip    []string // exact paths, e.g. Staged.Archives
}

// Validate reports a malformed pattern.
func (f Filter) Validate() error {
	for _, p := range append(append([]string(nil), f.Include...), f.Exclude...) {
		if _, err := path.Match(strings.Trim(p, "/"), ""); err != nil {
			return fmt.Errorf("worker: filter pattern %q: %w", p, err)
		}
	}
	return nil
}

// Match reports whether the file at rel is an output.
func (f Filter) Match(rel string) bool {
	for _, s := range f.Skip {
		if path.Clean(s) == rel {
			return false
		}
	}
	for _, p := range f.Exclude {
		if matchPattern(p, rel) {
			return false
		}
	}
	if len(f.Include) == 0 {
		return true
	}
	for _, p := range f.Include {
		if matchPattern(p, rel) {
			return true
		}
	}
	return false
}

func matchPattern(pattern, rel string) bool {
	segs := strings.Split(rel, "/")
	p := strings.Trim(pattern, "/")
	if p == "" {
		return false
	}
	if !strings.Contains(p, "/") && p != "**" {
		for _, s := range segs {
			if ok, _ := path.Match(p, s); ok {
				return true
			}
		}
		return false
	}
	return matchSegs(strings.Split(p, "/"), segs)
}

// matchSegs matches pattern elements against a prefix of the path's
// elements: a match of a directory covers what is under it.
func matchSegs(pat, segs []string) bool {
	if len(pat) == 0 {
		return true
	}
	if pat[0] == "**" {
		for i := 0; i <= len(segs); i++ {
			if matchSegs(pat[1:], segs[i:]) {
				return true
			}
		}
		return false
	}
	if len(segs) == 0 {
		return false
	}
	if ok, _ := path.Match(pat[0], segs[0]); !ok {
		return false
	}
	return matchSegs(pat[1:], segs[1:])
}

// Collect calls put for every output in dir (see Filter), in path order
// (directory by directory, names sorted), and returns how many files and
// bytes it put. Only regular files are outputs: symlinks are never followed
// (a link's target inside dir is collected in its own right), and all
// reads go through an os.Root, so nothing outside dir is read. put gets
// the size at the time of the listing and a reader limited to it.
func Collect(ctx context.Context, dir string, f Filter, put func(ctx context.Context, rel string, size int64, r io.Reader) error) (count int, bytes int64, err error) {
	if err := f.Validate(); err != nil {
		return 0, 0, err
	}
	err = walkFiles(ctx, dir, func(root *os.Root, rel string) error {
		if !f.Match(rel) {
			return nil
		}
		file, size, err := openRegular(root, rel)
		if err != nil {
			return err
		}
		defer file.Close()
		if err := put(ctx, rel, size, io.LimitReader(file, size)); err != nil {
			return fmt.Errorf("worker: collect %s: %w", rel, err)
		}
		count++
		bytes += size
		return nil
	})
	return count, bytes, err
}

// CollectConcurrently is Collect with up to workers puts at a time, in no
// particular order: for an object store, where each put waits on a round
// trip (the job agent uploading hundreds of outputs within the seconds a
// stopped container has). The first error stops the rest.
func CollectConcurrently(ctx context.Context, dir string, f Filter, workers int, put func(ctx context.Context, rel string, size int64, r io.Reader) error) (count int, bytes int64, err error) {
	if err := f.Validate(); err != nil {
		return 0, 0, err
	}
	var rels []string
	if err := walkFiles(ctx, dir, func(_ *os.Root, rel string) error {
		if f.Match(rel) {
			rels = append(rels, rel)
		}
		return nil
	}); err != nil {
		return 0, 0, err
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	work := make(chan string)
	var mu sync.Mutex
	var wg sync.WaitGroup
	for range max(workers, 1) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// A Root of its own: each worker's opens are independent.
			root, err := os.OpenRoot(dir)
			if err != nil {
				cancel(fmt.Errorf("worker: %w", err))
				return
			}
			defer root.Close()
			for rel := range work {
				if ctx.Err() != nil {
					continue // drain: the feed stops soon
				}
				file, size, err := openRegular(root, rel)
				if errors.Is(err, fs.ErrNotExist) {
					continue // removed since the listing, as walkFiles skips it
				}
				if err == nil {
					err = put(ctx, rel, size, io.LimitReader(file, size))
					file.Close()
					if err != nil {
						err = fmt.Errorf("worker: collect %s: %w", rel, err)
					}
				}
				if err != nil {
					cancel(err)
					continue
				}
				mu.Lock()
				count++
				bytes += size
				mu.Unlock()
			}
		}()
	}
feed:
	for _, rel := range rels {
		select {
		case work <- rel:
		case <-ctx.Done():
			break feed
		}
	}
	close(work)
	wg.Wait()
	if err := context.Cause(ctx); err != nil {
		return count, bytes, err
	}
	return count, bytes, nil
}

// walkFiles calls fn for every regular file under dir, in path order.
func walkFiles(ctx context.Context, dir string, fn func(root *os.Root, rel string) error) error {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return fmt.Errorf("worker: %w", err)
	}
	defer root.Close()
	return fs.WalkDir(root.FS(), ".", func(rel string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) && rel != "." {
				return nil // vanished while a live run changes the directory
			}
			return fmt.Errorf("worker: walk %s: %w", rel, err)
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if !d.Type().IsRegular() {
			return nil
		}
		return fn(root, rel)
	})
}

// openRegular opens rel without following a final symlink and checks it is
// still a regular file.
func openRegular(root *os.Root, rel string) (*os.File, int64, error) {
	f, err := root.OpenFile(rel, os.O_RDONLY|syscall.O_NOFOLLOW, 0)
	if err != nil {
		return nil, 0, fmt.Errorf("worker: open %s: %w", rel, err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, fmt.Errorf("worker: stat %s: %w", rel, err)
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, 0, fmt.Errorf("worker: %s: not a regular file", rel)
	}
	return f, fi.Size(), nil
}

// Snapshot writes a zip of every regular file in the live working
// directory to w (Rescale's snapshot task), streaming: each file is read
// up to the size it had when listed, so a log that keeps growing does not
// keep the snapshot going. Files that vanish meanwhile are left out.
func Snapshot(ctx context.Context, dir string, w io.Writer) error {
	zw := zip.NewWriter(w)
	err := walkFiles(ctx, dir, func(root *os.Root, rel string) error {
		f, size, err := openRegular(root, rel)
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		defer f.Close()
		fi, err := f.Stat()
		if err != nil {
			return fmt.Errorf("worker: snapshot %s: %w", rel, err)
		}
		h, err := zip.FileInfoHeader(fi)
		if err != nil {
			return fmt.Errorf("worker: snapshot %s: %w", rel, err)
		}
		h.Name, h.Method = rel, zip.Deflate
		zf, err := zw.CreateHeader(h)
		if err != nil {
			return fmt.Errorf("worker: snapshot %s: %w", rel, err)
		}
		if _, err := io.Copy(zf, ctxReader{ctx, io.LimitReader(f, size)}); err != nil {
			return fmt.Errorf("worker: snapshot %s: %w", rel, err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if err := zw.Close(); err != nil {
		return fmt.Errorf("worker: snapshot: %w", err)
	}
	return nil
}
