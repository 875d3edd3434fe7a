package files

import (
	"bytes"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/openrescale/platform/shared/errs"
	"github.com/openrescale/platform/shared/httpapi"
)

// patchRequest holds the writable fields of a File.
type patchRequest struct {
	Name   *string      `json:"name"`
	TypeID *httpapi.Int `json:"typeId"`
}

// decodePatch reads a JSON body, or a form-encoded one: the spec's Python
// PATCH example passes a dict as requests' data, which sends the fields
// form-encoded while its header still says application/json.
func decodePatch(w http.ResponseWriter, r *http.Request) (patchRequest, error) {
	var req patchRequest
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, httpapi.MaxJSONBody))
	if err != nil {
		return req, err // a MaxBytesError renders as 413
	}
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 || trimmed[0] == '{' {
		r.Body = io.NopCloser(bytes.NewReader(data))
		err := httpapi.DecodeJSON(w, r, &req)
		return req, err
	}
	q, err := url.ParseQuery(string(trimmed))
	if err != nil {
		return req, errs.Wrap(errs.Invalid, err, "malformed body: send a JSON object")
	}
	if q.Has("name") {
		name := q.Get("name")
		req.Name = &name
	}
	if q.Has("typeId") {
		n, err := strconv.Atoi(strings.TrimSpace(q.Get("typeId")))
		if err != nil {
			return req, errs.Field("typeId", "typeId: expected an integer, got %q", q.Get("typeId"))
		}
		t := httpapi.Int(n)
		req.TypeID = &t
	}
	return req, nil
}
