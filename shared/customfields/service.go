package customfields

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/openrescale/platform/shared/accounts"
	"github.com/openrescale/platform/shared/errs"
	"github.com/openrescale/platform/shared/files"
	"github.com/openrescale/platform/shared/jobs"
	"github.com/openrescale/platform/shared/store"
)

// Jobs resolves jobs with the jobs package's access rule (owner, or a user
// the job is shared with); *jobs.Service is one.
type Jobs interface {
	Get(ctx context.Context, uid, id string) (j jobs.Job, owned bool, err error)
}

// Files finds the caller's file records; *files.Repo is one.
type Files interface {
	Get(ctx context.Context, uid, id string) (files.File, error)
}

// Users finds users by email; *accounts.Service is one.
type Users interface {
	UserByEmail(ctx context.Context, email string) (accounts.User, error)
}

// updateAttempts bounds optimistic retries of one write.
const updateAttempts = 8

// Value is a field's value on a job, the spec's {meta, user, value}.
type Value struct {
	Meta  Definition      `json:"meta"`
	User  string          `json:"user"`
	Value json.RawMessage `json:"value"`
}

// stored is one value as kept: its definition is kept with it so the value
// still renders if the definition is later removed.
type stored struct {
	Meta  Definition      `json:"meta"`
	User  string          `json:"user"`
	Value json.RawMessage `json:"value"`
	SetAt time.Time       `json:"setAt"`
}

// record is a job's custom fields: the fields assigned to the job alone and
// the values set. One item per job, so a change is one conditional write.
type record struct {
	JobID    string            `json:"jobId"`
	Assigned Sections          `json:"assigned"`
	Values   map[string]stored `json:"values"`
	version  int64
}

// Service keeps custom field definitions and values.
type Service struct {
	st    store.Store
	ws    Workspace
	jobs  Jobs
	files Files
	users Users
	now   func() time.Time
}

// New returns a Service over the deployment's default workspace.
func New(st store.Store, js Jobs, fs Files, us Users, now func() time.Time) (*Service, error) {
	ws, err := DefaultWorkspace()
	if err != nil {
		return nil, err
	}
	return &Service{st: st, ws: ws, jobs: js, files: fs, users: us, now: now}, nil
}

// Keys carry the job's owner like the job's own item, next to which the
// record sorts (USER#<uid> / JOB#<id>#CUSTOMFIELDS).
func userPK(uid string) string  { return "USER#" + uid }
func jobSK(id string) string    { return "JOB#" + id }
func recordSK(id string) string { return "JOB#" + id + "#CUSTOMFIELDS" }

// Workspace returns the workspace's definitions; any other organisation or
// workspace is errs.NotFound.
func (s *Service) Workspace(org, id string) (Workspace, error) {
	if org != s.ws.Organization || id != s.ws.ID {
		return Workspace{}, errs.E(errs.NotFound, "Not found.")
	}
	ws := s.ws
	ws.Fields.Compute = normalizeSections(ws.Fields.Compute)
	ws.Fields.Workstation = normalizeSections(ws.Fields.Workstation)
	return ws, nil
}

func (s *Service) load(ctx context.Context, j jobs.Job) (record, error) {
	it, err := s.st.Get(ctx, userPK(j.OwnerID), recordSK(j.ID))
	if errs.Is(err, errs.NotFound) {
		return record{JobID: j.ID, Assigned: Sections{}, Values: map[string]stored{}}, nil
	}
	if err != nil {
		return record{}, fmt.Errorf("custom fields of job %s: %w", j.ID, err)
	}
	var rec record
	if err := json.Unmarshal(it.Data, &rec); err != nil {
		return record{}, fmt.Errorf("decode custom fields of job %s: %w", j.ID, err)
	}
	if rec.Assigned == nil {
		rec.Assigned = Sections{}
	}
	if rec.Values == nil {
		rec.Values = map[string]stored{}
	}
	rec.version = it.Version
	return rec, nil
}

