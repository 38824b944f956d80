package validate_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"

	"github.com/ghost-network/gpmd/errdefs"
	. "github.com/ghost-network/gpmd/internal/testutil/wasmtest"
	"github.com/ghost-network/gpmd/wasm"
	"github.com/ghost-network/gpmd/wasm/validate"
)

func TestRealModulesValidate(t *testing.T) {
	for _, name := range RealModules {
		b := RealBytes(t, name)
		start := time.Now()
		if err := validate.Check(t.Context(), bytes.NewReader(b)); err != nil {
			t.Errorf("%s: %v", name, err)
		}
		t.Logf("%s (%d bytes) validated in %v", name, len(b), time.Since(start).Round(time.Millisecond))
	}
}

// Everything ends with an empty custom section, which wazero v1.12 refuses
// with debug info on; Check turns it off.
func TestEverythingValidates(t *testing.T) {
	if err := validate.CheckBytes(t.Context(), Everything().Bytes()); err != nil {
		t.Errorf("the module with every kind: %v", err)
	}
}

func TestBrokenBodyIsInvalid(t *testing.T) {
	m := &Module{}
	m.Add(SecType, Vec(FuncType(nil, []byte{I32})))
	m.Add(SecFunction, Vec([]byte{0}))
	m.Add(SecCode, Vec(Body(0x6a))) // i32.add with an empty stack
	b := m.Bytes()
	if _, err := wasm.Parse(b); err != nil {
		t.Fatalf("the parser does not type-check bodies, yet: %v", err)
	}
	err := validate.CheckBytes(t.Context(), b)
	var inv *validate.InvalidError
	if !errors.As(err, &inv) || !errors.Is(err, wasm.ErrInvalidModule) || !errors.Is(err, errdefs.ErrInvalid) {
		t.Fatalf("error %v (%T), want an *InvalidError", err, err)
	}
	if errors.Is(err, errors.ErrUnsupported) {
		t.Errorf("a broken module reported as unsupported: %v", err)
	}
	t.Log(err)
}

func TestStructuralErrorIsInvalid(t *testing.T) {
	err := validate.CheckBytes(t.Context(), []byte{0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, 0xff, 0xff})
	var fe *wasm.FormatError
	if !errors.As(err, &fe) || !strings.Contains(err.Error(), "unknown section id 255") {
		t.Fatalf("error %v, want the parser's", err)
	}
}

func TestUnsupportedFeatures(t *testing.T) {
	multiMemory := (&Module{}).Add(SecMemory, Vec([]byte{0, 1}, []byte{0, 1})).Bytes()
	memory64 := (&Module{}).Add(SecMemory, Vec([]byte{0x04, 1})).Bytes()
	component := []byte{0x00, 0x61, 0x73, 0x6d, 0x0d, 0x00, 0x01, 0x00}
	for _, c := range []struct {
		name    string
		in      []byte
		feature string
	}{
		{"multi-memory", multiMemory, wasm.FeatureMultiMemory},
		{"memory64", memory64, wasm.FeatureMemory64},
		{"component", component, "component-model"},
	} {
		err := validate.CheckBytes(t.Context(), c.in)
		var ue *validate.UnsupportedError
		if !errors.As(err, &ue) || ue.Feature != c.feature || !errors.Is(err, errors.ErrUnsupported) {
			t.Errorf("%s: error %v (%T), want an *UnsupportedError for %s", c.name, err, err, c.feature)
			continue
		}
		if errors.Is(err, errdefs.ErrInvalid) {
			t.Errorf("%s: an unsupported feature reported as invalid: %v", c.name, err)
		}
		if !strings.HasPrefix(err.Error(), "needs feature "+c.feature+", which the validator does not support") {
			t.Errorf("%s: message %q", c.name, err)
		}
	}
}

func TestCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	b := RealBytes(t, "sql-wasm.wasm")
	if err := validate.CheckBytes(ctx, b); err != nil && !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
}

// BenchmarkCompile compares wazero's compiler and interpreter on the
// largest real module: Check uses the faster.
func BenchmarkCompile(b *testing.B) {
	mod := RealBytes(b, "ffmpeg-core.wasm")
	for _, c := range []struct {
		name string
		cfg  func() wazero.RuntimeConfig
	}{
		{"compiler", wazero.NewRuntimeConfigCompiler},
		{"interpreter", wazero.NewRuntimeConfigInterpreter},
	} {
		b.Run(c.name, func(b *testing.B) {
			ctx := context.Background()
			b.SetBytes(int64(len(mod)))
			for b.Loop() {
				rt := wazero.NewRuntimeWithConfig(ctx, c.cfg().WithCoreFeatures(validate.Features))
				if _, err := rt.CompileModule(ctx, mod); err != nil {
					b.Fatal(err)
				}
				rt.Close(ctx)
			}
		})
	}
}
