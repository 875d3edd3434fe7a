package e2e

import (
	"bytes"
	"mime/multipart"
	"strings"
	"syscall"
	"testing"
)

// uploadInto posts a file with the spec's multipart form, into folder when
// it is not empty.
func uploadInto(t *testing.T, s *server, key, folder, name, content string) response {
	t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	if folder != "" {
		if err := mw.WriteField("current_folder_id", folder); err != nil {
			t.Fatal(err)
		}
	}
	fw, err := mw.CreateFormFile("file", name)
	if err != nil {
		t.Fatal(err)
	}
	fw.Write([]byte(content))
	mw.Close()
	return do(t, "POST", s.URL+"/api/v2/files/contents/", key, &body, "Content-Type", mw.FormDataContentType())
}

func TestFolders(t *testing.T) {
	dir := t.TempDir()
	env := []string{"RESCALE_LOCAL_API_KEY=" + testKey}
	s := start(t, dir, env)

	r := do(t, "GET", s.URL+"/api/v3/users/me/folders/", testKey, nil)
	if r.Status != 200 {
		t.Fatalf("roots: %d %s", r.Status, r.Body)
	}
	roots := r.JSON(t)
	lib, jobs := roots["MyLibrary"].(string), roots["MyJobs"].(string)
	if lib == "" || jobs == "" || len(roots) != 2 {
		t.Fatalf("roots %v", roots)
	}

	r = do(t, "POST", s.URL+"/api/v3/folders/"+lib+"/", testKey, strings.NewReader(`{"name":"Parent folder"}`))
	if r.Status != 201 {
		t.Fatalf("create: %d %s", r.Status, r.Body)
	}
	parent := r.JSON(t)["id"].(string)
	r = do(t, "POST", s.URL+"/api/v3/folders/"+parent, testKey, strings.NewReader(`{"name":"Brand new folder"}`))
	if r.Status != 201 {
		t.Fatalf("create child: %d %s", r.Status, r.Body)
	}
	child := r.JSON(t)
	if !strings.Contains(string(r.Body), `"ancestry":[{"id":"`+lib+`","name":"my_library"},{"id":"`+parent+`","name":"Parent folder"}]`) ||
		child["type"] != "LibraryFolder" || child["job"] != nil {
		t.Fatalf("child %s", r.Body)
	}

	for _, tt := range []struct {
		name, path, body string
		status           int
		detail           string
	}{
		{"duplicate", "/api/v3/folders/" + lib + "/", `{"name":"parent folder"}`, 400, `"field":"name"`},
		{"in MyJobs", "/api/v3/folders/" + jobs + "/", `{"name":"x"}`, 400, `"field":"parent_folder_id"`},
		{"missing parent", "/api/v3/folders/nope00/", `{"name":"x"}`, 404, `"detail":"Not found."`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := do(t, "POST", s.URL+tt.path, testKey, strings.NewReader(tt.body))
			if r.Status != tt.status || !strings.Contains(string(r.Body), tt.detail) {
				t.Fatalf("%d %s", r.Status, r.Body)
			}
		})
	}

	up := uploadInto(t, s, testKey, parent, "map_of_the_death_star.pdf", "plans")
	if up.Status != 200 && up.Status != 201 {
		t.Fatalf("upload into folder: %d %s", up.Status, up.Body)
	}
	fileID := up.JSON(t)["id"].(string)
	if r := uploadInto(t, s, testKey, jobs, "x.txt", "x"); r.Status != 400 || !strings.Contains(string(r.Body), "current_folder_id") {
		t.Fatalf("upload into MyJobs: %d %s", r.Status, r.Body)
	}
	if r := uploadInto(t, s, testKey, "nope00", "x.txt", "x"); r.Status != 404 || !strings.Contains(string(r.Body), "current_folder_id") {
		t.Fatalf("upload into a missing folder: %d %s", r.Status, r.Body)
	}

	r = do(t, "GET", s.URL+"/api/v3/folders/"+parent+"/contents/", testKey, nil)
	if r.Status != 200 {
		t.Fatalf("contents: %d %s", r.Status, r.Body)
	}
	c := r.JSON(t)
	results := c["results"].([]any)
	if c["count"] != 2.0 || len(results) != 2 || c["allTags"] == nil {
		t.Fatalf("contents %s", r.Body)
	}
	first, second := results[0].(map[string]any), results[1].(map[string]any)
	if first["type"] != "folder" || second["type"] != "file" || second["item"].(map[string]any)["id"] != fileID {
		t.Fatalf("contents order %s", r.Body)
	}
	dl := second["item"].(map[string]any)["downloadUrl"].(string)
	if r := do(t, "GET", dl, testKey, nil); r.Status != 200 || string(r.Body) != "plans" {
		t.Fatalf("download from contents' downloadUrl: %d %s", r.Status, r.Body)
	}

	r = do(t, "GET", s.URL+"/api/v3/folders/"+child["id"].(string)+"/", testKey, nil)
	if r.Status != 200 || !strings.Contains(string(r.Body), `"name":"Parent folder"`) {
		t.Fatalf("get folder: %d %s", r.Status, r.Body)
	}
	if r := do(t, "DELETE", s.URL+"/api/v3/folders/"+lib+"/", testKey, nil); r.Status != 400 {
		t.Fatalf("delete root: %d %s", r.Status, r.Body)
	}

	// Ids survive a restart: the roots are created once per user.
	if err := s.stop(syscall.SIGTERM); err != nil {
		t.Fatalf("stop: %v", err)
	}
	s = start(t, dir, env)
	r = do(t, "GET", s.URL+"/api/v3/users/me/folders/", testKey, nil)
	if again := r.JSON(t); again["MyLibrary"] != lib || again["MyJobs"] != jobs {
		t.Fatalf("roots after restart %v, want %s %s", again, lib, jobs)
	}

	if r := do(t, "DELETE", s.URL+"/api/v3/folders/"+parent+"/", testKey, nil); r.Status != 204 || len(r.Body) != 0 {
		t.Fatalf("delete: %d %s", r.Status, r.Body)
	}
	for _, p := range []string{"/api/v3/folders/" + parent + "/", "/api/v3/folders/" + child["id"].(string) + "/", "/api/v2/files/" + fileID + "/"} {
		if r := do(t, "GET", s.URL+p, testKey, nil); r.Status != 404 {
			t.Fatalf("%s after delete: %d %s", p, r.Status, r.Body)
		}
	}
	r = do(t, "GET", s.URL+"/api/v3/folders/"+lib+"/contents/", testKey, nil)
	if r.Status != 200 || r.JSON(t)["count"] != 0.0 {
		t.Fatalf("library after delete: %d %s", r.Status, r.Body)
	}
}
