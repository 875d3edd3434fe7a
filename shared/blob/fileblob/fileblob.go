// Package fileblob is the blob.Bucket adapter for a directory on disk, used
// in local mode and tests in place of S3.
//
// Layout under the root directory:
//
//	objects/<key>   the object's bytes, a plain file (inspectable with ls/cat)
//	.meta/<key>     a sidecar holding the content type
//	.staging/       temp files for Puts in progress
//
// Objects live under objects/ rather than at the root so that every key
// blob.ValidKey accepts, ".staging/x" included, is usable: no name is
// reserved. The content type needs a sidecar because the platform's keys end
// in "-<uuid>", so inferring it from the extension would not work; Stat falls
// back to mime.TypeByExtension only for files placed there by hand.
//
// Put streams into a temp file, fsyncs it and renames it into place, so a
// crash never leaves a partial object under a key. The sidecar is renamed
// first; a crash between the two renames can leave the previous bytes
// labelled with the new content type, never mixed bytes. Puts and Deletes of
// one key are serialized within a process so the pair stays consistent;
// separate processes sharing a root get only the per-file atomicity.
//
// A filesystem cannot hold both "a" and "a/b" as files, which S3 can; such a
// Put fails with errs.Conflict. All access goes through os.Root, so a symlink
// planted under the root cannot lead outside it.
package fileblob

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"io/fs"
	"mime"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/openrescale/platform/shared/blob"
	"github.com/openrescale/platform/shared/blob/internal/blobio"
	"github.com/openrescale/platform/shared/errs"
)

const (
	objectsDir = "objects"
	metaDir    = ".meta"
	stagingDir = ".staging"

	// staleTemp is how old a staging file must be before New removes it as
	// crash debris; an in-flight Put keeps its file's mtime fresh.
	staleTemp = 24 * time.Hour

	// copyBuf is larger than io.Copy's 32 KiB default because large uploads
	// are the common case and fewer write syscalls help.
	copyBuf = 256 << 10

	// lockStripes bounds the per-key lock table; collisions only cost some
	// needless waiting between unrelated keys.
	lockStripes = 64
)

// Option configures a Bucket.
type Option func(*Bucket)

// WithEvents makes the bucket call fn after every successful Put
// ("ObjectCreated:Put") and after each Delete that removed an object
// ("ObjectRemoved:Delete"), standing in for the S3 notifications that drive
// the event handlers in AWS. fn runs synchronously on the caller's goroutine
// with the caller's ctx, after the change is durable.
func WithEvents(fn func(ctx context.Context, e blob.Event)) Option {
	return func(b *Bucket) { b.events = fn }
}

// Bucket is a blob.Bucket over a directory. Close it to release the
// directory handle.
type Bucket struct {
	root   *os.Root
	events func(context.Context, blob.Event)
	seed   maphash.Seed
	locks  [lockStripes]sync.Mutex
}

var _ blob.Bucket = (*Bucket)(nil)

// New opens (creating if needed) a bucket rooted at dir.
func New(dir string, opts ...Option) (*Bucket, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("fileblob: create root: %w", err)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("fileblob: open root: %w", err)
	}
	for _, d := range []string{objectsDir, metaDir, stagingDir} {
		if err := root.MkdirAll(d, 0o755); err != nil {
			root.Close()
			return nil, fmt.Errorf("fileblob: create %s: %w", d, err)
		}
	}
	b := &Bucket{root: root, seed: maphash.MakeSeed()}
	for _, o := range opts {
		o(b)
	}
	b.removeStaleTemps()
	return b, nil
}

// Close releases the root directory handle.
func (b *Bucket) Close() error {
	if err := b.root.Close(); err != nil {
		return fmt.Errorf("fileblob: close: %w", err)
	}
	return nil
}

