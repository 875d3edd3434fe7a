// Package api is the route table: the single definition of every endpoint,
// from which the local server mounts handlers and infra generates one Lambda
// function and one API Gateway route per entry.
package api

import (
	"context"
	"time"

	"github.com/openrescale/platform/events/s3objects"
	"github.com/openrescale/platform/functions/apikeys"
	"github.com/openrescale/platform/functions/apiroot"
	fcatalog "github.com/openrescale/platform/functions/catalog"
	fcredentials "github.com/openrescale/platform/functions/credentials"
	fcustomfields "github.com/openrescale/platform/functions/customfields"
	ffiles "github.com/openrescale/platform/functions/files"
	ffolders "github.com/openrescale/platform/functions/folders"
	"github.com/openrescale/platform/functions/health"
	fjobs "github.com/openrescale/platform/functions/jobs"
	"github.com/openrescale/platform/functions/openapi"
	fruns "github.com/openrescale/platform/functions/runs"
	fuploads "github.com/openrescale/platform/functions/uploads"
	"github.com/openrescale/platform/shared/accounts"
	"github.com/openrescale/platform/shared/compute"
	"github.com/openrescale/platform/shared/customfields"
	"github.com/openrescale/platform/shared/files"
	"github.com/openrescale/platform/shared/folders"
	"github.com/openrescale/platform/shared/httpapi"
	"github.com/openrescale/platform/shared/jobs"
	"github.com/openrescale/platform/shared/lifecycle"
	"github.com/openrescale/platform/shared/storagecreds"
	"github.com/openrescale/platform/shared/uploads"
)

// Deps are the domain services the handlers call. Adapters behind them
// differ between local mode and AWS; the handlers do not.
type Deps struct {
	Accounts *accounts.Service
	Catalog  fcatalog.Source
	// Files stores file records and bytes (shared by the files, uploads
	// and storage-event code).
	Files *files.Service
	// Objects applies storage events; the upload-complete endpoint calls
	// it directly for objects small enough to hash within a request.
	Objects *s3objects.Handler
	// Folders keeps the v3 folder tree.
	Folders *folders.Service
	Base    httpapi.BaseURL
	// Ready checks dependencies for /healthz.
	Ready func(ctx context.Context) error
	// KeyMaxLifetime is the API key lifetime policy (0: keys never expire).
	KeyMaxLifetime time.Duration
	Now            func() time.Time

	// Jobs keeps saved jobs; JobCatalog and JobFiles are what their
	// rendering reads (analysis names and coretypes, input file records).
	Jobs       *jobs.Service
	JobCatalog fjobs.Catalog
	JobFiles   jobs.Files
	// CustomFields keeps workspace custom-field definitions and the
	// fields and values of jobs; the job GET renders the values.
	CustomFields *customfields.Service

	// FileFolders resolves an upload's current_folder_id (nil: no
	// folders); FileInUse guards deletes of files a running job needs
	// (nil: never in use); FileStorage is rendered as each file's storage.
	FileFolders ffiles.Folders
	FileInUse   ffiles.InUse
	FileStorage ffiles.Storage
	// FileRedirect sends large downloads to presigned storage URLs (AWS).
	FileRedirect ffiles.Redirect

	// Uploads runs resumable multipart upload sessions. UploadURLs is set
	// in local mode only, where parts are PUT to this server's signed
	// part route instead of to S3.
	Uploads    *uploads.Service
	UploadURLs *uploads.LocalURLs
	// Credentials issues POST /api/credentials/ (STS in AWS, a signed
	// grant locally); Grants, local only, verifies those grants on the
	// direct-transfer route.
	Credentials storagecreds.Issuer
	Grants      *storagecreds.Local

	// Lifecycle runs submitted jobs; Live reads running runs' working
	// directories (nil where compute cannot).
	Lifecycle *lifecycle.Service
	Live      compute.Live
}

