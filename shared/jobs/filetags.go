package jobs

import (
	"context"
	"fmt"
	"sync"

	"github.com/openrescale/platform/shared/errs"
	"github.com/openrescale/platform/shared/files"
)

// fileLister lists a user's file records in one query; *files.Repo is one.
type fileLister interface {
	List(ctx context.Context, uid string, o files.ListOptions) ([]files.File, int, error)
}

// fileGetsPerOwner: above this many distinct files of one owner, FileTags
// lists the owner's files once instead of reading each (one query beats
// many round trips to DynamoDB).
const fileGetsPerOwner = 32

// fileReaders bounds concurrent file reads.
const fileReaders = 16

// FileTags returns the normalised tags of the files the jobs refer to
// (inputs, templates, scripts, parameter and case files), keyed by job id,
// for q's #tag, which the spec matches against a job's files too. Files are
// read once each, from their job owner's records; a file deleted since has
// no tags.
func (s *Service) FileTags(ctx context.Context, js []Job) (map[string][]string, error) {
	type ref struct{ owner, id string }
	byOwner := map[string][]string{}
	seen := map[ref]bool{}
	for _, j := range js {
		for _, id := range j.Spec.FileIDs() {
			r := ref{j.OwnerID, id}
			if !seen[r] {
				seen[r] = true
				byOwner[j.OwnerID] = append(byOwner[j.OwnerID], id)
			}
		}
	}
	tags := map[ref][]string{}
	var mu sync.Mutex
	put := func(owner string, f files.File) {
		names := make([]string, len(f.Tags))
		for i, t := range f.Tags {
			names[i] = t.NormalizedName
		}
		mu.Lock()
		tags[ref{owner, f.ID}] = names
		mu.Unlock()
	}
	lister, canList := s.files.(fileLister)
	for owner, fids := range byOwner {
		if canList && len(fids) > fileGetsPerOwner {
			all, _, err := lister.List(ctx, owner, files.ListOptions{})
			if err != nil {
				return nil, fmt.Errorf("files of %s: %w", owner, err)
			}
			for _, f := range all {
				if seen[ref{owner, f.ID}] && len(f.Tags) > 0 {
					put(owner, f)
				}
			}
			continue
		}
		if err := s.getFiles(ctx, owner, fids, put); err != nil {
			return nil, err
		}
	}
	out := map[string][]string{}
	for _, j := range js {
		var names []string
		for _, id := range j.Spec.FileIDs() {
			names = append(names, tags[ref{j.OwnerID, id}]...)
		}
		if len(names) > 0 {
			out[j.ID] = names
		}
	}
	return out, nil
}

// getFiles reads fids concurrently and hands each found file to put.
func (s *Service) getFiles(ctx context.Context, owner string, fids []string, put func(string, files.File)) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	work := make(chan string)
	errc := make(chan error, fileReaders)
	var wg sync.WaitGroup
	for range min(fileReaders, len(fids)) {
		wg.Go(func() {
			for id := range work {
				f, err := s.files.Get(ctx, owner, id)
				if errs.Is(err, errs.NotFound) {
					continue
				}
				if err != nil {
					errc <- fmt.Errorf("file %s: %w", id, err)
					cancel()
					return
				}
				put(owner, f)
			}
		})
	}
feed:
	for _, id := range fids {
		select {
		case work <- id:
		case <-ctx.Done():
			break feed
		}
	}
	close(work)
	wg.Wait()
	select {
	case err := <-errc:
		return err
	default:
		return ctx.Err()
	}
}
