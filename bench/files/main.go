// Command files measures the files API end to end: it builds and starts the
// real rescale-local server, uploads a large file through
// POST /api/v2/files/contents/ (multipart, streamed), downloads it again
// from GET /api/v2/files/{id}/contents/, and reports both throughputs as a
// ratio to a plain disk copy of the same file made in the same run, plus
// the server's peak resident memory (VmHWM).
//
//	go run ./bench/files              # 1 GiB
//	go run ./bench/files -size 256MiB
package main

import (
	"bufio"
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"mime/multipart"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
)

const key = "rsk_benchFixedKeyForTheDefaultUser0123456789"

func main() {
	size := flag.String("size", "1GiB", "file size (e.g. 1GiB, 256MiB)")
	dir := flag.String("dir", "", "scratch directory (default: a new temp dir, removed after)")
	flag.Parse()
	n, err := parseSize(*size)
	if err != nil {
		fail(err)
	}
	if err := run(n, *dir); err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "bench:", err)
	os.Exit(1)
}

func parseSize(s string) (int64, error) {
	mult := int64(1)
	for suffix, m := range map[string]int64{"GiB": 1 << 30, "MiB": 1 << 20, "KiB": 1 << 10} {
		if strings.HasSuffix(s, suffix) {
			s, mult = strings.TrimSuffix(s, suffix), m
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("bad -size %q", s)
	}
	return n * mult, nil
}

func run(size int64, dir string) error {
	if dir == "" {
		d, err := os.MkdirTemp("", "files-bench")
		if err != nil {
			return err
		}
		defer os.RemoveAll(d)
		dir = d
	}
	bin := filepath.Join(dir, "rescale-local")
	if out, err := exec.Command("go", "build", "-o", bin, "./cmd/rescale-local").CombinedOutput(); err != nil {
		return fmt.Errorf("build (run from the repository root): %v\n%s", err, out)
	}
	src := filepath.Join(dir, "input.bin")
	sum, err := writeRandom(src, size)
	if err != nil {
		return err
	}

	copyTime, err := timed(func() error { return copyFile(src, filepath.Join(dir, "copy.bin")) })
	if err != nil {
		return err
	}
	os.Remove(filepath.Join(dir, "copy.bin"))

	srv, err := startServer(bin, filepath.Join(dir, "data"))
	if err != nil {
		return err
	}
	defer srv.Process.Kill()

	var id, md5sum string
	upTime, err := timed(func() error {
		var err error
		id, md5sum, err = upload(srv.url, src)
		return err
	})
	if err != nil {
		return err
	}
	if md5sum != sum {
		return fmt.Errorf("server md5 %s, file md5 %s", md5sum, sum)
	}
	dst := filepath.Join(dir, "download.bin")
	downTime, err := timed(func() error { return download(srv.url+"/api/v2/files/"+id+"/contents/", dst) })
	if err != nil {
		return err
	}
	if got, err := fileMD5(dst); err != nil || got != sum {
		return fmt.Errorf("downloaded md5 %s (%v), want %s", got, err, sum)
	}
	hwm, err := vmHWM(srv.Process.Pid)
	if err != nil {
		return err
	}

	mb := float64(size) / (1 << 20)
	rate := func(d time.Duration) float64 { return mb / d.Seconds() }
	fmt.Printf("file size:        %s\n", human(size))
	fmt.Printf("disk copy:        %7.1f MiB/s (%v)\n", rate(copyTime), copyTime.Round(time.Millisecond))
	fmt.Printf("API upload:       %7.1f MiB/s (%v), %.2f x disk copy\n", rate(upTime), upTime.Round(time.Millisecond), copyTime.Seconds()/upTime.Seconds())
	fmt.Printf("API download:     %7.1f MiB/s (%v), %.2f x disk copy\n", rate(downTime), downTime.Round(time.Millisecond), copyTime.Seconds()/downTime.Seconds())
	fmt.Printf("server peak RSS:  %s (VmHWM)\n", hwm)
	return nil
}

func human(n int64) string {
	if n >= 1<<30 && n%(1<<30) == 0 {
		return fmt.Sprintf("%d GiB", n>>30)
	}
	return fmt.Sprintf("%d MiB", n>>20)
}

func timed(fn func() error) (time.Duration, error) {
	start := time.Now()
	err := fn()
	return time.Since(start), err
}

// writeRandom writes incompressible bytes and returns their md5.
func writeRandom(path string, size int64) (string, error) {
	f, err := os.Create(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := md5.New()
	rng := rand.NewChaCha8([32]byte{1, 2, 3})
	buf := make([]byte, 1<<20)
	for left := size; left > 0; {
		n := min(int64(len(buf)), left)
		_, _ = rng.Read(buf[:n])
		if _, err := f.Write(buf[:n]); err != nil {
			return "", err
		}
		h.Write(buf[:n])
		left -= n
	}
	if err := f.Sync(); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), f.Close()
}

// copyFile is the baseline: what the server's storage does at best (read,
// write, fsync), without HTTP, multipart or hashing.
func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	defer out.Close()
	// Plain read/write, as the server's storage does; io.Copy between
	// files would use copy_file_range and skip user space entirely.
	if _, err := io.CopyBuffer(struct{ io.Writer }{out}, struct{ io.Reader }{in}, make([]byte, 1<<20)); err != nil {
		return err
	}
	if err := out.Sync(); err != nil {
		return err
	}
	return out.Close()
}

