// Package uploads runs resumable multipart upload sessions: a client starts
// a session, PUTs parts straight to storage through presigned URLs (S3's,
// or the local server's signed part route), asks which parts arrived to
// resume after a failure, and completes. Bodies never pass through API
// Gateway (10 MB cap) or Lambda (6 MB), which is the point.
//
// Store layout:
//
//	USER#<uid>      / UPLOAD#<id>   the session (TTL: Service.SessionTTL)
//	UPLOADKEY#<key> / UPLOADKEY     key → {userId, uploadId}, so a storage
//	                                event for the key finds its session
//
// The file record is created when the object exists (at complete, or by
// the storage event if that comes first), under the id reserved at start,
// so an abandoned session leaves no half-made file in listings.
package uploads

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"time"

	"github.com/openrescale/platform/shared/blob"
	"github.com/openrescale/platform/shared/errs"
	"github.com/openrescale/platform/shared/files"
	"github.com/openrescale/platform/shared/ids"
	"github.com/openrescale/platform/shared/store"
)

// Session states.
const (
	Pending   = "pending"
	Completed = "completed"
)

// Session is an upload in progress.
type Session struct {
	ID          string    `json:"id"`
	OwnerID     string    `json:"ownerId"`
	OwnerEmail  string    `json:"owner"`
	FileID      string    `json:"fileId"`
	Key         string    `json:"path"`
	UploadID    string    `json:"uploadId"`
	Name        string    `json:"name"`
	TypeID      int       `json:"typeId"`
	FolderID    string    `json:"folderId"`
	ContentType string    `json:"contentType"`
	Size        int64     `json:"size"` // declared; 0: unknown
	PartSize    int64     `json:"partSize"`
	State       string    `json:"state"`
	Created     time.Time `json:"createdAt"`
	Expires     time.Time `json:"expiresAt"`
	Version     int64     `json:"-"`
}

// PartURLs makes the URL a client PUTs one part to.
type PartURLs interface {
	// PartURL returns an absolute URL, or a path starting with "/" that the
	// handler makes absolute on this server.
	// keyID is the API key of the caller; URLs this server honours itself
	// (LocalURLs) carry it, so they stop working with the key.
	PartURL(ctx context.Context, s Session, keyID string, n int, ttl time.Duration) (string, error)
}

// Defaults.
const (
	DefaultPartSize   = 8 << 20
	DefaultURLTTL     = time.Hour
	DefaultSessionTTL = 7 * 24 * time.Hour
	// MaxURLsPerRequest bounds one parts request; clients ask in batches.
	MaxURLsPerRequest = 1000
)

// Service runs sessions.
type Service struct {
	Store     store.Store
	Files     *files.Service
	Multipart blob.Multipart
	URLs      PartURLs
	// Finish completes the file record of a landed object (hash, size,
	// isUploaded): the storage-event handler's own function. Complete calls
	// it for objects up to SyncFinishBytes; larger ones are left to the
	// storage event, so an API request never hashes gigabytes.
	Finish          func(ctx context.Context, key string) (files.File, error)
	SyncFinishBytes int64
	// MaxFileBytes caps the declared size (0: no cap). It is not
	// files.Service's cap, which in AWS is the Lambda body limit that
	// multipart uploads exist to get around.
	MaxFileBytes int64
	PartSize     int64
	URLTTL       time.Duration
	SessionTTL   time.Duration
	Now          func() time.Time
}

func sessionSK(id string) string { return "UPLOAD#" + id }
func keyRefPK(key string) string { return "UPLOADKEY#" + key }
func userPK(uid string) string   { return "USER#" + uid }
func orDefault[T comparable](v, d T) T {
	var zero T
	if v == zero {
		return d
	}
	return v
}

// StartRequest describes a new upload.
type StartRequest struct {
	Owner       files.Owner
	Name        string
	Size        int64
	TypeID      int
	FolderID    string
	ContentType string
}

