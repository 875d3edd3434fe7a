package s3objects

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/openrescale/platform/shared/blob"
	"github.com/openrescale/platform/shared/errs"
)

// Queue delivers a local bucket's events to a handler off the writer's
// goroutine, as S3 notifications are asynchronous in AWS: an upload's
// response does not wait for hashing, and code that would only work if it
// did fails locally too. Close drains it, so no acknowledged write loses its
// event on a clean shutdown.
type Queue struct {
	handle func(context.Context, Event) error
	log    *slog.Logger
	ch     chan Event
	wg     sync.WaitGroup
	mu     sync.RWMutex // held for reading while sending, so Close cannot close ch under a sender
	closed bool
}

// queueDepth is generous: a full queue only slows writers down (Push
// blocks), it never drops events.
const queueDepth = 1024

// NewQueue starts workers goroutines delivering to handle.
func NewQueue(handle func(context.Context, Event) error, workers int, log *slog.Logger) *Queue {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	q := &Queue{handle: handle, log: log, ch: make(chan Event, queueDepth)}
	for range max(workers, 1) {
		q.wg.Add(1)
		go func() {
			defer q.wg.Done()
			for ev := range q.ch {
				q.deliver(ev)
			}
		}()
	}
	return q
}

// Push enqueues a bucket event; it is the fileblob.WithEvents callback. The
// writer's ctx is not kept: the request that wrote the object ends long
// before its event is handled.
func (q *Queue) Push(_ context.Context, e blob.Event) {
	q.mu.RLock()
	if q.closed {
		q.mu.RUnlock()
		// A write after Close (shutdown stragglers) is handled in line
		// rather than lost.
		q.deliver(FromBlob(e))
		return
	}
	q.ch <- FromBlob(e)
	q.mu.RUnlock()
}

// Close stops accepting events and waits until every queued one is handled.
func (q *Queue) Close() {
	q.mu.Lock()
	if !q.closed {
		q.closed = true
		close(q.ch)
	}
	q.mu.Unlock()
	q.wg.Wait()
}

func (q *Queue) deliver(ev Event) {
	ctx := context.Background()
	// A local stand-in for Lambda's two asynchronous retries.
	retryDelays := [...]time.Duration{100 * time.Millisecond, time.Second}
	var err error
	for i := 0; ; i++ {
		if err = q.handle(ctx, ev); err == nil {
			return
		}
		// Invalid input will not get better by retrying.
		if errs.Is(err, errs.Invalid) || i == len(retryDelays) {
			break
		}
		time.Sleep(retryDelays[i])
	}
	q.log.Error("object event failed", "event", ev.Name, "key", ev.Key, "err", err)
}