func fileMD5(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := md5.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

type server struct {
	*exec.Cmd
	url string
}

func startServer(bin, data string) (*server, error) {
	cmd := exec.Command(bin, "serve", "--addr", "127.0.0.1:0", "--data", data, "--rate-limit", "0")
	cmd.Env = append(os.Environ(), "RESCALE_LOCAL_API_KEY="+key)
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	urlc := make(chan string, 1)
	go func() {
		re := regexp.MustCompile(`listening on (http://\S+)`)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if m := re.FindStringSubmatch(sc.Text()); m != nil {
				urlc <- m[1]
			}
		}
	}()
	select {
	case u := <-urlc:
		return &server{Cmd: cmd, url: u}, nil
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		return nil, errors.New("server did not start")
	}
}

// upload streams the file as multipart, as curl -F does, without holding
// it in memory.
func upload(base, path string) (id, sum string, err error) {
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	go func() {
		f, err := os.Open(path)
		if err != nil {
			pw.CloseWithError(err)
			return
		}
		defer f.Close()
		part, err := mw.CreateFormFile("file", filepath.Base(path))
		if err == nil {
			_, err = io.CopyBuffer(part, f, make([]byte, 1<<20))
		}
		if err == nil {
			err = mw.Close()
		}
		pw.CloseWithError(err)
	}()
	req, err := http.NewRequestWithContext(context.Background(), "POST", base+"/api/v2/files/contents/", pr)
	if err != nil {
		return "", "", err
	}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Authorization", "Token "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", "", err
	}
	defer resp.Body.Close()
	var f struct {
		ID  string `json:"id"`
		MD5 string `json:"md5"`
	}
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusCreated {
		return "", "", fmt.Errorf("upload: %d %s", resp.StatusCode, body)
	}
	if err := json.Unmarshal(body, &f); err != nil {
		return "", "", err
	}
	return f.ID, f.MD5, nil
}

func download(url, dst string) error {
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Token "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("download: %d", resp.StatusCode)
	}
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	defer out.Close()
	if _, err := io.CopyBuffer(struct{ io.Writer }{out}, resp.Body, make([]byte, 1<<20)); err != nil {
		return err
	}
	if err := out.Sync(); err != nil {
		return err
	}
	return out.Close()
}

// vmHWM reads the process's peak resident set size from /proc (Linux).
func vmHWM(pid int) (string, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return "", fmt.Errorf("read peak RSS (Linux only): %w", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			return strings.TrimSpace(v), nil
		}
	}
	return "", errors.New("no VmHWM in /proc status")
}
