package httpapi

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"strings"
	"time"

	"github.com/openrescale/platform/shared/errs"
)

// Authenticator identifies the caller of a request.
type Authenticator interface {
	// Authenticate returns the caller or an errs.Unauthenticated error whose
	// message the client sees.
	Authenticate(r *http.Request) (Principal, error)
}

// Limiter decides whether a caller may make another request now.
type Limiter interface {
	// Allow reports whether key may proceed, and if not, how long to wait.
	Allow(key string) (bool, time.Duration)
}

// Config wires a Handler.
type Config struct {
	Auth  Authenticator
	Limit Limiter // nil: no rate limit
	Log   *slog.Logger
	Base  BaseURL
	// BodyIdleTimeout is how long a request body may send nothing before
	// the read fails (400) and the connection is dropped: a deadline that
	// each read that gets bytes pushes back, so a slow upload that keeps
	// sending is never cut, while a stalled one does not hold a connection
	// and a staging file for ever. 0 means DefaultBodyIdleTimeout;
	// negative, none. It needs a net/http server (ResponseController read
	// deadlines); elsewhere (Lambda, tests) it does nothing.
	BodyIdleTimeout time.Duration
}

// DefaultBodyIdleTimeout is Config.BodyIdleTimeout's default: long enough
// for any network that is still delivering, short enough that stalled
// clients are shed quickly.
const DefaultBodyIdleTimeout = time.Minute

// Handler serves a route table: the local server mounts all routes on one
// Handler, a Lambda function mounts only its own.
type Handler struct {
	mux     *http.ServeMux
	cfg     Config
	routes  []Route
	matcher *Matcher
}

var allMethods = []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete}

// NewHandler builds the handler. Route paths must be unique per method.
func NewHandler(routes []Route, cfg Config) (*Handler, error) {
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.BodyIdleTimeout == 0 {
		cfg.BodyIdleTimeout = DefaultBodyIdleTimeout
	}
	h := &Handler{mux: http.NewServeMux(), cfg: cfg, routes: routes, matcher: NewMatcher(routes)}
	for _, rt := range routes {
		if cfg.Auth == nil && !rt.Public {
			return nil, fmt.Errorf("route %s needs an authenticator", rt.Name)
		}
		if err := register(h.mux, pattern(rt), h.wrap(rt)); err != nil {
			return nil, fmt.Errorf("route %s: %w", rt.Name, err)
		}
	}
	return h, nil
}

// pattern is rt's ServeMux pattern; AnyMethod routes match every method.
func pattern(rt Route) string {
	if rt.Method == AnyMethod {
		return MuxPath(rt.Path)
	}
	return rt.Method + " " + MuxPath(rt.Path)
}

// Matcher knows which methods a route table serves at a path. It ignores
// AnyMethod routes, which exist to answer what the others do not.
type Matcher struct {
	mux *http.ServeMux
}

// NewMatcher indexes routes. Conflicting patterns are skipped here;
// NewHandler reports them.
func NewMatcher(routes []Route) *Matcher {
	m := &Matcher{mux: http.NewServeMux()}
	for _, rt := range routes {
		if rt.Method != AnyMethod {
			_ = register(m.mux, pattern(rt), http.NotFoundHandler())
		}
	}
	return m
}

// Allowed lists the methods served at r's (canonical) path.
func (m *Matcher) Allowed(r *http.Request) []string {
	r2 := r.Clone(r.Context())
	r2.URL.Path, r2.URL.RawPath = CanonicalPath(r.URL.Path), ""
	var allow []string
	for _, meth := range allMethods {
		r2.Method = meth
		if _, pattern := m.mux.Handler(r2); pattern != "" {
			allow = append(allow, meth)
		}
	}
	return allow
}

// NoRoute is the error for a request no route serves: 405 with an Allow
// header when another method serves the path, 404 otherwise.
func (m *Matcher) NoRoute(w http.ResponseWriter, r *http.Request) error {
	if allow := m.Allowed(r); len(allow) > 0 {
		w.Header().Set("Allow", strings.Join(allow, ", "))
		return errs.E(errs.MethodNotAllowed, "Method %q not allowed.", r.Method)
	}
	return errs.E(errs.NotFound, "Not found.")
}

func register(mux *http.ServeMux, pattern string, handler http.Handler) (err error) {
	defer func() {
		if p := recover(); p != nil { // ServeMux panics on conflicting patterns
			err = fmt.Errorf("register %q: %v", pattern, p)
		}
	}()
	mux.Handle(pattern, handler)
	return nil
}

// MuxPath turns a spec path into a ServeMux pattern that matches it exactly:
// "/api/v2/jobs/{id}/" → "/api/v2/jobs/{id}/{$}".
func MuxPath(p string) string {
	if strings.HasSuffix(p, "/") {
		return p + "{$}"
	}
	return p
}

