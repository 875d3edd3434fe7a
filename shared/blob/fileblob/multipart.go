package fileblob

import (
	"context"
	"crypto/md5"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/openrescale/platform/shared/blob"
	"github.com/openrescale/platform/shared/blob/internal/blobio"
	"github.com/openrescale/platform/shared/errs"
)

// Multipart uploads live beside the objects, never under objects/, so no
// key is reserved:
//
//	.uploads/<id>/info            {"key","contentType"}
//	.uploads/<id>/<nnnnn>.<md5>   a received part; the name carries its ETag
//
// so a part and its ETag appear together in one rename, and ListParts is a
// directory listing. Uploads left unfinished for staleUpload are removed
// when the next one starts, standing in for S3's lifecycle rule that aborts
// incomplete multipart uploads.
const (
	uploadsDir  = ".uploads"
	staleUpload = 7 * 24 * time.Hour
)

var _ blob.Multipart = (*Bucket)(nil)

type uploadInfo struct {
	Key         string `json:"key"`
	ContentType string `json:"contentType"`
}

func uploadPath(id string) string { return path.Join(uploadsDir, id) }

// validUploadID keeps ids (which arrive from clients) from naming anything
// but an upload directory.
func validUploadID(id string) bool {
	if len(id) != 32 {
		return false
	}
	_, err := hex.DecodeString(id)
	return err == nil
}

func noUpload(id string) error {
	return errs.E(errs.NotFound, "multipart upload %q not found", id)
}

// CreateMultipart implements blob.Multipart.
func (b *Bucket) CreateMultipart(ctx context.Context, key, contentType string) (string, error) {
	if err := checkKey(key); err != nil {
		return "", err
	}
	ct, err := blobio.ContentType(contentType)
	if err != nil {
		return "", err
	}
	if err := ctx.Err(); err != nil {
		return "", fmt.Errorf("fileblob: create multipart %q: %w", key, err)
	}
	b.removeStaleUploads()
	var rnd [16]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		return "", fmt.Errorf("fileblob: upload id: %w", err)
	}
	id := hex.EncodeToString(rnd[:])
	if err := b.root.MkdirAll(uploadPath(id), 0o755); err != nil {
		return "", fmt.Errorf("fileblob: create multipart %q: %w", key, err)
	}
	info, _ := json.Marshal(uploadInfo{Key: key, ContentType: ct})
	if err := b.root.WriteFile(path.Join(uploadPath(id), "info"), info, 0o644); err != nil {
		_ = b.root.RemoveAll(uploadPath(id))
		return "", fmt.Errorf("fileblob: create multipart %q: %w", key, err)
	}
	return id, nil
}

// upload returns the upload's info, checking that it writes key.
func (b *Bucket) upload(key, id string) (uploadInfo, error) {
	if err := checkKey(key); err != nil {
		return uploadInfo{}, err
	}
	if !validUploadID(id) {
		return uploadInfo{}, noUpload(id)
	}
	data, err := b.root.ReadFile(path.Join(uploadPath(id), "info"))
	if isMissing(err) {
		return uploadInfo{}, noUpload(id)
	}
	if err != nil {
		return uploadInfo{}, fmt.Errorf("fileblob: upload %s: %w", id, err)
	}
	var info uploadInfo
	if err := json.Unmarshal(data, &info); err != nil {
		return uploadInfo{}, fmt.Errorf("fileblob: upload %s: %w", id, err)
	}
	if info.Key != key {
		return uploadInfo{}, noUpload(id) // S3 says NoSuchUpload for a key mismatch too
	}
	return info, nil
}

func checkPartNumber(n int) error {
	if n < 1 || n > blob.MaxParts {
		return errs.Field("partNumber", "part number %d is not between 1 and %d", n, blob.MaxParts)
	}
	return nil
}

