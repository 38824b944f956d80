package fleet

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ghost-network/gpmd/fleet/fleettest"
	"github.com/ghost-network/gpmd/internal/testutil"
)

func TestTokenFile(t *testing.T) {
	srv := fleettest.RunServerConfig(t, "jetstream: {}\nauthorization: { token: \"s3cret-token\" }\n")
	dir := t.TempDir()
	good, bad := filepath.Join(dir, "good"), filepath.Join(dir, "bad")
	if err := os.WriteFile(good, []byte("s3cret-token\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bad, []byte("wrong"), 0o600); err != nil {
		t.Fatal(err)
	}
	a := join(t, srv.URL(), "dev-a", func(c *Config) { c.TokenFile = good })
	b := join(t, srv.URL(), "dev-b", func(c *Config) { c.TokenFile = good })
	x := join(t, srv.URL(), "dev-x", func(c *Config) { c.TokenFile = bad })
	waitConnected(t, a, b)
	register(t, a, "alpha", 4001)
	testutil.WaitFor(t, 5*time.Second, "b sees alpha", func() bool { return slices.Equal(b.Names(), []string{"alpha@dev-a"}) })
	// The wrong token never connects, and says why.
	testutil.WaitFor(t, 5*time.Second, "dev-x reports the refusal", func() bool {
		return strings.Contains(strings.ToLower(x.Status().LastError), "authorization")
	})
	if x.Status().Connected || len(x.Names()) != 0 {
		t.Fatalf("dev-x with a wrong token: %+v", x.Status())
	}
}
