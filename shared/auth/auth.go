// Package auth turns the Authorization header into a caller, for the local
// server and for the AWS Lambda authorizer alike.
package auth

import (
	"context"
	"net/http"
	"strings"

	"github.com/openrescale/platform/shared/accounts"
	"github.com/openrescale/platform/shared/errs"
	"github.com/openrescale/platform/shared/httpapi"
)

// KeyChecker resolves an API key secret; *accounts.Service is one.
type KeyChecker interface {
	Authenticate(ctx context.Context, secret string) (accounts.User, accounts.APIKey, error)
}

// ParseToken extracts the key from "Token <key>". The scheme is matched
// without regard to case because the spec's own examples use both "Token"
// and "token"; "Bearer" is accepted too, as generic HTTP clients send it.
func ParseToken(header string) (string, error) {
	header = strings.TrimSpace(header)
	if header == "" {
		return "", errs.E(errs.Unauthenticated, accounts.MsgNoCredentials)
	}
	scheme, key, ok := strings.Cut(header, " ")
	if !ok || !(strings.EqualFold(scheme, "Token") || strings.EqualFold(scheme, "Bearer")) {
		return "", errs.E(errs.Unauthenticated, "Invalid token header. Use 'Authorization: Token <api-key>'.")
	}
	key = strings.TrimSpace(key)
	if key == "" || strings.ContainsAny(key, " \t") {
		return "", errs.E(errs.Unauthenticated, "Invalid token header. Token string should not contain spaces.")
	}
	return key, nil
}

// Tokens authenticates requests by their API key.
type Tokens struct {
	Keys KeyChecker
}

var _ httpapi.Authenticator = Tokens{}

// Authenticate implements httpapi.Authenticator.
func (a Tokens) Authenticate(r *http.Request) (httpapi.Principal, error) {
	key, err := ParseToken(r.Header.Get("Authorization"))
	if err != nil {
		return httpapi.Principal{}, err
	}
	return Check(r.Context(), a.Keys, key)
}

// Check resolves a key to a principal.
func Check(ctx context.Context, keys KeyChecker, key string) (httpapi.Principal, error) {
	u, k, err := keys.Authenticate(ctx, key)
	if err != nil {
		return httpapi.Principal{}, err
	}
	return httpapi.Principal{UserID: u.ID, Email: u.Email, KeyID: k.ID, JobID: k.JobID, JobKnown: true}, nil
}
