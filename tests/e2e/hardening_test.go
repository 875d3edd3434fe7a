package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

// memKB reads one "<field> <n> kB" line of /proc/<pid>/status.
func memKB(t *testing.T, status, field string) int {
	t.Helper()
	b, err := os.ReadFile(status)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(l, field); ok {
			var n int
			fmt.Sscan(rest, &n)
			return n
		}
	}
	t.Fatalf("%s: no %s", status, field)
	return 0
}

// shortPut sends a PUT whose body stops after a few of the bytes its
// Content-Length promises, then half-closes, and returns the status.
func shortPut(t *testing.T, rawURL string) (int, string) {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	c, err := net.Dial("tcp", u.Host)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(c, "PUT %s HTTP/1.1\r\nHost: %s\r\nContent-Length: 1000\r\n\r\nonly ten b", u.RequestURI(), u.Host)
	c.(*net.TCPConn).CloseWrite()
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("PUT %s: %v", u.Path, err)
	}
	defer resp.Body.Close()
	var b strings.Builder
	bufio.NewReader(resp.Body).WriteTo(&b)
	return resp.StatusCode, b.String()
}

// Issue 9's probe findings, through the real server.
func TestHardening(t *testing.T) {
	s := start(t, t.TempDir(), []string{"RESCALE_LOCAL_API_KEY=" + testKey})
	file := uploadInto(t, s, testKey, "", "lines.txt", "a\nb\n").JSON(t)["id"].(string)
	roots := do(t, "GET", s.URL+"/api/v3/users/me/folders/", testKey, nil).JSON(t)
	lib := fmt.Sprint(roots["myLibrary"])

	// net/http answers these before any handler runs; the listener makes
	// them the API's JSON errors too.
	t.Run("pre-handler errors are JSON", func(t *testing.T) {
		host := strings.TrimPrefix(s.URL, "http://")
		for _, tc := range []struct {
			name, request string
			status        int
		}{
			{"malformed request line", "GARBAGE\r\n\r\n", 400},
			{"oversized headers", "GET /api/v2/jobs/ HTTP/1.1\r\nHost: " + host + "\r\nX-Big: " + strings.Repeat("a", 128<<10) + "\r\n\r\n", 431},
			{"unsupported transfer encoding", "POST /api/v2/jobs/ HTTP/1.1\r\nHost: " + host + "\r\nTransfer-Encoding: gzip\r\n\r\n", 501},
		} {
			c, err := net.Dial("tcp", host)
			if err != nil {
				t.Fatal(err)
			}
			c.SetDeadline(time.Now().Add(10 * time.Second))
			io.WriteString(c, tc.request)
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				c.Close()
				t.Fatalf("%s: %v", tc.name, err)
			}
			var body map[string]any
			err = json.NewDecoder(resp.Body).Decode(&body)
			c.Close()
			if resp.StatusCode != tc.status || err != nil || body["detail"] == nil || resp.Header.Get("Content-Type") != "application/json" {
				t.Errorf("%s: %d %q %v (decode: %v), want %d with a JSON detail", tc.name, resp.StatusCode, resp.Header.Get("Content-Type"), body, err, tc.status)
			}
		}
	})

	// One paginator: an overflowing page is a 400 naming page on every list.
	t.Run("overflowing page", func(t *testing.T) {
		const huge = "9223372036854775807"
		for _, path := range []string{
			"/api/v2/coretypes/", "/api/v2/analyses/", "/api/v2/billing/computeprices/", "/api/v2/users/me/api-keys/",
			"/api/v2/jobs/", "/api/v2/files/", "/api/v2/files/" + file + "/lines/", "/api/v3/folders/" + lib + "/contents/",
		} {
			r := do(t, "GET", s.URL+path+"?page="+huge, testKey, nil)
			if r.Status != 400 || r.JSON(t)["field"] != "page" {
				t.Errorf("%s?page=%s: %d %s", path, huge, r.Status, r.Body)
			}
		}
		r := do(t, "GET", s.URL+"/api/v2/data/jobs/?offset="+huge, testKey, nil)
		if r.Status != 400 || r.JSON(t)["field"] != "offset" {
			t.Errorf("data jobs offset=%s: %d %s", huge, r.Status, r.Body)
		}
	})

	// job posts a job; hw is added to its hardware, inputs to its analysis.
	job := func(name, hw, inputs string) response {
		return do(t, "POST", s.URL+"/api/v2/jobs/", testKey, strings.NewReader(`{"name": "`+name+`", "jobanalyses": [{"analysis": {"code": "user_included"},
			"command": "true", "hardware": {"coreType": "standard-plus", "coresPerSlot": 1`+hw+`}`+inputs+`}]}`))
	}
	t.Run("duplicate and too many inputs", func(t *testing.T) {
		r := job("dup", "", `, "inputFiles": [{"id": "`+file+`"}, {"id": "`+file+`"}]`)
		if r.Status != 400 || r.JSON(t)["field"] != "jobanalyses[0].inputFiles[1].id" {
			t.Errorf("duplicate input: %d %s", r.Status, r.Body)
		}
		r = job("many", "", `, "inputFiles": [`+strings.Repeat(`{"id": "`+file+`"},`, 20000)+`{"id": "`+file+`"}]`)
		if r.Status != 400 || r.JSON(t)["field"] != "jobanalyses[0].inputFiles" {
			t.Errorf("20001 inputs: %d %.300s", r.Status, r.Body)
		}
	})
	t.Run("bounded integers and names", func(t *testing.T) {
		for name, tt := range map[string]struct{ name, extra, field string }{
			"slots":    {"n", `, "slots": 9223372036854775807`, "jobanalyses[0].hardware.slots"},
			"walltime": {"n", `, "walltime": 9223372036854775807`, "jobanalyses[0].hardware.walltime"},
			"NUL":      {`a\u0000b`, "", "name"},
			"bidi":     {`gnp\u202eexe`, "", "name"},
		} {
			r := job(tt.name, tt.extra, "")
			if r.Status != 400 || r.JSON(t)["field"] != tt.field {
				t.Errorf("%s: %d %s", name, r.Status, r.Body)
			}
		}
	})
	t.Run("body ending early", func(t *testing.T) {
		g := do(t, "POST", s.URL+"/api/credentials/", testKey, nil).JSON(t)
		direct := g["directUrl"].(string) + g["storageDir"].(string) + "/short.bin?grant=" + g["sessionToken"].(string)
		if st, body := shortPut(t, direct); st != 400 || !strings.Contains(body, "ended before its declared length") {
			t.Errorf("storage PUT: %d %s", st, body)
		}
		up := do(t, "POST", s.URL+"/api/v2/uploads/", testKey, strings.NewReader(`{"name": "short.bin", "size": 1000}`)).JSON(t)
		parts := do(t, "POST", s.URL+"/api/v2/uploads/"+up["id"].(string)+"/parts/", testKey, strings.NewReader(`{"partNumbers": [1]}`)).JSON(t)
		part := at(t, parts, "parts", 0, "url").(string)
		if st, body := shortPut(t, part); st != 400 || !strings.Contains(body, "ended before its declared length") {
			t.Errorf("upload part: %d %s", st, body)
		}
	})
	t.Run("grants and part URLs end with their key", func(t *testing.T) {
		k := do(t, "POST", s.URL+"/api/v2/users/me/api-keys/", testKey, nil).JSON(t)
		second := k["key"].(string)
		g := do(t, "POST", s.URL+"/api/credentials/", second, nil).JSON(t)
		direct := g["directUrl"].(string) + g["storageDir"].(string) + "/revoked.txt?grant=" + g["sessionToken"].(string)
		up := do(t, "POST", s.URL+"/api/v2/uploads/", second, strings.NewReader(`{"name": "revoked.bin", "size": 3}`)).JSON(t)
		part := at(t, do(t, "POST", s.URL+"/api/v2/uploads/"+up["id"].(string)+"/parts/", second, strings.NewReader(`{"partNumbers": [1]}`)).JSON(t), "parts", 0, "url").(string)
		if st, _ := putURL(t, direct, []byte("ok")); st != 200 {
			t.Fatalf("grant before revocation: %d", st)
		}
		if r := do(t, "DELETE", s.URL+"/api/v2/users/me/api-keys/"+k["id"].(string)+"/", testKey, nil); r.Status != 204 {
			t.Fatalf("delete key: %d %s", r.Status, r.Body)
		}
		if st, _ := putURL(t, direct, []byte("no")); st != 403 {
			t.Errorf("grant PUT after its key was deleted: %d", st)
		}
		if r := do(t, "GET", direct, "", nil); r.Status != 403 {
			t.Errorf("grant GET after its key was deleted: %d", r.Status)
		}
		if st, _ := putURL(t, part, []byte("abc")); st != 403 {
			t.Errorf("part URL after its key was deleted: %d", st)
		}
	})
	t.Run("registered objects are not overwritten through grants", func(t *testing.T) {
		g := do(t, "POST", s.URL+"/api/credentials/", testKey, nil).JSON(t)
		direct := func(rel string) string {
			return g["directUrl"].(string) + g["storageDir"].(string) + "/" + rel + "?grant=" + g["sessionToken"].(string)
		}
		if st, _ := putURL(t, direct("over/write.txt"), []byte("first version\n")); st != 200 {
			t.Fatalf("first PUT: %d", st)
		}
		var reg map[string]any
		for i := 0; i < 100 && reg == nil; i++ {
			if l := do(t, "GET", s.URL+"/api/v2/files/?search=write.txt", testKey, nil).JSON(t); l["count"].(float64) == 1 {
				reg = at(t, l, "results", 0).(map[string]any)
			} else {
				time.Sleep(50 * time.Millisecond)
			}
		}
		if reg == nil {
			t.Fatal("direct upload not registered")
		}
		if st, _ := putURL(t, direct("over/write.txt"), []byte("v2")); st != 409 {
			t.Errorf("overwrite of a registered object: %d", st)
		}
		// An API upload's object is a registered object too.
		api := do(t, "GET", s.URL+"/api/v2/files/"+file+"/", testKey, nil).JSON(t)
		key := strings.TrimPrefix(api["path"].(string), g["storageDir"].(string)+"/")
		if st, _ := putURL(t, direct(key), []byte("replaced")); st != 409 {
			t.Errorf("overwrite of an API upload's object %s: %d", key, st)
		}
		for id, want := range map[string]string{reg["id"].(string): "first version\n", file: "a\nb\n"} {
			r := do(t, "GET", s.URL+"/api/v2/files/"+id+"/contents/", testKey, nil)
			if r.Status != 200 || string(r.Body) != want || r.Header.Get("Content-Length") != fmt.Sprint(len(want)) {
				t.Errorf("download %s: %d %q (Content-Length %s)", id, r.Status, r.Body, r.Header.Get("Content-Length"))
			}
		}
	})
	t.Run("lines pages keep memory flat", func(t *testing.T) {
		status := fmt.Sprintf("/proc/%d/status", s.cmd.Process.Pid)
		if _, err := os.Stat(status); err != nil {
			t.Skip("no /proc: RSS cannot be read here")
		}
		const size = 64 << 20
		big := uploadInto(t, s, testKey, "", "no-newlines.log", strings.Repeat("0123456789abcdef", size/16)).JSON(t)["id"].(string)
		before := memKB(t, status, "VmHWM:")
		var wg sync.WaitGroup
		for range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r := do(t, "GET", s.URL+"/api/v2/files/"+big+"/lines/?page_size=10000", testKey, nil)
				if r.Status != 200 || len(r.Body) > 64<<10 {
					t.Errorf("lines of a %d MiB line: %d, %d bytes", size>>20, r.Status, len(r.Body))
				}
			}()
		}
		wg.Wait()
		if grew := memKB(t, status, "VmHWM:") - before; grew > 32<<10 {
			t.Errorf("peak RSS grew by %d MiB for four pages of a %d MiB line", grew>>10, size>>20)
		}
	})
	t.Run("echoed values are clipped", func(t *testing.T) {
		long := strings.Repeat("p", 30000) // the request line must fit the 64 KiB header limit
		r := do(t, "GET", s.URL+"/api/v2/jobs/?page="+long, testKey, nil)
		if r.Status != 400 || len(r.Body) > 2048 {
			t.Errorf("30 kB page value: %d, %d-byte body", r.Status, len(r.Body))
		}
		r = job("n", `, "coreType": "`+long+`"`, "")
		if r.Status != 400 || len(r.Body) > 2048 {
			t.Errorf("30 kB coretype: %d, %d-byte body", r.Status, len(r.Body))
		}
	})
}