// update applies change to the job's current record and writes it in a
// transaction that also checks the job item has not changed since it was
// read, so a job submitted meanwhile cannot slip past the required-field
// lock. A concurrent write is retried on fresh reads, never overwritten.
func (s *Service) update(ctx context.Context, uid, jobID string, change func(j jobs.Job, rec *record) error) (jobs.Job, record, error) {
	for range updateAttempts {
		j, err := s.ownedJob(ctx, uid, jobID)
		if err != nil {
			return jobs.Job{}, record{}, err
		}
		rec, err := s.load(ctx, j)
		if err != nil {
			return jobs.Job{}, record{}, err
		}
		if err := change(j, &rec); err != nil {
			return jobs.Job{}, record{}, err
		}
		data, err := json.Marshal(rec)
		if err != nil {
			return jobs.Job{}, record{}, fmt.Errorf("encode custom fields of job %s: %w", jobID, err)
		}
		cond := store.Cond{IfAbsent: true}
		if rec.version != 0 {
			cond = store.Cond{IfVersion: rec.version}
		}
		err = s.st.Transact(ctx, []store.Op{
			{Kind: store.OpCheck, Item: store.Item{PK: userPK(j.OwnerID), SK: jobSK(j.ID)}, Cond: store.Cond{IfVersion: j.Version}},
			{Kind: store.OpPut, Item: store.Item{PK: userPK(j.OwnerID), SK: recordSK(j.ID), Data: data}, Cond: cond},
		})
		if errs.Is(err, errs.Conflict) {
			continue
		}
		if err != nil {
			return jobs.Job{}, record{}, fmt.Errorf("write custom fields of job %s: %w", jobID, err)
		}
		return j, rec, nil
	}
	return jobs.Job{}, record{}, errs.E(errs.Conflict, "job %s is being changed by other requests; try again", jobID)
}

// ownedJob is the jobs package's rule for writes: a job shared with the
// caller is readable but not theirs to change (403); others' jobs are 404.
func (s *Service) ownedJob(ctx context.Context, uid, id string) (jobs.Job, error) {
	j, owned, err := s.jobs.Get(ctx, uid, id)
	if err != nil {
		return jobs.Job{}, err
	}
	if !owned {
		return jobs.Job{}, errs.E(errs.Forbidden, "You do not have permission to perform this action.")
	}
	return j, nil
}

// definitions are the fields a job can hold: the workspace's compute
// fields, then those assigned to the job alone.
func (s *Service) definitions(rec record) Sections {
	return s.ws.Fields.Compute.merge(rec.Assigned)
}

// Assigned lists the fields the job can hold, by category.
func (s *Service) Assigned(ctx context.Context, uid, jobID string) (Sections, error) {
	j, _, err := s.jobs.Get(ctx, uid, jobID)
	if err != nil {
		return nil, err
	}
	rec, err := s.load(ctx, j)
	if err != nil {
		return nil, err
	}
	return normalizeSections(s.definitions(rec)), nil
}

// Assign adds fields to the job alone, or redefines ones assigned before;
// fields not sent stay. A workspace field may be sent back unchanged (a
// GET response round-trips) but not redefined. Once the job has been
// submitted, required fields can be neither added nor changed, since they
// would be locked before anyone could fill them in.
func (s *Service) Assign(ctx context.Context, uid, jobID string, fields Sections) (Sections, error) {
	if err := checkSections(fields, "fields"); err != nil {
		return nil, err
	}
	_, rec, err := s.update(ctx, uid, jobID, func(j jobs.Job, rec *record) error {
		next := Sections{}
		for c, defs := range rec.Assigned {
			next[c] = slices.Clone(defs)
		}
		for _, c := range Categories {
			for i, d := range fields[c] {
				path := fmt.Sprintf("fields.%s[%d]", c, i)
				if wd, ok := s.ws.Fields.Compute.Find(d.Name); ok {
					if !wd.Equal(withOptions(d)) {
						return errs.Field(path+".name", "custom field %q is a workspace field; it cannot be redefined for one job", d.Name)
					}
					continue
				}
				old, had := rec.Assigned.Find(d.Name)
				if had && old.Equal(withOptions(d)) {
					continue
				}
				if !j.Saved() && (d.IsRequired || old.IsRequired) {
					return errs.E(errs.Conflict, "job %s has been submitted; required custom field %q cannot be assigned or changed", j.ID, d.Name)
				}
				if v, ok := rec.Values[d.Name]; ok {
					if _, err := Normalize(ctx, d, v.Value, s.resolver(), uid); err != nil {
						return errs.Wrap(errs.Conflict, err, "custom field %q has a value that the new definition refuses: %s", d.Name, errMessage(err))
					}
				}
				next = removeName(next, d.Name)
				next[c] = append(next[c], withOptions(d))
			}
		}
		if next.count() > MaxJobFields {
			return errs.Field("fields", "a job can have at most %d fields of its own", MaxJobFields)
		}
		rec.Assigned = next
		return nil
	})
	if err != nil {
		return nil, err
	}
	return normalizeSections(s.definitions(rec)), nil
}

func withOptions(d Definition) Definition {
	if d.EnumOptions == nil {
		d.EnumOptions = []string{}
	}
	return d
}

