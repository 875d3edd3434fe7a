package client

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"
	"io"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

func filePath(id string) string { return "/api/v2/files/" + url.PathEscape(id) + "/" }

// ListFiles lists up to limit of the caller's files (0: all), newest
// first, whose name contains search (when not ""), and the total.
func (c *Client) ListFiles(ctx context.Context, search string, limit int) ([]File, int, error) {
	v := url.Values{}
	if search != "" {
		v.Set("search", search)
	}
	return list[File](ctx, c, "/api/v2/files/", v, limit)
}

// GetFile reads a file record.
func (c *Client) GetFile(ctx context.Context, id string) (File, error) {
	var f File
	err := c.call(ctx, http.MethodGet, filePath(id), nil, nil, &f)
	return f, err
}

// FileOptions are the upload's record fields.
type FileOptions struct {
	// Name of the file (default: the local file's base name).
	Name string
	// TypeID is the file type (default 1, an input file).
	TypeID int
	// FolderID is the folder to upload into (default MyLibrary's root).
	FolderID string
}

// uploadDirect sends a file in one multipart/form-data request, POST
// /api/v2/files/contents/, streaming it, with an exact Content-Length (API
// Gateway wants one).
func (c *Client) uploadDirect(ctx context.Context, f *os.File, size int64, opt FileOptions, p Progress, sent *atomic.Int64) (File, string, error) {
	var head strings.Builder
	mw := multipart.NewWriter(&head)
	if opt.TypeID != 0 {
		_ = mw.WriteField("type_id", strconv.Itoa(opt.TypeID))
	}
	if opt.FolderID != "" {
		_ = mw.WriteField("current_folder_id", opt.FolderID)
	}
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", fmt.Sprintf(`form-data; name="file"; filename="%s"`, strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(opt.Name)))
	h.Set("Content-Type", "application/octet-stream")
	if _, err := mw.CreatePart(h); err != nil {
		return File{}, "", err
	}
	tail := "\r\n--" + mw.Boundary() + "--\r\n"
	ctype := mw.FormDataContentType()

	p = orNoProgress(p)
	p.Begin(size, 0)
	var sum string
	resp, err := c.send(ctx, func() (*http.Request, error) {
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return nil, err
		}
		hash := md5.New()
		body := io.MultiReader(strings.NewReader(head.String()),
			&hashTail{r: c.meter(ctx, io.LimitReader(f, size), p, sent), h: hash, done: &sum},
			strings.NewReader(tail))
		req, err := http.NewRequest(http.MethodPost, c.URL("/api/v2/files/contents/", nil), body)
		if err != nil {
			return nil, err
		}
		req.ContentLength = int64(head.Len()) + size + int64(len(tail))
		req.Header.Set("Content-Type", ctype)
		req.Header.Set("Accept", "application/json")
		return req, nil
	}, true)
	if err != nil {
		return File{}, "", err
	}
	defer resp.Body.Close()
	var out File
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return File{}, "", fmt.Errorf("upload %s: decode answer: %w", opt.Name, err)
	}
	return out, sum, nil
}

// hashTail hashes what passes through it and writes the hex sum at EOF.
type hashTail struct {
	r    io.Reader
	h    hash.Hash
	done *string
}

func (t *hashTail) Read(b []byte) (int, error) {
	n, err := t.r.Read(b)
	t.h.Write(b[:n])
	if err == io.EOF {
		*t.done = hex.EncodeToString(t.h.Sum(nil))
	}
	return n, err
}

// waitUploaded polls a file until its record says isUploaded (a large
// multipart object is hashed by the storage event after complete/).
func (c *Client) waitUploaded(ctx context.Context, f File, timeout time.Duration) (File, error) {
	deadline := time.Now().Add(timeout)
	wait := 200 * time.Millisecond
	for !f.IsUploaded {
		if time.Now().After(deadline) {
			return f, fmt.Errorf("file %s is not marked uploaded after %v", f.ID, timeout)
		}
		if err := c.sleep(ctx, wait); err != nil {
			return f, err
		}
		wait = min(2*wait, 5*time.Second)
		var err error
		if f, err = c.GetFile(ctx, f.ID); err != nil {
			return f, err
		}
	}
	return f, nil
}
