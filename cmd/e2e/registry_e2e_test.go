package e2e

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/registry/remote"

	"github.com/ghost-network/gpmd/cmd/control/api"
	"github.com/ghost-network/gpmd/gmp/client"
	"github.com/ghost-network/gpmd/internal/testutil"
	"github.com/ghost-network/gpmd/oci"
	"github.com/ghost-network/gpmd/oci/ocitest"
)

// orasIn runs the oras CLI in dir with a config, HOME and DOCKER_CONFIG of
// its own there (never the user's), and fails the test when it fails.
func orasIn(t testing.TB, dir string, args ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
	defer cancel()
	args = append(args, "--registry-config", filepath.Join(dir, "oras-config.json"))
	cmd := exec.CommandContext(ctx, ocitest.Tool(t, "oras"), args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "DOCKER_CONFIG="+dir, "HOME="+dir)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("oras %v: %v\n%s%s", args, err, stdout.String(), stderr.String())
	}
	return stdout.Bytes()
}

// getBytes is `gpmd wasm get REF -o FILE`, read back.
func (e *env) getBytes(ref string) []byte {
	e.t.Helper()
	out := filepath.Join(e.t.TempDir(), "got.wasm")
	e.gpmd("wasm", "get", ref, "-o", out)
	b, err := os.ReadFile(out)
	if err != nil {
		e.t.Fatal(err)
	}
	return b
}

