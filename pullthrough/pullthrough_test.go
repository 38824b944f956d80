package pullthrough_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/ghost-network/gpmd/errdefs"
	"github.com/ghost-network/gpmd/index"
	"github.com/ghost-network/gpmd/internal/testutil"
	"github.com/ghost-network/gpmd/oci"
	"github.com/ghost-network/gpmd/oci/ocitest"
	"github.com/ghost-network/gpmd/pullthrough"
	"github.com/ghost-network/gpmd/repo"
)

// noCreds is an oci.Options whose credential store is a file that does not
// exist: never the user's own docker config.
func noCreds(t *testing.T) oci.Options {
	return oci.Options{CredentialsConfig: filepath.Join(t.TempDir(), "config.json")}
}

// newLayer opens a real repository in a temp folder and puts a layer with
// upstream (may be "") in front of it.
func newLayer(t *testing.T, upstream string) *pullthrough.Layer {
	t.Helper()
	store, err := repo.Open(t.Context(), filepath.Join(t.TempDir(), "modules"), repo.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	l, err := pullthrough.New(store, pullthrough.Options{Upstream: upstream, Client: noCreds(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// publish pushes a module of size bytes to reg's fleet/NAME:VERSION, as
// another device would, and returns its bytes.
func publish(t *testing.T, reg *ocitest.Registry, name, version string, size int) []byte {
	t.Helper()
	src := newLayer(t, "")
	b := testutil.Wasm(name+version+reg.Host, size)
	if _, err := src.Upload(t.Context(), index.MustRef(name, version), bytes.NewReader(b), ""); err != nil {
		t.Fatal(err)
	}
	if _, _, err := src.Push(t.Context(), index.MustRef(name, version), reg.Ref("fleet/"+name), false, nil); err != nil {
		t.Fatal(err)
	}
	return b
}

// get reads name@query through the layer.
func get(t *testing.T, l *pullthrough.Layer, name, query string) (index.Record, []byte, error) {
	t.Helper()
	rec, rc, err := l.Get(t.Context(), name, query)
	if err != nil {
		return rec, nil, err
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	return rec, b, err
}

// counter counts blob GETs in front of a registry.
type counter struct{ blobGets, tagLists atomic.Int32 }

func (c *counter) front(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasSuffix(r.URL.Path, "/tags/list"):
			c.tagLists.Add(1)
		case r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/blobs/"):
			c.blobGets.Add(1)
		}
		next.ServeHTTP(w, r)
	})
}

func TestNoUpstreamIsTheRepository(t *testing.T) {
	l := newLayer(t, "")
	if l.Upstream() != nil {
		t.Fatal("an upstream without --registry")
	}
	b := testutil.Wasm("a", 100)
	if _, err := l.Upload(t.Context(), index.MustRef("math", "v1.0.0"), bytes.NewReader(b), ""); err != nil {
		t.Fatal(err)
	}
	rec, got, err := get(t, l, "math", "^1")
	if err != nil || rec.Version != "v1.0.0" || !bytes.Equal(got, b) {
		t.Fatalf("%+v %v", rec, err)
	}
	if _, _, err := get(t, l, "math", "^2"); !errors.Is(err, errdefs.ErrNotFound) {
		t.Fatalf("^2: %v, want not found", err)
	}
}

// A version only the registry has is pulled, stored as an upload and
// served; afterwards it is local.
func TestPullThroughStoresAndServes(t *testing.T) {
	reg := ocitest.New(t)
	want := publish(t, reg, "math", "v1.2.0", 50_000)
	l := newLayer(t, reg.Ref("fleet"))

	rec, got, err := get(t, l, "math", "")
	if err != nil {
		t.Fatal(err)
	}
	if rec.Version != "v1.2.0" || rec.Digest != digest.FromBytes(want) || !bytes.Equal(got, want) {
		t.Fatalf("got %+v (%d bytes), want v1.2.0 %s", rec, len(got), digest.FromBytes(want))
	}
	mods, err := l.Repo.List(t.Context(), "math")
	if err != nil || len(mods) != 1 || len(mods[0].Versions) != 1 {
		t.Fatalf("stored: %+v %v", mods, err)
	}
	// Resolve (the control API's GET /v1/modules/{name}/{version}) agrees.
	r2, err := l.Resolve(t.Context(), "math", "~1.2")
	if err != nil || r2.Digest != rec.Digest {
		t.Fatalf("resolve: %+v %v", r2, err)
	}
	st := l.Upstream().Status()
	if st.Registry != reg.Ref("fleet") || st.LastSuccess.IsZero() || st.LastError != "" {
		t.Fatalf("status %+v", st)
	}
}

// The union of local versions and registry tags: the highest that fits
// wins wherever it is; an exact local version never asks for bytes.
func TestResolveOverTheUnion(t *testing.T) {
	reg := ocitest.New(t)
	remote := publish(t, reg, "math", "v1.1.0", 1000)
	publish(t, reg, "math", "v2.0.0-rc.1", 1000)
	l := newLayer(t, reg.Ref("fleet"))
	local := testutil.Wasm("local", 1000)
	if _, err := l.Upload(t.Context(), index.MustRef("math", "v1.0.0"), bytes.NewReader(local), ""); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		query, version string
		bytes          []byte
	}{
		{"1.0.0", "v1.0.0", local},
		{"latest", "v1.1.0", remote},
		{"^1.0", "v1.1.0", remote},
		{"<1.1.0", "v1.0.0", local},
	} {
		rec, got, err := get(t, l, "math", c.query)
		if err != nil || rec.Version != c.version || !bytes.Equal(got, c.bytes) {
			t.Errorf("math@%s: %+v %v, want %s", c.query, rec, err, c.version)
		}
	}
	if _, _, err := get(t, l, "math", "^3"); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("^3: %v, want not found", err)
	}
	if _, _, err := get(t, l, "math", "not a constraint"); !errors.Is(err, errdefs.ErrInvalid) {
		t.Errorf("bad query: %v, want invalid", err)
	}
}

// A registry tag with other bytes than the local version of the same
// number is never served.
func TestConflictLocalWins(t *testing.T) {
	reg := ocitest.New(t)
	publish(t, reg, "math", "v1.0.0", 1000)
	l := newLayer(t, reg.Ref("fleet"))
	local := testutil.Wasm("mine", 1000)
	if _, err := l.Upload(t.Context(), index.MustRef("math", "v1.0.0"), bytes.NewReader(local), ""); err != nil {
		t.Fatal(err)
	}
	rec, got, err := get(t, l, "math", "v1.0.0")
	if err != nil || !bytes.Equal(got, local) || rec.Digest != digest.FromBytes(local) {
		t.Fatalf("%+v %v: the registry's bytes were served", rec, err)
	}
}

// A registry that goes away leaves the local versions served, and what
// only it had is not found, naming why.
func TestRegistryGoneServesLocal(t *testing.T) {
	reg := ocitest.New(t)
	publish(t, reg, "math", "v1.0.0", 1000)
	publish(t, reg, "other", "v1.0.0", 1000)
	l := newLayer(t, reg.Ref("fleet"))
	if _, _, err := get(t, l, "math", ""); err != nil {
		t.Fatal(err)
	}
	reg.Stop()
	if rec, _, err := get(t, l, "math", "^1"); err != nil || rec.Version != "v1.0.0" {
		t.Fatalf("local after the registry stopped: %+v %v", rec, err)
	}
	_, _, err := get(t, l, "other", "")
	if !errors.Is(err, errdefs.ErrNotFound) || !strings.Contains(err.Error(), "local versions only") {
		t.Fatalf("other: %v, want not found naming the registry", err)
	}
	if st := l.Upstream().Status(); st.LastError == "" {
		t.Fatalf("status has no error: %+v", st)
	}
}

// Bytes that do not match the layer's digest are never stored.
func TestTamperedLayerIsNotStored(t *testing.T) {
	var tamper atomic.Bool
	reg := ocitest.New(t, ocitest.WithFront(func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if tamper.Load() && r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/blobs/") {
				w = testutil.TamperLarge(w)
			}
			next.ServeHTTP(w, r)
		})
	}))
	publish(t, reg, "math", "v1.0.0", 5000)
	tamper.Store(true)
	l := newLayer(t, reg.Ref("fleet"))
	if _, _, err := get(t, l, "math", ""); err == nil {
		t.Fatal("tampered bytes were served")
	}
	if mods, _ := l.Repo.List(t.Context(), "math"); len(mods) != 0 {
		t.Fatalf("tampered bytes were stored: %+v", mods)
	}
}

