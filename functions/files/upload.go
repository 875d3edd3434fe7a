package files

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"path"
	"strconv"
	"strings"

	"github.com/openrescale/platform/shared/errs"
	"github.com/openrescale/platform/shared/files"
	"github.com/openrescale/platform/shared/httpapi"
)

const (
	// maxPartHeader caps one part's headers. multipart.Reader's own cap is
	// 10 MiB per part, far more than any client sends.
	maxPartHeader = 16 << 10
	// maxField caps a form field's value (current_folder_id, type_id).
	maxField = 4 << 10
	// multipartOverhead is what a body may carry beside the file itself:
	// boundaries, part headers and small fields.
	multipartOverhead = 1 << 20
	// maxBoundary is generous: RFC 2046 allows 70 characters.
	maxBoundary = 200
)

// Upload is POST and PUT /api/v2/files/contents/: a multipart form whose
// part "file" is streamed into storage as it arrives (never buffered
// whole), with optional fields current_folder_id and type_id.
func (h Handlers) Upload(w http.ResponseWriter, r *http.Request) error {
	me, err := httpapi.Caller(r)
	if err != nil {
		return err
	}
	if limit := h.Files.MaxFileBytes; limit > 0 {
		if r.ContentLength > limit+multipartOverhead {
			return errs.E(errs.TooLarge, "file exceeds the maximum upload size of %d bytes", limit)
		}
		r.Body = http.MaxBytesReader(w, r.Body, limit+multipartOverhead)
	}
	budget := &headerBudget{r: r.Body, left: -1}
	mr, err := multipartReader(r, budget)
	if err != nil {
		return err
	}
	u := &upload{h: h, ctx: r.Context(), owner: files.Owner{UserID: me.UserID, Email: me.Email}}
	f, err := u.run(mr, budget)
	if err != nil {
		if u.file != nil {
			// The request failed after the file was stored (a bad field
			// after it, a truncated tail): leave nothing behind.
			_ = h.Files.Delete(context.WithoutCancel(r.Context()), *u.file)
		}
		return err
	}
	httpapi.WriteJSON(w, http.StatusCreated, h.render(r, f))
	return nil
}

// multipartReader finds the boundary in the Content-Type, or else on the
// body's first line: the spec's own examples send "multipart/form-data"
// without a boundary (curl -H overrides curl's header) and even
// "application/json" over a multipart body (requests with files=).
func multipartReader(r *http.Request, body io.Reader) (*multipart.Reader, error) {
	mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err == nil && strings.HasPrefix(mt, "multipart/") && params["boundary"] != "" {
		return multipart.NewReader(body, params["boundary"]), nil
	}
	br := bufio.NewReaderSize(body, 512)
	head, _ := br.Peek(maxBoundary + 4)
	if i := bytes.IndexByte(head, '\n'); i > 0 {
		line := bytes.TrimRight(head[:i], " \t\r")
		if b := string(line); strings.HasPrefix(b, "--") && len(b) > 2 && !strings.ContainsAny(b, " \t") {
			return multipart.NewReader(br, b[2:]), nil
		}
	}
	return nil, errs.Field("file", "expected a multipart/form-data body with the file in a part named 'file'")
}

// upload is one request's parse state.
type upload struct {
	h     Handlers
	ctx   context.Context
	owner files.Owner
	file  *files.File // stored, once the file part is read

	folder, typeID       string // field values
	hasFolder, hasTypeID bool
	folderDone           bool // the folder field came before the file
}

func (u *upload) run(mr *multipart.Reader, budget *headerBudget) (files.File, error) {
	for {
		budget.arm(maxPartHeader)
		p, err := mr.NextPart()
		budget.disarm()
		if err == io.EOF {
			break
		}
		if err != nil {
			return files.File{}, partError(err, budget)
		}
		if err := u.part(p); err != nil {
			return files.File{}, err
		}
		// Drain here, unlimited, so the next NextPart's header budget is
		// spent on headers only.
		if _, err := io.Copy(io.Discard, p); err != nil {
			return files.File{}, partError(err, budget)
		}
	}
	if u.file == nil {
		return files.File{}, errs.Field("file", "No file was submitted: send it in a multipart part named 'file'.")
	}
	return u.finish()
}

