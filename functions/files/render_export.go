package files

import (
	"net/http"

	"github.com/openrescale/platform/shared/files"
)

// RenderFile is the spec's File object exactly as these endpoints render
// it, for other resources that embed files (a job's inputFiles).
func (h Handlers) RenderFile(r *http.Request, f files.File) any { return h.render(r, f) }
