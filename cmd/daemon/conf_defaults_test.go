package daemon

import (
	"testing"

	"github.com/ghost-network/gpmd/cmd/daemon/conf"
	"github.com/ghost-network/gpmd/gmp"
	"github.com/ghost-network/gpmd/oci"
	"github.com/ghost-network/gpmd/repo"
)

// TestConfDefaultsAreTheEngines: conf writes the engine's defaults as
// values (the light command line shows them without linking gmp, oci or
// repo); each must be the constant it stands for, so that the help, the
// background child's flags and the daemon agree.
func TestConfDefaultsAreTheEngines(t *testing.T) {
	for _, c := range []struct {
		name      string
		conf, eng any
	}{
		{"MaxModuleSize", int64(conf.DefaultMaxModuleSize), int64(repo.DefaultMaxModuleSize)},
		{"GMPMaxMessage", conf.DefaultGMPMaxMessage, gmp.DefaultMaxMessage},
		{"GMPMaxConns", conf.DefaultGMPMaxConns, gmp.DefaultMaxConns},
		{"GMPMessageTimeout", conf.DefaultGMPMessageTimeout, gmp.DefaultMessageTimeout},
		{"GMPWriteTimeout", conf.DefaultGMPWriteTimeout, gmp.DefaultWriteTimeout},
		{"GMPReplyTimeout", conf.DefaultGMPReplyTimeout, gmp.DefaultReplyTimeout},
		{"GMPMaxRejecting", conf.DefaultGMPMaxRejecting, gmp.DefaultMaxRejecting},
		{"GMPAddr", conf.DefaultGMPAddr, gmp.DefaultAddr},
		{"RegistryDialTimeout", conf.DefaultRegistryDialTimeout, oci.DefaultDialTimeout},
		{"RegistryResponseTimeout", conf.DefaultRegistryResponseTimeout, oci.DefaultResponseHeaderTimeout},
		{"RegistryTagCacheTTL", conf.DefaultRegistryTagCacheTTL, oci.DefaultTagCacheTTL},
	} {
		if c.conf != c.eng {
			t.Errorf("conf.Default%s = %v, but the engine's is %v", c.name, c.conf, c.eng)
		}
	}
}
