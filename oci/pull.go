package oci

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"slices"
	"strings"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/registry"
	"oras.land/oras-go/v2/registry/remote"

	"github.com/ghost-network/gpmd/errdefs"
	"github.com/ghost-network/gpmd/index"
)

// Sink stores a pulled module. r yields exactly mod.Size bytes and ends
// with io.EOF only when they hash to mod.Digest; any other error from r
// (ErrCorrupt among them) means the bytes must be thrown away. A Sink reads
// r to EOF before it makes the module visible, and returns nil only when it
// has stored it (or holds it already). repo.Upload fits behind it.
type Sink func(ctx context.Context, mod Module, r io.Reader) error

// PullOptions overrides what Pull derives from the reference.
type PullOptions struct {
	// Name defaults to the repository's last path segment.
	Name string
	// Version defaults to the tag, which must then be a semantic version.
	Version string
}

// Artifact is a checked Wasm artifact in a registry: its manifest passed
// the layout checks, its config was read and checked, its layer not yet.
type Artifact struct {
	// Reference is REGISTRY/REPOSITORY:TAG or REGISTRY/REPOSITORY@DIGEST as
	// asked.
	Reference string
	// Manifest is the manifest's digest.
	Manifest digest.Digest
	// Layer is the descriptor of the one application/wasm layer.
	Layer ocispec.Descriptor
	// OS is the config's "os" (wasip1, wasip2), empty when the config is
	// not a Wasm config (oras's empty config).
	OS string

	ref registry.Reference
}

// PullResult describes a pulled and stored module.
type PullResult struct {
	Module
	Reference string
	Manifest  digest.Digest
}

// Inspect fetches and checks the manifest and config at source
// (REGISTRY/REPOSITORY(:TAG|@DIGEST)) without fetching the layer. It
// refuses (ErrInvalid) anything but one application/wasm layer, naming the
// media types and the layer count it found; a manifest or config over its
// limit fails with ErrTooLarge, bytes that do not match their digest with
// ErrCorrupt.
func (c *Client) Inspect(ctx context.Context, source string) (Artifact, error) {
	ref, err := parseRef(source)
	if err != nil {
		return Artifact{}, fmt.Errorf("pull: %w", err)
	}
	if ref.Reference == "" {
		return Artifact{}, fmt.Errorf("pull %s: %w: give a tag or a digest (REGISTRY/REPOSITORY:TAG or @sha256:...)", source, errdefs.ErrInvalid)
	}
	return c.inspect(ctx, c.repository(ref), ref)
}

func (c *Client) inspect(ctx context.Context, repo *remote.Repository, ref registry.Reference) (Artifact, error) {
	art, cfg, err := c.inspectManifest(ctx, repo, ref)
	if err != nil || cfg == nil {
		return art, err
	}
	if art.OS, err = c.checkConfig(ctx, repo, art.Reference, *cfg, art.Layer.Digest); err != nil {
		return Artifact{}, err
	}
	return art, nil
}

