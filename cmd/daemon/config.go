package daemon

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/ghost-network/gpmd/events"
	"github.com/ghost-network/gpmd/fleet"
	"github.com/ghost-network/gpmd/gmp"
	"github.com/ghost-network/gpmd/internal/sdnotify"
	"github.com/ghost-network/gpmd/oci"
	"github.com/ghost-network/gpmd/repo"
)

// Names of the files in the data folder.
const (
	LockFile   = "gpmd.lock"
	PIDFile    = "gpmd.pid"
	StateFile  = "gpmd.state.json"
	LogFile    = "gpmd.log"
	SocketFile = "gpmd.sock" // the control API's Unix socket (socket.go)
	ModulesDir = "modules"
)

// Defaults of the daemon's settings (each is a flag of `gpmd start`).
const (
	DefaultDataDir         = "~/.ghost-network"
	DefaultControlAddr     = "127.0.0.1:1111"
	DefaultGMPAddr         = "127.0.0.1:5989"
	DefaultShutdownTimeout = 20 * time.Second
	DefaultMaxModuleSize   = repo.DefaultMaxModuleSize
	// DefaultControlStallTimeout is how long an upload or download may
	// move no byte: long enough for a congested link, short enough that
	// stalled peers do not pile up.
	DefaultControlStallTimeout = 30 * time.Second
	// DefaultControlMaxUploads bounds the memory and ingest files that
	// uploads in flight hold (about 1 MiB of buffers each).
	DefaultControlMaxUploads = 32
	// DefaultControlMaxConns bounds the control API's connections: they
	// come out of fdReserve, beside the daemon's own files.
	DefaultControlMaxConns = 128
	DefaultLogFormat       = LogFormatText
	DefaultLogMaxSize      = 10 << 20
	DefaultLogKeep         = 5
	// minFDLimit is the file limit below which the daemon refuses to
	// start: it could not even hold its own files and a few clients.
	minFDLimit = 64
	// fdReserve is what the daemon keeps for itself beyond GMP's
	// connections: its files, the control API's connections.
	fdReserve = 256
)

// Config of a daemon. Zero values take the defaults above and gmp's.
type Config struct {
	DataDir     string // absolute; ~ is expanded by ExpandHome
	ControlAddr string // host:port; port 0 picks a free port
	GMPAddr     string
	// TokenFile holds the control API's bearer token. Required when
	// ControlAddr is not a loopback address; when given, every request
	// needs the token whatever the address.
	TokenFile string

	MaxModuleSize     int64
	GMPMaxMessage     int
	GMPMaxConns       int
	GMPMessageTimeout time.Duration
	GMPWriteTimeout   time.Duration
	GMPReplyTimeout   time.Duration
	GMPMaxRejecting   int
	EventsQueue       int
	EventsHistory     int
	// ControlStallTimeout cuts an upload that sends no byte, or a
	// download whose client takes no byte, for that long.
	ControlStallTimeout time.Duration
	// ControlMaxUploads and ControlMaxConns cap the uploads and the
	// control connections in flight; over a cap the answer is 503 busy.
	ControlMaxUploads int
	ControlMaxConns   int
	ShutdownTimeout   time.Duration

	// The fleet (cmd/daemon/fleet.go): Fleet empty means no fleet, and
	// the other fields are unused.
	Fleet          string // NATS URLs, comma separated
	Device         string // "": the host name
	Advertise      string
	FleetTokenFile string
	FleetCreds     string
	FleetTLSCA     string
	FleetTLSCert   string
	FleetTLSKey    string
	FleetExpiry    time.Duration
	// LogFormat is LogFormatText or LogFormatJSON (log/slog's handlers).
	LogFormat string
	// LogMaxSize and LogKeep rotate <data>/gpmd.log: past LogMaxSize
	// bytes it becomes gpmd.log.1, and LogKeep rotated files are kept.
	LogMaxSize int64
	LogKeep    int
	// Registry is the upstream REGISTRY/NAMESPACE ("" for none);
	// RegistryConfig the credentials file ("" for docker's). The timeouts
	// and the tag cache TTL take oci's defaults.
	Registry                string
	RegistryConfig          string
	RegistryDialTimeout     time.Duration
	RegistryResponseTimeout time.Duration
	RegistryTagCacheTTL     time.Duration

	Version string
	// LogOutput, when not nil, receives the log instead of
	// <data>/gpmd.log: standard error in the foreground, where journald
	// collects it under systemd.
	LogOutput io.Writer
	// CaptureStderr points the process's standard error at the current
	// log file, so that what the Go runtime writes there (a crash's
	// trace) lands in the log: the background daemon's way, which has no
	// terminal. It is ignored with LogOutput.
	CaptureStderr bool
	// Notifier tells systemd about readiness, the stop and liveness
	// (nil: nothing is sent; see internal/sdnotify).
	Notifier *sdnotify.Notifier
}

