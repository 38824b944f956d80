package cli

import (
	"bytes"
	"strings"
	"testing"
	"text/tabwriter"
	"time"

	"github.com/ghost-network/gpmd/cmd/control/api"
	"github.com/ghost-network/gpmd/fleet/fleetinfo"
	"github.com/ghost-network/gpmd/gmp/wire"
)

func TestWriteFleetStatus(t *testing.T) {
	now := time.Date(2026, 11, 25, 4, 13, 0, 0, time.UTC)
	var b bytes.Buffer
	tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
	writeFleetStatus(tw, nil, now)
	tw.Flush()
	if b.Len() != 0 {
		t.Fatalf("no fleet printed %q; status must read as before", b.String())
	}
	writeFleetStatus(tw, &fleetinfo.Status{URL: "nats://10.0.0.1:4222", Device: "kitchen", Expiry: 15 * time.Second,
		Connected: false, Since: now.Add(-3 * time.Minute), Devices: []string{"garage", "attic"}, Nodes: 1,
		LastError: "disconnected: EOF", LastErrorAt: now.Add(-3 * time.Minute)}, now)
	tw.Flush()
	for _, want := range []string{"nats://10.0.0.1:4222 as device kitchen, unreachable since", "(3m ago)",
		"2 (garage, attic), 1 remote node, expiry 15s", "fleet last error:", "disconnected: EOF"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("status lacks %q:\n%s", want, b.String())
		}
	}
}

func TestFleetRows(t *testing.T) {
	nl := api.NodeList{
		Nodes:  []wire.NodeInfo{{Name: "oven", ID: "o1", Address: "127.0.0.1", Port: 2, Discoverable: false}},
		Fleet:  []fleetinfo.RemoteNode{{Name: "car", ID: "c1", Device: "garage", Address: "10.0.0.12", Port: 1, Discoverable: true}},
		Device: "kitchen",
	}
	rows := fleetRows(nl)
	if len(rows) != 2 || rows[0].Device != "kitchen" || rows[0].Discoverable || rows[1].Device != "garage" || rows[1].Address != "10.0.0.12" {
		t.Fatalf("rows %+v", rows)
	}
	nl.Device = ""
	if rows := fleetRows(nl); rows[0].Device != "-" {
		t.Fatalf("a daemon in no fleet: device %q, want -", rows[0].Device)
	}
}
