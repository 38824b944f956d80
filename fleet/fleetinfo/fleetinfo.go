// Package fleetinfo is what the fleet (package fleet) shows of itself
// outside the daemon: its status, the other devices' nodes, its default
// expiry, URLs with their secrets hidden, and the rules for --device and
// --advertise. It is light (the standard library and gmp/wire only): the
// gpmd command line prints and checks these without linking NATS (issue
// 15). Package fleet uses them; they have no other name.
package fleetinfo

import "time"

// DefaultExpiry is the documented expiry: a killed device's nodes leave
// every other device within it of the kill (package fleet sets the
// bucket's max age a margin under it).
const DefaultExpiry = 15 * time.Second

// RemoteNode is a node of another device, as served to lookups.
type RemoteNode struct {
	Name         string `json:"name"`
	ID           string `json:"id"`
	Device       string `json:"device"`
	Address      string `json:"address"`
	Port         int    `json:"port"`
	Discoverable bool   `json:"discoverable"`
}

// FullName is the node's fleet name, name@device.
func (n RemoteNode) FullName() string { return n.Name + "@" + n.Device }

// Status is the fleet as `gpmd status` shows it.
type Status struct {
	URL         string        `json:"url"` // the server in use, else the configured list
	Device      string        `json:"device"`
	Bucket      string        `json:"bucket"`
	Expiry      time.Duration `json:"expiry"`
	Connected   bool          `json:"connected"`
	Since       time.Time     `json:"since"`   // when Connected last changed
	Devices     []string      `json:"devices"` // other devices seen, sorted
	Nodes       int           `json:"nodes"`   // remote nodes served
	LastError   string        `json:"last_error,omitempty"`
	LastErrorAt time.Time     `json:"last_error_at,omitzero"`
}
