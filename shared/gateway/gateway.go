// Package gateway adapts API Gateway (REST API, proxy integration) to the
// plain net/http handlers of httpapi, and implements the Lambda authorizer
// with the same key check the local server uses.
package gateway

import (
	"context"
	"net/http"
	"strings"

	"github.com/aws/aws-lambda-go/events"
	"github.com/awslabs/aws-lambda-go-api-proxy/core"
	"github.com/awslabs/aws-lambda-go-api-proxy/httpadapter"

	"github.com/openrescale/platform/shared/auth"
	"github.com/openrescale/platform/shared/errs"
	"github.com/openrescale/platform/shared/httpapi"
)

// Handler returns a Lambda handler for API Gateway proxy events that serves
// them with h.
func Handler(h http.Handler) func(context.Context, events.APIGatewayProxyRequest) (events.APIGatewayProxyResponse, error) {
	adapter := httpadapter.New(stagePrefix(h))
	return adapter.ProxyWithContext
}

// stagePrefix tells BaseURL about the stage segment ("/prod") that the
// default execute-api endpoint puts in front of every path but strips from
// the event's path, so next/previous links stay followable.
func stagePrefix(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if gw, ok := core.GetAPIGatewayContextFromContext(r.Context()); ok && gw.Stage != "" &&
			strings.HasSuffix(gw.DomainName, ".amazonaws.com") && r.Header.Get("X-Forwarded-Prefix") == "" {
			r.Header.Set("X-Forwarded-Prefix", "/"+gw.Stage)
		}
		h.ServeHTTP(w, r)
	})
}

// Context keys the authorizer returns and the functions read.
const (
	ctxUserID = "userId"
	ctxEmail  = "email"
	ctxKeyID  = "keyId"
	// ctxJobID is the key's job, "" for a user's own key; a context
	// without it (cached by API Gateway before it was added) leaves the
	// principal's JobKnown false.
	ctxJobID = "jobId"
)

// Authenticator trusts the principal the Lambda authorizer put in the
// request context. Without one (a route invoked directly, not through the
// gateway) it checks the token itself.
type Authenticator struct {
	Fallback httpapi.Authenticator
}

var _ httpapi.Authenticator = Authenticator{}

// Authenticate implements httpapi.Authenticator.
func (a Authenticator) Authenticate(r *http.Request) (httpapi.Principal, error) {
	if gw, ok := core.GetAPIGatewayContextFromContext(r.Context()); ok && gw.Authorizer != nil {
		uid, _ := gw.Authorizer[ctxUserID].(string)
		if uid != "" {
			email, _ := gw.Authorizer[ctxEmail].(string)
			kid, _ := gw.Authorizer[ctxKeyID].(string)
			jid, known := gw.Authorizer[ctxJobID].(string)
			return httpapi.Principal{UserID: uid, Email: email, KeyID: kid, JobID: jid, JobKnown: known}, nil
		}
	}
	if a.Fallback == nil {
		return httpapi.Principal{}, errs.E(errs.Unauthenticated, "Authentication credentials were not provided.")
	}
	return a.Fallback.Authenticate(r)
}

// Authorizer is the REQUEST-type Lambda authorizer.
type Authorizer struct {
	Keys auth.KeyChecker
}

// Authorize allows the whole API for a valid key and passes the caller on in
// the context. The policy covers every method and path of the stage so that
// API Gateway may cache one decision per key across routes. A bad key is
// "Unauthorized", which API Gateway turns into a 401; its JSON body is set by
// the gateway response for UNAUTHORIZED in infra.
func (a Authorizer) Authorize(ctx context.Context, req events.APIGatewayCustomAuthorizerRequestTypeRequest) (events.APIGatewayCustomAuthorizerResponse, error) {
	header := ""
	for k, v := range req.Headers {
		if strings.EqualFold(k, "Authorization") {
			header = v
		}
	}
	key, err := auth.ParseToken(header)
	if err != nil {
		return events.APIGatewayCustomAuthorizerResponse{}, errUnauthorized
	}
	p, err := auth.Check(ctx, a.Keys, key)
	if err != nil {
		if errs.Is(err, errs.Unauthenticated) {
			return events.APIGatewayCustomAuthorizerResponse{}, errUnauthorized
		}
		return events.APIGatewayCustomAuthorizerResponse{}, err
	}
	return events.APIGatewayCustomAuthorizerResponse{
		PrincipalID: p.UserID,
		PolicyDocument: events.APIGatewayCustomAuthorizerPolicy{
			Version: "2012-10-17",
			Statement: []events.IAMPolicyStatement{{
				Action:   []string{"execute-api:Invoke"},
				Effect:   "Allow",
				Resource: []string{stageWildcard(req.MethodArn)},
			}},
		},
		Context: map[string]any{ctxUserID: p.UserID, ctxEmail: p.Email, ctxKeyID: p.KeyID, ctxJobID: p.JobID},
	}, nil
}

// errUnauthorized must read exactly "Unauthorized" for API Gateway to answer
// 401 rather than 500.
var errUnauthorized = unauthorized{}

type unauthorized struct{}

func (unauthorized) Error() string { return "Unauthorized" }

// stageWildcard turns arn:aws:execute-api:region:acct:api/stage/GET/path
// into arn:aws:execute-api:region:acct:api/stage/*.
func stageWildcard(methodArn string) string {
	parts := strings.SplitN(methodArn, "/", 3)
	if len(parts) < 2 {
		return methodArn
	}
	return parts[0] + "/" + parts[1] + "/*"
}
