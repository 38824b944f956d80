package oci

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/ghost-network/gpmd/internal/fsutil"
	"github.com/ghost-network/gpmd/internal/testutil"
	"github.com/ghost-network/gpmd/oci/ocitest"
)

// benchModuleSize stands in for ffmpeg-core.wasm (32 MB), the module the
// issue's speed targets name.
const benchModuleSize = 32 << 20

// BenchmarkRegistry compares Push and Pull with `oras push` and `oras
// pull` (plus an fsync of what oras wrote and of its folder: GPMD stores
// durably, oras does not) of the same 32 MiB module to the same loopback
// registry binary. Each push goes to a fresh repository so that no blob is
// skipped as present. The issue asks for gpmd >= 0.8x oras throughput.
func BenchmarkRegistry(b *testing.B) {
	reg := ocitest.StartBinary(b)
	ocitest.Tool(b, "oras")
	dir := b.TempDir()
	mod := testutil.Wasm("bench", benchModuleSize)
	m := moduleOf("bench", "v1.0.0", mod)
	if err := os.WriteFile(filepath.Join(dir, "bench.wasm"), mod, 0o644); err != nil {
		b.Fatal(err)
	}
	c, err := NewClient(Options{CredentialsConfig: filepath.Join(dir, "none.json")})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	orasRun := func(b *testing.B, args ...string) {
		args = append(args, "--registry-config", filepath.Join(dir, "oras-config.json"))
		if out, err := orasCmd(b, dir, args...).CombinedOutput(); err != nil {
			b.Fatalf("oras %v: %v\n%s", args, err, out)
		}
	}
	if _, err := c.Push(ctx, m, bytes.NewReader(mod), reg.Ref("bench/pull:v1.0.0")); err != nil {
		b.Fatal(err)
	}
	seq := 0
	b.Run("push/gpmd", func(b *testing.B) {
		b.SetBytes(benchModuleSize)
		for b.Loop() {
			seq++
			if _, err := c.Push(ctx, m, bytes.NewReader(mod), reg.Ref(fmt.Sprintf("bench/gpmd-%d:v1.0.0", seq))); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("push/oras", func(b *testing.B) {
		b.SetBytes(benchModuleSize)
		for b.Loop() {
			seq++
			orasRun(b, "push", "--plain-http", reg.Ref(fmt.Sprintf("bench/oras-%d:v1.0.0", seq)), "bench.wasm:"+MediaTypeWasmLayer)
		}
	})
	b.Run("pull/gpmd", func(b *testing.B) {
		b.SetBytes(benchModuleSize)
		out := filepath.Join(dir, "gpmd-out")
		if err := os.MkdirAll(out, 0o755); err != nil {
			b.Fatal(err)
		}
		sink := func(ctx context.Context, mod Module, r io.Reader) error {
			// WriteFileAtomic: temp file, fsync, rename, fsync the folder,
			// as the store commits a blob.
			return fsutil.WriteFileAtomic(filepath.Join(out, "bench.wasm"), r, 0o444)
		}
		for b.Loop() {
			if _, err := c.Pull(ctx, reg.Ref("bench/pull:v1.0.0"), PullOptions{}, sink); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("pull/oras+fsync", func(b *testing.B) {
		b.SetBytes(benchModuleSize)
		for b.Loop() {
			out := filepath.Join(dir, fmt.Sprintf("oras-out-%d", seq))
			seq++
			orasRun(b, "pull", "--plain-http", "-o", out, reg.Ref("bench/pull:v1.0.0"))
			f, err := os.Open(filepath.Join(out, "bench.wasm"))
			if err != nil {
				b.Fatal(err)
			}
			if err := f.Sync(); err != nil {
				b.Fatal(err)
			}
			f.Close()
			if err := fsutil.SyncDir(out); err != nil {
				b.Fatal(err)
			}
		}
	})
}
