// Package s3objects keeps file records in step with the objects in storage:
// when an object lands, the record behind its key is completed (size, MD5,
// SHA-512, isUploaded); when one disappears out of band, the record says so.
//
// Both sources of events, S3 notifications in AWS (events.S3Event, delivered
// to the Lambda function ROUTE=s3-object-created) and the local bucket's
// blob.Event, are converted to the same Event and handled by Handle, so the
// two deployments cannot drift apart.
//
// Events are hints, the bucket is the truth. S3 delivers at least once and
// in no particular order, so Handle never trusts an event's size or
// ordering: it reads the object's current state (Stat, then one streamed
// read for the hashes) and makes the record match it. Replaying an event,
// or receiving a Created after a later Removed, then changes nothing.
// Sequencers are carried into logs for tracing but are not needed for
// correctness, which saves a per-key "last sequencer" record.
package s3objects

import (
	"context"
	"crypto/md5"
	"crypto/sha512"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"time"

	awsevents "github.com/aws/aws-lambda-go/events"

	"github.com/openrescale/platform/shared/accounts"
	"github.com/openrescale/platform/shared/blob"
	"github.com/openrescale/platform/shared/errs"
	"github.com/openrescale/platform/shared/files"
	"github.com/openrescale/platform/shared/ids"
)

// Kind says what happened to an object.
type Kind int

const (
	Created Kind = iota + 1
	Removed
)

// Event is one object change, whatever reported it.
type Event struct {
	Kind Kind
	// Name is the source's event name (e.g. "ObjectCreated:Put"), for logs.
	Name      string
	Key       string
	Size      int64
	ETag      string
	Time      time.Time
	Sequencer string
}

// FromS3 converts an S3 notification. Keys arrive URL-encoded with '+' for
// spaces (form encoding), so they are decoded with QueryUnescape. Records
// of other kinds (restore, replication, tests) are skipped.
func FromS3(e awsevents.S3Event) ([]Event, error) {
	out := make([]Event, 0, len(e.Records))
	for _, r := range e.Records {
		var kind Kind
		switch {
		case strings.HasPrefix(r.EventName, "ObjectCreated:"):
			kind = Created
		case strings.HasPrefix(r.EventName, "ObjectRemoved:"):
			kind = Removed
		default:
			continue
		}
		key, err := url.QueryUnescape(r.S3.Object.Key)
		if err != nil {
			return nil, errs.Wrap(errs.Invalid, err, "S3 event key %q is not URL-encoded", r.S3.Object.Key)
		}
		out = append(out, Event{
			Kind: kind, Name: r.EventName, Key: key, Size: r.S3.Object.Size,
			ETag: r.S3.Object.ETag, Time: r.EventTime, Sequencer: r.S3.Object.Sequencer,
		})
	}
	return out, nil
}

// FromBlob converts a local bucket's event.
func FromBlob(e blob.Event) Event {
	kind := Created
	if strings.HasPrefix(e.Name, "ObjectRemoved:") {
		kind = Removed
	}
	return Event{Kind: kind, Name: e.Name, Key: e.Key, Size: e.Size, Time: e.Time}
}

// Sessions finds the pending upload session writing a key. A multipart
// upload's object can land before its complete call has written the file
// record (in AWS the event and the API response race), so the event
// handler completes the session itself.
type Sessions interface {
	// ClaimKey returns the file record of the pending session that writes
	// key, creating it (not yet uploaded) if the session has not; ok is
	// false when no session writes key.
	ClaimKey(ctx context.Context, key string) (f files.File, ok bool, err error)
}

// Handler applies object events to file records.
type Handler struct {
	Repo   *files.Repo
	Bucket blob.Bucket
	// Sessions is optional; without it only existing records are completed.
	Sessions Sessions
	// Owners is optional; with it, objects a user writes into their own
	// prefix with storage credentials (POST /api/credentials/) are
	// registered as file records.
	Owners Owners
	Log    *slog.Logger
}

// Owners resolves what a registered file needs about its owner.
type Owners interface {
	// OwnerEmail returns the email of an active user (errs.NotFound if
	// there is none).
	OwnerEmail(ctx context.Context, userID string) (string, error)
	// UploadFolder returns the folder new files land in ("" : the root
	// library folder).
	UploadFolder(ctx context.Context, userID, folderID string) (string, error)
}