// Start opens a session and the storage's multipart upload behind it.
func (s *Service) Start(ctx context.Context, req StartRequest) (Session, error) {
	if err := files.ValidName(req.Name); err != nil {
		return Session{}, err
	}
	if req.TypeID == 0 {
		req.TypeID = files.TypeInput
	}
	if !files.ValidType(req.TypeID) {
		return Session{}, errs.Field("typeId", "typeId %d is not one of 1-5, 7-10", req.TypeID)
	}
	partSize := int64(orDefault(s.PartSize, DefaultPartSize))
	switch {
	case req.Size < 0:
		return Session{}, errs.Field("size", "size must not be negative")
	case s.MaxFileBytes > 0 && req.Size > s.MaxFileBytes:
		return Session{}, errs.E(errs.TooLarge, "file exceeds the maximum upload size of %d bytes", s.MaxFileBytes)
	case req.Size > blob.MaxParts*blob.MaxPartSize:
		return Session{}, errs.E(errs.TooLarge, "file exceeds the largest multipart upload (%d bytes)", int64(blob.MaxParts)*blob.MaxPartSize)
	case req.Size > partSize*blob.MaxParts:
		// Grow parts, in whole MiB, so the file fits in 10,000 of them.
		partSize = ((req.Size+blob.MaxParts-1)/blob.MaxParts + 1<<20 - 1) &^ (1<<20 - 1)
	}
	now := s.Now().UTC()
	sess := Session{
		OwnerID: req.Owner.UserID, OwnerEmail: req.Owner.Email, FileID: ids.Short(),
		Key: files.NewKey(req.Owner.UserID, req.Name), Name: req.Name, TypeID: req.TypeID,
		FolderID: req.FolderID, ContentType: req.ContentType, Size: req.Size, PartSize: partSize,
		State: Pending, Created: now, Expires: now.Add(orDefault(s.SessionTTL, DefaultSessionTTL)),
	}
	uploadID, err := s.Multipart.CreateMultipart(ctx, sess.Key, req.ContentType)
	if err != nil {
		return Session{}, fmt.Errorf("start upload of %q: %w", req.Name, err)
	}
	sess.UploadID = uploadID
	_, err = ids.NewUnique(ctx, func(ctx context.Context, id string) error {
		sess.ID = id
		data, err := json.Marshal(sess)
		if err != nil {
			return fmt.Errorf("encode session: %w", err)
		}
		ref, _ := json.Marshal(map[string]string{"userId": sess.OwnerID, "uploadId": id})
		return s.Store.Transact(ctx, []store.Op{
			{Kind: store.OpPut, Item: store.Item{PK: userPK(sess.OwnerID), SK: sessionSK(id), ExpiresAt: sess.Expires, Data: data}, Cond: store.Cond{IfAbsent: true}},
			{Kind: store.OpPut, Item: store.Item{PK: keyRefPK(sess.Key), SK: "UPLOADKEY", ExpiresAt: sess.Expires, Data: ref}, Cond: store.Cond{IfAbsent: true}},
		})
	})
	if err != nil {
		_ = s.Multipart.AbortMultipart(context.WithoutCancel(ctx), sess.Key, uploadID)
		return Session{}, fmt.Errorf("save upload session: %w", err)
	}
	sess.Version = 1
	return sess, nil
}

// Get returns the caller's session; another user's is errs.NotFound.
func (s *Service) Get(ctx context.Context, uid, id string) (Session, error) {
	it, err := s.Store.Get(ctx, userPK(uid), sessionSK(id))
	if errs.Is(err, errs.NotFound) {
		return Session{}, errs.E(errs.NotFound, "Not found.")
	}
	if err != nil {
		return Session{}, fmt.Errorf("get upload %s: %w", id, err)
	}
	var sess Session
	if err := json.Unmarshal(it.Data, &sess); err != nil {
		return Session{}, fmt.Errorf("decode upload %s: %w", id, err)
	}
	sess.Version = it.Version
	return sess, nil
}

func (s *Service) pending(ctx context.Context, uid, id string) (Session, error) {
	sess, err := s.Get(ctx, uid, id)
	if err != nil {
		return Session{}, err
	}
	if sess.State != Pending {
		return Session{}, errs.E(errs.Conflict, "upload %s is already complete (file %s)", id, sess.FileID)
	}
	return sess, nil
}

// PartURL is where one part goes.
type PartURL struct {
	PartNumber int       `json:"partNumber"`
	URL        string    `json:"url"`
	ExpiresAt  time.Time `json:"expiresAt"`
}

// PartURLs presigns uploads of the numbered parts for the caller's key.
func (s *Service) PartURLs(ctx context.Context, uid, keyID, id string, numbers []int) ([]PartURL, error) {
	if len(numbers) == 0 || len(numbers) > MaxURLsPerRequest {
		return nil, errs.Field("partNumbers", "ask for 1 to %d part numbers", MaxURLsPerRequest)
	}
	sess, err := s.pending(ctx, uid, id)
	if err != nil {
		return nil, err
	}
	ttl := orDefault(s.URLTTL, DefaultURLTTL)
	exp := s.Now().UTC().Add(ttl).Truncate(time.Second)
	out := make([]PartURL, 0, len(numbers))
	for _, n := range numbers {
		if n < 1 || n > blob.MaxParts {
			return nil, errs.Field("partNumbers", "part number %d is not between 1 and %d", n, blob.MaxParts)
		}
		u, err := s.URLs.PartURL(ctx, sess, keyID, n, ttl)
		if err != nil {
			return nil, err
		}
		out = append(out, PartURL{PartNumber: n, URL: u, ExpiresAt: exp})
	}
	return out, nil
}

