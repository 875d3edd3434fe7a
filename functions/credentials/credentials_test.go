package credentials_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/openrescale/platform/functions/credentials"
	"github.com/openrescale/platform/shared/blob/fileblob"
	"github.com/openrescale/platform/shared/errs"
	"github.com/openrescale/platform/shared/files"
	"github.com/openrescale/platform/shared/httpapi"
	"github.com/openrescale/platform/shared/storagecreds"
)

type oneUser struct{}

func (oneUser) Authenticate(r *http.Request) (httpapi.Principal, error) {
	switch r.Header.Get("Authorization") {
	case "Token alice":
		return httpapi.Principal{UserID: "alice1", KeyID: "k1"}, nil
	case "Token bob":
		return httpapi.Principal{UserID: "bob001", KeyID: "k2"}, nil
	}
	return httpapi.Principal{}, errs.E(errs.Unauthenticated, "Invalid token.")
}

func TestIssueAndUseLocalGrant(t *testing.T) {
	b, err := fileblob.New(filepath.Join(t.TempDir(), "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	grants := &storagecreds.Local{Secret: []byte("s3cr3t-s3cr3t-s3cr3t-s3cr3t-s3cr"), Now: time.Now}
	h := credentials.Handlers{Issuer: grants}
	keys := &revocable{}
	d := credentials.Direct{Grants: grants, Bucket: b, Keys: keys, Records: records{"user/user_alice1/registered.dat": "file01"}}
	srv, err := httpapi.NewHandler([]httpapi.Route{
		{Name: "c1", Method: "POST", Path: "/api/credentials/", Handler: h.Create},
		{Name: "c2", Method: "POST", Path: "/api/v2/credentials/", Handler: h.Create},
		{Name: "dput", Method: "PUT", Path: "/api/v2/storage/{key...}", Public: true, Handler: d.Put},
		{Name: "dget", Method: "GET", Path: "/api/v2/storage/{key...}", Public: true, Handler: d.Get},
	}, httpapi.Config{Auth: oneUser{}})
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
	rec := call("POST", "/api/credentials/", "Token alice", "")
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
	if g["storageDir"] != "user/user_alice1" || g["directUrl"] != "http://example.com/api/v2/storage/" {
		t.Fatalf("response %s", rec.Body)
	}
	if _, err := time.Parse(time.RFC3339, g["expiration"]); err != nil || strings.Contains(g["expiration"], ".") {
		t.Fatalf("expiration %q", g["expiration"])
	}
	tok := g["sessionToken"]
	if rec := call("PUT", "/api/v2/storage/user/user_alice1/SGE/run.sh?grant="+tok, "", "#!/bin/sh\n"); rec.Code != 200 {
		t.Fatalf("direct put: %d %s", rec.Code, rec.Body)
	}
	if rec := call("GET", "/api/v2/storage/user/user_alice1/SGE/run.sh?grant="+tok, "", ""); rec.Code != 200 || rec.Body.String() != "#!/bin/sh\n" {
		t.Fatalf("direct get: %d %q", rec.Code, rec.Body)
	}
	if rec := call("PUT", "/api/v2/storage/user/user_bob001/x?grant="+tok, "", "x"); rec.Code != 403 {
		t.Fatalf("other user's prefix: %d %s", rec.Code, rec.Body)
	}
	if rec := call("PUT", "/api/v2/storage/user/user_alice1/x", "", "x"); rec.Code != 401 {
		t.Fatalf("no grant: %d %s", rec.Code, rec.Body)
	}
	// A file's bytes are not overwritten behind its record.
	if rec := call("PUT", "/api/v2/storage/user/user_alice1/registered.dat?grant="+tok, "", "new"); rec.Code != 409 || !strings.Contains(rec.Body.String(), "file01") {
		t.Fatalf("overwrite of a registered object: %d %s", rec.Code, rec.Body)
	}
	// The grant names alice's key, and stops working with it.
	if keys.checked != "alice1/k1" {
		t.Fatalf("checked %q, want alice1/k1", keys.checked)
	}
	keys.err = errs.E(errs.Forbidden, "revoked")
	for _, m := range []string{"PUT", "GET"} {
		if rec := call(m, "/api/v2/storage/user/user_alice1/SGE/run.sh?grant="+tok, "", "x"); rec.Code != 403 {
			t.Fatalf("%s with the grant of a revoked key: %d %s", m, rec.Code, rec.Body)
		}
	}
	keys.err = nil

	rec = call("POST", "/api/v2/credentials/", "Token alice", `{"paths": [{"path": "user/user_alice1/SGE/run.sh"}]}`)
	if rec.Code != 201 {
		t.Fatalf("paths: %d %s", rec.Code, rec.Body)
	}
	_ = json.Unmarshal(rec.Body.Bytes(), &g)
	if rec := call("PUT", "/api/v2/storage/user/user_alice1/other?grant="+g["sessionToken"], "", "x"); rec.Code != 403 {
		t.Fatalf("path grant used elsewhere: %d", rec.Code)
	}
	if rec := call("POST", "/api/v2/credentials/", "Token bob", `{"paths": [{"path": "user/user_alice1/SGE/run.sh"}]}`); rec.Code != 403 {
		t.Fatalf("bob asks for alice's path: %d %s", rec.Code, rec.Body)
	}
	if rec := call("POST", "/api/v2/credentials/", "Token bob", `{"paths": "x"}`); rec.Code != 400 || !strings.Contains(rec.Body.String(), `"field":"paths"`) {
		t.Fatalf("bad paths: %d %s", rec.Code, rec.Body)
	}
	if rec := call("POST", "/api/v2/credentials/", "", ""); rec.Code != 401 {
		t.Fatalf("anonymous: %d", rec.Code)
	}
}

type revocable struct {
	checked string
	err     error
}

func (r *revocable) CheckKey(_ context.Context, uid, keyID string) error {
	r.checked = uid + "/" + keyID
	return r.err
}

type records map[string]string

func (r records) ByKey(_ context.Context, key string) (files.File, error) {
	if id, ok := r[key]; ok {
		return files.File{ID: id, Key: key}, nil
	}
	return files.File{}, errs.E(errs.NotFound, "no record")
}
