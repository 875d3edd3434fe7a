package folders

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/openrescale/platform/shared/errs"
	"github.com/openrescale/platform/shared/files"
	"github.com/openrescale/platform/shared/store"
)

// repo maps folders onto store items; the Service holds the rules.
type repo struct {
	st store.Store
}

func userPK(uid string) string  { return "USER#" + uid }
func folderSK(id string) string { return "FOLDER#" + id }
func childrenPK(uid, parent string) string {
	return "USER#" + uid + "#CHILDREN#" + parent
}
func deletingPK(uid, parent string) string {
	return "USER#" + uid + "#FOLDERDELETING#" + parent
}
func nameClaimPK(uid, parent, name string) string {
	return "USER#" + uid + "#FOLDERNAME#" + parent + "#" + nameKey(name)
}
func jobFolderPK(uid, jobID string) string { return "USER#" + uid + "#JOBFOLDER#" + jobID }

const (
	rootsSK     = "FOLDERROOTS"
	nameClaimSK = "FOLDERNAME"
	jobFolderSK = "JOBFOLDER"
)

func (r repo) item(f Folder) (store.Item, error) {
	data, err := json.Marshal(f)
	if err != nil {
		return store.Item{}, fmt.Errorf("encode folder %s: %w", f.ID, err)
	}
	it := store.Item{PK: userPK(f.OwnerID), SK: folderSK(f.ID), Data: data}
	switch {
	case f.IsRoot():
	case f.Deleting:
		// Out of the parent's listing, but still findable by the parent's
		// recursive delete if this one stops half-way.
		it.GSI2PK, it.GSI2SK = deletingPK(f.OwnerID, f.ParentID), f.ID
	default:
		it.GSI1PK, it.GSI1SK = childrenPK(f.OwnerID, f.ParentID), nameKey(f.Name)
	}
	return it, nil
}

func decode(it store.Item) (Folder, error) {
	var f Folder
	if err := json.Unmarshal(it.Data, &f); err != nil {
		return Folder{}, fmt.Errorf("decode folder %s/%s: %w", it.PK, it.SK, err)
	}
	f.Version = it.Version
	return f, nil
}

// get returns the record whatever its state; errs.NotFound if absent.
func (r repo) get(ctx context.Context, uid, id string) (Folder, error) {
	it, err := r.st.Get(ctx, userPK(uid), folderSK(id))
	if err != nil {
		if errs.Is(err, errs.NotFound) {
			return Folder{}, errs.Wrap(errs.NotFound, err, "Not found.")
		}
		return Folder{}, fmt.Errorf("get folder %s: %w", id, err)
	}
	return decode(it)
}

func (r repo) getRoots(ctx context.Context, uid string) (Roots, error) {
	it, err := r.st.Get(ctx, userPK(uid), rootsSK)
	if err != nil {
		return Roots{}, fmt.Errorf("roots of %s: %w", uid, err)
	}
	var roots Roots
	if err := json.Unmarshal(it.Data, &roots); err != nil {
		return Roots{}, fmt.Errorf("decode roots of %s: %w", uid, err)
	}
	return roots, nil
}

// createRoots writes both roots and the pointer to them in one transaction;
// the pointer's IfAbsent makes concurrent first requests agree on one pair.
func (r repo) createRoots(ctx context.Context, uid string, roots Roots, jobs, lib Folder) error {
	data, _ := json.Marshal(roots)
	ji, err := r.item(jobs)
	if err != nil {
		return err
	}
	li, err := r.item(lib)
	if err != nil {
		return err
	}
	return r.st.Transact(ctx, []store.Op{
		{Kind: store.OpPut, Item: store.Item{PK: userPK(uid), SK: rootsSK, Data: data}, Cond: store.Cond{IfAbsent: true}},
		{Kind: store.OpPut, Item: ji, Cond: store.Cond{IfAbsent: true}},
		{Kind: store.OpPut, Item: li, Cond: store.Cond{IfAbsent: true}},
	})
}

// create writes a new folder with its name claim, provided the parent is
// still at the version read (it changes only when a delete starts there).
func (r repo) create(ctx context.Context, f Folder, parent Folder, extra ...store.Op) error {
	it, err := r.item(f)
	if err != nil {
		return err
	}
	claim, _ := json.Marshal(map[string]string{"folderId": f.ID})
	ops := []store.Op{
		{Kind: store.OpPut, Item: it, Cond: store.Cond{IfAbsent: true}},
		{Kind: store.OpPut, Item: store.Item{PK: nameClaimPK(f.OwnerID, f.ParentID, f.Name), SK: nameClaimSK, Data: claim}, Cond: store.Cond{IfAbsent: true}},
		{Kind: store.OpCheck, Item: store.Item{PK: userPK(parent.OwnerID), SK: folderSK(parent.ID)}, Cond: store.Cond{IfVersion: parent.Version}},
	}
	return r.st.Transact(ctx, append(ops, extra...))
}

