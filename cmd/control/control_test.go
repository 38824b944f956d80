package control

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ghost-network/gpmd/cmd/control/api"
	"github.com/ghost-network/gpmd/cmd/control/client"
	"github.com/ghost-network/gpmd/errdefs"
	"github.com/ghost-network/gpmd/index"
	"github.com/ghost-network/gpmd/internal/testutil"
	"github.com/ghost-network/gpmd/repo"
	"github.com/ghost-network/gpmd/wasm"
	"github.com/opencontainers/go-digest"
)

// fixture is a real repository in a temp folder behind a real HTTP server
// on 127.0.0.1, and a client of it.
type fixture struct {
	repo   *repo.Repo
	srv    *httptest.Server
	client *client.Client
	logs   *syncBuffer
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func newFixture(t testing.TB, maxSize int64, token string) *fixture {
	t.Helper()
	dir := t.TempDir()
	r, err := repo.Open(t.Context(), dir, repo.Options{MaxModuleSize: maxSize})
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	s := NewServer(Config{
		Modules: r,
		Info:    api.Info{PID: 42, Version: "test", Started: time.Now(), DataDir: dir},
		Token:   token,
		Logger:  slog.New(slog.NewTextHandler(logs, nil)),
	})
	srv := httptest.NewServer(s)
	f := &fixture{repo: r, srv: srv, client: client.NewClient(srv.Listener.Addr().String(), token), logs: logs}
	t.Cleanup(func() {
		f.client.Close()
		srv.Close()
		if err := r.Close(); err != nil {
			t.Error(err)
		}
	})
	return f
}

func TestRoundTrip(t *testing.T) {
	f := newFixture(t, 0, "")
	ctx := t.Context()
	rec, err := f.client.Upload(ctx, "tiny", "v0.0.1", bytes.NewReader(testutil.TinyWasm), int64(len(testutil.TinyWasm)))
	if err != nil {
		t.Fatal(err)
	}
	if rec.Name != "tiny" || rec.Version != "v0.0.1" || rec.Digest != api.Digest(digest.FromBytes(testutil.TinyWasm)) || rec.Size != 8 {
		t.Fatalf("upload record %+v", rec)
	}
	// Chunked (size unknown) works too.
	big := testutil.Wasm("b", 300<<10)
	if _, err := f.client.Upload(ctx, "tiny", "0.2.0", io.MultiReader(bytes.NewReader(big)), -1); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	got, err := f.client.Download(ctx, "tiny", "", &buf)
	if err != nil || got.Version != "0.2.0" || !bytes.Equal(buf.Bytes(), big) || got.Digest != api.Digest(digest.FromBytes(big)) || got.Created.IsZero() {
		t.Fatalf("download latest: %+v %v", got, err)
	}
	buf.Reset()
	if got, err := f.client.Download(ctx, "tiny", "^0.0", &buf); err != nil || got.Version != "v0.0.1" || !bytes.Equal(buf.Bytes(), testutil.TinyWasm) {
		t.Fatalf("download ^0.0: %+v %v", got, err)
	}
	if got, err := f.client.Resolve(ctx, "tiny", ">=0.1.0 <1.0.0"); err != nil || got.Version != "0.2.0" {
		t.Fatalf("resolve: %+v %v", got, err)
	}
	mods, err := f.client.List(ctx, "")
	if err != nil || len(mods) != 1 || len(mods[0].Versions) != 2 || mods[0].Versions[0].Version != "0.2.0" {
		t.Fatalf("list: %+v %v", mods, err)
	}
	if mods, err := f.client.List(ctx, "tiny"); err != nil || len(mods) != 1 || mods[0].Name != "tiny" {
		t.Fatalf("list tiny: %+v %v", mods, err)
	}
	st, err := f.client.Status(ctx)
	if err != nil || !st.Running || st.PID != 42 || st.Modules != 1 || st.Versions != 2 || st.BlobBytes != int64(len(testutil.TinyWasm)+len(big)) {
		t.Fatalf("status: %+v %v", st, err)
	}
	nl, err := f.client.Nodes(ctx)
	if err != nil || nl.Nodes == nil || len(nl.Nodes) != 0 {
		t.Fatalf("nodes without a GMP server: %+v %v", nl, err)
	}
	if rec, err := f.client.Remove(ctx, "tiny", "0.0.1"); err != nil || rec.Version != "v0.0.1" {
		t.Fatalf("remove by semver equality: %+v %v", rec, err)
	}
	if _, err := f.client.Resolve(ctx, "tiny", "v0.0.1"); !errors.Is(err, errdefs.ErrNotFound) {
		t.Fatalf("resolve removed: %v", err)
	}
}

// TestErrors: each error class answers with its status and code, a JSON
// body, and comes back to the client as the same class.
func TestErrors(t *testing.T) {
	f := newFixture(t, 4096, "")
	ctx := t.Context()
	if _, err := f.client.Upload(ctx, "tiny", "v0.0.1", bytes.NewReader(testutil.TinyWasm), 8); err != nil {
		t.Fatal(err)
	}
	other := testutil.Wasm("o", 10)
	cases := []struct {
		name   string
		do     func() error
		status int
		code   string
		class  error
	}{
		{"bad name", func() error {
			_, err := f.client.Upload(ctx, "Bad", "1.0.0", bytes.NewReader(testutil.TinyWasm), 8)
			return err
		}, 400, CodeBadRequest, errdefs.ErrInvalid},
		{"bad version", func() error {
			_, err := f.client.Upload(ctx, "x", "1.0", bytes.NewReader(testutil.TinyWasm), 8)
			return err
		}, 400, CodeBadRequest, errdefs.ErrInvalid},
		{"not wasm", func() error {
			_, err := f.client.Upload(ctx, "x", "1.0.0", strings.NewReader("hello world"), 11)
			return err
		}, 400, CodeNotWasm, errdefs.ErrNotWasm},
		{"empty chunked", func() error {
			_, err := f.client.Upload(ctx, "x", "1.0.0", strings.NewReader(""), -1)
			return err
		}, 400, CodeEmpty, errdefs.ErrEmpty},
		{"empty", func() error {
			_, err := f.client.Upload(ctx, "x", "1.0.0", strings.NewReader(""), 0)
			return err
		}, 400, CodeEmpty, errdefs.ErrEmpty},
		{"too large by length", func() error {
			body := testutil.Wasm("l", 5000)
			_, err := f.client.Upload(ctx, "x", "1.0.0", bytes.NewReader(body), int64(len(body)))
			return err
		}, 413, CodeTooLarge, errdefs.ErrTooLarge},
		{"too large chunked", func() error {
			_, err := f.client.Upload(ctx, "x", "1.0.0", io.MultiReader(bytes.NewReader(testutil.Wasm("l", 5000))), -1)
			return err
		}, 413, CodeTooLarge, errdefs.ErrTooLarge},
		{"conflict", func() error {
			_, err := f.client.Upload(ctx, "tiny", "0.0.1", bytes.NewReader(other), int64(len(other)))
			return err
		}, 409, CodeConflict, errdefs.ErrConflict},
		{"not found", func() error {
			_, err := f.client.Download(ctx, "nosuch", "", io.Discard)
			return err
		}, 404, CodeNotFound, errdefs.ErrNotFound},
		{"no version meets", func() error {
			_, err := f.client.Resolve(ctx, "tiny", "^9")
			return err
		}, 404, CodeNotFound, errdefs.ErrNotFound},
		{"bad constraint", func() error {
			_, err := f.client.Resolve(ctx, "tiny", "not a constraint")
			return err
		}, 400, CodeBadRequest, errdefs.ErrInvalid},
		{"list of no versions", func() error {
			_, err := f.client.List(ctx, "nosuch")
			return err
		}, 404, CodeNotFound, errdefs.ErrNotFound},
		{"remove missing", func() error {
			_, err := f.client.Remove(ctx, "tiny", "9.9.9")
			return err
		}, 404, CodeNotFound, errdefs.ErrNotFound},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.do()
			var ae *api.APIError
			if !errors.As(err, &ae) {
				t.Fatalf("want an *api.APIError, got %T %v", err, err)
			}
			if ae.Status != c.status || ae.Code != c.code || ae.Message == "" {
				t.Fatalf("got %d %q %q, want %d %q", ae.Status, ae.Code, ae.Message, c.status, c.code)
			}
			if !errors.Is(err, c.class) {
				t.Fatalf("%v is not %v", err, c.class)
			}
		})
	}
	// Nothing changed.
	mods, _ := f.client.List(ctx, "")
	if len(mods) != 1 || len(mods[0].Versions) != 1 || mods[0].Versions[0].Digest != api.Digest(digest.FromBytes(testutil.TinyWasm)) {
		t.Fatalf("modules after errors: %+v", mods)
	}
}

