// Package validate checks a WebAssembly module in full, instructions
// included, by compiling it with wazero (github.com/tetratelabs/wazero): what
// `gpmd wasm check`, `gpmd verify --deep` and `gpmd wasm upload --check` run.
// The upload's own structural parse (package wasm) does not type-check
// function bodies; this does.
//
// Guarantees: Check never runs the module (nothing is instantiated, no
// start function runs), holds no state between calls, and closes the
// runtime it made before returning. Its error tells three cases apart:
// nil (wazero accepts the module), *UnsupportedError (the module needs a
// feature wazero lacks: not broken, just not checkable here; it matches
// errors.ErrUnsupported), and *InvalidError (the module is broken; it
// matches wasm.ErrInvalidModule and errdefs.ErrInvalid). Context
// cancellation is returned as ctx.Err().
//
// Caveats: the whole module is held in memory while it compiles (wazero
// takes bytes), and compiling a 30 MB module takes seconds: this is not for
// the upload path.
package validate

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"

	"github.com/ghost-network/gpmd/wasm"
)

// Features is every core feature wazero v1.12 can compile: WebAssembly 2.0
// plus the proposals it has behind experimental (threads: @ffmpeg/core's
// ffmpeg-core.wasm uses atomics).
const Features = api.CoreFeaturesV2 |
	experimental.CoreFeaturesThreads |
	experimental.CoreFeaturesTailCall |
	experimental.CoreFeaturesExtendedConst |
	experimental.CoreFeaturesExceptionHandling |
	experimental.CoreFeaturesTypedFunctionReferences

// unsupported are the features the structural parser can see that wazero
// cannot compile, and how wazero says so.
var unsupported = []struct {
	feature string // as wasm.Info.Features names it
	says    string // a fragment of wazero's error
}{
	{wasm.FeatureMultiMemory, "at most one memory"},
	{wasm.FeatureMemory64, "for limits"},
}

// UnsupportedError says that the module needs a feature the validator does
// not support; it says nothing about whether the module is valid.
type UnsupportedError struct {
	Feature string
	Err     error // what wazero said, if it got that far
}

func (e *UnsupportedError) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("needs feature %s, which the validator does not support", e.Feature)
	}
	return fmt.Sprintf("needs feature %s, which the validator does not support (wazero: %v)", e.Feature, e.Err)
}

func (e *UnsupportedError) Is(target error) bool { return target == errors.ErrUnsupported }

// InvalidError says the module is broken: the structural parser or wazero
// refused it.
type InvalidError struct{ Err error }

func (e *InvalidError) Error() string { return "invalid module: " + e.Err.Error() }

// Unwrap gives the parser's *wasm.FormatError where there is one, and
// always wasm.ErrInvalidModule.
func (e *InvalidError) Unwrap() []error { return []error{e.Err, wasm.ErrInvalidModule} }

// Check reads the module from r and validates it; see the package doc.
func Check(ctx context.Context, r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return fmt.Errorf("validate: reading the module: %w", err)
	}
	return CheckBytes(ctx, b)
}

// CheckBytes validates the module b; see the package doc. It does not
// keep b.
func CheckBytes(ctx context.Context, b []byte) error {
	info, err := wasm.Parse(b)
	if err != nil {
		return &InvalidError{Err: err}
	}
	if info.Kind == wasm.KindComponent {
		return &UnsupportedError{Feature: "component-model"}
	}
	// The interpreter, not the compiler: both validate the same, and the
	// interpreter compiles ffmpeg-core.wasm (32 MB) in about 5 s where the
	// compiler takes about 28 s (BenchmarkCompile). Debug info off: the
	// validator needs no DWARF, and with it on wazero v1.12 reads every
	// custom section and refuses a valid module whose last section is an
	// empty custom section (bytes.Reader.Read of nothing at EOF).
	cfg := wazero.NewRuntimeConfigInterpreter().
		WithCoreFeatures(Features).
		WithDebugInfoEnabled(false).
		WithCloseOnContextDone(true)
	rt := wazero.NewRuntimeWithConfig(ctx, cfg)
	defer rt.Close(context.WithoutCancel(ctx))
	cm, err := rt.CompileModule(ctx, b)
	if err == nil {
		return cm.Close(ctx)
	}
	if ctxErr := ctx.Err(); ctxErr != nil {
		return ctxErr
	}
	msg := err.Error()
	for _, u := range unsupported {
		if strings.Contains(msg, u.says) && slices.Contains(info.Features, u.feature) {
			return &UnsupportedError{Feature: u.feature, Err: err}
		}
	}
	if i := strings.Index(msg, "feature \""); i >= 0 && strings.Contains(msg, "is disabled") {
		name := msg[i+len("feature \""):]
		if j := strings.IndexByte(name, '"'); j >= 0 {
			name = name[:j]
		}
		return &UnsupportedError{Feature: name, Err: err}
	}
	if strings.Contains(msg, "legacy exception handling") {
		return &UnsupportedError{Feature: "legacy-exceptions", Err: err}
	}
	return &InvalidError{Err: err}
}
