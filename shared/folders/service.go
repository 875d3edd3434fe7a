package folders

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/openrescale/platform/shared/errs"
	"github.com/openrescale/platform/shared/files"
	"github.com/openrescale/platform/shared/ids"
	"github.com/openrescale/platform/shared/store"
)

// FileDeleter removes one file, record and bytes; *files.Service is one.
// A file that is already gone must not be reported as success by guessing:
// implementations return the store's Conflict, and the caller re-reads.
type FileDeleter interface {
	Delete(ctx context.Context, f files.File) error
}

// Service implements the folder rules over the store.
type Service struct {
	repo  repo
	files *files.Repo
	del   FileDeleter
	now   func() time.Time
}

// New returns a Service. del removes files during recursive deletes; when it
// is nil, deleting a folder that holds files fails instead of leaking blobs.
func New(st store.Store, del FileDeleter, now func() time.Time) *Service {
	return &Service{repo: repo{st: st}, files: files.NewRepo(st), del: del, now: now}
}

func notFound() error { return errs.E(errs.NotFound, "Not found.") }

// Roots returns the user's MyJobs and MyLibrary, creating both on first
// use. Concurrent first calls all return the same pair: the pair is written
// with a conditional put on a per-user key, and the losers read the winner's.
func (s *Service) Roots(ctx context.Context, uid string) (Roots, error) {
	const attempts = 8
	for i := 0; i < attempts; i++ {
		roots, err := s.repo.getRoots(ctx, uid)
		if err == nil {
			return roots, nil
		}
		if !errs.Is(err, errs.NotFound) {
			return Roots{}, err
		}
		now := s.now().UTC()
		jobs := Folder{ID: ids.Short(), OwnerID: uid, Name: JobsRootName, Kind: KindJob, DateCreated: now}
		lib := Folder{ID: ids.Short(), OwnerID: uid, Name: LibraryRootName, Kind: KindLibrary, DateCreated: now}
		if jobs.ID == lib.ID {
			continue
		}
		err = s.repo.createRoots(ctx, uid, Roots{MyJobs: jobs.ID, MyLibrary: lib.ID}, jobs, lib)
		if err == nil {
			return Roots{MyJobs: jobs.ID, MyLibrary: lib.ID}, nil
		}
		// A conflict is another request creating the roots first (read
		// them next time round) or an id collision (draw again).
		if !errs.Is(err, errs.Conflict) {
			return Roots{}, fmt.Errorf("create root folders of %s: %w", uid, err)
		}
	}
	return Roots{}, errs.E(errs.Internal, "could not create the root folders of %s in %d attempts", uid, attempts)
}

// Ancestry returns the folder and its ancestors, root first. A folder that
// is missing, another user's, or inside a tree being deleted is NotFound.
func (s *Service) Ancestry(ctx context.Context, uid, id string) ([]Folder, error) {
	if !ids.Valid(id) || uid == "" {
		return nil, notFound()
	}
	var path []Folder
	for next := id; next != ""; {
		if len(path) > MaxDepth {
			return nil, errs.E(errs.Internal, "folder %s is nested deeper than %d levels", id, MaxDepth)
		}
		f, err := s.repo.get(ctx, uid, next)
		if err != nil {
			if errs.Is(err, errs.NotFound) {
				return nil, notFound()
			}
			return nil, err
		}
		if f.Deleting {
			return nil, notFound()
		}
		path = append(path, f)
		next = f.ParentID
	}
	for i, j := 0, len(path)-1; i < j; i, j = i+1, j-1 {
		path[i], path[j] = path[j], path[i]
	}
	return path, nil
}

// Get returns a visible folder (see Ancestry).
func (s *Service) Get(ctx context.Context, uid, id string) (Folder, error) {
	path, err := s.Ancestry(ctx, uid, id)
	if err != nil {
		return Folder{}, err
	}
	return path[len(path)-1], nil
}

// Create makes a library folder. The parent must be in the caller's
// MyLibrary tree: MyJobs and job folders are written by jobs only.
func (s *Service) Create(ctx context.Context, uid, parentID, name string) (Folder, error) {
	if err := ValidName(name); err != nil {
		return Folder{}, err
	}
	path, err := s.Ancestry(ctx, uid, parentID)
	if err != nil {
		return Folder{}, err
	}
	parent := path[len(path)-1]
	if parent.Kind != KindLibrary {
		return Folder{}, errs.Field("parent_folder_id", "folders can only be created in MyLibrary: MyJobs and job folders are immutable")
	}
	if len(path) >= MaxDepth {
		return Folder{}, errs.Field("parent_folder_id", "folders nest at most %d levels deep", MaxDepth)
	}
	f := Folder{OwnerID: uid, Name: name, ParentID: parent.ID, Kind: KindLibrary, DateCreated: s.now().UTC()}
	return s.createChild(ctx, parent, f, nil)
}

