package oci

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/ghost-network/gpmd/errdefs"
	"github.com/ghost-network/gpmd/index"
	"github.com/ghost-network/gpmd/internal/testutil"
	"github.com/ghost-network/gpmd/oci/ocitest"
)

// counter counts requests by kind in front of a registry.
type counter struct {
	tagLists, blobGets, manifestGets atomic.Int32
}

func (c *counter) front(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasSuffix(r.URL.Path, "/tags/list"):
			c.tagLists.Add(1)
		case r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/blobs/"):
			c.blobGets.Add(1)
		case r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/manifests/"):
			c.manifestGets.Add(1)
		}
		next.ServeHTTP(w, r)
	})
}

func TestUpstreamResolve(t *testing.T) {
	var n counter
	reg := ocitest.New(t, ocitest.WithFront(n.front))
	c := newClient(t, Options{}, nil)
	for _, v := range []string{"v1.0.0", "v1.1.0", "v2.0.0-rc.1"} {
		push(t, c, reg.Ref("fleet/math"), "math", v, 256)
	}
	push(t, c, reg.Ref("fleet/pre"), "pre", "v0.1.0-alpha", 256)
	u, err := NewUpstream(c, reg.Ref("fleet"), nil)
	if err != nil {
		t.Fatal(err)
	}
	local := []LocalVersion{
		{Version: "v1.0.0", Digest: digest.FromBytes(testutil.Wasm("mathv1.0.0", 256))}, // same bytes as the tag
		{Version: "v0.9.0", Digest: testutil.TinyDigest},
	}
	ctx := t.Context()
	for _, tc := range []struct {
		name, query string
		local       []LocalVersion
		wantVersion string
		wantLocal   bool
	}{
		{"math", "", local, "v1.1.0", false},       // latest: release over rc
		{"math", "latest", local, "v1.1.0", false}, // same
		{"math", "1.0.0", local, "v1.0.0", true},   // exact, semver equality, local wins
		{"math", "v0.9.0", local, "v0.9.0", true},  // local only
		{"math", "^1.0", local, "v1.1.0", false},   // constraint
		{"math", "~1.0.0", local, "v1.0.0", true},  // constraint, local
		{"math", ">=2.0.0-rc.0", nil, "v2.0.0-rc.1", false},
		{"pre", "", nil, "v0.1.0-alpha", false}, // only pre-releases: the highest
		{"solo", "", []LocalVersion{{Version: "v3.0.0", Digest: testutil.TinyDigest}}, "v3.0.0", true},
	} {
		res, err := u.Resolve(ctx, index.MustQuery(tc.name, tc.query), tc.local)
		if err != nil {
			t.Fatalf("%s@%s: %v", tc.name, tc.query, err)
		}
		if res.Version != tc.wantVersion || res.Local != tc.wantLocal || len(res.Conflicts) != 0 || res.RegistryErr != nil {
			t.Errorf("%s@%q: %+v, want %s local=%v", tc.name, tc.query, res, tc.wantVersion, tc.wantLocal)
		}
		if !res.Local && res.Reference != reg.Ref("fleet/"+tc.name+":"+tc.wantVersion) {
			t.Errorf("%s@%q: reference %s", tc.name, tc.query, res.Reference)
		}
	}
	if _, err := u.Resolve(ctx, index.MustQuery("math", "v5.0.0"), local); !errors.Is(err, errdefs.ErrNotFound) {
		t.Fatalf("missing version: %v", err)
	}
	// A bad query or name is refused where it is parsed, at the boundary;
	// a Query that was never parsed is refused by Resolve.
	if _, err := index.ParseQuery("math", "not-a-version!"); !errors.Is(err, errdefs.ErrInvalid) {
		t.Fatalf("bad query: %v", err)
	}
	if _, err := index.ParseQuery("Bad.Name", ""); !errors.Is(err, errdefs.ErrInvalid) {
		t.Fatalf("bad name: %v", err)
	}
	if _, err := u.Resolve(ctx, index.Query{}, nil); !errors.Is(err, errdefs.ErrInvalid) {
		t.Fatalf("zero query: %v", err)
	}
	// Tag lists came from the cache: one request per name.
	if got := n.tagLists.Load(); got != 3 {
		t.Fatalf("%d tag list requests for 3 names, want 3 (cache)", got)
	}
	if st := u.Status(); st.LastSuccess.IsZero() || st.LastError != "" || st.Registry != reg.Ref("fleet") {
		t.Fatalf("status %+v", st)
	}
}

func TestUpstreamTagCacheExpires(t *testing.T) {
	var n counter
	reg := ocitest.New(t, ocitest.WithFront(n.front))
	c := newClient(t, Options{TagCacheTTL: 100 * time.Millisecond}, nil)
	push(t, c, reg.Ref("fleet/math"), "math", "v1.0.0", 256)
	u, _ := NewUpstream(c, reg.Ref("fleet"), nil)
	if res, err := u.Resolve(t.Context(), index.MustQuery("math", ""), nil); err != nil || res.Version != "v1.0.0" {
		t.Fatalf("%+v %v", res, err)
	}
	push(t, c, reg.Ref("fleet/math"), "math", "v1.1.0", 256)
	// Within the TTL the cached list answers; after it the new tag shows.
	testutil.WaitFor(t, 5*time.Second, "the new tag after the cache expires", func() bool {
		res, err := u.Resolve(t.Context(), index.MustQuery("math", ""), nil)
		return err == nil && res.Version == "v1.1.0"
	})
	if got := n.tagLists.Load(); got < 2 {
		t.Fatalf("%d tag list requests, want at least 2", got)
	}
}

