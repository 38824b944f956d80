package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/ghost-network/gpmd/cmd/control/api"
	"github.com/ghost-network/gpmd/fleet/fleetinfo"
)

// writeFleetStatus adds the fleet's lines to `gpmd status`: where, as
// which device, connected or not since when, the devices seen and the last
// error. Without a fleet it adds nothing: status reads as before.
func writeFleetStatus(tw io.Writer, st *fleetinfo.Status, now time.Time) {
	if st == nil {
		return
	}
	state := "unreachable"
	if st.Connected {
		state = "connected"
	}
	fmt.Fprintf(tw, "  fleet:\t%s as device %s, %s since %s (%s ago)\n", st.URL, st.Device, state, formatTime(st.Since), formatAge(now, st.Since))
	devices := "none"
	if len(st.Devices) > 0 {
		devices = strings.Join(st.Devices, ", ")
	}
	fmt.Fprintf(tw, "  fleet devices:\t%d (%s), %s, expiry %s\n", len(st.Devices), devices, countNoun(st.Nodes, "remote node"), st.Expiry)
	if st.LastError != "" {
		fmt.Fprintf(tw, "  fleet last error:\t%s (%s)\n", st.LastError, formatTime(st.LastErrorAt))
	}
}

// fleetNode is a row of `gpmd nodes --fleet`: a node of this device or of
// another, with its device.
type fleetNode struct {
	Name         string    `json:"name"`
	Device       string    `json:"device"`
	ID           string    `json:"id"`
	Address      string    `json:"address"`
	Port         int       `json:"port"`
	Discoverable bool      `json:"discoverable"`
	Since        time.Time `json:"since,omitzero"` // local nodes only
}

// fleetNodeList is `gpmd nodes --fleet -o json`: this daemon's device
// (absent in no fleet), every row, and the daemon's GMP connections.
type fleetNodeList struct {
	Device      string      `json:"device,omitempty"`
	Nodes       []fleetNode `json:"nodes"`
	Connections int         `json:"connections"`
}

// fleetRows are the local nodes (this device's name; "-" in no fleet) then
// the other devices' discoverable ones, in the order the daemon gave them.
func fleetRows(nl api.NodeList) []fleetNode {
	own := nl.Device
	if own == "" {
		own = "-"
	}
	rows := make([]fleetNode, 0, len(nl.Nodes)+len(nl.Fleet))
	for _, n := range nl.Nodes {
		rows = append(rows, fleetNode{Name: n.Name, Device: own, ID: n.ID, Address: n.Address, Port: n.Port, Discoverable: n.Discoverable, Since: n.Since})
	}
	for _, n := range nl.Fleet {
		rows = append(rows, fleetNode{Name: n.Name, Device: n.Device, ID: n.ID, Address: n.Address, Port: n.Port, Discoverable: n.Discoverable})
	}
	return rows
}

// writeFleetNodes prints `gpmd nodes --fleet` as a table.
func (o *nodesOptions) writeFleetNodes(nl api.NodeList) error {
	rows := fleetRows(nl)
	if nl.Device == "" {
		fmt.Fprintln(o.f.IO.ErrOut, "gpmd is in no fleet: the nodes of this device only")
	}
	if o.Output == formatJSON {
		// An object around the list, as every list gpmd prints
		// (docs/json.md), so that it can grow a field.
		out := fleetNodeList{Device: nl.Device, Nodes: rows, Connections: nl.Connections}
		if o.Watch {
			// One object per line, as `nodes --watch -o json` writes
			// its lists: a stream a program can read.
			return json.NewEncoder(o.f.IO.Out).Encode(out)
		}
		return writeJSON(o.f.IO.Out, out)
	}
	if len(rows) == 0 {
		fmt.Fprintf(o.f.IO.ErrOut, "no live nodes (%d GMP connections)\n", nl.Connections)
		return nil
	}
	tw := tabwriter.NewWriter(o.f.IO.Out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tDEVICE\tID\tADDRESS\tPORT")
	for _, n := range rows {
		hidden := ""
		if !n.Discoverable {
			hidden = " (not discoverable)"
		}
		fmt.Fprintf(tw, "%s%s\t%s\t%s\t%s\t%d\n", n.Name, hidden, n.Device, n.ID, n.Address, n.Port)
	}
	return tw.Flush()
}
