package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda/messages"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/openrescale/platform/cmd/lambda/lambdatier"
	"github.com/openrescale/platform/events/s3objects"
	"github.com/openrescale/platform/functions/api"
	ffiles "github.com/openrescale/platform/functions/files"
	"github.com/openrescale/platform/shared/accounts"
	"github.com/openrescale/platform/shared/auth"
	"github.com/openrescale/platform/shared/blob"
	"github.com/openrescale/platform/shared/catalog"
	"github.com/openrescale/platform/shared/compute"
	"github.com/openrescale/platform/shared/customfields"
	"github.com/openrescale/platform/shared/errs"
	"github.com/openrescale/platform/shared/files"
	"github.com/openrescale/platform/shared/folders"
	"github.com/openrescale/platform/shared/gateway"
	"github.com/openrescale/platform/shared/httpapi"
	"github.com/openrescale/platform/shared/jobs"
	"github.com/openrescale/platform/shared/lifecycle"
	"github.com/openrescale/platform/shared/ratelimit"
	"github.com/openrescale/platform/shared/storagecreds"
	"github.com/openrescale/platform/shared/store"
	"github.com/openrescale/platform/shared/store/dynamostore"
	"github.com/openrescale/platform/shared/uploads"
)

// Reserved ROUTE values besides the route table's names.
const (
	routeAuthorizer    = "authorizer"
	routeObjectEvents  = "s3-object-created"
	routeStepPrefix    = "step-"
	routeBatchJobState = "batch-job-state"
	routeReconcile     = "reconcile"
)

// envBatchDeployment is awsbatch.EnvDeployment, named here because the
// table tier does not link awsbatch (a test holds them equal).
const envBatchDeployment = "BATCH_DEPLOYMENT"

// build reads the environment once and returns the handler for ROUTE.
func build(_ context.Context, getenv func(string) string, log *slog.Logger) (any, error) {
	route, table := getenv("ROUTE"), getenv("TABLE_NAME")
	if route == "" || table == "" {
		return nil, errors.New("ROUTE and TABLE_NAME must be set")
	}
	ae, err := newAWSEnv(getenv)
	if err != nil {
		return nil, err
	}
	w := &wiring{route: route, getenv: getenv, log: log, aws: ae, table: table}
	switch {
	case route == routeAuthorizer:
		if err := w.checkTier([]httpapi.Permission{httpapi.TableRead}); err != nil {
			return nil, err
		}
		return gateway.Authorizer{Keys: w.accounts()}.Authorize, nil
	case route == routeObjectEvents:
		if err := w.checkTier(fullNeeds()); err != nil {
			return nil, err
		}
		return w.objectEvents()
	case strings.HasPrefix(route, routeStepPrefix):
		if err := w.checkTier(fullNeeds()); err != nil {
			return nil, err
		}
		return w.step(strings.TrimPrefix(route, routeStepPrefix))
	case route == routeBatchJobState:
		if err := w.checkTier(fullNeeds()); err != nil {
			return nil, err
		}
		return w.batchJobState()
	case route == routeReconcile:
		if err := w.checkTier(fullNeeds()); err != nil {
			return nil, err
		}
		return w.reconcile()
	}
	return w.apiRoute()
}

// fullNeeds stands for what the bucket's, the steps', the Batch events'
// and the reconciler's functions use (S3, Batch, Step Functions): the
// full tier's.
func fullNeeds() []httpapi.Permission {
	return []httpapi.Permission{httpapi.TableRead, httpapi.TableWrite, httpapi.BucketRead, httpapi.BucketWrite,
		httpapi.StartExecution, httpapi.StopExecution, httpapi.ComputeControl}
}

// checkTier refuses to start a function this build leaves out the AWS
// adapters of (lambdatier), so a function deployed from the wrong asset
// fails its init with the reason rather than answering 503.
func (w *wiring) checkTier(needs []httpapi.Permission) error {
	if buildTier == lambdatier.Full || lambdatier.Tier(needs) == buildTier {
		return nil
	}
	return fmt.Errorf("ROUTE=%s needs %v: this is the %s-tier build (-tags %s), which links no AWS service but DynamoDB; deploy the function from the %s-tier asset",
		w.route, needs, buildTier, lambdatier.TableTag, lambdatier.Tier(needs))
}

