package oci

import (
	"bytes"
	"time"

	"github.com/opencontainers/go-digest"
)

// Media types and values of the CNCF TAG-Runtime Wasm artifact layout
// (tag-runtime.cncf.io/wgs/wasm/deliverables/wasm-oci-artifact).
const (
	MediaTypeManifest = "application/vnd.oci.image.manifest.v1+json"
	// MediaTypeArtifactManifest is the short-lived OCI 1.1 release-candidate
	// artifact manifest that early oras versions pushed; Pull accepts it.
	MediaTypeArtifactManifest = "application/vnd.oci.artifact.manifest.v1+json"
	MediaTypeWasmConfig       = "application/vnd.wasm.config.v0+json"
	MediaTypeWasmLayer        = "application/wasm"
	// MediaTypeEmptyConfig is OCI 1.1's empty config ("{}"), which
	// `oras push --artifact-type` writes.
	MediaTypeEmptyConfig = "application/vnd.oci.empty.v1+json"
	// mediaTypeUnknownConfig is what `oras push` writes without an artifact
	// type in the OCI 1.0 packing.
	mediaTypeUnknownConfig = "application/vnd.unknown.config.v1+json"

	AnnotationTitle   = "org.opencontainers.image.title"
	AnnotationCreated = "org.opencontainers.image.created"
	AnnotationVersion = "org.opencontainers.image.version"

	ArchitectureWasm = "wasm"
	// OSModule and OSComponent are the config's "os" for a core module
	// (WASI preview 1) and for a component (WASI preview 2).
	OSModule    = "wasip1"
	OSComponent = "wasip2"
)

// WasmConfig is the config blob of the layout.
type WasmConfig struct {
	Created      time.Time       `json:"created"`
	Author       string          `json:"author,omitempty"`
	Architecture string          `json:"architecture"`
	OS           string          `json:"os"`
	LayerDigests []digest.Digest `json:"layerDigests"`
}

// wasmOS returns the config "os" for a module whose first bytes are head:
// a component's preamble is \0asm, version 0x0d and layer 1; everything
// else is treated as a core module.
func wasmOS(head []byte) string {
	if len(head) >= 8 && bytes.Equal(head[:4], []byte("\x00asm")) && head[6] == 0x01 && head[7] == 0x00 {
		return OSComponent
	}
	return OSModule
}