// UploadPart implements blob.Multipart. The part streams into a staging
// file while its MD5 is computed, and is renamed into the upload only when
// complete, so an interrupted part leaves the previous one (or none).
func (b *Bucket) UploadPart(ctx context.Context, key, id string, n int, r io.Reader) (blob.Part, error) {
	if err := checkPartNumber(n); err != nil {
		return blob.Part{}, err
	}
	if _, err := b.upload(key, id); err != nil {
		return blob.Part{}, err
	}
	h := md5.New()
	tmp, info, err := b.writeTemp(func(f *os.File) error {
		body := io.LimitReader(blobio.ContextReader(ctx, r), blob.MaxPartSize+1)
		_, err := io.CopyBuffer(io.MultiWriter(f, h), body, make([]byte, copyBuf))
		return err
	})
	if err != nil {
		return blob.Part{}, fmt.Errorf("fileblob: upload part %d of %s: %w", n, id, err)
	}
	defer b.root.Remove(tmp) // no-op once renamed
	if info.Size() > blob.MaxPartSize {
		return blob.Part{}, errs.E(errs.TooLarge, "part %d exceeds %d bytes", n, int64(blob.MaxPartSize))
	}
	sum := hex.EncodeToString(h.Sum(nil))
	defer b.lock(id).Unlock()
	// Aborted or completed meanwhile: do not resurrect the directory.
	if _, err := b.root.Stat(path.Join(uploadPath(id), "info")); err != nil {
		return blob.Part{}, noUpload(id)
	}
	name := fmt.Sprintf("%05d.%s", n, sum)
	if err := b.root.Rename(tmp, path.Join(uploadPath(id), name)); err != nil {
		return blob.Part{}, fmt.Errorf("fileblob: upload part %d of %s: %w", n, id, err)
	}
	parts, err := b.partFiles(id)
	if err != nil {
		return blob.Part{}, err
	}
	for _, p := range parts {
		if p.Number == n && p.file != name {
			_ = b.root.Remove(path.Join(uploadPath(id), p.file)) // replaced
		}
	}
	return blob.Part{Number: n, Size: info.Size(), ETag: `"` + sum + `"`, Time: info.ModTime()}, nil
}

type partFile struct {
	blob.Part
	file string
}

func (b *Bucket) partFiles(id string) ([]partFile, error) {
	d, err := b.root.Open(uploadPath(id))
	if isMissing(err) {
		return nil, noUpload(id)
	}
	if err != nil {
		return nil, fmt.Errorf("fileblob: list parts of %s: %w", id, err)
	}
	entries, err := d.ReadDir(-1)
	d.Close()
	if err != nil {
		return nil, fmt.Errorf("fileblob: list parts of %s: %w", id, err)
	}
	var out []partFile
	for _, e := range entries {
		num, sum, ok := strings.Cut(e.Name(), ".")
		n, err := strconv.Atoi(num)
		if !ok || err != nil || len(sum) != 32 {
			continue
		}
		info, err := e.Info()
		if err != nil {
			continue // replaced since ReadDir
		}
		out = append(out, partFile{Part: blob.Part{Number: n, Size: info.Size(), ETag: `"` + sum + `"`, Time: info.ModTime()}, file: e.Name()})
	}
	// Newest first within a number, so a replaced part still present
	// between rename and cleanup loses.
	slices.SortFunc(out, func(x, y partFile) int {
		if x.Number != y.Number {
			return x.Number - y.Number
		}
		return y.Time.Compare(x.Time)
	})
	return slices.CompactFunc(out, func(x, y partFile) bool { return x.Number == y.Number }), nil
}

// ListParts implements blob.Multipart.
func (b *Bucket) ListParts(ctx context.Context, key, id string) ([]blob.Part, error) {
	if _, err := b.upload(key, id); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("fileblob: list parts of %s: %w", id, err)
	}
	files, err := b.partFiles(id)
	if err != nil {
		return nil, err
	}
	out := make([]blob.Part, len(files))
	for i, f := range files {
		out[i] = f.Part
	}
	return out, nil
}

// checkCompletion is blobio.CheckCompletion over the part files.
func checkCompletion(want []blob.Part, have []partFile) ([]partFile, error) {
	plain := make([]blob.Part, len(have))
	files := make(map[int]partFile, len(have))
	for i, p := range have {
		plain[i], files[p.Number] = p.Part, p
	}
	use, err := blobio.CheckCompletion(want, plain)
	if err != nil {
		return nil, err
	}
	out := make([]partFile, len(use))
	for i, p := range use {
		out[i] = files[p.Number]
	}
	return out, nil
}

