package client

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"
)

// Upload defaults.
const (
	// DefaultMultipartThreshold: files larger than this go through a
	// resumable multipart session, smaller ones in one request.
	DefaultMultipartThreshold = 100 << 20
	// MinPartSize is S3's smallest part but the last, which the platform
	// enforces everywhere.
	MinPartSize = 5 << 20
	// DefaultParallel transfers run at once.
	DefaultParallel = 4
	// partURLBatch is how many part URLs one parts/ request asks for;
	// asked shortly before use, as they expire (in an hour).
	partURLBatch = 32
)

// UploadOptions say how to upload a file.
type UploadOptions struct {
	FileOptions
	// MultipartThreshold: larger files go through a multipart session
	// (0: DefaultMultipartThreshold; negative: every non-empty file).
	MultipartThreshold int64
	// PartSize of a multipart upload (0: the session's). Raised to
	// MinPartSize, and as needed to fit the session's maximum part count.
	PartSize int64
	// Parallel parts at once (0: DefaultParallel).
	Parallel int
	// StateDir keeps the state of multipart uploads, so the same upload
	// started again resumes ("": no resuming).
	StateDir string
	// Progress hears the bytes sent.
	Progress Progress
	// Wait bounds waiting for the server to finish a completed multipart
	// upload's record (0: 10 minutes).
	Wait time.Duration
}

// UploadResult tells what an upload did.
type UploadResult struct {
	File File `json:"file"`
	// MD5 of the local file (equal to the record's when the server has
	// hashed it).
	MD5 string `json:"md5"`
	// Multipart uploads: the session and its parts.
	UploadID     string `json:"uploadId,omitempty"`
	Parts        int    `json:"parts,omitempty"`
	ResumedParts int    `json:"resumedParts,omitempty"`
	// SentBytes is what this call sent (less than the size when it
	// resumed).
	SentBytes int64 `json:"sentBytes"`
}

// Upload uploads a local file and returns its record once the server has
// it whole; the record's md5 is checked against the local file's.
func (c *Client) Upload(ctx context.Context, path string, opt UploadOptions) (UploadResult, error) {
	f, err := os.Open(path)
	if err != nil {
		return UploadResult{}, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return UploadResult{}, err
	}
	if !st.Mode().IsRegular() {
		return UploadResult{}, fmt.Errorf("%s is not a regular file", path)
	}
	if opt.Name == "" {
		opt.Name = filepath.Base(path)
	}
	threshold := opt.MultipartThreshold
	if threshold == 0 {
		threshold = DefaultMultipartThreshold
	}
	var res UploadResult
	var sent atomic.Int64
	if st.Size() > max(threshold, 0) {
		res, err = c.uploadMultipart(ctx, f, st, opt, &sent)
	} else {
		res.File, res.MD5, err = c.uploadDirect(ctx, f, st.Size(), opt.FileOptions, opt.Progress, &sent)
		if IsStatus(err, http.StatusRequestEntityTooLarge) && st.Size() > 0 {
			// The deployment takes smaller direct uploads (4 MiB in AWS,
			// a Lambda's body): send it in parts after all.
			sent.Store(0)
			res, err = c.uploadMultipart(ctx, f, st, opt, &sent)
		}
	}
	res.SentBytes = sent.Load()
	if err != nil {
		return res, err
	}
	if res.File, err = c.waitUploaded(ctx, res.File, cmp(opt.Wait, 10*time.Minute)); err != nil {
		return res, err
	}
	if res.File.MD5 != "" && res.MD5 != "" && !strings.EqualFold(res.File.MD5, res.MD5) {
		return res, fmt.Errorf("upload of %s: the server's md5 %s differs from the local file's %s", path, res.File.MD5, res.MD5)
	}
	return res, nil
}

func cmp[T comparable](v, d T) T {
	var zero T
	if v == zero {
		return d
	}
	return v
}

