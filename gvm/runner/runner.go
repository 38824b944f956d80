// Package runner runs WebAssembly modules for the reference GVM on wazero.
//
// A Runtime compiles and instantiates modules; each Module is one instance
// whose exported functions are called with arguments in text form,
// converted by the function's signature (i32, i64, f32, f64), and whose
// results come back in text form.
//
// Guarantees:
//   - Modules get WASI preview 1 (wasi_snapshot_preview1) and the host
//     module gvm (HostModule: call_i32 calls a function on another node
//     through Options.Peers) and nothing else: an import of anything else
//     fails Load with *ImportError, naming every import that cannot be
//     satisfied, before any code runs.
//   - A host call that fails (a pointer or length outside the module's
//     memory, no peer, the peer gone or answering with an error) traps the
//     calling module with a message naming the peer and the target; it
//     never crashes the GVM.
//   - WASI gives no filesystem unless Options.Dirs mounts folders, and no
//     network (wazero's WASI has no sockets). stdout and stderr go to
//     Options.Stdout and Options.Stderr; stdin is empty.
//   - Instantiating never runs _start: only the function named to Call runs.
//   - Calls on one Module run one at a time (an instance's memory is not
//     safe for concurrent calls); Close waits for the call in progress.
//   - A cancelled context stops a running call (WithCloseOnContextDone).
//
// Errors are wrapped errdefs classes: ErrNotFound for a function the
// module does not export (the message lists the exports), ErrInvalid for
// arguments that do not fit the signature or a module that does not
// compile, *TrapError for a trap, *ImportError for unsatisfied imports.
package runner

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
	"github.com/tetratelabs/wazero/sys"

	"github.com/ghost-network/gpmd/errdefs"
)

// Options configure a Runtime. Zero values take defaults.
type Options struct {
	// CacheDir keeps wazero's compiled code on disk across processes;
	// "": compile in memory only.
	CacheDir string
	// Stdout and Stderr receive the modules' WASI output; nil discards it.
	Stdout, Stderr io.Writer
	// Dirs are host folders the modules may use through WASI, each mounted
	// at the same path in the guest. None by default.
	Dirs []string
	// Peers runs the host module's calls to other nodes; nil: those calls
	// trap (gvm run serves nothing and calls nobody).
	Peers PeerCaller
	// DefaultPeer is the node a host call that names none (peer_len 0)
	// goes to; "": such calls trap.
	DefaultPeer string
}

// Runtime compiles and instantiates modules. It is safe for concurrent use.
type Runtime struct {
	rt    wazero.Runtime
	cache wazero.CompilationCache // nil without CacheDir
	opts  Options
	wasi  map[string]api.FunctionDefinition // what WASI preview 1 exports
	host  map[string]api.FunctionDefinition // what HostModule exports
}

// New starts a runtime with WASI preview 1. Close releases it.
func New(ctx context.Context, opts Options) (*Runtime, error) {
	if opts.Stdout == nil {
		opts.Stdout = io.Discard
	}
	if opts.Stderr == nil {
		opts.Stderr = io.Discard
	}
	cfg := wazero.NewRuntimeConfig().WithCloseOnContextDone(true)
	r := &Runtime{opts: opts}
	if opts.CacheDir != "" {
		c, err := wazero.NewCompilationCacheWithDir(opts.CacheDir)
		if err != nil {
			return nil, fmt.Errorf("compilation cache %s: %w", opts.CacheDir, err)
		}
		r.cache = c
		cfg = cfg.WithCompilationCache(c)
	}
	r.rt = wazero.NewRuntimeWithConfig(ctx, cfg)
	if _, err := wasi_snapshot_preview1.Instantiate(ctx, r.rt); err != nil {
		r.Close(ctx)
		return nil, fmt.Errorf("wasi: %w", err)
	}
	r.wasi = r.rt.Module(wasi_snapshot_preview1.ModuleName).ExportedFunctionDefinitions()
	if err := r.instantiateHost(ctx); err != nil {
		r.Close(ctx)
		return nil, fmt.Errorf("host module %s: %w", HostModule, err)
	}
	r.host = hostFunctions(r.rt)
	return r, nil
}

// Close closes every module of the runtime and the runtime.
func (r *Runtime) Close(ctx context.Context) error {
	err := r.rt.Close(ctx)
	if r.cache != nil {
		r.cache.Close(ctx)
	}
	return err
}

