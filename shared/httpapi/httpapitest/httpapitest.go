// Package httpapitest holds what handler tests share: an authenticator that
// maps Authorization header values to callers, so a test can act as several
// users without a key store.
package httpapitest

import (
	"net/http"

	"github.com/openrescale/platform/shared/errs"
	"github.com/openrescale/platform/shared/httpapi"
)

// Tokens authenticates by exact Authorization header value.
type Tokens map[string]httpapi.Principal

var _ httpapi.Authenticator = Tokens{}

// Authenticate implements httpapi.Authenticator.
func (a Tokens) Authenticate(r *http.Request) (httpapi.Principal, error) {
	p, ok := a[r.Header.Get("Authorization")]
	if !ok {
		return httpapi.Principal{}, errs.E(errs.Unauthenticated, "Invalid token.")
	}
	return p, nil
}
