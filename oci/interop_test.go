package oci

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/ghost-network/gpmd/internal/testutil"
	"github.com/ghost-network/gpmd/oci/ocitest"
)

// oras runs the oras CLI built by scripts/build-tools.sh in dir, with a
// registry config of its own (never the user's), and returns its stdout.
func oras(t *testing.T, dir string, args ...string) []byte {
	t.Helper()
	args = append(args, "--registry-config", filepath.Join(dir, "oras-config.json"))
	cmd := orasCmd(t, dir, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("oras %v: %v\n%s%s", args, err, stdout.String(), stderr.String())
	}
	return stdout.Bytes()
}

// orasCmd prepares the oras CLI in dir with HOME and DOCKER_CONFIG there,
// so it never reads or writes the user's credentials.
func orasCmd(t testing.TB, dir string, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), ocitest.Tool(t, "oras"), args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "DOCKER_CONFIG="+dir, "HOME="+dir)
	return cmd
}

// TestInteropWithOrasAndRegistryBinary pushes and pulls through the real
// registry binary with the oras CLI on the other side, both ways.
func TestInteropWithOrasAndRegistryBinary(t *testing.T) {
	ocitest.Tool(t, "oras") // skip before starting the registry when oras is missing
	reg := ocitest.StartBinary(t)
	dir := t.TempDir()
	c := newClient(t, Options{}, nil)

	t.Run("oras push, gpmd pull", func(t *testing.T) {
		mod := testutil.Wasm("from-oras", 100_000)
		if err := os.WriteFile(filepath.Join(dir, "hello.wasm"), mod, 0o644); err != nil {
			t.Fatal(err)
		}
		cfg := `{"architecture":"wasm","os":"wasip1","layerDigests":["` + digest.FromBytes(mod).String() + `"]}`
		if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte(cfg), 0o644); err != nil {
			t.Fatal(err)
		}
		oras(t, dir, "push", "--plain-http", reg.Ref("tools/hello:v1.0.0"),
			"--config", "config.json:"+MediaTypeWasmConfig, "hello.wasm:"+MediaTypeWasmLayer)
		// And the oras default: OCI 1.1, empty config, an artifact type.
		oras(t, dir, "push", "--plain-http", reg.Ref("tools/hello:v1.1.0"),
			"--artifact-type", "application/vnd.module.wasm.content.layer.v1+wasm", "hello.wasm:"+MediaTypeWasmLayer)
		for _, v := range []string{"v1.0.0", "v1.1.0"} {
			var s memSink
			if _, err := c.Pull(t.Context(), reg.Ref("tools/hello:"+v), PullOptions{}, s.sink); err != nil {
				t.Fatal(err)
			}
			if got, _ := s.get("hello@" + v); !bytes.Equal(got, mod) {
				t.Fatalf("%s: pulled bytes differ from what oras pushed", v)
			}
		}
	})

	t.Run("gpmd push, oras pull", func(t *testing.T) {
		mod := push(t, c, reg.Ref("fleet/math"), "math", "v2.0.0", 250_000)
		out := filepath.Join(dir, "out")
		oras(t, dir, "pull", "--plain-http", "-o", out, reg.Ref("fleet/math:v2.0.0"))
		got, err := os.ReadFile(filepath.Join(out, "math.wasm"))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, mod) {
			t.Fatal("oras pulled other bytes than gpmd pushed")
		}
		raw := oras(t, dir, "manifest", "fetch", "--plain-http", reg.Ref("fleet/math:v2.0.0"))
		var m ocispec.Manifest
		if err := json.Unmarshal(raw, &m); err != nil {
			t.Fatalf("%v: %s", err, raw)
		}
		if m.MediaType != MediaTypeManifest || m.Config.MediaType != MediaTypeWasmConfig || len(m.Layers) != 1 ||
			m.Layers[0].MediaType != MediaTypeWasmLayer || m.Layers[0].Annotations[AnnotationTitle] != "math.wasm" ||
			m.Layers[0].Digest != digest.FromBytes(mod) {
			t.Fatalf("oras manifest fetch shows %s", raw)
		}
		cfgRaw := oras(t, dir, "manifest", "fetch-config", "--plain-http", reg.Ref("fleet/math:v2.0.0"))
		var cfg WasmConfig
		if err := json.Unmarshal(cfgRaw, &cfg); err != nil || cfg.Architecture != "wasm" || cfg.OS != "wasip1" ||
			len(cfg.LayerDigests) != 1 || cfg.LayerDigests[0] != digest.FromBytes(mod) || cfg.Created.IsZero() {
			t.Fatalf("oras manifest fetch-config shows %s (%v)", cfgRaw, err)
		}
	})
}