// ErrClosed: the module was closed (replaced or shut down) before the call
// could run; calling its replacement is safe, the call never started.
var ErrClosed = fmt.Errorf("module closed: %w", errdefs.ErrUnavailable)

// ImportError names the imports of a module that the GVM cannot satisfy.
type ImportError struct {
	Module  string
	Missing []string // "module.name" each
}

func (e *ImportError) Error() string {
	return fmt.Sprintf("module %s imports what this GVM cannot provide: %s (it provides wasi_snapshot_preview1 and "+HostModule+" only)",
		e.Module, strings.Join(e.Missing, ", "))
}

func (e *ImportError) Unwrap() error { return errdefs.ErrInvalid }

// TrapError is a call that trapped (or a WASI exit with a non-zero code).
type TrapError struct {
	Module, Function string
	Message          string // the first line of wazero's message
}

func (e *TrapError) Error() string {
	return fmt.Sprintf("module %s: %s trapped: %s", e.Module, e.Function, e.Message)
}

// Module is one instance of a module. Its methods are safe for concurrent
// use; calls run one at a time.
type Module struct {
	name  string
	funcs map[string]api.FunctionDefinition

	// mu serialises calls and Close: the instance is used by one call at a
	// time, and closed only between calls.
	mu     sync.Mutex
	inst   api.Module
	closed bool
	// fns caches the callable of each function called: wazero gives each
	// api.Function its own call stack, too costly to make per call.
	fns map[string]api.Function
}

// Load compiles wasm and instantiates it; name is used in messages only.
func (r *Runtime) Load(ctx context.Context, name string, wasm []byte) (*Module, error) {
	cm, err := r.rt.CompileModule(ctx, wasm)
	if err != nil {
		return nil, fmt.Errorf("module %s does not compile: %v: %w", name, firstLine(err.Error()), errdefs.ErrInvalid)
	}
	// The compiled code stays in the runtime (and on disk with a cache)
	// for the next Load of the same bytes; the instance needs only itself.
	defer cm.Close(ctx)
	if err := r.checkImports(name, cm); err != nil {
		return nil, err
	}
	cfg := wazero.NewModuleConfig().
		WithName(""). // anonymous: many instances may live at once
		WithStartFunctions().
		WithStdout(r.opts.Stdout).
		WithStderr(r.opts.Stderr).
		WithSysWalltime().
		WithSysNanotime().
		WithSysNanosleep().
		WithRandSource(rand.Reader)
	if len(r.opts.Dirs) > 0 {
		fsc := wazero.NewFSConfig()
		for _, d := range r.opts.Dirs {
			fsc = fsc.WithDirMount(d, d)
		}
		cfg = cfg.WithFSConfig(fsc)
	}
	inst, err := r.rt.InstantiateModule(ctx, cm, cfg)
	if err != nil {
		return nil, fmt.Errorf("module %s: instantiating: %v: %w", name, firstLine(err.Error()), errdefs.ErrInvalid)
	}
	return &Module{name: name, funcs: cm.ExportedFunctions(), inst: inst, fns: map[string]api.Function{}}, nil
}

// checkImports fails with *ImportError unless every import is a WASI or
// host module function this runtime has. A function of the right name but
// another signature fails at instantiation (ErrInvalid).
func (r *Runtime) checkImports(name string, cm wazero.CompiledModule) error {
	var missing []string
	for _, f := range cm.ImportedFunctions() {
		mod, fn, _ := f.Import()
		switch {
		case mod == wasi_snapshot_preview1.ModuleName && r.wasi[fn] != nil:
		case mod == HostModule && r.host[fn] != nil:
		default:
			missing = append(missing, mod+"."+fn)
		}
	}
	for _, m := range cm.ImportedMemories() {
		mod, n, _ := m.Import()
		missing = append(missing, mod+"."+n+" (memory)")
	}
	if len(missing) > 0 {
		return &ImportError{Module: name, Missing: missing}
	}
	return nil
}