// inspectManifest fetches and checks the manifest at ref, and returns the
// artifact and its config's descriptor (nil for an artifact manifest),
// the config not yet fetched.
func (c *Client) inspectManifest(ctx context.Context, repo *remote.Repository, ref registry.Reference) (Artifact, *ocispec.Descriptor, error) {
	where := ref.String()
	desc, rc, err := repo.Manifests().FetchReference(ctx, ref.Reference)
	if err != nil {
		return Artifact{}, nil, classify("pull", where, err)
	}
	defer rc.Close()
	// The media type decides what the bytes are: check it before parsing.
	switch desc.MediaType {
	case MediaTypeManifest, MediaTypeArtifactManifest:
	default:
		return Artifact{}, nil, fmt.Errorf("pull %s: %w: found a %s (%s); want an OCI image manifest with one %s layer",
			where, errdefs.ErrInvalid, describeMediaType(desc.MediaType), desc.MediaType, MediaTypeWasmLayer)
	}
	if desc.Size > c.opts.MaxManifestSize {
		return Artifact{}, nil, fmt.Errorf("pull %s: manifest: %w: %d bytes, over the limit of %d", where, errdefs.ErrTooLarge, desc.Size, c.opts.MaxManifestSize)
	}
	if want, err := ref.Digest(); err == nil && desc.Digest != want {
		return Artifact{}, nil, fmt.Errorf("pull %s: manifest: %w: the registry describes it as %s", where, errdefs.ErrCorrupt, desc.Digest)
	}
	mBytes, err := io.ReadAll(newVerifyReader(rc, "manifest "+string(desc.Digest), desc.Digest, desc.Size))
	if err != nil {
		return Artifact{}, nil, classify("pull", where, err)
	}

	var m struct {
		SchemaVersion int                  `json:"schemaVersion"`
		MediaType     string               `json:"mediaType"`
		Config        *ocispec.Descriptor  `json:"config"`
		Layers        []ocispec.Descriptor `json:"layers"`
		Blobs         []ocispec.Descriptor `json:"blobs"` // artifact manifest
	}
	if err := json.Unmarshal(mBytes, &m); err != nil {
		return Artifact{}, nil, fmt.Errorf("pull %s: manifest: %w: not JSON (%v)", where, errdefs.ErrInvalid, err)
	}
	if m.MediaType != "" && m.MediaType != desc.MediaType {
		return Artifact{}, nil, fmt.Errorf("pull %s: manifest: %w: it says media type %s, the registry served it as %s", where, errdefs.ErrInvalid, m.MediaType, desc.MediaType)
	}
	layers := m.Layers
	if desc.MediaType == MediaTypeArtifactManifest {
		layers = m.Blobs
	} else if m.SchemaVersion != 2 || m.Config == nil {
		return Artifact{}, nil, fmt.Errorf("pull %s: manifest: %w: schemaVersion %d and config %v; want schemaVersion 2 and a config", where, errdefs.ErrInvalid, m.SchemaVersion, m.Config != nil)
	}
	if len(layers) != 1 || layers[0].MediaType != MediaTypeWasmLayer {
		types := make([]string, len(layers))
		for i, l := range layers {
			types[i] = l.MediaType
		}
		cfgType := "no config"
		if m.Config != nil {
			cfgType = "config " + m.Config.MediaType
		}
		return Artifact{}, nil, fmt.Errorf("pull %s: %w: not a Wasm module: found %d layer(s) [%s] and %s; want exactly one %s layer",
			where, errdefs.ErrInvalid, len(layers), strings.Join(types, ", "), cfgType, MediaTypeWasmLayer)
	}
	layer := layers[0]
	if err := layer.Digest.Validate(); err != nil {
		return Artifact{}, nil, fmt.Errorf("pull %s: layer digest %q: %w: %v", where, layer.Digest, errdefs.ErrInvalid, err)
	}
	if layer.Size <= 0 {
		return Artifact{}, nil, fmt.Errorf("pull %s: layer: %w: size %d", where, errdefs.ErrInvalid, layer.Size)
	}
	if layer.Size > c.opts.MaxLayerSize {
		return Artifact{}, nil, fmt.Errorf("pull %s: layer: %w: %d bytes, over the limit of %d", where, errdefs.ErrTooLarge, layer.Size, c.opts.MaxLayerSize)
	}
	return Artifact{Reference: where, Manifest: desc.Digest, Layer: layer, ref: ref}, m.Config, nil
}

