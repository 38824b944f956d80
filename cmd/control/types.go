package control

import (
	"time"

	"github.com/ghost-network/gpmd/fleet"
	"github.com/ghost-network/gpmd/gmp"
	"github.com/ghost-network/gpmd/index"
)

// Headers of a module download (GET …/content) and of an upload.
const (
	HeaderName    = "Gpmd-Name"
	HeaderVersion = "Gpmd-Version"
	HeaderDigest  = "Gpmd-Digest"  // sha256:<hex>; on an upload, the digest the client claims (optional)
	HeaderCreated = "Gpmd-Created" // RFC 3339
)

// Info is what the daemon tells about itself in GET /v1/status; it does not
// change while the daemon runs.
type Info struct {
	PID         int       `json:"pid"`
	Version     string    `json:"version"`
	Started     time.Time `json:"started"`
	ControlAddr string    `json:"control_addr"`
	// ControlSocket is the path of the control API's Unix socket; empty
	// when the daemon serves none (its path too long, say).
	ControlSocket string `json:"control_socket,omitempty"`
	GMPAddr       string `json:"gmp_addr"`
	DataDir       string `json:"data_dir"`
}

// Status is the body of GET /v1/status.
type Status struct {
	Info
	// MaxModuleSize is the repository's limit (Modules.MaxModuleSize).
	MaxModuleSize  int64   `json:"max_module_size"`
	Running        bool    `json:"running"`
	UptimeSeconds  float64 `json:"uptime_seconds"`
	Modules        int     `json:"modules"`
	Versions       int     `json:"versions"`
	Blobs          int     `json:"blobs"`
	BlobBytes      int64   `json:"blob_bytes"`
	Nodes          int     `json:"nodes"`
	GMPConnections int     `json:"gmp_connections"`
	// Fleet is the daemon's fleet; absent when it is in none.
	Fleet *fleet.Status `json:"fleet,omitzero"`
	// Registry is the upstream (--registry); absent without one.
	Registry *RegistryStatus `json:"registry,omitempty"`
}

// ModuleList is the body of GET /v1/modules.
type ModuleList struct {
	Modules []index.Module `json:"modules"`
}

// NodeList is the body of GET /v1/nodes.
type NodeList struct {
	Nodes       []gmp.NodeInfo `json:"nodes"`
	Connections int            `json:"connections"`
	// Fleet is the other devices' discoverable nodes, sorted as
	// name@device; absent when the daemon is in no fleet.
	Fleet []fleet.RemoteNode `json:"fleet,omitzero"`
	// Device is this daemon's device name in its fleet, if any.
	Device string `json:"device,omitempty"`
}
