package conf

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/ghost-network/gpmd/fleet/fleetinfo"
	"github.com/ghost-network/gpmd/internal/units"
)

// Kind is how a setting's value is written and read.
type Kind int

const (
	KindString   Kind = iota // as given
	KindInt                  // a positive integer
	KindSize                 // a positive size: 1048576, 512KiB, 256MiB
	KindDuration             // a positive duration: 10s, 1m30s
)

// Setting is one of the daemon's settings: a field of Config, a flag of
// `gpmd start` (--Flag), an environment variable that sets it when the flag
// is not given (Env), and a line of help. Settings lists them all, and
// everything that names settings is made from that list: the flags and
// their help, the environment bindings, the command line `gpmd start` gives
// the background daemon, and the daemon's "settings" log line. A setting
// added to the list appears in all of them.
type Setting struct {
	Flag  string
	Env   string
	Usage string
	Kind  Kind
	// Client: the client commands (status, wasm …, kill) use it too, to
	// find the daemon; the CLI makes it a flag of every command.
	Client bool
	// Path: the value is a file name, made absolute by `gpmd start`
	// before it reaches the background daemon (which runs in /).
	Path bool
	// redact, when set, hides the secrets a value may hold in the daemon's
	// "settings" log line (a password in a URL).
	redact func(string) string
	// field points at the Config field the setting sets: *string for
	// KindString, *int or *int64 for KindInt and KindSize,
	// *time.Duration for KindDuration.
	field func(*Config) any
	// check, when not nil, vets a KindString value as it is set, so that
	// a bad one is a bad flag (exit status 2) and not a failed start.
	check func(string) error
}

// checkHostPort accepts host:port with a port of 0-65535.
func checkHostPort(v string) error {
	_, port, err := net.SplitHostPort(v)
	if err != nil {
		return fmt.Errorf("%q is not host:port (such as 127.0.0.1:1111)", v)
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		return fmt.Errorf("%q: the port must be a number from 0 to 65535", v)
	}
	return nil
}

// checkNotEmpty refuses an empty value (an empty data folder would be
// the current folder, which no one means).
func checkNotEmpty(v string) error {
	if v == "" {
		return errors.New("must not be empty")
	}
	return nil
}

