package files

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/openrescale/platform/shared/blob"
	"github.com/openrescale/platform/shared/errs"
	"github.com/openrescale/platform/shared/ids"
)

// Owner identifies who a file belongs to.
type Owner struct {
	UserID string
	Email  string
}

// Service stores and reads files: records in the Repo, bytes in the Bucket.
type Service struct {
	Repo   *Repo
	Bucket blob.Bucket
	Now    func() time.Time
	// MaxFileBytes caps one upload (0: no cap).
	MaxFileBytes int64
}

// UploadRequest describes an upload through the API.
type UploadRequest struct {
	Owner       Owner
	Name        string
	TypeID      int    // 0: input file
	FolderID    string // "" : the user's library root
	ContentType string
	Body        io.Reader
}

// Upload streams the body into storage, hashing it on the way, and records
// the file. Nothing is left behind when it fails: the blob is written first
// under a fresh key, and removed again if the body is empty or the record
// cannot be written.
func (s *Service) Upload(ctx context.Context, req UploadRequest) (File, error) {
	if err := ValidName(req.Name); err != nil {
		return File{}, err
	}
	if req.TypeID == 0 {
		req.TypeID = TypeInput
	}
	if !ValidType(req.TypeID) {
		return File{}, errs.Field("type_id", "type_id %d is not one of 1-5, 7-10", req.TypeID)
	}
	key := NewKey(req.Owner.UserID, req.Name)
	hashed := newHashingReader(req.Body)
	defer hashed.stop()
	var body io.Reader = hashed
	var capped *capReader
	if s.MaxFileBytes > 0 {
		capped = &capReader{r: body, left: s.MaxFileBytes, limit: s.MaxFileBytes}
		body = capped
	}
	attrs, err := s.Bucket.Put(ctx, key, body, req.ContentType)
	if err != nil {
		_ = s.Bucket.Delete(context.WithoutCancel(ctx), key)
		// The adapter may report its own failure (an aborted multipart
		// upload) ahead of ours; the size limit is what the client must see.
		if capped != nil && capped.err != nil {
			return File{}, capped.err
		}
		return File{}, fmt.Errorf("store upload %q: %w", req.Name, err)
	}
	if attrs.Size == 0 {
		_ = s.Bucket.Delete(context.WithoutCancel(ctx), key)
		return File{}, errs.Field("file", "The submitted file is empty.")
	}
	md5Hex, sha512Hex := hashed.sums()
	f := File{
		OwnerID: req.Owner.UserID, OwnerEmail: req.Owner.Email,
		Name: req.Name, TypeID: req.TypeID, DateUploaded: s.Now().UTC(), RelativePath: req.Name,
		Key: key, Size: attrs.Size, MD5: md5Hex, SHA512: sha512Hex, ContentType: attrs.ContentType,
		IsUploaded: true, FolderID: req.FolderID, Tags: []Tag{}, SharedWith: []string{},
	}
	var created File
	_, err = ids.NewUnique(ctx, func(ctx context.Context, id string) error {
		f.ID = id
		var cerr error
		created, cerr = s.Repo.Create(ctx, f)
		return cerr
	})
	if err != nil {
		_ = s.Bucket.Delete(context.WithoutCancel(ctx), key)
		return File{}, err
	}
	return created, nil
}

// OpenFile returns the file's object as a local *os.File when storage keeps
// it as one (blob.FileOpener), so downloads can go through sendfile; ok is
// false when it does not (S3).
func (s *Service) OpenFile(ctx context.Context, f File) (_ *os.File, ok bool, err error) {
	if !f.IsUploaded {
		return nil, false, errs.E(errs.Conflict, "file %s has not finished uploading", f.ID)
	}
	fo, ok := s.Bucket.(blob.FileOpener)
	if !ok {
		return nil, false, nil
	}
	osf, err := fo.OpenFile(ctx, f.Key)
	return osf, err == nil, err
}

// Open reads length bytes of a file from offset (length < 0: to the end).
func (s *Service) Open(ctx context.Context, f File, offset, length int64) (io.ReadCloser, error) {
	if !f.IsUploaded {
		return nil, errs.E(errs.Conflict, "file %s has not finished uploading", f.ID)
	}
	return s.Bucket.NewRangeReader(ctx, f.Key, offset, length)
}

// Delete removes a file's record, then its bytes. A crash between the two
// leaves an unreferenced blob, never a record without bytes.
func (s *Service) Delete(ctx context.Context, f File) error {
	if err := s.Repo.Delete(ctx, f); err != nil {
		return err
	}
	if err := s.Bucket.Delete(ctx, f.Key); err != nil {
		return fmt.Errorf("delete blob of file %s: %w", f.ID, err)
	}
	return nil
}

// capReader fails a body that grows past the limit, so the upload aborts.
type capReader struct {
	r     io.Reader
	left  int64
	limit int64
	err   error // sticky, so Upload can report it whatever the adapter says
}

func (c *capReader) Read(p []byte) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	n, err := c.r.Read(p)
	c.left -= int64(n)
	if c.left < 0 {
		c.err = errs.E(errs.TooLarge, "file exceeds the maximum upload size of %d bytes", c.limit)
		return n, c.err
	}
	return n, err
}