// wiring builds each part of a function at most once, on demand, so a
// function constructs only what its route reaches.
type wiring struct {
	route  string
	getenv func(string) string
	log    *slog.Logger
	aws    awsEnv
	table  string

	st      store.Store
	accts   *accounts.Service
	bkt     objectStore
	catalog func() (*catalog.Catalog, error)
	lists   *readyLists
}

func (w *wiring) store() store.Store {
	if w.st == nil {
		client := dynamodb.NewFromConfig(w.aws.cfg, func(o *dynamodb.Options) { o.BaseEndpoint = w.aws.endpoint("DynamoDB") })
		w.st = dynamostore.New(client, w.table)
	}
	return w.st
}

func (w *wiring) accounts() *accounts.Service {
	if w.accts == nil {
		w.accts = accounts.New(w.store(), time.Now)
	}
	return w.accts
}

// require returns the named variable, or an error naming the route that
// needs it.
func (w *wiring) require(name string) (string, error) {
	v := w.getenv(name)
	if v == "" {
		return "", fmt.Errorf("%s must be set for ROUTE=%s", name, w.route)
	}
	return v, nil
}

// objectStore is the files bucket as the services use it: s3blob's
// Bucket in the full tier, a stand-in answering 503 in the table tier
// (adapters_full.go, adapters_table.go).
type objectStore interface {
	blob.Bucket
	blob.Multipart
	blob.PartPresigner
	blob.Signer
}

// bucket is the files bucket, nil without BUCKET_NAME.
func (w *wiring) bucket() objectStore {
	name := w.getenv("BUCKET_NAME")
	if w.bkt == nil && name != "" {
		w.bkt = w.newBucket(name)
	}
	return w.bkt
}

func (w *wiring) requireBucket() (objectStore, error) {
	if _, err := w.require("BUCKET_NAME"); err != nil {
		return nil, err
	}
	return w.bucket(), nil
}

// cat is the embedded catalog, built from Go literals the first time a
// handler asks (catalog_gen.go; TestCatalogSeed keeps them equal to the
// seed files), so functions that never read it never build it.
func (w *wiring) cat() lazyCatalog {
	if w.catalog == nil {
		w.catalog = sync.OnceValues(func() (*catalog.Catalog, error) {
			return catalog.New(seedCoretypes(), seedAnalyses(), seedComputePrices())
		})
	}
	if w.lists == nil {
		w.lists = &readyLists{}
	}
	return lazyCatalog{get: w.catalog, lists: w.lists}
}

// services are the domain services over the store (and the bucket, when
// the function has one), as rescale-local wires them.
type services struct {
	files   *files.Service // nil without a bucket
	repo    *files.Repo
	folders *folders.Service
	jobs    *jobs.Service
}

func (w *wiring) services(maxUpload int64) services {
	st := w.store()
	s := services{repo: files.NewRepo(st)}
	// A nil *files.Service must not become a non-nil FileDeleter.
	var deleter folders.FileDeleter
	var remover jobs.FileRemover
	if b := w.bucket(); b != nil {
		s.files = &files.Service{Repo: s.repo, Bucket: b, Now: time.Now, MaxFileBytes: maxUpload}
		deleter, remover = s.files, s.files
	}
	s.folders = folders.New(st, deleter, time.Now)
	s.jobs = jobs.New(st, w.cat(), s.repo, remover, time.Now)
	return s
}

// lifecycleNeeds says which of the lifecycle's AWS adapters a function
// uses; the others are stand-ins that answer 503.
type lifecycleNeeds struct {
	compute, orchestrator bool
}

// lifecycleAdapters are the lifecycle's AWS adapters
// (w.lifecycleAdapters builds them, in the full tier only): nil fields
// are stand-ins answering 503.
type lifecycleAdapters struct {
	compute      compute.Compute
	orchestrator lifecycle.Orchestrator
	// live reads running runs' files: it needs compute (Batch finds a
	// run's prefix).
	live compute.Live
}

