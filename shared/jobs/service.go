package jobs

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/openrescale/platform/shared/errs"
	"github.com/openrescale/platform/shared/files"
	"github.com/openrescale/platform/shared/ids"
	"github.com/openrescale/platform/shared/store"
)

// MaxShares caps recipients per job, so deleting a job (its item, its id
// and every share) fits one store transaction.
const MaxShares = 50

// updateAttempts bounds optimistic retries of one update; each attempt
// re-reads, so only sustained contention on one job exhausts it.
const updateAttempts = 8

// FileRemover deletes a file record and its bytes; *files.Service is one.
type FileRemover interface {
	Delete(ctx context.Context, f files.File) error
}

// Owner is who acts: the caller.
type Owner struct {
	UserID string
	Email  string
}

// Service keeps jobs in the store.
type Service struct {
	st     store.Store
	cat    Catalog
	files  Files
	remove FileRemover
	now    func() time.Time
}

// New returns a Service. remove may be nil when input files are never
// deleted with jobs (deleteInputFiles then fails).
func New(st store.Store, cat Catalog, fs Files, remove FileRemover, now func() time.Time) *Service {
	return &Service{st: st, cat: cat, files: fs, remove: remove, now: now}
}

func userPK(uid string) string       { return "USER#" + uid }
func jobSK(id string) string         { return "JOB#" + id }
func shareSK(id, rid string) string  { return "JOB#" + id + "#SHARE#" + rid }
func jobsByDatePK(uid string) string { return "USER#" + uid + "#JOBS" }

// jobCount counts a user's jobs (the GSI1 partition jobsByDatePK), so that
// page 1 of the list reads one page and this item, not every job.
func jobCount(uid string) store.Counter { return store.Counter{PK: userPK(uid), SK: "COUNT#JOBS"} }
func sharedByDatePK(rid string) string  { return "USER#" + rid + "#SHAREDJOBS" }
func jobIDPK(id string) string          { return "JOBID#" + id }

const jobIDSK = "JOBID"

// dateKey sorts by time as a string: fixed width, unlike RFC3339Nano,
// which drops trailing zeros.
func dateKey(t time.Time, id string) string {
	return t.UTC().Format("2006-01-02T15:04:05.000000000Z") + "#" + id
}

func (s *Service) item(j Job) (store.Item, error) {
	data, err := json.Marshal(j)
	if err != nil {
		return store.Item{}, fmt.Errorf("encode job %s: %w", j.ID, err)
	}
	return store.Item{
		PK: userPK(j.OwnerID), SK: jobSK(j.ID),
		GSI1PK: jobsByDatePK(j.OwnerID), GSI1SK: dateKey(j.DateInserted, j.ID),
		Data: data,
	}, nil
}

func decode(it store.Item) (Job, error) {
	var j Job
	if err := json.Unmarshal(it.Data, &j); err != nil {
		return Job{}, fmt.Errorf("decode job %s/%s: %w", it.PK, it.SK, err)
	}
	if j.Tags == nil {
		j.Tags = []files.Tag{}
	}
	if j.SharedWith == nil {
		j.SharedWith = []string{}
	}
	j.Version = it.Version
	return j, nil
}

type shareRef struct {
	OwnerID string `json:"ownerId"`
	JobID   string `json:"jobId"`
}

// Create validates and saves a new job; it does not start it.
func (s *Service) Create(ctx context.Context, o Owner, spec Spec) (Job, error) {
	size, err := Validate(ctx, &spec, s.cat, s.files, o.UserID)
	if err != nil {
		return Job{}, err
	}
	j := Job{
		OwnerID: o.UserID, OwnerEmail: o.Email,
		// Microseconds, as the spec's dates show them.
		DateInserted: s.now().UTC().Truncate(time.Microsecond),
		Spec:         spec, Tags: []files.Tag{}, SharedWith: []string{}, InputBytes: size,
	}
	_, err = ids.NewUnique(ctx, func(ctx context.Context, id string) error {
		j.ID = id
		it, err := s.item(j)
		if err != nil {
			return err
		}
		ref, _ := json.Marshal(shareRef{OwnerID: o.UserID, JobID: id})
		return store.TransactCounted(ctx, s.st, jobCount(o.UserID), 1, []store.Op{
			{Kind: store.OpPut, Item: it, Cond: store.Cond{IfAbsent: true}},
			{Kind: store.OpPut, Item: store.Item{PK: jobIDPK(id), SK: jobIDSK, Data: ref}, Cond: store.Cond{IfAbsent: true}},
		})
	})
	if err != nil {
		return Job{}, fmt.Errorf("create job: %w", err)
	}
	j.Version = 1
	return j, nil
}

