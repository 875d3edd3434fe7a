package jobs

import (
	"context"
	"fmt"
	"time"

	"github.com/openrescale/platform/shared/store"
)

// DataQuery selects the caller's jobs for GET /api/v2/data/jobs/.
type DataQuery struct {
	// CreatedAfter (inclusive) and CreatedBefore (exclusive) bound
	// dateInserted; a zero time leaves that side open.
	CreatedAfter, CreatedBefore time.Time
	// Offset skips matches; Limit caps the page. Limit 0 returns no jobs,
	// only the count (see docs/api-decisions.md, Data jobs).
	Offset, Limit int
}

// ListData returns the caller's own jobs newest first and how many match.
//
// The date index sorts jobs by dateInserted as a fixed-width string, so a
// date window is a key range. The store port narrows by sort-key prefix
// only: the window's longest common prefix narrows the query, the exact
// bounds are compared on the index keys without decoding records, and only
// the returned page is decoded.
func (s *Service) ListData(ctx context.Context, uid string, q DataQuery) ([]Job, int, error) {
	sq := store.Query{Index: store.GSI1, PK: jobsByDatePK(uid), Desc: true}
	bounded := !q.CreatedAfter.IsZero() || !q.CreatedBefore.IsZero()
	if !bounded {
		// The count item and one page, as List's page 1.
		total, err := jobCount(uid).Count(ctx, s.st, func(ctx context.Context) (int, error) {
			res, err := s.st.Query(ctx, store.Query{Index: store.GSI1, PK: jobsByDatePK(uid)})
			return res.Total, err
		})
		if err != nil {
			return nil, 0, fmt.Errorf("count jobs of %s: %w", uid, err)
		}
		if q.Limit == 0 { // count only; store Limit 0 means "no cap"
			return []Job{}, total, nil
		}
		sq.Offset, sq.Limit, sq.NoTotal = q.Offset, q.Limit, true
		res, err := s.st.Query(ctx, sq)
		if err != nil {
			return nil, 0, fmt.Errorf("list jobs of %s: %w", uid, err)
		}
		out, err := decodeAll(res.Items)
		return out, total, err
	}
	var lo, hi string // GSI1SK >= lo and < hi
	if !q.CreatedAfter.IsZero() {
		lo = dateKey(q.CreatedAfter, "")
	}
	if !q.CreatedBefore.IsZero() {
		hi = dateKey(q.CreatedBefore, "")
		if !q.CreatedAfter.IsZero() {
			if !q.CreatedAfter.Before(q.CreatedBefore) {
				return []Job{}, 0, nil
			}
			sq.SKPrefix = commonPrefix(lo, dateKey(q.CreatedBefore.Add(-time.Nanosecond), ""))
		}
	}
	res, err := s.st.Query(ctx, sq)
	if err != nil {
		return nil, 0, fmt.Errorf("list jobs of %s: %w", uid, err)
	}
	total := 0
	page := make([]store.Item, 0, min(q.Limit, 1024))
	for _, it := range res.Items {
		if (lo != "" && it.GSI1SK < lo) || (hi != "" && it.GSI1SK >= hi) {
			continue
		}
		if total >= q.Offset && len(page) < q.Limit {
			page = append(page, it)
		}
		total++
	}
	out, err := decodeAll(page)
	return out, total, err
}

func commonPrefix(a, b string) string {
	n := 0
	for n < len(a) && n < len(b) && a[n] == b[n] {
		n++
	}
	return a[:n]
}
