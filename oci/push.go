package oci

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/registry/remote"

	"github.com/ghost-network/gpmd/errdefs"
	"github.com/ghost-network/gpmd/index"
)

// Module names a module's bytes: what Push reads and what Pull hands to a
// Sink.
type Module struct {
	Name    string
	Version string
	// Ref is Name and Version parsed, set by a pull (moduleFor): what a
	// Sink stores under. A push leaves it zero.
	Ref    index.Ref
	Digest digest.Digest
	Size   int64
}

// PushResult says where a module went.
type PushResult struct {
	// Reference is REGISTRY/REPOSITORY:TAG.
	Reference string
	Tag       string
	// Manifest is the pushed manifest's digest: Reference@Manifest pins it.
	Manifest digest.Digest
}

// Push uploads mod, whose bytes r yields, to target
// (REGISTRY/REPOSITORY[:TAG]) in the Wasm artifact layout and tags it. The
// tag defaults to the version; a version with +build metadata needs an
// explicit tag (ErrInvalid). r is read once, through a reader that checks
// mod.Digest and mod.Size: bytes that do not match fail the push
// (ErrCorrupt) before the manifest is written, so the tag never points at
// them. Blobs the registry holds already are not sent again. Pushing the
// same module twice moves the tag to a new manifest (its "created" differs).
func (c *Client) Push(ctx context.Context, mod Module, r io.Reader, target string) (PushResult, error) {
	ref, err := parseRef(target)
	if err != nil {
		return PushResult{}, fmt.Errorf("push %s@%s: %w", mod.Name, mod.Version, err)
	}
	if err := mod.Digest.Validate(); err != nil {
		return PushResult{}, fmt.Errorf("push %s@%s: digest %q: %w: %v", mod.Name, mod.Version, mod.Digest, errdefs.ErrInvalid, err)
	}
	if strings.HasPrefix(ref.Reference, "sha256:") || strings.Contains(target, "@") {
		return PushResult{}, fmt.Errorf("push %s@%s to %s: %w: push to a tag (REGISTRY/REPOSITORY[:TAG]), not a digest", mod.Name, mod.Version, target, errdefs.ErrInvalid)
	}
	if ref.Reference == "" {
		if strings.Contains(mod.Version, "+") {
			return PushResult{}, fmt.Errorf("push %s@%s to %s: %w: OCI tags cannot hold '+', so a version with build metadata needs an explicit tag (%s:TAG)",
				mod.Name, mod.Version, target, errdefs.ErrInvalid, target)
		}
		ref.Reference = mod.Version
		if err := ref.ValidateReferenceAsTag(); err != nil {
			return PushResult{}, fmt.Errorf("push %s@%s to %s: %w: the version is not a valid OCI tag; give a tag explicitly (%v)", mod.Name, mod.Version, target, errdefs.ErrInvalid, err)
		}
	}
	where := ref.String()
	repo := c.repository(ref)

	layer := ocispec.Descriptor{
		MediaType:   MediaTypeWasmLayer,
		Digest:      mod.Digest,
		Size:        mod.Size,
		Annotations: map[string]string{AnnotationTitle: mod.Name + ".wasm"},
	}
	// Peek at the preamble to tell a component from a core module before
	// the bytes stream out; the peeked bytes still go through the verifier.
	br := bufio.NewReaderSize(r, 64<<10)
	head, _ := br.Peek(8)
	cfg := WasmConfig{
		Created:      c.opts.Now().UTC(),
		Architecture: ArchitectureWasm,
		OS:           wasmOS(head),
		LayerDigests: []digest.Digest{mod.Digest},
	}
	cfgBytes, err := json.Marshal(cfg)
	if err != nil {
		return PushResult{}, fmt.Errorf("push %s: %w", where, err)
	}
	cfgDesc := content.NewDescriptorFromBytes(MediaTypeWasmConfig, cfgBytes)

	// The config goes up while the layer streams, as oras does: on a
	// loopback or LAN registry the round trips of a second blob cost as
	// much as many MB of the first. The manifest goes last, only once both
	// blobs are in, so the tag never points at a missing blob.
	cfgDone := make(chan error, 1)
	go func() { cfgDone <- pushBlob(ctx, repo, cfgDesc, bytes.NewReader(cfgBytes)) }()
	vr := newVerifyReader(br, fmt.Sprintf("module %s@%s", mod.Name, mod.Version), mod.Digest, mod.Size)
	layerErr := pushBlob(ctx, repo, layer, vr)
	cfgErr := <-cfgDone
	if layerErr != nil {
		return PushResult{}, classify("push", where, layerErr)
	}
	if cfgErr != nil {
		return PushResult{}, classify("push", where, cfgErr)
	}

	manifest := ocispec.Manifest{
		MediaType: MediaTypeManifest,
		Config:    cfgDesc,
		Layers:    []ocispec.Descriptor{layer},
		Annotations: map[string]string{
			AnnotationCreated: cfg.Created.Format("2006-01-02T15:04:05Z"),
			AnnotationVersion: mod.Version,
		},
	}
	manifest.SchemaVersion = 2
	mBytes, err := json.Marshal(manifest)
	if err != nil {
		return PushResult{}, fmt.Errorf("push %s: %w", where, err)
	}
	mDesc := content.NewDescriptorFromBytes(MediaTypeManifest, mBytes)
	if err := repo.PushReference(ctx, mDesc, bytes.NewReader(mBytes), ref.Reference); err != nil {
		return PushResult{}, classify("push", where, err)
	}
	return PushResult{Reference: where, Tag: ref.Reference, Manifest: mDesc.Digest}, nil
}

// pushBlob sends one blob unless the registry has it. A blob that exists is
// not read: a verifying reader left unread is fine, as the registry
// checked those bytes against the same digest when it took them.
func pushBlob(ctx context.Context, repo *remote.Repository, desc ocispec.Descriptor, r io.Reader) error {
	ok, err := repo.Blobs().Exists(ctx, desc)
	if err != nil {
		return err
	}
	if ok {
		return nil
	}
	if err := repo.Blobs().Push(ctx, desc, r); err != nil {
		if vr, isVR := r.(*verifyReader); isVR && vr.err != nil && vr.err != io.EOF {
			// The request failed because our own bytes were wrong: say
			// that, not what the transport made of the aborted body.
			return vr.err
		}
		return err
	}
	return nil
}

// parseVersion parses v as a version GPMD stores (index.ParseVersion).
func parseVersion(v string) (index.Version, error) {
	ver, err := index.ParseVersion(v)
	if err != nil {
		// index has its own ErrInvalid; carry the errdefs class too.
		return index.Version{}, fmt.Errorf("%w: %v", errdefs.ErrInvalid, err)
	}
	return ver, nil
}

// validVersion checks that v is a version GPMD stores.
func validVersion(v string) error {
	_, err := parseVersion(v)
	return err
}
