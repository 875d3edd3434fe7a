package files

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/openrescale/platform/shared/errs"
)

// updateAttempts bounds read-modify-write retries; a record changed by
// several writers within one request's lifetime is rare, so a handful is
// plenty and a persistent conflict surfaces as 409 instead of spinning.
const updateAttempts = 8

// MaxTags caps the tags on one file, so a record stays far below the
// store's item size limit.
const MaxTags = 100

// Get returns the caller's file; another user's is errs.NotFound.
func (s *Service) Get(ctx context.Context, userID, id string) (File, error) {
	return s.Repo.Get(ctx, userID, id)
}

// List returns a page of the user's files, newest first, and the total.
func (s *Service) List(ctx context.Context, userID string, o ListOptions) ([]File, int, error) {
	return s.Repo.List(ctx, userID, o)
}

// Update applies change to the current record and writes it at the version
// read, reading again when another writer got there first. change may
// return an error to abandon the update; it may be called more than once.
func (s *Service) Update(ctx context.Context, userID, id string, change func(*File) error) (File, error) {
	for attempt := 0; ; attempt++ {
		f, err := s.Repo.Get(ctx, userID, id)
		if err != nil {
			return File{}, err
		}
		if err := change(&f); err != nil {
			return File{}, err
		}
		out, err := s.Repo.Update(ctx, f)
		if errs.Is(err, errs.Conflict) && attempt < updateAttempts {
			continue
		}
		if err != nil {
			return File{}, err
		}
		return out, nil
	}
}

// Rename sets a file's name (validated). An input file's relativePath is
// its name, so it follows; an output file's stays where the job put it.
func Rename(f *File, name string) error {
	if err := ValidName(name); err != nil {
		return err
	}
	if f.RelativePath == f.Name {
		f.RelativePath = name
	}
	f.Name = name
	return nil
}

// AddTag adds a tag unless one with the same normalised name is there, and
// returns the tag as stored (the first spelling wins).
func (s *Service) AddTag(ctx context.Context, userID, id, name string) (Tag, error) {
	tag, err := NewTag(name)
	if err != nil {
		return Tag{}, err
	}
	unchanged := errors.New("tag already present")
	stored := tag
	_, err = s.Update(ctx, userID, id, func(f *File) error {
		if i := slices.IndexFunc(f.Tags, func(t Tag) bool { return t.NormalizedName == tag.NormalizedName }); i >= 0 {
			stored = f.Tags[i]
			return unchanged
		}
		if len(f.Tags) >= MaxTags {
			return errs.Field("name", "a file can carry at most %d tags", MaxTags)
		}
		stored = tag
		f.Tags = append(f.Tags, tag)
		return nil
	})
	if errors.Is(err, unchanged) {
		return stored, nil
	}
	return stored, err
}

// RemoveTag removes the tag whose normalised name matches name's; a file
// without it is errs.NotFound.
func (s *Service) RemoveTag(ctx context.Context, userID, id, name string) error {
	tag, err := NewTag(name)
	if err != nil {
		return err
	}
	_, err = s.Update(ctx, userID, id, func(f *File) error {
		i := slices.IndexFunc(f.Tags, func(t Tag) bool { return t.NormalizedName == tag.NormalizedName })
		if i < 0 {
			return errs.E(errs.NotFound, "file %s has no tag %q", f.ID, name)
		}
		f.Tags = slices.Delete(f.Tags, i, i+1)
		return nil
	})
	return err
}

// Remove deletes the caller's file after check approves the current
// record (nil: always), retrying when the record changes in between.
func (s *Service) Remove(ctx context.Context, userID, id string, check func(File) error) error {
	for attempt := 0; ; attempt++ {
		f, err := s.Repo.Get(ctx, userID, id)
		if err != nil {
			return err
		}
		if check != nil {
			if err := check(f); err != nil {
				return err
			}
		}
		err = s.Delete(ctx, f)
		if errs.Is(err, errs.Conflict) && attempt < updateAttempts {
			continue
		}
		if err != nil {
			return fmt.Errorf("remove file %s: %w", id, err)
		}
		return nil
	}
}
