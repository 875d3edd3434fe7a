package folders_test

import (
	"encoding/json"
	ffiles "github.com/openrescale/platform/functions/files"
	"github.com/openrescale/platform/shared/httpapi/httpapitest"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/openrescale/platform/functions/api"
	"github.com/openrescale/platform/shared/blob"
	"github.com/openrescale/platform/shared/files"
	"github.com/openrescale/platform/shared/folders"
	"github.com/openrescale/platform/shared/httpapi"
	"github.com/openrescale/platform/shared/store"
	"github.com/openrescale/platform/shared/store/dynamostore/dynamolocal"
	"github.com/openrescale/platform/shared/store/enginetest"
)

type tokens = httpapitest.Tokens

type fixture struct {
	h       http.Handler
	folders *folders.Service
	files   *files.Service
}

func TestMain(m *testing.M) { dynamolocal.Main(m) }

// eachBackend runs fn on both deployments' adapters (bbolt and files on
// disk; DynamoDB Local and an S3 server).
func eachBackend(t *testing.T, fn func(t *testing.T, st store.Store, b blob.Bucket)) {
	for _, be := range enginetest.Backends() {
		t.Run(be.Name, func(t *testing.T) {
			st, b := be.Open(t)
			fn(t, st, b)
		})
	}
}

