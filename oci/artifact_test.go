package oci

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/ghost-network/gpmd/errdefs"
	"github.com/ghost-network/gpmd/internal/testutil"
	"github.com/ghost-network/gpmd/oci/ocitest"
)

// servedManifest makes a front handler answer GET and HEAD of
// /v2/REPO/manifests/TAG with body as contentType, the way a registry
// holding such a manifest would (the distribution registry refuses to
// store some of these types, so the test serves them itself).
type servedManifest struct {
	path, contentType string
	body              []byte
}

func serveManifests(ms ...servedManifest) ocitest.Option {
	return ocitest.WithFront(func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			for _, m := range ms {
				if r.URL.Path == m.path && (r.Method == http.MethodGet || r.Method == http.MethodHead) {
					w.Header().Set("Content-Type", m.contentType)
					w.Header().Set("Content-Length", strconv.Itoa(len(m.body)))
					w.Header().Set("Docker-Content-Digest", digest.FromBytes(m.body).String())
					if r.Method == http.MethodGet {
						w.Write(m.body)
					}
					return
				}
			}
			next.ServeHTTP(w, r)
		})
	})
}

func TestPullManifestMediaTypes(t *testing.T) {
	mod := testutil.Wasm("artifact", 3000)
	layer := blob{mediaType: MediaTypeWasmLayer, data: mod, annot: map[string]string{AnnotationTitle: "hello.wasm"}}
	artifact, _ := json.Marshal(map[string]any{
		"mediaType":    MediaTypeArtifactManifest,
		"artifactType": "application/vnd.module.wasm.content.layer.v1+wasm",
		"blobs":        []ocispec.Descriptor{layer.desc()},
	})
	wasmCfg := blob{mediaType: MediaTypeWasmConfig, data: []byte(`{"architecture":"wasm","os":"wasip1"}`)}
	m := manifestOf(wasmCfg.desc(), "", layer.desc())
	good, _ := json.Marshal(m)
	noType := m
	noType.MediaType = ""
	goodNoType, _ := json.Marshal(noType)

	reg := ocitest.New(t, serveManifests(
		servedManifest{"/v2/tools/hello/manifests/v1.0.0", MediaTypeArtifactManifest, artifact},
		servedManifest{"/v2/tools/hello/manifests/v2.0.0", "application/vnd.docker.distribution.manifest.v2+json", goodNoType},
		servedManifest{"/v2/tools/hello/manifests/v3.0.0", "application/vnd.oci.image.manifest.v1+json", bytes.ReplaceAll(good, []byte(MediaTypeManifest), []byte(ocispec.MediaTypeImageIndex))},
		servedManifest{"/v2/tools/hello/manifests/v4.0.0", "application/json", good},
	))
	r := rawRepo(t, reg, "tools/hello")
	for _, b := range []blob{layer, wasmCfg} {
		if err := r.Blobs().Push(t.Context(), b.desc(), bytes.NewReader(b.data)); err != nil {
			t.Fatal(err)
		}
	}
	c := newClient(t, Options{}, nil)

	var s memSink
	if _, err := c.Pull(t.Context(), reg.Ref("tools/hello:v1.0.0"), PullOptions{}, s.sink); err != nil {
		t.Fatalf("artifact manifest: %v", err)
	}
	if got, _ := s.get("hello@v1.0.0"); !bytes.Equal(got, mod) {
		t.Fatal("artifact manifest: bytes differ")
	}
	for tag, want := range map[string]string{
		"v2.0.0": "Docker container image manifest",
		"v3.0.0": "it says media type " + ocispec.MediaTypeImageIndex,
		"v4.0.0": "application/json",
	} {
		_, err := c.Pull(t.Context(), reg.Ref("tools/hello:"+tag), PullOptions{}, s.sink)
		if !errors.Is(err, errdefs.ErrInvalid) || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want ErrInvalid saying %q", tag, err, want)
		}
	}
}