// UploadSession is a multipart upload session (POST /api/v2/uploads/).
type UploadSession struct {
	ID            string       `json:"id"`
	FileID        string       `json:"fileId"`
	Name          string       `json:"name"`
	Size          *int64       `json:"size"`
	PartSize      int64        `json:"partSize"`
	MinPartSize   int64        `json:"minPartSize"`
	MaxParts      int          `json:"maxParts"`
	Status        string       `json:"status"` // pending, completed
	ExpiresAt     time.Time    `json:"expiresAt"`
	Parts         []UploadPart `json:"parts"`
	ReceivedBytes *int64       `json:"receivedBytes"`
}

// UploadPart is a part the server has received.
type UploadPart struct {
	Number int    `json:"partNumber"`
	Size   int64  `json:"size"`
	ETag   string `json:"etag"`
}

// UploadRequest starts a session.
type UploadRequest struct {
	Name            string `json:"name"`
	Size            int64  `json:"size,omitempty"`
	TypeID          int    `json:"typeId,omitempty"`
	CurrentFolderID string `json:"currentFolderId,omitempty"`
	ContentType     string `json:"contentType,omitempty"`
}

func uploadPath(id string) string { return "/api/v2/uploads/" + url.PathEscape(id) + "/" }

// StartUpload opens a multipart upload session.
func (c *Client) StartUpload(ctx context.Context, r UploadRequest) (UploadSession, error) {
	var s UploadSession
	err := c.call(ctx, http.MethodPost, "/api/v2/uploads/", nil, r, &s)
	return s, err
}

// GetUpload reads a session with the parts received so far.
func (c *Client) GetUpload(ctx context.Context, id string) (UploadSession, error) {
	var s UploadSession
	err := c.call(ctx, http.MethodGet, uploadPath(id), nil, nil, &s)
	return s, err
}

// PartURL is where one part is PUT.
type PartURL struct {
	Number int    `json:"partNumber"`
	URL    string `json:"url"`
}

// PartURLs asks for the URLs of the numbered parts.
func (c *Client) PartURLs(ctx context.Context, id string, numbers []int) (map[int]string, error) {
	var out struct {
		Parts []PartURL `json:"parts"`
	}
	if err := c.call(ctx, http.MethodPost, uploadPath(id)+"parts/", nil, map[string]any{"partNumbers": numbers}, &out); err != nil {
		return nil, err
	}
	m := make(map[int]string, len(out.Parts))
	for _, p := range out.Parts {
		m[p.Number] = p.URL
	}
	return m, nil
}

// CompleteUpload assembles the parts into the file.
func (c *Client) CompleteUpload(ctx context.Context, id string, parts []UploadPart) (File, error) {
	type part struct {
		Number int    `json:"partNumber"`
		ETag   string `json:"etag"`
	}
	body := struct {
		Parts []part `json:"parts"`
	}{Parts: []part{}}
	for _, p := range parts {
		body.Parts = append(body.Parts, part{p.Number, p.ETag})
	}
	var f File
	err := c.call(ctx, http.MethodPost, uploadPath(id)+"complete/", nil, body, &f)
	return f, err
}

// AbortUpload discards a session and its parts.
func (c *Client) AbortUpload(ctx context.Context, id string) error {
	return c.call(ctx, http.MethodDelete, uploadPath(id), nil, nil, nil)
}

// putPart PUTs one part to its presigned URL (no API key: the URL
// authorises, and may be S3's) and returns the ETag.
func (c *Client) putPart(ctx context.Context, u string, f *os.File, off, size int64, p Progress, sent *atomic.Int64) (string, error) {
	var counted int64
	resp, err := c.send(ctx, func() (*http.Request, error) {
		// A retry sends the part again: take back what the failed try
		// counted.
		p.Add(-counted)
		sent.Add(-counted)
		counted = 0
		body := &countingReader{r: c.meter(ctx, io.NewSectionReader(f, off, size), p, sent), n: &counted}
		req, err := http.NewRequest(http.MethodPut, u, body)
		if err != nil {
			return nil, err
		}
		req.ContentLength = size
		return req, nil
	}, false)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	etag := resp.Header.Get("ETag")
	if etag == "" {
		return "", fmt.Errorf("part upload answered no ETag")
	}
	return etag, nil
}

