package storagecreds

import (
	"context"
	"fmt"
	"strings"

	"github.com/openrescale/platform/shared/accounts"
	"github.com/openrescale/platform/shared/files"
	"github.com/openrescale/platform/shared/httpapi"
)

// Access is what credentials allow, by key (a path ending in "/" stands
// for everything under it): Read paths may be read and listed, Write paths
// also written (including by multipart upload) and their unfinished
// uploads aborted.
type Access struct {
	Read, Write []string
}

// AccessIssuer issues credentials for an Access within the user's storage
// directory; STS and Local are ones.
type AccessIssuer interface {
	Issuer
	IssueAccess(ctx context.Context, userID, keyID string, a Access) (Grant, error)
}

// KeyJobs says which job a key belongs to: "" for a key of no job (a
// user's own keys), the job's id for the RESCALE_API_KEY the lifecycle
// creates for a running job (accounts.KeyOptions.JobID).
type KeyJobs interface {
	KeyJob(ctx context.Context, userID, keyID string) (string, error)
}

// JobOutputPrefix is where a job's runs write their outputs,
// user/user_<uid>/output/job_<jid>/ (every run's prefix is under it).
func JobOutputPrefix(userID, jobID string) string {
	return files.UserPrefix(userID) + "output/job_" + jobID + "/"
}

// Scoped issues credentials with Issuer, narrowed for a job's key: such
// credentials write only under the job's output prefix, and read only the
// paths asked for (the job agent asks for its inputs and its run's output
// prefix), or, when none are, the owner's storage directory, which the
// job's key may read through the API anyway. A job's key cannot get
// credentials to change the owner's other files. Other keys get what they
// ask for, as from Issuer.
type Scoped struct {
	Issuer AccessIssuer
	Jobs   KeyJobs
}

var _ Issuer = Scoped{}

// Issue implements Issuer.
func (s Scoped) Issue(ctx context.Context, userID, keyID string, paths []string) (Grant, error) {
	job, err := s.Jobs.KeyJob(ctx, userID, keyID)
	if err != nil {
		return Grant{}, fmt.Errorf("storage credentials: the key's job: %w", err)
	}
	if job == "" {
		return s.Issuer.Issue(ctx, userID, keyID, paths)
	}
	return s.Issuer.IssueAccess(ctx, userID, keyID, JobAccess(userID, job, paths))
}

// JobAccess is what a job's key may have of the paths it asks for: paths
// under the job's output prefix are written, the rest only read.
func JobAccess(userID, jobID string, paths []string) Access {
	out := JobOutputPrefix(userID, jobID)
	if len(paths) == 0 {
		return Access{Read: []string{files.UserPrefix(userID)}, Write: []string{out}}
	}
	var a Access
	for _, p := range paths {
		if strings.HasPrefix(p, out) {
			a.Write = append(a.Write, p)
		} else {
			a.Read = append(a.Read, p)
		}
	}
	return a
}

// CallerKeyJobs answers for the authenticated caller's own key from the
// principal in the context, which the authenticator filled from the key
// itself; any other key, or a principal that does not know its job (an
// authorizer context cached before jobId was passed on), goes to Fallback.
// So a job agent's credentials request costs no read of the user's keys.
type CallerKeyJobs struct {
	Fallback KeyJobs
}

// KeyJob implements KeyJobs.
func (c CallerKeyJobs) KeyJob(ctx context.Context, userID, keyID string) (string, error) {
	if p, ok := httpapi.CallerOf(ctx); ok && p.JobKnown && p.UserID == userID && p.KeyID == keyID {
		return p.JobID, nil
	}
	return c.Fallback.KeyJob(ctx, userID, keyID)
}

// KeyLister is the part of accounts.Service AccountKeyJobs reads.
type KeyLister interface {
	ListKeys(ctx context.Context, userID string, offset, limit int) ([]accounts.APIKey, int, error)
}

// AccountKeyJobs finds a key's job among the user's keys. It reads the
// user's keys a page at a time, newest pages last (job keys are created
// per run and stay listed until deleted), so it costs a query per hundred
// keys; CallerKeyJobs asks it only when the caller's principal does not
// already know its key's job.
type AccountKeyJobs struct {
	Keys KeyLister
}

// KeyJob implements KeyJobs; a key that is not the user's belongs to no
// job here (the caller's key was authenticated already).
func (a AccountKeyJobs) KeyJob(ctx context.Context, userID, keyID string) (string, error) {
	const page = 100
	for off := 0; ; off += page {
		keys, total, err := a.Keys.ListKeys(ctx, userID, off, page)
		if err != nil {
			return "", err
		}
		for _, k := range keys {
			if k.ID == keyID {
				return k.JobID, nil
			}
		}
		if len(keys) == 0 || off+len(keys) >= total {
			return "", nil
		}
	}
}
