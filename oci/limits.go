package oci

import "time"

// Limits and timeouts: the defaults that Options fields left zero take.
// Each is overridable through Options (and, once wired, by a flag).
const (
	// DefaultMaxManifestSize bounds a manifest read from a registry. 4 MiB is
	// the distribution spec's own suggestion for manifests; a Wasm manifest
	// is under 1 KiB.
	DefaultMaxManifestSize int64 = 4 << 20
	// DefaultMaxConfigSize bounds a config blob. A Wasm config is a few
	// hundred bytes; a component's import/export lists stay far below this.
	DefaultMaxConfigSize int64 = 1 << 20
	// DefaultMaxLayerSize bounds the module layer GPMD accepts from a
	// registry before it starts the download.
	DefaultMaxLayerSize int64 = 1 << 30
	// DefaultTagCacheTTL is how long an Upstream trusts a tag list. The issue
	// allows at most 30 s: a version pushed elsewhere is seen within it.
	DefaultTagCacheTTL = 30 * time.Second
	// DefaultDialTimeout bounds the TCP (and TLS) connect to a registry.
	DefaultDialTimeout = 10 * time.Second
	// DefaultResponseHeaderTimeout bounds the wait for a response's headers:
	// a registry that accepts and never answers fails after this long.
	DefaultResponseHeaderTimeout = 30 * time.Second
)