// Parts returns the session and the parts storage has received.
func (s *Service) Parts(ctx context.Context, uid, id string) (Session, []blob.Part, error) {
	sess, err := s.Get(ctx, uid, id)
	if err != nil || sess.State != Pending {
		return sess, nil, err
	}
	parts, err := s.Multipart.ListParts(ctx, sess.Key, sess.UploadID)
	if err != nil {
		return Session{}, nil, fmt.Errorf("parts of upload %s: %w", id, err)
	}
	return sess, parts, nil
}

// Complete assembles the parts and records the file. The returned record is
// uploaded (hashed) when the object is small enough to finish in line;
// otherwise isUploaded turns true once the storage event is handled.
func (s *Service) Complete(ctx context.Context, uid, id string, parts []blob.Part) (files.File, error) {
	sess, err := s.Get(ctx, uid, id)
	if err != nil {
		return files.File{}, err
	}
	if sess.State == Completed {
		return s.Files.Repo.Get(ctx, uid, sess.FileID) // a retried complete
	}
	a, err := s.Multipart.CompleteMultipart(ctx, sess.Key, sess.UploadID, parts)
	if errs.Is(err, errs.NotFound) {
		// Completed by a concurrent call: the object is there.
		if a, err = s.Files.Bucket.Stat(ctx, sess.Key); err != nil {
			return files.File{}, errs.E(errs.NotFound, "Not found.")
		}
	}
	if err != nil {
		return files.File{}, fmt.Errorf("complete upload %s: %w", id, err)
	}
	f, err := s.claim(ctx, sess)
	if err != nil {
		return files.File{}, err
	}
	if s.Finish != nil && a.Size <= s.SyncFinishBytes {
		done, err := s.Finish(ctx, sess.Key)
		if err != nil {
			return files.File{}, err
		}
		if done.ID != "" {
			f = done
		}
	}
	return f, nil
}

// Abort discards a pending session and its parts.
func (s *Service) Abort(ctx context.Context, uid, id string) error {
	sess, err := s.pending(ctx, uid, id)
	if err != nil {
		return err
	}
	if err := s.Multipart.AbortMultipart(ctx, sess.Key, sess.UploadID); err != nil {
		return fmt.Errorf("abort upload %s: %w", id, err)
	}
	err = s.Store.Transact(ctx, []store.Op{
		{Kind: store.OpDelete, Item: store.Item{PK: userPK(uid), SK: sessionSK(id)}, Cond: store.Cond{IfVersion: sess.Version}},
		{Kind: store.OpDelete, Item: store.Item{PK: keyRefPK(sess.Key), SK: "UPLOADKEY"}},
	})
	if err != nil {
		return fmt.Errorf("delete upload %s: %w", id, err)
	}
	return nil
}

// ClaimKey implements s3objects.Sessions.
func (s *Service) ClaimKey(ctx context.Context, key string) (files.File, bool, error) {
	it, err := s.Store.Get(ctx, keyRefPK(key), "UPLOADKEY")
	if errs.Is(err, errs.NotFound) {
		return files.File{}, false, nil
	}
	if err != nil {
		return files.File{}, false, fmt.Errorf("upload by key %s: %w", key, err)
	}
	var ref struct{ UserID, UploadID string }
	if err := json.Unmarshal(it.Data, &ref); err != nil {
		return files.File{}, false, fmt.Errorf("decode upload ref %s: %w", key, err)
	}
	sess, err := s.Get(ctx, ref.UserID, ref.UploadID)
	if errs.Is(err, errs.NotFound) {
		return files.File{}, false, nil
	}
	if err != nil {
		return files.File{}, false, err
	}
	f, err := s.claim(ctx, sess)
	return f, err == nil, err
}