// createChild writes f under parent with a fresh id. A taken name is a 400
// naming "name"; a parent deleted meanwhile is NotFound; claim, when set,
// adds a conditional op for the new id and explains its own conflicts.
func (s *Service) createChild(ctx context.Context, parent, f Folder, claim *claimer) (Folder, error) {
	_, err := ids.NewUnique(ctx, func(ctx context.Context, id string) error {
		f.ID = id
		var extra []store.Op
		if claim != nil {
			extra = append(extra, claim.op(id))
		}
		err := s.repo.create(ctx, f, parent, extra...)
		if !errs.Is(err, errs.Conflict) {
			return err
		}
		if claim != nil {
			if cerr := claim.explain(ctx); cerr != nil {
				return cerr
			}
		}
		taken, terr := s.repo.nameTaken(ctx, f.OwnerID, f.ParentID, f.Name)
		if terr != nil {
			return terr
		}
		if taken {
			return errs.Field("name", "A folder named %q already exists in this folder.", f.Name)
		}
		cur, gerr := s.repo.get(ctx, parent.OwnerID, parent.ID)
		if errs.Is(gerr, errs.NotFound) || gerr == nil && cur.Deleting {
			return notFound()
		}
		if gerr != nil {
			return gerr
		}
		return err // the id collided: NewUnique draws another
	})
	if err != nil {
		return Folder{}, fmt.Errorf("create folder %q: %w", f.Name, err)
	}
	f.Version = 1
	return f, nil
}

// claimer adds a uniqueness claim to a folder's creation.
type claimer struct {
	op func(id string) store.Op
	// explain returns a non-Conflict error (or a sentinel) when the claim
	// is what failed, nil otherwise.
	explain func(ctx context.Context) error
}

// jobFolderExists reports that the job already has its folder.
type jobFolderExists struct{ id string }

func (e *jobFolderExists) Error() string { return "job folder exists: " + e.id }

// CreateJobFolder returns the job's folder under MyJobs, creating it on the
// first call; later calls (a retried job submission) return the same
// folder. A job name taken by another job's folder gets the job id
// appended, since job names need not be unique.
func (s *Service) CreateJobFolder(ctx context.Context, uid, jobID, name string) (Folder, error) {
	if !ids.Valid(jobID) {
		return Folder{}, errs.Field("jobId", "invalid job id %q", jobID)
	}
	if f, err := s.jobFolder(ctx, uid, jobID); err == nil || !errs.Is(err, errs.NotFound) {
		return f, err
	}
	roots, err := s.Roots(ctx, uid)
	if err != nil {
		return Folder{}, err
	}
	parent, err := s.repo.get(ctx, uid, roots.MyJobs)
	if err != nil {
		return Folder{}, err
	}
	claim := &claimer{
		op: func(id string) store.Op { return jobClaimOp(uid, jobID, id) },
		explain: func(ctx context.Context) error {
			id, err := s.repo.jobFolderID(ctx, uid, jobID)
			if err == nil {
				return &jobFolderExists{id: id}
			}
			if errs.Is(err, errs.NotFound) {
				return nil
			}
			return err
		},
	}
	base := jobFolderName(name, jobID)
	for _, candidate := range []string{base, base + " (" + jobID + ")"} {
		f := Folder{OwnerID: uid, Name: candidate, ParentID: parent.ID, Kind: KindJob, JobID: jobID, DateCreated: s.now().UTC()}
		created, err := s.createChild(ctx, parent, f, claim)
		if err == nil {
			return created, nil
		}
		var exists *jobFolderExists
		if errors.As(err, &exists) {
			return s.jobFolder(ctx, uid, jobID)
		}
		if e, ok := errs.As(err); !ok || e.Field != "name" {
			return Folder{}, err
		}
	}
	return Folder{}, errs.E(errs.Conflict, "job folder names %q and %q are both taken", base, base+" ("+jobID+")")
}

// JobFolder returns the folder of a job, NotFound if it has none.
func (s *Service) JobFolder(ctx context.Context, uid, jobID string) (Folder, error) {
	return s.jobFolder(ctx, uid, jobID)
}

func (s *Service) jobFolder(ctx context.Context, uid, jobID string) (Folder, error) {
	id, err := s.repo.jobFolderID(ctx, uid, jobID)
	if err != nil {
		if errs.Is(err, errs.NotFound) {
			return Folder{}, notFound()
		}
		return Folder{}, err
	}
	f, err := s.repo.get(ctx, uid, id)
	if err != nil {
		return Folder{}, err
	}
	if f.Deleting {
		return Folder{}, errs.E(errs.Conflict, "the folder of job %s is being deleted", jobID)
	}
	return f, nil
}