// CompleteMultipart implements blob.Multipart: the parts are concatenated
// into a staging file, which is committed like a Put, so readers never see
// a partly assembled object.
func (b *Bucket) CompleteMultipart(ctx context.Context, key, id string, parts []blob.Part) (blob.Attrs, error) {
	info, err := b.upload(key, id)
	if err != nil {
		return blob.Attrs{}, err
	}
	have, err := b.partFiles(id)
	if err != nil {
		return blob.Attrs{}, err
	}
	use, err := checkCompletion(parts, have)
	if err != nil {
		return blob.Attrs{}, err
	}
	objTmp, st, err := b.writeTemp(func(f *os.File) error {
		buf := make([]byte, copyBuf)
		for _, p := range use {
			pf, err := b.root.Open(path.Join(uploadPath(id), p.file))
			if err != nil {
				return err
			}
			_, err = io.CopyBuffer(f, blobio.ContextReader(ctx, pf), buf)
			pf.Close()
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		if isMissing(err) {
			return blob.Attrs{}, noUpload(id) // aborted meanwhile
		}
		return blob.Attrs{}, fmt.Errorf("fileblob: complete %q: %w", key, err)
	}
	defer b.root.Remove(objTmp)
	metaTmp, _, err := b.writeTemp(func(f *os.File) error {
		_, err := io.WriteString(f, info.ContentType)
		return err
	})
	if err != nil {
		return blob.Attrs{}, fmt.Errorf("fileblob: complete %q: %w", key, err)
	}
	defer b.root.Remove(metaTmp)
	// The session's and the key's stripes both: commitLocked must not take
	// the key's stripe again, which may be the session's (not reentrant).
	unlock := b.lockBoth(id, key)
	// A concurrent Complete or Abort got there first.
	if _, err := b.root.Stat(path.Join(uploadPath(id), "info")); err != nil {
		unlock()
		return blob.Attrs{}, noUpload(id)
	}
	if err := b.commitLocked(key, objTmp, metaTmp); err != nil {
		unlock()
		return blob.Attrs{}, err
	}
	// The object is complete; parts left by a failed removal cost only
	// disk and are swept as stale later.
	_ = b.root.RemoveAll(uploadPath(id))
	unlock()
	a := blob.Attrs{Key: key, Size: st.Size(), ModTime: st.ModTime(), ContentType: info.ContentType}
	if b.events != nil {
		b.events(ctx, blob.Event{Name: "ObjectCreated:CompleteMultipartUpload", Key: key, Size: a.Size, Time: a.ModTime})
	}
	return a, nil
}

// AbortMultipart implements blob.Multipart.
func (b *Bucket) AbortMultipart(ctx context.Context, key, id string) error {
	if err := checkKey(key); err != nil {
		return err
	}
	if !validUploadID(id) {
		return nil
	}
	if _, err := b.upload(key, id); errs.Is(err, errs.NotFound) {
		return nil
	} else if err != nil {
		return err
	}
	defer b.lock(id).Unlock()
	if err := b.root.RemoveAll(uploadPath(id)); err != nil {
		return fmt.Errorf("fileblob: abort %s: %w", id, err)
	}
	return nil
}

// removeStaleUploads is best-effort, like removeStaleTemps.
func (b *Bucket) removeStaleUploads() {
	d, err := b.root.Open(uploadsDir)
	if err != nil {
		return
	}
	entries, err := d.ReadDir(-1)
	d.Close()
	if err != nil {
		return
	}
	cutoff := time.Now().Add(-staleUpload)
	for _, e := range entries {
		if info, err := b.root.Stat(path.Join(uploadsDir, e.Name(), "info")); err == nil && info.ModTime().Before(cutoff) {
			_ = b.root.RemoveAll(path.Join(uploadsDir, e.Name()))
		}
	}
}