// claim creates the session's file record (not yet uploaded) if nobody has,
// and marks the session completed. Both the complete call and the storage
// event get here, in either order, and end with the same record.
func (s *Service) claim(ctx context.Context, sess Session) (files.File, error) {
	f, err := s.Files.Repo.Create(ctx, files.File{
		ID: sess.FileID, OwnerID: sess.OwnerID, OwnerEmail: sess.OwnerEmail,
		Name: sess.Name, TypeID: sess.TypeID, DateUploaded: s.Now().UTC(), RelativePath: sess.Name,
		Key: sess.Key, ContentType: sess.ContentType, FolderID: sess.FolderID,
		Tags: []files.Tag{}, SharedWith: []string{},
	})
	if errs.Is(err, errs.Conflict) {
		f, err = s.Files.Repo.Get(ctx, sess.OwnerID, sess.FileID)
		if err == nil && f.Key != sess.Key {
			// The reserved id went to another file in between: vanishingly
			// rare, and not worth a second reservation scheme.
			return files.File{}, fmt.Errorf("upload %s: file id %s was taken", sess.ID, sess.FileID)
		}
	}
	if err != nil {
		return files.File{}, fmt.Errorf("record file of upload %s: %w", sess.ID, err)
	}
	for attempt := 0; sess.State == Pending; attempt++ {
		sess.State = Completed
		data, _ := json.Marshal(sess)
		_, err := s.Store.Put(ctx, store.Item{PK: userPK(sess.OwnerID), SK: sessionSK(sess.ID), ExpiresAt: sess.Expires, Data: data}, store.Cond{IfVersion: sess.Version})
		if err == nil || !errs.Is(err, errs.Conflict) || attempt > 3 {
			if err != nil {
				return files.File{}, fmt.Errorf("mark upload %s completed: %w", sess.ID, err)
			}
			break
		}
		if sess, err = s.Get(ctx, sess.OwnerID, sess.ID); err != nil {
			return files.File{}, err
		}
	}
	return f, nil
}

// LocalURLs signs URLs of the local part route,
// PUT /api/v2/uploads/{id}/parts/{n}/?u=&k=&expires=&sig=, with HMAC-SHA256
// over (user, key, session, part, expiry) and the data directory's secret.
// It stands in for S3's presigned UploadPart URLs; unlike those, it stops
// working once its user or key is no longer active (UploadSignedPart).
type LocalURLs struct {
	Secret []byte
	Now    func() time.Time
}

func (l LocalURLs) sig(uid, keyID, id string, n int, exp int64) string {
	m := hmac.New(sha256.New, l.Secret)
	fmt.Fprintf(m, "upload-part\x00%s\x00%s\x00%s\x00%d\x00%d", uid, keyID, id, n, exp)
	return hex.EncodeToString(m.Sum(nil))
}

// PartURL implements PartURLs.
func (l LocalURLs) PartURL(_ context.Context, s Session, keyID string, n int, ttl time.Duration) (string, error) {
	if keyID == "" {
		return "", fmt.Errorf("part URL for upload %s: no issuing key", s.ID)
	}
	exp := l.Now().Add(ttl).Unix()
	q := url.Values{"u": {s.OwnerID}, "k": {keyID}, "expires": {strconv.FormatInt(exp, 10)}, "sig": {l.sig(s.OwnerID, keyID, s.ID, n, exp)}}
	return "/api/v2/uploads/" + url.PathEscape(s.ID) + "/parts/" + strconv.Itoa(n) + "/?" + q.Encode(), nil
}

// Verify checks a local part URL's signature and expiry.
func (l LocalURLs) Verify(uid, keyID, id string, n int, expires, sig string) error {
	exp, err := strconv.ParseInt(expires, 10, 64)
	if err != nil || uid == "" || keyID == "" || !hmac.Equal([]byte(sig), []byte(l.sig(uid, keyID, id, n, exp))) {
		return errs.E(errs.Forbidden, "The part URL's signature does not match.")
	}
	if l.Now().Unix() >= exp {
		return errs.E(errs.Forbidden, "The part URL has expired; ask for a new one.")
	}
	return nil
}

// S3URLs presigns S3 UploadPart requests.
type S3URLs struct {
	Presigner blob.PartPresigner
}

// PartURL implements PartURLs. S3 honours the URL until it expires,
// whatever becomes of the key.
func (p S3URLs) PartURL(ctx context.Context, s Session, _ string, n int, ttl time.Duration) (string, error) {
	return p.Presigner.PresignPart(ctx, s.Key, s.UploadID, n, ttl)
}

// KeyChecker confirms that a user and the key a part URL was issued with
// are still active (accounts.Service.CheckKey).
type KeyChecker interface {
	CheckKey(ctx context.Context, userID, keyID string) error
}

// UploadSignedPart stores one part sent to a local part URL, streaming it,
// once the URL's signature, expiry, user and key check out.
func (s *Service) UploadSignedPart(ctx context.Context, l LocalURLs, keys KeyChecker, uid, keyID, id string, n int, expires, sig string, body io.Reader) (blob.Part, error) {
	if err := l.Verify(uid, keyID, id, n, expires, sig); err != nil {
		return blob.Part{}, err
	}
	if keys == nil {
		return blob.Part{}, errs.E(errs.Unavailable, "part URLs cannot be checked on this server")
	}
	if err := keys.CheckKey(ctx, uid, keyID); err != nil {
		return blob.Part{}, err
	}
	sess, err := s.pending(ctx, uid, id)
	if err != nil {
		return blob.Part{}, err
	}
	return s.Multipart.UploadPart(ctx, sess.Key, sess.UploadID, n, body)
}