// Exports lists the exported functions, sorted.
func (m *Module) Exports() []string {
	names := make([]string, 0, len(m.funcs))
	for n := range m.funcs {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// Call calls the exported function fn with args in text form and returns
// its results in text form (i32 and i64 as signed decimals, floats in the
// shortest form that reads back exactly).
func (m *Module) Call(ctx context.Context, fn string, args []string) ([]string, error) {
	def, ok := m.funcs[fn]
	if !ok {
		return nil, fmt.Errorf("module %s exports no function %q (its functions: %s): %w",
			m.name, fn, strings.Join(m.Exports(), ", "), errdefs.ErrNotFound)
	}
	params := def.ParamTypes()
	if len(args) != len(params) {
		return nil, fmt.Errorf("%s.%s takes %d argument(s) (%s), got %d: %w",
			m.name, fn, len(params), typeNames(params), len(args), errdefs.ErrInvalid)
	}
	stack := make([]uint64, max(len(params), len(def.ResultTypes())))
	for i, a := range args {
		v, err := encodeArg(params[i], a)
		if err != nil {
			return nil, fmt.Errorf("%s.%s argument %d: %v: %w", m.name, fn, i+1, err, errdefs.ErrInvalid)
		}
		stack[i] = v
	}

	m.mu.Lock() // guards fns too
	defer m.mu.Unlock()
	if m.closed {
		return nil, fmt.Errorf("module %s: %w", m.name, ErrClosed)
	}
	f := m.fns[fn]
	if f == nil {
		f = m.inst.ExportedFunction(fn)
		m.fns[fn] = f
	}
	if err := f.CallWithStack(ctx, stack); err != nil {
		var exit *sys.ExitError
		if errors.As(err, &exit) && exit.ExitCode() == 0 {
			return nil, nil // proc_exit(0) is a normal end
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("%s.%s stopped: %w", m.name, fn, ctx.Err())
		}
		return nil, &TrapError{Module: m.name, Function: fn, Message: hostCallMessage(err)}
	}
	results := def.ResultTypes()
	out := make([]string, len(results))
	for i, t := range results {
		out[i] = formatResult(t, stack[i])
	}
	return out, nil
}

// Close closes the instance once the call in progress (if any) returns.
// Closing twice is harmless.
func (m *Module) Close(ctx context.Context) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil
	}
	m.closed = true
	return m.inst.Close(ctx)
}

// encodeArg converts one argument. An i32 takes -2^31 … 2^32-1 (signed or
// unsigned reading of the same bits), an i64 any int64 or uint64; floats
// take what strconv.ParseFloat takes, within range.
func encodeArg(t api.ValueType, s string) (uint64, error) {
	switch t {
	case api.ValueTypeI32:
		v, err := strconv.ParseInt(s, 0, 64)
		if err != nil || v < math.MinInt32 || v > math.MaxUint32 {
			return 0, fmt.Errorf("%q is not an i32", s)
		}
		return api.EncodeI32(int32(uint32(v))), nil
	case api.ValueTypeI64:
		if v, err := strconv.ParseInt(s, 0, 64); err == nil {
			return api.EncodeI64(v), nil
		}
		if v, err := strconv.ParseUint(s, 0, 64); err == nil {
			return v, nil
		}
		return 0, fmt.Errorf("%q is not an i64", s)
	case api.ValueTypeF32:
		v, err := strconv.ParseFloat(s, 32)
		if err != nil {
			return 0, fmt.Errorf("%q is not an f32", s)
		}
		return api.EncodeF32(float32(v)), nil
	case api.ValueTypeF64:
		v, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return 0, fmt.Errorf("%q is not an f64", s)
		}
		return api.EncodeF64(v), nil
	}
	return 0, fmt.Errorf("parameters of type %s are not supported", api.ValueTypeName(t))
}

func formatResult(t api.ValueType, v uint64) string {
	switch t {
	case api.ValueTypeI32:
		return strconv.FormatInt(int64(api.DecodeI32(v)), 10)
	case api.ValueTypeI64:
		return strconv.FormatInt(int64(v), 10)
	case api.ValueTypeF32:
		return strconv.FormatFloat(float64(api.DecodeF32(v)), 'g', -1, 32)
	case api.ValueTypeF64:
		return strconv.FormatFloat(api.DecodeF64(v), 'g', -1, 64)
	}
	return "0x" + strconv.FormatUint(v, 16)
}

func typeNames(ts []api.ValueType) string {
	if len(ts) == 0 {
		return "none"
	}
	names := make([]string, len(ts))
	for i, t := range ts {
		names[i] = api.ValueTypeName(t)
	}
	return strings.Join(names, " ")
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return s
}