type countingReader struct {
	r io.Reader
	n *int64
}

func (c *countingReader) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	*c.n += int64(n)
	return n, err
}

// uploadState is what a multipart upload keeps on disk to resume.
type uploadState struct {
	APIURL   string         `json:"apiUrl"`
	Path     string         `json:"path"`
	Name     string         `json:"name"`
	Size     int64          `json:"size"`
	ModTime  time.Time      `json:"modTime"`
	UploadID string         `json:"uploadId"`
	FileID   string         `json:"fileId"`
	PartSize int64          `json:"partSize"`
	Parts    map[int]string `json:"parts"` // part number → ETag, as the server answered it
}

// StatePath is the state file of a multipart upload of path to the
// client's API under name, in dir.
func (c *Client) StatePath(dir, path, name string) (string, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", err
	}
	h := sha256.Sum256([]byte(c.BaseURL() + "\x00" + abs + "\x00" + name))
	return filepath.Join(dir, "upload-"+hex.EncodeToString(h[:12])+".json"), nil
}

func partSizeFor(size, want, session, min int64, maxParts int) int64 {
	ps := cmp(want, session)
	ps = max(ps, cmp(min, MinPartSize))
	if maxParts > 0 {
		if need := (size + int64(maxParts) - 1) / int64(maxParts); ps < need {
			ps = (need + 1<<20 - 1) &^ (1<<20 - 1)
		}
	}
	return ps
}

