package gmp

import (
	"strconv"
	"testing"

	"github.com/ghost-network/gpmd/gmp/gmptest"
	"github.com/ghost-network/gpmd/gmp/wire"
	"github.com/ghost-network/gpmd/internal/testutil/wasmtest"
)

// mathModule is GMP.md's MODULE_INFO example: it imports env.log(i32) and
// exports add(i32, i32) -> i32.
func mathModule() []byte {
	m := &wasmtest.Module{}
	m.Add(wasmtest.SecType, wasmtest.Vec(
		wasmtest.FuncType([]byte{wasmtest.I32}, nil),
		wasmtest.FuncType([]byte{wasmtest.I32, wasmtest.I32}, []byte{wasmtest.I32}),
	))
	m.Add(wasmtest.SecImport, wasmtest.Vec(wasmtest.Import("env", "log", 0, 0)))
	m.Add(wasmtest.SecFunction, wasmtest.Vec([]byte{1}))
	m.Add(wasmtest.SecExport, wasmtest.Vec(wasmtest.Export("add", 0, 1)))
	m.Add(wasmtest.SecCode, wasmtest.Vec(wasmtest.Body(0x20, 0, 0x20, 1, 0x6a)))
	return m.Bytes()
}

// TestModuleInfoExactly answers MODULE_INFO_REQUEST with the body GMP.md
// shows, resolving versions as MODULE_REQUEST does, with MODULE_NOT_FOUND,
// bad_request and, for bytes stored before uploads were parsed that the
// parser refuses, ERROR internal; the connection stays usable throughout.
func TestModuleInfoExactly(t *testing.T) {
	r := gmptest.RepoWithUnparsed(t, "old", "v0.0.1", []byte{0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, 0xff, 0xff})
	b := mathModule()
	upload(t, r, "math", "v1.2.3", b)
	upload(t, r, "comp", "v1.0.0", []byte{0x00, 0x61, 0x73, 0x6d, 0x0d, 0x00, 0x01, 0x00})
	ts := startServer(t, Config{Modules: r})
	c := dialRaw(t, ts.addr)
	hash := digestOf(b)
	sameJSON(t, []byte(mustJSON(t, c.roundTrip(`{"type":2,"code":6,"id":1,"body":{"name":"math","version":"^1.2"}}`))),
		`{"type":2,"code":7,"id":1,"body":{"name":"math","version":"v1.2.3","hash":"`+hash+`","size":`+strconv.Itoa(len(b))+`,"kind":"module",`+
			`"imports":[{"module":"env","name":"log","kind":"func","params":["i32"],"results":[]}],`+
			`"exports":[{"name":"add","kind":"func","params":["i32","i32"],"results":["i32"]}]}}`)
	sameJSON(t, []byte(mustJSON(t, c.roundTrip(`{"type":2,"code":6,"id":2,"body":{"name":"comp"}}`))),
		`{"type":2,"code":7,"id":2,"body":{"name":"comp","version":"v1.0.0","hash":"`+digestOf([]byte{0x00, 0x61, 0x73, 0x6d, 0x0d, 0x00, 0x01, 0x00})+`","size":8,"kind":"component","imports":[],"exports":[]}}`)
	m := c.roundTrip(`{"type":2,"code":6,"id":3,"body":{"name":"math","version":"2.0.0"}}`)
	expectKind(t, m, wire.TypeWasm, wire.CodeModuleNotFound, float64(3))
	expectError(t, c.roundTrip(`{"type":2,"code":6,"id":4,"body":{"name":"math","version":"not a version"}}`), wire.ErrCodeBadRequest, float64(4))
	expectError(t, c.roundTrip(`{"type":2,"code":6,"id":5,"body":{"name":"old"}}`), wire.ErrCodeInternal, float64(5))
	expectError(t, c.roundTrip(`{"type":2,"code":6,"id":6,"body":{}}`), wire.ErrCodeBadRequest, float64(6))
	expectKind(t, c.roundTrip(`{"type":0,"code":3,"id":7,"body":{}}`), wire.TypeSession, wire.CodePong, float64(7))
}

// TestModuleInfoNotOfferedWithoutStore: a server whose store records
// nothing does not list module_info and answers the request unknown_message.
func TestModuleInfoNotOfferedWithoutStore(t *testing.T) {
	ts := startServer(t, Config{})
	c := dialRaw(t, ts.addr)
	sameJSON(t, []byte(mustJSON(t, c.roundTrip(`{"type":0,"code":1,"id":1,"body":{"versions":[1]}}`))),
		`{"type":0,"code":2,"id":1,"body":{"server":"gpmd","version":1,"max_message":1048576,"features":[]}}`)
	expectError(t, c.roundTrip(`{"type":2,"code":6,"id":2,"body":{"name":"math"}}`), wire.ErrCodeUnknownMessage, float64(2))
}