// Settings lists every setting of the daemon, in the order of the help.
func Settings() []Setting {
	return []Setting{
		{Flag: "data-dir", Env: "GPMD_HOME", Kind: KindString, Client: true,
			Usage: "data folder of the daemon: modules, log, pid and state files",
			field: func(c *Config) any { return &c.DataDir }, check: checkNotEmpty},
		{Flag: "control-addr", Env: "GPMD_CONTROL_ADDR", Kind: KindString, Client: true,
			Usage: "host:port of the control API (the daemon listens there; the other commands call it)",
			field: func(c *Config) any { return &c.ControlAddr }, check: checkHostPort},
		{Flag: "token-file", Env: "GPMD_TOKEN_FILE", Kind: KindString, Client: true, Path: true,
			Usage: "file holding the control API's bearer token (required by the daemon off loopback)",
			field: func(c *Config) any { return &c.TokenFile }},
		{Flag: "gmp-addr", Env: "GPMD_GMP_ADDR", Kind: KindString,
			Usage: "host:port on which GMP listens for GVM nodes",
			field: func(c *Config) any { return &c.GMPAddr }, check: checkHostPort},
		{Flag: "max-module-size", Env: "GPMD_MAX_MODULE_SIZE", Kind: KindSize,
			Usage: "largest module an upload may send",
			field: func(c *Config) any { return &c.MaxModuleSize }},
		{Flag: "gmp-max-message", Env: "GPMD_GMP_MAX_MESSAGE", Kind: KindSize,
			Usage: "largest GMP message a node may send",
			field: func(c *Config) any { return &c.GMPMaxMessage }},
		{Flag: "gmp-max-conns", Env: "GPMD_GMP_MAX_CONNS", Kind: KindInt,
			Usage: "most GMP connections held at once; one more is answered busy",
			field: func(c *Config) any { return &c.GMPMaxConns }},
		{Flag: "gmp-message-timeout", Env: "GPMD_GMP_MESSAGE_TIMEOUT", Kind: KindDuration,
			Usage: "time a node has to finish a GMP message once it has begun one",
			field: func(c *Config) any { return &c.GMPMessageTimeout }},
		{Flag: "gmp-write-timeout", Env: "GPMD_GMP_WRITE_TIMEOUT", Kind: KindDuration,
			Usage: "time a write to a GMP node may take before the node is cut off",
			field: func(c *Config) any { return &c.GMPWriteTimeout }},
		{Flag: "gmp-reply-timeout", Env: "GPMD_GMP_REPLY_TIMEOUT", Kind: KindDuration,
			Usage: "time a whole MODULE reply may take, however steadily the node reads",
			field: func(c *Config) any { return &c.GMPReplyTimeout }},
		{Flag: "gmp-max-rejecting", Env: "GPMD_GMP_MAX_REJECTING", Kind: KindInt,
			Usage: "connections over --gmp-max-conns told busy at once; past it they are closed without a word",
			field: func(c *Config) any { return &c.GMPMaxRejecting }},
		{Flag: "events-queue", Env: "GPMD_EVENTS_QUEUE", Kind: KindInt,
			Usage: "events a subscriber (GMP or the control API's stream) may have waiting; one more drops them and it is told overflow",
			field: func(c *Config) any { return &c.EventsQueue }},
		{Flag: "events-history", Env: "GPMD_EVENTS_HISTORY", Kind: KindInt,
			Usage: "events kept in memory for a stream that resumes with Last-Event-ID",
			field: func(c *Config) any { return &c.EventsHistory }},
		{Flag: "control-stall-timeout", Env: "GPMD_CONTROL_STALL_TIMEOUT", Kind: KindDuration,
			Usage: "time an upload may send no byte, or a download's client take no byte, before it is cut",
			field: func(c *Config) any { return &c.ControlStallTimeout }},
		{Flag: "control-max-uploads", Env: "GPMD_CONTROL_MAX_UPLOADS", Kind: KindInt,
			Usage: "most uploads in flight at once; one more is answered 503 busy",
			field: func(c *Config) any { return &c.ControlMaxUploads }},
		{Flag: "control-max-conns", Env: "GPMD_CONTROL_MAX_CONNS", Kind: KindInt,
			Usage: "most control API connections held at once; one more is answered 503 busy and closed",
			field: func(c *Config) any { return &c.ControlMaxConns }},
		{Flag: "shutdown-timeout", Env: "GPMD_SHUTDOWN_TIMEOUT", Kind: KindDuration,
			Usage: "how long a stop waits for requests in flight before it cuts them",
			field: func(c *Config) any { return &c.ShutdownTimeout }},
		// The fleet (docs/fleet.md): without --fleet none of the others is used.
		{Flag: "fleet", Env: "GPMD_FLEET", Kind: KindString, redact: fleetinfo.RedactURLs,
			Usage: "join a fleet: NATS servers with JetStream, comma separated (nats://HOST:PORT,…); without it GPMD serves its device only",
			field: func(c *Config) any { return &c.Fleet }},
		{Flag: "device", Env: "GPMD_DEVICE", Kind: KindString,
			Usage: "this device's name in the fleet (1-64 of A-Z a-z 0-9 . _ -; unique in the fleet; default: the host name)",
			field: func(c *Config) any { return &c.Device }, check: fleetinfo.CheckDevice},
		{Flag: "advertise", Env: "GPMD_ADVERTISE", Kind: KindString,
			Usage: "IP address or host name, without a port, at which other devices reach this device's nodes (required with --fleet)",
			field: func(c *Config) any { return &c.Advertise }, check: fleetinfo.CheckAdvertise},
		{Flag: "fleet-token-file", Env: "GPMD_FLEET_TOKEN_FILE", Kind: KindString, Path: true,
			Usage: "file holding the NATS token of the fleet",
			field: func(c *Config) any { return &c.FleetTokenFile }},
		{Flag: "fleet-creds", Env: "GPMD_FLEET_CREDS", Kind: KindString, Path: true,
			Usage: "NATS credentials file (JWT and nkey seed) of this device",
			field: func(c *Config) any { return &c.FleetCreds }},
		{Flag: "fleet-tls-ca", Env: "GPMD_FLEET_TLS_CA", Kind: KindString, Path: true,
			Usage: "PEM file of the CAs that sign the NATS servers' certificates",
			field: func(c *Config) any { return &c.FleetTLSCA }},
		{Flag: "fleet-tls-cert", Env: "GPMD_FLEET_TLS_CERT", Kind: KindString, Path: true,
			Usage: "PEM client certificate for NATS (with --fleet-tls-key)",
			field: func(c *Config) any { return &c.FleetTLSCert }},
		{Flag: "fleet-tls-key", Env: "GPMD_FLEET_TLS_KEY", Kind: KindString, Path: true,
			Usage: "PEM key of the client certificate for NATS (with --fleet-tls-cert)",
			field: func(c *Config) any { return &c.FleetTLSKey }},
		{Flag: "fleet-expiry", Env: "GPMD_FLEET_EXPIRY", Kind: KindDuration,
			Usage: "how long this device's nodes outlive it in the fleet when it stops refreshing them (3s to 30s; heartbeat a third of it)",
			field: func(c *Config) any { return &c.FleetExpiry }},
		{Flag: "log-format", Env: "GPMD_LOG_FORMAT", Kind: KindString,
			Usage: "format of the log lines: text or json",
			field: func(c *Config) any { return &c.LogFormat }},
		{Flag: "log-max-size", Env: "GPMD_LOG_MAX_SIZE", Kind: KindSize,
			Usage: "size past which the background daemon's gpmd.log is rotated to gpmd.log.1",
			field: func(c *Config) any { return &c.LogMaxSize }},
		{Flag: "log-keep", Env: "GPMD_LOG_KEEP", Kind: KindInt,
			Usage: "how many rotated log files (gpmd.log.1 …) are kept",
			field: func(c *Config) any { return &c.LogKeep }},
		{Flag: "registry", Env: "GPMD_REGISTRY", Kind: KindString,
			Usage: "OCI registry namespace (REGISTRY/NAMESPACE) that GVMs and `wasm get` fetch from when no local version fits (default: none)",
			field: func(c *Config) any { return &c.Registry }},
		{Flag: "registry-config", Env: "GPMD_REGISTRY_CONFIG", Kind: KindString, Path: true,
			Usage: "docker/oras config.json with registry credentials and credential helpers (default: $DOCKER_CONFIG/config.json or ~/.docker/config.json)",
			field: func(c *Config) any { return &c.RegistryConfig }},
		{Flag: "registry-dial-timeout", Env: "GPMD_REGISTRY_DIAL_TIMEOUT", Kind: KindDuration,
			Usage: "time a connection to a registry may take",
			field: func(c *Config) any { return &c.RegistryDialTimeout }},
		{Flag: "registry-response-timeout", Env: "GPMD_REGISTRY_RESPONSE_TIMEOUT", Kind: KindDuration,
			Usage: "time a registry has to begin answering a request before it counts as unreachable",
			field: func(c *Config) any { return &c.RegistryResponseTimeout }},
		{Flag: "registry-tag-cache", Env: "GPMD_REGISTRY_TAG_CACHE", Kind: KindDuration,
			Usage: "how long the upstream's tag lists are trusted (a version pushed elsewhere is seen within it)",
			field: func(c *Config) any { return &c.RegistryTagCacheTTL }},
	}
}

