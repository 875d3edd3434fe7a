package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"
)

// DefaultChunkSize is the range one request of a parallel download reads.
const DefaultChunkSize = 8 << 20

// DownloadOptions say how to download a file.
type DownloadOptions struct {
	// Parallel ranges at once (0: DefaultParallel; 1: one stream).
	Parallel int
	// ChunkSize of each range (0: DefaultChunkSize).
	ChunkSize int64
	// Progress hears the bytes received.
	Progress Progress
}

// DownloadResult tells what a download did.
type DownloadResult struct {
	File File   `json:"file"`
	Path string `json:"path"`
	// ReceivedBytes is what this call received (less than the size when
	// it resumed; 0 when the file was already there).
	ReceivedBytes int64 `json:"receivedBytes"`
	Resumed       bool  `json:"resumed,omitempty"`
	Skipped       bool  `json:"skipped,omitempty"`
}

// downloadState is kept beside the partial file (`<dest>.part.json`).
type downloadState struct {
	FileID    string `json:"fileId"`
	MD5       string `json:"md5"`
	Size      int64  `json:"size"`
	ChunkSize int64  `json:"chunkSize"` // 0: one stream, resumed from the partial file's length
	Done      []bool `json:"done,omitempty"`
}

// Download writes file f to dest, through `<dest>.part` and a state file
// beside it, so an interrupted download started again resumes; the result
// is checked against the record's md5 before it is renamed into place. A
// dest already holding the file (same size and md5) is left alone.
func (c *Client) Download(ctx context.Context, f File, dest string, opt DownloadOptions) (DownloadResult, error) {
	res := DownloadResult{File: f, Path: dest}
	if !f.IsUploaded {
		return res, fmt.Errorf("file %s (%s) is not uploaded yet", f.ID, f.Name)
	}
	p := orNoProgress(opt.Progress)
	if st, err := os.Stat(dest); err == nil && st.Mode().IsRegular() && st.Size() == f.Size && f.MD5 != "" {
		if sum, err := md5Path(dest); err == nil && strings.EqualFold(sum, f.MD5) {
			p.Begin(f.Size, f.Size)
			res.Skipped = true
			return res, nil
		}
	}
	if err := os.MkdirAll(filepath.Dir(dest), 0o755); err != nil {
		return res, err
	}
	part, statePath := dest+".part", dest+".part.json"
	chunk := cmp(opt.ChunkSize, DefaultChunkSize)
	parallel := cmp(opt.Parallel, DefaultParallel)
	want := downloadState{FileID: f.ID, MD5: f.MD5, Size: f.Size}
	if parallel > 1 && f.Size > chunk {
		want.ChunkSize = chunk
		want.Done = make([]bool, (f.Size+chunk-1)/chunk)
	}
	var st downloadState
	if b, err := os.ReadFile(statePath); err == nil && json.Unmarshal(b, &st) == nil &&
		st.FileID == want.FileID && st.MD5 == want.MD5 && st.Size == want.Size && st.ChunkSize == want.ChunkSize && len(st.Done) == len(want.Done) {
		res.Resumed = true
	} else {
		st = want
		if err := os.Remove(part); err != nil && !errors.Is(err, os.ErrNotExist) {
			return res, err
		}
	}
	if err := writeJSONAtomic(statePath, st); err != nil {
		return res, fmt.Errorf("save download state: %w", err)
	}
	out, err := os.OpenFile(part, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return res, err
	}
	defer out.Close()
	var got atomic.Int64
	if st.ChunkSize == 0 {
		err = c.downloadStream(ctx, f, out, p, &got, &res)
	} else {
		err = c.downloadChunks(ctx, f, out, &st, statePath, parallel, p, &got, &res)
	}
	res.ReceivedBytes = got.Load()
	if err != nil {
		return res, err
	}
	if err := out.Sync(); err != nil {
		return res, err
	}
	if f.MD5 != "" {
		sum, err := md5File(out, 0, -1)
		if err != nil {
			return res, err
		}
		if !strings.EqualFold(sum, f.MD5) {
			// Start over next time rather than resume bad bytes.
			os.Remove(statePath)
			return res, fmt.Errorf("download of %s: md5 %s differs from the record's %s", f.ID, sum, f.MD5)
		}
	}
	if err := out.Close(); err != nil {
		return res, err
	}
	if err := os.Rename(part, dest); err != nil {
		return res, err
	}
	os.Remove(statePath)
	return res, nil
}

func md5Path(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	return md5File(f, 0, -1)
}