// removeStaleTemps clears what crashed Puts left behind. It is best-effort:
// debris costs only disk space and is invisible to List.
func (b *Bucket) removeStaleTemps() {
	f, err := b.root.Open(stagingDir)
	if err != nil {
		return
	}
	defer f.Close()
	entries, err := f.ReadDir(-1)
	if err != nil {
		return
	}
	cutoff := time.Now().Add(-staleTemp)
	for _, e := range entries {
		if info, err := e.Info(); err == nil && info.ModTime().Before(cutoff) {
			_ = b.root.Remove(path.Join(stagingDir, e.Name()))
		}
	}
}

func objectPath(key string) string { return path.Join(objectsDir, key) }
func metaPath(key string) string   { return path.Join(metaDir, key) }

// checkKey adds filepath.IsLocal to blob.ValidKey so that, on systems whose
// paths differ from keys (Windows reserved names, backslashes), a key still
// cannot name something other than a file under the root.
func checkKey(key string) error {
	if err := blobio.CheckKey(key); err != nil {
		return err
	}
	if !filepath.IsLocal(filepath.FromSlash(key)) {
		return errs.Field("key", "object key %q is not a local path on this system", key)
	}
	return nil
}

func (b *Bucket) lock(key string) *sync.Mutex {
	m := &b.locks[b.stripe(key)]
	m.Lock()
	return m
}

func (b *Bucket) stripe(key string) uint64 { return maphash.String(b.seed, key) % lockStripes }

// lockBoth holds the stripes of two names at once. Two names can share a
// stripe, and the mutexes are not reentrant, so taking them one after the
// other could deadlock; distinct stripes are taken in index order so two
// callers cannot deadlock each other either.
func (b *Bucket) lockBoth(x, y string) (unlock func()) {
	i, j := b.stripe(x), b.stripe(y)
	if i == j {
		b.locks[i].Lock()
		return b.locks[i].Unlock
	}
	if i > j {
		i, j = j, i
	}
	b.locks[i].Lock()
	b.locks[j].Lock()
	return func() { b.locks[j].Unlock(); b.locks[i].Unlock() }
}

// Put implements blob.Bucket.
func (b *Bucket) Put(ctx context.Context, key string, r io.Reader, contentType string) (blob.Attrs, error) {
	if err := checkKey(key); err != nil {
		return blob.Attrs{}, err
	}
	ct, err := blobio.ContentType(contentType)
	if err != nil {
		return blob.Attrs{}, err
	}
	if err := ctx.Err(); err != nil {
		return blob.Attrs{}, fmt.Errorf("fileblob: put %q: %w", key, err)
	}

	objTmp, info, err := b.writeTemp(func(f *os.File) error {
		_, err := io.CopyBuffer(f, blobio.ContextReader(ctx, r), make([]byte, copyBuf))
		return err
	})
	if err != nil {
		return blob.Attrs{}, fmt.Errorf("fileblob: put %q: %w", key, err)
	}
	defer b.root.Remove(objTmp) // no-op once renamed into place
	metaTmp, _, err := b.writeTemp(func(f *os.File) error {
		_, err := io.WriteString(f, ct)
		return err
	})
	if err != nil {
		return blob.Attrs{}, fmt.Errorf("fileblob: put %q: content type: %w", key, err)
	}
	defer b.root.Remove(metaTmp)

	// Last chance to honour a cancellation: past this point the object is
	// committed and the caller would see an error for a Put that happened.
	if err := ctx.Err(); err != nil {
		return blob.Attrs{}, fmt.Errorf("fileblob: put %q: %w", key, err)
	}
	if err := b.commit(key, objTmp, metaTmp); err != nil {
		return blob.Attrs{}, err
	}

	a := blob.Attrs{Key: key, Size: info.Size(), ModTime: info.ModTime(), ContentType: ct}
	if b.events != nil {
		b.events(ctx, blob.Event{Name: "ObjectCreated:Put", Key: key, Size: a.Size, Time: a.ModTime})
	}
	return a, nil
}

