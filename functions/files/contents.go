package files

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"path"
	"strings"
	"unicode/utf8"

	"github.com/openrescale/platform/shared/errs"
	"github.com/openrescale/platform/shared/files"
	"github.com/openrescale/platform/shared/httpapi"
)

// Download is GET and HEAD /api/v2/files/{id}/contents/. http.ServeContent
// does RFC 7233 single and multiple ranges, HEAD and the conditional
// headers; the blob is read lazily, range by range, never whole.
func (h Handlers) Download(w http.ResponseWriter, r *http.Request) error {
	_, f, err := h.lookup(r)
	if err != nil {
		return err
	}
	if !f.IsUploaded {
		return errs.E(errs.Conflict, "file %s has not finished uploading", f.ID)
	}
	if r.Method == http.MethodGet && h.Redirect.Above > 0 && f.Size > h.Redirect.Above {
		u, err := h.Files.DownloadURL(r.Context(), f, h.Redirect.TTL)
		if err != nil {
			return err
		}
		if u != "" {
			http.Redirect(w, r, u, http.StatusFound)
			return nil
		}
	}
	// Locally the object's own file is served: net/http then sends it with
	// sendfile, never copying it through this process.
	var content io.ReadSeeker
	stored := int64(-1)
	if osf, ok, err := h.Files.OpenFile(r.Context(), f); err != nil {
		return err
	} else if ok {
		defer osf.Close()
		info, err := osf.Stat()
		if err != nil {
			return err
		}
		content, stored = osf, info.Size()
	} else {
		a, err := h.Files.Bucket.Stat(r.Context(), f.Key)
		if err != nil {
			return err
		}
		bs := &blobSeeker{ctx: r.Context(), svc: h.Files, f: f}
		defer bs.Close()
		content, stored = bs, a.Size
	}
	// The record's size is the Content-Length; an object overwritten
	// behind the record's back (storage credentials in AWS) must not be
	// served under it until the storage event has re-registered it.
	if stored != f.Size {
		return errs.E(errs.Conflict, "file %s changed in storage after it was uploaded (%d bytes recorded, %d stored) and is being registered again; retry shortly", f.ID, f.Size, stored)
	}
	hd := w.Header()
	hd.Set("Content-Type", downloadType(f))
	hd.Set("Content-Disposition", contentDisposition(f.Name))
	if f.MD5 != "" {
		hd.Set("ETag", `"`+f.MD5+`"`)
	}
	ew := &errorJSON{ResponseWriter: w}
	http.ServeContent(ew, r, "", f.DateUploaded, content)
	if ew.status != 0 {
		// ServeContent's 412 and 416 are plain text; the API's errors are
		// JSON. Content-Range ("bytes */size") stays for 416.
		hd.Del("Content-Disposition")
		hd.Del("X-Content-Type-Options")
		detail := strings.TrimSpace(ew.msg.String())
		if detail == "" {
			detail = http.StatusText(ew.status)
		}
		httpapi.WriteJSON(w, ew.status, httpapi.ErrorBody{Detail: detail})
	}
	return nil
}

// errorJSON holds back an error status and its text from ServeContent.
type errorJSON struct {
	http.ResponseWriter
	status int
	msg    bytes.Buffer
}

func (e *errorJSON) WriteHeader(code int) {
	if code >= 400 {
		e.status = code
		return
	}
	e.ResponseWriter.WriteHeader(code)
}

func (e *errorJSON) Write(b []byte) (int, error) {
	if e.status != 0 {
		if e.msg.Len() < 1024 {
			e.msg.Write(b)
		}
		return len(b), nil
	}
	return e.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection.
func (e *errorJSON) Unwrap() http.ResponseWriter { return e.ResponseWriter }

// ReadFrom keeps net/http's sendfile path open through this wrapper: an
// *os.File body goes to the socket without passing through the process.
func (e *errorJSON) ReadFrom(src io.Reader) (int64, error) {
	if rf, ok := e.ResponseWriter.(io.ReaderFrom); ok && e.status == 0 {
		return rf.ReadFrom(src)
	}
	return io.Copy(struct{ io.Writer }{e}, src)
}

func downloadType(f files.File) string {
	if f.ContentType != "" {
		return f.ContentType
	}
	if t := mime.TypeByExtension(path.Ext(f.Name)); t != "" {
		return t
	}
	return "application/octet-stream"
}

// contentDisposition names the download twice: filename* (RFC 6266/5987)
// for the exact UTF-8 name, and a plain ASCII filename for old clients.
func contentDisposition(name string) string {
	ascii := strings.Map(func(r rune) rune {
		if r < 0x20 || r >= 0x7f || r == '"' || r == '\\' {
			return '_'
		}
		return r
	}, name)
	return `attachment; filename="` + ascii + `"; filename*=UTF-8''` + extValue(name)
}

// extValue percent-encodes all but RFC 5987's attr-char.
func extValue(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("!#$&+-.^_`|~", c) >= 0 {
			b.WriteByte(c)
			continue
		}
		fmt.Fprintf(&b, "%%%02X", c)
	}
	return b.String()
}

