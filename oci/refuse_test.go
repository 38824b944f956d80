package oci

import (
	"bytes"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/ghost-network/gpmd/errdefs"
	"github.com/ghost-network/gpmd/internal/testutil"
	"github.com/ghost-network/gpmd/oci/ocitest"
)

func manifestOf(config ocispec.Descriptor, artifactType string, layers ...ocispec.Descriptor) ocispec.Manifest {
	m := ocispec.Manifest{MediaType: MediaTypeManifest, ArtifactType: artifactType, Config: config, Layers: layers}
	m.SchemaVersion = 2
	return m
}

// TestPullOtherToolsArtifacts pulls artifacts shaped as `oras push` (OCI
// 1.1 with the empty config, and OCI 1.0 with the unknown config) and `wkg`
// (a Wasm config with a component section) write them.
func TestPullOtherToolsArtifacts(t *testing.T) {
	reg := ocitest.New(t)
	c := newClient(t, Options{}, nil)
	mod := testutil.Wasm("other", 10_000)
	layer := blob{mediaType: MediaTypeWasmLayer, data: mod, annot: map[string]string{AnnotationTitle: "module.wasm"}}
	empty := blob{mediaType: MediaTypeEmptyConfig, data: []byte("{}")}
	unknown := blob{mediaType: mediaTypeUnknownConfig, data: []byte("{}")}
	wkgCfg := blob{mediaType: MediaTypeWasmConfig, data: []byte(`{"created":"2025-01-01T00:00:00Z","architecture":"wasm","os":"wasip2","layerDigests":["` +
		digest.FromBytes(mod).String() + `"],"component":{"exports":["wasi:http/incoming-handler@0.2.0"],"imports":[],"target":null}}`)}

	cases := []struct {
		repo string
		cfg  blob
		at   string
	}{
		{"tools/oras11", empty, "application/vnd.module.wasm.content.layer.v1+wasm"},
		{"tools/oras10", unknown, ""},
		{"tools/wkg", wkgCfg, ""},
	}
	for _, tc := range cases {
		t.Run(tc.repo, func(t *testing.T) {
			plantManifest(t, reg, tc.repo, "v0.3.0", MediaTypeManifest, manifestOf(tc.cfg.desc(), tc.at, layer.desc()), tc.cfg, layer)
			var s memSink
			res, err := c.Pull(t.Context(), reg.Ref(tc.repo+":v0.3.0"), PullOptions{}, s.sink)
			if err != nil {
				t.Fatal(err)
			}
			name := tc.repo[strings.LastIndex(tc.repo, "/")+1:]
			if got, _ := s.get(name + "@v0.3.0"); !bytes.Equal(got, mod) || res.Name != name {
				t.Fatalf("pulled %s: %d bytes, want %d", res.Name, len(got), len(mod))
			}
		})
	}
}

