package daemon

import (
	"fmt"
	"log/slog"
	"net"
	"path/filepath"

	"github.com/ghost-network/gpmd/cmd/daemon/conf"
	"github.com/ghost-network/gpmd/oci"
)

// Limits of the daemon's own files.
const (
	// minFDLimit is the file limit below which the daemon refuses to
	// start: it could not even hold its own files and a few clients.
	minFDLimit = 64
	// fdReserve is what the daemon keeps for itself beyond GMP's
	// connections: its files, the control API's connections.
	fdReserve = 256
)

// setDefaults fills the zero fields from conf.DefaultConfig, except the data
// folder and the token file, which have no default inside Run.
func setDefaults(c *conf.Config) {
	d := conf.DefaultConfig()
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
func tokenOf(c *conf.Config) (string, error) {
	if c.TokenFile == "" {
		return "", nil
	}
	return conf.ReadToken(c.TokenFile)
}

// settingsAttrs is every setting's value, for the "settings" line the
// daemon logs at start (and that tests read back).
func settingsAttrs(c *conf.Config) []any {
	var attrs []any
	for _, s := range conf.Settings() {
		attrs = append(attrs, slog.String(s.Flag, s.LogValue(c)))
	}
	return attrs
}

// check validates the settings that need no file or port.
func checkConfig(c *conf.Config) error {
	if c.DataDir == "" || !filepath.IsAbs(c.DataDir) {
		return fmt.Errorf("%w: data folder %q is not an absolute path", conf.ErrConfig, c.DataDir)
	}
	for _, a := range []struct{ flag, addr string }{{"--control-addr", c.ControlAddr}, {"--gmp-addr", c.GMPAddr}} {
		if _, _, err := net.SplitHostPort(a.addr); err != nil {
			return fmt.Errorf("%w: %s %q is not host:port (%v)", conf.ErrConfig, a.flag, a.addr, err)
		}
	}
	// "" is the default (text), as for every zero field.
	if c.LogFormat != "" && c.LogFormat != conf.LogFormatText && c.LogFormat != conf.LogFormatJSON {
		return fmt.Errorf("%w: --log-format %q is neither %s nor %s", conf.ErrConfig, c.LogFormat, conf.LogFormatText, conf.LogFormatJSON)
	}
	if c.Registry != "" {
		// Parsing only: the registry is not asked until a module is.
		if _, err := oci.NewUpstream(nil, c.Registry, nil); err != nil {
			return fmt.Errorf("%w: --registry: %v", conf.ErrConfig, err)
		}
	}
	if c.TokenFile == "" && !conf.IsLoopback(c.ControlAddr) {
		return fmt.Errorf("%w: refusing to serve the control API on %s without a token: give --token-file (or GPMD_TOKEN_FILE), or use a loopback address such as %s",
			conf.ErrConfig, c.ControlAddr, conf.DefaultControlAddr)
	}
	return nil
}
