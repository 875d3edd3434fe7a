package gateway

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/openrescale/platform/shared/accounts"
	"github.com/openrescale/platform/shared/auth"
	"github.com/openrescale/platform/shared/errs"
	"github.com/openrescale/platform/shared/httpapi"
	"github.com/openrescale/platform/shared/store"
	"github.com/openrescale/platform/shared/store/dynamostore/dynamolocal"
	"github.com/openrescale/platform/shared/store/enginetest"
)

func TestMain(m *testing.M) { dynamolocal.Main(m) }

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

const methodArn = "arn:aws:execute-api:eu-west-1:123456789012:abcdef1234/prod/GET/api/v2/jobs/"

func request(headers map[string]string) events.APIGatewayCustomAuthorizerRequestTypeRequest {
	return events.APIGatewayCustomAuthorizerRequestTypeRequest{Type: "REQUEST", MethodArn: methodArn, Headers: headers}
}

// The authorizer runs the same key check as the local server, on the
// accounts service over both store engines: valid keys are allowed for the
// whole stage with the caller in the context; expired keys, deactivated
// users, unknown keys and bad headers are "Unauthorized" (API Gateway's
// 401), never another error (a 500).
func TestAuthorizer(t *testing.T) {
	enginetest.Run(t, func(t *testing.T, st store.Store) {
		ctx := t.Context()
		c := &clock{t: time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)}
		accts := accounts.New(st, c.now)
		alice, _ := accts.EnsureUser(ctx, "alice@example.com")
		bob, _ := accts.EnsureUser(ctx, "bob@example.com")
		key, secret, err := accts.CreateKey(ctx, alice.ID, accounts.KeyOptions{})
		if err != nil {
			t.Fatal(err)
		}
		_, short, _ := accts.CreateKey(ctx, alice.ID, accounts.KeyOptions{TTL: time.Hour})
		_, bobs, _ := accts.CreateKey(ctx, bob.ID, accounts.KeyOptions{})
		_, jobKey, _ := accts.CreateKey(ctx, alice.ID, accounts.KeyOptions{JobID: "job1"})
		if err := accts.SetActive(ctx, bob.ID, false); err != nil {
			t.Fatal(err)
		}
		if err := accts.ExpireJobKeys(ctx, alice.ID, "job1"); err != nil {
			t.Fatal(err)
		}
		a := Authorizer{Keys: accts}

		got, err := a.Authorize(ctx, request(map[string]string{"authorization": "Token " + secret}))
		if err != nil {
			t.Fatal(err)
		}
		if got.PrincipalID != alice.ID || got.PolicyDocument.Version != "2012-10-17" || len(got.PolicyDocument.Statement) != 1 {
			t.Fatalf("response %+v", got)
		}
		stmt := got.PolicyDocument.Statement[0]
		if stmt.Effect != "Allow" || strings.Join(stmt.Action, ",") != "execute-api:Invoke" ||
			strings.Join(stmt.Resource, ",") != "arn:aws:execute-api:eu-west-1:123456789012:abcdef1234/prod/*" {
			t.Fatalf("statement %+v", stmt)
		}
		if got.Context["userId"] != alice.ID || got.Context["email"] != "alice@example.com" || got.Context["keyId"] != key.ID || got.Context["jobId"] != "" {
			t.Fatalf("context %v", got.Context)
		}
		// A running job's key passes its job on, so its storage credentials
		// are narrowed without listing the user's keys.
		liveJob, liveSecret, _ := accts.CreateKey(ctx, alice.ID, accounts.KeyOptions{JobID: "job2"})
		got, err = a.Authorize(ctx, request(map[string]string{"Authorization": "Token " + liveSecret}))
		if err != nil || got.Context["keyId"] != liveJob.ID || got.Context["jobId"] != "job2" {
			t.Fatalf("job key: %v, context %v", err, got.Context)
		}

		c.add(time.Hour) // the short key's expiry instant
		for name, headers := range map[string]map[string]string{
			"expired key":          {"Authorization": "Token " + short},
			"ended job's key":      {"Authorization": "Token " + jobKey},
			"deactivated user":     {"Authorization": "Token " + bobs},
			"unknown key":          {"Authorization": "Token rsk_" + strings.Repeat("0", 40)},
			"no header":            {},
			"empty header":         {"Authorization": ""},
			"other scheme":         {"Authorization": "Basic dXNlcjpwYXNz"},
			"key in another field": {"X-Api-Key": secret},
		} {
			_, err := a.Authorize(ctx, request(headers))
			if err == nil || err.Error() != "Unauthorized" {
				t.Errorf("%s: %v, want exactly Unauthorized", name, err)
			}
		}
		// The same keys through the local server's authenticator give the
		// client the reason, in the spec's words.
		for secret, msg := range map[string]string{short: "API key is no longer active", jobKey: "API key is no longer active", bobs: "User inactive or deleted."} {
			r, _ := http.NewRequest("GET", "/api/v2/jobs/", nil)
			r.Header.Set("Authorization", "Token "+secret)
			_, err := auth.Tokens{Keys: accts}.Authenticate(r)
			if e, ok := errs.As(err); !ok || e.Code != errs.Unauthenticated || e.Message != msg {
				t.Errorf("local authenticator: %v, want %q", err, msg)
			}
		}
	})
}