// part handles one part: the first "file" is stored, the two fields are
// kept, anything else is skipped.
func (u *upload) part(p *multipart.Part) error {
	switch p.FormName() {
	case "file":
		if u.file != nil {
			return nil // only the first file part counts
		}
		return u.store(p)
	case "current_folder_id":
		v, err := fieldValue(p, "current_folder_id")
		u.folder, u.hasFolder = v, true
		return err
	case "type_id":
		v, err := fieldValue(p, "type_id")
		u.typeID, u.hasTypeID = v, true
		return err
	}
	return nil
}

func (u *upload) store(p *multipart.Part) error {
	name, err := partFileName(p)
	if err != nil {
		return err
	}
	typeID := 0
	switch {
	case u.hasTypeID:
		typeID, err = parseTypeID(u.typeID)
	case p.Header.Get("type_id") != "":
		typeID, err = parseTypeID(p.Header.Get("type_id"))
	case strings.Contains(p.Header.Get("Content-Type"), "type_id"):
		// requests sends files={'file': (name, f, {'type_id': 1})} as the
		// part's Content-Type "{'type_id': 1}".
		typeID, err = parseTypeID(p.Header.Get("Content-Type"))
	}
	if err != nil {
		return err
	}
	// The folder must be known before the bytes go anywhere; when the
	// field comes after the file (curl -F in the spec's order) the file
	// goes to the library root first and moves in finish.
	folder, err := u.resolveFolder(u.folder)
	if err != nil {
		return err
	}
	body := &partBody{r: p}
	f, err := u.h.Files.Upload(u.ctx, files.UploadRequest{
		Owner: u.owner, Name: name, TypeID: typeID, FolderID: folder,
		ContentType: partContentType(p, name), Body: body,
	})
	if err != nil {
		if body.err != nil {
			return body.err
		}
		return err
	}
	u.file = &f
	u.folderDone = u.hasFolder
	return nil
}

// finish applies fields that arrived after the file part.
func (u *upload) finish() (files.File, error) {
	f := *u.file
	var folder string
	var typeID int
	var err error
	moved := u.hasFolder && !u.folderDone
	if moved {
		if folder, err = u.resolveFolder(u.folder); err != nil {
			return f, err
		}
	}
	if u.hasTypeID {
		if typeID, err = parseTypeID(u.typeID); err != nil {
			return f, err
		}
	}
	if (!moved || folder == f.FolderID) && (!u.hasTypeID || typeID == f.TypeID) {
		return f, nil
	}
	return u.h.Files.Update(u.ctx, f.OwnerID, f.ID, func(g *files.File) error {
		if moved {
			g.FolderID = folder
		}
		if u.hasTypeID {
			g.TypeID = typeID
		}
		return nil
	})
}

// resolveFolder maps current_folder_id to the folder to store, "" being
// MyLibrary's root.
func (u *upload) resolveFolder(raw string) (string, error) {
	// curl -F 'current_folder_id="abc"' (the spec's form) may keep quotes.
	id := strings.Trim(strings.TrimSpace(raw), `"'`)
	if u.h.Folders == nil {
		if id == "" {
			return "", nil
		}
		return "", &errs.Error{Code: errs.NotFound, Field: "current_folder_id", Message: fmt.Sprintf("current_folder_id %q: no such folder", id)}
	}
	folder, err := u.h.Folders.UploadFolder(u.ctx, u.owner.UserID, id)
	switch errs.Code(err) {
	case "":
		return folder, nil
	case errs.NotFound:
		return "", &errs.Error{Code: errs.NotFound, Field: "current_folder_id", Message: fmt.Sprintf("current_folder_id %q: no such folder", id), Err: err}
	case errs.Invalid:
		e, _ := errs.As(err)
		return "", &errs.Error{Code: errs.Invalid, Field: "current_folder_id", Message: fmt.Sprintf("current_folder_id %q: %s", id, e.Message), Err: err}
	}
	return "", fmt.Errorf("resolve current_folder_id %q: %w", id, err)
}

