package fleet

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/ghost-network/gpmd/fleet/fleetinfo"
	"github.com/ghost-network/gpmd/fleet/fleettest"
	"github.com/ghost-network/gpmd/internal/testutil"
)

// permConf is the NATS authorization of docs/fleet.md, word for word: each
// device may write only under its own prefix of the bucket and read all of
// it; only the operator may create or change the bucket.
const permConf = `# GPMD fleet: one user per device; only "fleet-admin" manages the bucket.
jetstream: {}
authorization: {
  users: [
    { user: fleet-admin, password: admin-secret }
    { user: kitchen, password: kitchen-secret, permissions: {
        publish: { allow: [
          "$KV.gpmd_nodes.kitchen.>",
          "$JS.API.INFO",
          "$JS.API.STREAM.INFO.KV_gpmd_nodes",
          "$JS.API.CONSUMER.CREATE.KV_gpmd_nodes.>",
          "$JS.API.CONSUMER.DELETE.KV_gpmd_nodes.>",
          "$JS.FC.KV_gpmd_nodes.>"
        ] }
        subscribe: { allow: ["_INBOX.>"] }
    } }
    { user: garage, password: garage-secret, permissions: {
        publish: { allow: [
          "$KV.gpmd_nodes.garage.>",
          "$JS.API.INFO",
          "$JS.API.STREAM.INFO.KV_gpmd_nodes",
          "$JS.API.CONSUMER.CREATE.KV_gpmd_nodes.>",
          "$JS.API.CONSUMER.DELETE.KV_gpmd_nodes.>",
          "$JS.FC.KV_gpmd_nodes.>"
        ] }
        subscribe: { allow: ["_INBOX.>"] }
    } }
  ]
}
`

func TestPermissionsConfigInDocs(t *testing.T) {
	doc, err := os.ReadFile("../docs/fleet.md")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(doc), permConf) {
		t.Fatal("docs/fleet.md does not hold the tested NATS authorization (permConf) word for word")
	}
}

func TestFleetUnderPermissions(t *testing.T) {
	srv := fleettest.RunServerConfig(t, permConf)
	// The operator creates the bucket once.
	_, _, _ = bucketAs(t, srv.UserURL("fleet-admin", "admin-secret"), true)

	k := join(t, srv.UserURL("kitchen", "kitchen-secret"), "kitchen")
	g := join(t, srv.UserURL("garage", "garage-secret"), "garage")
	waitConnected(t, k, g)
	register(t, k, "oven", 4001)
	register(t, g, "door", 4002)
	testutil.WaitFor(t, 5*time.Second, "both devices see each other", func() bool {
		return len(k.Names()) == 1 && len(g.Names()) == 1
	})
	start := time.Now()
	k.Unregister("oven")
	testutil.WaitFor(t, time.Second, "oven gone from garage", func() bool { return len(g.Names()) == 0 })
	t.Logf("unregister under permissions visible after %s", time.Since(start))
	if s := k.Status().LastError; s != "" {
		t.Fatalf("kitchen's last error: %s\n%s", s, k.logs)
	}

	// The garage's credentials cannot overwrite the kitchen's keys, nor
	// purge or delete the bucket.
	_, js, kv := bucketAs(t, srv.UserURL("garage", "garage-secret"), false)
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
	defer cancel()
	evil := mustJSON(t, fleetinfo.RemoteNode{Name: "evil", ID: "e", Device: "kitchen", Address: "203.0.113.1", Port: 1, Discoverable: true})
	if _, err := kv.Put(ctx, "kitchen.evil", evil); err == nil {
		t.Fatal("garage wrote a kitchen key")
	}
	if _, err := kv.Put(ctx, "kitchen._device", evil); err == nil {
		t.Fatal("garage wrote the kitchen device entry")
	}
	if err := js.DeleteKeyValue(ctx, DefaultBucket); err == nil {
		t.Fatal("garage deleted the bucket")
	}
	stream, err := js.Stream(ctx, "KV_"+DefaultBucket)
	if err == nil {
		if err := stream.Purge(ctx); err == nil {
			t.Fatal("garage purged the bucket")
		}
	}
	time.Sleep(200 * time.Millisecond)
	if _, err := g.Lookup("evil", "kitchen"); err == nil {
		t.Fatal("evil@kitchen served")
	}
	if len(g.Names()) != 0 {
		t.Fatalf("garage serves %v", g.Names())
	}
}

// bucketAs opens the default bucket as a user; create makes it first.
func bucketAs(t *testing.T, url string, create bool) (*nats.Conn, jetstream.JetStream, jetstream.KeyValue) {
	t.Helper()
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	var kv jetstream.KeyValue
	if create {
		kv, err = js.CreateKeyValue(t.Context(), BucketConfig(DefaultBucket, testExpiry))
	} else {
		kv, err = js.KeyValue(t.Context(), DefaultBucket)
	}
	if err != nil {
		t.Fatal(err)
	}
	return nc, js, kv
}
