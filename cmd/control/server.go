package control

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ghost-network/gpmd/cmd/control/api"
	"github.com/ghost-network/gpmd/errdefs"
	"github.com/ghost-network/gpmd/gmp/wire"
	"github.com/ghost-network/gpmd/index"
	"github.com/ghost-network/gpmd/repo"
	"github.com/ghost-network/gpmd/wasm"
)

// Modules is what the control API needs of the module repository
// (*repo.Repo satisfies it).
type Modules interface {
	// UploadWith takes the name and version as the handler parsed them
	// (index.ParseRef): the repository does not check them again.
	UploadWith(ctx context.Context, ref index.Ref, body io.Reader, opts repo.UploadOptions) (index.Record, error)
	// The lookups and removals take what the handler parsed
	// (index.ParseQuery, ParseName, ParseRef) too.
	Resolve(ctx context.Context, q index.Query) (index.Record, error)
	// Get opens a verifying reader of rec.Size bytes; the caller closes it.
	Get(ctx context.Context, q index.Query) (index.Record, io.ReadCloser, error)
	// List lists name's modules; the zero Name lists all.
	List(ctx context.Context, name index.Name) ([]index.Module, error)
	Remove(ctx context.Context, ref index.Ref) (index.Record, error)
	// Info is what the parse of the resolved version's bytes recorded.
	Info(ctx context.Context, q index.Query) (index.Record, wasm.Info, error)
	// InfoSummaries: kind and counts of every version of name ("": all),
	// keyed by name@version.
	InfoSummaries(ctx context.Context, name string) (map[string]index.ModuleInfo, error)
	// Check validates the resolved version in full (wazero).
	Check(ctx context.Context, q index.Query) (index.Record, error)
	// RemoveWith is Remove with options; Forget drops the version's
	// tombstone, so it may come back with other bytes.
	RemoveWith(ctx context.Context, ref index.Ref, opts repo.RemoveOptions) (index.Record, error)
	Stats(ctx context.Context) (index.Stats, error)
	// MaxModuleSize is the largest module Upload takes: the one limit,
	// which the control API asks for instead of keeping a copy.
	MaxModuleSize() int64
}

// Nodes is what the control API needs of the GMP server (*gmp.Server
// satisfies it).
type Nodes interface {
	Nodes() []wire.NodeInfo
	ConnCount() int
}

// Config of a Server.
type Config struct {
	Modules Modules
	Nodes   Nodes // nil: no GMP server, GET /v1/nodes lists none
	// Fleet, when not nil, adds the fleet to GET /v1/status and the other
	// devices' nodes to GET /v1/nodes.
	Fleet Fleet
	// Events, when not nil, serves GET /v1/events (events.go).
	Events EventSource
	// Ops, when not nil, serves verify, gc and backup.
	Ops  Operations
	Info api.Info
	// Token, when not empty, is required on every request as
	// "Authorization: Bearer <token>".
	Token string
	// Addr is the address the server listens on (host:port, the host as
	// configured, the port resolved): the origin guard takes Host headers
	// of a loopback name on its port, and of this host with a token (see
	// hostAllowed). Empty: a loopback name on any port.
	Addr string
	// OwnerUID is the user the daemon runs as: over the Unix socket
	// (a request whose context carries a Peer) only it and root are
	// served.
	OwnerUID uint32
	// StallTimeout cuts an upload that sends no byte, or a download whose
	// client takes no byte, for this long (0: never), so that stalled
	// peers cannot hold memory and connections for ever.
	StallTimeout time.Duration
	// MaxUploads is the most uploads in flight at once (0: no cap); one
	// more is answered 503 busy.
	MaxUploads int
	Logger     *slog.Logger // nil: discard
	// Now is the clock (nil: time.Now); tests set it.
	Now func() time.Time
	// Observer is told of uploads, downloads, verify and gc (nil:
	// nothing is observed).
	Observer Observer
	// Metrics, when not nil, serves GET /metrics (metrics.Handler).
	Metrics http.Handler

	// Registry, when not nil, serves push, pull and tag lists (registry.go).
	Registry Registry
}

// HandlerFunc is an endpoint: it writes a success response itself and
// returns an error for the server to answer as JSON with its class's status.
type HandlerFunc func(w http.ResponseWriter, r *http.Request) error