// checkConfig fetches the config under its limit and checks it against
// the layer; it returns the config's "os".
func (c *Client) checkConfig(ctx context.Context, repo *remote.Repository, where string, cfg ocispec.Descriptor, layer digest.Digest) (string, error) {
	switch cfg.MediaType {
	case MediaTypeWasmConfig, MediaTypeEmptyConfig, mediaTypeUnknownConfig:
	default:
		return "", fmt.Errorf("pull %s: %w: config of media type %s; want %s (or the empty config oras writes)",
			where, errdefs.ErrInvalid, cfg.MediaType, MediaTypeWasmConfig)
	}
	if cfg.Size > c.opts.MaxConfigSize {
		return "", fmt.Errorf("pull %s: config: %w: %d bytes, over the limit of %d", where, errdefs.ErrTooLarge, cfg.Size, c.opts.MaxConfigSize)
	}
	if err := cfg.Digest.Validate(); err != nil {
		return "", fmt.Errorf("pull %s: config digest %q: %w: %v", where, cfg.Digest, errdefs.ErrInvalid, err)
	}
	rc, err := repo.Blobs().Fetch(ctx, cfg)
	if err != nil {
		return "", classify("pull", where, fmt.Errorf("config %s: %w", cfg.Digest, err))
	}
	defer rc.Close()
	b, err := io.ReadAll(newVerifyReader(rc, "config "+string(cfg.Digest), cfg.Digest, cfg.Size))
	if err != nil {
		return "", classify("pull", where, err)
	}
	if cfg.MediaType != MediaTypeWasmConfig {
		return "", nil
	}
	var wc WasmConfig
	if err := json.Unmarshal(b, &wc); err != nil {
		return "", fmt.Errorf("pull %s: config: %w: not a Wasm config (%v)", where, errdefs.ErrInvalid, err)
	}
	if wc.Architecture != ArchitectureWasm {
		return "", fmt.Errorf("pull %s: config: %w: architecture %q; want %q", where, errdefs.ErrInvalid, wc.Architecture, ArchitectureWasm)
	}
	if len(wc.LayerDigests) > 0 && !slices.Contains(wc.LayerDigests, layer) {
		return "", fmt.Errorf("pull %s: config: %w: layerDigests %v do not name the layer %s", where, errdefs.ErrInvalid, wc.LayerDigests, layer)
	}
	return wc.OS, nil
}

// describeMediaType names, for an error, what a refused manifest type is.
func describeMediaType(mt string) string {
	switch mt {
	case ocispec.MediaTypeImageIndex, "application/vnd.docker.distribution.manifest.list.v2+json":
		return "multi-platform image index"
	case "application/vnd.docker.distribution.manifest.v2+json", "application/vnd.docker.distribution.manifest.v1+prettyjws":
		return "Docker container image manifest"
	case "":
		return "manifest without a media type"
	default:
		return "manifest of another media type"
	}
}

// Pull fetches the Wasm module at source (REGISTRY/REPOSITORY(:TAG|@DIGEST))
// and hands it to sink. It checks manifest and config first (see Inspect),
// then streams the layer through a reader that verifies its size and
// digest. The name defaults to the repository's last segment and the
// version to the tag (a semantic version, or ErrInvalid naming the tag).
// The result is returned only when sink returned nil after reading every
// byte to a verified EOF.
func (c *Client) Pull(ctx context.Context, source string, opts PullOptions, sink Sink) (PullResult, error) {
	ref, err := parseRef(source)
	if err != nil {
		return PullResult{}, fmt.Errorf("pull: %w", err)
	}
	mod, err := moduleFor(ref, opts)
	if err != nil {
		return PullResult{}, err
	}
	repo := c.repository(ref)
	art, cfg, err := c.inspectManifest(ctx, repo, ref)
	if err != nil {
		return PullResult{}, err
	}
	// The config is fetched and checked while the layer streams (one round
	// trip fewer before the bytes flow); the layer's reader holds back its
	// end until the check is done, so a sink never stores a module whose
	// config fails.
	cfgErr := make(chan error, 1)
	if cfg == nil {
		cfgErr <- nil
	} else {
		go func() {
			_, err := c.checkConfig(ctx, repo, art.Reference, *cfg, art.Layer.Digest)
			cfgErr <- err
		}()
	}
	return c.fetchLayer(ctx, repo, art, mod, sink, cfgErr)
}