// partFileName returns the file name exactly as sent: Part.FileName would
// strip directories, hiding a "../x" the client must hear about.
func partFileName(p *multipart.Part) (string, error) {
	_, params, err := mime.ParseMediaType(p.Header.Get("Content-Disposition"))
	if err != nil {
		return "", errs.Field("file", "the file part's Content-Disposition is malformed: %v", err)
	}
	name, ok := params["filename"]
	if !ok {
		return "", errs.Field("file", "the file part has no filename")
	}
	if err := files.ValidName(name); err != nil {
		e, _ := errs.As(err)
		return "", errs.Field("file", "file name %q: %s", name, e.Message)
	}
	return name, nil
}

// partContentType is the part's type unless it is the generic one (curl
// sends application/octet-stream for most names, requests none at all);
// then the name's extension decides.
func partContentType(p *multipart.Part, name string) string {
	if ct := p.Header.Get("Content-Type"); ct != "" && len(ct) <= 200 {
		if mt, params, err := mime.ParseMediaType(ct); err == nil && strings.Contains(mt, "/") && mt != "application/octet-stream" {
			return mime.FormatMediaType(mt, params)
		}
	}
	return mime.TypeByExtension(path.Ext(name))
}

// parseTypeID reads a type id from "4", or from a text holding
// "type_id': 4" such as "{'type_id': 4}".
func parseTypeID(s string) (int, error) {
	v := strings.TrimSpace(s)
	if i := strings.Index(v, "type_id"); i >= 0 {
		v = strings.TrimLeft(v[i+len("type_id"):], `"' :=`)
		end := 0
		for end < len(v) && v[end] >= '0' && v[end] <= '9' {
			end++
		}
		v = v[:end]
	}
	n, err := strconv.Atoi(strings.Trim(v, `"'`))
	if err != nil || !files.ValidType(n) {
		return 0, errs.Field("type_id", "type_id must be one of 1-5, 7-10, got %q", s)
	}
	return n, nil
}

func fieldValue(p *multipart.Part, field string) (string, error) {
	b, err := io.ReadAll(io.LimitReader(p, maxField+1))
	if err != nil {
		return "", partError(err, nil)
	}
	if len(b) > maxField {
		return "", errs.Field(field, "%s is longer than %d bytes", field, maxField)
	}
	return string(b), nil
}

// partError turns a failure to read the multipart body into a 4xx.
func partError(err error, budget *headerBudget) error {
	var mbe *http.MaxBytesError
	switch {
	case budget != nil && budget.exceeded:
		return errs.Field("file", "a multipart part's headers exceed %d bytes", maxPartHeader)
	case errors.As(err, &mbe):
		return errs.E(errs.TooLarge, "request body exceeds %d bytes", mbe.Limit)
	case errors.Is(err, multipart.ErrMessageTooLarge):
		return errs.Field("file", "a multipart part has too many headers")
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return &errs.Error{Code: errs.Invalid, Field: "file", Message: "the request body ended before the multipart form was complete", Err: err}
	}
	if _, ok := errs.As(err); ok {
		return err
	}
	return &errs.Error{Code: errs.Invalid, Field: "file", Message: fmt.Sprintf("malformed multipart body: %v", err), Err: err}
}

// partBody reads the file part and keeps its first failure as a 4xx, so
// the client hears why even if the storage adapter reports it otherwise.
type partBody struct {
	r   io.Reader
	err error
}

func (b *partBody) Read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	n, err := b.r.Read(p)
	if err != nil && err != io.EOF {
		b.err = partError(err, nil)
		return n, b.err
	}
	return n, err
}

// headerBudget limits what multipart.Reader may read while it parses a
// part's headers; while disarmed it passes reads through.
type headerBudget struct {
	r        io.Reader
	left     int64 // < 0: disarmed
	exceeded bool
}

func (b *headerBudget) arm(n int64) { b.left = n }
func (b *headerBudget) disarm()     { b.left = -1 }

func (b *headerBudget) Read(p []byte) (int, error) {
	if b.left < 0 {
		return b.r.Read(p)
	}
	if b.left == 0 {
		b.exceeded = true
		return 0, errs.Field("file", "a multipart part's headers exceed %d bytes", maxPartHeader)
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.r.Read(p)
	b.left -= int64(n)
	return n, err
}