// Get is the setting's value in c, written so that Set reads it back
// exactly (sizes in bytes): what `gpmd start` passes to the background
// daemon.
func (s Setting) Get(c *Config) string {
	switch p := s.field(c).(type) {
	case *string:
		return *p
	case *int:
		return strconv.Itoa(*p)
	case *int64:
		return strconv.FormatInt(*p, 10)
	case *time.Duration:
		return p.String()
	}
	panic("daemon: setting " + s.Flag + " has a field of no known type") // a programming error in Settings
}

// LogValue is the setting's value in c for the log: Get with its secrets
// hidden.
func (s Setting) LogValue(c *Config) string {
	if s.redact != nil {
		return s.redact(s.Get(c))
	}
	return s.Get(c)
}

// Show is the setting's value in c for people (sizes as 256 MiB): the
// default in the help.
func (s Setting) Show(c *Config) string {
	if s.Kind == KindSize {
		n, _ := strconv.ParseInt(s.Get(c), 10, 64)
		return units.FormatBytes(n)
	}
	return s.Get(c)
}

// Set reads v into the setting's field of c. Numbers, sizes and durations
// must be positive: zero would mean "the default" to Run, which is not what
// someone who wrote 0 meant.
func (s Setting) Set(c *Config, v string) error {
	switch p := s.field(c).(type) {
	case *string:
		if s.check != nil {
			if err := s.check(v); err != nil {
				return err
			}
		}
		*p = v
		return nil
	case *int, *int64:
		var n int64
		var err error
		if s.Kind == KindSize {
			n, err = units.ParseBytes(v)
		} else if n, err = strconv.ParseInt(v, 10, 0); err != nil {
			err = fmt.Errorf("%q is not a whole number", v)
		} else if n < 1 {
			err = fmt.Errorf("must be at least 1, not %d", n)
		}
		if err != nil {
			return err
		}
		if ip, ok := p.(*int); ok {
			if int64(int(n)) != n {
				return fmt.Errorf("%s is too large", v)
			}
			*ip = int(n)
		} else {
			*p.(*int64) = n
		}
		return nil
	case *time.Duration:
		d, err := time.ParseDuration(v)
		if err == nil && d <= 0 {
			err = fmt.Errorf("must be a positive duration such as 10s, not %s", v)
		}
		if err != nil {
			return err
		}
		*p = d
		return nil
	}
	panic("daemon: setting " + s.Flag + " has a field of no known type")
}

// TypeName names the kind of value in the help: string, int, size, duration.
func (s Setting) TypeName() string {
	return [...]string{"string", "int", "size", "duration"}[s.Kind]
}
