package files

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/openrescale/platform/shared/errs"
	"github.com/openrescale/platform/shared/store"
)

// Repo stores file records.
type Repo struct {
	st store.Store
}

// NewRepo returns a Repo over st.
func NewRepo(st store.Store) *Repo { return &Repo{st: st} }

func userPK(uid string) string           { return "USER#" + uid }
func fileSK(id string) string            { return "FILE#" + id }
func filesByDatePK(uid string) string    { return "USER#" + uid + "#FILES" }
func folderPK(uid, folder string) string { return "USER#" + uid + "#FOLDER#" + folder }
func blobKeyPK(key string) string        { return "BLOBKEY#" + key }

// FolderIndexPK is the GSI2 partition holding a folder's files, for the
// folders package's contents listing.
func FolderIndexPK(uid, folder string) string { return folderPK(uid, folder) }

func (r *Repo) item(f File) (store.Item, error) {
	data, err := json.Marshal(f)
	if err != nil {
		return store.Item{}, fmt.Errorf("encode file %s: %w", f.ID, err)
	}
	it := store.Item{
		PK: userPK(f.OwnerID), SK: fileSK(f.ID),
		GSI1PK: filesByDatePK(f.OwnerID), GSI1SK: f.DateUploaded.UTC().Format(time.RFC3339Nano) + "#" + f.ID,
		Data: data,
	}
	if f.FolderID != "" {
		it.GSI2PK, it.GSI2SK = folderPK(f.OwnerID, f.FolderID), strings.ToLower(f.Name)+"#"+f.ID
	}
	return it, nil
}

// Decode turns a stored item into a File.
func Decode(it store.Item) (File, error) {
	var f File
	if err := json.Unmarshal(it.Data, &f); err != nil {
		return File{}, fmt.Errorf("decode file %s/%s: %w", it.PK, it.SK, err)
	}
	if f.Tags == nil {
		f.Tags = []Tag{}
	}
	if f.SharedWith == nil {
		f.SharedWith = []string{}
	}
	f.Version = it.Version
	return f, nil
}

// usage is the USAGE item: bytes stored, and the number of file records
// (the GSI1 partition filesByDatePK), so that page 1 of the list reads one
// page and this item. Files is nil until the records are counted once
// (List), for records written before it was kept; every write still
// rewrites the item, so a count that raced one is not stored.
type usage struct {
	Bytes int64  `json:"bytes"`
	Files *int64 `json:"files,omitempty"`
}

func (r *Repo) readUsage(ctx context.Context, uid string) (usage, int64, error) {
	var u usage
	it, err := r.st.Get(ctx, userPK(uid), "USAGE")
	if errs.Is(err, errs.NotFound) {
		return u, 0, nil
	}
	if err != nil {
		return u, 0, fmt.Errorf("read usage of %s: %w", uid, err)
	}
	if err := json.Unmarshal(it.Data, &u); err != nil {
		return u, 0, fmt.Errorf("decode usage of %s: %w", uid, err)
	}
	return u, it.Version, nil
}

func usageCond(version int64) store.Cond {
	if version == 0 {
		return store.Cond{IfAbsent: true}
	}
	return store.Cond{IfVersion: version}
}

// usageOp returns the op that adds delta bytes and count records to the
// user's usage, guarded by the version read, so concurrent uploads never
// lose an increment.
func (r *Repo) usageOp(ctx context.Context, uid string, delta, count int64) (store.Op, error) {
	u, version, err := r.readUsage(ctx, uid)
	if err != nil {
		return store.Op{}, err
	}
	u.Bytes = max(0, u.Bytes+delta)
	if u.Files != nil {
		n := max(0, *u.Files+count)
		u.Files = &n
	}
	data, _ := json.Marshal(u)
	return store.Op{Kind: store.OpPut, Item: store.Item{PK: userPK(uid), SK: "USAGE", Data: data}, Cond: usageCond(version)}, nil
}