// lifecycle wires the job lifecycle as cmd/rescale-local does, over AWS
// Batch (BATCH_DEPLOYMENT) and Step Functions (STATE_MACHINE_ARN).
func (w *wiring) lifecycle(s services, need lifecycleNeeds) (*lifecycle.Service, lifecycleAdapters, error) {
	bucket, err := w.requireBucket()
	if err != nil {
		return nil, lifecycleAdapters{}, err
	}
	a, err := w.lifecycleAdapters(need, bucket)
	if err != nil {
		return nil, lifecycleAdapters{}, err
	}
	return w.lifecycleWith(s, bucket, a), a, nil
}

func (w *wiring) lifecycleWith(s services, bucket blob.Bucket, a lifecycleAdapters) *lifecycle.Service {
	cfg := lifecycle.Config{
		Store: w.store(), Jobs: s.jobs, Files: s.repo, Folders: s.folders, Bucket: bucket,
		Keys: w.accounts(), Catalog: w.cat(), Compute: noCompute{}, Orchestrator: noOrchestrator{},
		APIURL: w.getenv("API_URL"), Now: time.Now, Log: w.log,
	}
	if a.compute != nil {
		cfg.Compute = a.compute
	}
	if a.orchestrator != nil {
		cfg.Orchestrator = a.orchestrator
	}
	return lifecycle.New(cfg)
}

// step is a job state machine Task: Step Functions invokes it with the
// Task's Parameters (or, for start-run, its Payload with the task token).
func (w *wiring) step(name string) (any, error) {
	if !slices.Contains(stepNames(), name) {
		return nil, fmt.Errorf("ROUTE=%s: no step %q (steps: %s)", w.route, name, strings.Join(stepNames(), ", "))
	}
	// Steps never call Step Functions (the Batch events function answers
	// task tokens), and the definition naming them rules out the reverse.
	svc, _, err := w.lifecycle(w.services(0), lifecycleNeeds{compute: true})
	if err != nil {
		return nil, err
	}
	return stepHandler(svc.Steps()[name]), nil
}

func stepNames() []string {
	var names []string
	for _, s := range lifecycle.Placeholders() {
		names = append(names, s)
	}
	slices.Sort(names)
	return names
}

// stepHandler runs a step as the state machine's Retry and Catch expect:
// a *lifecycle.StepError fails the invocation with errorType set to its
// Name. aws-lambda-go names an error after its Go type ("StepError")
// unless it is a messages.InvokeResponse_Error value, so it is converted;
// any other error is the platform's own failure, a SystemError, retried.
func stepHandler(fn lifecycle.StepFunc) func(context.Context, json.RawMessage) (json.RawMessage, error) {
	return func(ctx context.Context, in json.RawMessage) (json.RawMessage, error) {
		out, err := fn(ctx, in, "")
		if err == nil {
			return out, nil
		}
		var se *lifecycle.StepError
		if errors.As(err, &se) {
			return nil, messages.InvokeResponse_Error{Type: se.Name, Message: se.Cause}
		}
		return nil, messages.InvokeResponse_Error{Type: lifecycle.ErrSystem, Message: err.Error()}
	}
}

// reconcileResult is what the reconcile function returns: how many jobs
// it changed.
type reconcileResult struct {
	Changed int `json:"changed"`
}

// reconcile ends jobs whose compute is gone and restarts executions a
// crash lost, on EventBridge's schedule.
func (w *wiring) reconcile() (any, error) {
	svc, _, err := w.lifecycle(w.services(0), lifecycleNeeds{compute: true, orchestrator: true})
	if err != nil {
		return nil, err
	}
	log := w.log
	return func(ctx context.Context, _ events.CloudWatchEvent) (reconcileResult, error) {
		n, err := svc.Reconcile(ctx)
		if n > 0 {
			log.InfoContext(ctx, "reconciled jobs", "changed", n)
		}
		if err != nil {
			return reconcileResult{Changed: n}, fmt.Errorf("reconcile: %w", err)
		}
		return reconcileResult{Changed: n}, nil
	}, nil
}