// DefaultConfig is every setting at its default: the one place where the
// defaults meet (the help shows them, Run fills zero fields from them).
// DataDir is DefaultDataDir, still to be expanded by ExpandHome.
func DefaultConfig() Config {
	return Config{
		DataDir:             DefaultDataDir,
		ControlAddr:         DefaultControlAddr,
		GMPAddr:             DefaultGMPAddr,
		MaxModuleSize:       DefaultMaxModuleSize,
		GMPMaxMessage:       gmp.DefaultMaxMessage,
		GMPMaxConns:         gmp.DefaultMaxConns,
		GMPMessageTimeout:   gmp.DefaultMessageTimeout,
		GMPWriteTimeout:     gmp.DefaultWriteTimeout,
		GMPReplyTimeout:     gmp.DefaultReplyTimeout,
		GMPMaxRejecting:     gmp.DefaultMaxRejecting,
		EventsQueue:         events.DefaultQueue,
		EventsHistory:       events.DefaultHistory,
		ControlStallTimeout: DefaultControlStallTimeout,
		ControlMaxUploads:   DefaultControlMaxUploads,
		ControlMaxConns:     DefaultControlMaxConns,
		ShutdownTimeout:     DefaultShutdownTimeout,
		Version:             "dev",
		LogFormat:           DefaultLogFormat,
		LogMaxSize:          DefaultLogMaxSize,
		LogKeep:             DefaultLogKeep,
		FleetExpiry:         fleet.DefaultExpiry,

		RegistryDialTimeout:     oci.DefaultDialTimeout,
		RegistryResponseTimeout: oci.DefaultResponseHeaderTimeout,
		RegistryTagCacheTTL:     oci.DefaultTagCacheTTL,
	}
}

// setDefaults fills the zero fields from DefaultConfig, except the data
// folder and the token file, which have no default inside Run.
func (c *Config) setDefaults() {
	d := DefaultConfig()
	setIfZero(&c.ControlAddr, d.ControlAddr)
	setIfZero(&c.GMPAddr, d.GMPAddr)
	setIfZero(&c.MaxModuleSize, d.MaxModuleSize)
	setIfZero(&c.GMPMaxMessage, d.GMPMaxMessage)
	setIfZero(&c.GMPMaxConns, d.GMPMaxConns)
	setIfZero(&c.GMPMessageTimeout, d.GMPMessageTimeout)
	setIfZero(&c.GMPWriteTimeout, d.GMPWriteTimeout)
	setIfZero(&c.GMPReplyTimeout, d.GMPReplyTimeout)
	setIfZero(&c.GMPMaxRejecting, d.GMPMaxRejecting)
	setIfZero(&c.EventsQueue, d.EventsQueue)
	setIfZero(&c.EventsHistory, d.EventsHistory)
	setIfZero(&c.ControlStallTimeout, d.ControlStallTimeout)
	setIfZero(&c.ControlMaxUploads, d.ControlMaxUploads)
	setIfZero(&c.ControlMaxConns, d.ControlMaxConns)
	setIfZero(&c.ShutdownTimeout, d.ShutdownTimeout)
	setIfZero(&c.FleetExpiry, d.FleetExpiry)
	setIfZero(&c.LogFormat, d.LogFormat)
	setIfZero(&c.LogMaxSize, d.LogMaxSize)
	setIfZero(&c.LogKeep, d.LogKeep)
	setIfZero(&c.Version, d.Version)
	setIfZero(&c.RegistryDialTimeout, d.RegistryDialTimeout)
	setIfZero(&c.RegistryResponseTimeout, d.RegistryResponseTimeout)
	setIfZero(&c.RegistryTagCacheTTL, d.RegistryTagCacheTTL)
}

