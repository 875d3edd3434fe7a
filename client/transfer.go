package client

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync/atomic"

	"golang.org/x/time/rate"
)

// Progress hears how a transfer goes. Add is called from several
// goroutines at once.
type Progress interface {
	// Begin announces the bytes of the whole transfer and those already
	// in place (resumed); it comes before any Add.
	Begin(total, done int64)
	// Add counts bytes sent or received.
	Add(n int64)
}

type noProgress struct{}

func (noProgress) Begin(int64, int64) {}
func (noProgress) Add(int64)          {}

func orNoProgress(p Progress) Progress {
	if p == nil {
		return noProgress{}
	}
	return p
}

// meter counts and limits the bytes read through it.
type meter struct {
	ctx   context.Context
	r     io.Reader
	p     Progress
	limit *rate.Limiter
	n     *atomic.Int64 // bytes moved, for the caller's totals (may be nil)
}

func (m *meter) Read(b []byte) (int, error) {
	if m.limit != nil {
		// Never ask the limiter for more than its burst at once.
		if burst := m.limit.Burst(); burst > 0 && len(b) > burst {
			b = b[:burst]
		}
	}
	n, err := m.r.Read(b)
	if n > 0 {
		if m.limit != nil {
			if werr := m.limit.WaitN(m.ctx, n); werr != nil {
				return n, werr
			}
		}
		m.p.Add(int64(n))
		if m.n != nil {
			m.n.Add(int64(n))
		}
	}
	return n, err
}

func (c *Client) meter(ctx context.Context, r io.Reader, p Progress, n *atomic.Int64) io.Reader {
	return &meter{ctx: ctx, r: r, p: orNoProgress(p), limit: c.Limit, n: n}
}

// md5File is the hex MD5 of a file, or of n bytes of it from off (n < 0:
// to the end).
func md5File(f *os.File, off, n int64) (string, error) {
	h := md5.New()
	var r io.Reader = io.NewSectionReader(f, off, 1<<62)
	if n >= 0 {
		r = io.NewSectionReader(f, off, n)
	}
	if _, err := io.Copy(h, r); err != nil {
		return "", fmt.Errorf("hash %s: %w", f.Name(), err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// writeJSONAtomic writes v to path through a temporary file and a rename,
// so a crash leaves the old state or the new, never half of one.
func writeJSONAtomic(path string, v any) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".state-*")
	if err != nil {
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return err
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	return os.Rename(tmp.Name(), path)
}