// LocalRoutes are served by the local binary only: they stand in for what
// S3 does in AWS (presigned part PUTs, direct transfers with temporary
// credentials), so infra deploys no function for them. They are public; a
// signature in the URL authorises each request.
func LocalRoutes(d Deps) []httpapi.Route {
	up := fuploads.Handlers{Uploads: d.Uploads, Base: d.Base, Local: d.UploadURLs}
	direct := fcredentials.Direct{Grants: d.Grants}
	if d.Files != nil {
		direct.Bucket = d.Files.Bucket
		if d.Files.Repo != nil {
			direct.Records = d.Files.Repo
		}
	}
	// A grant or part URL stops working with its user or issuing key.
	if d.Accounts != nil {
		up.Keys, direct.Keys = d.Accounts, d.Accounts
	}
	return []httpapi.Route{
		{Name: "uploads-part-put", Method: "PUT", Path: "/api/v2/uploads/{id}/parts/{n}/", Public: true, Handler: up.PutPart},
		{Name: "storage-direct-put", Method: "PUT", Path: "/api/v2/storage/{key...}", Public: true, Handler: direct.Put},
		{Name: "storage-direct-get", Method: "GET", Path: "/api/v2/storage/{key...}", Public: true, Handler: direct.Get},
	}
}

// Routes returns the route table. Only Name, Method, Path, Public and Needs
// are read when deps are zero (as infra does to lay out functions).
func Routes(d Deps) []httpapi.Route {
	cat := fcatalog.Handlers{Catalog: d.Catalog, Base: d.Base}
	keys := apikeys.Handlers{Keys: d.Accounts, Base: d.Base, MaxLifetime: d.KeyMaxLifetime, Now: d.Now}
	hl := health.Handlers{Ready: d.Ready}
	fileView := ffiles.Renderer{Base: d.Base, Storage: d.FileStorage}
	jh := fjobs.Handlers{Jobs: d.Jobs, Catalog: d.JobCatalog, Files: d.JobFiles, Users: d.Accounts, Base: d.Base,
		FileView: fileView}
	// A nil *Service must not become a non-nil interface.
	if d.CustomFields != nil {
		jh.CustomFields = d.CustomFields
	}
	cf := fcustomfields.Handlers{Fields: d.CustomFields}
	fo := ffolders.Handlers{Folders: d.Folders, Base: d.Base, Files: fileView}
	fh := ffiles.Handlers{Files: d.Files, Folders: d.FileFolders, InUse: d.FileInUse, Base: d.Base, Storage: d.FileStorage, Redirect: d.FileRedirect}
	up := fuploads.Handlers{Uploads: d.Uploads, Base: d.Base, Local: d.UploadURLs, Folders: d.FileFolders}
	cr := fcredentials.Handlers{Issuer: d.Credentials, Base: d.Base}
	rn := fruns.Handlers{Lifecycle: d.Lifecycle, Live: d.Live, Files: d.Files, FileView: fileView, Base: d.Base}
	start, stop, cc, cread := httpapi.StartExecution, httpapi.StopExecution, httpapi.ComputeControl, httpapi.ComputeRead
	sts := httpapi.IssueUploadCredentials

	r := httpapi.TableRead
	w := httpapi.TableWrite
	br := httpapi.BucketRead
	bw := httpapi.BucketWrite
	table := []httpapi.Route{
		{Name: "healthz", Method: "GET", Path: "/healthz", Public: true, Needs: []httpapi.Permission{r}, Handler: hl.Healthz},
		// Public: the document describes the API, holds nothing of any
		// user's, and tools fetch it before they have a key. The path ends
		// in "/" like every other; /api/v2/openapi.json is served the same.
		{Name: "openapi", Method: "GET", Path: "/api/v2/openapi.json/", Public: true, Handler: openapi.Handlers{Base: d.Base}.Serve},

		{Name: "coretypes-list", Method: "GET", Path: "/api/v2/coretypes/", Needs: []httpapi.Permission{r}, Handler: cat.ListCoretypes},
		{Name: "analyses-list", Method: "GET", Path: "/api/v2/analyses/", Needs: []httpapi.Permission{r}, Handler: cat.ListAnalyses},
		{Name: "computeprices-list", Method: "GET", Path: "/api/v2/billing/computeprices/", Needs: []httpapi.Permission{r}, Handler: cat.ListComputePrices},

		{Name: "apikeys-list", Method: "GET", Path: "/api/v2/users/me/api-keys/", Needs: []httpapi.Permission{r}, Handler: keys.List},
		{Name: "apikeys-create", Method: "POST", Path: "/api/v2/users/me/api-keys/", Needs: []httpapi.Permission{r, w}, Handler: keys.Create},
		{Name: "apikeys-delete", Method: "DELETE", Path: "/api/v2/users/me/api-keys/{id}/", Needs: []httpapi.Permission{r, w}, Handler: keys.Delete},

		{Name: "jobs-list", Method: "GET", Path: "/api/v2/jobs/", Needs: []httpapi.Permission{r}, Handler: jh.List},
		{Name: "jobs-create", Method: "POST", Path: "/api/v2/jobs/", Needs: []httpapi.Permission{r, w}, Handler: jh.Create},
		{Name: "jobs-delete-many", Method: "DELETE", Path: "/api/v2/jobs/", Needs: []httpapi.Permission{r, w, httpapi.BucketWrite}, Handler: jh.DeleteMany},
		{Name: "jobs-get", Method: "GET", Path: "/api/v2/jobs/{id}/", Needs: []httpapi.Permission{r}, Handler: jh.Get},
		{Name: "jobs-patch", Method: "PATCH", Path: "/api/v2/jobs/{id}/", Needs: []httpapi.Permission{r, w}, Handler: jh.Patch},
		{Name: "jobs-put", Method: "PUT", Path: "/api/v2/jobs/{id}/", Needs: []httpapi.Permission{r, w}, Handler: jh.Put},
		{Name: "jobs-delete", Method: "DELETE", Path: "/api/v2/jobs/{id}/", Needs: []httpapi.Permission{r, w, httpapi.BucketWrite}, Handler: jh.Delete},
		{Name: "jobs-tags-list", Method: "GET", Path: "/api/v2/jobs/{id}/tags/", Needs: []httpapi.Permission{r}, Handler: jh.ListTags},
		{Name: "jobs-tags-add", Method: "POST", Path: "/api/v2/jobs/{id}/tags/", Needs: []httpapi.Permission{r, w}, Handler: jh.AddTag},
		{Name: "jobs-tags-remove", Method: "DELETE", Path: "/api/v2/jobs/{id}/tags/", Needs: []httpapi.Permission{r, w}, Handler: jh.RemoveTag},
		{Name: "jobs-share", Method: "POST", Path: "/api/v2/jobs/{id}/share/", Needs: []httpapi.Permission{r, w}, Handler: jh.Share},
		{Name: "jobs-customfields-list", Method: "GET", Path: "/api/v2/jobs/{id}/custom-fields/", Needs: []httpapi.Permission{r}, Handler: cf.Values},
		{Name: "jobs-customfields-set", Method: "POST", Path: "/api/v2/jobs/{id}/custom-fields/", Needs: []httpapi.Permission{r, w}, Handler: cf.SetValues},
		{Name: "jobs-customfields-assigned", Method: "GET", Path: "/api/v2/jobs/{id}/custom-fields/assigned/", Needs: []httpapi.Permission{r}, Handler: cf.Assigned},
		{Name: "jobs-customfields-assign", Method: "POST", Path: "/api/v2/jobs/{id}/custom-fields/assigned/", Needs: []httpapi.Permission{r, w}, Handler: cf.Assign},
		{Name: "workspace-customfields", Method: "GET", Path: "/api/v2/organizations/{org}/workspaces/{ws}/custom-fields/", Needs: []httpapi.Permission{r}, Handler: cf.Workspace},
		{Name: "data-jobs-list", Method: "GET", Path: "/api/v2/data/jobs/", Needs: []httpapi.Permission{r}, Handler: jh.DataList},
		{Name: "data-jobs-fields", Method: "GET", Path: "/api/v2/data/jobs/fields/", Needs: []httpapi.Permission{r}, Handler: jh.DataFields},

		{Name: "jobs-submit", Method: "POST", Path: "/api/v2/jobs/{id}/submit/", Needs: []httpapi.Permission{r, w, start}, Handler: rn.Submit},
		{Name: "jobs-stop", Method: "POST", Path: "/api/v2/jobs/{id}/stop/", Needs: []httpapi.Permission{r, w, stop, cc}, Handler: rn.Stop},
		{Name: "jobs-force-stop", Method: "POST", Path: "/api/v2/jobs/{id}/force_stop/", Needs: []httpapi.Permission{r, w, stop, cc}, Handler: rn.ForceStop},
		{Name: "jobs-shutdown", Method: "POST", Path: "/api/v2/jobs/{id}/shutdown/", Needs: []httpapi.Permission{r, w, stop, cc}, Handler: rn.Shutdown},
		{Name: "jobs-statuses", Method: "GET", Path: "/api/v2/jobs/{id}/statuses/", Needs: []httpapi.Permission{r}, Handler: rn.Statuses},
		{Name: "jobs-cluster-statuses", Method: "GET", Path: "/api/v2/jobs/{id}/cluster_statuses/", Needs: []httpapi.Permission{r}, Handler: rn.ClusterStatuses},
		{Name: "jobs-extendedlogs", Method: "GET", Path: "/api/v2/jobs/{id}/extendedlogs/", Needs: []httpapi.Permission{r}, Handler: rn.ExtendedLogs},
		{Name: "jobs-instances", Method: "GET", Path: "/api/v2/jobs/{id}/instances/", Needs: []httpapi.Permission{r}, Handler: rn.Instances},
		{Name: "jobs-files", Method: "GET", Path: "/api/v2/jobs/{id}/files/", Needs: []httpapi.Permission{r}, Handler: rn.JobFiles},
		{Name: "runs-list", Method: "GET", Path: "/api/v2/jobs/{id}/runs/", Needs: []httpapi.Permission{r}, Handler: rn.Runs},
		{Name: "runs-get", Method: "GET", Path: "/api/v2/jobs/{id}/runs/{run}/", Needs: []httpapi.Permission{r}, Handler: rn.Run},
		{Name: "runs-files", Method: "GET", Path: "/api/v2/jobs/{id}/runs/{run}/files/", Needs: []httpapi.Permission{r}, Handler: rn.RunFiles},
		{Name: "runs-stop", Method: "POST", Path: "/api/v2/jobs/{id}/runs/{run}/stop/", Needs: []httpapi.Permission{r, w, stop, cc}, Handler: rn.StopRun},
		{Name: "runs-directory", Method: "GET", Path: "/api/v2/jobs/{id}/runs/{run}/directory-contents/", Needs: []httpapi.Permission{r, br, cread}, Handler: rn.DirectoryContents},
		{Name: "runs-tail", Method: "GET", Path: "/api/v2/jobs/{id}/runs/{run}/tail/{path...}", Needs: []httpapi.Permission{r, br, cread}, Handler: rn.Tail},
		{Name: "clusters-list", Method: "GET", Path: "/api/v3/jobs/{id}/clusters/", Needs: []httpapi.Permission{r}, Handler: rn.Clusters},
		{Name: "cluster-tasks-create", Method: "POST", Path: "/api/v3/clusters/{id}/tasks/", Needs: []httpapi.Permission{r, w, br, bw}, Handler: rn.CreateTask},
		{Name: "cluster-tasks-get", Method: "GET", Path: "/api/v3/clusters/{id}/tasks/{task}/", Needs: []httpapi.Permission{r}, Handler: rn.Task},
		{Name: "cluster-tasks-results", Method: "GET", Path: "/api/v3/clusters/{id}/tasks/{task}/results/", Needs: []httpapi.Permission{r}, Handler: rn.TaskResults},

		{Name: "files-list", Method: "GET", Path: "/api/v2/files/", Needs: []httpapi.Permission{r}, Handler: fh.List},
		{Name: "files-upload", Method: "POST", Path: "/api/v2/files/contents/", Needs: []httpapi.Permission{r, w, br, bw}, Handler: fh.Upload},
		{Name: "files-upload-put", Method: "PUT", Path: "/api/v2/files/contents/", Needs: []httpapi.Permission{r, w, br, bw}, Handler: fh.Upload},
		{Name: "files-get", Method: "GET", Path: "/api/v2/files/{id}/", Needs: []httpapi.Permission{r}, Handler: fh.Get},
		{Name: "files-patch", Method: "PATCH", Path: "/api/v2/files/{id}/", Needs: []httpapi.Permission{r, w}, Handler: fh.Patch},
		{Name: "files-delete", Method: "DELETE", Path: "/api/v2/files/{id}/", Needs: []httpapi.Permission{r, w, bw}, Handler: fh.Delete},
		{Name: "files-download", Method: "GET", Path: "/api/v2/files/{id}/contents/", Needs: []httpapi.Permission{r, br}, Handler: fh.Download},
		{Name: "files-download-head", Method: "HEAD", Path: "/api/v2/files/{id}/contents/", Needs: []httpapi.Permission{r, br}, Handler: fh.Download},
		{Name: "files-lines", Method: "GET", Path: "/api/v2/files/{id}/lines/", Needs: []httpapi.Permission{r, br}, Handler: fh.Lines},
		{Name: "files-tags-list", Method: "GET", Path: "/api/v2/files/{id}/tags/", Needs: []httpapi.Permission{r}, Handler: fh.ListTags},
		{Name: "files-tags-add", Method: "POST", Path: "/api/v2/files/{id}/tags/", Needs: []httpapi.Permission{r, w}, Handler: fh.AddTag},
		{Name: "files-tags-remove", Method: "DELETE", Path: "/api/v2/files/{id}/tags/", Needs: []httpapi.Permission{r, w}, Handler: fh.RemoveTag},

		// Resumable multipart uploads (extension). Not under /api/v2/files/:
		// there "uploads" would be ambiguous with a file id in
		// /api/v2/files/{id}/... and the routers reject the overlap.
		// Presigning needs bucket write: a presigned URL carries the
		// signer's permissions.
		{Name: "uploads-create", Method: "POST", Path: "/api/v2/uploads/", Needs: []httpapi.Permission{r, w, bw}, Handler: up.Create},
		{Name: "uploads-get", Method: "GET", Path: "/api/v2/uploads/{id}/", Needs: []httpapi.Permission{r, br}, Handler: up.Get},
		{Name: "uploads-abort", Method: "DELETE", Path: "/api/v2/uploads/{id}/", Needs: []httpapi.Permission{r, w, bw}, Handler: up.Abort},
		{Name: "uploads-parts", Method: "POST", Path: "/api/v2/uploads/{id}/parts/", Needs: []httpapi.Permission{r, bw}, Handler: up.PartURLs},
		{Name: "uploads-complete", Method: "POST", Path: "/api/v2/uploads/{id}/complete/", Needs: []httpapi.Permission{r, w, br, bw}, Handler: up.Complete},

		// Spec 000 names the unversioned path; the /api/v2/ twin is for
		// clients that prefix everything with the version.
		{Name: "credentials-create", Method: "POST", Path: "/api/credentials/", Needs: []httpapi.Permission{r, sts}, Handler: cr.Create},
		{Name: "credentials-create-v2", Method: "POST", Path: "/api/v2/credentials/", Needs: []httpapi.Permission{r, sts}, Handler: cr.Create},

		// One parameter name per path position: API Gateway rejects sibling
		// resources with different variable names ({parent_folder_id} vs
		// {folder_id} in the spec).
		{Name: "folders-roots", Method: "GET", Path: "/api/v3/users/me/folders/", Needs: []httpapi.Permission{r, w}, Handler: fo.Roots},
		{Name: "folders-create", Method: "POST", Path: "/api/v3/folders/{id}/", Needs: []httpapi.Permission{r, w}, Handler: fo.Create},
		{Name: "folders-get", Method: "GET", Path: "/api/v3/folders/{id}/", Needs: []httpapi.Permission{r}, Handler: fo.Get},
		{Name: "folders-delete", Method: "DELETE", Path: "/api/v3/folders/{id}/", Needs: []httpapi.Permission{r, w, bw}, Handler: fo.Delete},
		{Name: "folders-contents", Method: "GET", Path: "/api/v3/folders/{id}/contents/", Needs: []httpapi.Permission{r}, Handler: fo.Contents},
	}
	// Last, and matching what no entry above does: the API roots
	// (GET /api/v2/, /api/v3/) and, after authentication, 404 or 405 for
	// any other path or method under /api/. In AWS it is the greedy
	// ANY /api/{path+} resource, so API Gateway runs the authorizer for
	// unknown paths instead of answering them itself.
	root := apiroot.New(table, d.Base)
	return append(table,
		httpapi.Route{Name: "api-root", Method: httpapi.AnyMethod, Path: "/api/{path...}", Handler: root.Serve})
}
