package files_test

import (
	"context"
	"encoding/json"
	"fmt"
	"github.com/openrescale/platform/shared/httpapi/httpapitest"
	"github.com/openrescale/platform/shared/store/enginetest"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/openrescale/platform/functions/api"
	ffiles "github.com/openrescale/platform/functions/files"
	"github.com/openrescale/platform/shared/blob"
	"github.com/openrescale/platform/shared/errs"
	"github.com/openrescale/platform/shared/files"
	"github.com/openrescale/platform/shared/httpapi"
	"github.com/openrescale/platform/shared/store/dynamostore/dynamolocal"
)

func TestMain(m *testing.M) { dynamolocal.Main(m) }

// Callers: alice and bob, each with a token.
const (
	aliceToken = "Token alice"
	bobToken   = "Token bob"
)

type tokens = httpapitest.Tokens

// env is one backend pairing under test: a files.Service and the API
// serving it.
type env struct {
	svc     *files.Service
	bucket  *countingBucket
	handler http.Handler
	deps    *api.Deps
}

// each runs fn against every backend, with deps adjusted by opts.
func each(t *testing.T, fn func(t *testing.T, e *env), opts ...func(*api.Deps)) {
	for _, b := range enginetest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			st, bk := b.Open(t)
			cb := &countingBucket{Bucket: bk}
			svc := &files.Service{Repo: files.NewRepo(st), Bucket: cb, Now: time.Now}
			deps := &api.Deps{Files: svc, FileStorage: ffiles.Storage{ID: "local", Type: "LocalStorage", Container: "test-container"}}
			for _, o := range opts {
				o(deps)
			}
			e := &env{svc: svc, bucket: cb, deps: deps}
			e.handler = handlerFor(t, deps)
			fn(t, e)
		})
	}
}

// handlerFor serves the files routes of the real route table.
func handlerFor(t *testing.T, d *api.Deps) http.Handler {
	t.Helper()
	var routes []httpapi.Route
	for _, rt := range api.Routes(*d) {
		if strings.HasPrefix(rt.Name, "files-") {
			routes = append(routes, rt)
		}
	}
	h, err := httpapi.NewHandler(routes, httpapi.Config{Auth: tokens{
		aliceToken: {UserID: "alice1", Email: "alice@example.com", KeyID: "ka"},
		bobToken:   {UserID: "bob001", Email: "bob@example.com", KeyID: "kb"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

type resp struct {
	*httptest.ResponseRecorder
}

func (r resp) JSON(t *testing.T) map[string]any {
	t.Helper()
	var v map[string]any
	if err := json.Unmarshal(r.Body.Bytes(), &v); err != nil {
		t.Fatalf("not a JSON object (%d): %v\n%s", r.Code, err, r.Body)
	}
	return v
}

// do sends a request; headers are name, value pairs.
func (e *env) do(t *testing.T, method, target, token string, body io.Reader, headers ...string) resp {
	t.Helper()
	req := httptest.NewRequest(method, target, body)
	if token != "" {
		req.Header.Set("Authorization", token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	rec := httptest.NewRecorder()
	e.handler.ServeHTTP(rec, req)
	return resp{rec}
}

// part is one multipart part, written raw so tests control every byte.
type part struct {
	disposition string // Content-Disposition value
	headers     []string
	body        string
}

func filePart(name, body string, headers ...string) part {
	esc := strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(name)
	return part{disposition: fmt.Sprintf(`form-data; name="file"; filename="%s"`, esc), headers: headers, body: body}
}

func fieldPart(name, value string) part {
	return part{disposition: fmt.Sprintf(`form-data; name="%s"`, name), body: value}
}

const boundary = "----testboundary7MA4YWxkTrZu0gW"

func multipartBody(parts ...part) string {
	var b strings.Builder
	for _, p := range parts {
		b.WriteString("--" + boundary + "\r\n")
		b.WriteString("Content-Disposition: " + p.disposition + "\r\n")
		for i := 0; i+1 < len(p.headers); i += 2 {
			b.WriteString(p.headers[i] + ": " + p.headers[i+1] + "\r\n")
		}
		b.WriteString("\r\n" + p.body + "\r\n")
	}
	b.WriteString("--" + boundary + "--\r\n")
	return b.String()
}

const formType = "multipart/form-data; boundary=" + boundary

// upload posts one file and fails the test unless it is created.
func (e *env) upload(t *testing.T, token, name, body string) map[string]any {
	t.Helper()
	r := e.do(t, "POST", "/api/v2/files/contents/", token, strings.NewReader(multipartBody(filePart(name, body))), "Content-Type", formType)
	if r.Code != http.StatusCreated {
		t.Fatalf("upload %s: %d %s", name, r.Code, r.Body)
	}
	return r.JSON(t)
}

// assertEmpty checks that nothing is stored for anyone.
func (e *env) assertEmpty(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	n := 0
	if err := e.svc.Bucket.List(ctx, "", func(a blob.Attrs) error { n++; return nil }); err != nil {
		t.Fatal(err)
	}
	for _, uid := range []string{"alice1", "bob001"} {
		_, total, err := e.svc.Repo.List(ctx, uid, files.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		n += total
	}
	if n != 0 {
		t.Fatalf("%d blobs and records left behind", n)
	}
}

// countingBucket counts bytes read through range readers, to show that
// downloads read only what they serve.
type countingBucket struct {
	blob.Bucket
	read atomic.Int64
}

func (c *countingBucket) NewRangeReader(ctx context.Context, key string, offset, length int64) (io.ReadCloser, error) {
	rc, err := c.Bucket.NewRangeReader(ctx, key, offset, length)
	if err != nil {
		return nil, err
	}
	return &countingReader{rc: rc, n: &c.read}, nil
}

type countingReader struct {
	rc io.ReadCloser
	n  *atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.rc.Read(p)
	c.n.Add(int64(n))
	return n, err
}

func (c *countingReader) Close() error { return c.rc.Close() }

// folders is a fake folder resolver: "root1" is alice's MyLibrary, "lib2"
// a library folder, "job3" a job folder.
type folders struct{}

func (folders) UploadFolder(ctx context.Context, uid, id string) (string, error) {
	switch {
	case id == "":
		return "root1", nil
	case id == "lib2" && uid == "alice1":
		return "lib2", nil
	case id == "job3" && uid == "alice1":
		return "", errs.Field("current_folder_id", "files can only be uploaded into MyLibrary folders")
	}
	return "", errs.E(errs.NotFound, "Not found.")
}

func withFolders(d *api.Deps) { d.FileFolders = folders{} }