// CanonicalPath is the path a request is routed by: the spec says every path
// ends in "/", and existing scripts omit it, so a missing slash is served
// identically rather than redirected (a 301 turns requests' POST into GET).
func CanonicalPath(p string) string {
	if strings.HasPrefix(p, "/api/") && !strings.HasSuffix(p, "/") {
		return p + "/"
	}
	return p
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	sw := &statusWriter{ResponseWriter: w}
	defer func() {
		if p := recover(); p != nil {
			if p == http.ErrAbortHandler {
				// A handler ending a response it has started, on purpose:
				// net/http breaks the connection so the client cannot take
				// a partial body for a whole one.
				h.cfg.Log.WarnContext(r.Context(), "response aborted", "method", r.Method, "path", r.URL.Path, "status", sw.status, "bytes", sw.n)
				panic(p)
			}
			h.cfg.Log.ErrorContext(r.Context(), "panic", "method", r.Method, "path", r.URL.Path, "panic", p, "stack", string(debug.Stack()))
			if !sw.wrote {
				Error(sw, r, nil, errs.E(errs.Internal, "panic"))
			}
		}
		h.cfg.Log.InfoContext(r.Context(), "request", "method", r.Method, "path", r.URL.Path, "status", sw.status, "bytes", sw.n, "ms", time.Since(start).Milliseconds())
	}()

	if cp := CanonicalPath(r.URL.Path); cp != r.URL.Path {
		r2 := *r
		u := *r.URL
		u.Path = cp
		u.RawPath = ""
		r2.URL = &u
		r = &r2
	}
	if r.Body != nil && r.Body != http.NoBody {
		b := &requestBody{ReadCloser: r.Body}
		if h.cfg.BodyIdleTimeout > 0 {
			b.idle, b.rc = h.cfg.BodyIdleTimeout, http.NewResponseController(w)
		}
		r.Body = b
	}
	if _, pattern := h.mux.Handler(r); pattern == "" {
		h.noRoute(sw, r)
		return
	}
	h.mux.ServeHTTP(sw, r)
}

// noRoute answers 405 with Allow when another method matches the path, and
// 404 otherwise, both as JSON. Under /api/ the caller is authenticated
// first, so that a client checking its key against any path (GET /api/v2/)
// learns that the key is bad rather than that the path is unknown; route
// tables with an AnyMethod route under /api/ (functions/api) answer there
// instead, alike in Lambda, where this handler never sees unrouted paths.
func (h *Handler) noRoute(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, "/api/") && h.cfg.Auth != nil {
		var ok bool
		if r, ok = h.authenticate(w, r); !ok {
			return
		}
	}
	Error(w, r, h.cfg.Log, h.matcher.NoRoute(w, r))
}

// authenticate checks the caller and the per-key rate limit, answering
// the request itself when either refuses it.
func (h *Handler) authenticate(w http.ResponseWriter, r *http.Request) (*http.Request, bool) {
	p, err := h.cfg.Auth.Authenticate(r)
	if err != nil {
		Error(w, r, h.cfg.Log, err)
		return r, false
	}
	if h.cfg.Limit != nil {
		if ok, wait := h.cfg.Limit.Allow(p.KeyID); !ok {
			secs := int(wait.Seconds() + 0.999)
			Error(w, r, h.cfg.Log, &errs.Error{Code: errs.RateLimited, Message: fmt.Sprintf("Request was throttled. Expected available in %d seconds.", max(secs, 1)), RetryAfter: max(secs, 1)})
			return r, false
		}
	}
	return r.WithContext(WithPrincipal(r.Context(), p)), true
}

func (h *Handler) wrap(rt Route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !rt.Public {
			var ok bool
			if r, ok = h.authenticate(w, r); !ok {
				return
			}
		}
		if err := rt.Handler(w, r); err != nil {
			Error(w, r, h.cfg.Log, err)
		}
	})
}

// requestBody makes a failed read of the request body the client's error:
// a body that ends before its Content-Length or chunked terminator, or a
// connection that stalls past the read deadline, is a 400 wherever a
// handler reads it (JSON, storage PUTs, upload parts), not an internal
// error. A request body too large keeps its own error for a 413.
type requestBody struct {
	io.ReadCloser
	idle     time.Duration
	rc       *http.ResponseController
	deadline time.Time // the read deadline set last
}

func (b *requestBody) Read(p []byte) (int, error) {
	if b.rc != nil {
		// Moving the deadline costs a timer update; doing it only once
		// some of the idle time has passed keeps that off the fast path.
		if now := time.Now(); b.deadline.Sub(now) < b.idle*3/4 {
			b.deadline = now.Add(b.idle)
			if err := b.rc.SetReadDeadline(b.deadline); err != nil {
				b.rc = nil // not a net/http connection: nothing to bound
			}
		}
	}
	n, err := b.ReadCloser.Read(p)
	if err == io.EOF && b.rc != nil {
		// The body is done; net/http now reads the connection in the
		// background to notice a client leaving, and an idle deadline left
		// behind would cancel a handler that outlasts it.
		_ = b.rc.SetReadDeadline(time.Time{})
		b.rc = nil
	}
	if err != nil && err != io.EOF {
		var mbe *http.MaxBytesError
		if !errors.As(err, &mbe) {
			err = errs.Wrap(errs.Invalid, err, "reading the request body: %s", bodyProblem(err))
		}
	}
	return n, err
}

func bodyProblem(err error) string {
	var ne net.Error
	switch {
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "the body ended before its declared length"
	case errors.As(err, &ne) && ne.Timeout():
		return "the client sent nothing for too long"
	}
	return err.Error()
}

type statusWriter struct {
	http.ResponseWriter
	status int
	n      int64
	wrote  bool
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wrote {
		w.status, w.wrote = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if !w.wrote {
		w.status, w.wrote = http.StatusOK, true
	}
	n, err := w.ResponseWriter.Write(b)
	w.n += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach the underlying writer (flush,
// deadlines) for streaming downloads.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// ReadFrom passes io.Copy through to net/http's own ReadFrom, which sends
// an *os.File (or a LimitedReader of one) with sendfile.
func (w *statusWriter) ReadFrom(src io.Reader) (int64, error) {
	rf, ok := w.ResponseWriter.(io.ReaderFrom)
	if !ok {
		return io.Copy(struct{ io.Writer }{w}, src)
	}
	if !w.wrote {
		w.status, w.wrote = http.StatusOK, true
	}
	n, err := rf.ReadFrom(src)
	w.n += n
	return n, err
}
