package e2e

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The spec's own upload and download commands, run verbatim against the
// real binary: curl, then Python requests.
func TestFilesSpecClients(t *testing.T) {
	s := start(t, t.TempDir(), []string{"RESCALE_LOCAL_API_KEY=" + testKey})
	dir := t.TempDir()
	data := make([]byte, 300<<10)
	if _, err := rand.Read(data); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "airfoil2d.zip"), data, 0o644); err != nil {
		t.Fatal(err)
	}

	out := shell(t, dir, `curl -X POST -H 'Content-Type:multipart/form-data' -H 'Authorization: Token `+testKey+`' -F "file=@airfoil2d.zip" `+s.URL+`/api/v2/files/contents/`)
	var f map[string]any
	if err := json.Unmarshal([]byte(out), &f); err != nil {
		t.Fatalf("curl upload answered %q: %v", out, err)
	}
	id, _ := f["id"].(string)
	if id == "" || f["name"] != "airfoil2d.zip" || f["decryptedSize"] != float64(len(data)) || f["isUploaded"] != true {
		t.Fatalf("uploaded: %s", out)
	}
	if sum := strings.Fields(shell(t, dir, "md5sum airfoil2d.zip"))[0]; f["md5"] != sum {
		t.Fatalf("md5 %v, md5sum %s", f["md5"], sum)
	}
	if f["downloadUrl"] != s.URL+"/api/v2/files/"+id+"/contents/" {
		t.Fatalf("downloadUrl %v", f["downloadUrl"])
	}

	// The spec's download command.
	shell(t, dir, `curl -X GET -H 'Authorization: Token `+testKey+`' -o 'download_file.txt' `+s.URL+`/api/v2/files/`+id+`/contents/`)
	if got, _ := os.ReadFile(filepath.Join(dir, "download_file.txt")); !bytes.Equal(got, data) {
		t.Fatalf("downloaded %d bytes differ from the %d uploaded", len(got), len(data))
	}
	code := shell(t, dir, `curl -s -r 100-199 -o part.bin -w '%{http_code}' -H 'Authorization: Token `+testKey+`' `+s.URL+`/api/v2/files/`+id+`/contents/`)
	if got, _ := os.ReadFile(filepath.Join(dir, "part.bin")); code != "206" || !bytes.Equal(got, data[100:200]) {
		t.Fatalf("curl -r 100-199: status %s, %d bytes", code, len(got))
	}

	t.Run("python requests", func(t *testing.T) {
		py := pythonWithRequests(t)
		lib := do(t, "GET", s.URL+"/api/v3/users/me/folders/", testKey, nil).JSON(t)["MyLibrary"]
		if err := os.WriteFile(filepath.Join(dir, "file_to_upload.txt"), []byte("hello from requests\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		// The spec's three examples, verbatim but for URL, key and folder.
		script := strings.NewReplacer("BASE", s.URL, "KEY", testKey, "FOLDER", lib.(string)).Replace(`
import json, requests
out = []
# Simple input file upload to MyLibrary root folder
r = requests.post(
'BASE/api/v2/files/contents/',
headers={'Content-Type': 'multipart/form-data',
'Authorization': 'Token KEY'},
files={'file': open('file_to_upload.txt', 'rb')}
)
out.append([r.status_code, r.json()])
# Upload file to a specific library folder
r = requests.post(
'BASE/api/v2/files/contents/',
headers={'Content-Type': 'multipart/form-data',
'Authorization': 'Token KEY'},
data={'current_folder_id': 'FOLDER'},
files={'file': open('file_to_upload.txt', 'rb')}
)
out.append([r.status_code, r.json()])
# Upload with new file name and different file type
type_id = 4 # file type
new_name = 'new_file.txt' # new file name
r = requests.post(
'BASE/api/v2/files/contents/',
headers={'Content-Type': 'application/json',
'Authorization': 'Token KEY'},
files={'file': (new_name, open('file_to_upload.txt', 'rb'), {'type_id': type_id})}
)
out.append([r.status_code, r.json()])
print(json.dumps(out))
`)
		cmd := exec.Command(py, "-c", script)
		cmd.Dir = dir
		res, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("python: %v\n%s", err, res)
		}
		var got [][2]json.RawMessage
		if err := json.Unmarshal(res, &got); err != nil || len(got) != 3 {
			t.Fatalf("python printed %s", res)
		}
		want := []struct {
			name   string
			typeID float64
		}{{"file_to_upload.txt", 1}, {"file_to_upload.txt", 1}, {"new_file.txt", 4}}
		for i, w := range want {
			var body map[string]any
			_ = json.Unmarshal(got[i][1], &body)
			if string(got[i][0]) != "201" || body["name"] != w.name || body["typeId"] != w.typeID || body["decryptedSize"] != 20.0 {
				t.Errorf("example %d: %s %s", i+1, got[i][0], got[i][1])
			}
		}
	})

	t.Run("unknown folder", func(t *testing.T) {
		out := shell(t, dir, `curl -s -H 'Authorization: Token `+testKey+`' -F "file=@airfoil2d.zip" -F 'current_folder_id="nope42"' -w ' %{http_code}' `+s.URL+`/api/v2/files/contents/`)
		if !strings.HasSuffix(out, " 404") || !strings.Contains(out, "current_folder_id") {
			t.Fatalf("upload into an unknown folder: %s", out)
		}
	})
}

// shell runs a command line in dir and returns its trimmed stdout.
func shell(t *testing.T, dir, line string) string {
	t.Helper()
	cmd := exec.Command("sh", "-c", line)
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s: %v\n%s", line, err, stderr.String())
	}
	return strings.TrimSpace(string(out))
}

// pythonWithRequests finds an interpreter that can import requests: the
// one on PATH, then the system's (where CI installs python3-requests).
func pythonWithRequests(t *testing.T) string {
	t.Helper()
	for _, py := range []string{"python3", "/usr/bin/python3"} {
		if exec.Command(py, "-c", "import requests").Run() == nil {
			return py
		}
	}
	if os.Getenv("REQUIRE_TEST_SERVERS") == "1" {
		t.Fatal("no python3 with the requests module (install python3-requests; .ci/run does)")
	}
	t.Skip("no python3 with the requests module")
	return ""
}