// blobSeeker is an io.ReadSeeker over a stored file that opens a ranged
// reader at the current offset on the first Read after a Seek, so
// ServeContent's seeks (to learn the size, to start each range) cost no
// I/O and nothing is buffered beyond one read.
type blobSeeker struct {
	ctx context.Context
	svc *files.Service
	f   files.File
	off int64
	rc  io.ReadCloser
	at  int64 // offset rc will read next
}

func (s *blobSeeker) Read(p []byte) (int, error) {
	if s.off >= s.f.Size {
		return 0, io.EOF
	}
	if s.rc != nil && s.at != s.off {
		s.rc.Close()
		s.rc = nil
	}
	if s.rc == nil {
		rc, err := s.svc.Open(s.ctx, s.f, s.off, -1)
		if err != nil {
			return 0, err
		}
		s.rc, s.at = rc, s.off
	}
	n, err := s.rc.Read(p)
	s.off += int64(n)
	s.at += int64(n)
	if errors.Is(err, io.EOF) && s.off < s.f.Size {
		err = io.ErrUnexpectedEOF // the blob is shorter than its record
	}
	return n, err
}

func (s *blobSeeker) Seek(offset int64, whence int) (int64, error) {
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		offset += s.off
	case io.SeekEnd:
		offset += s.f.Size
	default:
		return 0, errors.New("blobSeeker: bad whence")
	}
	if offset < 0 {
		return 0, errors.New("blobSeeker: negative offset")
	}
	s.off = offset
	return offset, nil
}

// Close releases the open range reader, if any.
func (s *blobSeeker) Close() error {
	if s.rc == nil {
		return nil
	}
	err := s.rc.Close()
	s.rc = nil
	return err
}

// Lines paging: a page of lines, like a page of records, bounded in bytes
// so that no request holds (or sends) more than a few MiB whatever the file.
const (
	defaultLinePage = 1000
	maxLinePage     = 10000
	// maxLine cuts a longer line (on a UTF-8 boundary); the page's
	// "truncated" lists it. A line still counts as one line however long.
	maxLine = 16 << 10
	// maxLinePageBytes is the line text one page sends: once it is spent,
	// the page's remaining lines come cut (to "" at worst) and are listed
	// as truncated too, so page numbers still count whole lines.
	maxLinePageBytes = 4 << 20
	// sniffSize is how much of the start decides text or binary.
	sniffSize = 8 << 10
)