// Get returns a job the caller owns or that is shared with them; owned
// says which. Anything else is errs.NotFound.
func (s *Service) Get(ctx context.Context, uid, id string) (j Job, owned bool, err error) {
	if !ids.Valid(id) {
		return Job{}, false, errs.E(errs.NotFound, "Not found.")
	}
	it, err := s.st.Get(ctx, userPK(uid), jobSK(id))
	if err == nil {
		j, err := decode(it)
		return j, true, err
	}
	if !errs.Is(err, errs.NotFound) {
		return Job{}, false, fmt.Errorf("get job %s: %w", id, err)
	}
	owner, err := s.ownerOf(ctx, id)
	if err != nil {
		return Job{}, false, err
	}
	if _, err := s.st.Get(ctx, userPK(owner), shareSK(id, uid)); err != nil {
		if errs.Is(err, errs.NotFound) {
			return Job{}, false, errs.E(errs.NotFound, "Not found.")
		}
		return Job{}, false, fmt.Errorf("get share of job %s: %w", id, err)
	}
	it, err = s.st.Get(ctx, userPK(owner), jobSK(id))
	if err != nil {
		if errs.Is(err, errs.NotFound) {
			return Job{}, false, errs.E(errs.NotFound, "Not found.")
		}
		return Job{}, false, fmt.Errorf("get shared job %s: %w", id, err)
	}
	j, err = decode(it)
	return j, false, err
}

func (s *Service) ownerOf(ctx context.Context, id string) (string, error) {
	it, err := s.st.Get(ctx, jobIDPK(id), jobIDSK)
	if errs.Is(err, errs.NotFound) {
		return "", errs.E(errs.NotFound, "Not found.")
	}
	if err != nil {
		return "", fmt.Errorf("find job %s: %w", id, err)
	}
	var ref shareRef
	if err := json.Unmarshal(it.Data, &ref); err != nil {
		return "", fmt.Errorf("decode job id %s: %w", id, err)
	}
	return ref.OwnerID, nil
}

// getOwned is Get for writes: a job shared with the caller is readable but
// not theirs to change, which is 403 (they can see it, so 404 would lie).
func (s *Service) getOwned(ctx context.Context, uid, id string) (Job, error) {
	j, owned, err := s.Get(ctx, uid, id)
	if err != nil {
		return Job{}, err
	}
	if !owned {
		return Job{}, errs.E(errs.Forbidden, "You do not have permission to perform this action.")
	}
	return j, nil
}

// update applies change to the job's current version and writes it if the
// job did not change meanwhile, else re-reads and applies change again: a
// concurrent update is never overwritten, and a change computed from the
// current state (PATCH, tag edits) is never lost either.
func (s *Service) update(ctx context.Context, uid, id string, change func(*Job) error) (Job, error) {
	for range updateAttempts {
		j, err := s.getOwned(ctx, uid, id)
		if err != nil {
			return Job{}, err
		}
		if err := change(&j); err != nil {
			return Job{}, err
		}
		it, err := s.item(j)
		if err != nil {
			return Job{}, err
		}
		out, err := s.st.Put(ctx, it, store.Cond{IfVersion: j.Version})
		if errs.Is(err, errs.Conflict) {
			continue
		}
		if err != nil {
			return Job{}, fmt.Errorf("update job %s: %w", id, err)
		}
		j.Version = out.Version
		return j, nil
	}
	return Job{}, errs.E(errs.Conflict, "job %s is being changed by other requests; try again", id)
}

// Patch overlays the body's top-level keys on the job's spec (a list such
// as jobanalyses is replaced whole) and validates the result like a create.
func (s *Service) Patch(ctx context.Context, uid, id string, patch map[string]json.RawMessage) (Job, error) {
	return s.update(ctx, uid, id, func(j *Job) error {
		cur, err := json.Marshal(j.Spec)
		if err != nil {
			return fmt.Errorf("encode job %s: %w", id, err)
		}
		var m map[string]json.RawMessage
		if err := json.Unmarshal(cur, &m); err != nil {
			return fmt.Errorf("decode job %s: %w", id, err)
		}
		for k, v := range patch {
			if _, known := m[k]; known {
				m[k] = v
			}
		}
		merged, _ := json.Marshal(m)
		spec, err := ParseSpec(merged)
		if err != nil {
			return err
		}
		return s.replaceSpec(ctx, j, spec)
	})
}

// Replace is PUT: the body is the whole new spec.
func (s *Service) Replace(ctx context.Context, uid, id string, spec Spec) (Job, error) {
	return s.update(ctx, uid, id, func(j *Job) error { return s.replaceSpec(ctx, j, spec) })
}