// TestStatusMapping: the one mapping, and its inverse on the client.
func TestStatusMapping(t *testing.T) {
	for _, c := range []struct {
		err    error
		status int
		code   string
	}{
		{fmt.Errorf("x: %w", errdefs.ErrNotWasm), 400, CodeNotWasm},
		{fmt.Errorf("x: %w", errdefs.ErrEmpty), 400, CodeEmpty},
		{fmt.Errorf("x: %w", &wasm.FormatError{Msg: "section 10 (code) at byte 9: …"}), 400, CodeInvalidModule},
		{fmt.Errorf("x: %w", errors.ErrUnsupported), 422, CodeUnsupported},
		{fmt.Errorf("x: %w", errdefs.ErrInvalid), 400, CodeBadRequest},
		{fmt.Errorf("x: %w", errdefs.ErrCorrupt), 400, CodeDigestMismatch},
		{fmt.Errorf("%w: y: %w", errdefs.ErrModuleCorrupt, errdefs.ErrCorrupt), 500, CodeCorrupt},
		{fmt.Errorf("x: %w", errdefs.ErrNotFound), 404, CodeNotFound},
		{fmt.Errorf("x: %w", errdefs.ErrConflict), 409, CodeConflict},
		{fmt.Errorf("x: %w", errdefs.ErrTooLarge), 413, CodeTooLarge},
		{fmt.Errorf("x: %w", errdefs.ErrUnauthorized), 401, CodeUnauthorized},
		{context.Canceled, 503, CodeUnavailable},
		{errors.New("disk on fire"), 500, CodeInternal},
	} {
		status, code := statusOf(c.err)
		if status != c.status || code != c.code {
			t.Errorf("%v: %d %s, want %d %s", c.err, status, code, c.status, c.code)
		}
		if class := api.ClassOf(code, status); c.code != CodeInternal && c.code != CodeUnavailable && (class == nil || !errors.Is(c.err, class)) {
			t.Errorf("%v: api.ClassOf(%s) = %v, not its class", c.err, code, class)
		}
	}
}