func TestUpstreamConflictLocalWins(t *testing.T) {
	reg := ocitest.New(t)
	c := newClient(t, Options{}, nil)
	remote := push(t, c, reg.Ref("fleet/math"), "math", "v1.0.0", 256)
	u, _ := NewUpstream(c, reg.Ref("fleet"), nil)
	localDigest := digest.Digest(testutil.TinyDigest)
	res, err := u.Resolve(t.Context(), index.MustQuery("math", "v1.0.0"), []LocalVersion{{Version: "1.0.0", Digest: localDigest}})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Local || res.Version != "1.0.0" || res.Digest != localDigest {
		t.Fatalf("resolution %+v: the local version must win", res)
	}
	if len(res.Conflicts) != 1 || res.Conflicts[0].Remote != digest.FromBytes(remote) || res.Conflicts[0].Local != localDigest {
		t.Fatalf("conflicts %+v", res.Conflicts)
	}
}

func TestUpstreamUnreachableServesLocal(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gone := l.Addr().String()
	l.Close()
	for _, host := range []string{gone, stalledRegistry(t)} {
		c := newClient(t, Options{ResponseHeaderTimeout: 300 * time.Millisecond}, nil)
		u, _ := NewUpstream(c, host+"/fleet", nil)
		start := time.Now()
		res, err := u.Resolve(t.Context(), index.MustQuery("math", ""), []LocalVersion{{Version: "v1.0.0", Digest: testutil.TinyDigest}})
		if err != nil {
			t.Fatal(err)
		}
		if !res.Local || res.Version != "v1.0.0" || !errors.Is(res.RegistryErr, errdefs.ErrUnavailable) {
			t.Fatalf("%s: %+v", host, res)
		}
		if time.Since(start) > 10*time.Second {
			t.Fatalf("%s: resolve took %s", host, time.Since(start))
		}
		if st := u.Status(); st.LastError == "" || st.LastErrorAt.IsZero() {
			t.Fatalf("status %+v", st)
		}
		if _, err := u.Resolve(t.Context(), index.MustQuery("other", ""), nil); !errors.Is(err, errdefs.ErrNotFound) || !strings.Contains(err.Error(), "local versions only") {
			t.Fatalf("nothing local, registry down: %v", err)
		}
	}
}

func TestUpstreamConcurrentFetchPullsOnce(t *testing.T) {
	var n counter
	reg := ocitest.New(t, ocitest.WithFront(n.front))
	c := newClient(t, Options{}, nil)
	want := push(t, c, reg.Ref("fleet/math"), "math", "v1.0.0", 200_000)
	u, _ := NewUpstream(c, reg.Ref("fleet"), nil)
	res, err := u.Resolve(t.Context(), index.MustQuery("math", ""), nil)
	if err != nil || res.Local {
		t.Fatalf("%+v %v", res, err)
	}
	before := n.blobGets.Load()

	var stores atomic.Int32
	release := make(chan struct{})
	sink := func(ctx context.Context, mod Module, r io.Reader) error {
		stores.Add(1)
		<-release // hold the pull open so every caller joins it
		b, err := io.ReadAll(r)
		if err != nil {
			return err
		}
		if !bytes.Equal(b, want) {
			return errors.New("bytes differ")
		}
		return nil
	}
	const callers = 8
	var wg sync.WaitGroup
	errs := make(chan error, callers)
	for range callers {
		wg.Go(func() {
			_, err := u.Fetch(t.Context(), res, sink)
			errs <- err
		})
	}
	testutil.WaitFor(t, 5*time.Second, "the pull to reach the sink", func() bool { return stores.Load() == 1 })
	time.Sleep(50 * time.Millisecond) // let the other callers join the flight
	close(release)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if s := stores.Load(); s != 1 {
		t.Fatalf("%d stores for %d concurrent fetches, want 1", s, callers)
	}
	// One layer blob and one config blob GET.
	if got := n.blobGets.Load() - before; got != 2 {
		t.Fatalf("%d blob GETs for %d concurrent fetches, want 2 (config and layer, once)", got, callers)
	}
}

// A caller that gives up does not fail the pull for the others.
func TestUpstreamFetchCallerCancels(t *testing.T) {
	reg := ocitest.New(t)
	c := newClient(t, Options{}, nil)
	want := push(t, c, reg.Ref("fleet/math"), "math", "v1.0.0", 100_000)
	u, _ := NewUpstream(c, reg.Ref("fleet"), nil)
	res, err := u.Resolve(t.Context(), index.MustQuery("math", ""), nil)
	if err != nil {
		t.Fatal(err)
	}
	entered := make(chan struct{})
	release := make(chan struct{})
	var s memSink
	sink := func(ctx context.Context, mod Module, r io.Reader) error {
		close(entered)
		<-release
		return s.sink(ctx, mod, r)
	}
	ctx1, cancel1 := context.WithCancel(t.Context())
	first := make(chan error, 1)
	go func() {
		_, err := u.Fetch(ctx1, res, sink)
		first <- err
	}()
	<-entered
	second := make(chan error, 1)
	go func() {
		_, err := u.Fetch(t.Context(), res, sink)
		second <- err
	}()
	cancel1()
	select {
	case err := <-first:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("the caller that gave up: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the caller that gave up is still waiting")
	}
	close(release)
	select {
	case err := <-second:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the second caller never got the module")
	}
	if got, _ := s.get("math@v1.0.0"); !bytes.Equal(got, want) {
		t.Fatal("the pull did not complete after the first caller left")
	}
}
