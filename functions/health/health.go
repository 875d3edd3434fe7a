// Package health answers readiness probes.
package health

import (
	"context"
	"net/http"

	"github.com/openrescale/platform/shared/errs"
	"github.com/openrescale/platform/shared/httpapi"
)

// Handlers serve /healthz.
type Handlers struct {
	// Ready reports whether the dependencies answer; nil means always ready.
	Ready func(ctx context.Context) error
}

// Healthz is GET /healthz: 200 {"status":"ok"} when ready, 503 otherwise.
func (h Handlers) Healthz(w http.ResponseWriter, r *http.Request) error {
	if h.Ready != nil {
		if err := h.Ready(r.Context()); err != nil {
			return errs.Wrap(errs.Unavailable, err, "not ready")
		}
	}
	httpapi.WriteJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	return nil
}
