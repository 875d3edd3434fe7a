// Package credentials serves POST /api/credentials/ (spec 000, and its
// /api/v2/ twin): temporary storage credentials for the caller's own
// storage directory, and locally the direct-transfer route those
// credentials are good for.
package credentials

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/openrescale/platform/shared/blob"
	"github.com/openrescale/platform/shared/errs"
	"github.com/openrescale/platform/shared/files"
	"github.com/openrescale/platform/shared/httpapi"
	"github.com/openrescale/platform/shared/storagecreds"
)

// Handlers serve the credentials routes.
type Handlers struct {
	Issuer storagecreds.Issuer
	Base   httpapi.BaseURL
}

// pathList accepts the spec's [{"path": "..."}] and, for convenience, a
// plain list of strings.
type pathList []string

func (p *pathList) UnmarshalJSON(b []byte) error {
	var raw []json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return &httpapi.FieldError{Field: "paths", Msg: "expected a list of {\"path\": ...}"}
	}
	for _, r := range raw {
		var s string
		if json.Unmarshal(r, &s) == nil {
			*p = append(*p, s)
			continue
		}
		var o struct {
			Path string `json:"path"`
		}
		if err := json.Unmarshal(r, &o); err != nil || o.Path == "" {
			return &httpapi.FieldError{Field: "paths", Msg: "each entry needs a \"path\""}
		}
		*p = append(*p, o.Path)
	}
	return nil
}

type response struct {
	storagecreds.Grant
	// DirectURL is set locally: where the grant is accepted
	// (PUT/GET <directUrl><key>?grant=<sessionToken>).
	DirectURL string `json:"directUrl,omitempty"`
}

// Create issues credentials: 201 with spec 000's body.
func (h Handlers) Create(w http.ResponseWriter, r *http.Request) error {
	me, err := httpapi.Caller(r)
	if err != nil {
		return err
	}
	var body struct {
		Paths pathList `json:"paths"`
	}
	if err := httpapi.DecodeJSON(w, r, &body); err != nil {
		return err
	}
	if h.Issuer == nil {
		return errs.E(errs.Unavailable, "storage credentials are not configured on this deployment")
	}
	g, err := h.Issuer.Issue(r.Context(), me.UserID, me.KeyID, body.Paths)
	if err != nil {
		return err
	}
	out := response{Grant: g}
	if g.DirectPath != "" {
		out.DirectURL = h.Base.URL(r, g.DirectPath)
	}
	httpapi.WriteJSON(w, http.StatusCreated, out)
	return nil
}

// Direct serves the local direct-transfer route, where a grant stands in
// for the S3 credentials: PUT streams the body into the key, GET streams it
// back. The route is public; the grant is the authorisation.
type Direct struct {
	Grants *storagecreds.Local
	Bucket blob.Bucket
	// Keys refuses grants whose user or issuing key is no longer active.
	Keys storagecreds.KeyChecker
	// Records finds the file record of a key (files.Repo): an object that
	// is a file's bytes is not overwritten, or the record would describe
	// other bytes than downloads serve.
	Records interface {
		ByKey(ctx context.Context, key string) (files.File, error)
	}
}

func (d Direct) authorize(r *http.Request) (string, error) {
	// The router adds a trailing slash to every /api/ path; keys have none.
	key := strings.TrimSuffix(r.PathValue("key"), "/")
	if !blob.ValidKey(key) {
		return "", errs.Field("key", "invalid storage path %q", key)
	}
	token := r.URL.Query().Get("grant")
	if token == "" {
		token = r.Header.Get("X-Amz-Security-Token")
	}
	c, err := d.Grants.Authorize(token, key)
	if err != nil {
		return "", err
	}
	if d.Keys == nil {
		return "", errs.E(errs.Unavailable, "storage grants cannot be checked on this server")
	}
	if err := c.Check(r.Context(), d.Keys); err != nil {
		return "", err
	}
	return key, nil
}

// Put stores the request body at the key.
func (d Direct) Put(w http.ResponseWriter, r *http.Request) error {
	key, err := d.authorize(r)
	if err != nil {
		return err
	}
	if d.Records != nil {
		f, err := d.Records.ByKey(r.Context(), key)
		if err == nil {
			return errs.E(errs.Conflict, "%q holds the bytes of file %s; write to a new path, or delete the file first", errs.Clip(key), f.ID)
		}
		if !errs.Is(err, errs.NotFound) {
			return err
		}
	}
	a, err := d.Bucket.Put(r.Context(), key, r.Body, r.Header.Get("Content-Type"))
	if err != nil {
		return err
	}
	w.Header().Set("Last-Modified", a.ModTime.UTC().Format(http.TimeFormat))
	httpapi.WriteJSON(w, http.StatusOK, map[string]any{"path": key, "size": a.Size})
	return nil
}

// Get streams the object at the key.
func (d Direct) Get(w http.ResponseWriter, r *http.Request) error {
	key, err := d.authorize(r)
	if err != nil {
		return err
	}
	a, err := d.Bucket.Stat(r.Context(), key)
	if err != nil {
		return err
	}
	rc, err := d.Bucket.NewRangeReader(r.Context(), key, 0, -1)
	if err != nil {
		return err
	}
	defer rc.Close()
	w.Header().Set("Content-Type", a.ContentType)
	w.Header().Set("Content-Length", strconv.FormatInt(a.Size, 10))
	w.Header().Set("Last-Modified", a.ModTime.UTC().Format(http.TimeFormat))
	w.WriteHeader(http.StatusOK)
	_, _ = io.Copy(w, rc) // headers are sent; a broken connection is the client's
	return nil
}
