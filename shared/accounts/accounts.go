// Package accounts keeps users and their API keys.
//
// API keys are 44 characters, "rsk_" and 40 random base62 characters
// (≈238 bits). The secret is shown once, at creation; only its SHA-256 is
// stored. A slow password hash buys nothing for secrets of that entropy and
// would cost every request, so a plain digest it is. Lookups are by digest,
// and the stored digest is compared again in constant time.
//
// Store layout (single table):
//
//	USER#<uid>        / USER       the user; GSI1 USERS / <email>
//	EMAIL#<email>     / EMAIL      uniqueness of emails → uid
//	APIKEY#<sha256>   / APIKEY     a key; GSI1 USER#<uid>#APIKEYS / <created>#<keyid>
//
// The key item is keyed by its digest so authentication is one strongly
// consistent Get; its owner is in its GSI key and its data.
package accounts

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/mail"
	"strings"
	"time"

	"github.com/openrescale/platform/shared/errs"
	"github.com/openrescale/platform/shared/ids"
	"github.com/openrescale/platform/shared/store"
)

// KeyPrefix marks this platform's API keys, so secret scanners and people can
// recognise one.
const KeyPrefix = "rsk_"

// visiblePrefixLen is how much of a key listings show to identify it.
const visiblePrefixLen = 12

// User is an account. Its email is the "owner" shown on every object.
type User struct {
	ID        string    `json:"id"`
	Email     string    `json:"email"`
	Active    bool      `json:"isActive"`
	CreatedAt time.Time `json:"dateJoined"`
}

// APIKey is a key's metadata; the secret itself is never stored.
type APIKey struct {
	ID        string     `json:"id"`
	Prefix    string     `json:"prefix"`
	UserID    string     `json:"-"`
	Digest    string     `json:"-"`
	CreatedAt time.Time  `json:"createdAt"`
	ExpiresAt *time.Time `json:"expiresAt"`
	// JobID is set on the short-lived keys injected into running jobs as
	// RESCALE_API_KEY (spec 002).
	JobID string `json:"jobId,omitempty"`
}

// Active reports whether the key may authenticate at t.
func (k APIKey) Active(t time.Time) bool { return k.ExpiresAt == nil || t.Before(*k.ExpiresAt) }

// Service manages users and keys.
type Service struct {
	st  store.Store
	now func() time.Time
}

// New returns a Service over st; now is the clock (time.Now in production).
func New(st store.Store, now func() time.Time) *Service {
	return &Service{st: st, now: now}
}

func userPK(id string) string      { return "USER#" + id }
func emailPK(email string) string  { return "EMAIL#" + email }
func keyPK(digest string) string   { return "APIKEY#" + digest }
func userKeysPK(uid string) string { return "USER#" + uid + "#APIKEYS" }
func jobKeysPK(uid, jobID string) string {
	return "USER#" + uid + "#JOBKEYS#" + jobID
}

// NormalizeEmail validates an email address and lower-cases it.
func NormalizeEmail(email string) (string, error) {
	e := strings.ToLower(strings.TrimSpace(email))
	a, err := mail.ParseAddress(e)
	if err != nil || a.Address != e || len(e) > 254 {
		return "", errs.Field("email", "%q is not a valid email address", email)
	}
	return e, nil
}

// EnsureUser returns the user with this email, creating an active one if
// there is none.
func (s *Service) EnsureUser(ctx context.Context, email string) (User, error) {
	email, err := NormalizeEmail(email)
	if err != nil {
		return User{}, err
	}
	for {
		u, err := s.UserByEmail(ctx, email)
		if err == nil {
			return u, nil
		}
		if !errs.Is(err, errs.NotFound) {
			return User{}, err
		}
		u, err = s.createUser(ctx, email)
		if errs.Is(err, errs.Conflict) {
			continue // another writer created it (or its id collided); read again
		}
		return u, err
	}
}

func (s *Service) createUser(ctx context.Context, email string) (User, error) {
	u := User{ID: ids.Short(), Email: email, Active: true, CreatedAt: s.now().UTC()}
	data, err := json.Marshal(u)
	if err != nil {
		return User{}, fmt.Errorf("encode user: %w", err)
	}
	ref, _ := json.Marshal(map[string]string{"userId": u.ID})
	err = s.st.Transact(ctx, []store.Op{
		{Kind: store.OpPut, Item: store.Item{PK: userPK(u.ID), SK: "USER", GSI1PK: "USERS", GSI1SK: email, Data: data}, Cond: store.Cond{IfAbsent: true}},
		{Kind: store.OpPut, Item: store.Item{PK: emailPK(email), SK: "EMAIL", Data: ref}, Cond: store.Cond{IfAbsent: true}},
	})
	if err != nil {
		return User{}, fmt.Errorf("create user %s: %w", email, err)
	}
	return u, nil
}

// User returns a user by id.
func (s *Service) User(ctx context.Context, id string) (User, error) {
	it, err := s.st.Get(ctx, userPK(id), "USER")
	if err != nil {
		return User{}, fmt.Errorf("get user %s: %w", id, err)
	}
	var u User
	if err := json.Unmarshal(it.Data, &u); err != nil {
		return User{}, fmt.Errorf("decode user %s: %w", id, err)
	}
	return u, nil
}