// writeTemp creates a staging file, fills it with write, fsyncs it and
// returns its name and final attributes. On error nothing is left behind.
func (b *Bucket) writeTemp(write func(*os.File) error) (_ string, info fs.FileInfo, err error) {
	var rnd [12]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		return "", nil, fmt.Errorf("temp name: %w", err)
	}
	name := path.Join(stagingDir, "put-"+hex.EncodeToString(rnd[:]))
	f, err := b.root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return "", nil, fmt.Errorf("create temp: %w", err)
	}
	defer func() {
		if cerr := f.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("close temp: %w", cerr)
		}
		if err != nil {
			_ = b.root.Remove(name)
		}
	}()
	if err := write(f); err != nil {
		return "", nil, err
	}
	// Without fsync before rename, a crash can leave the key pointing at a
	// file whose data never reached disk: the "half object" this avoids.
	if err := f.Sync(); err != nil {
		return "", nil, fmt.Errorf("sync temp: %w", err)
	}
	info, err = f.Stat()
	if err != nil {
		return "", nil, fmt.Errorf("stat temp: %w", err)
	}
	return name, info, nil
}

// commit renames the staged content type and object into place.
func (b *Bucket) commit(key, objTmp, metaTmp string) error {
	defer b.lock(key).Unlock()
	return b.commitLocked(key, objTmp, metaTmp)
}

// commitLocked is commit for a caller already holding key's stripe.
func (b *Bucket) commitLocked(key, objTmp, metaTmp string) error {
	if err := b.renameInto(metaTmp, metaPath(key)); err != nil {
		return b.putError(key, err)
	}
	if err := b.renameInto(objTmp, objectPath(key)); err != nil {
		// Best effort: a content type with no object is harmless, but a
		// stale one would mislabel a later hand-placed file.
		if _, serr := b.root.Stat(objectPath(key)); serr != nil {
			_ = b.root.Remove(metaPath(key))
		}
		return b.putError(key, err)
	}
	// The renames are durable only once their directories are synced.
	b.syncDir(path.Dir(metaPath(key)))
	b.syncDir(path.Dir(objectPath(key)))
	return nil
}

// renameInto renames src to dst, creating dst's directory. It retries
// because a concurrent Delete may prune that directory between the two
// steps.
func (b *Bucket) renameInto(src, dst string) error {
	var err error
	for range 3 {
		if err = b.root.MkdirAll(path.Dir(dst), 0o755); err != nil {
			return err
		}
		if err = b.root.Rename(src, dst); !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	return err
}

// putError turns the filesystem's way of saying "a and a/b cannot both be
// files" into errs.Conflict, and wraps anything else.
func (b *Bucket) putError(key string, err error) error {
	if errors.Is(err, syscall.ENAMETOOLONG) {
		return errs.Wrap(errs.Invalid, err, "object key %q has a segment too long for local storage", key)
	}
	if errors.Is(err, syscall.ENOTDIR) || errors.Is(err, syscall.EISDIR) ||
		errors.Is(err, fs.ErrExist) || errors.Is(err, syscall.ENOTEMPTY) {
		return errs.Wrap(errs.Conflict, err, "object key %q collides with another key as a directory on disk", key)
	}
	if info, serr := b.root.Stat(objectPath(key)); serr == nil && info.IsDir() {
		return errs.Wrap(errs.Conflict, err, "object key %q is a prefix of other keys on disk", key)
	}
	return fmt.Errorf("fileblob: put %q: %w", key, err)
}

// syncDir is best-effort: not every platform can fsync a directory, and the
// object is already complete under its name.
func (b *Bucket) syncDir(dir string) {
	if d, err := b.root.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
}

// isMissing reports errors that mean "no object at this key": a path
// through a file ("a/b" when "a" is an object), or a name too long for the
// filesystem, which Put would have refused.
func isMissing(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) ||
		errors.Is(err, syscall.ENAMETOOLONG)
}

func notFound(key string, err error) error {
	return errs.Wrap(errs.NotFound, err, "object %q not found", key)
}

