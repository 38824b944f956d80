package fleet

import (
	"slices"
	"testing"
	"time"

	"github.com/ghost-network/gpmd/fleet/fleettest"
	"github.com/ghost-network/gpmd/internal/testutil"
)

// TestWithNATSServerProcess runs the fleet against a real nats-server
// process (the binary of scripts/build-nats-server.sh), killed with
// SIGKILL and restarted on its store.
func TestWithNATSServerProcess(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs nats-server")
	}
	srv := fleettest.StartProcess(t, fleettest.NATSServerBin(t))
	a := join(t, srv.URL(), "dev-a")
	b := join(t, srv.URL(), "dev-b")
	waitConnected(t, a, b)
	register(t, a, "alpha", 4001)
	testutil.WaitFor(t, 5*time.Second, "b sees alpha", func() bool {
		return slices.Equal(b.Names(), []string{"alpha@dev-a"})
	})

	srv.Restart() // SIGKILL, then the same port and store
	register(t, b, "beta", 4002)
	testutil.WaitFor(t, testExpiry+5*time.Second, "converged after the kill", func() bool {
		return slices.Equal(b.Names(), []string{"alpha@dev-a"}) && slices.Equal(a.Names(), []string{"beta@dev-b"})
	})
}
