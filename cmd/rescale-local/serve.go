package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/openrescale/platform/events/s3objects"
	"github.com/openrescale/platform/functions/api"
	ffiles "github.com/openrescale/platform/functions/files"
	"github.com/openrescale/platform/shared/accounts"
	"github.com/openrescale/platform/shared/auth"
	"github.com/openrescale/platform/shared/blob/fileblob"
	"github.com/openrescale/platform/shared/catalog"
	"github.com/openrescale/platform/shared/customfields"
	"github.com/openrescale/platform/shared/errs"
	"github.com/openrescale/platform/shared/files"
	"github.com/openrescale/platform/shared/folders"
	"github.com/openrescale/platform/shared/httpapi"
	"github.com/openrescale/platform/shared/jobs"
	"github.com/openrescale/platform/shared/lifecycle"
	"github.com/openrescale/platform/shared/ratelimit"
	"github.com/openrescale/platform/shared/storagecreds"
	"github.com/openrescale/platform/shared/store/boltstore"
	"github.com/openrescale/platform/shared/uploads"
	"github.com/openrescale/platform/web/console"
)

// Config is what serve reads from flags and the environment, once.
type Config struct {
	Addr         string
	DataDir      string
	PublicURL    string
	RatePerSec   float64
	RateBurst    int
	KeyLifetime  time.Duration
	DefaultEmail string
	DefaultKey   string
	// MaxUploadBytes caps one file uploaded through the API (0: no cap).
	MaxUploadBytes int64
	// Cores is the local cluster's size; Sandbox isolates jobs ("bwrap"
	// or "none"); SoftwareFile maps analysis versions to how they run
	// here; StopGrace is a graceful stop's SIGTERM → SIGKILL wait.
	Cores        int
	Sandbox      string
	SoftwareFile string
	StopGrace    time.Duration
}

// Main is the local platform: build it with Open, then Run it.
type Main struct {
	cfg      Config
	log      *slog.Logger
	stdout   io.Writer
	store    *boltstore.Store
	accounts *accounts.Service
	bucket   *fileblob.Bucket
	// objectEvents delivers the bucket's events to the storage-event
	// handler; Close drains it before the store closes.
	objectEvents *s3objects.Queue
	server       *http.Server
	listener     net.Listener
	jobs         *jobRunner
}

func runServe(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg := Config{DefaultEmail: "admin@localhost"}
	fs.StringVar(&cfg.Addr, "addr", "127.0.0.1:8080", "listen address")
	fs.StringVar(&cfg.DataDir, "data", "./data", "data directory (store and files)")
	fs.StringVar(&cfg.PublicURL, "public-url", "", "absolute base URL clients use, if not the request's host (e.g. behind a proxy that sets no X-Forwarded-Host)")
	fs.Float64Var(&cfg.RatePerSec, "rate-limit", 50, "requests per second per API key (0: unlimited)")
	fs.IntVar(&cfg.RateBurst, "rate-burst", 100, "burst size per API key")
	fs.DurationVar(&cfg.KeyLifetime, "key-max-lifetime", 0, "maximum API key lifetime for new keys, e.g. 2160h (0: never expire)")
	fs.Int64Var(&cfg.MaxUploadBytes, "max-upload-bytes", 0, "largest file accepted by POST /api/v2/files/contents/, in bytes (0: no limit)")
	fs.IntVar(&cfg.Cores, "cores", runtime.NumCPU(), "cores of this machine that jobs may use")
	fs.StringVar(&cfg.Sandbox, "sandbox", "bwrap", "job isolation: bwrap (bubblewrap) or none")
	fs.StringVar(&cfg.SoftwareFile, "software", "", "JSON software map: how analysis versions run here (default: Debian's OpenFOAM when installed)")
	fs.DurationVar(&cfg.StopGrace, "stop-grace", 10*time.Second, "how long a stopped job has between SIGTERM and SIGKILL")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if e := getenv("RESCALE_LOCAL_EMAIL"); e != "" {
		cfg.DefaultEmail = e
	}
	cfg.DefaultKey = getenv("RESCALE_LOCAL_API_KEY")

	m, err := Open(ctx, cfg, stdout, newLogger(stderr))
	if err != nil {
		return err
	}
	defer m.Close()
	return m.Run(ctx)
}