// count is the number of the user's file records.
func (r *Repo) count(ctx context.Context, uid string) (int, error) {
	u, version, err := r.readUsage(ctx, uid)
	if err != nil {
		return 0, err
	}
	if u.Files != nil {
		return int(*u.Files), nil
	}
	res, err := r.st.Query(ctx, store.Query{Index: store.GSI1, PK: filesByDatePK(uid)})
	if err != nil {
		return 0, fmt.Errorf("count files of %s: %w", uid, err)
	}
	n := int64(res.Total)
	u.Files = &n
	data, _ := json.Marshal(u)
	if _, err := r.st.Put(ctx, store.Item{PK: userPK(uid), SK: "USAGE", Data: data}, usageCond(version)); err != nil && !errs.Is(err, errs.Conflict) {
		return 0, fmt.Errorf("store the file count of %s: %w", uid, err)
	}
	return res.Total, nil
}

// transactWithUsage retries when only the usage counter raced.
func (r *Repo) transactWithUsage(ctx context.Context, uid string, delta, count int64, ops []store.Op) error {
	for attempt := 0; ; attempt++ {
		uop, err := r.usageOp(ctx, uid, delta, count)
		if err != nil {
			return err
		}
		err = r.st.Transact(ctx, append(ops[:len(ops):len(ops)], uop))
		// A conflict is either the usage counter moving under us (retry
		// with a fresh read) or a record's own condition (final).
		if errs.Is(err, errs.Conflict) && attempt < 10 && r.onlyUsageRaced(ctx, ops) {
			continue
		}
		return err
	}
}

func (r *Repo) onlyUsageRaced(ctx context.Context, ops []store.Op) bool {
	for _, op := range ops {
		it, err := r.st.Get(ctx, op.Item.PK, op.Item.SK)
		exists := err == nil
		if op.Cond.IfAbsent && exists || op.Cond.IfExists && !exists || op.Cond.IfVersion != 0 && (!exists || it.Version != op.Cond.IfVersion) {
			return false
		}
	}
	return true
}

// Create stores a new record; a taken id is errs.Conflict.
func (r *Repo) Create(ctx context.Context, f File) (File, error) {
	it, err := r.item(f)
	if err != nil {
		return File{}, err
	}
	ref, _ := json.Marshal(map[string]string{"userId": f.OwnerID, "fileId": f.ID})
	ops := []store.Op{
		{Kind: store.OpPut, Item: it, Cond: store.Cond{IfAbsent: true}},
		{Kind: store.OpPut, Item: store.Item{PK: blobKeyPK(f.Key), SK: "BLOBKEY", Data: ref}, Cond: store.Cond{IfAbsent: true}},
	}
	var delta int64
	if f.IsUploaded {
		delta = f.Size
	}
	if err := r.transactWithUsage(ctx, f.OwnerID, delta, 1, ops); err != nil {
		return File{}, fmt.Errorf("create file %s: %w", f.ID, err)
	}
	f.Version = 1
	return f, nil
}

// Get returns the caller's file; another user's file is errs.NotFound.
func (r *Repo) Get(ctx context.Context, uid, id string) (File, error) {
	it, err := r.st.Get(ctx, userPK(uid), fileSK(id))
	if err != nil {
		if errs.Is(err, errs.NotFound) {
			return File{}, errs.E(errs.NotFound, "Not found.")
		}
		return File{}, fmt.Errorf("get file %s: %w", id, err)
	}
	return Decode(it)
}

// ByKey finds the record of a blob key (storage events carry only keys).
func (r *Repo) ByKey(ctx context.Context, key string) (File, error) {
	it, err := r.st.Get(ctx, blobKeyPK(key), "BLOBKEY")
	if err != nil {
		return File{}, fmt.Errorf("file by key %s: %w", key, err)
	}
	var ref struct{ UserID, FileID string }
	if err := json.Unmarshal(it.Data, &ref); err != nil {
		return File{}, fmt.Errorf("decode key ref %s: %w", key, err)
	}
	return r.Get(ctx, ref.UserID, ref.FileID)
}

// ListOptions select files.
type ListOptions struct {
	// Search keeps files whose name contains it (case-insensitive).
	Search        string
	Offset, Limit int
}

