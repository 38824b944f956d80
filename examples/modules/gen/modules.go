package main

// examples are the example modules by file name (without extension); each
// mirrors the .wat of the same name, instruction for instruction.
func examples() map[string]*module {
	binop := funcType{params: []byte{i32, i32}, results: []byte{i32}}
	return map[string]*module{
		"math": {
			types: []funcType{binop},
			funcs: []function{
				{typ: 0, body: code(localGet(0), localGet(1), i32Add)},
				{typ: 0, body: code(localGet(0), localGet(1), i32Mul)},
			},
			exports: []export{{"add", exportFunc, 0}, {"mul", exportFunc, 1}},
		},
		"math_v2": {
			types: []funcType{binop},
			funcs: []function{
				{typ: 0, body: code(localGet(0), localGet(1), i32Add, i32Const(1000), i32Add)},
				{typ: 0, body: code(localGet(0), localGet(1), i32Mul)},
			},
			exports: []export{{"add", exportFunc, 0}, {"mul", exportFunc, 1}},
		},
		"hello": {
			types: []funcType{
				{params: []byte{i32, i32, i32, i32}, results: []byte{i32}},
				{},
			},
			imports: []importFunc{{"wasi_snapshot_preview1", "fd_write", 0}},
			funcs: []function{
				{typ: 1, body: code(i32Const(1), i32Const(0), i32Const(1), i32Const(32), call(0), drop)},
			},
			memory:  1,
			exports: []export{{"memory", exportMemory, 0}, {"hello", exportFunc, 1}},
			data: []data{
				{0, []byte{16, 0, 0, 0, 16, 0, 0, 0}},
				{16, []byte("hello from wasm\n")},
			},
		},
		"trap": {
			types:   []funcType{{}},
			funcs:   []function{{typ: 0, body: unreachable}},
			exports: []export{{"boom", exportFunc, 0}},
		},
		"relay": {
			types: []funcType{
				{params: []byte{i32, i32, i32, i32, i32, i32}, results: []byte{i32}},
				binop,
			},
			imports: []importFunc{{"gvm", "call_i32", 0}},
			funcs: []function{
				{typ: 1, body: code(i32Const(0), i32Const(0), i32Const(0), i32Const(8), localGet(0), localGet(1), call(0))},
			},
			memory:  1,
			exports: []export{{"memory", exportMemory, 0}, {"add_via", exportFunc, 1}},
			data:    []data{{0, []byte("math.add")}},
		},
		"needsenv": {
			types:   []funcType{{params: []byte{i32}}, {}},
			imports: []importFunc{{"env", "log", 0}},
			funcs:   []function{{typ: 1, body: code(i32Const(42), call(0))}},
			exports: []export{{"run", exportFunc, 1}},
		},
	}
}