// Open prepares the data directory, the store and the default user, and
// binds the listener.
func Open(ctx context.Context, cfg Config, stdout io.Writer, log *slog.Logger) (*Main, error) {
	m := &Main{cfg: cfg, log: log, stdout: stdout}
	st, err := openStore(cfg.DataDir)
	if err != nil {
		return nil, err
	}
	m.store = st
	m.accounts = accounts.New(st, time.Now)
	if err := m.bootstrap(ctx); err != nil {
		m.Close()
		return nil, err
	}
	cat, err := catalog.Load()
	if err != nil {
		m.Close()
		return nil, fmt.Errorf("load catalog: %w", err)
	}
	fileRepo := files.NewRepo(st)
	objects := &s3objects.Handler{Repo: fileRepo, Log: log}
	m.objectEvents = s3objects.NewQueue(objects.Handle, 4, log)
	m.bucket, err = fileblob.New(filepath.Join(cfg.DataDir, "blobs"), fileblob.WithEvents(m.objectEvents.Push))
	if err != nil {
		m.Close()
		return nil, fmt.Errorf("open file storage: %w", err)
	}
	objects.Bucket = m.bucket
	fileSvc := &files.Service{Repo: fileRepo, Bucket: m.bucket, Now: time.Now, MaxFileBytes: cfg.MaxUploadBytes}
	folderSvc := folders.New(st, fileSvc, time.Now)
	objects.Owners = s3objects.Directory{Users: m.accounts, Folders: folderSvc}
	secret, err := loadSecret(cfg.DataDir)
	if err != nil {
		m.Close()
		return nil, err
	}
	partURLs := &uploads.LocalURLs{Secret: secret, Now: time.Now}
	uploadSvc := &uploads.Service{
		Store: st, Files: fileSvc, Multipart: m.bucket, URLs: partURLs, Now: time.Now,
		Finish: func(ctx context.Context, key string) (files.File, error) {
			return objects.Created(ctx, s3objects.Event{Kind: s3objects.Created, Name: "CompleteMultipartUpload", Key: key})
		},
		// Locally hashing is disk-bound and nothing times the request out.
		SyncFinishBytes: 1 << 40,
	}
	objects.Sessions = uploadSvc
	grants := &storagecreds.Local{Secret: secret, Now: time.Now}
	base := httpapi.BaseURL{Public: cfg.PublicURL}
	jobSvc := jobs.New(st, cat, fileRepo, fileSvc, time.Now)
	customFields, err := customfields.New(st, jobSvc, fileRepo, m.accounts, time.Now)
	if err != nil {
		m.Close()
		return nil, err
	}
	l, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		m.Close()
		return nil, fmt.Errorf("listen on %s: %w", cfg.Addr, err)
	}
	// net/http's own answers (malformed request line, oversized headers)
	// become {"detail"} JSON like every handler error.
	m.listener = httpapi.JSONErrors(l)
	apiURL := "http://" + m.listener.Addr().String() + "/api/v2/"
	if cfg.PublicURL != "" {
		apiURL = strings.TrimSuffix(cfg.PublicURL, "/") + "/api/v2/"
	}
	software, err := loadSoftware(cfg.SoftwareFile)
	if err != nil {
		m.Close()
		return nil, err
	}
	sandbox, err := sandboxFor(cfg.Sandbox)
	if err != nil {
		m.Close()
		return nil, err
	}
	m.jobs, err = m.openJobRunner(lifecycle.Config{
		Store: st, Jobs: jobSvc, Files: fileRepo, Folders: folderSvc, Bucket: m.bucket, Keys: m.accounts,
		Catalog: cat, APIURL: apiURL, Now: time.Now, Log: log,
	}, software, sandbox)
	if err != nil {
		m.Close()
		return nil, err
	}
	deps := api.Deps{
		Accounts:     m.accounts,
		Catalog:      cat,
		Jobs:         jobSvc,
		JobCatalog:   cat,
		JobFiles:     fileRepo,
		CustomFields: customFields,
		Files:        fileSvc,
		Objects:      objects,
		Folders:      folderSvc,
		Uploads:      uploadSvc,
		UploadURLs:   partURLs,
		// A job's own key gets credentials narrowed to its inputs and
		// outputs, as in AWS.
		Credentials:    storagecreds.Scoped{Issuer: grants, Jobs: storagecreds.CallerKeyJobs{Fallback: storagecreds.AccountKeyJobs{Keys: m.accounts}}},
		Grants:         grants,
		FileFolders:    folderSvc,
		FileInUse:      jobSvc,
		FileStorage:    ffiles.Storage{ID: "local", Type: "LocalStorage", Container: "local"},
		Base:           base,
		KeyMaxLifetime: cfg.KeyLifetime,
		Now:            time.Now,
		Lifecycle:      m.jobs.lifecycle,
		Live:           m.jobs.exec,
	}
	routes := append(api.Routes(deps), api.LocalRoutes(deps)...)
	h, err := httpapi.NewHandler(routes, httpapi.Config{
		Auth:  auth.Tokens{Keys: m.accounts},
		Limit: ratelimit.New(cfg.RatePerSec, cfg.RateBurst, time.Now),
		Log:   log,
		Base:  base,
	})
	if err != nil {
		m.Close()
		return nil, fmt.Errorf("build routes: %w", err)
	}
	// The web console answers every path the route table does not own.
	withConsole, err := console.WithAPI(h, routes, console.NewSite(console.FS()))
	if err != nil {
		m.Close()
		return nil, fmt.Errorf("mount web console: %w", err)
	}
	m.server = &http.Server{
		Handler: withConsole,
		// No ReadTimeout or WriteTimeout: they bound a whole request, and
		// a multi-gigabyte upload or download must not be cut off. A
		// stalled client is bounded by the header timeout and TCP.
		ReadHeaderTimeout: 30 * time.Second,
		// Idle keep-alive connections are closed after a while, so clients
		// that never close theirs do not hold file descriptors forever.
		IdleTimeout:    2 * time.Minute,
		MaxHeaderBytes: 64 << 10,
		ErrorLog:       slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	return m, nil
}