// UserByEmail returns a user by email.
func (s *Service) UserByEmail(ctx context.Context, email string) (User, error) {
	email, err := NormalizeEmail(email)
	if err != nil {
		return User{}, err
	}
	it, err := s.st.Get(ctx, emailPK(email), "EMAIL")
	if err != nil {
		return User{}, fmt.Errorf("find user %s: %w", email, err)
	}
	var ref struct{ UserID string }
	if err := json.Unmarshal(it.Data, &ref); err != nil {
		return User{}, fmt.Errorf("decode email ref %s: %w", email, err)
	}
	return s.User(ctx, ref.UserID)
}

// SetActive activates or deactivates a user; a deactivated user's keys stop
// working at once.
func (s *Service) SetActive(ctx context.Context, id string, active bool) error {
	for {
		it, err := s.st.Get(ctx, userPK(id), "USER")
		if err != nil {
			return fmt.Errorf("set user %s active: %w", id, err)
		}
		var u User
		if err := json.Unmarshal(it.Data, &u); err != nil {
			return fmt.Errorf("decode user %s: %w", id, err)
		}
		u.Active = active
		it.Data, _ = json.Marshal(u)
		_, err = s.st.Put(ctx, it, store.Cond{IfVersion: it.Version})
		if errs.Is(err, errs.Conflict) {
			continue
		}
		if err != nil {
			return fmt.Errorf("set user %s active: %w", id, err)
		}
		return nil
	}
}

// KeyOptions shape a new key.
type KeyOptions struct {
	// TTL, when positive, makes the key expire (it then answers "API key
	// is no longer active" but stays listed until deleted, as spec 002
	// describes).
	TTL time.Duration
	// Secret, when set, is used instead of a random one (the local server's
	// RESCALE_LOCAL_API_KEY); it must be at least 20 characters.
	Secret string
	JobID  string
}

// CreateKey makes a key for a user and returns its metadata and the secret,
// which is not retrievable later.
func (s *Service) CreateKey(ctx context.Context, userID string, opts KeyOptions) (APIKey, string, error) {
	secret := opts.Secret
	if secret == "" {
		secret = KeyPrefix + ids.New(40)
	} else if len(secret) < 20 || len(secret) > 256 || strings.ContainsAny(secret, " \t\r\n") {
		return APIKey{}, "", errs.Field("key", "an API key must be 20 to 256 characters without spaces")
	}
	if _, err := s.User(ctx, userID); err != nil {
		return APIKey{}, "", err
	}
	now := s.now().UTC()
	k := APIKey{ID: ids.Short(), Prefix: secret[:min(visiblePrefixLen, len(secret))], UserID: userID, Digest: digest(secret), CreatedAt: now, JobID: opts.JobID}
	it := store.Item{PK: keyPK(k.Digest), SK: "APIKEY", GSI1PK: userKeysPK(userID), GSI1SK: now.Format(time.RFC3339Nano) + "#" + k.ID}
	if opts.JobID != "" {
		// Indexed by job too, so ending a job's keys reads only them, not
		// every key the user ever had (one per job run).
		it.GSI2PK, it.GSI2SK = jobKeysPK(userID, opts.JobID), k.ID
	}
	if opts.TTL > 0 {
		exp := now.Add(opts.TTL)
		k.ExpiresAt = &exp
	}
	data, err := json.Marshal(storedKey{APIKey: k, UserID: userID, Digest: k.Digest})
	if err != nil {
		return APIKey{}, "", fmt.Errorf("encode key: %w", err)
	}
	it.Data = data
	if _, err := s.st.Put(ctx, it, store.Cond{IfAbsent: true}); err != nil {
		if errs.Is(err, errs.Conflict) {
			return APIKey{}, "", errs.E(errs.Conflict, "this API key is already registered")
		}
		return APIKey{}, "", fmt.Errorf("create key for user %s: %w", userID, err)
	}
	return k, secret, nil
}

// storedKey adds the fields the API hides.
type storedKey struct {
	APIKey
	UserID string `json:"userId"`
	Digest string `json:"digest"`
}

func decodeKey(it store.Item) (APIKey, error) {
	var sk storedKey
	if err := json.Unmarshal(it.Data, &sk); err != nil {
		return APIKey{}, fmt.Errorf("decode key: %w", err)
	}
	k := sk.APIKey
	k.UserID, k.Digest = sk.UserID, sk.Digest
	return k, nil
}

