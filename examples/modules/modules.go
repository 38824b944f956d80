// Package modules holds the example WebAssembly modules: their text-format
// sources (*.wat) and their binaries (*.wasm), which `go generate` rebuilds
// with the encoder in gen/ (nothing from outside the repository). The
// binaries are embedded so tests and tools can use them by name.
//
//   - math.wasm: add and mul on i32 (upload as math v0.0.1)
//   - math_v2.wasm: add returns a+b+1000, mul unchanged (math v0.0.2)
//   - hello.wasm: imports WASI preview 1; hello prints "hello from wasm\n"
//   - trap.wasm: boom traps (unreachable)
//   - needsenv.wasm: imports env.log, which the reference GVM lacks
//   - relay.wasm: imports gvm.call_i32 (the reference GVM's host module);
//     add_via(a, b) returns math.add(a, b) run on the serving node's
//     default peer (gvm serve --peer)
package modules

import (
	"embed"
	"fmt"
)

//go:generate go run ./gen -dir .

//go:embed *.wasm
var files embed.FS

// Wasm returns the binary of the example called name ("math", "hello" …).
func Wasm(name string) ([]byte, error) {
	b, err := files.ReadFile(name + ".wasm")
	if err != nil {
		return nil, fmt.Errorf("example module %s: %w", name, err)
	}
	return b, nil
}

// MustWasm is Wasm for tests and examples; it panics on an unknown name.
func MustWasm(name string) []byte {
	b, err := Wasm(name)
	if err != nil {
		panic(err)
	}
	return b
}