// TestStatusOfEveryClass: every errdefs class has a deliberate status and
// code, and the client maps the code back to an error of that class (a
// class added to errdefs fails here until it is given its answer).
func TestStatusOfEveryClass(t *testing.T) {
	want := map[error]struct {
		status int
		code   string
		back   error // the class the client maps the code to
	}{
		errdefs.ErrNotFound:     {404, CodeNotFound, errdefs.ErrNotFound},
		errdefs.ErrExists:       {409, CodeConflict, errdefs.ErrConflict},
		errdefs.ErrConflict:     {409, CodeConflict, errdefs.ErrConflict},
		errdefs.ErrInvalid:      {400, CodeBadRequest, errdefs.ErrInvalid},
		errdefs.ErrCorrupt:      {400, CodeDigestMismatch, errdefs.ErrCorrupt},
		errdefs.ErrTooLarge:     {413, CodeTooLarge, errdefs.ErrTooLarge},
		errdefs.ErrNoSpace:      {507, CodeNoSpace, errdefs.ErrNoSpace},
		errdefs.ErrUnavailable:  {503, CodeUnavailable, errdefs.ErrUnavailable},
		errdefs.ErrUnauthorized: {401, CodeUnauthorized, errdefs.ErrUnauthorized},
	}
	for _, class := range errdefs.Classes() {
		w, ok := want[class]
		if !ok {
			t.Errorf("class %q has no deliberate HTTP status: add it to statusOf and to this test", class)
			continue
		}
		status, code := statusOf(fmt.Errorf("module m@1.0.0: %w", class))
		if status != w.status || code != w.code {
			t.Errorf("class %q: %d %s, want %d %s", class, status, code, w.status, w.code)
		}
		if back := api.ClassOf(code, status); back != w.back {
			t.Errorf("class %q: the client maps %s back to %v, want %v", class, code, back, w.back)
		}
	}
}

