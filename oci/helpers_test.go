package oci

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/registry"
	"oras.land/oras-go/v2/registry/remote"

	"github.com/ghost-network/gpmd/internal/testutil"
	"github.com/ghost-network/gpmd/oci/ocitest"
)

// newClient returns a Client whose credential store is a temp docker
// config holding creds (registry host -> "user:password"), never the
// user's own.
func newClient(t *testing.T, opts Options, creds map[string]string) *Client {
	t.Helper()
	auths := map[string]map[string]string{}
	for host, up := range creds {
		auths[host] = map[string]string{"auth": base64.StdEncoding.EncodeToString([]byte(up))}
	}
	b, err := json.Marshal(map[string]any{"auths": auths})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "config.json")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	opts.CredentialsConfig = path
	c, err := NewClient(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// memSink keeps what it is handed, only after a clean EOF, as a store would.
type memSink struct {
	mu   sync.Mutex
	mods map[string][]byte // name@version -> bytes
}

func (s *memSink) sink(ctx context.Context, mod Module, r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.mods == nil {
		s.mods = map[string][]byte{}
	}
	s.mods[mod.Name+"@"+mod.Version] = b
	return nil
}

func (s *memSink) get(key string) ([]byte, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.mods[key]
	return b, ok
}

func moduleOf(name, version string, b []byte) Module {
	return Module{Name: name, Version: version, Digest: digest.FromBytes(b), Size: int64(len(b))}
}

// push pushes a module built by testutil.Wasm and returns its bytes.
func push(t *testing.T, c *Client, target, name, version string, size int) []byte {
	t.Helper()
	b := testutil.Wasm(name+version, size)
	if _, err := c.Push(t.Context(), moduleOf(name, version, b), bytes.NewReader(b), target); err != nil {
		t.Fatalf("push %s: %v", target, err)
	}
	return b
}

// rawRepo is an oras-go repository for planting fixtures the way other
// tools would, bypassing this package.
func rawRepo(t *testing.T, reg *ocitest.Registry, repository string) *remote.Repository {
	t.Helper()
	r, err := remote.NewRepository(reg.Ref(repository))
	if err != nil {
		t.Fatal(err)
	}
	r.PlainHTTP = true
	return r
}

// blob is a fixture blob.
type blob struct {
	mediaType string
	data      []byte
	annot     map[string]string
}

func (b blob) desc() ocispec.Descriptor {
	d := content.NewDescriptorFromBytes(b.mediaType, b.data)
	d.Annotations = b.annot
	return d
}

// plantManifest pushes blobs and then a manifest built by build(descs) as
// mediaType under tag, and returns the manifest's bytes.
func plantManifest(t *testing.T, reg *ocitest.Registry, repository, tag, mediaType string, manifest any, blobs ...blob) []byte {
	t.Helper()
	ctx := t.Context()
	r := rawRepo(t, reg, repository)
	for _, b := range blobs {
		if err := r.Blobs().Push(ctx, b.desc(), bytes.NewReader(b.data)); err != nil {
			t.Fatalf("plant blob %s: %v", b.mediaType, err)
		}
	}
	mb, err := json.Marshal(manifest)
	if err != nil {
		t.Fatal(err)
	}
	md := content.NewDescriptorFromBytes(mediaType, mb)
	if err := r.PushReference(ctx, md, bytes.NewReader(mb), tag); err != nil {
		t.Fatalf("plant manifest %s: %v", mediaType, err)
	}
	return mb
}

// getRaw fetches a registry URL path with an Accept header; it fails the
// test on anything but 200.
func getRaw(t *testing.T, reg *ocitest.Registry, path, accept string) ([]byte, http.Header) {
	t.Helper()
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, reg.URL+path, nil)
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %s", path, resp.StatusCode, b)
	}
	return b, resp.Header
}

func mustRef(t *testing.T, s string) registry.Reference {
	t.Helper()
	r, err := registry.ParseReference(s)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

var _ = fmt.Sprintf
