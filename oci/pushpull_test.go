package oci

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/ghost-network/gpmd/errdefs"
	"github.com/ghost-network/gpmd/internal/testutil"
	"github.com/ghost-network/gpmd/oci/ocitest"
)

func TestPushPullByteIdentical(t *testing.T) {
	reg := ocitest.New(t)
	c := newClient(t, Options{}, nil)
	want := push(t, c, reg.Ref("fleet/math"), "math", "v1.2.0", 300<<10)

	var s memSink
	res, err := c.Pull(t.Context(), reg.Ref("fleet/math:v1.2.0"), PullOptions{}, s.sink)
	if err != nil {
		t.Fatal(err)
	}
	got, ok := s.get("math@v1.2.0")
	if !ok || !bytes.Equal(got, want) {
		t.Fatalf("pulled %d bytes (stored %v), want the %d pushed", len(got), ok, len(want))
	}
	if res.Name != "math" || res.Version != "v1.2.0" || res.Digest != digest.FromBytes(want) || res.Size != int64(len(want)) {
		t.Fatalf("result %+v", res)
	}

	// By digest, with name and version given.
	var s2 memSink
	byDigest := reg.Ref("fleet/math@" + res.Manifest.String())
	if _, err := c.Pull(t.Context(), byDigest, PullOptions{Name: "calc", Version: "1.0.0"}, s2.sink); err != nil {
		t.Fatal(err)
	}
	if got, _ := s2.get("calc@1.0.0"); !bytes.Equal(got, want) {
		t.Fatal("pull by digest: bytes differ")
	}
	// By digest without a version: refused, the tag is what gives one.
	if _, err := c.Pull(t.Context(), byDigest, PullOptions{}, s2.sink); !errors.Is(err, errdefs.ErrInvalid) {
		t.Fatalf("pull by digest without a version: %v, want ErrInvalid", err)
	}
}

func TestPushLayout(t *testing.T) {
	reg := ocitest.New(t)
	created := time.Date(2026, 11, 30, 6, 0, 0, 0, time.UTC)
	c := newClient(t, Options{Now: func() time.Time { return created }}, nil)
	mod := push(t, c, reg.Ref("fleet/math"), "math", "v1.0.0", 4096)

	raw, hdr := getRaw(t, reg, "/v2/fleet/math/manifests/v1.0.0", MediaTypeManifest)
	if ct := hdr.Get("Content-Type"); ct != MediaTypeManifest {
		t.Fatalf("Content-Type %q", ct)
	}
	var m ocispec.Manifest
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	if m.SchemaVersion != 2 || m.MediaType != MediaTypeManifest || m.Config.MediaType != MediaTypeWasmConfig {
		t.Fatalf("manifest %s", raw)
	}
	if len(m.Layers) != 1 {
		t.Fatalf("%d layers", len(m.Layers))
	}
	l := m.Layers[0]
	if l.MediaType != MediaTypeWasmLayer || l.Digest != digest.FromBytes(mod) || l.Size != int64(len(mod)) || l.Annotations[AnnotationTitle] != "math.wasm" {
		t.Fatalf("layer %+v", l)
	}
	cfgRaw, _ := getRaw(t, reg, "/v2/fleet/math/blobs/"+m.Config.Digest.String(), "")
	var cfg map[string]any
	if err := json.Unmarshal(cfgRaw, &cfg); err != nil {
		t.Fatal(err)
	}
	if cfg["architecture"] != "wasm" || cfg["os"] != "wasip1" || cfg["created"] != "2026-11-30T06:00:00Z" {
		t.Fatalf("config %s", cfgRaw)
	}
	ld, _ := cfg["layerDigests"].([]any)
	if len(ld) != 1 || ld[0] != l.Digest.String() {
		t.Fatalf("config layerDigests %v, want [%s]", cfg["layerDigests"], l.Digest)
	}

	// A component (preamble version 0x0d, layer 1) is os wasip2.
	comp := append([]byte("\x00asm\x0d\x00\x01\x00"), bytes.Repeat([]byte{0}, 64)...)
	if _, err := c.Push(t.Context(), moduleOf("comp", "v0.1.0", comp), bytes.NewReader(comp), reg.Ref("fleet/comp")); err != nil {
		t.Fatal(err)
	}
	raw, _ = getRaw(t, reg, "/v2/fleet/comp/manifests/v0.1.0", MediaTypeManifest)
	m = ocispec.Manifest{}
	_ = json.Unmarshal(raw, &m)
	cfgRaw, _ = getRaw(t, reg, "/v2/fleet/comp/blobs/"+m.Config.Digest.String(), "")
	if !strings.Contains(string(cfgRaw), `"os":"wasip2"`) {
		t.Fatalf("component config %s", cfgRaw)
	}
}

