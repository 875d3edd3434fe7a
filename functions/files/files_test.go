package files_test

import (
	"context"

	"crypto/md5"
	"crypto/sha512"
	"encoding/hex"
	"fmt"
	"github.com/openrescale/platform/shared/blob"
	"io"
	"mime"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/openrescale/platform/functions/api"
	"github.com/openrescale/platform/shared/files"
)

func TestUploadRendersSpecFileObject(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		data := "This is line 1.\nThis is line 2.\n"
		f := e.upload(t, aliceToken, "testInput.txt", data)
		keys := make([]string, 0, len(f))
		for k := range f {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		want := []string{"dateUploaded", "decryptedSize", "downloadUrl", "encodedEncryptionKey", "fileChecksums", "id", "isDeleted", "isUploaded", "md5", "name", "owner", "path", "pathParts", "relativePath", "sharedWith", "storage", "typeId", "userTags", "viewInBrowser"}
		if !slices.Equal(keys, want) {
			t.Fatalf("keys %v\nwant %v", keys, want)
		}
		id := f["id"].(string)
		sum := md5.Sum([]byte(data))
		sha := sha512.Sum512([]byte(data))
		checks := map[string]any{
			"typeId": 1.0, "name": "testInput.txt", "relativePath": "testInput.txt", "encodedEncryptionKey": nil,
			"downloadUrl": "http://example.com/api/v2/files/" + id + "/contents/", "decryptedSize": float64(len(data)),
			"owner": "alice@example.com", "isUploaded": true, "viewInBrowser": true, "isDeleted": false,
			"md5": hex.EncodeToString(sum[:]),
		}
		for k, v := range checks {
			if f[k] != v {
				t.Errorf("%s = %#v, want %#v", k, f[k], v)
			}
		}
		if !regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$`).MatchString(f["dateUploaded"].(string)) {
			t.Errorf("dateUploaded %q is not the spec's microsecond UTC form", f["dateUploaded"])
		}
		path := f["path"].(string)
		if !strings.HasPrefix(path, "user/user_alice1/testInput.txt-") {
			t.Errorf("path %q", path)
		}
		if got := fmt.Sprint(f["fileChecksums"]); got != fmt.Sprintf("[map[fileHash:%x hashFunction:sha512]]", sha) {
			t.Errorf("fileChecksums %s", got)
		}
		if got := fmt.Sprint(f["pathParts"]); got != "map[container:test-container path:"+path+"]" {
			t.Errorf("pathParts %s", got)
		}
		if got := fmt.Sprint(f["storage"]); got != "map[connectionSettings:map[] encryptionType:default id:local storageType:LocalStorage]" {
			t.Errorf("storage %s", got)
		}
		if fmt.Sprint(f["sharedWith"], f["userTags"]) != "[] []" {
			t.Errorf("sharedWith/userTags %v %v", f["sharedWith"], f["userTags"])
		}
		// GET renders the same object.
		g := e.do(t, "GET", "/api/v2/files/"+id+"/", aliceToken, nil)
		if g.Code != 200 || fmt.Sprint(g.JSON(t)) != fmt.Sprint(f) {
			t.Fatalf("GET differs from upload response: %d %s", g.Code, g.Body)
		}
	})
}

func TestUploadVariants(t *testing.T) {
	tests := []struct {
		name    string
		ctype   string
		body    string
		method  string
		typeID  float64
		fname   string
		folders bool
		folder  string
	}{
		{name: "boundary in header", ctype: formType, body: multipartBody(filePart("a.txt", "hello"))},
		{name: "PUT", method: "PUT", ctype: formType, body: multipartBody(filePart("a.txt", "hello"))},
		{name: "multipart without boundary (spec curl)", ctype: "multipart/form-data", body: multipartBody(filePart("a.txt", "hello"))},
		{name: "json content type over multipart (spec python 3)", ctype: "application/json", typeID: 4, fname: "new_file.txt",
			body: multipartBody(filePart("new_file.txt", "hello", "Content-Type", "{'type_id': 4}"))},
		{name: "no content type", body: multipartBody(filePart("a.txt", "hello"))},
		{name: "type_id field before", ctype: formType, typeID: 3, body: multipartBody(fieldPart("type_id", "3"), filePart("a.txt", "hello"))},
		{name: "type_id field after", ctype: formType, typeID: 3, body: multipartBody(filePart("a.txt", "hello"), fieldPart("type_id", "3"))},
		{name: "type_id part header", ctype: formType, typeID: 2, body: multipartBody(filePart("a.txt", "hello", "type_id", "2"))},
		{name: "other fields ignored", ctype: formType, body: multipartBody(fieldPart("note", "x"), filePart("a.txt", "hello"), filePart("b.txt", "second"))},
		{name: "unicode name", ctype: formType, fname: "résumé ü.txt", body: multipartBody(filePart("résumé ü.txt", "hello"))},
		{name: "root folder", ctype: formType, folders: true, folder: "root1", body: multipartBody(filePart("a.txt", "hello"))},
		{name: "folder before file", ctype: formType, folders: true, folder: "lib2", body: multipartBody(fieldPart("current_folder_id", "lib2"), filePart("a.txt", "hello"))},
		{name: "folder after file, quoted (spec curl)", ctype: formType, folders: true, folder: "lib2", body: multipartBody(filePart("a.txt", "hello"), fieldPart("current_folder_id", `"lib2"`))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var opts []func(*api.Deps)
			if tt.folders {
				opts = append(opts, withFolders)
			}
			each(t, func(t *testing.T, e *env) {
				method := tt.method
				if method == "" {
					method = "POST"
				}
				var hdr []string
				if tt.ctype != "" {
					hdr = []string{"Content-Type", tt.ctype}
				}
				r := e.do(t, method, "/api/v2/files/contents", aliceToken, strings.NewReader(tt.body), hdr...)
				if r.Code != 201 {
					t.Fatalf("%d %s", r.Code, r.Body)
				}
				f := r.JSON(t)
				want := tt.typeID
				if want == 0 {
					want = 1
				}
				fname := tt.fname
				if fname == "" {
					fname = "a.txt"
				}
				if f["typeId"] != want || f["name"] != fname || f["decryptedSize"] != 5.0 {
					t.Fatalf("typeId %v name %v size %v", f["typeId"], f["name"], f["decryptedSize"])
				}
				rec, err := e.svc.Get(t.Context(), "alice1", f["id"].(string))
				if err != nil {
					t.Fatal(err)
				}
				if rec.FolderID != tt.folder {
					t.Fatalf("folder %q, want %q", rec.FolderID, tt.folder)
				}
				if _, n, _ := e.svc.List(t.Context(), "alice1", files.ListOptions{}); n != 1 {
					t.Fatalf("%d records, want 1", n)
				}
			}, opts...)
		})
	}
}

func TestUploadRejectsAndLeavesNothing(t *testing.T) {
	bigHeader := strings.Repeat("x", 100<<10)
	tests := []struct {
		name    string
		ctype   string
		body    string
		status  int
		field   string
		contain string
		folders bool
		max     int64
	}{
		{name: "no file field", ctype: formType, body: multipartBody(fieldPart("current_folder_id", "")), status: 400, field: "file"},
		{name: "no parts", ctype: formType, body: "--" + boundary + "--\r\n", status: 400, field: "file"},
		{name: "empty body", ctype: formType, body: "", status: 400, field: "file"},
		{name: "empty file", ctype: formType, body: multipartBody(filePart("a.txt", "")), status: 400, field: "file", contain: "empty"},
		{name: "dot dot", ctype: formType, body: multipartBody(filePart("../a.txt", "x")), status: 400, field: "file", contain: "../a.txt"},
		{name: "slash", ctype: formType, body: multipartBody(filePart("dir/a.txt", "x")), status: 400, field: "file"},
		{name: "NUL", ctype: formType, body: multipartBody(filePart("a\x00b", "x")), status: 400, field: "file"},
		{name: "file without filename", ctype: formType, body: multipartBody(fieldPart("file", "x")), status: 400, field: "file"},
		{name: "not multipart", ctype: "application/octet-stream", body: "just bytes\n", status: 400, field: "file"},
		{name: "json body", ctype: "application/json", body: `{"file": "x"}`, status: 400, field: "file"},
		{name: "truncated mid part", ctype: formType, body: multipartBody(filePart("a.txt", strings.Repeat("y", 10000)))[:5000], status: 400, field: "file"},
		{name: "truncated after file part", ctype: formType, body: strings.TrimSuffix(multipartBody(filePart("a.txt", "hello")), "--"+boundary+"--\r\n"), status: 400, field: "file"},
		{name: "huge part header", ctype: formType, body: multipartBody(filePart("a.txt", "x", "X-Big", bigHeader)), status: 400, contain: "headers exceed"},
		{name: "huge field", ctype: formType, body: multipartBody(filePart("a.txt", "x"), fieldPart("current_folder_id", strings.Repeat("z", 5000))), status: 400, field: "current_folder_id"},
		{name: "bad type_id", ctype: formType, body: multipartBody(filePart("a.txt", "x", "type_id", "6")), status: 400, field: "type_id"},
		{name: "bad type_id after file", ctype: formType, body: multipartBody(filePart("a.txt", "x"), fieldPart("type_id", "abc")), status: 400, field: "type_id"},
		{name: "folder without folders", ctype: formType, body: multipartBody(fieldPart("current_folder_id", "lib2"), filePart("a.txt", "x")), status: 404, field: "current_folder_id"},
		{name: "unknown folder", folders: true, ctype: formType, body: multipartBody(fieldPart("current_folder_id", "nope99"), filePart("a.txt", "x")), status: 404, field: "current_folder_id", contain: "nope99"},
		{name: "unknown folder after file", folders: true, ctype: formType, body: multipartBody(filePart("a.txt", "x"), fieldPart("current_folder_id", "nope99")), status: 404, field: "current_folder_id"},
		{name: "job folder", folders: true, ctype: formType, body: multipartBody(fieldPart("current_folder_id", "job3"), filePart("a.txt", "x")), status: 400, field: "current_folder_id"},
		{name: "over the size limit", max: 100, ctype: formType, body: multipartBody(filePart("a.txt", strings.Repeat("b", 200))), status: 413},
		{name: "content length over the limit", max: 10, ctype: formType, body: multipartBody(filePart("a.txt", strings.Repeat("b", 2<<20))), status: 413},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := []func(*api.Deps){func(d *api.Deps) { d.Files.MaxFileBytes = tt.max }}
			if tt.folders {
				opts = append(opts, withFolders)
			}
			each(t, func(t *testing.T, e *env) {
				r := e.do(t, "POST", "/api/v2/files/contents/", aliceToken, strings.NewReader(tt.body), "Content-Type", tt.ctype)
				if r.Code != tt.status {
					t.Fatalf("status %d, want %d: %s", r.Code, tt.status, r.Body)
				}
				body := r.JSON(t)
				if tt.field != "" && body["field"] != tt.field {
					t.Fatalf("field %v, want %s: %s", body["field"], tt.field, r.Body)
				}
				if !strings.Contains(fmt.Sprint(body["detail"]), tt.contain) {
					t.Fatalf("detail %q does not mention %q", body["detail"], tt.contain)
				}
				e.assertEmpty(t)
			}, opts...)
		})
	}
}

// A client that hangs up in the middle of the file part leaves nothing.
func TestUploadClientDisconnect(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		srv := httptest.NewServer(e.handler)
		defer srv.Close()
		conn, err := net.Dial("tcp", srv.Listener.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		body := multipartBody(filePart("a.txt", strings.Repeat("z", 1<<20)))
		fmt.Fprintf(conn, "POST /api/v2/files/contents/ HTTP/1.1\r\nHost: x\r\nAuthorization: %s\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n", aliceToken, formType, len(body))
		io.WriteString(conn, body[:len(body)/2])
		time.Sleep(100 * time.Millisecond)
		conn.Close()
		deadline := time.Now().Add(5 * time.Second)
		for {
			srv.CloseClientConnections()
			n := 0
			_ = e.svc.Bucket.List(t.Context(), "", func(a blob.Attrs) error { n++; return nil })
			_, total, _ := e.svc.List(t.Context(), "alice1", files.ListOptions{})
			if n+total == 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("after the client left: %d blobs, %d records", n, total)
			}
			time.Sleep(50 * time.Millisecond)
		}
	})
}

func TestDownload(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		data := make([]byte, 1000)
		for i := range data {
			data[i] = byte('a' + i%26)
		}
		f := e.upload(t, aliceToken, "résumé \"1\".dat", string(data))
		url := "/api/v2/files/" + f["id"].(string) + "/contents/"
		etag := `"` + f["md5"].(string) + `"`

		full := e.do(t, "GET", url, aliceToken, nil)
		if full.Code != 200 || full.Body.String() != string(data) {
			t.Fatalf("full: %d, %d bytes", full.Code, full.Body.Len())
		}
		h := full.Header()
		for k, v := range map[string]string{
			"ETag": etag, "Content-Length": "1000", "Accept-Ranges": "bytes",
			"Content-Disposition": `attachment; filename="r_sum_ _1_.dat"; filename*=UTF-8''r%C3%A9sum%C3%A9%20%221%22.dat`,
		} {
			if h.Get(k) != v {
				t.Errorf("%s = %q, want %q", k, h.Get(k), v)
			}
		}
		if h.Get("Last-Modified") == "" || h.Get("Content-Type") == "" {
			t.Errorf("Last-Modified %q Content-Type %q", h.Get("Last-Modified"), h.Get("Content-Type"))
		}

		one := e.do(t, "GET", url, aliceToken, nil, "Range", "bytes=100-199")
		if one.Code != 206 || one.Body.String() != string(data[100:200]) || one.Header().Get("Content-Range") != "bytes 100-199/1000" {
			t.Fatalf("single range: %d %q %q", one.Code, one.Header().Get("Content-Range"), one.Body)
		}
		suffix := e.do(t, "GET", url, aliceToken, nil, "Range", "bytes=-10")
		if suffix.Code != 206 || suffix.Body.String() != string(data[990:]) {
			t.Fatalf("suffix range: %d %q", suffix.Code, suffix.Body)
		}

		before := e.bucket.read.Load()
		multi := e.do(t, "GET", url, aliceToken, nil, "Range", "bytes=0-9,500-509")
		if multi.Code != 206 {
			t.Fatalf("multi range: %d %s", multi.Code, multi.Body)
		}
		if read := e.bucket.read.Load() - before; read > 100 {
			t.Fatalf("two 10-byte ranges read %d bytes from storage", read)
		}
		mt, params, err := mime.ParseMediaType(multi.Header().Get("Content-Type"))
		if err != nil || mt != "multipart/byteranges" {
			t.Fatalf("multi range type %q: %v", multi.Header().Get("Content-Type"), err)
		}
		mr := multipart.NewReader(multi.Body, params["boundary"])
		for _, want := range [][2]int{{0, 10}, {500, 510}} {
			p, err := mr.NextPart()
			if err != nil {
				t.Fatal(err)
			}
			got, _ := io.ReadAll(p)
			if cr := p.Header.Get("Content-Range"); cr != fmt.Sprintf("bytes %d-%d/1000", want[0], want[1]-1) || string(got) != string(data[want[0]:want[1]]) {
				t.Fatalf("part %s: %q", cr, got)
			}
		}
		if _, err := mr.NextPart(); err != io.EOF {
			t.Fatalf("a third part: %v", err)
		}

		head := e.do(t, "HEAD", url, aliceToken, nil)
		if head.Code != 200 || head.Body.Len() != 0 || head.Header().Get("Content-Length") != "1000" || head.Header().Get("Accept-Ranges") != "bytes" {
			t.Fatalf("HEAD: %d len %s body %d", head.Code, head.Header().Get("Content-Length"), head.Body.Len())
		}
		if nm := e.do(t, "GET", url, aliceToken, nil, "If-None-Match", etag); nm.Code != 304 {
			t.Fatalf("If-None-Match: %d", nm.Code)
		}
		if ir := e.do(t, "GET", url, aliceToken, nil, "Range", "bytes=0-4", "If-Range", `"stale"`); ir.Code != 200 || ir.Body.Len() != 1000 {
			t.Fatalf("stale If-Range: %d %d bytes", ir.Code, ir.Body.Len())
		}
		if ir := e.do(t, "GET", url, aliceToken, nil, "Range", "bytes=0-4", "If-Range", etag); ir.Code != 206 || ir.Body.String() != "abcde" {
			t.Fatalf("current If-Range: %d %q", ir.Code, ir.Body)
		}
		bad := e.do(t, "GET", url, aliceToken, nil, "Range", "bytes=5000-6000")
		if bad.Code != 416 || bad.Header().Get("Content-Type") != "application/json" || bad.JSON(t)["detail"] == "" {
			t.Fatalf("unsatisfiable: %d %q %s", bad.Code, bad.Header().Get("Content-Type"), bad.Body)
		}
		if r := e.do(t, "GET", url, bobToken, nil); r.Code != 404 {
			t.Fatalf("bob downloads alice's file: %d", r.Code)
		}
		if r := e.do(t, "GET", "/api/v2/files/nope/contents/", aliceToken, nil); r.Code != 404 {
			t.Fatalf("unknown id: %d", r.Code)
		}
	})
}

// fileOpening gives the counting bucket the local adapter's FileOpener back.
type fileOpening struct {
	*countingBucket
	fo    blob.FileOpener
	opens atomic.Int64
}

func (f *fileOpening) OpenFile(ctx context.Context, key string) (*os.File, error) {
	f.opens.Add(1)
	return f.fo.OpenFile(ctx, key)
}

// Locally a download serves the object's own file (sendfile), ranges and
// all, without reading it through a range reader.
func TestDownloadServesLocalFile(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		fo, ok := e.bucket.Bucket.(blob.FileOpener)
		if !ok {
			t.Skip("storage keeps no local files")
		}
		fb := &fileOpening{countingBucket: e.bucket, fo: fo}
		e.svc.Bucket = fb
		data := strings.Repeat("0123456789", 100000)
		id := e.upload(t, aliceToken, "big.dat", data)["id"].(string)
		url := "/api/v2/files/" + id + "/contents/"
		before := e.bucket.read.Load()
		if r := e.do(t, "GET", url, aliceToken, nil); r.Code != 200 || r.Body.String() != data || r.Header().Get("Content-Length") != "1000000" {
			t.Fatalf("full: %d, %d bytes", r.Code, r.Body.Len())
		}
		if r := e.do(t, "GET", url, aliceToken, nil, "Range", "bytes=10-19"); r.Code != 206 || r.Body.String() != data[10:20] {
			t.Fatalf("range: %d %q", r.Code, r.Body)
		}
		if r := e.do(t, "GET", url, aliceToken, nil, "Range", "bytes=0-1,999998-"); r.Code != 206 || !strings.Contains(r.Body.String(), "89") {
			t.Fatalf("multi range: %d", r.Code)
		}
		if fb.opens.Load() != 3 || e.bucket.read.Load() != before {
			t.Fatalf("%d file opens, %d bytes through range readers", fb.opens.Load(), e.bucket.read.Load()-before)
		}
	})
}

// An object overwritten behind its record (storage credentials in AWS) is
// never served under the record's length.
func TestDownloadOfOverwrittenObject(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		f := e.upload(t, aliceToken, "a.dat", strings.Repeat("x", 100))
		rec, err := e.svc.Repo.Get(t.Context(), "alice1", f["id"].(string))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.bucket.Put(t.Context(), rec.Key, strings.NewReader("shorter"), ""); err != nil {
			t.Fatal(err)
		}
		url := "/api/v2/files/" + rec.ID + "/contents/"
		for _, m := range []string{"GET", "HEAD"} {
			r := e.do(t, m, url, aliceToken, nil)
			if r.Code != 409 || r.Header().Get("Content-Length") == "100" {
				t.Errorf("%s: %d, Content-Length %q", m, r.Code, r.Header().Get("Content-Length"))
			}
		}
	})
}

func TestLines(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		text := "This is line 1.\nThis is line 2.\nThis is line 3.\nThis is line 4.\nThis is line 5.\n"
		id := e.upload(t, aliceToken, "lines.txt", text)["id"].(string)
		all := e.do(t, "GET", "/api/v2/files/"+id+"/lines/", aliceToken, nil)
		if all.Code != 200 || all.Body.String() != `{"lines":["This is line 1.\n","This is line 2.\n","This is line 3.\n","This is line 4.\n","This is line 5.\n"]}`+"\n" {
			t.Fatalf("lines: %d %s", all.Code, all.Body)
		}
		p2 := e.do(t, "GET", "/api/v2/files/"+id+"/lines/?page=2&page_size=2", aliceToken, nil).JSON(t)
		if fmt.Sprint(p2["lines"]) != "[This is line 3.\n This is line 4.\n]" || p2["next"] != "http://example.com/api/v2/files/"+id+"/lines/?page=3&page_size=2" {
			t.Fatalf("page 2: %v", p2)
		}
		p3 := e.do(t, "GET", "/api/v2/files/"+id+"/lines/?page=3&page_size=2", aliceToken, nil).JSON(t)
		if fmt.Sprint(p3["lines"]) != "[This is line 5.\n]" || p3["next"] != nil {
			t.Fatalf("page 3: %v", p3)
		}
		if r := e.do(t, "GET", "/api/v2/files/"+id+"/lines/?page=4&page_size=2", aliceToken, nil); r.Code != 404 {
			t.Fatalf("page past the end: %d", r.Code)
		}
		if r := e.do(t, "GET", "/api/v2/files/"+id+"/lines/?page_size=x", aliceToken, nil); r.Code != 400 || r.JSON(t)["field"] != "page_size" {
			t.Fatalf("bad page_size: %d %s", r.Code, r.Body)
		}

		noNL := e.upload(t, aliceToken, "last.txt", "a\nb")["id"].(string)
		if r := e.do(t, "GET", "/api/v2/files/"+noNL+"/lines/", aliceToken, nil); fmt.Sprint(r.JSON(t)["lines"]) != "[a\n b]" {
			t.Fatalf("last line without newline: %s", r.Body)
		}

		// A line longer than maxLine is cut on a rune boundary and marked;
		// it still counts as one line.
		long := strings.Repeat("é", 50000) + "\n" + "tail\n"
		lid := e.upload(t, aliceToken, "long.txt", long)["id"].(string)
		lr := e.do(t, "GET", "/api/v2/files/"+lid+"/lines/", aliceToken, nil).JSON(t)
		lines := lr["lines"].([]any)
		first := lines[0].(string)
		if len(lines) != 2 || lines[1] != "tail\n" || len(first) > 16<<10 || len(first) < 16<<10-1 || !strings.HasPrefix(long, first) ||
			strings.ContainsRune(first, '\uFFFD') || fmt.Sprint(lr["truncated"]) != "[0]" {
			t.Fatalf("long line: %d lines, first %d bytes, truncated %v", len(lines), len(first), lr["truncated"])
		}
		if _, ok := all.JSON(t)["truncated"]; ok {
			t.Fatal("truncated listed for a page without cut lines")
		}

		bin := e.upload(t, aliceToken, "data.bin", "PK\x03\x04\x00\x00binary")["id"].(string)
		r := e.do(t, "GET", "/api/v2/files/"+bin+"/lines/", aliceToken, nil)
		if r.Code != 400 || !strings.Contains(fmt.Sprint(r.JSON(t)["detail"]), "not a plain text file") {
			t.Fatalf("binary: %d %s", r.Code, r.Body)
		}
		latin1 := e.upload(t, aliceToken, "latin1.txt", "caf\xe9\n")["id"].(string)
		if r := e.do(t, "GET", "/api/v2/files/"+latin1+"/lines/", aliceToken, nil); r.Code != 400 {
			t.Fatalf("invalid UTF-8: %d %s", r.Code, r.Body)
		}
		if r := e.do(t, "GET", "/api/v2/files/"+id+"/lines/", bobToken, nil); r.Code != 404 {
			t.Fatalf("bob reads alice's lines: %d", r.Code)
		}
	})
}

// A page is bounded in bytes and streamed: a large file without newlines
// (the probe's 300 MB, scaled down) asked for with the largest page_size
// neither grows the server's memory nor its response past the page cap.
func TestLinesBoundedMemory(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		const size = 48 << 20
		var body strings.Builder
		body.Grow(size)
		for body.Len() < size {
			body.WriteString("0123456789abcdef")
		}
		f, err := e.svc.Upload(t.Context(), files.UploadRequest{Owner: files.Owner{UserID: "alice1", Email: "alice@example.com"}, Name: "one.log", Body: strings.NewReader(body.String())})
		if err != nil {
			t.Fatal(err)
		}
		body.Reset()
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		r := e.do(t, "GET", "/api/v2/files/"+f.ID+"/lines/?page_size=10000", aliceToken, nil)
		runtime.ReadMemStats(&after)
		if r.Code != 200 || r.Body.Len() > 64<<10 {
			t.Fatalf("%d, %d-byte response", r.Code, r.Body.Len())
		}
		// The response recorder holds the body; everything else the request
		// allocated is buffers.
		if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 8<<20 {
			t.Errorf("one page of a %d MiB line allocated %d MiB", size>>20, alloc>>20)
		}

		// Many short lines: the page's byte budget cuts the lines past it.
		var many strings.Builder
		line := strings.Repeat("x", 1023) + "\n"
		for range 5000 {
			many.WriteString(line)
		}
		f, err = e.svc.Upload(t.Context(), files.UploadRequest{Owner: files.Owner{UserID: "alice1", Email: "alice@example.com"}, Name: "many.log", Body: strings.NewReader(many.String())})
		if err != nil {
			t.Fatal(err)
		}
		page := e.do(t, "GET", "/api/v2/files/"+f.ID+"/lines/?page_size=10000", aliceToken, nil).JSON(t)
		lines, cut := page["lines"].([]any), page["truncated"].([]any)
		if len(lines) != 5000 || page["next"] != nil {
			t.Fatalf("%d lines, next %v", len(lines), page["next"])
		}
		if len(cut) == 0 || cut[0].(float64) != 4096 || lines[4095] != line || lines[4096] != "" || lines[4999] != "" {
			t.Fatalf("page budget: first cut line %v of %d, line 4096 %q", cut[0], len(cut), lines[4096])
		}
	})
}

func TestPatch(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		f := e.upload(t, aliceToken, "script.txt", "echo hi\n")
		id := f["id"].(string)
		url := "/api/v2/files/" + id + "/"
		// The spec's curl example: the whole object back, with read-only
		// fields that differ from the record (ignored).
		spec := `{"typeId": 4, "name": "new_script.txt", "dateUploaded": "2015-03-17T00:24:39.531384Z", "relativePath": "new_script.txt",
			"encodedEncryptionKey": "83TFwNf5QxFaCOmluBQBnJ/L0yAC/2Z9MPs2pKZuUi4=", "downloadUrl": "https://platform.rescale.com/api/v2/files/dNEXtf/contents/",
			"sharedWith": [], "decryptedSize": 112, "owner": "demouser@rescale.com", "path": "user/user_OvdRk/x.txt", "isUploaded": true,
			"viewInBrowser": true, "id": "dNEXtf", "isDeleted": false, "md5": "4d479b49d26318068d3e23aa9d81e9ee",
			"userTags": [{ "name": "example tag", "normalizedName": "exampletag" }]}`
		r := e.do(t, "PATCH", url, aliceToken, strings.NewReader(spec), "Content-Type", "application/json")
		if r.Code != 200 {
			t.Fatalf("PATCH: %d %s", r.Code, r.Body)
		}
		got := r.JSON(t)
		if got["name"] != "new_script.txt" || got["relativePath"] != "new_script.txt" || got["typeId"] != 4.0 ||
			got["id"] != id || got["md5"] != f["md5"] || got["path"] != f["path"] || got["owner"] != "alice@example.com" ||
			fmt.Sprint(got["userTags"]) != "[]" {
			t.Fatalf("after PATCH: %v", got)
		}
		// The spec's Python example sends the dict form-encoded under an
		// application/json header.
		r = e.do(t, "PATCH", url, aliceToken, strings.NewReader("typeId=2&name=form.txt&sharedWith=&id=zzz"), "Content-Type", "application/json")
		if r.Code != 200 || r.JSON(t)["name"] != "form.txt" || r.JSON(t)["typeId"] != 2.0 {
			t.Fatalf("form PATCH: %d %s", r.Code, r.Body)
		}
		tests := []struct {
			name, body string
			status     int
			field      string
		}{
			{"slash in name", `{"name": "a/b"}`, 400, "name"},
			{"empty name", `{"name": ""}`, 400, "name"},
			{"bad typeId", `{"typeId": 6}`, 400, "typeId"},
			{"typeId not a number", `{"typeId": "x"}`, 400, "typeId"},
			{"typeId as string", `{"typeId": "5"}`, 200, ""},
			{"empty body", ``, 200, ""},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				r := e.do(t, "PATCH", url, aliceToken, strings.NewReader(tt.body), "Content-Type", "application/json")
				if r.Code != tt.status || (tt.field != "" && r.JSON(t)["field"] != tt.field) {
					t.Fatalf("%d %s", r.Code, r.Body)
				}
			})
		}
		if r := e.do(t, "PATCH", url, bobToken, strings.NewReader(`{"name":"x"}`), "Content-Type", "application/json"); r.Code != 404 {
			t.Fatalf("bob patches alice's file: %d", r.Code)
		}
	})
}

type inUse map[string]bool

func (u inUse) FileInUse(_ context.Context, _, id string) (bool, error) { return u[id], nil }

func TestDelete(t *testing.T) {
	used := inUse{}
	each(t, func(t *testing.T, e *env) {
		f := e.upload(t, aliceToken, "gone.txt", "bye\n")
		id := f["id"].(string)
		if r := e.do(t, "DELETE", "/api/v2/files/"+id+"/", bobToken, nil); r.Code != 404 {
			t.Fatalf("bob deletes alice's file: %d", r.Code)
		}
		used[id] = true
		if r := e.do(t, "DELETE", "/api/v2/files/"+id+"/", aliceToken, nil); r.Code != 409 {
			t.Fatalf("delete while in use: %d %s", r.Code, r.Body)
		}
		used[id] = false
		if r := e.do(t, "DELETE", "/api/v2/files/"+id+"/", aliceToken, nil); r.Code != 204 || r.Body.Len() != 0 {
			t.Fatalf("delete: %d %s", r.Code, r.Body)
		}
		if r := e.do(t, "GET", "/api/v2/files/"+id+"/", aliceToken, nil); r.Code != 404 {
			t.Fatalf("GET after delete: %d", r.Code)
		}
		if r := e.do(t, "DELETE", "/api/v2/files/"+id+"/", aliceToken, nil); r.Code != 404 {
			t.Fatalf("second delete: %d", r.Code)
		}
		e.assertEmpty(t)
	}, func(d *api.Deps) { d.FileInUse = used })
}

func TestTags(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		id := e.upload(t, aliceToken, "t.txt", "x")["id"].(string)
		url := "/api/v2/files/" + id + "/tags/"
		r := e.do(t, "POST", url, aliceToken, strings.NewReader(`{"name": "new - tag _ 1"}`), "Content-Type", "application/json")
		if r.Code != 201 || r.Body.String() != `{"name":"new - tag _ 1","normalizedName":"newtag1"}`+"\n" {
			t.Fatalf("add: %d %s", r.Code, r.Body)
		}
		again := e.do(t, "POST", url, aliceToken, strings.NewReader(`{"name": "NewTag1"}`), "Content-Type", "application/json")
		if again.Code != 201 || again.JSON(t)["name"] != "new - tag _ 1" {
			t.Fatalf("re-add: %d %s", again.Code, again.Body)
		}
		e.do(t, "POST", url, aliceToken, strings.NewReader(`{"name": "new - tag _ 2"}`), "Content-Type", "application/json")
		list := e.do(t, "GET", url, aliceToken, nil)
		if list.Code != 200 || list.Body.String() != `[{"name":"new - tag _ 1","normalizedName":"newtag1"},{"name":"new - tag _ 2","normalizedName":"newtag2"}]`+"\n" {
			t.Fatalf("list: %d %s", list.Code, list.Body)
		}
		if tags := e.do(t, "GET", "/api/v2/files/"+id+"/", aliceToken, nil).JSON(t)["userTags"]; len(tags.([]any)) != 2 {
			t.Fatalf("userTags %v", tags)
		}
		if r := e.do(t, "POST", url, aliceToken, strings.NewReader(`{}`), "Content-Type", "application/json"); r.Code != 400 || r.JSON(t)["field"] != "name" {
			t.Fatalf("no name: %d %s", r.Code, r.Body)
		}
		if r := e.do(t, "DELETE", url, aliceToken, strings.NewReader(`{"name": "new - tag _ 1"}`), "Content-Type", "application/json"); r.Code != 204 {
			t.Fatalf("remove: %d %s", r.Code, r.Body)
		}
		if r := e.do(t, "DELETE", url, aliceToken, strings.NewReader(`{"name": "new - tag _ 1"}`), "Content-Type", "application/json"); r.Code != 404 {
			t.Fatalf("remove missing: %d %s", r.Code, r.Body)
		}
		if r := e.do(t, "GET", url, bobToken, nil); r.Code != 404 {
			t.Fatalf("bob lists alice's tags: %d", r.Code)
		}
		if r := e.do(t, "POST", url, bobToken, strings.NewReader(`{"name":"x"}`), "Content-Type", "application/json"); r.Code != 404 {
			t.Fatalf("bob tags alice's file: %d", r.Code)
		}
	})
}

func TestList(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		for i := range 3 {
			e.upload(t, aliceToken, "input"+strconv.Itoa(i)+".txt", "x")
		}
		e.upload(t, aliceToken, "residuals.csv", "x")
		e.upload(t, bobToken, "bobs.txt", "x")
		all := e.do(t, "GET", "/api/v2/files/", aliceToken, nil).JSON(t)
		if all["count"] != 4.0 || len(all["results"].([]any)) != 4 {
			t.Fatalf("list: %v", all)
		}
		if first := all["results"].([]any)[0].(map[string]any)["name"]; first != "residuals.csv" {
			t.Fatalf("newest first: got %v", first)
		}
		s := e.do(t, "GET", "/api/v2/files/?search=INPUT&page_size=2", aliceToken, nil).JSON(t)
		if s["count"] != 3.0 || len(s["results"].([]any)) != 2 || s["next"] == nil {
			t.Fatalf("search: %v", s)
		}
		if o := e.do(t, "GET", "/api/v2/files/?owner=1", aliceToken, nil).JSON(t); o["count"] != 4.0 {
			t.Fatalf("owner=1: %v", o)
		}
		if b := e.do(t, "GET", "/api/v2/files/", bobToken, nil).JSON(t); b["count"] != 1.0 {
			t.Fatalf("bob: %v", b)
		}
		if r := e.do(t, "GET", "/api/v2/files/", "", nil); r.Code != http.StatusUnauthorized {
			t.Fatalf("no token: %d", r.Code)
		}
	})
}