// maxAttempts bounds retries on optimistic-concurrency conflicts: another
// writer (a duplicate event, a rename) changed the record while we hashed.
const maxAttempts = 5

// HandleS3 is the Lambda entry point (ROUTE=s3-object-created). A failed
// record fails the invocation, so Lambda's retry and the function's
// on-failure destination see it; records already handled are idempotent on
// the retry.
func (h *Handler) HandleS3(ctx context.Context, e awsevents.S3Event) error {
	evs, err := FromS3(e)
	if err != nil {
		return err
	}
	var firstErr error
	for _, ev := range evs {
		if err := h.Handle(ctx, ev); err != nil {
			h.log().ErrorContext(ctx, "object event failed", "event", ev.Name, "key", ev.Key, "sequencer", ev.Sequencer, "err", err)
			if firstErr == nil {
				firstErr = err
			}
		}
	}
	return firstErr
}

// HandleBlob handles a local bucket's event.
func (h *Handler) HandleBlob(ctx context.Context, e blob.Event) error {
	return h.Handle(ctx, FromBlob(e))
}

// Handle applies one event.
func (h *Handler) Handle(ctx context.Context, ev Event) error {
	if !blob.ValidKey(ev.Key) {
		h.log().WarnContext(ctx, "object event with an invalid key ignored", "event", ev.Name, "key", ev.Key)
		return nil
	}
	switch ev.Kind {
	case Created:
		_, err := h.Created(ctx, ev)
		return err
	case Removed:
		return h.removed(ctx, ev)
	}
	return nil
}

// Created completes the record behind ev.Key if the object is there and the
// record is not yet uploaded, and returns the record (zero if the key is
// not a platform upload). The upload-complete endpoint calls it directly for
// objects small enough to hash within an API request.
func (h *Handler) Created(ctx context.Context, ev Event) (files.File, error) {
	var sum *digest
	for attempt := 1; ; attempt++ {
		f, ok, err := h.record(ctx, ev.Key)
		if err != nil {
			return files.File{}, err
		}
		if !ok {
			// A key in the platform's own naming belongs to an API upload
			// whose record is written right after its blob, by a writer
			// that hashes itself; anything else in a user's prefix was
			// written with storage credentials and is registered here.
			if uid, rel, regOK := registrable(ev.Key); regOK && h.Owners != nil {
				return h.register(ctx, ev, uid, rel)
			}
			h.log().DebugContext(ctx, "object without a file record ignored", "event", ev.Name, "key", ev.Key)
			return files.File{}, nil
		}
		if f.IsUploaded {
			// Keys are never reused by the platform, so an object of another
			// size is an overwrite through storage credentials (S3; the
			// local storage route refuses them): the record is re-hashed so
			// that it describes what downloads now serve. A repeated event,
			// or one without a size (the complete endpoint's), changes
			// nothing.
			if ev.Size <= 0 || ev.Size == f.Size {
				return f, nil
			}
			if sum == nil {
				if sum, err = h.hash(ctx, ev.Key); errs.Is(err, errs.NotFound) {
					return f, nil
				} else if err != nil {
					return files.File{}, err
				}
			}
			if sum.size == f.Size && sum.md5 == f.MD5 {
				return f, nil
			}
			prev := f.Size
			f.Size, f.MD5, f.SHA512 = sum.size, sum.md5, sum.sha512
			out, err := h.Repo.Rehashed(ctx, f, prev)
			if errs.Is(err, errs.Conflict) && attempt < maxAttempts {
				continue
			}
			if err != nil {
				return files.File{}, fmt.Errorf("re-register overwritten %q: %w", ev.Key, err)
			}
			h.log().WarnContext(ctx, "uploaded file's object was overwritten; re-registered", "file", f.ID, "key", ev.Key, "was", prev, "size", out.Size)
			return out, nil
		}
		if sum == nil {
			sum, err = h.hash(ctx, ev.Key)
			if errs.Is(err, errs.NotFound) {
				// Removed since the event was sent: its Removed event (or
				// none, for an aborted write) decides; nothing to record.
				h.log().InfoContext(ctx, "object gone before it could be hashed", "event", ev.Name, "key", ev.Key)
				return f, nil
			}
			if err != nil {
				return files.File{}, err
			}
		}
		f.Size, f.MD5, f.SHA512 = sum.size, sum.md5, sum.sha512
		if f.ContentType == "" {
			f.ContentType = sum.contentType
		}
		out, err := h.Repo.MarkUploaded(ctx, f)
		if errs.Is(err, errs.Conflict) && attempt < maxAttempts {
			continue // re-read: a duplicate event may have finished it
		}
		if err != nil {
			return files.File{}, fmt.Errorf("complete file for %q: %w", ev.Key, err)
		}
		h.log().InfoContext(ctx, "file uploaded", "file", out.ID, "key", ev.Key, "size", out.Size, "sequencer", ev.Sequencer)
		return out, nil
	}
}