// get asks for the file's bytes from off (to end < 0: the end) and returns
// the response, 200 or 206.
func (c *Client) get(ctx context.Context, f File, off, end int64) (*http.Response, error) {
	return c.send(ctx, func() (*http.Request, error) {
		req, err := http.NewRequest(http.MethodGet, c.URL(filePath(f.ID)+"contents/", nil), nil)
		if err != nil {
			return nil, err
		}
		switch {
		case end >= 0:
			req.Header.Set("Range", fmt.Sprintf("bytes=%d-%d", off, end))
		case off > 0:
			req.Header.Set("Range", fmt.Sprintf("bytes=%d-", off))
		}
		return req, nil
	}, true)
}

// downloadStream reads the file in one stream, continuing the partial
// file from its length.
func (c *Client) downloadStream(ctx context.Context, f File, out *os.File, p Progress, got *atomic.Int64, res *DownloadResult) error {
	have, err := out.Seek(0, io.SeekEnd)
	if err != nil {
		return err
	}
	if have > f.Size {
		have = 0
	}
	if have == f.Size && f.Size > 0 {
		p.Begin(f.Size, have)
		return nil
	}
	res.Resumed = have > 0
	resp, err := c.get(ctx, f, have, -1)
	if IsStatus(err, http.StatusRequestedRangeNotSatisfiable) {
		have = 0
		resp, err = c.get(ctx, f, 0, -1)
	}
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusPartialContent {
		have, res.Resumed = 0, false // the whole file came: start over
	}
	if err := out.Truncate(have); err != nil {
		return err
	}
	if _, err := out.Seek(have, io.SeekStart); err != nil {
		return err
	}
	p.Begin(f.Size, have)
	n, err := io.Copy(out, c.meter(ctx, resp.Body, p, got))
	if err != nil {
		return fmt.Errorf("download %s: %w", f.ID, err)
	}
	if have+n != f.Size {
		return fmt.Errorf("download %s: got %d of %d bytes", f.ID, have+n, f.Size)
	}
	return nil
}

// downloadChunks reads the file's chunks in parallel ranges, skipping the
// ones the state marks done.
func (c *Client) downloadChunks(ctx context.Context, f File, out *os.File, st *downloadState, statePath string, parallel int, p Progress, got *atomic.Int64, res *DownloadResult) error {
	if err := out.Truncate(f.Size); err != nil {
		return err
	}
	var todo []int
	var have int64
	for i, d := range st.Done {
		if d {
			have += min(st.ChunkSize, f.Size-int64(i)*st.ChunkSize)
		} else {
			todo = append(todo, i)
		}
	}
	p.Begin(f.Size, have)
	var mu sync.Mutex
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(parallel)
	for _, i := range todo {
		g.Go(func() error {
			off := int64(i) * st.ChunkSize
			end := min(off+st.ChunkSize, f.Size) - 1
			var err error
			for attempt := 0; attempt <= c.Retries; attempt++ {
				var n int64
				if n, err = c.getChunk(gctx, f, out, off, end, p, got); err == nil {
					break
				}
				// A broken body is worth another try; bytes counted are
				// taken back, as they will come again.
				p.Add(-n)
				got.Add(-n)
				var apiErr *Error
				if gctx.Err() != nil || errors.As(err, &apiErr) {
					return err
				}
				if serr := c.sleep(gctx, time.Duration(250<<attempt)*time.Millisecond); serr != nil {
					return serr
				}
			}
			if err != nil {
				return err
			}
			mu.Lock()
			defer mu.Unlock()
			st.Done[i] = true
			return writeJSONAtomic(statePath, st)
		})
	}
	return g.Wait()
}

// getChunk reads bytes off..end of the file into out at off and returns
// how many it wrote.
func (c *Client) getChunk(ctx context.Context, f File, out *os.File, off, end int64, p Progress, got *atomic.Int64) (int64, error) {
	resp, err := c.get(ctx, f, off, end)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusPartialContent || !strings.HasPrefix(resp.Header.Get("Content-Range"), "bytes "+strconv.FormatInt(off, 10)+"-") {
		return 0, &Error{Method: http.MethodGet, URL: resp.Request.URL.String(), Status: resp.StatusCode,
			Detail: fmt.Sprintf("the server answered a range request with %q", resp.Header.Get("Content-Range"))}
	}
	n, err := io.Copy(io.NewOffsetWriter(out, off), c.meter(ctx, io.LimitReader(resp.Body, end-off+1), p, got))
	if err != nil {
		return n, fmt.Errorf("download %s: %w", f.ID, err)
	}
	if n != end-off+1 {
		return n, fmt.Errorf("download %s: range %d-%d ended after %d bytes", f.ID, off, end, n)
	}
	return n, nil
}

// Open streams a file's contents.
func (c *Client) Open(ctx context.Context, id string) (io.ReadCloser, error) {
	resp, err := c.get(ctx, File{ID: id}, 0, -1)
	if err != nil {
		return nil, err
	}
	return resp.Body, nil
}