func (c *Client) uploadMultipart(ctx context.Context, f *os.File, st os.FileInfo, opt UploadOptions, sent *atomic.Int64) (UploadResult, error) {
	size := st.Size()
	p := orNoProgress(opt.Progress)
	// The whole file's md5, read alongside the upload, to check the
	// server's.
	type sum struct {
		md5 string
		err error
	}
	sumc := make(chan sum, 1)
	go func() {
		s, err := md5File(f, 0, size)
		sumc <- sum{s, err}
	}()

	var statePath string
	var state uploadState
	var sess UploadSession
	if opt.StateDir != "" {
		var err error
		if statePath, err = c.StatePath(opt.StateDir, f.Name(), opt.Name); err != nil {
			return UploadResult{}, err
		}
		if b, err := os.ReadFile(statePath); err == nil && json.Unmarshal(b, &state) == nil &&
			state.Size == size && state.ModTime.Equal(st.ModTime()) && state.APIURL == c.BaseURL() && state.UploadID != "" {
			s, err := c.GetUpload(ctx, state.UploadID)
			switch {
			case err == nil && s.Status == "completed":
				// Completed before the state file was removed.
				file, err := c.GetFile(ctx, state.FileID)
				if err != nil {
					return UploadResult{}, err
				}
				os.Remove(statePath)
				sm := <-sumc
				return UploadResult{File: file, MD5: sm.md5, UploadID: s.ID}, sm.err
			case err == nil:
				sess = s
			case IsStatus(err, http.StatusNotFound):
				// Expired or aborted: start again.
			default:
				return UploadResult{}, err
			}
		} else if err == nil {
			// A state of another version of the file: its parts are of
			// no use.
			if state.UploadID != "" && state.APIURL == c.BaseURL() {
				_ = c.AbortUpload(ctx, state.UploadID)
			}
		}
	}
	if sess.ID == "" {
		var err error
		sess, err = c.StartUpload(ctx, UploadRequest{Name: opt.Name, Size: size, TypeID: opt.TypeID, CurrentFolderID: opt.FolderID})
		if err != nil {
			return UploadResult{}, err
		}
		state = uploadState{
			APIURL: c.BaseURL(), Path: f.Name(), Name: opt.Name, Size: size, ModTime: st.ModTime(),
			UploadID: sess.ID, FileID: sess.FileID,
			PartSize: partSizeFor(size, opt.PartSize, sess.PartSize, sess.MinPartSize, sess.MaxParts),
			Parts:    map[int]string{},
		}
	}
	if state.Parts == nil {
		state.Parts = map[int]string{}
	}
	partSize := state.PartSize
	if partSize <= 0 {
		return UploadResult{}, fmt.Errorf("upload state %s has no part size; remove it", statePath)
	}
	count := int((size + partSize - 1) / partSize)
	partLen := func(n int) int64 { return min(partSize, size-int64(n-1)*partSize) }

	// The server's list of received parts decides what is done; a part
	// the state does not know (sent, but the process died before it
	// saved) is checked against the local bytes' md5, which is S3's ETag.
	done := map[int]string{}
	var resumedBytes int64
	for _, sp := range sess.Parts {
		if sp.Number < 1 || sp.Number > count || sp.Size != partLen(sp.Number) {
			continue
		}
		if state.Parts[sp.Number] != sp.ETag {
			local, err := md5File(f, int64(sp.Number-1)*partSize, partLen(sp.Number))
			if err != nil {
				return UploadResult{}, err
			}
			if strings.Trim(sp.ETag, `"`) != local {
				continue
			}
		}
		done[sp.Number] = sp.ETag
		resumedBytes += sp.Size
	}
	state.Parts = done
	var mu sync.Mutex
	save := func() error {
		if statePath == "" {
			return nil
		}
		mu.Lock()
		defer mu.Unlock()
		return writeJSONAtomic(statePath, state)
	}
	if err := save(); err != nil {
		return UploadResult{}, fmt.Errorf("save upload state: %w", err)
	}
	res := UploadResult{UploadID: sess.ID, Parts: count, ResumedParts: len(done)}

	var todo []int
	for n := 1; n <= count; n++ {
		if _, ok := done[n]; !ok {
			todo = append(todo, n)
		}
	}
	p.Begin(size, resumedBytes)
	g, gctx := errgroup.WithContext(ctx)
	type job struct {
		n   int
		url string
	}
	jobs := make(chan job)
	g.Go(func() error {
		defer close(jobs)
		for i := 0; i < len(todo); i += partURLBatch {
			batch := todo[i:min(i+partURLBatch, len(todo))]
			urls, err := c.PartURLs(gctx, sess.ID, batch)
			if err != nil {
				return err
			}
			for _, n := range batch {
				select {
				case jobs <- job{n, urls[n]}:
				case <-gctx.Done():
					return gctx.Err()
				}
			}
		}
		return nil
	})
	for range cmp(opt.Parallel, DefaultParallel) {
		g.Go(func() error {
			for j := range jobs {
				n, u := j.n, j.url
				off := int64(n-1) * partSize
				etag, err := c.putPart(gctx, u, f, off, partLen(n), p, sent)
				if IsStatus(err, http.StatusForbidden) {
					// The URL expired while queued: ask again, once.
					var urls map[int]string
					if urls, err = c.PartURLs(gctx, sess.ID, []int{n}); err == nil {
						etag, err = c.putPart(gctx, urls[n], f, off, partLen(n), p, sent)
					}
				}
				if err != nil {
					return fmt.Errorf("part %d of %s: %w", n, opt.Name, err)
				}
				mu.Lock()
				state.Parts[n] = etag
				mu.Unlock()
				if err := save(); err != nil {
					return fmt.Errorf("save upload state: %w", err)
				}
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		if errors.Is(err, context.Canceled) && ctx.Err() != nil {
			err = ctx.Err()
		}
		return res, err
	}
	parts := make([]UploadPart, 0, count)
	for n, etag := range state.Parts {
		parts = append(parts, UploadPart{Number: n, ETag: etag})
	}
	sort.Slice(parts, func(i, j int) bool { return parts[i].Number < parts[j].Number })
	file, err := c.CompleteUpload(ctx, sess.ID, parts)
	if err != nil {
		return res, err
	}
	// complete/ answers a few fields; the record has them all.
	if full, err := c.GetFile(ctx, file.ID); err == nil {
		file = full
	}
	if statePath != "" {
		os.Remove(statePath)
	}
	sm := <-sumc
	res.File, res.MD5 = file, sm.md5
	return res, sm.err
}