func openStore(dataDir string) (*boltstore.Store, error) {
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, fmt.Errorf("create data directory: %w", err)
	}
	path := filepath.Join(dataDir, "store.db")
	st, err := boltstore.Open(path, boltstore.Options{Timeout: time.Second})
	if err != nil {
		if errs.Is(err, errs.Unavailable) {
			return nil, fmt.Errorf("data directory %s is in use by a running rescale-local server: stop it, or create keys through the API (POST /api/v2/users/me/api-keys/): %w", dataDir, err)
		}
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	return st, nil
}

// bootstrap makes sure the default user exists and has a usable key, printing
// a generated key once.
func (m *Main) bootstrap(ctx context.Context) error {
	u, err := m.accounts.EnsureUser(ctx, m.cfg.DefaultEmail)
	if err != nil {
		return fmt.Errorf("default user: %w", err)
	}
	if m.cfg.DefaultKey != "" {
		_, _, err := m.accounts.CreateKey(ctx, u.ID, accounts.KeyOptions{Secret: m.cfg.DefaultKey})
		if err != nil && !errs.Is(err, errs.Conflict) {
			return fmt.Errorf("register RESCALE_LOCAL_API_KEY: %w", err)
		}
		if errs.Is(err, errs.Conflict) {
			owner, _, aerr := m.accounts.Authenticate(ctx, m.cfg.DefaultKey)
			if aerr == nil && owner.ID != u.ID {
				return fmt.Errorf("RESCALE_LOCAL_API_KEY already belongs to %s, not %s", owner.Email, u.Email)
			}
		}
		m.log.Info("default user ready", "email", u.Email, "key", "from RESCALE_LOCAL_API_KEY")
		return nil
	}
	_, n, err := m.accounts.ListKeys(ctx, u.ID, 0, 1)
	if err != nil {
		return fmt.Errorf("default user keys: %w", err)
	}
	if n > 0 {
		m.log.Info("default user ready", "email", u.Email, "keys", n)
		return nil
	}
	_, secret, err := m.accounts.CreateKey(ctx, u.ID, accounts.KeyOptions{})
	if err != nil {
		return fmt.Errorf("default user key: %w", err)
	}
	fmt.Fprintf(m.stdout, "Created user %s. Its API key (shown once, keep it):\n\n    export RESCALE_API_KEY=%s\n\n", u.Email, secret)
	return nil
}

// Addr is the bound address (useful with port 0).
func (m *Main) Addr() string { return m.listener.Addr().String() }

// Run serves until ctx is cancelled, then drains in-flight requests so that
// every acknowledged write is committed before the store closes.
func (m *Main) Run(ctx context.Context) error {
	if err := m.jobs.start(ctx); err != nil {
		return err
	}
	errc := make(chan error, 1)
	go func() { errc <- m.server.Serve(m.listener) }()
	m.log.Info("serving", "addr", "http://"+m.Addr(), "data", m.cfg.DataDir)
	fmt.Fprintf(m.stdout, "rescale-local listening on http://%s (data in %s)\n", m.Addr(), m.cfg.DataDir)
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	m.log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := m.server.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	return nil
}

// Close releases the store, after the storage events still queued have
// been applied to it.
func (m *Main) Close() error {
	var jerr error
	if m.jobs != nil {
		jerr = m.jobs.close()
		m.jobs = nil
	}
	if m.listener != nil && m.server == nil {
		m.listener.Close()
	}
	if m.objectEvents != nil {
		m.objectEvents.Close()
		m.objectEvents = nil
	}
	var err error
	if m.bucket != nil {
		err = m.bucket.Close()
		m.bucket = nil
	}
	if m.store == nil {
		return errors.Join(jerr, err)
	}
	err = errors.Join(jerr, err, m.store.Close())
	m.store = nil
	return err
}
