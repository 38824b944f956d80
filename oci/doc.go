// Package oci moves Wasm modules between a GPMD store and OCI registries
// (the distribution spec), in the CNCF TAG-Runtime Wasm artifact layout, so
// that what GPMD pushes `oras`, `wkg`, wasmCloud and the containerd Wasm
// shims pull, and the other way round. It speaks to registries through
// oras.land/oras-go/v2.
//
// # Layout
//
// A pushed module is one manifest of media type
// application/vnd.oci.image.manifest.v1+json whose config
// (application/vnd.wasm.config.v0+json) carries architecture "wasm", os
// "wasip1" for a core module or "wasip2" for a component, layerDigests and
// created, and whose only layer is application/wasm, annotated with
// org.opencontainers.image.title NAME.wasm. The default tag is the version;
// a version with +build metadata needs an explicit tag, as OCI tags cannot
// hold '+'.
//
// # Guarantees
//
//   - Pull checks the manifest's media type before it parses it, and refuses
//     anything but one application/wasm layer (a container image, a Spin
//     app, several layers) naming what it found. Manifests and configs are
//     read under a size limit (MaxManifestSize, MaxConfigSize) and checked
//     against their digests.
//   - The layer reaches the caller's Sink through a reader that counts and
//     hashes it: a byte beyond the descriptor's size, or bytes that do not
//     hash to its digest, end the stream with an error wrapping
//     errdefs.ErrCorrupt instead of io.EOF. A Sink that stores only what it
//     read to a clean EOF therefore never stores bytes that do not match.
//   - Pull fetches and checks the config while the layer streams; the
//     layer's reader does not end (and so no Sink stores) before the config
//     has passed, and a failed config ends it with the config's error.
//   - Push sends the config while the layer streams, and the manifest only
//     once both blobs are in, so a tag never points at a missing blob.
//   - Push reads the module through the same kind of reader, so a store that
//     hands out damaged bytes fails the push instead of publishing them.
//   - Every error wraps one errdefs class (ErrUnauthorized for 401/403,
//     ErrNotFound, ErrInvalid, ErrCorrupt, ErrTooLarge, ErrUnavailable for an
//     unreachable or stalled registry) and names the reference.
//   - Nothing blocks without a context; the HTTP client has dial and
//     response-header timeouts, so a registry that accepts and never
//     answers fails with ErrUnavailable.
//   - Plain HTTP is used only for loopback registries (localhost,
//     127.0.0.0/8, ::1) or when Options.PlainHTTP is set.
//
// An Upstream turns a registry namespace into a source of versions for the
// daemon: it resolves a query against the union of local versions and the
// registry's semver tags (tag lists cached for at most Options.TagCacheTTL),
// lets one pull run per name@version however many callers ask, keeps the
// last error and last success for status, and never serves a registry tag
// whose bytes differ from the local version of the same number.
//
// # Caveats
//
//   - A stall in the middle of a response body is bounded only by the
//     caller's context, not by the HTTP client's timeouts.
//   - Push does not send (nor read) a layer the registry already holds
//     under the same digest; the registry checked those bytes when it took
//     them.
//   - Components are pushed without the optional "component" section of the
//     config (imports and exports); readers of the layout treat it as
//     optional.
package oci