// credsFile writes a docker config.json giving host user:password.
func credsFile(t *testing.T, host, user, password string) string {
	t.Helper()
	b, _ := json.Marshal(map[string]any{"auths": map[string]any{
		host: map[string]string{"auth": base64.StdEncoding.EncodeToString([]byte(user + ":" + password))},
	}})
	p := filepath.Join(t.TempDir(), "config.json")
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// statusJSON is `gpmd status -o json`, decoded.
func (e *env) statusJSON() api.Status {
	e.t.Helper()
	var st api.Status
	e.jsonOf(&st, "status", "-o", "json")
	return st
}

// TestRegistryPushPullRoundTrip: a module pushed by one daemon through the
// CLI is pulled by another, byte-identical, and list --remote sees its tag.
func TestRegistryPushPullRoundTrip(t *testing.T) {
	reg := ocitest.StartBinary(t)
	a, b := newEnv(t), newEnv(t)
	a.start()
	b.start()
	mod := testutil.Wasm("roundtrip", 3<<20)
	a.gpmd("wasm", "upload", "--name", "math", "--version", "v1.2.0", "--file", a.file("math.wasm", mod))

	r := a.gpmd("wasm", "push", "math@v1.2.0", reg.Ref("fleet/math"))
	if !strings.Contains(r.stdout, "pushed math@v1.2.0 to "+reg.Ref("fleet/math:v1.2.0")) || !strings.Contains(r.stdout, "manifest sha256:") {
		t.Fatalf("push printed %v", r)
	}
	r = b.gpmd("wasm", "list", "--remote", reg.Ref("fleet/math"))
	if r.stdout != "v1.2.0\n" {
		t.Fatalf("list --remote: %v", r)
	}
	r = b.gpmd("wasm", "pull", reg.Ref("fleet/math:v1.2.0"))
	if !strings.Contains(r.stdout, "math@v1.2.0 "+digest.FromBytes(mod).String()) {
		t.Fatalf("pull printed %v", r)
	}
	if got := b.getBytes("math@v1.2.0"); !bytes.Equal(got, mod) {
		t.Fatal("pulled bytes differ from the pushed ones")
	}
	// By digest (the one push printed), under another name and version.
	pushed := a.run(nil, "wasm", "push", "math@v1.2.0", reg.Ref("fleet/math"))
	_, pin, _ := strings.Cut(strings.TrimSpace(pushed.stdout), "manifest ")
	b.gpmd("wasm", "pull", reg.Ref("fleet/math@"+pin), "--name", "calc", "--version", "0.1.0")
	if got := b.getBytes("calc@0.1.0"); !bytes.Equal(got, mod) {
		t.Fatal("pull by digest stored other bytes")
	}
}

// TestRegistryOrasInterop: what `oras push` publishes, `gpmd wasm pull`
// stores byte-identical; what `gpmd wasm push` publishes, `oras pull`
// fetches byte-identical, in the Wasm layout.
func TestRegistryOrasInterop(t *testing.T) {
	ocitest.Tool(t, "oras")
	reg := ocitest.StartBinary(t)
	e := newEnv(t)
	e.start()
	dir := t.TempDir()

	fromOras := testutil.Wasm("from-oras", 200_000)
	if err := os.WriteFile(filepath.Join(dir, "hello.wasm"), fromOras, 0o644); err != nil {
		t.Fatal(err)
	}
	orasIn(t, dir, "push", "--plain-http", reg.Ref("tools/hello:v1.0.0"),
		"--artifact-type", "application/vnd.module.wasm.content.layer.v1+wasm", "hello.wasm:"+oci.MediaTypeWasmLayer)
	e.gpmd("wasm", "pull", reg.Ref("tools/hello:v1.0.0"))
	if got := e.getBytes("hello@v1.0.0"); !bytes.Equal(got, fromOras) {
		t.Fatal("gpmd pulled other bytes than oras pushed")
	}

	fromGpmd := testutil.Wasm("from-gpmd", 300_000)
	e.gpmd("wasm", "upload", "--name", "math", "--version", "v2.0.0", "--file", e.file("m.wasm", fromGpmd))
	e.gpmd("wasm", "push", "math@v2.0.0", reg.Ref("fleet/math"))
	out := filepath.Join(dir, "out")
	orasIn(t, dir, "pull", "--plain-http", "-o", out, reg.Ref("fleet/math:v2.0.0"))
	got, err := os.ReadFile(filepath.Join(out, "math.wasm"))
	if err != nil || !bytes.Equal(got, fromGpmd) {
		t.Fatalf("oras pulled other bytes than gpmd pushed (%v)", err)
	}
	var m ocispec.Manifest
	if err := json.Unmarshal(orasIn(t, dir, "manifest", "fetch", "--plain-http", reg.Ref("fleet/math:v2.0.0")), &m); err != nil {
		t.Fatal(err)
	}
	if m.Config.MediaType != oci.MediaTypeWasmConfig || len(m.Layers) != 1 || m.Layers[0].MediaType != oci.MediaTypeWasmLayer {
		t.Fatalf("manifest %+v", m)
	}
}

// TestRegistryPullThrough: two devices share one registry. A GVM on the
// second gets, over GMP, a module pushed from the first; GVMs asking at
// once cause one pull; with the registry stopped the local versions are
// still served and status shows the registry's error.
func TestRegistryPullThrough(t *testing.T) {
	reg := ocitest.StartBinary(t)
	a, b := newEnv(t), newEnv(t)
	a.start()
	stB := b.start("--registry", reg.Ref("fleet"), "--registry-tag-cache", "1s")
	mod := testutil.Wasm("fleet", 2<<20)
	a.gpmd("wasm", "upload", "--name", "math", "--version", "v1.0.0", "--file", a.file("m.wasm", mod))
	a.gpmd("wasm", "push", "math@v1.0.0", reg.Ref("fleet/math"))

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	const gvms = 4
	var wg sync.WaitGroup
	errs := make(chan error, gvms)
	for i := range gvms {
		wg.Go(func() {
			c, err := client.Dial(ctx, stB.GMPAddr, client.ClientOptions{})
			if err != nil {
				errs <- err
				return
			}
			defer c.Close()
			info, data, err := c.ModuleBytes(ctx, "math", "^1")
			if err == nil && (!bytes.Equal(data, mod) || info.Version != "v1.0.0") {
				err = fmt.Errorf("gvm %d got %s, %d bytes", i, info.Version, len(data))
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
	log, err := os.ReadFile(stB.LogFile)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(log), "pulled through from the registry"); n != 1 {
		t.Fatalf("%d pulls for %d GVMs asking at once, want 1", n, gvms)
	}
	// `gpmd wasm get` goes through the same layer.
	calc := testutil.Wasm("calc", 100_000)
	a.gpmd("wasm", "upload", "--name", "calc", "--version", "v0.3.0", "--file", a.file("c.wasm", calc))
	a.gpmd("wasm", "push", "calc@v0.3.0", reg.Ref("fleet/calc"))
	if got := b.getBytes("calc@^0.3"); !bytes.Equal(got, calc) {
		t.Fatal("wasm get through the upstream: other bytes")
	}
	// A registry tag with other bytes than the local version of the same
	// number: the local one is served, and the conflict is logged.
	mine, theirs := testutil.Wasm("mine", 5000), testutil.Wasm("theirs", 5000)
	b.gpmd("wasm", "upload", "--name", "conf", "--version", "v1.0.0", "--file", b.file("mine.wasm", mine))
	a.gpmd("wasm", "upload", "--name", "conf", "--version", "v1.0.0", "--file", a.file("theirs.wasm", theirs))
	a.gpmd("wasm", "push", "conf@v1.0.0", reg.Ref("fleet/conf"))
	if got := b.getBytes("conf"); !bytes.Equal(got, mine) {
		t.Fatal("a registry tag with other bytes was served over the local version")
	}
	testutil.WaitFor(t, 10*time.Second, "the conflict in the log", func() bool {
		log, _ := os.ReadFile(stB.LogFile)
		return strings.Contains(string(log), "version conflict")
	})

	st := b.statusJSON()
	if st.Registry == nil || st.Registry.Registry != reg.Ref("fleet") || st.Registry.LastSuccess.IsZero() {
		t.Fatalf("status registry %+v", st.Registry)
	}

	reg.Stop()
	time.Sleep(1100 * time.Millisecond) // the tag cache (1s) expires: the next request asks the registry
	c, err := client.Dial(ctx, stB.GMPAddr, client.ClientOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, data, err := c.ModuleBytes(ctx, "math", ""); err != nil || !bytes.Equal(data, mod) {
		t.Fatalf("local version with the registry stopped: %v", err)
	}
	if got := b.getBytes("math"); !bytes.Equal(got, mod) {
		t.Fatal("wasm get with the registry stopped")
	}
	st = b.statusJSON()
	if st.Registry == nil || st.Registry.LastError == "" || st.Registry.LastErrorAt.IsZero() {
		t.Fatalf("status after the registry stopped: %+v", st.Registry)
	}
	r := b.gpmd("status")
	if !strings.Contains(r.stdout, "registry:") || !strings.Contains(r.stdout, "last error:") {
		t.Fatalf("status:\n%s", r.stdout)
	}
}

// plantImage pushes a container-image-like manifest (one tar+gzip layer)
// under repository:tag, as docker would.
func plantImage(t *testing.T, reg *ocitest.Registry, repository, tag string) {
	t.Helper()
	r, err := remote.NewRepository(reg.Ref(repository))
	if err != nil {
		t.Fatal(err)
	}
	r.PlainHTTP = true
	ctx := t.Context()
	cfg := []byte(`{"architecture":"amd64","os":"linux"}`)
	layer := []byte("not really a tarball")
	cd := content.NewDescriptorFromBytes(ocispec.MediaTypeImageConfig, cfg)
	ld := content.NewDescriptorFromBytes(ocispec.MediaTypeImageLayerGzip, layer)
	for _, b := range []struct {
		d ocispec.Descriptor
		b []byte
	}{{cd, cfg}, {ld, layer}} {
		if err := r.Blobs().Push(ctx, b.d, bytes.NewReader(b.b)); err != nil {
			t.Fatal(err)
		}
	}
	m, _ := json.Marshal(ocispec.Manifest{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageManifest, Config: cd, Layers: []ocispec.Descriptor{ld}})
	if err := r.PushReference(ctx, content.NewDescriptorFromBytes(ocispec.MediaTypeImageManifest, m), bytes.NewReader(m), tag); err != nil {
		t.Fatal(err)
	}
}

// TestRegistryBadInput: every bad input of the issue, through the CLI,
// gives one clear line and its exit status, stores nothing, and leaves the
// daemon serving.
func TestRegistryBadInput(t *testing.T) {
	// One registry with a front that misbehaves on the repositories that
	// name a fault, and one that demands a password.
	front := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			p := r.URL.Path
			switch {
			case strings.Contains(p, "/stall/") && strings.Contains(p, "/manifests/"):
				select { // answer nothing until the daemon gives up
				case <-r.Context().Done():
				case <-time.After(20 * time.Second):
				}
				return
			case strings.Contains(p, "/tamper/") && strings.Contains(p, "/blobs/") && r.Method == http.MethodGet:
				w = testutil.TamperLarge(w)
			case strings.Contains(p, "/redirect/") && strings.Contains(p, "/blobs/") && r.Method == http.MethodGet && r.URL.Query().Get("hop") == "":
				http.Redirect(w, r, p+"?hop=1", http.StatusTemporaryRedirect)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
	reg := ocitest.New(t, ocitest.WithFront(front))
	locked := ocitest.New(t, ocitest.WithBasicAuth("fleet", "s3cret"))

	// Fixtures, pushed by a source daemon.
	src := newEnv(t)
	src.start()
	small := testutil.Wasm("small", 200_000)
	big := testutil.Wasm("big", 2<<20)
	src.gpmd("wasm", "upload", "--name", "math", "--version", "v1.0.0", "--file", src.file("s.wasm", small))
	src.gpmd("wasm", "upload", "--name", "math", "--version", "v1.0.1+build.7", "--file", src.file("s2.wasm", small))
	src.gpmd("wasm", "upload", "--name", "big", "--version", "v1.0.0", "--file", src.file("b.wasm", big))
	for _, repo := range []string{"fleet/math", "fleet/latest", "tamper/math", "redirect/math", "stall/math"} {
		if !strings.HasPrefix(repo, "stall") {
			src.gpmd("wasm", "push", "math@v1.0.0", reg.Ref(repo))
		}
	}
	src.gpmd("wasm", "push", "math@v1.0.0", reg.Ref("fleet/latest:latest"))
	src.gpmd("wasm", "push", "big@v1.0.0", reg.Ref("fleet/big"))
	plantImage(t, reg, "fleet/image", "v1.0.0")

	e := newEnv(t)
	e.start("--max-module-size", "1MiB", "--registry-response-timeout", "1s", "--registry-config", credsFile(t, locked.Host, "fleet", "wrong"))
	// Pushes run on src (which holds the modules) with the wrong password
	// given to e; the rest on e.
	src2 := newEnv(t)
	src2.start("--registry-config", credsFile(t, locked.Host, "fleet", "wrong"))
	src2.gpmd("wasm", "upload", "--name", "big", "--version", "v1.0.0", "--file", src2.file("b.wasm", big))
	cases := []struct {
		name string
		on   *env
		args []string
		code int
		want string
	}{
		{"unreachable", e, []string{"wasm", "pull", fmt.Sprintf("127.0.0.1:%d/fleet/math:v1.0.0", freePort(t))}, 1, "unreachable"},
		{"401 wrong password", e, []string{"wasm", "pull", locked.Ref("fleet/math:v1.0.0")}, 6, "unauthorized"},
		{"401 on push", src2, []string{"wasm", "push", "big@v1.0.0", locked.Ref("fleet/big")}, 6, "unauthorized"},
		{"not found", e, []string{"wasm", "pull", reg.Ref("fleet/nothing:v1.0.0")}, 4, "not found"},
		{"bad reference", e, []string{"wasm", "pull", "not a reference"}, 2, "REGISTRY/REPOSITORY"},
		{"tag not a version", e, []string{"wasm", "pull", reg.Ref("fleet/latest:latest")}, 2, "not a semantic version"},
		{"container image", e, []string{"wasm", "pull", reg.Ref("fleet/image:v1.0.0")}, 2, "application/vnd.oci.image.layer.v1.tar+gzip"},
		{"layer bytes do not match", e, []string{"wasm", "pull", reg.Ref("tamper/math:v1.0.0")}, 1, "digest"},
		{"over the size limit", e, []string{"wasm", "pull", reg.Ref("fleet/big:v1.0.0")}, 2, "too large"},
		{"stalled registry", e, []string{"wasm", "pull", reg.Ref("stall/math:v1.0.0")}, 1, "unavailable"},
		{"+build without a tag", src, []string{"wasm", "push", "math@v1.0.1+build.7", reg.Ref("fleet/math")}, 2, "explicit tag"},
		{"push of a missing version", src, []string{"wasm", "push", "math@v9.0.0", reg.Ref("fleet/math")}, 4, "not found"},
		{"push without a version", src, []string{"wasm", "push", "math", reg.Ref("fleet/math")}, 2, "NAME@VERSION"},
		{"list --remote unreachable", e, []string{"wasm", "list", "--remote", fmt.Sprintf("127.0.0.1:%d/fleet/math", freePort(t))}, 1, "unreachable"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			start := time.Now()
			r := c.on.run(nil, c.args...)
			if r.code != c.code {
				t.Fatalf("exit %d, want %d: %v", r.code, c.code, r)
			}
			line := oneLine(t, r)
			t.Logf("exit %d: %s", r.code, line)
			if !strings.Contains(strings.ToLower(line), strings.ToLower(c.want)) {
				t.Fatalf("message %q does not say %q", line, c.want)
			}
			if d := time.Since(start); d > 15*time.Second {
				t.Fatalf("took %s", d)
			}
		})
	}
	if mods := e.listJSON(); len(mods) != 0 {
		t.Fatalf("a refused pull stored %+v", mods)
	}
	// A --registry that is not REGISTRY/NAMESPACE stops the start.
	bad := newEnv(t)
	r := bad.run(nil, append(append([]string{"start"}, portZero...), "--registry", "not a registry@x")...)
	if r.code == 0 || !strings.Contains(oneLine(t, r), "--registry") || bad.running() {
		t.Fatalf("start with a bad --registry: %v", r)
	}

	// A blob redirect is followed, as the distribution spec allows.
	e.gpmd("wasm", "pull", reg.Ref("redirect/math:v1.0.0"))
	if got := e.getBytes("math@v1.0.0"); !bytes.Equal(got, small) {
		t.Fatal("pull through a redirect stored other bytes")
	}
	// The right password gets in.
	good := newEnv(t)
	good.start("--registry-config", credsFile(t, locked.Host, "fleet", "s3cret"))
	good.gpmd("wasm", "upload", "--name", "math", "--version", "v1.0.0", "--file", good.file("s.wasm", small))
	good.gpmd("wasm", "push", "math@v1.0.0", locked.Ref("fleet/math"))
	if r := good.gpmd("wasm", "list", "--remote", locked.Ref("fleet/math")); r.stdout != "v1.0.0\n" {
		t.Fatalf("list --remote with credentials: %v", r)
	}
	e.gpmd("status")
}
