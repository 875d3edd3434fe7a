package credentials_test

import (
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/openrescale/platform/functions/credentials"
	"github.com/openrescale/platform/shared/accounts"
	"github.com/openrescale/platform/shared/auth"
	"github.com/openrescale/platform/shared/blob"
	"github.com/openrescale/platform/shared/files"
	"github.com/openrescale/platform/shared/httpapi"
	"github.com/openrescale/platform/shared/storagecreds"
	"github.com/openrescale/platform/shared/store"
	"github.com/openrescale/platform/shared/store/dynamostore/dynamolocal"
	"github.com/openrescale/platform/shared/store/enginetest"
)

func TestMain(m *testing.M) { dynamolocal.Main(m) }

// Grants issued and used on both deployments' adapters, with the real
// accounts service (key checks) and file records over the store.
func TestIssueAndUseLocalGrant(t *testing.T) {
	for _, be := range enginetest.Backends() {
		t.Run(be.Name, func(t *testing.T) {
			st, b := be.Open(t)
			issueAndUse(t, st, b)
		})
	}
}

func issueAndUse(t *testing.T, st store.Store, b blob.Bucket) {
	ctx := t.Context()
	accts := accounts.New(st, time.Now)
	alice, _ := accts.EnsureUser(ctx, "alice@example.com")
	bob, _ := accts.EnsureUser(ctx, "bob@example.com")
	aliceKey, aliceSecret, err := accts.CreateKey(ctx, alice.ID, accounts.KeyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	_, bobSecret, _ := accts.CreateKey(ctx, bob.ID, accounts.KeyOptions{})
	aliceDir, bobDir := "user/user_"+alice.ID, "user/user_"+bob.ID
	repo := files.NewRepo(st)
	if _, err := repo.Create(ctx, files.File{ID: "file01", OwnerID: alice.ID, OwnerEmail: alice.Email, Name: "registered.dat",
		Key: aliceDir + "/registered.dat", DateUploaded: time.Now(), IsUploaded: true, Size: 3}); err != nil {
		t.Fatal(err)
	}
	grants := &storagecreds.Local{Secret: []byte("s3cr3t-s3cr3t-s3cr3t-s3cr3t-s3cr"), Now: time.Now}
	h := credentials.Handlers{Issuer: grants}
	d := credentials.Direct{Grants: grants, Bucket: b, Keys: accts, Records: repo}
	srv, err := httpapi.NewHandler([]httpapi.Route{
		{Name: "c1", Method: "POST", Path: "/api/credentials/", Handler: h.Create},
		{Name: "c2", Method: "POST", Path: "/api/v2/credentials/", Handler: h.Create},
		{Name: "dput", Method: "PUT", Path: "/api/v2/storage/{key...}", Public: true, Handler: d.Put},
		{Name: "dget", Method: "GET", Path: "/api/v2/storage/{key...}", Public: true, Handler: d.Get},
	}, httpapi.Config{Auth: auth.Tokens{Keys: accts}})
	if err != nil {
		t.Fatal(err)
	}
	call := func(method, target, auth, body string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(method, target, strings.NewReader(body))
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, req)
		return rec
	}
	aliceTok, bobTok := "Token "+aliceSecret, "Token "+bobSecret
	rec := call("POST", "/api/credentials/", aliceTok, "")
	if rec.Code != 201 {
		t.Fatalf("create: %d %s", rec.Code, rec.Body)
	}
	var g map[string]string
	_ = json.Unmarshal(rec.Body.Bytes(), &g)
	for _, f := range []string{"accessKey", "secretKey", "sessionToken", "storageDir", "expiration", "directUrl"} {
		if _, ok := g[f]; !ok {
			t.Errorf("response lacks %s: %s", f, rec.Body)
		}
	}
	if g["storageDir"] != aliceDir || g["directUrl"] != "http://example.com/api/v2/storage/" {
		t.Fatalf("response %s", rec.Body)
	}
	if _, err := time.Parse(time.RFC3339, g["expiration"]); err != nil || strings.Contains(g["expiration"], ".") {
		t.Fatalf("expiration %q", g["expiration"])
	}
	tok := g["sessionToken"]
	if rec := call("PUT", "/api/v2/storage/"+aliceDir+"/SGE/run.sh?grant="+tok, "", "#!/bin/sh\n"); rec.Code != 200 {
		t.Fatalf("direct put: %d %s", rec.Code, rec.Body)
	}
	if rec := call("GET", "/api/v2/storage/"+aliceDir+"/SGE/run.sh?grant="+tok, "", ""); rec.Code != 200 || rec.Body.String() != "#!/bin/sh\n" {
		t.Fatalf("direct get: %d %q", rec.Code, rec.Body)
	}
	if rec := call("PUT", "/api/v2/storage/"+bobDir+"/x?grant="+tok, "", "x"); rec.Code != 403 {
		t.Fatalf("other user's prefix: %d %s", rec.Code, rec.Body)
	}
	if rec := call("PUT", "/api/v2/storage/"+aliceDir+"/x", "", "x"); rec.Code != 401 {
		t.Fatalf("no grant: %d %s", rec.Code, rec.Body)
	}
	// A file's bytes are not overwritten behind its record.
	if rec := call("PUT", "/api/v2/storage/"+aliceDir+"/registered.dat?grant="+tok, "", "new"); rec.Code != 409 || !strings.Contains(rec.Body.String(), "file01") {
		t.Fatalf("overwrite of a registered object: %d %s", rec.Code, rec.Body)
	}

	rec = call("POST", "/api/v2/credentials/", aliceTok, `{"paths": [{"path": "`+aliceDir+`/SGE/run.sh"}]}`)
	if rec.Code != 201 {
		t.Fatalf("paths: %d %s", rec.Code, rec.Body)
	}
	_ = json.Unmarshal(rec.Body.Bytes(), &g)
	if rec := call("PUT", "/api/v2/storage/"+aliceDir+"/other?grant="+g["sessionToken"], "", "x"); rec.Code != 403 {
		t.Fatalf("path grant used elsewhere: %d", rec.Code)
	}
	if rec := call("POST", "/api/v2/credentials/", bobTok, `{"paths": [{"path": "`+aliceDir+`/SGE/run.sh"}]}`); rec.Code != 403 {
		t.Fatalf("bob asks for alice's path: %d %s", rec.Code, rec.Body)
	}
	if rec := call("POST", "/api/v2/credentials/", bobTok, `{"paths": "x"}`); rec.Code != 400 || !strings.Contains(rec.Body.String(), `"field":"paths"`) {
		t.Fatalf("bad paths: %d %s", rec.Code, rec.Body)
	}
	if rec := call("POST", "/api/v2/credentials/", "", ""); rec.Code != 401 {
		t.Fatalf("anonymous: %d", rec.Code)
	}
	// The grant stops working with the key that asked for it.
	if err := accts.DeleteKey(ctx, alice.ID, aliceKey.ID); err != nil {
		t.Fatal(err)
	}
	for _, m := range []string{"PUT", "GET"} {
		if rec := call(m, "/api/v2/storage/"+aliceDir+"/SGE/run.sh?grant="+tok, "", "x"); rec.Code != 403 || !strings.Contains(rec.Body.String(), "deleted") {
			t.Fatalf("%s with the grant of a deleted key: %d %s", m, rec.Code, rec.Body)
		}
	}
	// And with its user.
	_, again, _ := accts.CreateKey(ctx, alice.ID, accounts.KeyOptions{})
	rec = call("POST", "/api/credentials/", "Token "+again, "")
	_ = json.Unmarshal(rec.Body.Bytes(), &g)
	if err := accts.SetActive(ctx, alice.ID, false); err != nil {
		t.Fatal(err)
	}
	if rec := call("GET", "/api/v2/storage/"+aliceDir+"/SGE/run.sh?grant="+g["sessionToken"], "", ""); rec.Code != 403 {
		t.Fatalf("grant of a deactivated user: %d %s", rec.Code, rec.Body)
	}
}