func newFixture(t *testing.T, st store.Store, b blob.Bucket) fixture {
	t.Helper()
	fs := &files.Service{Repo: files.NewRepo(st), Bucket: b, Now: time.Now}
	fo := folders.New(st, fs, time.Now)
	// The folders routes of the real route table.
	var routes []httpapi.Route
	for _, rt := range api.Routes(api.Deps{Folders: fo, FileStorage: ffiles.Storage{ID: "local", Type: "LocalStorage", Container: "local"}}) {
		if strings.HasPrefix(rt.Name, "folders-") {
			routes = append(routes, rt)
		}
	}
	h, err := httpapi.NewHandler(routes, httpapi.Config{Auth: tokens{
		"Token alice": {UserID: "alice1", Email: "alice@example.com"},
		"Token bob":   {UserID: "bob001", Email: "bob@example.com"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	return fixture{h: h, folders: fo, files: fs}
}

func (f fixture) do(t *testing.T, who, method, target, body string) (int, map[string]any) {
	t.Helper()
	req := httptest.NewRequest(method, target, strings.NewReader(body))
	req.Header.Set("Authorization", "Token "+who)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	rec := httptest.NewRecorder()
	f.h.ServeHTTP(rec, req)
	var v map[string]any
	if rec.Body.Len() > 0 {
		if err := json.Unmarshal(rec.Body.Bytes(), &v); err != nil {
			t.Fatalf("%s %s: body not JSON: %s", method, target, rec.Body)
		}
	}
	return rec.Code, v
}

func TestEndpoints(t *testing.T) {
	eachBackend(t, func(t *testing.T, st store.Store, b blob.Bucket) {
		fx := newFixture(t, st, b)
		code, roots := fx.do(t, "alice", "GET", "/api/v3/users/me/folders/", "")
		if code != 200 || len(roots) != 2 || roots["MyJobs"] == "" || roots["MyLibrary"] == "" {
			t.Fatalf("roots %d %v", code, roots)
		}
		lib, jobs := roots["MyLibrary"].(string), roots["MyJobs"].(string)
		_, bobRoots := fx.do(t, "bob", "GET", "/api/v3/users/me/folders", "")
		bobLib := bobRoots["MyLibrary"].(string)

		code, parent := fx.do(t, "alice", "POST", "/api/v3/folders/"+lib+"/", `{"name":"Parent folder"}`)
		if code != 201 {
			t.Fatalf("create parent %d %v", code, parent)
		}
		pid := parent["id"].(string)
		code, child := fx.do(t, "alice", "POST", "/api/v3/folders/"+pid, `{"name":"Brand new folder"}`)
		if code != 201 {
			t.Fatalf("create child %d %v", code, child)
		}
		cid := child["id"].(string)
		anc, _ := json.Marshal(child["ancestry"])
		if child["name"] != "Brand new folder" || child["type"] != "LibraryFolder" || child["job"] != nil ||
			string(anc) != `[{"id":"`+lib+`","name":"my_library"},{"id":"`+pid+`","name":"Parent folder"}]` {
			t.Fatalf("created folder %v", child)
		}
		if _, ok := child["isDeleted"]; ok {
			t.Fatalf("isDeleted outside contents: %v", child)
		}
		if d, _ := child["dateInserted"].(string); len(d) != len("2024-10-29T15:05:18.916765Z") || !strings.HasSuffix(d, "Z") {
			t.Fatalf("dateInserted %q", d)
		}

		job, err := fx.folders.CreateJobFolder(t.Context(), "alice1", "job001", "Airfoil")
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range []string{"b.txt", "A.txt"} {
			fl, err := fx.files.Upload(t.Context(), files.UploadRequest{Owner: files.Owner{UserID: "alice1", Email: "alice@example.com"}, Name: n, FolderID: pid, Body: strings.NewReader("x")})
			if err != nil {
				t.Fatal(err)
			}
			tag, _ := files.NewTag("Maps")
			fl.Tags = []files.Tag{tag}
			if _, err := fx.files.Repo.Update(t.Context(), fl); err != nil {
				t.Fatal(err)
			}
		}

		tests := []struct {
			name, who, method, target, body string
			status                          int
			want                            map[string]any // top-level fields to match
		}{
			{"get with ancestry", "alice", "GET", "/api/v3/folders/" + cid + "/", "", 200, map[string]any{"id": cid, "name": "Brand new folder"}},
			{"get root", "alice", "GET", "/api/v3/folders/" + lib + "/", "", 200, map[string]any{"name": "my_library", "type": "LibraryFolder"}},
			{"get job folder", "alice", "GET", "/api/v3/folders/" + job.ID + "/", "", 200, map[string]any{"job": "job001", "type": "JobInputFolder"}},
			{"get other user's", "bob", "GET", "/api/v3/folders/" + cid + "/", "", 404, map[string]any{"detail": "Not found."}},
			{"get unknown", "alice", "GET", "/api/v3/folders/zzzzzz/", "", 404, nil},
			{"duplicate name", "alice", "POST", "/api/v3/folders/" + lib + "/", `{"name":"parent FOLDER"}`, 400, map[string]any{"field": "name"}},
			{"missing name", "alice", "POST", "/api/v3/folders/" + lib + "/", `{}`, 400, map[string]any{"field": "name"}},
			{"empty body", "alice", "POST", "/api/v3/folders/" + lib + "/", ``, 400, map[string]any{"field": "name"}},
			{"name not a string", "alice", "POST", "/api/v3/folders/" + lib + "/", `{"name":3}`, 400, map[string]any{"field": "name"}},
			{"in MyJobs", "alice", "POST", "/api/v3/folders/" + jobs + "/", `{"name":"x"}`, 400, map[string]any{"field": "parent_folder_id"}},
			{"in a job folder", "alice", "POST", "/api/v3/folders/" + job.ID + "/", `{"name":"x"}`, 400, nil},
			{"missing parent", "alice", "POST", "/api/v3/folders/zzzzzz/", `{"name":"x"}`, 404, nil},
			{"other user's parent", "alice", "POST", "/api/v3/folders/" + bobLib + "/", `{"name":"x"}`, 404, nil},
			{"contents of other user's", "bob", "GET", "/api/v3/folders/" + pid + "/contents/", "", 404, nil},
			{"delete root", "alice", "DELETE", "/api/v3/folders/" + lib + "/", "", 400, nil},
			{"delete MyJobs", "alice", "DELETE", "/api/v3/folders/" + jobs + "/", "", 400, nil},
			{"delete job folder", "alice", "DELETE", "/api/v3/folders/" + job.ID + "/", "", 400, nil},
			{"delete other user's", "bob", "DELETE", "/api/v3/folders/" + pid + "/", "", 404, nil},
			{"bad page", "alice", "GET", "/api/v3/folders/" + pid + "/contents/?page=x", "", 400, map[string]any{"field": "page"}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				code, v := fx.do(t, tt.who, tt.method, tt.target, tt.body)
				if code != tt.status {
					t.Fatalf("status %d, want %d: %v", code, tt.status, v)
				}
				for k, want := range tt.want {
					if v[k] != want {
						t.Fatalf("%s = %v, want %v (%v)", k, v[k], want, v)
					}
				}
			})
		}

		t.Run("contents", func(t *testing.T) {
			code, v := fx.do(t, "alice", "GET", "/api/v3/folders/"+pid+"/contents/?page_size=2", "")
			if code != 200 || v["count"] != 3.0 || v["previous"] != nil || v["next"] == nil {
				t.Fatalf("page 1: %d %v", code, v)
			}
			results := v["results"].([]any)
			first, second := results[0].(map[string]any), results[1].(map[string]any)
			fi, si := first["item"].(map[string]any), second["item"].(map[string]any)
			if first["type"] != "folder" || fi["id"] != cid || fi["isDeleted"] != false || second["type"] != "file" || si["name"] != "A.txt" {
				t.Fatalf("results %v", results)
			}
			for _, k := range []string{"dateUploaded", "decryptedSize", "isUploaded", "owner", "path", "relativePath", "pathParts", "typeId", "fileChecksums", "viewInBrowser", "isDeleted", "downloadUrl", "storage", "userTags"} {
				if _, ok := si[k]; !ok {
					t.Errorf("file item lacks %s: %v", k, si)
				}
			}
			tags, _ := json.Marshal(v["allTags"])
			if string(tags) != `[{"count":2,"isFolder":false,"name":"Maps","normalizedName":"maps"}]` {
				t.Fatalf("allTags %s", tags)
			}
			ft, _ := json.Marshal(si["userTags"])
			if string(ft) != `[{"count":2,"isFolder":false,"name":"Maps","normalizedName":"maps"}]` {
				t.Fatalf("file tags %s", ft)
			}
			_, v2 := fx.do(t, "alice", "GET", "/api/v3/folders/"+pid+"/contents/?page=2&page_size=2", "")
			r2 := v2["results"].([]any)
			if len(r2) != 1 || r2[0].(map[string]any)["item"].(map[string]any)["name"] != "b.txt" || v2["next"] != nil {
				t.Fatalf("page 2: %v", v2)
			}
		})

		t.Run("delete", func(t *testing.T) {
			if code, v := fx.do(t, "alice", "DELETE", "/api/v3/folders/"+pid+"/", ""); code != 204 || v != nil {
				t.Fatalf("delete %d %v", code, v)
			}
			for _, id := range []string{pid, cid} {
				if code, _ := fx.do(t, "alice", "GET", "/api/v3/folders/"+id+"/", ""); code != 404 {
					t.Fatalf("get %s after delete: %d", id, code)
				}
			}
			if code, _ := fx.do(t, "alice", "DELETE", "/api/v3/folders/"+pid+"/", ""); code != 404 {
				t.Fatalf("second delete %d", code)
			}
			code, v := fx.do(t, "alice", "GET", "/api/v3/folders/"+lib+"/contents/", "")
			if code != 200 || v["count"] != 0.0 || len(v["results"].([]any)) != 0 {
				t.Fatalf("library after delete %d %v", code, v)
			}
		})
	})
}