// CreateJobSubfolder makes a folder inside a job's folder (e.g. its
// outputs); it belongs to the same job. Output marks output folders; it is
// inherited by everything below an output folder.
func (s *Service) CreateJobSubfolder(ctx context.Context, uid, parentID, name string, output bool) (Folder, error) {
	if err := ValidName(name); err != nil {
		return Folder{}, err
	}
	path, err := s.Ancestry(ctx, uid, parentID)
	if err != nil {
		return Folder{}, err
	}
	parent := path[len(path)-1]
	if parent.Kind != KindJob || parent.IsRoot() {
		return Folder{}, errs.Field("parent_folder_id", "job subfolders go inside a job's folder")
	}
	if len(path) >= MaxDepth {
		return Folder{}, errs.Field("parent_folder_id", "folders nest at most %d levels deep", MaxDepth)
	}
	f := Folder{OwnerID: uid, Name: name, ParentID: parent.ID, Kind: KindJob, JobID: parent.JobID, Output: output || parent.Output, DateCreated: s.now().UTC()}
	return s.createChild(ctx, parent, f, nil)
}

// jobFolderName makes a job's name usable as a folder name.
func jobFolderName(name, jobID string) string {
	name = strings.Map(func(r rune) rune {
		switch {
		case r == '/' || r == '\\':
			return '_'
		case unicode.IsControl(r):
			return -1
		}
		return r
	}, strings.ToValidUTF8(name, "_"))
	name = strings.TrimSpace(name)
	const maxLen = 200 // leaves room for " (<jobId>)"
	for len(name) > maxLen {
		_, size := utf8.DecodeLastRuneInString(name)
		name = name[:len(name)-size]
	}
	if name == "" || name == "." || name == ".." {
		name = jobID
	}
	return name
}

// Delete removes a library folder with everything below it. Roots and job
// folders cannot be deleted through the API. See deleteTree for what a
// failure half-way leaves.
func (s *Service) Delete(ctx context.Context, uid, id string) error {
	if !ids.Valid(id) || uid == "" {
		return notFound()
	}
	f, err := s.repo.get(ctx, uid, id)
	if err != nil {
		return err
	}
	if !f.Deleting {
		// Hide folders inside a tree already being deleted, as Get does.
		if _, err := s.Ancestry(ctx, uid, id); err != nil {
			return err
		}
	}
	switch {
	case f.IsRoot():
		return errs.E(errs.Invalid, "root folders cannot be deleted")
	case f.Kind != KindLibrary:
		return errs.E(errs.Invalid, "job folders are immutable: they are deleted with their job")
	}
	return s.deleteTree(ctx, f, 0)
}

