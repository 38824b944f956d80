package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/tetratelabs/wazero"
)

// The checked-in binaries are exactly what the encoder writes: edit
// modules.go (and the .wat), then `go generate ./examples/modules`.
func TestCheckedInBinariesMatchEncoder(t *testing.T) {
	for name, m := range examples() {
		got, err := os.ReadFile(filepath.Join("..", name+".wasm"))
		if err != nil {
			t.Fatalf("%s: %v (run go generate ./examples/modules)", name, err)
		}
		if want := m.encode(); !bytes.Equal(got, want) {
			t.Errorf("%s.wasm differs from the encoder's output (run go generate ./examples/modules)\n got %x\nwant %x", name, got, want)
		}
		if _, err := os.Stat(filepath.Join("..", name+".wat")); err != nil {
			t.Errorf("%s: no .wat source beside the binary: %v", name, err)
		}
	}
}

// Every example compiles with wazero.
func TestExamplesCompile(t *testing.T) {
	ctx := context.Background()
	rt := wazero.NewRuntime(ctx)
	defer rt.Close(ctx)
	for name, m := range examples() {
		cm, err := rt.CompileModule(ctx, m.encode())
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		cm.Close(ctx)
	}
}

// The encoder agrees with wabt's wat2wasm on the .wat sources. wabt is not
// part of the build (the binaries come from the encoder), but it is part of
// the test set-up: .ci/run installs Debian's wabt package when it is missing.
func TestEncoderMatchesWat2wasm(t *testing.T) {
	tool, err := exec.LookPath("wat2wasm")
	if err != nil {
		t.Fatal("wat2wasm (Debian package wabt) is not installed: apt-get install wabt (.ci/run does)")
	}
	for name, m := range examples() {
		out := filepath.Join(t.TempDir(), name+".wasm")
		cmd := exec.Command(tool, filepath.Join("..", name+".wat"), "-o", out)
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("wat2wasm %s.wat: %v\n%s", name, err, b)
		}
		want, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		if got := m.encode(); !bytes.Equal(got, want) {
			t.Errorf("%s: encoder and wat2wasm differ\n  gen      %x\n  wat2wasm %x", name, got, want)
		}
	}
}

func TestSLEB(t *testing.T) {
	for v, want := range map[int64][]byte{
		0: {0x00}, 1: {0x01}, 63: {0x3f}, 64: {0xc0, 0x00}, -1: {0x7f}, -64: {0x40},
		-65: {0xbf, 0x7f}, 1000: {0xe8, 0x07}, 32: {0x20},
	} {
		if got := appendSLEB(nil, v); !bytes.Equal(got, want) {
			t.Errorf("sleb(%d) = %x, want %x", v, got, want)
		}
	}
}