// TestEarlyRefusalSendsNoBody: with Expect: 100-continue, a refusal that
// needs no byte of the body (bad name, too large by Content-Length) is
// answered before the client sends the body.
func TestEarlyRefusalSendsNoBody(t *testing.T) {
	f := newFixture(t, 1<<20, "")
	body := testutil.Wasm("x", 2<<20)
	for _, c := range []struct{ name, version string }{{"Bad Name", "1.0.0"}, {"ok", "1.0"}, {"ok", "1.0.0"}} {
		cr := &countingReader{r: bytes.NewReader(body)}
		_, err := f.client.Upload(t.Context(), c.name, c.version, cr, int64(len(body)))
		if err == nil {
			t.Fatalf("%s@%s: accepted", c.name, c.version)
		}
		if cr.n != 0 {
			t.Errorf("%s@%s: the client sent %d bytes of a body refused up front", c.name, c.version, cr.n)
		}
	}
}

// TestStreaming: a 64 MiB upload and download cost the process a small
// fraction of their size in allocations (client and server together): the
// module is never held whole in memory.
func TestStreaming(t *testing.T) {
	f := newFixture(t, 0, "")
	const size = 64 << 20
	mod := &wasmStream{n: size}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	rec, err := f.client.Upload(t.Context(), "big", "1.0.0", mod, mod.Len())
	if err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 8<<20 {
		t.Errorf("uploading %d bytes allocated %d bytes", size, alloc)
	}
	runtime.ReadMemStats(&before)
	got, err := f.client.Download(t.Context(), "big", "1.0.0", io.Discard)
	if err != nil || got.Digest != rec.Digest || got.Size != rec.Size {
		t.Fatalf("download: %+v %v", got, err)
	}
	runtime.ReadMemStats(&after)
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 8<<20 {
		t.Errorf("downloading %d bytes allocated %d bytes", size, alloc)
	}
}

// wasmStream is a valid module of n filler bytes, generated as it is read.
type wasmStream struct {
	n    int64
	head []byte
	off  int64
}

func (w *wasmStream) Len() int64 { return int64(len(w.header())) + w.n }

func (w *wasmStream) header() []byte {
	if w.head == nil {
		sec := binary.AppendUvarint(nil, 1) // name length
		secLen := uint64(len(sec)) + 1 + uint64(w.n)
		w.head = append(append([]byte{}, testutil.TinyWasm...), 0x00)
		w.head = binary.AppendUvarint(w.head, secLen)
		w.head = append(append(w.head, sec...), 'f')
	}
	return w.head
}

func (w *wasmStream) Read(p []byte) (int, error) {
	h := w.header()
	total := int64(len(h)) + w.n
	if w.off >= total {
		return 0, io.EOF
	}
	n := 0
	for n < len(p) && w.off < total {
		if w.off < int64(len(h)) {
			p[n] = h[w.off]
		} else {
			p[n] = byte(w.off)
		}
		n++
		w.off++
	}
	return n, nil
}

// TestCorruptDownloadIsCutShort: bytes that stop matching their digest
// mid-stream never reach a client as a complete response.
func TestCorruptDownloadIsCutShort(t *testing.T) {
	f := newFixture(t, 0, "")
	mod := testutil.Wasm("c", 1<<20)
	rec, err := f.client.Upload(t.Context(), "c", "1.0.0", bytes.NewReader(mod), int64(len(mod)))
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(f.repo.Dir(), "blobs", "sha256", rec.Digest.Encoded())
	os.Chmod(p, 0o600)
	fh, err := os.OpenFile(p, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	fh.WriteAt([]byte{^mod[len(mod)-1]}, int64(len(mod)-1)) // the very last byte
	fh.Close()

	var buf bytes.Buffer
	_, err = f.client.Download(t.Context(), "c", "1.0.0", &buf)
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("download of a blob corrupt in its last byte: %v", err)
	}
	if int64(buf.Len()) >= rec.Size {
		t.Fatalf("the client received all %d bytes of a corrupt module", buf.Len())
	}
	if !testutil.Eventually(time.Second, func() bool { return strings.Contains(f.logs.String(), "aborted=true") }) {
		t.Errorf("log lacks the aborted download:\n%s", f.logs.String())
	}
}