func digest(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// Messages clients see, worded as the real service words them.
const (
	MsgNoCredentials = "Authentication credentials were not provided."
	MsgInvalidToken  = "Invalid token."
	MsgKeyInactive   = "API key is no longer active"
	MsgUserInactive  = "User inactive or deleted."
)

// Authenticate resolves a secret to its user and key.
func (s *Service) Authenticate(ctx context.Context, secret string) (User, APIKey, error) {
	if secret == "" {
		return User{}, APIKey{}, errs.E(errs.Unauthenticated, MsgNoCredentials)
	}
	d := digest(secret)
	it, err := s.st.Get(ctx, keyPK(d), "APIKEY")
	if errs.Is(err, errs.NotFound) {
		return User{}, APIKey{}, errs.E(errs.Unauthenticated, MsgInvalidToken)
	}
	if err != nil {
		return User{}, APIKey{}, fmt.Errorf("authenticate: %w", err)
	}
	k, err := decodeKey(it)
	if err != nil {
		return User{}, APIKey{}, err
	}
	if subtle.ConstantTimeCompare([]byte(k.Digest), []byte(d)) != 1 {
		return User{}, APIKey{}, errs.E(errs.Unauthenticated, MsgInvalidToken)
	}
	if !k.Active(s.now()) {
		return User{}, APIKey{}, errs.E(errs.Unauthenticated, MsgKeyInactive)
	}
	u, err := s.User(ctx, k.UserID)
	if errs.Is(err, errs.NotFound) {
		return User{}, APIKey{}, errs.E(errs.Unauthenticated, MsgUserInactive)
	}
	if err != nil {
		return User{}, APIKey{}, err
	}
	if !u.Active {
		return User{}, APIKey{}, errs.E(errs.Unauthenticated, MsgUserInactive)
	}
	return u, k, nil
}

// CheckKey confirms that credentials issued on behalf of a key (storage
// grants, signed part URLs) may still be used: the user exists and is
// active, and the key is still one of theirs and active. It answers
// errs.Forbidden with the reason otherwise.
func (s *Service) CheckKey(ctx context.Context, userID, keyID string) error {
	u, err := s.User(ctx, userID)
	if errs.Is(err, errs.NotFound) || err == nil && !u.Active {
		return errs.E(errs.Forbidden, MsgUserInactive)
	}
	if err != nil {
		return err
	}
	res, err := s.st.Query(ctx, store.Query{Index: store.GSI1, PK: userKeysPK(userID)})
	if err != nil {
		return fmt.Errorf("keys of user %s: %w", userID, err)
	}
	for _, it := range res.Items {
		k, err := decodeKey(it)
		if err != nil {
			return err
		}
		if k.ID == keyID {
			if !k.Active(s.now()) {
				return errs.E(errs.Forbidden, "The API key these credentials were issued with is no longer active.")
			}
			return nil
		}
	}
	return errs.E(errs.Forbidden, "The API key these credentials were issued with has been deleted.")
}

// ListKeys returns one page of a user's keys, oldest first, and the total.
func (s *Service) ListKeys(ctx context.Context, userID string, offset, limit int) ([]APIKey, int, error) {
	res, err := s.st.Query(ctx, store.Query{Index: store.GSI1, PK: userKeysPK(userID), Offset: offset, Limit: limit})
	if err != nil {
		return nil, 0, fmt.Errorf("list keys of user %s: %w", userID, err)
	}
	keys := make([]APIKey, 0, len(res.Items))
	for _, it := range res.Items {
		k, err := decodeKey(it)
		if err != nil {
			return nil, 0, err
		}
		keys = append(keys, k)
	}
	return keys, res.Total, nil
}

// DeleteKey removes one of the user's keys; another user's key id is
// NotFound.
func (s *Service) DeleteKey(ctx context.Context, userID, keyID string) error {
	res, err := s.st.Query(ctx, store.Query{Index: store.GSI1, PK: userKeysPK(userID)})
	if err != nil {
		return fmt.Errorf("delete key %s: %w", keyID, err)
	}
	for _, it := range res.Items {
		k, err := decodeKey(it)
		if err != nil {
			return err
		}
		if k.ID == keyID {
			if err := s.st.Delete(ctx, it.PK, it.SK, store.Cond{}); err != nil {
				return fmt.Errorf("delete key %s: %w", keyID, err)
			}
			return nil
		}
	}
	return errs.E(errs.NotFound, "Not found.")
}

// ExpireJobKeys ends the job-scoped keys of a job (spec 002): they stay
// listed, marked with the job, and authenticate no more, answering
// MsgKeyInactive.
func (s *Service) ExpireJobKeys(ctx context.Context, userID, jobID string) error {
	res, err := s.st.Query(ctx, store.Query{Index: store.GSI2, PK: jobKeysPK(userID, jobID)})
	if err != nil {
		return fmt.Errorf("keys of job %s: %w", jobID, err)
	}
	now := s.now().UTC()
	for _, it := range res.Items {
		k, err := decodeKey(it)
		if err != nil {
			return err
		}
		if k.JobID != jobID || !k.Active(now) {
			continue
		}
		k.ExpiresAt = &now
		data, err := json.Marshal(storedKey{APIKey: k, UserID: k.UserID, Digest: k.Digest})
		if err != nil {
			return fmt.Errorf("encode key: %w", err)
		}
		it.Data = data
		if _, err := s.st.Put(ctx, it, store.Cond{IfVersion: it.Version}); err != nil && !errs.Is(err, errs.Conflict) {
			return fmt.Errorf("expire key %s of job %s: %w", k.ID, jobID, err)
		}
	}
	return nil
}