// objectEvents is the bucket's ObjectCreated and ObjectRemoved
// notifications' function.
func (w *wiring) objectEvents() (any, error) {
	bucket, err := w.requireBucket()
	if err != nil {
		return nil, err
	}
	st := w.store()
	fileSvc := &files.Service{Repo: files.NewRepo(st), Bucket: bucket, Now: time.Now}
	h := &s3objects.Handler{Repo: fileSvc.Repo, Bucket: bucket, Log: w.log}
	h.Sessions = newUploads(st, fileSvc, bucket, h)
	h.Owners = s3objects.Directory{Users: w.accounts(), Folders: folders.New(st, fileSvc, time.Now)}
	return h.HandleS3, nil
}

// settings are the API routes' optional tunables.
type settings struct {
	rate      float64
	lifetime  time.Duration
	maxUpload int64
}

func (w *wiring) settings() (settings, error) {
	s := settings{rate: 50, maxUpload: 4 << 20}
	var err error
	if v := w.getenv("KEY_MAX_LIFETIME"); v != "" {
		if s.lifetime, err = time.ParseDuration(v); err != nil {
			return s, fmt.Errorf("KEY_MAX_LIFETIME: %w", err)
		}
	}
	if v := w.getenv("RATE_LIMIT"); v != "" {
		if s.rate, err = strconv.ParseFloat(v, 64); err != nil {
			return s, fmt.Errorf("RATE_LIMIT: %w", err)
		}
	}
	// A Lambda request body is at most 6 MB, base64 for binary bodies:
	// 4 MiB of file fits. Larger files go through presigned uploads.
	if v := w.getenv("MAX_UPLOAD_BYTES"); v != "" {
		if s.maxUpload, err = strconv.ParseInt(v, 10, 64); err != nil {
			return s, fmt.Errorf("MAX_UPLOAD_BYTES: %w", err)
		}
	}
	return s, nil
}

// apiRoute is one route-table entry behind API Gateway. Which AWS
// adapters it gets follows the environment infra gives exactly the
// routes that need them (the sts, Batch and Step Functions clients exist
// only with UPLOAD_ROLE_ARN, BATCH_DEPLOYMENT and STATE_MACHINE_ARN);
// a route whose Needs call for an adapter whose setting is missing fails
// at start-up rather than answering 503 for ever.
func (w *wiring) apiRoute() (any, error) {
	set, err := w.settings()
	if err != nil {
		return nil, err
	}
	base := httpapi.BaseURL{Public: w.getenv("PUBLIC_URL")}
	accts := w.accounts()
	deps := api.Deps{Accounts: accts, Catalog: w.cat(), Base: base, KeyMaxLifetime: set.lifetime, Now: time.Now}
	s := w.services(set.maxUpload)
	deps.Folders, deps.FileFolders = s.folders, s.folders
	deps.Jobs, deps.JobCatalog, deps.JobFiles, deps.FileInUse = s.jobs, w.cat(), s.repo, s.jobs
	if s.files != nil {
		bucket, bucketName := w.bucket(), w.getenv("BUCKET_NAME")
		deps.Files = s.files
		deps.FileStorage = ffiles.Storage{ID: "s3", Type: "S3Storage", Container: bucketName, Region: w.aws.cfg.Region}
		// Lambda answers at most 6 MB; larger downloads go to S3 directly.
		deps.FileRedirect = ffiles.Redirect{Above: 4 << 20, TTL: 15 * time.Minute}
		deps.Objects = &s3objects.Handler{Repo: s.repo, Bucket: bucket, Log: w.log}
		deps.Uploads = newUploads(w.store(), s.files, bucket, deps.Objects)
		deps.Objects.Sessions = deps.Uploads
		if role := w.getenv("UPLOAD_ROLE_ARN"); role != "" {
			iss, err := w.newCredentials(role, bucketName)
			if err != nil {
				return nil, err
			}
			// A job's key (the agent's) gets credentials that write only
			// the job's outputs.
			deps.Credentials = storagecreds.Scoped{Issuer: iss, Jobs: storagecreds.CallerKeyJobs{Fallback: storagecreds.AccountKeyJobs{Keys: accts}}}
		}
		// Lifecycle queries (statuses, runs, outputs) need only the store
		// and bucket; starting and stopping need the adapters.
		need := lifecycleNeeds{compute: w.getenv(envBatchDeployment) != "", orchestrator: w.getenv("STATE_MACHINE_ARN") != ""}
		var a lifecycleAdapters
		if deps.Lifecycle, a, err = w.lifecycle(s, need); err != nil {
			return nil, err
		}
		// A running run's files are what its agent uploads; finding the
		// run's prefix asks Batch (DescribeJobs), so only a function with
		// Batch access has them. Without it directory-contents and tail
		// answer 503.
		if a.live != nil {
			deps.Live = a.live
		}
	}
	if usesCustomFields(w.route) {
		if deps.CustomFields, err = customfields.New(w.store(), s.jobs, s.repo, accts, time.Now); err != nil {
			return nil, err
		}
	}
	h, rt, err := Handler(w.route, deps, httpapi.Config{
		Auth:  gateway.Authenticator{Fallback: auth.Tokens{Keys: accts}},
		Limit: ratelimit.New(set.rate, 2*int(set.rate), time.Now),
		Log:   w.log,
		Base:  base,
	})
	if err != nil {
		return nil, err
	}
	if err := w.checkTier(rt.Needs); err != nil {
		return nil, err
	}
	if err := w.checkNeeds(rt.Needs); err != nil {
		return nil, err
	}
	if readsCatalog(w.route) {
		// The list routes render the generated literals, which need no
		// catalog (lazyCatalog). The first request's copy of each list is
		// built now, and so are encoding/json's encoders of what they
		// render (decoding the JSON seed used to build them as a side
		// effect), which the first request would otherwise pay for.
		l := w.cat().lists
		l.coretypes, l.analyses, l.prices = seedCoretypes(), seedAnalyses(), seedComputePrices()
		enc := json.NewEncoder(io.Discard)
		_ = enc.Encode(l.coretypes[:1])
		_ = enc.Encode(l.analyses[:1])
		_ = enc.Encode(l.prices[:1])
	}
	return h, nil
}