// Server is the control API's handler set. It is an http.Handler; the
// daemon runs it in an http.Server.
type Server struct {
	cfg     Config
	log     *slog.Logger
	mux     *http.ServeMux
	handler http.Handler
	token   [sha256.Size]byte // hash of cfg.Token, compared in constant time
	// uploads holds a token per upload in flight, MaxUploads at most (nil:
	// no cap).
	uploads chan struct{}

	// stopping is closed by StopStreams: event streams end.
	stopping chan struct{}
	stopOnce sync.Once
}

// NewServer builds the handlers of every endpoint in docs/control-api.md.
func NewServer(cfg Config) *Server {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Observer == nil {
		cfg.Observer = nopObserver{}
	}
	s := &Server{cfg: cfg, log: cfg.Logger, mux: http.NewServeMux(), stopping: make(chan struct{})}
	if cfg.Token != "" {
		s.token = sha256.Sum256([]byte(cfg.Token))
	}
	if cfg.MaxUploads > 0 {
		s.uploads = make(chan struct{}, cfg.MaxUploads)
	}
	s.Handle("GET /v1/status", s.getStatus)
	s.Handle("GET /v1/nodes", s.getNodes)
	s.Handle("GET /v1/events", s.getEvents)
	s.Handle("GET /v1/modules", s.listModules)
	s.Handle("GET /v1/modules/{name}", s.getModule)
	s.Handle("GET /v1/modules/{name}/{version}", s.resolveVersion)
	s.Handle("GET /v1/modules/{name}/{version}/content", s.getContent)
	s.Handle("GET /v1/modules/{name}/{version}/info", s.getInfo)
	s.Handle("POST /v1/modules/{name}/{version}/check", s.postCheck)
	s.Handle("PUT /v1/modules/{name}/{version}", s.putVersion)
	s.Handle("PUT /v1/modules/{name}/{version}/file", s.putVersionFile)
	s.Handle("DELETE /v1/modules/{name}/{version}", s.deleteVersion)
	s.registerOps()
	s.handleMetrics(cfg.Metrics)
	s.registerRegistry()
	s.Handle("/", func(w http.ResponseWriter, r *http.Request) error {
		return &statusError{http.StatusNotFound, CodeNotFound, "no endpoint " + r.Method + " " + r.URL.Path + " (see docs/control-api.md)"}
	})
	s.handler = s.logRequests(s.guardOrigin(s.authenticate(s.mux)))
	return s
}

// Handle adds an endpoint (a Go 1.22 ServeMux pattern). The daemon adds
// operations' endpoints this way; errors h returns are answered by the
// one mapping in statusOf.
func (s *Server) Handle(pattern string, h HandlerFunc) {
	s.mux.Handle(pattern, s.errorHandler(h))
}

// ServeHTTP serves one request: logged, its Host and Origin checked,
// authenticated, then routed.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if p, ok := r.Context().Value(passedKey{}).(*PassedFiles); ok {
		// Over the socket: whatever descriptor came with this request
		// and was not taken (any endpoint but the upload by descriptor,
		// a refusal before it) is closed when it ends.
		defer p.drop()
	}
	s.handler.ServeHTTP(w, r)
}

// statusError is an error with its own status and code, for answers that
// belong to no error class (no such endpoint).
type statusError struct {
	status  int
	code    string
	message string
}

func (e *statusError) Error() string { return e.message }

// errorHandler answers h's error as JSON, unless h already began its
// response (then the request log records the error and nothing else can
// be said).
func (s *Server) errorHandler(h HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		err := h(w, r)
		if err == nil {
			return
		}
		rec, _ := w.(*recorder)
		if rec != nil {
			rec.err = err
			if rec.wroteHeader {
				return
			}
		}
		writeError(w, err)
	})
}

// writeError answers err as {"error", "message"} with its class's status.
func writeError(w http.ResponseWriter, err error) {
	status, code := statusOf(err)
	var se *statusError
	if errors.As(err, &se) {
		status, code = se.status, se.code
	}
	h := w.Header()
	for k := range h {
		// Headers set for a success (Content-Length of a module) must
		// not describe the error body; "Connection: close" still holds.
		if k != "Connection" {
			delete(h, k)
		}
	}
	if status == http.StatusUnauthorized {
		h.Set("WWW-Authenticate", `Bearer realm="gpmd"`)
	}
	writeJSON(w, status, api.ErrorBody{Error: code, Message: err.Error()})
}

