package fleet

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/ghost-network/gpmd/fleet/fleetinfo"
	"github.com/ghost-network/gpmd/gmp/wire"
)

// deviceToken is the second key token of a device entry. It cannot be a
// node name: node names begin with a letter or digit.
const deviceToken = "_device"

// Node is one local registration, as the daemon pushes it to Register.
type Node struct {
	Name         string
	ID           string
	Port         int
	Discoverable bool
}

// deviceEntry is the value of <device>._device.
type deviceEntry struct {
	Device  string    `json:"device"`
	Address string    `json:"address"`
	Version string    `json:"version"`
	Started time.Time `json:"started"`
}

// escapeName turns a name into one key token: '.' becomes '='. Names never
// hold '=', so the mapping is one to one.
func escapeName(s string) string { return strings.ReplaceAll(s, ".", "=") }

// unescapeName reverses escapeName; a token that already holds '.' cannot
// come from escapeName and the caller has split on '.' anyway.
func unescapeName(s string) string { return strings.ReplaceAll(s, "=", ".") }

// nodeKey is the bucket key of node on device.
func nodeKey(device, node string) string { return escapeName(device) + "." + escapeName(node) }

// deviceKey is the bucket key of device's entry.
func deviceKey(device string) string { return escapeName(device) + "." + deviceToken }

// devicePrefix is the subject wildcard under which device writes, for NATS
// permissions: $KV.<bucket>.<devicePrefix>.
func devicePrefix(device string) string { return escapeName(device) + ".>" }

// parsedKey is a key split into its device and node (node empty for a
// device entry).
type parsedKey struct {
	device, node string
}

var errBadKey = errors.New("key of another shape")

// parseKey splits a bucket key, checking its shape and both names.
func parseKey(key string) (parsedKey, error) {
	dev, rest, ok := strings.Cut(key, ".")
	if !ok || strings.Contains(rest, ".") || strings.Contains(dev, ".") {
		return parsedKey{}, errBadKey
	}
	pk := parsedKey{device: unescapeName(dev)}
	if !ValidName(pk.device) || strings.Contains(pk.device, "=") {
		return parsedKey{}, fmt.Errorf("device name %q: %w", pk.device, errBadKey)
	}
	if rest == deviceToken {
		return pk, nil
	}
	pk.node = unescapeName(rest)
	if !ValidName(pk.node) {
		return parsedKey{}, fmt.Errorf("node name %q: %w", pk.node, errBadKey)
	}
	return pk, nil
}

// decodeStrict decodes exactly one JSON value into v after the size check,
// refusing trailing data. Unknown fields are accepted, so a newer GPMD may
// add fields without older ones dropping its entries.
func decodeStrict(value []byte, v any) error {
	if len(value) > MaxValueSize {
		return fmt.Errorf("value of %d bytes, more than %d", len(value), MaxValueSize)
	}
	dec := json.NewDecoder(bytes.NewReader(value))
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("not valid JSON: %w", err)
	}
	if dec.More() {
		return errors.New("trailing data after the JSON value")
	}
	return nil
}

// parseNode checks a node value against its key.
func parseNode(pk parsedKey, value []byte) (fleetinfo.RemoteNode, error) {
	var n fleetinfo.RemoteNode
	if err := decodeStrict(value, &n); err != nil {
		return fleetinfo.RemoteNode{}, err
	}
	switch {
	case n.Device != pk.device:
		return fleetinfo.RemoteNode{}, fmt.Errorf("device %q in the value, %q in the key", n.Device, pk.device)
	case n.Name != pk.node:
		return fleetinfo.RemoteNode{}, fmt.Errorf("name %q in the value, %q in the key", n.Name, pk.node)
	case !wire.ValidNodeID(n.ID):
		return fleetinfo.RemoteNode{}, fmt.Errorf("id %q breaks the GMP rule", n.ID)
	case n.Port < 1 || n.Port > 65535:
		return fleetinfo.RemoteNode{}, fmt.Errorf("port %d out of range", n.Port)
	}
	if err := fleetinfo.CheckAdvertise(n.Address); err != nil {
		return fleetinfo.RemoteNode{}, fmt.Errorf("address %q: %w", n.Address, err)
	}
	return n, nil
}

// parseDevice checks a device value against its key.
func parseDevice(pk parsedKey, value []byte) (deviceEntry, error) {
	var d deviceEntry
	if err := decodeStrict(value, &d); err != nil {
		return deviceEntry{}, err
	}
	switch {
	case d.Device != pk.device:
		return deviceEntry{}, fmt.Errorf("device %q in the value, %q in the key", d.Device, pk.device)
	case len(d.Version) > 64:
		return deviceEntry{}, errors.New("version longer than 64 bytes")
	}
	if err := fleetinfo.CheckAdvertise(d.Address); err != nil {
		return deviceEntry{}, fmt.Errorf("address %q: %w", d.Address, err)
	}
	return d, nil
}
