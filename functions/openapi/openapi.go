// Package openapi serves the API's OpenAPI 3.1 document
// (GET /api/v2/openapi.json). The document is hand-curated in
// openapi.json; its tests hold it to the route table (one operation per
// route, operationId = the route's name) and the e2e tests validate every
// response they see against it.
//
// Editing openapi.json: response objects are closed (additionalProperties:
// false), so a field the server adds goes in here too; a value of any type
// is the "Any" schema, spelled as every type rather than {}, because
// kin-openapi checks schemas without 3.1-only keywords with its 3.0
// validator, where {} refuses null.
package openapi

import (
	_ "embed"
	"encoding/json"
	"net/http"
	"slices"

	"github.com/openrescale/platform/shared/httpapi"
)

//go:embed openapi.json
var document []byte

// Document returns the OpenAPI document as committed (without servers),
// for tests that validate against it.
func Document() []byte { return slices.Clone(document) }

// Handlers serve the document.
type Handlers struct {
	Base httpapi.BaseURL
}

// Serve is GET /api/v2/openapi.json: the document with servers naming
// this deployment's origin (stage prefix and X-Forwarded-* included), so
// clients that resolve paths against servers reach the API they read it
// from. The document's other fields are written as committed.
func (h Handlers) Serve(w http.ResponseWriter, r *http.Request) error {
	servers, err := json.Marshal([]map[string]string{{"url": h.Base.Origin(r)}})
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodHead {
		return nil
	}
	// The committed document is one JSON object without "servers" (a test
	// checks both), so splicing the key in after its "{" keeps it valid
	// without decoding and re-encoding the whole document per request.
	_, _ = w.Write([]byte(`{"servers":`))
	_, _ = w.Write(servers)
	_, _ = w.Write([]byte(","))
	_, _ = w.Write(document[1:])
	return nil
}
