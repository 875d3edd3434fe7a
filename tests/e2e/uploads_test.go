package e2e

import (
	"bytes"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// putURL PUTs body to a URL with no credentials, as a client does with a
// presigned URL, and returns the ETag.
func putURL(t *testing.T, url string, body []byte) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPut, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, resp.Header.Get("ETag")
}

func TestResumableUpload(t *testing.T) {
	dataDir := t.TempDir()
	s := start(t, dataDir, []string{"RESCALE_LOCAL_API_KEY=" + testKey})
	const size = 8<<20 + 3<<20 + 12345 // two parts of 8 MiB's default part size
	data := make([]byte, size)
	rnd := rand.New(rand.NewPCG(1, 2))
	for i := range data {
		data[i] = byte(rnd.Uint32())
	}
	sum := md5.Sum(data)

	bad := do(t, "POST", s.URL+"/api/v2/uploads/", testKey, strings.NewReader(`{"name": "mesh.cas", "currentFolderId": "nOsuch"}`))
	if bad.Status != 404 || bad.JSON(t)["field"] != "currentFolderId" {
		t.Fatalf("unknown currentFolderId: %d %s", bad.Status, bad.Body)
	}
	r := do(t, "POST", s.URL+"/api/v2/uploads/", testKey, strings.NewReader(fmt.Sprintf(`{"name": "mesh.cas", "size": %d}`, size)))
	if r.Status != 201 {
		t.Fatalf("start: %d %s", r.Status, r.Body)
	}
	sess := r.JSON(t)
	id, fileID := sess["id"].(string), sess["fileId"].(string)
	partSize := int(sess["partSize"].(float64))
	if sess["partCount"].(float64) != 2 || partSize != 8<<20 || sess["status"] != "pending" {
		t.Fatalf("session %s", r.Body)
	}

	r = do(t, "POST", s.URL+"/api/v2/uploads/"+id+"/parts/", testKey, strings.NewReader(`{"partNumbers": [1, 2]}`))
	if r.Status != 200 {
		t.Fatalf("part urls: %d %s", r.Status, r.Body)
	}
	urls := map[int]string{}
	for _, p := range r.JSON(t)["parts"].([]any) {
		p := p.(map[string]any)
		urls[int(p["partNumber"].(float64))] = p["url"].(string)
	}
	if !strings.HasPrefix(urls[1], s.URL+"/api/v2/uploads/"+id+"/parts/1/?") {
		t.Fatalf("part url %q", urls[1])
	}
	// A tampered signature is refused.
	if st, _ := putURL(t, strings.Replace(urls[1], "sig=", "sig=0", 1), []byte("x")); st != 403 {
		t.Fatalf("tampered part URL: %d", st)
	}

	// Part 2 first, then "crash": the client asks what arrived and sends
	// only the rest.
	if st, _ := putURL(t, urls[2], data[partSize:]); st != 200 {
		t.Fatalf("part 2: %d", st)
	}
	r = do(t, "GET", s.URL+"/api/v2/uploads/"+id+"/", testKey, nil)
	if r.Status != 200 {
		t.Fatalf("status: %d %s", r.Status, r.Body)
	}
	got := r.JSON(t)
	parts := got["parts"].([]any)
	if len(parts) != 1 || parts[0].(map[string]any)["partNumber"].(float64) != 2 || got["receivedBytes"].(float64) != float64(size-partSize) {
		t.Fatalf("resume info %s", r.Body)
	}
	etag2 := parts[0].(map[string]any)["etag"].(string)
	st, etag1 := putURL(t, urls[1], data[:partSize])
	if st != 200 || etag1 == "" {
		t.Fatalf("part 1: %d %q", st, etag1)
	}

	complete := fmt.Sprintf(`{"parts": [{"partNumber": 1, "etag": %q}, {"partNumber": 2, "etag": %q}]}`, etag1, etag2)
	r = do(t, "POST", s.URL+"/api/v2/uploads/"+id+"/complete/", testKey, strings.NewReader(complete))
	if r.Status != 200 {
		t.Fatalf("complete: %d %s", r.Status, r.Body)
	}
	f := r.JSON(t)
	if f["id"] != fileID || f["isUploaded"] != true || f["md5"] != hex.EncodeToString(sum[:]) || f["decryptedSize"].(float64) != size {
		t.Fatalf("completed file %s", r.Body)
	}
	// Completing again (a client retry) answers the same file.
	if r := do(t, "POST", s.URL+"/api/v2/uploads/"+id+"/complete/", testKey, strings.NewReader(complete)); r.Status != 200 || r.JSON(t)["id"] != fileID {
		t.Fatalf("second complete: %d %s", r.Status, r.Body)
	}

	r = do(t, "GET", s.URL+"/api/v2/files/"+fileID+"/", testKey, nil)
	if r.Status != 200 || r.JSON(t)["md5"] != hex.EncodeToString(sum[:]) {
		t.Fatalf("file record: %d %s", r.Status, r.Body)
	}
	r = do(t, "GET", s.URL+"/api/v2/files/"+fileID+"/contents/", testKey, nil)
	if r.Status != 200 || !bytes.Equal(r.Body, data) {
		t.Fatalf("download: %d, %d bytes", r.Status, len(r.Body))
	}
	if got := md5.Sum(r.Body); got != sum {
		t.Fatal("downloaded md5 differs")
	}

	// Abort: parts and session go; the file id was never recorded.
	r = do(t, "POST", s.URL+"/api/v2/uploads/", testKey, strings.NewReader(`{"name": "abandoned.bin"}`))
	if r.Status != 201 {
		t.Fatalf("start 2: %d %s", r.Status, r.Body)
	}
	id2 := r.JSON(t)["id"].(string)
	r = do(t, "POST", s.URL+"/api/v2/uploads/"+id2+"/parts/", testKey, strings.NewReader(`{"partNumbers": [1]}`))
	u := r.JSON(t)["parts"].([]any)[0].(map[string]any)["url"].(string)
	if st, _ := putURL(t, u, []byte("partial")); st != 200 {
		t.Fatalf("part: %d", st)
	}
	if r := do(t, "DELETE", s.URL+"/api/v2/uploads/"+id2+"/", testKey, nil); r.Status != 204 {
		t.Fatalf("abort: %d %s", r.Status, r.Body)
	}
	if r := do(t, "GET", s.URL+"/api/v2/uploads/"+id2+"/", testKey, nil); r.Status != 404 {
		t.Fatalf("aborted session: %d", r.Status)
	}
	if st, _ := putURL(t, u, []byte("late")); st != 404 {
		t.Fatalf("part after abort: %d", st)
	}
	if entries, _ := os.ReadDir(filepath.Join(dataDir, "blobs", ".uploads")); len(entries) != 0 {
		t.Fatalf("upload staging left behind: %v", entries)
	}
	if r := do(t, "GET", s.URL+"/api/v2/uploads/nope00/", testKey, nil); r.Status != 404 {
		t.Fatalf("unknown session: %d", r.Status)
	}
	if info, err := os.Stat(filepath.Join(dataDir, "signing.key")); err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("signing key: %v %v", info, err)
	}
}