// Stat implements blob.Bucket.
func (b *Bucket) Stat(ctx context.Context, key string) (blob.Attrs, error) {
	if err := checkKey(key); err != nil {
		return blob.Attrs{}, err
	}
	if err := ctx.Err(); err != nil {
		return blob.Attrs{}, fmt.Errorf("fileblob: stat %q: %w", key, err)
	}
	info, err := b.root.Stat(objectPath(key))
	if isMissing(err) || err == nil && !info.Mode().IsRegular() {
		return blob.Attrs{}, notFound(key, err)
	}
	if err != nil {
		return blob.Attrs{}, fmt.Errorf("fileblob: stat %q: %w", key, err)
	}
	ct, err := b.contentType(key)
	if err != nil {
		return blob.Attrs{}, fmt.Errorf("fileblob: stat %q: %w", key, err)
	}
	return blob.Attrs{Key: key, Size: info.Size(), ModTime: info.ModTime(), ContentType: ct}, nil
}

func (b *Bucket) contentType(key string) (string, error) {
	f, err := b.root.Open(metaPath(key))
	if isMissing(err) {
		if ct := mime.TypeByExtension(path.Ext(key)); ct != "" {
			return ct, nil
		}
		return blob.DefaultContentType, nil
	}
	if err != nil {
		return "", fmt.Errorf("content type: %w", err)
	}
	defer f.Close()
	ct, err := io.ReadAll(io.LimitReader(f, 1<<10))
	if err != nil {
		return "", fmt.Errorf("content type: %w", err)
	}
	return string(ct), nil
}

// NewRangeReader implements blob.Bucket. The reader reads the file in place
// through an io.SectionReader and stops once ctx is done.
func (b *Bucket) NewRangeReader(ctx context.Context, key string, offset, length int64) (io.ReadCloser, error) {
	if err := checkKey(key); err != nil {
		return nil, err
	}
	if offset < 0 {
		return nil, errs.Field("offset", "negative offset %d", offset)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("fileblob: read %q: %w", key, err)
	}
	f, err := b.root.Open(objectPath(key))
	if isMissing(err) {
		return nil, notFound(key, err)
	}
	if err != nil {
		return nil, fmt.Errorf("fileblob: read %q: %w", key, err)
	}
	info, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("fileblob: read %q: %w", key, err)
	}
	if !info.Mode().IsRegular() {
		f.Close()
		return nil, notFound(key, nil)
	}
	size := info.Size()
	if offset > size {
		f.Close()
		return nil, errs.Field("offset", "offset %d is beyond the end of %q (%d bytes)", offset, key, size)
	}
	if length < 0 || length > size-offset {
		length = size - offset
	}
	return blobio.ContextReadCloser(ctx, &sectionFile{SectionReader: io.NewSectionReader(f, offset, length), f: f}), nil
}

// OpenFile implements blob.FileOpener.
func (b *Bucket) OpenFile(ctx context.Context, key string) (*os.File, error) {
	if err := checkKey(key); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("fileblob: open %q: %w", key, err)
	}
	f, err := b.root.Open(objectPath(key))
	if isMissing(err) {
		return nil, notFound(key, err)
	}
	if err != nil {
		return nil, fmt.Errorf("fileblob: open %q: %w", key, err)
	}
	if info, err := f.Stat(); err != nil || !info.Mode().IsRegular() {
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("fileblob: open %q: %w", key, err)
		}
		return nil, notFound(key, nil)
	}
	return f, nil
}

var _ blob.FileOpener = (*Bucket)(nil)

type sectionFile struct {
	*io.SectionReader
	f *os.File
}

func (s *sectionFile) Close() error { return s.f.Close() }

// Delete implements blob.Bucket. A key that names only a directory (a prefix
// of other keys) is not an object, so deleting it does nothing.
func (b *Bucket) Delete(ctx context.Context, key string) error {
	if err := checkKey(key); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("fileblob: delete %q: %w", key, err)
	}
	removed, err := b.remove(key)
	if err != nil {
		return fmt.Errorf("fileblob: delete %q: %w", key, err)
	}
	if removed && b.events != nil {
		b.events(ctx, blob.Event{Name: "ObjectRemoved:Delete", Key: key, Time: time.Now()})
	}
	return nil
}

