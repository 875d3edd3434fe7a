// Package catalog serves the read-only catalog: coretypes, analyses
// (software) and compute prices.
package catalog

import (
	"net/http"
	"strings"

	"github.com/openrescale/platform/shared/catalog"
	"github.com/openrescale/platform/shared/httpapi"
)

// Source is what the handlers read; *catalog.Catalog is one.
type Source interface {
	Coretypes() []catalog.Coretype
	Analyses() []catalog.Analysis
	SearchAnalyses(q string) []catalog.Analysis
	ComputePrices() []catalog.ComputePrice
}

// Handlers serve the catalog endpoints.
type Handlers struct {
	Catalog Source
	Base    httpapi.BaseURL
}

// ListCoretypes is GET /api/v2/coretypes/.
func (h Handlers) ListCoretypes(w http.ResponseWriter, r *http.Request) error {
	return httpapi.Paginate(w, r, h.Base, h.Catalog.Coretypes())
}

// ListAnalyses is GET /api/v2/analyses/, with ?search= over code, name,
// vendor and description.
func (h Handlers) ListAnalyses(w http.ResponseWriter, r *http.Request) error {
	if q := strings.TrimSpace(r.URL.Query().Get("search")); q != "" {
		return httpapi.Paginate(w, r, h.Base, h.Catalog.SearchAnalyses(q))
	}
	return httpapi.Paginate(w, r, h.Base, h.Catalog.Analyses())
}

// ListComputePrices is GET /api/v2/billing/computeprices/. The spec shows a
// bare JSON array, which existing clients index directly, so that is the
// default; with ?page or ?page_size the usual envelope is returned.
func (h Handlers) ListComputePrices(w http.ResponseWriter, r *http.Request) error {
	prices := h.Catalog.ComputePrices()
	q := r.URL.Query()
	if q.Has("page") || q.Has("page_size") {
		return httpapi.Paginate(w, r, h.Base, prices)
	}
	if prices == nil {
		prices = []catalog.ComputePrice{}
	}
	httpapi.WriteJSON(w, http.StatusOK, prices)
	return nil
}