func (r repo) nameTaken(ctx context.Context, uid, parent, name string) (bool, error) {
	_, err := r.st.Get(ctx, nameClaimPK(uid, parent, name), nameClaimSK)
	if errs.Is(err, errs.NotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("read name claim: %w", err)
	}
	return true, nil
}

func (r repo) jobFolderID(ctx context.Context, uid, jobID string) (string, error) {
	it, err := r.st.Get(ctx, jobFolderPK(uid, jobID), jobFolderSK)
	if err != nil {
		return "", fmt.Errorf("folder of job %s: %w", jobID, err)
	}
	var ref struct {
		FolderID string `json:"folderId"`
	}
	if err := json.Unmarshal(it.Data, &ref); err != nil {
		return "", fmt.Errorf("decode folder of job %s: %w", jobID, err)
	}
	return ref.FolderID, nil
}

func jobClaimOp(uid, jobID, folderID string) store.Op {
	data, _ := json.Marshal(map[string]string{"folderId": folderID})
	return store.Op{Kind: store.OpPut, Item: store.Item{PK: jobFolderPK(uid, jobID), SK: jobFolderSK, Data: data}, Cond: store.Cond{IfAbsent: true}}
}

// markDeleting flags f (at its version) as being deleted.
func (r repo) markDeleting(ctx context.Context, f Folder) (Folder, error) {
	f.Deleting = true
	it, err := r.item(f)
	if err != nil {
		return Folder{}, err
	}
	out, err := r.st.Put(ctx, it, store.Cond{IfVersion: f.Version})
	if err != nil {
		return Folder{}, fmt.Errorf("mark folder %s deleted: %w", f.ID, err)
	}
	f.Version = out.Version
	return f, nil
}

// remove deletes an emptied folder with its name and job claims.
func (r repo) remove(ctx context.Context, f Folder) error {
	ops := []store.Op{
		{Kind: store.OpDelete, Item: store.Item{PK: userPK(f.OwnerID), SK: folderSK(f.ID)}, Cond: store.Cond{IfVersion: f.Version}},
		{Kind: store.OpDelete, Item: store.Item{PK: nameClaimPK(f.OwnerID, f.ParentID, f.Name), SK: nameClaimSK}},
	}
	if f.JobID != "" {
		// Only the job's own folder holds the job claim; deleting a claim
		// that points elsewhere would let the job get a second folder.
		if id, err := r.jobFolderID(ctx, f.OwnerID, f.JobID); err == nil && id == f.ID {
			ops = append(ops, store.Op{Kind: store.OpDelete, Item: store.Item{PK: jobFolderPK(f.OwnerID, f.JobID), SK: jobFolderSK}})
		}
	}
	if err := r.st.Transact(ctx, ops); err != nil {
		return fmt.Errorf("delete folder %s: %w", f.ID, err)
	}
	return nil
}

// children lists live subfolders by name.
func (r repo) children(ctx context.Context, uid, parent string, offset, limit int) ([]Folder, int, error) {
	res, err := r.st.Query(ctx, store.Query{Index: store.GSI1, PK: childrenPK(uid, parent), Offset: offset, Limit: limit})
	if err != nil {
		return nil, 0, fmt.Errorf("list subfolders of %s: %w", parent, err)
	}
	out := make([]Folder, 0, len(res.Items))
	for _, it := range res.Items {
		f, err := decode(it)
		if err != nil {
			return nil, 0, err
		}
		out = append(out, f)
	}
	return out, res.Total, nil
}

// allChildren lists every subfolder, live or half-deleted, for a recursive
// delete.
func (r repo) allChildren(ctx context.Context, uid, parent string) ([]Folder, error) {
	live, _, err := r.children(ctx, uid, parent, 0, 0)
	if err != nil {
		return nil, err
	}
	res, err := r.st.Query(ctx, store.Query{Index: store.GSI2, PK: deletingPK(uid, parent)})
	if err != nil {
		return nil, fmt.Errorf("list deleted subfolders of %s: %w", parent, err)
	}
	for _, it := range res.Items {
		f, err := decode(it)
		if err != nil {
			return nil, err
		}
		live = append(live, f)
	}
	return live, nil
}

// files lists a folder's files by name. It reads the files package's
// folder index directly, so folders need nothing from files but the layout.
func (r repo) files(ctx context.Context, uid, folder string, offset, limit int) ([]files.File, int, error) {
	res, err := r.st.Query(ctx, store.Query{Index: store.GSI2, PK: files.FolderIndexPK(uid, folder), Offset: offset, Limit: limit})
	if err != nil {
		return nil, 0, fmt.Errorf("list files in folder %s: %w", folder, err)
	}
	out := make([]files.File, 0, len(res.Items))
	for _, it := range res.Items {
		f, err := files.Decode(it)
		if err != nil {
			return nil, 0, err
		}
		out = append(out, f)
	}
	return out, res.Total, nil
}