func removeName(s Sections, name string) Sections {
	for c, defs := range s {
		s[c] = slices.DeleteFunc(defs, func(d Definition) bool { return d.Name == name })
	}
	return s
}

func errMessage(err error) string {
	if e, ok := errs.As(err); ok {
		return e.Message
	}
	return err.Error()
}

// Values returns the job's values for a caller who may read the job.
func (s *Service) Values(ctx context.Context, uid, jobID string) (map[string]Value, error) {
	j, _, err := s.jobs.Get(ctx, uid, jobID)
	if err != nil {
		return nil, err
	}
	return s.JobValues(ctx, j)
}

// JobValues returns the values of a job the caller has already been
// allowed to read (the job GET renders them).
func (s *Service) JobValues(ctx context.Context, j jobs.Job) (map[string]Value, error) {
	rec, err := s.load(ctx, j)
	if err != nil {
		return nil, err
	}
	return s.render(rec), nil
}

func (s *Service) render(rec record) map[string]Value {
	defs := s.definitions(rec)
	out := make(map[string]Value, len(rec.Values))
	for name, v := range rec.Values {
		meta := v.Meta
		if d, ok := defs.Find(name); ok {
			meta = d
		}
		out[name] = Value{Meta: withOptions(meta), User: v.User, Value: v.Value}
	}
	return out
}

// SetValues sets values on the job (null clears one) and returns all of
// the job's values. Every value is checked before any is written. Values of
// required fields are locked once the job has been submitted: the same
// value again is accepted, any change is errs.Conflict.
func (s *Service) SetValues(ctx context.Context, caller jobs.Owner, jobID string, values map[string]json.RawMessage) (map[string]Value, error) {
	names := make([]string, 0, len(values))
	for n := range values {
		names = append(names, n)
	}
	sort.Strings(names) // the first error is the same on every try
	_, rec, err := s.update(ctx, caller.UserID, jobID, func(j jobs.Job, rec *record) error {
		defs := s.definitions(*rec)
		for _, name := range names {
			d, ok := defs.Find(name)
			if !ok {
				return errs.Field(FieldPath(name), "%s: this job has no custom field of that name", name)
			}
			old, had := rec.Values[name]
			raw := bytes.TrimSpace(values[name])
			var next json.RawMessage
			if !bytes.Equal(raw, []byte("null")) {
				v, err := Normalize(ctx, d, raw, s.resolver(), caller.UserID)
				if err != nil {
					return err
				}
				next = v
			}
			if had && bytes.Equal(old.Value, next) || !had && next == nil {
				continue
			}
			if d.IsRequired && !j.Saved() {
				return errs.E(errs.Conflict, "%s: required custom fields cannot change once job %s has been submitted", name, j.ID)
			}
			if next == nil {
				delete(rec.Values, name)
				continue
			}
			rec.Values[name] = stored{Meta: withOptions(d), User: caller.Email, Value: next, SetAt: s.now().UTC()}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return s.render(rec), nil
}

// MissingRequired names the required fields the job has no value for,
// which block its submission while the workspace has custom fields enabled.
func (s *Service) MissingRequired(ctx context.Context, j jobs.Job) ([]string, error) {
	if !s.ws.IsEnabled {
		return nil, nil
	}
	rec, err := s.load(ctx, j)
	if err != nil {
		return nil, err
	}
	var missing []string
	defs := s.definitions(rec)
	for _, c := range Categories {
		for _, d := range defs[c] {
			v, ok := rec.Values[d.Name]
			if d.IsRequired && (!ok || empty(v.Value)) {
				missing = append(missing, d.Name)
			}
		}
	}
	return missing, nil
}

func empty(v json.RawMessage) bool {
	s := string(bytes.TrimSpace(v))
	return s == "" || s == "null" || s == `""` || s == "[]"
}

func (s *Service) resolver() Resolver { return lookups{users: s.users, files: s.files} }

// lookups resolves users and files through the accounts and files packages.
type lookups struct {
	users Users
	files Files
}

func (l lookups) UserEmail(ctx context.Context, email string) (string, error) {
	u, err := l.users.UserByEmail(ctx, email)
	if err != nil {
		return "", err
	}
	return u.Email, nil
}

// ReadableFile: files cannot be shared yet, so a readable file is one of
// the caller's own that is not deleted.
func (l lookups) ReadableFile(ctx context.Context, uid, id string) error {
	f, err := l.files.Get(ctx, uid, id)
	if err != nil {
		return err
	}
	if f.IsDeleted {
		return errs.E(errs.NotFound, "file %s is deleted", id)
	}
	return nil
}