// Many readers asking at once for a version only the registry has cause
// one pull.
func TestConcurrentGetsPullOnce(t *testing.T) {
	var n counter
	reg := ocitest.New(t, ocitest.WithFront(n.front))
	want := publish(t, reg, "math", "v1.0.0", 2<<20)
	l := newLayer(t, reg.Ref("fleet"))
	before := n.blobGets.Load()
	const readers = 16
	var wg sync.WaitGroup
	errs := make(chan error, readers)
	for range readers {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
			defer cancel()
			_, rc, err := l.Get(ctx, "math", "^1")
			if err != nil {
				errs <- err
				return
			}
			defer rc.Close()
			b, err := io.ReadAll(rc)
			if err == nil && !bytes.Equal(b, want) {
				err = errors.New("other bytes")
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	// Config and layer once each; a reader that came after the pull
	// finished reads the local copy.
	if got := n.blobGets.Load() - before; got != 2 {
		t.Fatalf("%d blob GETs for %d concurrent readers, want 2", got, readers)
	}
}

func TestPushPullRoundTrip(t *testing.T) {
	reg := ocitest.New(t)
	a := newLayer(t, "")
	b := testutil.Wasm("rt", 300_000)
	if _, err := a.Upload(t.Context(), index.MustRef("math", "v1.0.0"), bytes.NewReader(b), ""); err != nil {
		t.Fatal(err)
	}
	var pushed atomic.Int64
	res, rec, err := a.Push(t.Context(), index.MustRef("math", "1.0.0"), reg.Ref("fleet/math"), false, func(done, total int64) { pushed.Store(done) })
	if err != nil || res.Tag != "v1.0.0" || rec.Version != "v1.0.0" {
		t.Fatalf("push: %+v %+v %v", res, rec, err)
	}
	if pushed.Load() != int64(len(b)) {
		t.Fatalf("progress said %d of %d bytes", pushed.Load(), len(b))
	}
	dst := newLayer(t, "")
	_, rec2, err := dst.Pull(t.Context(), reg.Ref("fleet/math:v1.0.0"), "calc", "", false, nil)
	if err != nil || rec2.Name != "calc" || rec2.Version != "v1.0.0" || rec2.Digest != rec.Digest {
		t.Fatalf("pull: %+v %v", rec2, err)
	}
	tags, err := dst.Tags(t.Context(), reg.Ref("fleet/math"), false)
	if err != nil || len(tags) != 1 || tags[0].Name != "v1.0.0" {
		t.Fatalf("tags %+v %v", tags, err)
	}
	if _, _, err := a.Push(t.Context(), index.MustRef("math", "v9.0.0"), reg.Ref("fleet/math"), false, nil); !errors.Is(err, errdefs.ErrNotFound) {
		t.Fatalf("push of a missing version: %v", err)
	}
}

// Close ends a pull-through in flight and waits for it: nothing is stored
// after, and the reader waiting for it gets an error.
func TestCloseEndsPullsInFlight(t *testing.T) {
	var stalled atomic.Bool
	var waiting atomic.Int32
	reg := ocitest.New(t, ocitest.WithFront(func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if stalled.Load() && r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/blobs/") {
				waiting.Add(1)
				select { // a registry that stops answering mid-pull
				case <-r.Context().Done():
				case <-time.After(30 * time.Second):
				}
				return
			}
			next.ServeHTTP(w, r)
		})
	}))
	publish(t, reg, "math", "v1.0.0", 1000)
	stalled.Store(true)
	l := newLayer(t, reg.Ref("fleet"))
	errc := make(chan error, 1)
	go func() {
		_, _, err := get(t, l, "math", "")
		errc <- err
	}()
	testutil.WaitFor(t, 10*time.Second, "the pull to reach the stalled registry", func() bool { return waiting.Load() > 0 })
	start := time.Now()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("Close took %s", d)
	}
	select {
	case err := <-errc:
		if err == nil {
			t.Fatal("the reader got a module from a closed layer")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the reader still waits after Close")
	}
	if mods, _ := l.Repo.List(t.Context(), "math"); len(mods) != 0 {
		t.Fatalf("stored after Close: %+v", mods)
	}
}
