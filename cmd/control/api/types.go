package api

import (
	"net/url"
	"time"

	"github.com/ghost-network/gpmd/fleet/fleetinfo"
	"github.com/ghost-network/gpmd/gmp/wire"
	"github.com/ghost-network/gpmd/wasm"
)

// Headers of a module download (GET …/content) and of an upload.
const (
	HeaderName    = "Gpmd-Name"
	HeaderVersion = "Gpmd-Version"
	HeaderDigest  = "Gpmd-Digest"  // sha256:<hex>; on an upload, the digest the client claims (optional)
	HeaderCreated = "Gpmd-Created" // RFC 3339
)

// SocketHost is the Host header of every request the client sends over the
// Unix socket. Over the socket the guard takes it (and loopback names):
// no browser reaches a Unix socket, so no web page chose that Host.
const SocketHost = "gpmd.sock"

// ModulePath is /v1/modules/<name>[/<version>], each part escaped.
func ModulePath(name string, version ...string) string {
	p := "/v1/modules/" + url.PathEscape(name)
	for _, v := range version {
		p += "/" + url.PathEscape(v)
	}
	return p
}

// Record is a stored version as the API carries it (index.Record's JSON).
type Record struct {
	Name    string    `json:"name"`
	Version string    `json:"version"` // as uploaded
	Digest  Digest    `json:"digest"`
	Size    int64     `json:"size"`
	Created time.Time `json:"created"`
}

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
	Fleet *fleetinfo.Status `json:"fleet,omitzero"`
	// Registry is the upstream (--registry); absent without one.
	Registry *RegistryStatus `json:"registry,omitempty"`
}

// ModuleList is the body of GET /v1/modules.
type ModuleList struct {
	Modules []ListedModule `json:"modules"`
}

// ListedModule is one name with its versions, highest first: the body of
// GET /v1/modules/{name}, and an entry of ModuleList.
type ListedModule struct {
	Name     string          `json:"name"`
	Versions []ListedVersion `json:"versions"`
}

// ListedVersion is a version's record with the summary of what its parse
// recorded: kind ("module" or "component") and the counts of imports and
// exports. InvalidModule holds the parser's refusal of a version stored
// before uploads were parsed (Kind is empty then).
type ListedVersion struct {
	Record
	Kind          string `json:"kind,omitempty"`
	Imports       int    `json:"imports"`
	Exports       int    `json:"exports"`
	InvalidModule string `json:"invalid_module,omitempty"`
}

// ModuleInfo is the body of GET /v1/modules/{name}/{version}/info: the
// version's record and everything its parse recorded (wasm.Info's JSON:
// kind, imports, exports, memories, tables, functions, start,
// custom_sections, features).
type ModuleInfo struct {
	Record
	wasm.Info
}

// CheckResult is the body of POST /v1/modules/{name}/{version}/check:
// Valid when wazero compiles the module; otherwise Unsupported names the
// feature the validator lacks (the module is not known to be broken), or
// Problem says what is wrong with it.
type CheckResult struct {
	Record
	Valid       bool   `json:"valid"`
	Unsupported string `json:"unsupported,omitempty"`
	Problem     string `json:"problem,omitempty"`
}

// NodeList is the body of GET /v1/nodes.
type NodeList struct {
	Nodes       []wire.NodeInfo `json:"nodes"`
	Connections int             `json:"connections"`
	// Fleet is the other devices' discoverable nodes, sorted as
	// name@device; absent when the daemon is in no fleet.
	Fleet []fleetinfo.RemoteNode `json:"fleet,omitzero"`
	// Device is this daemon's device name in its fleet, if any.
	Device string `json:"device,omitempty"`
}
