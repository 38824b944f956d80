package client

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ghost-network/gpmd/gmp"
	"github.com/ghost-network/gpmd/gmp/gmptest"
	"github.com/ghost-network/gpmd/internal/testutil"
	"github.com/ghost-network/gpmd/repo"
)

// The client's tests run against the real server (package gmp) backed by a
// real repository in a temporary folder, on a loopback port of its own.

var tinyWasm = testutil.TinyWasm

const tinyDigest = testutil.TinyDigest

// ioTimeout bounds every blocking step of a test.
const ioTimeout = 5 * time.Second

func digestOf(b []byte) string {
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// newRepo is gmptest.Repo: a real repository with tiny v0.0.1.
func newRepo(t testing.TB) *repo.Repo { return gmptest.Repo(t) }

func upload(t testing.TB, r *repo.Repo, name, version string, b []byte) {
	t.Helper()
	gmptest.Upload(t, r, name, version, b)
}

type testServer struct {
	*gmp.Server
	addr string
}

// startServer serves cfg on 127.0.0.1:0 until the test ends.
func startServer(t testing.TB, cfg gmp.Config) *testServer {
	t.Helper()
	s := gmp.NewServer(cfg)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve(l) }()
	t.Cleanup(func() {
		s.Close()
		select {
		case err := <-done:
			if !errors.Is(err, gmp.ErrServerClosed) {
				t.Errorf("Serve returned %v, want ErrServerClosed", err)
			}
		case <-time.After(ioTimeout):
			t.Error("Serve did not return after Close")
		}
	})
	return &testServer{Server: s, addr: l.Addr().String()}
}

// corruptBlob flips one byte of the stored blob of b, fromEnd bytes from
// its end.
func corruptBlob(t testing.TB, r *repo.Repo, b []byte, fromEnd int) {
	t.Helper()
	p := filepath.Join(r.Dir(), "blobs", "sha256", strings.TrimPrefix(digestOf(b), "sha256:"))
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	testutil.FlipByte(t, p, fi.Size()-int64(fromEnd))
}

// waitFor polls cond for up to 2 s.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	testutil.WaitFor(t, 2*time.Second, what, cond)
}