func TestPushTags(t *testing.T) {
	reg := ocitest.New(t)
	c := newClient(t, Options{}, nil)
	b := testutil.Wasm("b", 512)
	mod := moduleOf("math", "v1.0.0+build.7", b)

	_, err := c.Push(t.Context(), mod, bytes.NewReader(b), reg.Ref("fleet/math"))
	if !errors.Is(err, errdefs.ErrInvalid) || !strings.Contains(err.Error(), "cannot hold '+'") {
		t.Fatalf("push of a +build version without a tag: %v", err)
	}
	res, err := c.Push(t.Context(), mod, bytes.NewReader(b), reg.Ref("fleet/math:v1.0.0-build.7"))
	if err != nil {
		t.Fatal(err)
	}
	if res.Tag != "v1.0.0-build.7" || res.Reference != reg.Ref("fleet/math:v1.0.0-build.7") {
		t.Fatalf("result %+v", res)
	}
	if _, err := c.Push(t.Context(), mod, bytes.NewReader(b), reg.Ref("fleet/math@"+digest.FromBytes(b).String())); !errors.Is(err, errdefs.ErrInvalid) {
		t.Fatalf("push to a digest: %v", err)
	}
}

func TestPushRefusesBytesThatDoNotMatch(t *testing.T) {
	reg := ocitest.New(t)
	c := newClient(t, Options{}, nil)
	b := testutil.Wasm("x", 2048)
	mod := moduleOf("math", "v1.0.0", b)
	bad := bytes.Clone(b)
	bad[1000] ^= 0xff
	_, err := c.Push(t.Context(), mod, bytes.NewReader(bad), reg.Ref("fleet/math"))
	if !errors.Is(err, errdefs.ErrCorrupt) {
		t.Fatalf("push of damaged bytes: %v, want ErrCorrupt", err)
	}
	tags, err := c.Tags(t.Context(), reg.Ref("fleet/math"))
	if err != nil && !errors.Is(err, errdefs.ErrNotFound) {
		t.Fatal(err)
	}
	if len(tags) != 0 {
		t.Fatalf("a tag was written for damaged bytes: %v", tags)
	}
}

func TestTagsSemverOnly(t *testing.T) {
	reg := ocitest.New(t)
	c := newClient(t, Options{}, nil)
	repo := reg.Ref("fleet/math")
	for _, v := range []string{"v1.0.0", "1.3.0-rc.1", "v1.2.0"} {
		push(t, c, repo, "math", v, 256)
	}
	b := testutil.Wasm("latest", 256)
	for _, tag := range []string{"latest", "main", "1.2"} {
		if _, err := c.Push(t.Context(), moduleOf("math", "v9.9.9", b), bytes.NewReader(b), repo+":"+tag); err != nil {
			t.Fatal(err)
		}
	}
	tags, err := c.Tags(t.Context(), repo)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, tg := range tags {
		names = append(names, tg.Name)
	}
	if got := strings.Join(names, " "); got != "1.3.0-rc.1 v1.2.0 v1.0.0" {
		t.Fatalf("tags %q", got)
	}
	// A non-semver tag is refused as a version.
	var s memSink
	if _, err := c.Pull(t.Context(), repo+":latest", PullOptions{}, s.sink); !errors.Is(err, errdefs.ErrInvalid) || !strings.Contains(err.Error(), "not a semantic version") {
		t.Fatalf("pull :latest: %v", err)
	}
	// With a version given it is fine.
	if _, err := c.Pull(t.Context(), repo+":latest", PullOptions{Version: "v9.9.9"}, s.sink); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Tags(t.Context(), reg.Ref("fleet/none")); !errors.Is(err, errdefs.ErrNotFound) {
		t.Fatalf("tags of a missing repository: %v", err)
	}
	if _, err := c.Pull(t.Context(), reg.Ref("fleet/math:v7.0.0"), PullOptions{}, s.sink); !errors.Is(err, errdefs.ErrNotFound) {
		t.Fatalf("pull of a missing tag: %v", err)
	}
}