func TestToken(t *testing.T) {
	f := newFixture(t, 0, "s3cret")
	if _, err := f.client.Status(t.Context()); err != nil {
		t.Fatalf("right token: %v", err)
	}
	for _, tok := range []string{"", "wrong", "s3cret2", "s3cre"} {
		c := client.NewClient(f.srv.Listener.Addr().String(), tok)
		_, err := c.Status(t.Context())
		c.Close()
		if !errors.Is(err, errdefs.ErrUnauthorized) {
			t.Errorf("token %q: %v", tok, err)
		}
	}
	resp, err := http.Get(f.srv.URL + "/v1/modules")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 || resp.Header.Get("WWW-Authenticate") == "" {
		t.Fatalf("no token: %d %v", resp.StatusCode, resp.Header)
	}
}

func TestUnknownEndpoint(t *testing.T) {
	f := newFixture(t, 0, "")
	for _, c := range []struct{ method, path string }{{"GET", "/"}, {"GET", "/v2/modules"}, {"POST", "/v1/modules"}, {"GET", "/v1/modules/a/b/c/d"}} {
		req, _ := http.NewRequest(c.method, f.srv.URL+c.path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var body api.ErrorBody
		json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		if resp.StatusCode != 404 || body.Error != CodeNotFound || resp.Header.Get("Content-Type") != "application/json" {
			t.Errorf("%s %s: %d %+v", c.method, c.path, resp.StatusCode, body)
		}
	}
}

// TestRequestLog: one line per request with method, path, status,
// duration, and the error when there is one.
func TestRequestLog(t *testing.T) {
	f := newFixture(t, 0, "")
	f.client.Upload(t.Context(), "tiny", "1.0.0", bytes.NewReader(testutil.TinyWasm), 8)
	f.client.Download(t.Context(), "nosuch", "", io.Discard)
	var lines []string
	if !testutil.Eventually(time.Second, func() bool {
		lines = strings.Split(strings.TrimSpace(f.logs.String()), "\n")
		return len(lines) == 2
	}) {
		t.Fatalf("want 2 log lines:\n%s", f.logs.String())
	}
	// The lines come in the order the requests ended, which need not be
	// the order they were answered in: each request has a connection of
	// its own, and the server logs after its answer has gone.
	isGET := func(line string) int { return strings.Count(line, "method=GET") }
	slices.SortStableFunc(lines, func(a, b string) int { return isGET(a) - isGET(b) })
	for i, want := range [][]string{
		{"level=INFO", "msg=request", "method=PUT", "path=/v1/modules/tiny/1.0.0", "status=200", "duration="},
		{"level=WARN", "method=GET", "path=/v1/modules/nosuch/latest/content", "status=404", "err="},
	} {
		for _, w := range want {
			if !strings.Contains(lines[i], w) {
				t.Errorf("log line %d lacks %q: %s", i, w, lines[i])
			}
		}
	}
}

func TestClientNotRunning(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	c := client.NewClient(addr, "")
	defer c.Close()
	_, err = c.Status(t.Context())
	if !errors.Is(err, api.ErrNotRunning) || err.Error() != "gpmd is not running at "+addr+" (start it with: gpmd start)" {
		t.Fatalf("%v", err)
	}
	if _, err := c.Upload(t.Context(), "x", "1.0.0", bytes.NewReader(testutil.TinyWasm), 8); !errors.Is(err, api.ErrNotRunning) {
		t.Fatalf("upload: %v", err)
	}
}

// TestRecordHeaders: a download carries its record in headers.
func TestRecordHeaders(t *testing.T) {
	f := newFixture(t, 0, "")
	rec, _ := f.client.Upload(t.Context(), "tiny", "v1.0.0", bytes.NewReader(testutil.TinyWasm), 8)
	resp, err := http.Get(f.srv.URL + "/v1/modules/tiny/1.0.0/content")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	h := resp.Header
	if h.Get(api.HeaderName) != "tiny" || h.Get(api.HeaderVersion) != "v1.0.0" || h.Get(api.HeaderDigest) != rec.Digest.String() ||
		resp.ContentLength != 8 || h.Get("Content-Type") != "application/wasm" || h.Get(api.HeaderCreated) == "" {
		t.Fatalf("headers %v, length %d", h, resp.ContentLength)
	}
	var r index.Record
	resp, _ = http.Get(f.srv.URL + "/v1/modules/tiny/latest")
	json.NewDecoder(resp.Body).Decode(&r)
	resp.Body.Close()
	if api.Digest(r.Digest) != rec.Digest || r.Version != "v1.0.0" {
		t.Fatalf("resolve record %+v", r)
	}
}

// countingReader records how many bytes were read from it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}
