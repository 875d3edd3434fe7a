// Package api is the route table: the single definition of every endpoint,
// from which the local server mounts handlers and infra generates one Lambda
// function and one API Gateway route per entry.
package api

import (
	"context"
	"time"

	"github.com/openrescale/platform/functions/apikeys"
	fcatalog "github.com/openrescale/platform/functions/catalog"
	ffolders "github.com/openrescale/platform/functions/folders"
	"github.com/openrescale/platform/functions/health"
	"github.com/openrescale/platform/shared/accounts"
	"github.com/openrescale/platform/shared/folders"
	"github.com/openrescale/platform/shared/httpapi"
)

// Deps are the domain services the handlers call. Adapters behind them
// differ between local mode and AWS; the handlers do not.
type Deps struct {
	Accounts *accounts.Service
	Catalog  fcatalog.Source
	// Folders keeps the v3 folder tree.
	Folders *folders.Service
	Base    httpapi.BaseURL
	// Ready checks dependencies for /healthz.
	Ready func(ctx context.Context) error
	// KeyMaxLifetime is the API key lifetime policy (0: keys never expire).
	KeyMaxLifetime time.Duration
	Now            func() time.Time
}

// Routes returns the route table. Only Name, Method, Path, Public and Needs
// are read when deps are zero (as infra does to lay out functions).
func Routes(d Deps) []httpapi.Route {
	cat := fcatalog.Handlers{Catalog: d.Catalog, Base: d.Base}
	keys := apikeys.Handlers{Keys: d.Accounts, Base: d.Base, MaxLifetime: d.KeyMaxLifetime, Now: d.Now}
	hl := health.Handlers{Ready: d.Ready}
	fo := ffolders.Handlers{Folders: d.Folders, Base: d.Base}

	r := httpapi.TableRead
	w := httpapi.TableWrite
	bw := httpapi.BucketWrite
	return []httpapi.Route{
		{Name: "healthz", Method: "GET", Path: "/healthz", Public: true, Needs: []httpapi.Permission{r}, Handler: hl.Healthz},

		{Name: "coretypes-list", Method: "GET", Path: "/api/v2/coretypes/", Needs: []httpapi.Permission{r}, Handler: cat.ListCoretypes},
		{Name: "analyses-list", Method: "GET", Path: "/api/v2/analyses/", Needs: []httpapi.Permission{r}, Handler: cat.ListAnalyses},
		{Name: "computeprices-list", Method: "GET", Path: "/api/v2/billing/computeprices/", Needs: []httpapi.Permission{r}, Handler: cat.ListComputePrices},

		{Name: "apikeys-list", Method: "GET", Path: "/api/v2/users/me/api-keys/", Needs: []httpapi.Permission{r}, Handler: keys.List},
		{Name: "apikeys-create", Method: "POST", Path: "/api/v2/users/me/api-keys/", Needs: []httpapi.Permission{r, w}, Handler: keys.Create},
		{Name: "apikeys-delete", Method: "DELETE", Path: "/api/v2/users/me/api-keys/{id}/", Needs: []httpapi.Permission{r, w}, Handler: keys.Delete},

		// One parameter name per path position: API Gateway rejects sibling
		// resources with different variable names ({parent_folder_id} vs
		// {folder_id} in the spec).
		{Name: "folders-roots", Method: "GET", Path: "/api/v3/users/me/folders/", Needs: []httpapi.Permission{r, w}, Handler: fo.Roots},
		{Name: "folders-create", Method: "POST", Path: "/api/v3/folders/{id}/", Needs: []httpapi.Permission{r, w}, Handler: fo.Create},
		{Name: "folders-get", Method: "GET", Path: "/api/v3/folders/{id}/", Needs: []httpapi.Permission{r}, Handler: fo.Get},
		{Name: "folders-delete", Method: "DELETE", Path: "/api/v3/folders/{id}/", Needs: []httpapi.Permission{r, w, bw}, Handler: fo.Delete},
		{Name: "folders-contents", Method: "GET", Path: "/api/v3/folders/{id}/contents/", Needs: []httpapi.Permission{r}, Handler: fo.Contents},
	}
}