// writeJSON writes v as the whole response.
func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		body, _ = json.Marshal(api.ErrorBody{Error: CodeInternal, Message: err.Error()})
	}
	body = append(body, '\n')
	w.Header().Set("Content-Type", "application/json")
	// The length is known: a response flushed before its handler returns
	// (answerUpload) is then whole at once, not chunked until the end.
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	w.Write(body)
}

// authenticate requires the bearer token when the server has one.
func (s *Server) authenticate(next http.Handler) http.Handler {
	if s.cfg.Token == "" {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auth := r.Header.Get("Authorization")
		given, ok := strings.CutPrefix(auth, "Bearer ")
		// Hashing first makes the comparison constant-time in the length
		// of the token as well as in its bytes.
		sum := sha256.Sum256([]byte(given))
		if !ok || subtle.ConstantTimeCompare(sum[:], s.token[:]) != 1 {
			msg := "this gpmd requires a token: send Authorization: Bearer <token> (the CLI reads it from --token-file or GPMD_TOKEN_FILE)"
			if ok {
				msg = "the token is wrong: this gpmd refused it (check --token-file or GPMD_TOKEN_FILE)"
			}
			err := &tokenError{msg}
			if rec, _ := w.(*recorder); rec != nil {
				rec.err = err
			}
			writeError(w, err)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// tokenError is a 401 with a message that says what was wrong.
type tokenError struct{ msg string }

func (e *tokenError) Error() string { return e.msg }
func (e *tokenError) Unwrap() error { return errdefs.ErrUnauthorized }

// recorder remembers what a handler answered, for the request log.
type recorder struct {
	http.ResponseWriter
	status      int
	bytes       int64
	wroteHeader bool
	err         error
}

func (rw *recorder) WriteHeader(status int) {
	if !rw.wroteHeader {
		rw.status, rw.wroteHeader = status, true
	}
	rw.ResponseWriter.WriteHeader(status)
}

func (rw *recorder) Write(p []byte) (int, error) {
	if !rw.wroteHeader {
		rw.WriteHeader(http.StatusOK)
	}
	n, err := rw.ResponseWriter.Write(p)
	rw.bytes += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach the connection.
func (rw *recorder) Unwrap() http.ResponseWriter { return rw.ResponseWriter }

// logRequests writes one log line per request: method, path, status,
// duration, bytes sent and the error if any. A handler that aborts the
// response (http.ErrAbortHandler) is logged as aborted, then the panic goes
// on so that net/http cuts the connection.
func (s *Server) logRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := s.cfg.Now()
		rec := &recorder{ResponseWriter: w, status: http.StatusOK}
		aborted := true
		defer func() {
			attrs := []any{
				"method", r.Method,
				"path", r.URL.Path,
				"status", rec.status,
				"duration", s.cfg.Now().Sub(start).Round(time.Microsecond),
				"bytes", rec.bytes,
				"remote", r.RemoteAddr,
			}
			if p, ok := PeerOf(r.Context()); ok {
				attrs = append(attrs, "peer_uid", p.UID, "peer_pid", p.PID)
			}
			if r.URL.RawQuery != "" {
				attrs = append(attrs, "query", r.URL.RawQuery)
			}
			level := slog.LevelInfo
			msg := "request"
			if aborted {
				attrs = append(attrs, "aborted", true)
				level = slog.LevelError
			}
			if isCanceled(rec.err) {
				// The client's choice, not the daemon's failure.
				attrs = append(attrs, "err", rec.err.Error())
				level, msg = slog.LevelWarn, "upload cancelled by the client"
			} else if rec.err != nil {
				attrs = append(attrs, "err", rec.err.Error())
				if rec.status >= 500 || aborted {
					level = slog.LevelError
				} else {
					level = slog.LevelWarn
				}
			}
			if r.URL.Path == MetricsPath && level == slog.LevelInfo {
				level = slog.LevelDebug // a scrape every few seconds
			}
			s.log.Log(context.Background(), level, msg, attrs...)
		}()
		next.ServeHTTP(rec, r)
		aborted = false
	})
}
