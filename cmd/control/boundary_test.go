package control_test

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ghost-network/gpmd/cmd/control"
	ctlapi "github.com/ghost-network/gpmd/cmd/control/api"
	ctlclient "github.com/ghost-network/gpmd/cmd/control/client"
	"github.com/ghost-network/gpmd/gmp"
	"github.com/ghost-network/gpmd/gmp/client"
	"github.com/ghost-network/gpmd/index"
	"github.com/ghost-network/gpmd/internal/testutil"
	"github.com/ghost-network/gpmd/modulesjson"
	"github.com/ghost-network/gpmd/oci"
	"github.com/ghost-network/gpmd/repo"
)

// TestBadNameRefusedAtEveryBoundary: a bad module name is refused where it
// enters the process, with index's one message, by every boundary that
// parses names (index.ParseRef and ParseRecord, the control API's upload
// and push, its lookups and removals, an OCI pull, ghost.modules.json, the
// GMP module, module info and list requests). The
// CLI's own check (before it sends) is exercised on the real binary by
// cmd/e2e TestBadInput. Below the boundaries, repo.Upload, index.Add and
// pullthrough.Push take an index.Ref: code outside index cannot make one
// from an unchecked string, so they cannot be called with a bad name at
// all (see usesOnlyParsedRefs); so do the lookups and removals below the
// boundaries (index.Query, index.Name).
func TestBadNameRefusedAtEveryBoundary(t *testing.T) {
	const bad = "Bad.Name"
	_, want := index.ParseName(bad)
	if want == nil {
		t.Fatalf("ParseName(%q) accepted it", bad)
	}
	r, err := repo.Open(t.Context(), t.TempDir(), repo.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	srv := httptest.NewServer(control.NewServer(control.Config{Modules: r, Registry: refusingRegistry{t}}))
	t.Cleanup(srv.Close)
	api := ctlclient.NewClient(srv.Listener.Addr().String(), "")
	t.Cleanup(func() { api.Close() })
	gmpAddr := serveGMP(t, r)

	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	// gmpClient is a GMP client past HELLO, closed when the test ends.
	gmpClient := func() *client.Client {
		c, err := client.Dial(ctx, gmpAddr, client.ClientOptions{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		if _, err := c.Hello(ctx, "boundary-test"); err != nil {
			t.Fatal(err)
		}
		return c
	}
	for _, tc := range []struct {
		boundary string
		refuse   func() error
	}{
		{"index.ParseRef", func() error {
			_, err := index.ParseRef(bad, "v1.0.0")
			return err
		}},
		{"index.ParseRecord (restore, check, schema-1 upgrade)", func() error {
			_, err := index.ParseRecord(index.Record{Name: bad, Version: "v1.0.0", Digest: testutil.TinyDigest, Size: 8})
			return err
		}},
		{"control API upload", func() error {
			_, err := api.Upload(ctx, bad, "v1.0.0", bytes.NewReader(testutil.TinyWasm), int64(len(testutil.TinyWasm)))
			return err
		}},
		{"control API push", func() error {
			_, err := api.RegistryPush(ctx, ctlapi.PushRequest{Name: bad, Version: "v1.0.0", Target: "127.0.0.1:1/fleet/x"}, nil)
			return err
		}},
		{"OCI pull", func() error {
			c, err := oci.NewClient(oci.Options{CredentialsConfig: filepath.Join(t.TempDir(), "config.json"), PlainHTTP: true})
			if err != nil {
				t.Fatal(err)
			}
			// Refused before any request: nothing listens on port 1.
			_, err = c.Pull(ctx, "127.0.0.1:1/fleet/x:v1.0.0", oci.PullOptions{Name: bad}, func(context.Context, oci.Module, io.Reader) error {
				t.Error("the sink was called for a bad name")
				return nil
			})
			return err
		}},
		{"ghost.modules.json", func() error {
			dir := t.TempDir()
			file := `{"` + bad + `": {"name": "` + bad + `", "versions": {"v1.0.0": {"hash": "` + strings.TrimPrefix(string(testutil.TinyDigest), "sha256:") + `", "file": "x.wasm"}}}}`
			if err := os.WriteFile(filepath.Join(dir, modulesjson.FileName), []byte(file), 0o600); err != nil {
				t.Fatal(err)
			}
			entries, err := modulesjson.Read(dir)
			if err != nil {
				t.Fatal(err)
			}
			if len(entries) != 1 {
				t.Fatalf("entries %+v", entries)
			}
			return entries[0].Err
		}},
		{"GMP module request", func() error {
			_, _, err := gmpClient().ModuleBytes(ctx, bad, "")
			return err
		}},
		{"GMP module info request", func() error {
			_, err := gmpClient().ModuleInfo(ctx, bad, "^1")
			return err
		}},
		{"GMP list", func() error {
			_, err := gmpClient().List(ctx, bad)
			return err
		}},
		// The lookups and removals of the control API parse the name (and
		// query or version) in the handler; the repository takes them
		// typed.
		{"control API list", func() error {
			_, err := api.List(ctx, bad)
			return err
		}},
		{"control API resolve", func() error {
			_, err := api.Resolve(ctx, bad, "latest")
			return err
		}},
		{"control API download", func() error {
			_, err := api.Download(ctx, bad, "", io.Discard)
			return err
		}},
		{"control API info", func() error {
			_, err := api.Info(ctx, bad, "")
			return err
		}},
		{"control API check", func() error {
			_, err := api.Check(ctx, bad, "")
			return err
		}},
		{"control API remove", func() error {
			_, err := api.RemoveWith(ctx, bad, "v1.0.0", true)
			return err
		}},
	} {
		err := tc.refuse()
		if err == nil || !strings.Contains(err.Error(), want.Error()) {
			t.Errorf("%s: %v; want it to carry %q", tc.boundary, err, want)
		}
	}
	if mods, err := r.List(t.Context(), index.Name{}); err != nil || len(mods) != 0 {
		t.Errorf("refused names reached the store: %+v, %v", mods, err)
	}
}

// usesOnlyParsedRefs is compiled, never run: the inner APIs take an
// index.Ref, which only index.ParseRef (or MustRef, ParseRecord) makes.
// Passing a string there, as every caller did before, does not compile:
//
//	r.Upload(ctx, "Bad.Name", "v1.0.0", body, "") // too many arguments
//	r.Upload(ctx, index.Ref{"Bad.Name", ...}, …)   // unexported fields
var _ = func(ctx context.Context, r *repo.Repo, db *index.DB, name, version string) error {
	ref, err := index.ParseRef(name, version)
	if err != nil {
		return err
	}
	if _, err := r.Upload(ctx, ref, bytes.NewReader(nil), ""); err != nil {
		return err
	}
	_, _, err = db.Add(index.Entry{Ref: ref, Digest: testutil.TinyDigest, Size: 8})
	if err != nil {
		return err
	}
	// The lookups and removals take an index.Query (ParseQuery, or
	// Ref.Query for an exact version), an index.Name, an index.Ref.
	q, err := index.ParseQuery(name, "^1")
	if err != nil {
		return err
	}
	if _, _, err := r.Get(ctx, q); err != nil {
		return err
	}
	if _, err := r.List(ctx, ref.Name()); err != nil {
		return err
	}
	if _, err := db.Resolve(ref.Query()); err != nil {
		return err
	}
	_, err = r.RemoveWith(ctx, ref, repo.RemoveOptions{})
	return err
}

// refusingRegistry fails the test when the push gets past the handler's
// name check.
type refusingRegistry struct{ t *testing.T }

func (f refusingRegistry) Push(context.Context, index.Ref, ctlapi.PushRequest, func(done, total int64)) (ctlapi.PushResult, error) {
	f.t.Error("the registry was asked to push a bad name")
	return ctlapi.PushResult{}, nil
}
func (f refusingRegistry) Pull(context.Context, ctlapi.PullRequest, func(done, total int64)) (ctlapi.PullResult, error) {
	f.t.Error("pull called")
	return ctlapi.PullResult{}, nil
}
func (f refusingRegistry) Tags(context.Context, string, bool) ([]string, error) { return nil, nil }
func (f refusingRegistry) Status() *ctlapi.RegistryStatus                       { return nil }

// serveGMP serves r over GMP on a loopback port of its own until the test
// ends.
func serveGMP(t *testing.T, r *repo.Repo) string {
	t.Helper()
	s := gmp.NewServer(gmp.Config{Modules: r})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve(l) }()
	t.Cleanup(func() {
		s.Close()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Error("GMP server did not stop")
		}
	})
	return l.Addr().String()
}