// Lines is GET /api/v2/files/{id}/lines/: {"lines": [...]} as the spec
// shows, plus "truncated" (indices of cut lines, when any) and "next". The
// file is read as a stream and the page is written as it is read, so memory
// stays at a buffer's worth whatever the page size or line length.
func (h Handlers) Lines(w http.ResponseWriter, r *http.Request) error {
	_, f, err := h.lookup(r)
	if err != nil {
		return err
	}
	if !f.IsUploaded {
		return errs.E(errs.Conflict, "file %s has not finished uploading", f.ID)
	}
	page, size, err := linePage(r)
	if err != nil {
		return err
	}
	rc, err := h.Files.Open(r.Context(), f, 0, -1)
	if err != nil {
		return err
	}
	defer rc.Close()
	br := bufio.NewReaderSize(rc, 64<<10)
	head, err := br.Peek(sniffSize)
	if err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	if binary(head, len(head) == sniffSize) {
		return errs.E(errs.Invalid, "file %s is not a plain text file; download it from its downloadUrl", f.ID)
	}
	buf := make([]byte, 0, maxLine)
	skip := int64(page-1) * int64(size) // ParsePageSizes keeps this far from overflow
	for i := int64(0); i < skip; i++ {
		if _, _, err := readLine(br, buf, 0); err != nil {
			if errors.Is(err, io.EOF) {
				return errs.E(errs.NotFound, "Invalid page.")
			}
			return err
		}
	}
	budget := maxLinePageBytes
	line, cut, err := readLine(br, buf, min(maxLine, budget))
	if errors.Is(err, io.EOF) && page > 1 {
		return errs.E(errs.NotFound, "Invalid page.")
	}
	if err != nil && !errors.Is(err, io.EOF) {
		return err
	}

	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	out := bufio.NewWriterSize(w, 32<<10)
	out.WriteString(`{"lines":[`)
	var truncated []int
	n := 0 // lines written
	for err == nil {
		if n > 0 {
			out.WriteByte(',')
		}
		writeJSONString(out, line)
		if cut {
			truncated = append(truncated, n)
		}
		n++
		budget -= len(line)
		if n == size {
			break
		}
		line, cut, err = readLine(br, buf, min(maxLine, budget))
	}
	if err != nil && !errors.Is(err, io.EOF) {
		// The status is sent: end the response broken rather than let a
		// short page look complete.
		panic(http.ErrAbortHandler)
	}
	out.WriteByte(']')
	if len(truncated) > 0 {
		out.WriteString(`,"truncated":`)
		b, _ := json.Marshal(truncated)
		out.Write(b)
	}
	if n == size {
		if _, perr := br.Peek(1); perr == nil {
			out.WriteString(`,"next":`)
			writeJSONString(out, []byte(h.Base.PageURL(r, page+1)))
		}
	}
	out.WriteString("}\n")
	return out.Flush()
}

// writeJSONString writes b as a JSON string, without the HTML escaping
// encoding/json does by default (as httpapi.WriteJSON renders).
func writeJSONString(w *bufio.Writer, b []byte) {
	var sb bytes.Buffer
	enc := json.NewEncoder(&sb)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(string(b))
	w.Write(bytes.TrimSuffix(sb.Bytes(), []byte("\n")))
}

// readLine reads one line, with its "\n", keeping at most limit bytes of it
// in dst's storage (cut on a UTF-8 boundary; cut reports that anything was
// dropped). The rest of a long line is read through, not kept. io.EOF only
// when nothing is left.
func readLine(br *bufio.Reader, dst []byte, limit int) (line []byte, cut bool, err error) {
	dst = dst[:0]
	read := false
	for {
		frag, err := br.ReadSlice('\n')
		read = read || len(frag) > 0
		if room := limit - len(dst); room > 0 {
			take := min(room, len(frag))
			dst = append(dst, frag[:take]...)
			cut = cut || take < len(frag)
		} else if len(frag) > 0 {
			cut = true
		}
		switch {
		case err == nil, errors.Is(err, io.EOF) && read:
			if cut {
				dst = dst[:runeCut(dst)]
			}
			return dst, cut, nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		default:
			return nil, false, err
		}
	}
}

// runeCut is the length of b without a multi-byte rune cut short at its end.
func runeCut(b []byte) int {
	for i := len(b) - 1; i > 0 && i >= len(b)-utf8.UTFMax; i-- {
		if utf8.RuneStart(b[i]) {
			if utf8.FullRune(b[i:]) {
				return len(b)
			}
			return i
		}
	}
	return len(b)
}

// binary reports bytes that are not text: a NUL, or invalid UTF-8 (a
// multi-byte sequence cut by the end of the sample is not held against it).
func binary(b []byte, truncated bool) bool {
	for i := 0; i < len(b); {
		if b[i] == 0 {
			return true
		}
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n <= 1 {
			if truncated && len(b)-i < utf8.UTFMax && !utf8.FullRune(b[i:]) {
				return false
			}
			return true
		}
		i += n
	}
	return false
}

func linePage(r *http.Request) (page, size int, err error) {
	p, err := httpapi.ParsePageSizes(r, httpapi.PageSizes{Default: defaultLinePage, Max: maxLinePage})
	return p.Page, p.Size, err
}
