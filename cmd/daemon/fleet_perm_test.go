package daemon

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/ghost-network/gpmd/cmd/daemon/conf"
	"github.com/ghost-network/gpmd/fleet"
	"github.com/ghost-network/gpmd/fleet/fleettest"
	"github.com/ghost-network/gpmd/internal/testutil"
)

// readmeNATSConf is the NATS configuration the README's "A fleet" shows
// (its one ```conf block).
func readmeNATSConf(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(b), "\n```conf\n")
	conf, _, ok2 := strings.Cut(rest, "\n```\n")
	if !ok || !ok2 {
		t.Fatal("README.md has no ```conf block")
	}
	return conf
}

// TestRunUnderREADMEPermissions: a daemon whose NATS user may write only
// its own keys (the README's configuration, word for word) joins, publishes
// its nodes and reads the others, with no error.
func TestRunUnderREADMEPermissions(t *testing.T) {
	srv := fleettest.RunServerConfig(t, readmeNATSConf(t))
	// The operator creates the bucket once, and plays another device.
	bucket := fleet.BucketConfig(fleet.DefaultBucket, 3*time.Second)
	kv := fleettest.Bucket(t, srv.UserURL("fleet-admin", "admin-secret"), fleet.DefaultBucket, &bucket)

	st, _ := runDaemon(t, conf.Config{Fleet: srv.UserURL("kitchen", "kitchen-secret"), Device: "kitchen", Advertise: "127.0.0.2", FleetExpiry: 3 * time.Second})
	c := dialGMP(t, st.GMPAddr)
	if _, err := c.Register(t.Context(), "oven", "o1", 4001, true); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, 5*time.Second, "kitchen.oven in the bucket", func() bool {
		e, err := kv.Get(t.Context(), "kitchen.oven")
		return err == nil && strings.Contains(string(e.Value()), `"oven"`)
	})
	// Another device's entries reach it.
	if _, err := kv.Put(t.Context(), "garage._device", []byte(`{"device":"garage","address":"127.0.0.3","version":"x","started":"2026-11-25T04:10:00Z"}`)); err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Put(t.Context(), "garage.car", []byte(`{"name":"car","id":"c1","device":"garage","address":"127.0.0.3","port":4002,"discoverable":true}`)); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, 5*time.Second, "car@garage on kitchen", func() bool {
		n, err := c.Connect(t.Context(), "car@garage")
		return err == nil && n.Address == "127.0.0.3"
	})
	if log, _ := os.ReadFile(st.LogFile); strings.Contains(string(log), "Permissions Violation") || strings.Contains(string(log), "level=WARN msg=\"fleet") {
		t.Errorf("the daemon met errors under the README's permissions:\n%s", log)
	}
}