func TestCredentialsAndDirectTransfer(t *testing.T) {
	s := start(t, t.TempDir(), []string{"RESCALE_LOCAL_API_KEY=" + testKey})
	for i, path := range []string{"/api/credentials/", "/api/v2/credentials/"} {
		// A new key each time: a registered object is not overwritten.
		name := fmt.Sprintf("run%d.sh", i)
		r := do(t, "POST", s.URL+path, testKey, nil)
		if r.Status != 201 {
			t.Fatalf("%s: %d %s", path, r.Status, r.Body)
		}
		g := r.JSON(t)
		dir, _ := g["storageDir"].(string)
		exp, err := time.Parse(time.RFC3339, fmt.Sprint(g["expiration"]))
		if !strings.HasPrefix(dir, "user/user_") || err != nil || time.Until(exp) < 10*time.Minute {
			t.Fatalf("credentials %s", r.Body)
		}
		direct := g["directUrl"].(string) + dir + "/SGE/" + name + "?grant=" + g["sessionToken"].(string)
		if st, _ := putURL(t, direct, []byte("#!/bin/sh\necho hi\n")); st != 200 {
			t.Fatalf("direct put: %d", st)
		}
		if r := do(t, "GET", direct, "", nil); r.Status != 200 || string(r.Body) != "#!/bin/sh\necho hi\n" {
			t.Fatalf("direct get: %d %q", r.Status, r.Body)
		}
		// The storage event registers the object as a file (asynchronously).
		var listed map[string]any
		for i := 0; i < 100; i++ {
			listed = do(t, "GET", s.URL+"/api/v2/files/?search="+name, testKey, nil).JSON(t)
			if listed["count"].(float64) >= 1 {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		if listed["count"].(float64) != 1 {
			t.Fatalf("direct upload not registered as a file: %v", listed)
		}
		reg := listed["results"].([]any)[0].(map[string]any)
		if reg["relativePath"] != "SGE/"+name || reg["isUploaded"] != true || reg["md5"] != "46bbbe8aa98cc0714426e948474eaaf4" {
			t.Fatalf("registered file %v", reg)
		}
		if r := do(t, "GET", fmt.Sprint(reg["downloadUrl"]), testKey, nil); r.Status != 200 || string(r.Body) != "#!/bin/sh\necho hi\n" {
			t.Fatalf("registered file download: %d %q", r.Status, r.Body)
		}
		other := g["directUrl"].(string) + "user/user_someoneelse/x?grant=" + g["sessionToken"].(string)
		if st, _ := putURL(t, other, []byte("x")); st != 403 {
			t.Fatalf("other prefix: %d", st)
		}
	}
}