// checkNeeds refuses to start a route without the settings its Needs
// imply: infra sets them together with the grants.
func (w *wiring) checkNeeds(needs []httpapi.Permission) error {
	for _, n := range needs {
		var vars []string
		switch n {
		case httpapi.BucketRead, httpapi.BucketWrite:
			vars = []string{"BUCKET_NAME"}
		case httpapi.StartExecution:
			vars = []string{"BUCKET_NAME", envBatchDeployment, "API_URL", "STATE_MACHINE_ARN"}
		case httpapi.StopExecution, httpapi.ComputeControl, httpapi.ComputeRead:
			vars = []string{"BUCKET_NAME", envBatchDeployment, "API_URL"}
		}
		for _, v := range vars {
			if _, err := w.require(v); err != nil {
				return fmt.Errorf("%w (the route needs %s)", err, n)
			}
		}
	}
	return nil
}

// usesCustomFields reports whether a route renders or edits custom
// fields: building them parses the default workspace's definitions.
func usesCustomFields(route string) bool {
	return strings.HasPrefix(route, "jobs-") || strings.HasPrefix(route, "data-jobs-") || route == "workspace-customfields"
}

// readsCatalog reports whether every request of a route renders the
// catalog's lists, whose encoders it then builds at start-up.
func readsCatalog(route string) bool {
	return route == "coretypes-list" || route == "analyses-list" || route == "computeprices-list"
}

// newUploads wires multipart upload sessions to S3: clients PUT parts to
// presigned URLs, and the complete call hashes objects up to 64 MiB itself
// (S3 streams that to Lambda in well under API Gateway's 29 s); larger ones
// are hashed by the ObjectCreated:CompleteMultipartUpload event's function.
func newUploads(st store.Store, fileSvc *files.Service, bucket objectStore, objects *s3objects.Handler) *uploads.Service {
	return &uploads.Service{
		Store: st, Files: fileSvc, Multipart: bucket, URLs: uploads.S3URLs{Presigner: bucket}, Now: time.Now,
		Finish: func(ctx context.Context, key string) (files.File, error) {
			return objects.Created(ctx, s3objects.Event{Kind: s3objects.Created, Name: "CompleteMultipartUpload", Key: key})
		},
		SyncFinishBytes: 64 << 20,
	}
}

// lazyCatalog is the catalog behind every interface the handlers and
// services read it through, built on first use.
type lazyCatalog struct {
	get   func() (*catalog.Catalog, error)
	lists *readyLists
}