// record finds the key's file record, or claims a pending upload session's.
func (h *Handler) record(ctx context.Context, key string) (files.File, bool, error) {
	f, err := h.Repo.ByKey(ctx, key)
	if err == nil {
		return f, true, nil
	}
	if !errs.Is(err, errs.NotFound) {
		return files.File{}, false, err
	}
	if h.Sessions == nil || !strings.HasPrefix(key, "user/user_") {
		return files.File{}, false, nil
	}
	f, ok, err := h.Sessions.ClaimKey(ctx, key)
	if err != nil {
		return files.File{}, false, fmt.Errorf("upload session for %q: %w", key, err)
	}
	return f, ok, nil
}

// removed marks a record whose object was deleted behind the platform's
// back (the platform deletes the record first, so ByKey finds nothing for
// its own deletes). The record stays, flagged isDeleted, so jobs that refer
// to it show why their input is missing; usage is returned when the record
// itself is deleted.
func (h *Handler) removed(ctx context.Context, ev Event) error {
	for attempt := 1; ; attempt++ {
		f, err := h.Repo.ByKey(ctx, ev.Key)
		if errs.Is(err, errs.NotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		if f.IsDeleted {
			return nil
		}
		switch _, err := h.Bucket.Stat(ctx, ev.Key); {
		case err == nil:
			// Re-created after this removal: the later Created wins.
			h.log().InfoContext(ctx, "stale removal ignored: object exists again", "key", ev.Key, "sequencer", ev.Sequencer)
			return nil
		case !errs.Is(err, errs.NotFound):
			return fmt.Errorf("stat %q: %w", ev.Key, err)
		}
		f.IsDeleted = true
		_, err = h.Repo.Update(ctx, f)
		if errs.Is(err, errs.Conflict) && attempt < maxAttempts {
			continue
		}
		if err != nil {
			return fmt.Errorf("mark file for %q deleted: %w", ev.Key, err)
		}
		h.log().WarnContext(ctx, "file's object was removed from storage", "file", f.ID, "key", ev.Key)
		return nil
	}
}

type digest struct {
	size        int64
	md5, sha512 string
	contentType string
}

// hash streams the object once through both hashes; nothing is buffered
// beyond io.Copy's buffer, so any size fits in a Lambda's memory.
func (h *Handler) hash(ctx context.Context, key string) (*digest, error) {
	a, err := h.Bucket.Stat(ctx, key)
	if err != nil {
		return nil, err
	}
	rc, err := h.Bucket.NewRangeReader(ctx, key, 0, -1)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	m, s := md5.New(), sha512.New()
	n, err := io.CopyBuffer(io.MultiWriter(m, s), rc, make([]byte, 256<<10))
	if err != nil {
		return nil, fmt.Errorf("hash %q: %w", key, err)
	}
	return &digest{
		size: n, md5: hex.EncodeToString(m.Sum(nil)), sha512: hex.EncodeToString(s.Sum(nil)),
		contentType: a.ContentType,
	}, nil
}

func (h *Handler) log() *slog.Logger {
	if h.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return h.Log
}

// OutputPrefix starts the key of every job output under a user's prefix:
// user/user_<uid>/output/job_<jid>/run<n>/<relative path>, the spec's path.
const OutputPrefix = "output/"

// platformKey matches the keys files.NewKey makes: <name>-<32 hex>.
// Compiled on first use: every function of cmd/lambda links this package,
// and a package-level regexp is compiled in each one's cold start.
var platformKey = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[^/]+-[0-9a-f]{32}$`) })

// registrable splits user/user_<uid>/<rel> and reports whether an object at
// that key, without a record, should be registered.
func registrable(key string) (uid, rel string, ok bool) {
	rest, found := strings.CutPrefix(key, "user/user_")
	if !found {
		return "", "", false
	}
	uid, rel, found = strings.Cut(rest, "/")
	if !found || uid == "" || rel == "" || strings.HasSuffix(rel, "/") || platformKey().MatchString(rel) {
		return "", "", false
	}
	// Job outputs are registered by the lifecycle's collect step, which
	// knows their job and run; an event for one must not make a second,
	// library record of it.
	if strings.HasPrefix(rel, OutputPrefix) {
		return "", "", false
	}
	return uid, rel, true
}

// register creates the record of an object written with storage
// credentials. A duplicate event finds the record the first one made.
func (h *Handler) register(ctx context.Context, ev Event, uid, rel string) (files.File, error) {
	email, err := h.Owners.OwnerEmail(ctx, uid)
	if errs.Is(err, errs.NotFound) {
		h.log().WarnContext(ctx, "object in the prefix of an unknown user ignored", "key", ev.Key)
		return files.File{}, nil
	}
	if err != nil {
		return files.File{}, fmt.Errorf("register %q: %w", ev.Key, err)
	}
	name := rel[strings.LastIndexByte(rel, '/')+1:]
	if files.ValidName(name) != nil {
		h.log().WarnContext(ctx, "object with an unusable file name ignored", "key", ev.Key)
		return files.File{}, nil
	}
	folder, err := h.Owners.UploadFolder(ctx, uid, "")
	if err != nil {
		return files.File{}, fmt.Errorf("register %q: library folder: %w", ev.Key, err)
	}
	sum, err := h.hash(ctx, ev.Key)
	if errs.Is(err, errs.NotFound) {
		return files.File{}, nil // removed before we got to it
	}
	if err != nil {
		return files.File{}, err
	}
	f := files.File{
		OwnerID: uid, OwnerEmail: email, Name: name, TypeID: files.TypeInput,
		DateUploaded: time.Now().UTC(), RelativePath: rel, Key: ev.Key,
		Size: sum.size, MD5: sum.md5, SHA512: sum.sha512, ContentType: sum.contentType,
		IsUploaded: true, FolderID: folder, Tags: []files.Tag{}, SharedWith: []string{},
	}
	var created files.File
	existing := false
	_, err = ids.NewUnique(ctx, func(ctx context.Context, id string) error {
		f.ID = id
		var cerr error
		created, cerr = h.Repo.Create(ctx, f)
		if errs.Is(cerr, errs.Conflict) {
			if prev, gerr := h.Repo.ByKey(ctx, ev.Key); gerr == nil {
				created, existing = prev, true
				return nil
			}
		}
		return cerr
	})
	if err != nil {
		return files.File{}, fmt.Errorf("register %q: %w", ev.Key, err)
	}
	if !existing {
		h.log().InfoContext(ctx, "file registered from storage", "file", created.ID, "key", ev.Key, "size", created.Size)
	}
	return created, nil
}

// Directory implements Owners over the accounts and folders services.
type Directory struct {
	Users interface {
		User(ctx context.Context, id string) (accounts.User, error)
	}
	Folders interface {
		UploadFolder(ctx context.Context, userID, folderID string) (string, error)
	}
}

// OwnerEmail implements Owners; an inactive user counts as unknown.
func (d Directory) OwnerEmail(ctx context.Context, userID string) (string, error) {
	u, err := d.Users.User(ctx, userID)
	if err != nil {
		return "", err
	}
	if !u.Active {
		return "", errs.E(errs.NotFound, "user %s is inactive", userID)
	}
	return u.Email, nil
}

// UploadFolder implements Owners.
func (d Directory) UploadFolder(ctx context.Context, userID, folderID string) (string, error) {
	if d.Folders == nil {
		return "", nil
	}
	return d.Folders.UploadFolder(ctx, userID, folderID)
}