// moduleFor derives the name and version a pull stores under. A pull is a
// boundary (the repository's name and the tag are untrusted), so they are
// parsed here, once, into mod.Ref, which the sink hands to the repository.
func moduleFor(ref registry.Reference, opts PullOptions) (Module, error) {
	where := ref.String()
	mod := Module{Name: opts.Name, Version: opts.Version}
	if mod.Name == "" {
		mod.Name = path.Base(ref.Repository)
	}
	name, err := index.ParseName(mod.Name)
	if err != nil {
		hint := ""
		if opts.Name == "" {
			hint = " (taken from the repository; give a name)"
		}
		return Module{}, fmt.Errorf("pull %s: %w: %v%s", where, errdefs.ErrInvalid, err, hint)
	}
	var version index.Version
	if mod.Version == "" {
		if ref.ValidateReferenceAsTag() != nil {
			return Module{}, fmt.Errorf("pull %s: %w: pulling by digest needs a version", where, errdefs.ErrInvalid)
		}
		mod.Version = ref.Reference
		if version, err = parseVersion(mod.Version); err != nil {
			return Module{}, fmt.Errorf("pull %s: %w: the tag %q is not a semantic version; give a version", where, errdefs.ErrInvalid, ref.Reference)
		}
	} else if version, err = parseVersion(mod.Version); err != nil {
		return Module{}, fmt.Errorf("pull %s: %w", where, err)
	}
	mod.Ref = index.NewRef(name, version)
	return mod, nil
}

// fetchLayer streams art's layer into sink as mod.
// The config check's outcome arrives on cfgErr (exactly one value): the
// layer's reader waits for it before it ends, and a failed check ends the
// stream with that error instead.
func (c *Client) fetchLayer(ctx context.Context, repo *remote.Repository, art Artifact, mod Module, sink Sink, cfgErr <-chan error) (res PullResult, err error) {
	g := &configGate{ch: cfgErr}
	defer func() {
		// Whatever happened to the layer, the config check ends here
		// (its goroutine never outlives Pull), and a failed one is the
		// error to report: it came first in the artifact.
		if cerr := g.wait(); cerr != nil {
			res, err = PullResult{}, cerr
		}
	}()
	mod.Digest, mod.Size = art.Layer.Digest, art.Layer.Size
	rc, err := repo.Blobs().Fetch(ctx, art.Layer)
	if err != nil {
		return PullResult{}, classify("pull", art.Reference, err)
	}
	defer rc.Close()
	vr := newVerifyReader(rc, "layer "+string(art.Layer.Digest), mod.Digest, mod.Size)
	vr.gate = g
	if err := sink(ctx, mod, vr); err != nil {
		if vr.err != nil && vr.err != io.EOF {
			// The sink failed because the stream did: report the stream.
			return PullResult{}, classify("pull", art.Reference, vr.err)
		}
		return PullResult{}, fmt.Errorf("pull %s: store %s@%s: %w", art.Reference, mod.Name, mod.Version, err)
	}
	if vr.err != io.EOF {
		// A sink that returned nil must have read to the verified end;
		// one that did not has stored nothing this package vouches for.
		if _, err := io.Copy(io.Discard, vr); err != nil && !errors.Is(err, io.EOF) {
			return PullResult{}, classify("pull", art.Reference, err)
		}
		return PullResult{}, fmt.Errorf("pull %s: store %s@%s: %w: the sink returned before reading the whole layer", art.Reference, mod.Name, mod.Version, errdefs.ErrInvalid)
	}
	return PullResult{Module: mod, Reference: art.Reference, Manifest: art.Manifest}, nil
}

// configGate is the outcome of a config check that runs beside the layer's
// download.
type configGate struct {
	ch   <-chan error
	done bool
	err  error
}

// wait waits for the check once and returns its error.
func (g *configGate) wait() error {
	if !g.done {
		g.err, g.done = <-g.ch, true
	}
	return g.err
}

// failed reports the check's error if it has already failed, without
// waiting.
func (g *configGate) failed() error {
	if g.done {
		return g.err
	}
	select {
	case g.err = <-g.ch:
		g.done = true
		return g.err
	default:
		return nil
	}
}