// readyLists are copies of the lists built at init for the first request
// of the list routes; each is handed out once (callers own what they
// get), later calls build their own.
type readyLists struct {
	mu        sync.Mutex
	coretypes []catalog.Coretype
	analyses  []catalog.Analysis
	prices    []catalog.ComputePrice
}

// take hands out the ready list field selects once, then fresh ones.
func take[T any](l *readyLists, field func(*readyLists) *[]T, fresh func() []T) []T {
	if l != nil {
		l.mu.Lock()
		p := field(l)
		r := *p
		*p = nil
		l.mu.Unlock()
		if r != nil {
			return r
		}
	}
	return fresh()
}

func (c lazyCatalog) load() *catalog.Catalog {
	cat, err := c.get()
	if err != nil {
		// The literals are catalog.Load's validated output (TestCatalogSeed):
		// a failure here is a build that skipped the tests.
		panic(fmt.Sprintf("embedded catalog: %v", err))
	}
	return cat
}

// Coretypes, Analyses and ComputePrices are the generated literals: they
// are what the built catalog's methods return, in its order (gencatalog
// writes them from those methods; TestCatalogSeed holds them equal), and
// a fresh copy on every call as those are (the first call of a list
// route's function takes the copy built at init). So the list routes
// never build the catalog: copying and validating it was most of their
// init.
func (c lazyCatalog) Coretypes() []catalog.Coretype {
	return take(c.lists, func(l *readyLists) *[]catalog.Coretype { return &l.coretypes }, seedCoretypes)
}
func (c lazyCatalog) Analyses() []catalog.Analysis {
	return take(c.lists, func(l *readyLists) *[]catalog.Analysis { return &l.analyses }, seedAnalyses)
}
func (c lazyCatalog) ComputePrices() []catalog.ComputePrice {
	return take(c.lists, func(l *readyLists) *[]catalog.ComputePrice { return &l.prices }, seedComputePrices)
}

func (c lazyCatalog) SearchAnalyses(q string) []catalog.Analysis { return c.load().SearchAnalyses(q) }
func (c lazyCatalog) Coretype(code string) (catalog.Coretype, bool) {
	return c.load().Coretype(code)
}
func (c lazyCatalog) Analysis(code string) (catalog.Analysis, bool) {
	return c.load().Analysis(code)
}
func (c lazyCatalog) FindVersion(code, version string) (catalog.Analysis, catalog.AnalysisVersion, error) {
	return c.load().FindVersion(code, version)
}

// errNoAdapter is what the lifecycle's stand-in adapters answer.
func errNoAdapter(what string) error {
	return errs.E(errs.Unavailable, "this function has no %s access", what)
}

// noCompute stands in for compute in functions not granted it: the
// lifecycle's queries need none, and anything else answers 503 rather
// than dereferencing a nil interface.
type noCompute struct{}

var _ compute.Compute = noCompute{}

func (noCompute) Check(context.Context, compute.Requirements) error { return errNoAdapter("compute") }
func (noCompute) Reserve(context.Context, string, int, func()) error {
	return errNoAdapter("compute")
}
func (noCompute) Release(context.Context, string) error       { return errNoAdapter("compute") }
func (noCompute) StartRun(context.Context, compute.Run) error { return errNoAdapter("compute") }
func (noCompute) Stop(context.Context, string, string, compute.StopMode) error {
	return errNoAdapter("compute")
}
func (noCompute) Alive(context.Context, string, string) (bool, error) {
	return false, errNoAdapter("compute")
}

// noOrchestrator stands in for Step Functions likewise.
type noOrchestrator struct{}

var _ lifecycle.Orchestrator = noOrchestrator{}

func (noOrchestrator) Start(context.Context, string, json.RawMessage) (bool, error) {
	return false, errNoAdapter("state machine")
}
func (noOrchestrator) SendTaskSuccess(context.Context, string, json.RawMessage) error {
	return errNoAdapter("state machine")
}
func (noOrchestrator) SendTaskFailure(context.Context, string, string, string) error {
	return errNoAdapter("state machine")
}
func (noOrchestrator) Status(context.Context, string) (string, error) {
	return "", errNoAdapter("state machine")
}
