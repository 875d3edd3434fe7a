package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/openrescale/platform/functions/api"
	"github.com/openrescale/platform/shared/accounts"
	"github.com/openrescale/platform/shared/auth"
	"github.com/openrescale/platform/shared/catalog"
	"github.com/openrescale/platform/shared/gateway"
	"github.com/openrescale/platform/shared/httpapi"
	"github.com/openrescale/platform/shared/store/boltstore"
)

func fixture(t *testing.T, name string, v any) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "events", "fixtures", "apigateway", name))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("decode %s: %v", name, err)
	}
}

func testDeps(t *testing.T) (api.Deps, *accounts.Service) {
	t.Helper()
	st, err := boltstore.Open(filepath.Join(t.TempDir(), "store.db"), boltstore.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	cat, err := catalog.Load()
	if err != nil {
		t.Fatal(err)
	}
	accts := accounts.New(st, time.Now)
	return api.Deps{Accounts: accts, Catalog: cat, Now: time.Now}, accts
}

// The Lambda function for GET /api/v2/analyses/ must answer an API Gateway
// event with the very body the local server gives the same request.
func TestLambdaMatchesLocalServer(t *testing.T) {
	deps, accts := testDeps(t)
	var ev events.APIGatewayProxyRequest
	fixture(t, "get-analyses.json", &ev)

	h, _, err := Handler("analyses-list", deps, httpapi.Config{Auth: gateway.Authenticator{Fallback: auth.Tokens{Keys: accts}}})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := h(context.Background(), ev)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("lambda status %d: %s", resp.StatusCode, resp.Body)
	}

	// The same request against the local server's handler (all routes,
	// token auth), with the headers the gateway would have forwarded.
	u, err := accts.EnsureUser(context.Background(), "fixture@example.com")
	if err != nil {
		t.Fatal(err)
	}
	_, key, err := accts.CreateKey(context.Background(), u.ID, accounts.KeyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	local, err := httpapi.NewHandler(api.Routes(deps), httpapi.Config{Auth: auth.Tokens{Keys: accts}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(local)
	defer srv.Close()
	req, _ := http.NewRequest("GET", srv.URL+"/api/v2/analyses/?page=2&page_size=2", nil)
	req.Header.Set("Authorization", "Token "+key)
	req.Host = ev.Headers["Host"]
	req.Header.Set("X-Forwarded-Proto", "https")
	req.Header.Set("X-Forwarded-Prefix", "/prod")
	lr, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer lr.Body.Close()
	want, _ := io.ReadAll(lr.Body)
	if lr.StatusCode != http.StatusOK {
		t.Fatalf("local status %d: %s", lr.StatusCode, want)
	}
	if resp.Body != string(want) {
		t.Fatalf("lambda body differs from local body:\nlambda: %s\nlocal:  %s", resp.Body, want)
	}
	var page struct {
		Count   int
		Next    string
		Results []json.RawMessage
	}
	if err := json.Unmarshal(want, &page); err != nil {
		t.Fatal(err)
	}
	if len(page.Results) != 2 || page.Count < 5 {
		t.Fatalf("page: count %d, %d results", page.Count, len(page.Results))
	}
	if want := "https://gy415nuibc.execute-api.us-east-1.amazonaws.com/prod/api/v2/analyses/?page=3&page_size=2"; page.Next != want {
		t.Fatalf("next = %q, want %q", page.Next, want)
	}
}

func TestLambdaRejectsUnauthenticatedDirectInvoke(t *testing.T) {
	deps, accts := testDeps(t)
	var ev events.APIGatewayProxyRequest
	fixture(t, "get-analyses.json", &ev)
	ev.RequestContext.Authorizer = nil // not through the gateway's authorizer
	h, _, err := Handler("analyses-list", deps, httpapi.Config{Auth: gateway.Authenticator{Fallback: auth.Tokens{Keys: accts}}})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := h(context.Background(), ev)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("status %d, want 401: %s", resp.StatusCode, resp.Body)
	}
}

func TestAuthorizer(t *testing.T) {
	_, accts := testDeps(t)
	var ev events.APIGatewayCustomAuthorizerRequestTypeRequest
	fixture(t, "authorizer-request.json", &ev)
	ctx := context.Background()
	u, err := accts.EnsureUser(ctx, "fixture@example.com")
	if err != nil {
		t.Fatal(err)
	}
	authz := gateway.Authorizer{Keys: accts}

	if _, err := authz.Authorize(ctx, ev); err == nil || err.Error() != "Unauthorized" {
		t.Fatalf("unknown key: err = %v, want Unauthorized", err)
	}
	if _, _, err := accts.CreateKey(ctx, u.ID, accounts.KeyOptions{Secret: "rsk_fixtureAuthorizerKey0123456789abcdefghij"}); err != nil {
		t.Fatal(err)
	}
	resp, err := authz.Authorize(ctx, ev)
	if err != nil {
		t.Fatal(err)
	}
	if resp.PrincipalID != u.ID || resp.Context["userId"] != u.ID || resp.Context["email"] != "fixture@example.com" {
		t.Fatalf("response %+v", resp)
	}
	st := resp.PolicyDocument.Statement
	if len(st) != 1 || st[0].Effect != "Allow" || st[0].Resource[0] != "arn:aws:execute-api:us-east-1:123456789012:gy415nuibc/prod/*" {
		t.Fatalf("policy %+v", resp.PolicyDocument)
	}
	if err := accts.SetActive(ctx, u.ID, false); err != nil {
		t.Fatal(err)
	}
	if _, err := authz.Authorize(ctx, ev); err == nil || err.Error() != "Unauthorized" {
		t.Fatalf("inactive user: err = %v", err)
	}
}

func TestUnknownRoute(t *testing.T) {
	deps, _ := testDeps(t)
	if _, _, err := Handler("no-such-route", deps, httpapi.Config{}); err == nil {
		t.Fatal("want error for unknown route")
	}
}

// The api-root function behind ANY /api/{path+}: the API root, and 404 or
// 405 for whatever else API Gateway hands it, with links through the stage.
func TestLambdaAPIRoot(t *testing.T) {
	deps, _ := testDeps(t)
	h, _, err := Handler("api-root", deps, httpapi.Config{Auth: gateway.Authenticator{}})
	if err != nil {
		t.Fatal(err)
	}
	call := func(method, path string) events.APIGatewayProxyResponse {
		t.Helper()
		var ev events.APIGatewayProxyRequest
		fixture(t, "get-analyses.json", &ev)
		ev.HTTPMethod, ev.Path, ev.Resource = method, path, "/api/{path+}"
		ev.RequestContext.HTTPMethod, ev.RequestContext.ResourcePath = method, "/api/{path+}"
		ev.QueryStringParameters, ev.MultiValueQueryStringParameters = nil, nil
		ev.PathParameters = map[string]string{"path": strings.TrimPrefix(path, "/api/")}
		resp, err := h(context.Background(), ev)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	resp := call("GET", "/api/v2")
	var root map[string]string
	if err := json.Unmarshal([]byte(resp.Body), &root); resp.StatusCode != 200 || err != nil {
		t.Fatalf("GET /api/v2: %d %s", resp.StatusCode, resp.Body)
	}
	if want := "https://gy415nuibc.execute-api.us-east-1.amazonaws.com/prod/api/v2/jobs/"; root["jobs"] != want {
		t.Errorf("root jobs = %q, want %q", root["jobs"], want)
	}
	if resp := call("GET", "/api/v2/nope/"); resp.StatusCode != 404 {
		t.Errorf("GET /api/v2/nope/: %d %s", resp.StatusCode, resp.Body)
	}
	resp = call("PUT", "/api/v2/coretypes/")
	if allow := resp.MultiValueHeaders["Allow"]; resp.StatusCode != 405 || len(allow) != 1 || allow[0] != "GET, HEAD" {
		t.Errorf("PUT /api/v2/coretypes/: %d Allow %q %s", resp.StatusCode, allow, resp.Body)
	}
}