// DeleteJobFolder removes a job's folder and its contents, for the jobs
// domain when a job is deleted. A job without a folder is not an error.
func (s *Service) DeleteJobFolder(ctx context.Context, uid, jobID string) error {
	id, err := s.repo.jobFolderID(ctx, uid, jobID)
	if errs.Is(err, errs.NotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	f, err := s.repo.get(ctx, uid, id)
	if errs.Is(err, errs.NotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	return s.deleteTree(ctx, f, 0)
}

// deleteTree deletes bottom-up: it first marks f as deleting (which hides
// the whole subtree from readers and stops new folders being created in it),
// then deletes each subfolder the same way, then f's files, and only then
// f itself. A failure leaves f marked and still reachable from its parent's
// index of half-deleted folders, never an unreachable orphan, so deleting f
// (or an ancestor) again finishes the job.
func (s *Service) deleteTree(ctx context.Context, f Folder, depth int) error {
	if depth > MaxDepth {
		return errs.E(errs.Internal, "folder %s is nested deeper than %d levels", f.ID, MaxDepth)
	}
	if !f.Deleting {
		marked, err := s.repo.markDeleting(ctx, f)
		if err != nil {
			if !errs.Is(err, errs.Conflict) {
				return err
			}
			// Changed since read: a concurrent delete marked it first.
			cur, gerr := s.repo.get(ctx, f.OwnerID, f.ID)
			if errs.Is(gerr, errs.NotFound) {
				return nil
			}
			if gerr != nil {
				return gerr
			}
			if !cur.Deleting {
				return err
			}
			marked = cur
		}
		f = marked
	}
	children, err := s.repo.allChildren(ctx, f.OwnerID, f.ID)
	if err != nil {
		return err
	}
	for _, c := range children {
		if err := s.deleteTree(ctx, c, depth+1); err != nil {
			return err
		}
	}
	if err := s.deleteFiles(ctx, f); err != nil {
		return err
	}
	if err := s.repo.remove(ctx, f); err != nil {
		if _, gerr := s.repo.get(ctx, f.OwnerID, f.ID); errs.Is(gerr, errs.NotFound) {
			return nil // a concurrent delete finished it
		}
		return err
	}
	return nil
}

func (s *Service) deleteFiles(ctx context.Context, folder Folder) error {
	list, _, err := s.repo.files(ctx, folder.OwnerID, folder.ID, 0, 0)
	if err != nil {
		return err
	}
	if len(list) > 0 && s.del == nil {
		return errs.E(errs.Internal, "folder %s holds files but no file deleter is configured", folder.ID)
	}
	for _, f := range list {
		err := s.del.Delete(ctx, f)
		if !errs.Is(err, errs.Conflict) {
			if err != nil {
				return fmt.Errorf("delete file %s in folder %s: %w", f.ID, folder.ID, err)
			}
			continue
		}
		// The record changed or went since it was listed: delete what
		// is there now, if it is still in this folder.
		cur, gerr := s.files.Get(ctx, f.OwnerID, f.ID)
		if errs.Is(gerr, errs.NotFound) {
			continue
		}
		if gerr != nil {
			return gerr
		}
		if cur.FolderID != folder.ID {
			continue
		}
		if err := s.del.Delete(ctx, cur); err != nil {
			return fmt.Errorf("delete file %s in folder %s: %w", f.ID, folder.ID, err)
		}
	}
	return nil
}

// UploadFolder resolves the folder a new file goes into: "" is the user's
// MyLibrary. Errors name current_folder_id, the upload's form field.
func (s *Service) UploadFolder(ctx context.Context, uid, folderID string) (string, error) {
	if folderID == "" {
		roots, err := s.Roots(ctx, uid)
		if err != nil {
			return "", err
		}
		return roots.MyLibrary, nil
	}
	f, err := s.Get(ctx, uid, folderID)
	if errs.Is(err, errs.NotFound) {
		return "", &errs.Error{Code: errs.NotFound, Field: "current_folder_id", Message: "current_folder_id: folder not found", Err: err}
	}
	if err != nil {
		return "", err
	}
	if f.Kind != KindLibrary {
		return "", errs.Field("current_folder_id", "files can only be uploaded into MyLibrary folders: MyJobs and job folders are immutable")
	}
	return f.ID, nil
}

// TagCount is one tag of a folder's files with how many files carry it.
type TagCount struct {
	Name           string
	NormalizedName string
	Count          int
}

// Contents is one page of a folder's contents: subfolders first, then
// files, each by name.
type Contents struct {
	// Path is the folder's ancestry, root first, ending with the folder.
	Path    []Folder
	Folders []Folder
	Files   []files.File
	// Total counts subfolders and files.
	Total int
	// Tags summarises the tags of all the folder's files, not just this
	// page's, by normalised name.
	Tags []TagCount
}

// Contents returns a page of the folder's contents (limit 0: all).
func (s *Service) Contents(ctx context.Context, uid, id string, offset, limit int) (Contents, error) {
	path, err := s.Ancestry(ctx, uid, id)
	if err != nil {
		return Contents{}, err
	}
	subs, nSubs, err := s.repo.children(ctx, uid, id, offset, limit)
	if err != nil {
		return Contents{}, err
	}
	// All files are read: the tag summary covers the whole folder.
	all, _, err := s.repo.files(ctx, uid, id, 0, 0)
	if err != nil {
		return Contents{}, err
	}
	live := all[:0]
	for _, f := range all {
		if !f.IsDeleted {
			live = append(live, f)
		}
	}
	c := Contents{Path: path, Folders: subs, Total: nSubs + len(live), Tags: tagCounts(live)}
	start := min(max(0, offset-nSubs), len(live))
	end := len(live)
	if limit > 0 {
		end = min(start+max(0, limit-len(subs)), len(live))
	}
	c.Files = live[start:end]
	return c, nil
}

func tagCounts(list []files.File) []TagCount {
	byName := map[string]*TagCount{}
	for _, f := range list {
		seen := map[string]bool{}
		for _, t := range f.Tags {
			if seen[t.NormalizedName] {
				continue
			}
			seen[t.NormalizedName] = true
			tc := byName[t.NormalizedName]
			if tc == nil {
				tc = &TagCount{Name: t.Name, NormalizedName: t.NormalizedName}
				byName[t.NormalizedName] = tc
			}
			tc.Count++
		}
	}
	out := make([]TagCount, 0, len(byName))
	for _, tc := range byName {
		out = append(out, *tc)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].NormalizedName < out[j].NormalizedName })
	return out
}