func (b *Bucket) remove(key string) (bool, error) {
	defer b.lock(key).Unlock()
	info, err := b.root.Lstat(objectPath(key))
	if isMissing(err) || err == nil && info.IsDir() {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if err := b.root.Remove(objectPath(key)); err != nil {
		if isMissing(err) {
			return false, nil
		}
		return false, err
	}
	if err := b.root.Remove(metaPath(key)); err != nil && !isMissing(err) {
		return true, fmt.Errorf("remove content type: %w", err)
	}
	b.syncDir(path.Dir(objectPath(key)))
	b.prune(objectsDir, key)
	b.prune(metaDir, key)
	return true, nil
}

// prune removes directories left empty by a Delete, so deleted keys' prefixes
// do not pile up as empty directories. Remove fails on a non-empty directory,
// which is what stops the climb.
func (b *Bucket) prune(top, key string) {
	for dir := path.Dir(key); dir != "."; dir = path.Dir(dir) {
		if b.root.Remove(path.Join(top, dir)) != nil {
			return
		}
	}
}

// List implements blob.Bucket. It walks only the directories that can hold
// keys with the prefix, and visits each directory's entries in key order
// (a directory "b" sorts as "b/", after "b-x"), so results arrive in key
// order without collecting them first.
func (b *Bucket) List(ctx context.Context, prefix string, fn func(blob.Attrs) error) error {
	// Start at the prefix's deepest directory: listing one run's outputs
	// must not read a directory with an entry per job ever run.
	start := ""
	if i := strings.LastIndex(prefix, "/"); i > 0 && blob.ValidKey(prefix[:i]) {
		start = prefix[:i]
	}
	err := b.walk(ctx, start, prefix, fn)
	var fe fnError
	if errors.As(err, &fe) {
		return fe.err
	}
	return err
}

// fnError marks fn's error so List can return it as fn gave it.
type fnError struct{ err error }

func (e fnError) Error() string { return e.err.Error() }

func (b *Bucket) walk(ctx context.Context, dir, prefix string, fn func(blob.Attrs) error) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("fileblob: list %q: %w", prefix, err)
	}
	d, err := b.root.Open(path.Join(objectsDir, dir))
	if isMissing(err) {
		return nil // pruned by a concurrent Delete
	}
	if err != nil {
		return fmt.Errorf("fileblob: list %q: %w", prefix, err)
	}
	entries, err := d.ReadDir(-1)
	d.Close()
	if err != nil {
		return fmt.Errorf("fileblob: list %q: %w", prefix, err)
	}
	type entry struct {
		key   string
		isDir bool
	}
	var ents []entry
	for _, e := range entries {
		key := e.Name()
		if dir != "" {
			key = dir + "/" + key
		}
		switch {
		case e.IsDir():
			// Descend only where some key could match the prefix.
			if strings.HasPrefix(key+"/", prefix) || strings.HasPrefix(prefix, key+"/") {
				ents = append(ents, entry{key + "/", true})
			}
		case e.Type().IsRegular() && strings.HasPrefix(key, prefix):
			ents = append(ents, entry{key, false})
		}
	}
	slices.SortFunc(ents, func(x, y entry) int { return strings.Compare(x.key, y.key) })
	for _, e := range ents {
		if e.isDir {
			if err := b.walk(ctx, strings.TrimSuffix(e.key, "/"), prefix, fn); err != nil {
				return err
			}
			continue
		}
		info, err := b.root.Lstat(objectPath(e.key))
		if isMissing(err) {
			continue // deleted since ReadDir
		}
		if err != nil {
			return fmt.Errorf("fileblob: list %q: %w", prefix, err)
		}
		if err := fn(blob.Attrs{Key: e.key, Size: info.Size(), ModTime: info.ModTime()}); err != nil {
			return fnError{err}
		}
	}
	return nil
}