// setIfZero sets *p to def when *p is zero or negative.
func setIfZero[T interface {
	~string | ~int | ~int64
}](p *T, def T) {
	var zero T
	if *p <= zero {
		*p = def
	}
}

// token reads the token file, if there is one.
func (c *Config) token() (string, error) {
	if c.TokenFile == "" {
		return "", nil
	}
	return ReadToken(c.TokenFile)
}

// settingsAttrs is every setting's value, for the "settings" line the
// daemon logs at start (and that tests read back).
func (c *Config) settingsAttrs() []any {
	var attrs []any
	for _, s := range Settings() {
		attrs = append(attrs, slog.String(s.Flag, s.LogValue(c)))
	}
	return attrs
}

// ErrConfig: a setting that cannot work. The message says which and why.
var ErrConfig = errors.New("bad configuration")

// check validates the settings that need no file or port.
func (c *Config) check() error {
	if c.DataDir == "" || !filepath.IsAbs(c.DataDir) {
		return fmt.Errorf("%w: data folder %q is not an absolute path", ErrConfig, c.DataDir)
	}
	for _, a := range []struct{ flag, addr string }{{"--control-addr", c.ControlAddr}, {"--gmp-addr", c.GMPAddr}} {
		if _, _, err := net.SplitHostPort(a.addr); err != nil {
			return fmt.Errorf("%w: %s %q is not host:port (%v)", ErrConfig, a.flag, a.addr, err)
		}
	}
	// "" is the default (text), as for every zero field.
	if c.LogFormat != "" && c.LogFormat != LogFormatText && c.LogFormat != LogFormatJSON {
		return fmt.Errorf("%w: --log-format %q is neither %s nor %s", ErrConfig, c.LogFormat, LogFormatText, LogFormatJSON)
	}
	if c.Registry != "" {
		// Parsing only: the registry is not asked until a module is.
		if _, err := oci.NewUpstream(nil, c.Registry, nil); err != nil {
			return fmt.Errorf("%w: --registry: %v", ErrConfig, err)
		}
	}
	if c.TokenFile == "" && !IsLoopback(c.ControlAddr) {
		return fmt.Errorf("%w: refusing to serve the control API on %s without a token: give --token-file (or GPMD_TOKEN_FILE), or use a loopback address such as %s",
			ErrConfig, c.ControlAddr, DefaultControlAddr)
	}
	return nil
}

// IsLoopback reports whether the host of addr (host:port) is a loopback
// address or "localhost". An empty host means every interface: not loopback.
func IsLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// ReadToken reads a token file: its content with surrounding white space
// removed, which must not be empty. Like ssh with a key, it refuses a file
// others may read or change, or that belongs to another user (readTrusted):
// the daemon at start and the client alike.
func ReadToken(path string) (string, error) {
	data, err := readTrusted(path, true)
	if err != nil {
		return "", fmt.Errorf("token file: %w", err)
	}
	tok := strings.TrimSpace(string(data))
	if tok == "" {
		return "", fmt.Errorf("%w: token file %s is empty", ErrConfig, path)
	}
	if strings.ContainsAny(tok, "\r\n") {
		return "", fmt.Errorf("%w: token file %s holds more than one line", ErrConfig, path)
	}
	return tok, nil
}

// ExpandHome turns a leading ~ into the user's home folder and makes the
// path absolute.
func ExpandHome(path string) (string, error) {
	if path == "~" || strings.HasPrefix(path, "~/") {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("cannot find the home folder for %s (%v): set --data-dir or GPMD_HOME", path, err)
		}
		path = filepath.Join(home, path[1:])
	}
	return filepath.Abs(path)
}