func TestPullRefusesOtherArtifacts(t *testing.T) {
	reg := ocitest.New(t)
	c := newClient(t, Options{}, nil)
	mod := testutil.Wasm("m", 1000)
	wasm := blob{mediaType: MediaTypeWasmLayer, data: mod}
	wasm2 := blob{mediaType: MediaTypeWasmLayer, data: testutil.Wasm("m2", 1000)}
	imgCfg := blob{mediaType: ocispec.MediaTypeImageConfig, data: []byte(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}`)}
	tar := blob{mediaType: ocispec.MediaTypeImageLayerGzip, data: []byte("not really a tarball")}
	wcfg := blob{mediaType: MediaTypeWasmConfig, data: []byte(`{"architecture":"wasm","os":"wasip1"}`)}
	spinCfg := blob{mediaType: "application/vnd.fermyon.spin.application.v1+config", data: []byte(`{}`)}
	spinLayer := blob{mediaType: "application/vnd.wasm.content.layer.v1+wasm", data: mod}
	spinJSON := blob{mediaType: "application/vnd.fermyon.spin.application.v1+config", data: []byte(`{"spin_manifest_version":2}`)}
	badCfg := blob{mediaType: MediaTypeWasmConfig, data: []byte(`{"architecture":"wasm","os":"wasip1","layerDigests":["sha256:` + strings.Repeat("0", 64) + `"]}`)}

	cases := []struct {
		name   string
		cfg    blob
		layers []blob
		want   []string // in the message
	}{
		{"container-image", imgCfg, []blob{tar}, []string{"1 layer(s)", ocispec.MediaTypeImageLayerGzip, ocispec.MediaTypeImageConfig}},
		{"two-layers", wcfg, []blob{wasm, wasm2}, []string{"2 layer(s)", "application/wasm, application/wasm"}},
		{"spin-app", spinCfg, []blob{spinLayer, spinJSON}, []string{"2 layer(s)", "application/vnd.wasm.content.layer.v1+wasm"}},
		{"no-layers", wcfg, nil, []string{"0 layer(s)"}},
		{"layer-digests-mismatch", badCfg, []blob{wasm}, []string{"layerDigests"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			descs := make([]ocispec.Descriptor, len(tc.layers))
			for i, l := range tc.layers {
				descs[i] = l.desc()
			}
			plantManifest(t, reg, "bad/"+tc.name, "v1.0.0", MediaTypeManifest, manifestOf(tc.cfg.desc(), "", descs...), append([]blob{tc.cfg}, tc.layers...)...)
			var s memSink
			_, err := c.Pull(t.Context(), reg.Ref("bad/"+tc.name+":v1.0.0"), PullOptions{Name: "x"}, s.sink)
			if !errors.Is(err, errdefs.ErrInvalid) {
				t.Fatalf("pull: %v, want ErrInvalid", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("message %q lacks %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("message is not one line: %q", err)
			}
			if len(s.mods) != 0 {
				t.Fatal("something was stored")
			}
		})
	}

	t.Run("image-index", func(t *testing.T) {
		// An index pointing at a valid Wasm manifest is still refused: its
		// media type is checked before anything is parsed.
		plantManifest(t, reg, "bad/index", "inner", MediaTypeManifest, manifestOf(wcfg.desc(), "", wasm.desc()), wcfg, wasm)
		inner, _ := getRaw(t, reg, "/v2/bad/index/manifests/inner", MediaTypeManifest)
		idx := ocispec.Index{MediaType: ocispec.MediaTypeImageIndex, Manifests: []ocispec.Descriptor{{
			MediaType: MediaTypeManifest, Digest: digest.FromBytes(inner), Size: int64(len(inner)),
			Platform: &ocispec.Platform{Architecture: "wasm", OS: "wasip1"},
		}}}
		idx.SchemaVersion = 2
		plantManifest(t, reg, "bad/index", "v1.0.0", ocispec.MediaTypeImageIndex, idx)
		var s memSink
		_, err := c.Pull(t.Context(), reg.Ref("bad/index:v1.0.0"), PullOptions{}, s.sink)
		if !errors.Is(err, errdefs.ErrInvalid) || !strings.Contains(err.Error(), ocispec.MediaTypeImageIndex) {
			t.Fatalf("pull of an index: %v", err)
		}
	})
}

func TestPullLimits(t *testing.T) {
	reg := ocitest.New(t)
	c := newClient(t, Options{}, nil)
	push(t, c, reg.Ref("fleet/math"), "math", "v1.0.0", 2000)
	var s memSink

	small := newClient(t, Options{MaxManifestSize: 100}, nil)
	if _, err := small.Pull(t.Context(), reg.Ref("fleet/math:v1.0.0"), PullOptions{}, s.sink); !errors.Is(err, errdefs.ErrTooLarge) {
		t.Fatalf("manifest over the limit: %v, want ErrTooLarge", err)
	}
	small = newClient(t, Options{MaxConfigSize: 20}, nil)
	if _, err := small.Pull(t.Context(), reg.Ref("fleet/math:v1.0.0"), PullOptions{}, s.sink); !errors.Is(err, errdefs.ErrTooLarge) || !strings.Contains(err.Error(), "config") {
		t.Fatalf("config over the limit: %v, want ErrTooLarge", err)
	}
	small = newClient(t, Options{MaxLayerSize: 1000}, nil)
	if _, err := small.Pull(t.Context(), reg.Ref("fleet/math:v1.0.0"), PullOptions{}, s.sink); !errors.Is(err, errdefs.ErrTooLarge) || !strings.Contains(err.Error(), "layer") {
		t.Fatalf("layer over the limit: %v, want ErrTooLarge", err)
	}
	if len(s.mods) != 0 {
		t.Fatal("something was stored")
	}
}

// isBlobGet reports whether r fetches the blob d.
func isBlobGet(r *http.Request, d digest.Digest) bool {
	return r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/blobs/"+d.String())
}

func TestPullRefusesTamperedLayer(t *testing.T) {
	mod := testutil.Wasm("tamper", 5000)
	d := digest.FromBytes(mod)
	var tamper atomic.Bool
	reg := ocitest.New(t, ocitest.WithFront(func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if tamper.Load() && isBlobGet(r, d) {
				bad := bytes.Clone(mod)
				bad[4000] ^= 1
				w.Header().Set("Content-Type", "application/octet-stream")
				w.Write(bad)
				return
			}
			next.ServeHTTP(w, r)
		})
	}))
	c := newClient(t, Options{}, nil)
	if _, err := c.Push(t.Context(), moduleOf("math", "v1.0.0", mod), bytes.NewReader(mod), reg.Ref("fleet/math")); err != nil {
		t.Fatal(err)
	}
	tamper.Store(true)
	var s memSink
	_, err := c.Pull(t.Context(), reg.Ref("fleet/math:v1.0.0"), PullOptions{}, s.sink)
	if !errors.Is(err, errdefs.ErrCorrupt) {
		t.Fatalf("pull of tampered bytes: %v, want ErrCorrupt", err)
	}
	if len(s.mods) != 0 {
		t.Fatal("tampered bytes were stored")
	}
}

func TestPullFollowsBlobRedirect(t *testing.T) {
	mod := testutil.Wasm("redirect", 50_000)
	d := digest.FromBytes(mod)
	var cdnHits atomic.Int32
	var backend http.Handler
	// The "CDN": another origin serving the same registry's blobs.
	cdn := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cdnHits.Add(1)
		backend.ServeHTTP(w, r)
	}))
	t.Cleanup(cdn.Close)
	reg := ocitest.New(t, ocitest.WithFront(func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if isBlobGet(r, d) {
				http.Redirect(w, r, cdn.URL+r.URL.Path, http.StatusTemporaryRedirect)
				return
			}
			next.ServeHTTP(w, r)
		})
	}))
	backend = reg.Backend
	c := newClient(t, Options{}, nil)
	if _, err := c.Push(t.Context(), moduleOf("math", "v1.0.0", mod), bytes.NewReader(mod), reg.Ref("fleet/math")); err != nil {
		t.Fatal(err)
	}
	var s memSink
	if _, err := c.Pull(t.Context(), reg.Ref("fleet/math:v1.0.0"), PullOptions{}, s.sink); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.get("math@v1.0.0"); !bytes.Equal(got, mod) {
		t.Fatal("bytes differ after the redirect")
	}
	if cdnHits.Load() == 0 {
		t.Fatal("the redirect was not followed")
	}
}

func TestAuth(t *testing.T) {
	reg := ocitest.New(t, ocitest.WithBasicAuth("fleet", "s3cret"))
	anon := newClient(t, Options{}, nil)
	b := testutil.Wasm("auth", 300)
	mod := moduleOf("math", "v1.0.0", b)
	_, err := anon.Push(t.Context(), mod, bytes.NewReader(b), reg.Ref("fleet/math"))
	if !errors.Is(err, errdefs.ErrUnauthorized) || !strings.Contains(err.Error(), reg.Host) {
		t.Fatalf("push without credentials: %v, want ErrUnauthorized naming %s", err, reg.Host)
	}
	wrong := newClient(t, Options{}, map[string]string{reg.Host: "fleet:wrong"})
	if _, err := wrong.Tags(t.Context(), reg.Ref("fleet/math")); !errors.Is(err, errdefs.ErrUnauthorized) {
		t.Fatalf("tags with a wrong password: %v", err)
	}
	good := newClient(t, Options{}, map[string]string{reg.Host: "fleet:s3cret"})
	if _, err := good.Push(t.Context(), mod, bytes.NewReader(b), reg.Ref("fleet/math")); err != nil {
		t.Fatal(err)
	}
	var s memSink
	if _, err := good.Pull(t.Context(), reg.Ref("fleet/math:v1.0.0"), PullOptions{}, s.sink); err != nil {
		t.Fatal(err)
	}
	if _, err := anon.Pull(t.Context(), reg.Ref("fleet/math:v1.0.0"), PullOptions{}, s.sink); !errors.Is(err, errdefs.ErrUnauthorized) {
		t.Fatalf("pull without credentials: %v", err)
	}
}

func TestForbidden(t *testing.T) {
	reg := ocitest.New(t, ocitest.WithFront(func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if strings.Contains(r.URL.Path, "/secret/") {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusForbidden)
				w.Write([]byte(`{"errors":[{"code":"DENIED","message":"requested access to the resource is denied"}]}`))
				return
			}
			next.ServeHTTP(w, r)
		})
	}))
	c := newClient(t, Options{}, nil)
	var s memSink
	if _, err := c.Pull(t.Context(), reg.Ref("secret/math:v1.0.0"), PullOptions{}, s.sink); !errors.Is(err, errdefs.ErrUnauthorized) {
		t.Fatalf("403: %v, want ErrUnauthorized", err)
	}
}

// stalledRegistry accepts connections and never answers.
func stalledRegistry(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, conn)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		<-done
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return l.Addr().String()
}

func TestStalledAndUnreachableRegistry(t *testing.T) {
	host := stalledRegistry(t)
	c := newClient(t, Options{ResponseHeaderTimeout: 300 * time.Millisecond}, nil)
	var s memSink
	start := time.Now()
	_, err := c.Pull(t.Context(), host+"/fleet/math:v1.0.0", PullOptions{}, s.sink)
	if !errors.Is(err, errdefs.ErrUnavailable) || !strings.Contains(err.Error(), host) {
		t.Fatalf("stalled registry: %v, want ErrUnavailable naming %s", err, host)
	}
	if el := time.Since(start); el > 10*time.Second {
		t.Fatalf("stalled registry took %s to fail", el)
	}

	// A port nobody listens on.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := l.Addr().String()
	l.Close()
	if _, err := c.Tags(t.Context(), closed+"/fleet/math"); !errors.Is(err, errdefs.ErrUnavailable) {
		t.Fatalf("unreachable registry: %v, want ErrUnavailable", err)
	}
}

func TestPlainHTTPOnlyForLoopback(t *testing.T) {
	for host, want := range map[string]bool{
		"127.0.0.1:5000": true, "localhost:5000": true, "[::1]:5000": true, "127.5.0.1": true,
		"registry.example.com": false, "10.0.0.1:5000": false, "ghcr.io": false,
	} {
		if got := isLoopback(host); got != want {
			t.Errorf("isLoopback(%q) = %v", host, got)
		}
	}
	c := newClient(t, Options{}, nil)
	if c.repository(mustRef(t, "ghcr.io/a/b:v1")).PlainHTTP {
		t.Error("plain HTTP to ghcr.io without PlainHTTP")
	}
	c = newClient(t, Options{PlainHTTP: true}, nil)
	if !c.repository(mustRef(t, "registry.lan/a/b:v1")).PlainHTTP {
		t.Error("PlainHTTP set but not used")
	}
}