func (s *Service) replaceSpec(ctx context.Context, j *Job, spec Spec) error {
	size, err := Validate(ctx, &spec, s.cat, s.files, j.OwnerID)
	if err != nil {
		return err
	}
	changed, err := changedFields(j.Spec, spec)
	if err != nil {
		return err
	}
	if err := j.CheckEditable(changed); err != nil {
		return err
	}
	j.Spec, j.InputBytes = spec, size
	return nil
}

// changedFields names the top-level spec fields that differ.
func changedFields(a, b Spec) ([]string, error) {
	ma, err := fieldsOf(a)
	if err != nil {
		return nil, err
	}
	mb, err := fieldsOf(b)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, k := range slices.Sorted(maps.Keys(mb)) {
		if !bytes.Equal(ma[k], mb[k]) {
			out = append(out, k)
		}
	}
	return out, nil
}

func fieldsOf(s Spec) (map[string]json.RawMessage, error) {
	b, err := json.Marshal(s)
	if err != nil {
		return nil, fmt.Errorf("encode spec: %w", err)
	}
	var m map[string]json.RawMessage
	err = json.Unmarshal(b, &m)
	return m, err
}

// AddTag tags the job; a tag with the same normalised name is kept once.
func (s *Service) AddTag(ctx context.Context, uid, id string, t files.Tag) (Job, error) {
	return s.update(ctx, uid, id, func(j *Job) error {
		if !slices.ContainsFunc(j.Tags, func(x files.Tag) bool { return x.NormalizedName == t.NormalizedName }) {
			j.Tags = append(j.Tags, t)
		}
		return nil
	})
}

// RemoveTag removes the tag with t's normalised name; a job without it is
// errs.NotFound, as for file tags.
func (s *Service) RemoveTag(ctx context.Context, uid, id string, t files.Tag) (Job, error) {
	return s.update(ctx, uid, id, func(j *Job) error {
		n := len(j.Tags)
		j.Tags = slices.DeleteFunc(j.Tags, func(x files.Tag) bool { return x.NormalizedName == t.NormalizedName })
		if len(j.Tags) == n {
			return errs.E(errs.NotFound, "Job %s has no tag %q.", id, t.Name)
		}
		return nil
	})
}

// Share makes the job readable by recipient. Sharing again is a no-op.
func (s *Service) Share(ctx context.Context, uid, id string, recipient Owner) (Job, error) {
	if recipient.UserID == uid {
		return Job{}, errs.Field("email", "email: you cannot share a job with yourself")
	}
	for range updateAttempts {
		j, err := s.getOwned(ctx, uid, id)
		if err != nil {
			return Job{}, err
		}
		if slices.Contains(j.SharedWith, recipient.Email) {
			return j, nil
		}
		if len(j.SharedWith) >= MaxShares {
			return Job{}, errs.Field("email", "email: a job can be shared with at most %d users", MaxShares)
		}
		j.SharedWith = append(j.SharedWith, recipient.Email)
		it, err := s.item(j)
		if err != nil {
			return Job{}, err
		}
		ref, _ := json.Marshal(shareRef{OwnerID: uid, JobID: id})
		err = s.st.Transact(ctx, []store.Op{
			{Kind: store.OpPut, Item: it, Cond: store.Cond{IfVersion: j.Version}},
			{Kind: store.OpPut, Item: store.Item{
				PK: userPK(uid), SK: shareSK(id, recipient.UserID),
				GSI1PK: sharedByDatePK(recipient.UserID), GSI1SK: dateKey(j.DateInserted, id),
				Data: ref,
			}, Cond: store.Cond{IfAbsent: true}},
		})
		if errs.Is(err, errs.Conflict) {
			continue
		}
		if err != nil {
			return Job{}, fmt.Errorf("share job %s: %w", id, err)
		}
		j.Version++
		return j, nil
	}
	return Job{}, errs.E(errs.Conflict, "job %s is being changed by other requests; try again", id)
}

// deleteOps are the writes that remove a job: its item (at the version
// read), its id, and the items kept beside it under JOB#<id>#: its shares
// and its custom fields (shared/customfields).
func (s *Service) deleteOps(ctx context.Context, j Job) ([]store.Op, error) {
	ops := []store.Op{
		{Kind: store.OpDelete, Item: store.Item{PK: userPK(j.OwnerID), SK: jobSK(j.ID)}, Cond: store.Cond{IfVersion: j.Version}},
		{Kind: store.OpDelete, Item: store.Item{PK: jobIDPK(j.ID), SK: jobIDSK}},
	}
	res, err := s.st.Query(ctx, store.Query{PK: userPK(j.OwnerID), SKPrefix: jobSK(j.ID) + "#"})
	if err != nil {
		return nil, fmt.Errorf("shares of job %s: %w", j.ID, err)
	}
	for _, it := range res.Items {
		ops = append(ops, store.Op{Kind: store.OpDelete, Item: store.Item{PK: it.PK, SK: it.SK}})
	}
	return ops, nil
}

