package storagecreds

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/openrescale/platform/shared/errs"
	"github.com/openrescale/platform/shared/files"
)

// LocalAccessKey is the accessKey of local grants: there is no key pair,
// the sessionToken alone authorises.
const LocalAccessKey = "rescale-local"

// DirectPath is the local route that takes a grant:
// PUT or GET <DirectPath><key>?grant=<sessionToken>.
const DirectPath = "/api/v2/storage/"

// Local issues grants signed with the data directory's secret (HMAC-SHA256).
// A grant is stateless; it names its user and the API key it was issued
// with, so that the route honouring it can refuse it once either is no
// longer active (Claims.Check), and its lifetime is short.
type Local struct {
	Secret []byte
	TTL    time.Duration // default DefaultDuration
	Now    func() time.Time
}

type grantClaims struct {
	User    string   `json:"u"`
	Key     string   `json:"k"`
	Paths   []string `json:"p,omitempty"`
	Expires int64    `json:"e"`
}

// Claims are who a genuine grant was issued to.
type Claims struct {
	UserID, KeyID string
}

// Check refuses the grant once its user or key is no longer active.
func (c Claims) Check(ctx context.Context, keys KeyChecker) error {
	return keys.CheckKey(ctx, c.UserID, c.KeyID)
}

// Issue implements Issuer.
func (l *Local) Issue(_ context.Context, userID, keyID string, paths []string) (Grant, error) {
	if keyID == "" {
		return Grant{}, fmt.Errorf("storage grant for %s: no issuing key", userID)
	}
	if err := CheckPaths(userID, paths); err != nil {
		return Grant{}, err
	}
	ttl := l.TTL
	if ttl == 0 {
		ttl = DefaultDuration
	}
	exp := l.Now().Add(ttl).UTC().Truncate(time.Second)
	payload, err := json.Marshal(grantClaims{User: userID, Key: keyID, Paths: paths, Expires: exp.Unix()})
	if err != nil {
		return Grant{}, fmt.Errorf("encode grant: %w", err)
	}
	p := base64.RawURLEncoding.EncodeToString(payload)
	token := "v1." + p + "." + base64.RawURLEncoding.EncodeToString(l.mac(p))
	return Grant{
		AccessKey: LocalAccessKey, SecretKey: "", SessionToken: token,
		StorageDir: StorageDir(userID), Expiration: exp, DirectPath: DirectPath,
	}, nil
}

// IssueAccess implements AccessIssuer. The local direct-transfer route
// honours a grant for reads and writes alike, so a grant covers every
// path of the Access; only the AWS credentials (STS) keep a.Read
// read-only.
func (l *Local) IssueAccess(ctx context.Context, userID, keyID string, a Access) (Grant, error) {
	if err := CheckAccess(userID, a); err != nil {
		return Grant{}, err
	}
	return l.Issue(ctx, userID, keyID, append(append([]string(nil), a.Read...), a.Write...))
}

func (l *Local) mac(payload string) []byte {
	m := hmac.New(sha256.New, l.Secret)
	m.Write([]byte("storage-grant\x00" + payload))
	return m.Sum(nil)
}

// Authorize returns whom a grant was issued to if it is genuine, unexpired
// and covers key; otherwise errs.Forbidden (errs.Unauthenticated for a
// token that is not a grant at all). The caller still checks the claims'
// user and key (Claims.Check).
func (l *Local) Authorize(token, key string) (Claims, error) {
	invalid := errs.E(errs.Unauthenticated, "Invalid grant.")
	parts := strings.Split(token, ".")
	if len(parts) != 3 || parts[0] != "v1" {
		return Claims{}, invalid
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil || !hmac.Equal(sig, l.mac(parts[1])) {
		return Claims{}, invalid
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return Claims{}, invalid
	}
	var c grantClaims
	if err := json.Unmarshal(raw, &c); err != nil || c.User == "" || c.Key == "" {
		return Claims{}, invalid
	}
	if l.Now().Unix() >= c.Expires {
		return Claims{}, errs.E(errs.Forbidden, "The grant has expired.")
	}
	if !Allows(files.UserPrefix(c.User), c.Paths, key) {
		return Claims{}, errs.E(errs.Forbidden, "The grant does not cover %q.", errs.Clip(key))
	}
	return Claims{UserID: c.User, KeyID: c.Key}, nil
}
