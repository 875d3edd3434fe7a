// Package storagecreds issues the temporary storage credentials of
// POST /api/credentials/ (spec 000): access to the caller's own storage
// directory, user/user_<uid>/, or only to the paths asked for.
//
// In AWS they are STS session credentials of a role assumed with a session
// policy that narrows S3 access to those keys (SessionPolicy, issued by
// subpackage stscreds). Locally there is no S3, so the credential is a
// signed grant the local server honours on its direct-transfer route
// (Local); docs/api-decisions.md describes its form.
package storagecreds

import (
	"context"
	"strings"
	"time"

	"github.com/openrescale/platform/shared/blob"
	"github.com/openrescale/platform/shared/errs"
	"github.com/openrescale/platform/shared/files"
)

// Grant is what the endpoint returns, in spec 000's field names.
type Grant struct {
	AccessKey    string    `json:"accessKey"`
	SecretKey    string    `json:"secretKey"`
	SessionToken string    `json:"sessionToken"`
	StorageDir   string    `json:"storageDir"`
	Expiration   time.Time `json:"expiration"`
	// Local only: the path prefix of the route that accepts the grant,
	// made absolute by the handler ("" in AWS).
	DirectPath string `json:"-"`
}

// Issuer issues credentials for a user's storage.
type Issuer interface {
	// Issue returns credentials for everything under the user's storage
	// directory, or, when paths is not empty, for exactly those keys (a
	// path ending in "/" stands for everything under it). keyID is the API
	// key the caller used: credentials that can be checked when used
	// (Local) stop working with it.
	Issue(ctx context.Context, userID, keyID string, paths []string) (Grant, error)
}

// KeyChecker confirms that a user and the key credentials were issued with
// are still active (accounts.Service.CheckKey).
type KeyChecker interface {
	CheckKey(ctx context.Context, userID, keyID string) error
}

// MaxPaths bounds one request: an STS session policy is at most 2048
// characters packed, which a few dozen keys already fill.
const MaxPaths = 20

// StorageDir is the spec's storageDir: the user's prefix without the
// trailing slash ("user/user_XXXXX").
func StorageDir(userID string) string {
	return strings.TrimSuffix(files.UserPrefix(userID), "/")
}

// CheckPaths validates requested paths: each must be a key (or a prefix
// ending in "/") inside the user's storage directory. Another user's path is
// Forbidden rather than NotFound: nothing is being looked up, and the
// caller named the path themselves.
func CheckPaths(userID string, paths []string) error {
	if len(paths) > MaxPaths {
		return errs.Field("paths", "at most %d paths per request", MaxPaths)
	}
	prefix := files.UserPrefix(userID)
	for _, p := range paths {
		if !blob.ValidKey(strings.TrimSuffix(p, "/")) {
			return errs.Field("paths", "path %q is not a valid storage path", p)
		}
		if !strings.HasPrefix(p, prefix) {
			return errs.E(errs.Forbidden, "path %q is outside your storage directory %s", p, StorageDir(userID))
		}
		if strings.ContainsAny(p, "*?") {
			// IAM would read these as wildcards, widening the grant.
			return errs.Field("paths", "path %q must not contain '*' or '?'", p)
		}
	}
	return nil
}

// Allows reports whether a grant for prefix/paths covers key.
func Allows(prefix string, paths []string, key string) bool {
	if len(paths) == 0 {
		return strings.HasPrefix(key, prefix)
	}
	for _, p := range paths {
		if key == p || strings.HasSuffix(p, "/") && strings.HasPrefix(key, p) {
			return true
		}
	}
	return false
}