type failingKeys struct{}

func (failingKeys) Authenticate(context.Context, string) (accounts.User, accounts.APIKey, error) {
	return accounts.User{}, accounts.APIKey{}, errors.New("store down")
}

// A store failure is not a bad key: it must not be cached as a denial.
func TestAuthorizerStoreFailure(t *testing.T) {
	_, err := Authorizer{Keys: failingKeys{}}.Authorize(t.Context(), request(map[string]string{"Authorization": "Token rsk_whatever0000000000000"}))
	if err == nil || err.Error() == "Unauthorized" {
		t.Fatalf("err %v, want the store's error", err)
	}
}

func TestStageWildcard(t *testing.T) {
	for in, want := range map[string]string{
		methodArn: "arn:aws:execute-api:eu-west-1:123456789012:abcdef1234/prod/*",
		"arn:aws:execute-api:eu-west-1:123456789012:abcdef1234/prod/POST/api/v2/files/contents/": "arn:aws:execute-api:eu-west-1:123456789012:abcdef1234/prod/*",
		"arn:aws:execute-api:eu-west-1:123456789012:abcdef1234/prod":                             "arn:aws:execute-api:eu-west-1:123456789012:abcdef1234/prod/*",
		"not-an-arn": "not-an-arn",
	} {
		if got := stageWildcard(in); got != want {
			t.Errorf("stageWildcard(%q) = %q, want %q", in, got, want)
		}
	}
}

type fallback struct{ p httpapi.Principal }

func (f fallback) Authenticate(*http.Request) (httpapi.Principal, error) { return f.p, nil }

// Behind the gateway the functions trust the authorizer's context; invoked
// directly they check the token themselves; the stage prefix reaches
// BaseURL on execute-api domains only.
func TestHandlerAuthenticatorAndStage(t *testing.T) {
	direct := httpapi.Principal{UserID: "direct", Email: "d@example.com", KeyID: "kd"}
	var seen struct {
		p      httpapi.Principal
		err    error
		prefix string
	}
	h := Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen.p, seen.err = Authenticator{Fallback: fallback{direct}}.Authenticate(r)
		seen.prefix = r.Header.Get("X-Forwarded-Prefix")
		w.WriteHeader(204)
	}))
	tests := []struct {
		name       string
		authorizer map[string]any
		domain     string
		header     string
		want       httpapi.Principal
		prefix     string
	}{
		{"authorizer context", map[string]any{"userId": "u1", "email": "a@example.com", "keyId": "k1", "jobId": ""}, "abcdef1234.execute-api.eu-west-1.amazonaws.com", "",
			httpapi.Principal{UserID: "u1", Email: "a@example.com", KeyID: "k1", JobKnown: true}, "/prod"},
		{"a job's key", map[string]any{"userId": "u1", "keyId": "k2", "jobId": "J1"}, "api.example.com", "",
			httpapi.Principal{UserID: "u1", KeyID: "k2", JobID: "J1", JobKnown: true}, ""},
		{"context cached before jobId: job unknown", map[string]any{"userId": "u1", "keyId": "k1"}, "api.example.com", "",
			httpapi.Principal{UserID: "u1", KeyID: "k1"}, ""},
		{"no authorizer: fallback", nil, "abcdef1234.execute-api.eu-west-1.amazonaws.com", "", direct, "/prod"},
		{"authorizer without user: fallback", map[string]any{"email": "a@example.com"}, "api.example.com", "", direct, ""},
		{"custom domain: no stage prefix", map[string]any{"userId": "u1"}, "api.example.com", "", httpapi.Principal{UserID: "u1"}, ""},
		{"client's prefix kept", map[string]any{"userId": "u1"}, "abcdef1234.execute-api.eu-west-1.amazonaws.com", "/mine", httpapi.Principal{UserID: "u1"}, "/mine"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev := events.APIGatewayProxyRequest{HTTPMethod: "GET", Path: "/api/v2/jobs/", Headers: map[string]string{},
				RequestContext: events.APIGatewayProxyRequestContext{Stage: "prod", DomainName: tt.domain, Authorizer: tt.authorizer}}
			if tt.header != "" {
				ev.Headers["X-Forwarded-Prefix"] = tt.header
			}
			resp, err := h(t.Context(), ev)
			if err != nil || resp.StatusCode != 204 {
				t.Fatalf("%d %v", resp.StatusCode, err)
			}
			if seen.err != nil || seen.p != tt.want || seen.prefix != tt.prefix {
				t.Fatalf("principal %+v (%v), prefix %q; want %+v, %q", seen.p, seen.err, seen.prefix, tt.want, tt.prefix)
			}
		})
	}
	r, _ := http.NewRequest("GET", "/", nil)
	if _, err := (Authenticator{}).Authenticate(r); !errs.Is(err, errs.Unauthenticated) {
		t.Fatalf("no authorizer, no fallback: %v", err)
	}
}