// List returns the user's files, newest first, and the total matching.
func (r *Repo) List(ctx context.Context, uid string, o ListOptions) ([]File, int, error) {
	q := store.Query{Index: store.GSI1, PK: filesByDatePK(uid), Desc: true}
	var total int
	if o.Search == "" {
		// The count from the usage item and one page; a search reads
		// every record.
		n, err := r.count(ctx, uid)
		if err != nil {
			return nil, 0, err
		}
		total = n
		q.Offset, q.Limit, q.NoTotal = o.Offset, o.Limit, true
	}
	res, err := r.st.Query(ctx, q)
	if err != nil {
		return nil, 0, fmt.Errorf("list files of %s: %w", uid, err)
	}
	needle := strings.ToLower(o.Search)
	var out []File
	for _, it := range res.Items {
		f, err := Decode(it)
		if err != nil {
			return nil, 0, err
		}
		if needle != "" {
			if !strings.Contains(strings.ToLower(f.Name), needle) {
				continue
			}
			total++
			if total <= o.Offset || (o.Limit > 0 && len(out) >= o.Limit) {
				continue
			}
		}
		out = append(out, f)
	}
	return out, total, nil
}

// Update writes f if it is still at f.Version; otherwise errs.Conflict.
func (r *Repo) Update(ctx context.Context, f File) (File, error) {
	it, err := r.item(f)
	if err != nil {
		return File{}, err
	}
	out, err := r.st.Put(ctx, it, store.Cond{IfVersion: f.Version})
	if err != nil {
		return File{}, fmt.Errorf("update file %s: %w", f.ID, err)
	}
	f.Version = out.Version
	return f, nil
}

// MarkUploaded records size and hashes of a file whose blob has landed and
// adds its size to the owner's usage, in one transaction.
func (r *Repo) MarkUploaded(ctx context.Context, f File) (File, error) {
	f.IsUploaded = true
	it, err := r.item(f)
	if err != nil {
		return File{}, err
	}
	ops := []store.Op{{Kind: store.OpPut, Item: it, Cond: store.Cond{IfVersion: f.Version}}}
	if err := r.transactWithUsage(ctx, f.OwnerID, f.Size, 0, ops); err != nil {
		return File{}, fmt.Errorf("mark file %s uploaded: %w", f.ID, err)
	}
	f.Version++
	return f, nil
}

// Rehashed records new size and hashes of an uploaded file whose object was
// overwritten (through storage credentials), moving the owner's usage by
// the change from prevSize, in one transaction.
func (r *Repo) Rehashed(ctx context.Context, f File, prevSize int64) (File, error) {
	if !f.IsUploaded {
		return File{}, fmt.Errorf("rehash file %s: not uploaded", f.ID)
	}
	it, err := r.item(f)
	if err != nil {
		return File{}, err
	}
	ops := []store.Op{{Kind: store.OpPut, Item: it, Cond: store.Cond{IfVersion: f.Version}}}
	if err := r.transactWithUsage(ctx, f.OwnerID, f.Size-prevSize, 0, ops); err != nil {
		return File{}, fmt.Errorf("rehash file %s: %w", f.ID, err)
	}
	f.Version++
	return f, nil
}

// Delete removes the record (at f.Version) and its key reference and gives
// the bytes back to the owner's usage.
func (r *Repo) Delete(ctx context.Context, f File) error {
	ops := []store.Op{
		{Kind: store.OpDelete, Item: store.Item{PK: userPK(f.OwnerID), SK: fileSK(f.ID)}, Cond: store.Cond{IfVersion: f.Version}},
		{Kind: store.OpDelete, Item: store.Item{PK: blobKeyPK(f.Key), SK: "BLOBKEY"}},
	}
	var delta int64
	if f.IsUploaded {
		delta = -f.Size
	}
	if err := r.transactWithUsage(ctx, f.OwnerID, delta, -1, ops); err != nil {
		return fmt.Errorf("delete file %s: %w", f.ID, err)
	}
	return nil
}

// Usage returns the bytes a user stores.
func (r *Repo) Usage(ctx context.Context, uid string) (int64, error) {
	u, _, err := r.readUsage(ctx, uid)
	return u.Bytes, err
}
