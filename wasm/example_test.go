package wasm_test

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"

	. "github.com/ghost-network/gpmd/internal/testutil/wasmtest"
	"github.com/ghost-network/gpmd/wasm"
)

// The upload's pass: the bytes go to the hash and the parser at once, and
// Finish says whether they were a well-formed module.
func ExampleParser() {
	m := &Module{}
	m.Add(SecType, Vec(FuncType([]byte{I32, I32}, []byte{I32})))
	m.Add(SecFunction, Vec([]byte{0}))
	m.Add(SecExport, Vec(Export("add", 0, 0)))
	m.Add(SecCode, Vec(Body(0x20, 0, 0x20, 1, 0x6a)))
	upload := bytes.NewReader(m.Bytes())

	h := sha256.New()
	p := wasm.NewParser()
	if _, err := io.Copy(io.MultiWriter(h, p), upload); err != nil {
		fmt.Println("refused:", err)
		return
	}
	info, err := p.Finish()
	if err != nil {
		fmt.Println("refused:", err)
		return
	}
	fmt.Println(info.Kind, info.Exports[0].Signature())

	// A file cut short is refused with what and where.
	b := m.Bytes()
	_, err = wasm.Parse(b[:len(b)-3])
	fmt.Println(err)
	// Output:
	// module add(i32, i32) -> i32
	// section 10 (code) at byte 30 runs 3 bytes past the end of the file
}
