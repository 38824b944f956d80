// Package conf is what the daemon and its command line share about a data
// folder and its settings: the settings table (Settings: flags,
// environment variables, help, the background child's argv), Config and its
// defaults, the names of the folder's files, and the folder as a client
// reads it: the state file (ReadState), the token file (ReadToken), the
// control socket (TrustedSocket), the lock (Probe, LockHolder,
// VerifyHolder, LockDataDir).
//
// # Guarantees
//
// Light: it imports the standard library and light packages only, so the
// gpmd command line links it without the engine (issue 15). Trust: a state
// file, token file or socket is used only when it and its folder belong to
// this user or root and others cannot change it (readTrusted,
// *UntrustedError); a pid is signalled only when the kernel's lock table
// and /proc/PID/exe say it is the folder's gpmd (VerifyHolder).
package conf

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/ghost-network/gpmd/events"
	"github.com/ghost-network/gpmd/fleet/fleetinfo"
	"github.com/ghost-network/gpmd/internal/sdnotify"
)

// Names of the files in the data folder.
const (
	LockFile   = "gpmd.lock"
	PIDFile    = "gpmd.pid"
	StateFile  = "gpmd.state.json"
	LogFile    = "gpmd.log"
	SocketFile = "gpmd.sock" // the control API's Unix socket (served by cmd/daemon/socket.go; TrustedSocket)
	ModulesDir = "modules"
)

// The values of --log-format.
const (
	LogFormatText = "text" // log/slog's key=value lines
	LogFormatJSON = "json" // one JSON object a line
)

// Defaults of the daemon's settings (each is a flag of `gpmd start`).
const (
	DefaultDataDir         = "~/.ghost-network"
	DefaultControlAddr     = "127.0.0.1:1111"
	DefaultGMPAddr         = "127.0.0.1:5989"
	DefaultShutdownTimeout = 20 * time.Second
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
)

// Defaults that belong to the engine's packages (gmp, oci, repo), written
// here as values: this package is what the light command line links, and
// it must not link those to show a default in the help (issue 15). They
// are not a second home: cmd/daemon's TestConfDefaultsAreTheEngines fails
// as soon as one differs from the constant it names.
const (
	DefaultMaxModuleSize           = 256 << 20        // repo.DefaultMaxModuleSize
	DefaultGMPMaxMessage           = 1 << 20          // DefaultGMPMaxMessage
	DefaultGMPMaxConns             = 10000            // DefaultGMPMaxConns
	DefaultGMPMessageTimeout       = 10 * time.Second // DefaultGMPMessageTimeout
	DefaultGMPWriteTimeout         = 30 * time.Second // DefaultGMPWriteTimeout
	DefaultGMPReplyTimeout         = 2 * time.Minute  // DefaultGMPReplyTimeout
	DefaultGMPMaxRejecting         = 64               // DefaultGMPMaxRejecting
	DefaultRegistryDialTimeout     = 10 * time.Second // DefaultRegistryDialTimeout
	DefaultRegistryResponseTimeout = 30 * time.Second // DefaultRegistryResponseTimeout
	DefaultRegistryTagCacheTTL     = 30 * time.Second // DefaultRegistryTagCacheTTL
)

// Config of a daemon. Zero values take the defaults above.
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
		GMPMaxMessage:       DefaultGMPMaxMessage,
		GMPMaxConns:         DefaultGMPMaxConns,
		GMPMessageTimeout:   DefaultGMPMessageTimeout,
		GMPWriteTimeout:     DefaultGMPWriteTimeout,
		GMPReplyTimeout:     DefaultGMPReplyTimeout,
		GMPMaxRejecting:     DefaultGMPMaxRejecting,
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
		FleetExpiry:         fleetinfo.DefaultExpiry,

		RegistryDialTimeout:     DefaultRegistryDialTimeout,
		RegistryResponseTimeout: DefaultRegistryResponseTimeout,
		RegistryTagCacheTTL:     DefaultRegistryTagCacheTTL,
	}
}

// ErrConfig: a setting that cannot work. The message says which and why.
var ErrConfig = errors.New("bad configuration")

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
