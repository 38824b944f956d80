package oci

import (
	"errors"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ghost-network/gpmd/errdefs"
	"github.com/ghost-network/gpmd/internal/testutil"
	"github.com/ghost-network/gpmd/oci/ocitest"
)

// The config is checked while the layer streams: a layer that arrives
// before its config is not handed over whole until the config has passed,
// and a config that fails keeps the module from being stored.
func TestPullWaitsForTheConfigCheck(t *testing.T) {
	var slowBlob atomic.Value // the digest whose GET is held back
	slowBlob.Store("")
	reg := ocitest.New(t, ocitest.WithFront(func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if d := slowBlob.Load().(string); d != "" && r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/blobs/"+d) {
				time.Sleep(300 * time.Millisecond)
			}
			next.ServeHTTP(w, r)
		})
	}))
	c := newClient(t, Options{}, nil)
	mod := testutil.Wasm("gate", 5000)
	wasm := blob{mediaType: MediaTypeWasmLayer, data: mod}

	good := blob{mediaType: MediaTypeWasmConfig, data: []byte(`{"architecture":"wasm","os":"wasip1"}`)}
	plantManifest(t, reg, "gate/good", "v1.0.0", MediaTypeManifest, manifestOf(good.desc(), "", wasm.desc()), good, wasm)
	slowBlob.Store(good.desc().Digest.String())
	var s memSink
	if _, err := c.Pull(t.Context(), reg.Ref("gate/good:v1.0.0"), PullOptions{}, s.sink); err != nil {
		t.Fatal(err)
	}
	if _, ok := s.get("good@v1.0.0"); !ok {
		t.Fatal("a module with a slow, good config was not stored")
	}

	bad := blob{mediaType: MediaTypeWasmConfig, data: []byte(`{"architecture":"x86","os":"wasip1"}`)}
	plantManifest(t, reg, "gate/bad", "v1.0.0", MediaTypeManifest, manifestOf(bad.desc(), "", wasm.desc()), bad, wasm)
	slowBlob.Store(bad.desc().Digest.String())
	var s2 memSink
	_, err := c.Pull(t.Context(), reg.Ref("gate/bad:v1.0.0"), PullOptions{}, s2.sink)
	if !errors.Is(err, errdefs.ErrInvalid) || !strings.Contains(err.Error(), "architecture") || strings.Count(err.Error(), "pull ") != 1 {
		t.Fatalf("slow bad config: %v, want one ErrInvalid naming the architecture", err)
	}
	if len(s2.mods) != 0 {
		t.Fatal("a module whose config failed was stored")
	}
}
