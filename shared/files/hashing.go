package files

import (
	"crypto/md5"
	"crypto/sha512"
	"encoding/hex"
	"hash"
	"io"
	"sync"
	"sync/atomic"
)

// hashingReader passes a body through while md5 and sha512 hash it, each on
// its own goroutine, so that neither hash waits for the other nor the write
// waits for both: an upload costs about the slower hash, not their sum.
// Each chunk read is copied once into a pooled buffer shared by the two
// hashers; at most queueDepth chunks (of the caller's buffer size) are in
// flight, so memory stays flat.
type hashingReader struct {
	r      io.Reader
	queues [2]chan *chunk
	wg     sync.WaitGroup
	hashes [2]hash.Hash
	closed bool
}

const queueDepth = 8

type chunk struct {
	b    []byte
	left atomic.Int32 // the hashers still reading b; the last returns it
}

var chunkPool = sync.Pool{New: func() any { return &chunk{} }}

func newHashingReader(r io.Reader) *hashingReader {
	h := &hashingReader{r: r, hashes: [2]hash.Hash{md5.New(), sha512.New()}}
	for i := range h.queues {
		h.queues[i] = make(chan *chunk, queueDepth)
		h.wg.Add(1)
		go func(q chan *chunk, sum hash.Hash) {
			defer h.wg.Done()
			for c := range q {
				sum.Write(c.b)
				if c.left.Add(-1) == 0 {
					chunkPool.Put(c)
				}
			}
		}(h.queues[i], h.hashes[i])
	}
	return h
}

// Read fills p as far as the body allows before handing it on: a multipart
// part arrives a few KiB per read, and a chunk per read would cost the
// hashers a hand-off and storage a write call for every few KiB.
func (h *hashingReader) Read(p []byte) (int, error) {
	var n int
	var err error
	for n < len(p) && err == nil {
		var m int
		m, err = h.r.Read(p[n:])
		n += m
	}
	if n > 0 {
		c := chunkPool.Get().(*chunk)
		c.b = append(c.b[:0], p[:n]...)
		c.left.Store(int32(len(h.queues)))
		for _, q := range h.queues {
			q <- c
		}
	}
	return n, err
}

// sums stops the hashers and returns the hex md5 and sha512 of everything
// read. It must be called once, and the reader not used after.
func (h *hashingReader) sums() (md5Hex, sha512Hex string) {
	h.stop()
	return hex.EncodeToString(h.hashes[0].Sum(nil)), hex.EncodeToString(h.hashes[1].Sum(nil))
}

// stop ends the hashers (also when an upload fails half-way).
func (h *hashingReader) stop() {
	if h.closed {
		return
	}
	h.closed = true
	for _, q := range h.queues {
		close(q)
	}
	h.wg.Wait()
}
