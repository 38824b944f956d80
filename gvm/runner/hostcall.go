package runner

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strconv"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/ghost-network/gpmd/errdefs"
)

// HostModule is the name of the host module the GVM offers to the modules
// it runs, beside WASI. Its ABI (docs/gvm.md, "The gvm host module"):
//
//	call_i32(peer_ptr, peer_len, target_ptr, target_len, a, b i32) -> i32
//
// calls target ("module.function", target_len bytes at target_ptr in the
// caller's memory) on the node named by the peer_len bytes at peer_ptr
// (peer_len 0: Options.DefaultPeer) with the arguments a and b, and
// returns its one i32 result. Every failure (bad pointer or length, no
// peer, the peer gone, refusing, too slow, answering with an error or with
// something other than one i32) traps the calling module with a
// *HostCallError naming the peer and the target; nothing is returned in
// band.
const HostModule = "gvm"

// maxHostString bounds a name a module passes to the host module (peer or
// target): far above any node or module name, far below what a bad length
// could make the host copy.
const maxHostString = 1024

// PeerCaller runs a function on another node for the host module.
type PeerCaller interface {
	// CallPeer runs target ("module.function") with args in text form on
	// the node named peer (never ""), at the node's current version of the
	// module, and returns the results in text form. It returns when ctx
	// ends at the latest; the error names what went wrong, the caller
	// adds the peer and target.
	CallPeer(ctx context.Context, peer, target string, args []string) ([]string, error)
}

// HostCallError is why a call of the host module failed; the calling
// module traps with it, and Module.Call reports it as a *TrapError whose
// message is this error's.
type HostCallError struct {
	Function     string // the host function, e.g. "call_i32"
	Peer, Target string // as far as they could be read
	Err          error
}

func (e *HostCallError) Error() string {
	switch {
	case e.Target == "":
		return fmt.Sprintf("%s.%s: %v", HostModule, e.Function, e.Err)
	case e.Peer == "":
		return fmt.Sprintf("%s.%s of %s: %v", HostModule, e.Function, e.Target, e.Err)
	}
	return fmt.Sprintf("%s.%s of %s on node %s: %v", HostModule, e.Function, e.Target, e.Peer, e.Err)
}

func (e *HostCallError) Unwrap() error { return e.Err }

// instantiateHost adds the host module to r.rt.
func (r *Runtime) instantiateHost(ctx context.Context) error {
	i32 := api.ValueTypeI32
	_, err := r.rt.NewHostModuleBuilder(HostModule).
		NewFunctionBuilder().
		WithGoModuleFunction(api.GoModuleFunc(r.callI32),
			[]api.ValueType{i32, i32, i32, i32, i32, i32}, []api.ValueType{i32}).
		WithParameterNames("peer_ptr", "peer_len", "target_ptr", "target_len", "a", "b").
		WithResultNames("result").
		Export("call_i32").
		Instantiate(ctx)
	return err
}

// callI32 is gvm.call_i32. It panics with a *HostCallError to trap: wazero
// turns a host function's panic into the failure of the module's call.
func (r *Runtime) callI32(ctx context.Context, m api.Module, stack []uint64) {
	e := &HostCallError{Function: "call_i32"}
	fail := func(err error) { e.Err = err; panic(e) }

	target, err := readString(m, api.DecodeU32(stack[2]), api.DecodeU32(stack[3]), "target")
	if err != nil {
		fail(err)
	}
	e.Target = target
	peer, err := readString(m, api.DecodeU32(stack[0]), api.DecodeU32(stack[1]), "peer")
	if err != nil {
		fail(err)
	}
	if peer == "" {
		peer = r.opts.DefaultPeer
	}
	e.Peer = peer
	switch {
	case target == "":
		fail(fmt.Errorf("the target is empty (want module.function): %w", errdefs.ErrInvalid))
	case r.opts.Peers == nil:
		fail(fmt.Errorf("this GVM does not call other nodes (gvm serve does): %w", errdefs.ErrUnavailable))
	case peer == "":
		fail(fmt.Errorf("no peer named and this node has no default peer (gvm serve --peer): %w", errdefs.ErrInvalid))
	}
	args := []string{
		strconv.FormatInt(int64(api.DecodeI32(stack[4])), 10),
		strconv.FormatInt(int64(api.DecodeI32(stack[5])), 10),
	}
	res, err := r.opts.Peers.CallPeer(ctx, peer, target, args)
	if err != nil {
		fail(err)
	}
	if len(res) != 1 {
		fail(fmt.Errorf("it returned %d result(s) %q, not one i32: %w", len(res), res, errdefs.ErrInvalid))
	}
	v, err := strconv.ParseInt(res[0], 10, 32)
	if err != nil {
		fail(fmt.Errorf("it returned %q, not an i32: %w", res[0], errdefs.ErrInvalid))
	}
	stack[0] = api.EncodeI32(int32(v))
}

// readString copies n bytes at ptr out of m's memory, checking that they
// are all inside it.
func readString(m api.Module, ptr, n uint32, what string) (string, error) {
	if n == 0 {
		return "", nil
	}
	if n > maxHostString {
		return "", fmt.Errorf("the %s is %d bytes long, more than %d: %w", what, n, maxHostString, errdefs.ErrInvalid)
	}
	mem := m.Memory()
	// wazero v1.12 gives a module without memory a nil *MemoryInstance in
	// the interface, not a nil interface.
	if mem == nil || reflect.ValueOf(mem).IsNil() {
		return "", fmt.Errorf("the %s is at %d, but the module has no memory: %w", what, ptr, errdefs.ErrInvalid)
	}
	b, ok := mem.Read(ptr, n)
	if !ok {
		return "", fmt.Errorf("the %s (%d bytes at %d) is outside the module's memory of %d bytes: %w",
			what, n, ptr, mem.Size(), errdefs.ErrInvalid)
	}
	return string(b), nil // a copy: the memory is the module's
}

// hostCallMessage is the trap message of err: the *HostCallError's own
// when a host function failed (without wazero's "recovered" note), else
// wazero's first line.
func hostCallMessage(err error) string {
	var hce *HostCallError
	if errors.As(err, &hce) {
		return firstLine(hce.Error())
	}
	return firstLine(err.Error())
}

// hostFunctions lists what the host module exports, for checkImports.
func hostFunctions(rt wazero.Runtime) map[string]api.FunctionDefinition {
	return rt.Module(HostModule).ExportedFunctionDefinitions()
}