// Delete removes jobs atomically: either all of ids go or none does. A job
// that is queued or running is a Conflict (stop it first); an unknown id is
// NotFound. With deleteInputs the jobs' input files are deleted after the
// jobs, best effort per file: a file already gone is not an error.
func (s *Service) Delete(ctx context.Context, uid string, jobIDs []string, deleteInputs bool) error {
	if deleteInputs && s.remove == nil {
		return errs.E(errs.Unavailable, "deleting input files is not available")
	}
	// Each job takes at least two ops (its item and its id record), and
	// the job count one more.
	if len(jobIDs) > (store.MaxTransactOps-1)/2 {
		return errs.Field("jobIds", "jobIds: delete at most %d jobs at once", (store.MaxTransactOps-1)/2)
	}
	var ops []store.Op
	deleted := 0
	var inputs []string
	seen := map[string]bool{}
	for _, id := range jobIDs {
		if seen[id] {
			continue
		}
		seen[id] = true
		j, err := s.getOwned(ctx, uid, id)
		if err != nil {
			return fmt.Errorf("job %s: %w", id, err)
		}
		if !j.Deletable() {
			return errs.E(errs.Conflict, "job %s is %s; stop it before deleting it", id, strings.ToLower(StatusDisplay(j.Status)))
		}
		jops, err := s.deleteOps(ctx, j)
		if err != nil {
			return err
		}
		ops = append(ops, jops...)
		deleted++
		inputs = append(inputs, j.Spec.InputFileIDs()...)
	}
	if len(ops)+1 > store.MaxTransactOps {
		return errs.Field("jobIds", "jobIds: too many jobs (or shares) for one request; delete at most %d jobs at once", (store.MaxTransactOps-1)/2)
	}
	if len(ops) > 0 {
		if err := store.TransactCounted(ctx, s.st, jobCount(uid), -deleted, ops); err != nil {
			if errs.Is(err, errs.Conflict) {
				return errs.Wrap(errs.Conflict, err, "a job changed while it was being deleted; try again")
			}
			return fmt.Errorf("delete jobs: %w", err)
		}
	}
	if !deleteInputs {
		return nil
	}
	for _, fid := range inputs {
		f, err := s.files.Get(ctx, uid, fid)
		if errs.Is(err, errs.NotFound) {
			continue
		}
		if err != nil {
			return fmt.Errorf("input file %s: %w", fid, err)
		}
		if err := s.remove.Delete(ctx, f); err != nil && !errs.Is(err, errs.NotFound) {
			return fmt.Errorf("delete input file %s: %w", fid, err)
		}
	}
	return nil
}

// Scope is the f parameter: which jobs a listing shows.
type Scope int

const (
	ScopeAll    Scope = 0
	ScopeOwned  Scope = 1
	ScopeShared Scope = 2
)

// ListOptions select jobs.
type ListOptions struct {
	Scope Scope
	// Match, when set, keeps only the jobs it accepts (status, state and
	// search filters); without it the store pages the owned list.
	Match func(Job) bool
	// Prepare, when set with Match, is called once with every candidate
	// before matching (e.g. to gather the candidates' file tags).
	Prepare       func(ctx context.Context, candidates []Job) error
	Offset, Limit int
}

