// Package apikeys serves /api/v2/users/me/api-keys/, an extension of the
// spec that lets scripts manage their own keys (see docs/api-decisions.md).
package apikeys

import (
	"context"
	"net/http"
	"time"

	"github.com/openrescale/platform/shared/accounts"
	"github.com/openrescale/platform/shared/errs"
	"github.com/openrescale/platform/shared/httpapi"
)

// Keys is what the handlers need; *accounts.Service is one.
type Keys interface {
	CreateKey(ctx context.Context, userID string, opts accounts.KeyOptions) (accounts.APIKey, string, error)
	ListKeys(ctx context.Context, userID string, offset, limit int) ([]accounts.APIKey, int, error)
	DeleteKey(ctx context.Context, userID, keyID string) error
}

// Handlers serve key management.
type Handlers struct {
	Keys Keys
	Base httpapi.BaseURL
	// MaxLifetime, when positive, is the deployment's key lifetime policy
	// (spec 002): every new key expires after at most this long.
	MaxLifetime time.Duration
	Now         func() time.Time
}

// keyView is a key as listed; Key is only set in the creation response.
type keyView struct {
	accounts.APIKey
	IsActive bool   `json:"isActive"`
	Key      string `json:"key,omitempty"`
}

// List is GET /api/v2/users/me/api-keys/.
func (h Handlers) List(w http.ResponseWriter, r *http.Request) error {
	me, err := httpapi.Caller(r)
	if err != nil {
		return err
	}
	p, err := httpapi.ParsePage(r)
	if err != nil {
		return err
	}
	keys, total, err := h.Keys.ListKeys(r.Context(), me.UserID, p.Offset(), p.Size)
	if err != nil {
		return err
	}
	now := h.Now()
	views := make([]keyView, len(keys))
	for i, k := range keys {
		views[i] = keyView{APIKey: k, IsActive: k.Active(now)}
	}
	body, err := httpapi.NewPage(r, h.Base, p, total, views)
	if err != nil {
		return err
	}
	httpapi.WriteJSON(w, http.StatusOK, body)
	return nil
}

type createRequest struct {
	// ExpiresInDays: optional lifetime; capped by the deployment policy.
	ExpiresInDays *httpapi.Int `json:"expiresInDays"`
}

// Create is POST /api/v2/users/me/api-keys/: 201 with the secret in "key",
// shown this once.
func (h Handlers) Create(w http.ResponseWriter, r *http.Request) error {
	me, err := httpapi.Caller(r)
	if err != nil {
		return err
	}
	var req createRequest
	if err := httpapi.DecodeJSON(w, r, &req); err != nil {
		return err
	}
	var ttl time.Duration
	if req.ExpiresInDays != nil {
		d := int64(*req.ExpiresInDays)
		if d < 1 || d > 3650 {
			return errs.Field("expiresInDays", "expiresInDays must be between 1 and 3650")
		}
		ttl = time.Duration(d) * 24 * time.Hour
	}
	if h.MaxLifetime > 0 && (ttl == 0 || ttl > h.MaxLifetime) {
		ttl = h.MaxLifetime
	}
	k, secret, err := h.Keys.CreateKey(r.Context(), me.UserID, accounts.KeyOptions{TTL: ttl})
	if err != nil {
		return err
	}
	httpapi.WriteJSON(w, http.StatusCreated, keyView{APIKey: k, IsActive: true, Key: secret})
	return nil
}

// Delete is DELETE /api/v2/users/me/api-keys/{id}/.
func (h Handlers) Delete(w http.ResponseWriter, r *http.Request) error {
	me, err := httpapi.Caller(r)
	if err != nil {
		return err
	}
	id, err := httpapi.PathID(r, "id")
	if err != nil {
		return err
	}
	if err := h.Keys.DeleteKey(r.Context(), me.UserID, id); err != nil {
		return err
	}
	httpapi.NoContent(w)
	return nil
}
