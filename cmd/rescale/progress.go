package main

import (
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/openrescale/platform/client"
	"github.com/schollz/progressbar/v3"
)

// bar is a progress bar of bytes on stderr (client.Progress).
type bar struct {
	w    io.Writer
	desc string
	mu   sync.Mutex
	b    *progressbar.ProgressBar
}

func newBar(w io.Writer, desc string) *bar { return &bar{w: w, desc: desc} }

func (b *bar) Begin(total, done int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.b == nil {
		w := b.w
		b.b = progressbar.NewOptions64(max(total, 1),
			progressbar.OptionSetWriter(w),
			progressbar.OptionSetDescription(b.desc),
			progressbar.OptionShowBytes(true),
			progressbar.OptionShowTotalBytes(true),
			progressbar.OptionUseIECUnits(true),
			progressbar.OptionSetWidth(20),
			progressbar.OptionThrottle(100*time.Millisecond),
			progressbar.OptionShowCount(),
			progressbar.OptionSetPredictTime(true),
			progressbar.OptionFullWidth(),
			progressbar.OptionOnCompletion(func() { fmt.Fprintln(w) }),
		)
	} else {
		b.b.ChangeMax64(max(total, 1))
	}
	_ = b.b.Set64(done)
}

func (b *bar) Add(n int64) {
	b.mu.Lock()
	pb := b.b
	b.mu.Unlock()
	if pb != nil {
		_ = pb.Add64(n)
	}
}

// Done ends the bar: full when the transfer succeeded, else where it
// stopped.
func (b *bar) Done(ok bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch {
	case b.b == nil || b.b.IsFinished():
	case ok:
		_ = b.b.Finish()
	default:
		_ = b.b.Exit()
		fmt.Fprintln(b.w)
	}
}

// sharedBar is one bar over several transfers whose total is known up
// front: each transfer's Begin only adds what it already had.
type sharedBar struct{ b *bar }

func (s sharedBar) Begin(_, done int64) { s.b.Add(done) }
func (s sharedBar) Add(n int64)         { s.b.Add(n) }

var (
	_ client.Progress = (*bar)(nil)
	_ client.Progress = sharedBar{}
)