// List returns jobs newest first and how many match.
func (s *Service) List(ctx context.Context, uid string, o ListOptions) ([]Job, int, error) {
	if o.Scope == ScopeOwned && o.Match == nil {
		// One page and the count item: what page 1 costs does not grow
		// with the user's history.
		total, err := jobCount(uid).Count(ctx, s.st, func(ctx context.Context) (int, error) {
			res, err := s.st.Query(ctx, store.Query{Index: store.GSI1, PK: jobsByDatePK(uid)})
			return res.Total, err
		})
		if err != nil {
			return nil, 0, fmt.Errorf("count jobs of %s: %w", uid, err)
		}
		res, err := s.st.Query(ctx, store.Query{Index: store.GSI1, PK: jobsByDatePK(uid), Desc: true, Offset: o.Offset, Limit: o.Limit, NoTotal: true})
		if err != nil {
			return nil, 0, fmt.Errorf("list jobs of %s: %w", uid, err)
		}
		out, err := decodeAll(res.Items)
		return out, total, err
	}
	var all []Job
	if o.Scope != ScopeShared {
		res, err := s.st.Query(ctx, store.Query{Index: store.GSI1, PK: jobsByDatePK(uid), Desc: true})
		if err != nil {
			return nil, 0, fmt.Errorf("list jobs of %s: %w", uid, err)
		}
		owned, err := decodeAll(res.Items)
		if err != nil {
			return nil, 0, err
		}
		all = append(all, owned...)
	}
	if o.Scope != ScopeOwned {
		shared, err := s.sharedWith(ctx, uid)
		if err != nil {
			return nil, 0, err
		}
		all = append(all, shared...)
	}
	slices.SortStableFunc(all, func(a, b Job) int {
		return cmp.Compare(dateKey(b.DateInserted, b.ID), dateKey(a.DateInserted, a.ID))
	})
	if o.Match != nil && o.Prepare != nil {
		if err := o.Prepare(ctx, all); err != nil {
			return nil, 0, err
		}
	}
	if o.Match != nil {
		all = slices.DeleteFunc(all, func(j Job) bool { return !o.Match(j) })
	}
	total := len(all)
	lo := min(o.Offset, total)
	hi := total
	if o.Limit > 0 {
		hi = min(lo+o.Limit, total)
	}
	return all[lo:hi], total, nil
}

// sharedWith reads the recipient's share index, then each job.
func (s *Service) sharedWith(ctx context.Context, rid string) ([]Job, error) {
	res, err := s.st.Query(ctx, store.Query{Index: store.GSI1, PK: sharedByDatePK(rid), Desc: true})
	if err != nil {
		return nil, fmt.Errorf("jobs shared with %s: %w", rid, err)
	}
	var out []Job
	for _, it := range res.Items {
		var ref shareRef
		if err := json.Unmarshal(it.Data, &ref); err != nil {
			return nil, fmt.Errorf("decode share %s/%s: %w", it.PK, it.SK, err)
		}
		jit, err := s.st.Get(ctx, userPK(ref.OwnerID), jobSK(ref.JobID))
		if errs.Is(err, errs.NotFound) {
			continue // deleted between the two reads
		}
		if err != nil {
			return nil, fmt.Errorf("shared job %s: %w", ref.JobID, err)
		}
		j, err := decode(jit)
		if err != nil {
			return nil, err
		}
		out = append(out, j)
	}
	return out, nil
}

// parallelDecode is the number of records above which decodeAll spreads
// the JSON decoding over the CPUs (a q search decodes every job).
const parallelDecode = 512

func decodeAll(items []store.Item) ([]Job, error) {
	out := make([]Job, len(items))
	workers := min(runtime.GOMAXPROCS(0), len(items)/parallelDecode+1)
	chunk := (len(items) + workers - 1) / max(workers, 1)
	failed := make([]error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		lo, hi := min(w*chunk, len(items)), min((w+1)*chunk, len(items))
		wg.Go(func() {
			for i := lo; i < hi; i++ {
				j, err := decode(items[i])
				if err != nil {
					failed[w] = err
					return
				}
				out[i] = j
			}
		})
	}
	wg.Wait()
	for _, err := range failed {
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// FileInUse reports whether one of the user's jobs that has been submitted
// and not finished refers to the file, so the files endpoints refuse to
// delete inputs from under a running job. Saved jobs do not hold their
// files (see docs/api-decisions.md, Files).
func (s *Service) FileInUse(ctx context.Context, uid, fileID string) (bool, error) {
	res, err := s.st.Query(ctx, store.Query{Index: store.GSI1, PK: jobsByDatePK(uid)})
	if err != nil {
		return false, fmt.Errorf("jobs of %s: %w", uid, err)
	}
	for _, it := range res.Items {
		j, err := decode(it)
		if err != nil {
			return false, err
		}
		if !j.Deletable() && slices.Contains(j.Spec.FileIDs(), fileID) {
			return true, nil
		}
	}
	return false, nil
}

// StatusOp is the write that moves j (as read, at its version) to status:
// the lifecycle puts it in one transaction with its own records, so a
// status and its history never disagree and of two racing transitions
// exactly one commits.
func (s *Service) StatusOp(j Job, status, cluster string) (store.Op, error) {
	j.Status, j.ClusterStatus = status, cluster
	it, err := s.item(j)
	if err != nil {
		return store.Op{}, err
	}
	return store.Op{Kind: store.OpPut, Item: it, Cond: store.Cond{IfVersion: j.Version}}, nil
}
