;; hello: imports WASI preview 1 and prints "hello from wasm\n" to stdout
;; from its exported function "hello" (no _start: instantiating it prints
;; nothing).
(module
  (import "wasi_snapshot_preview1" "fd_write"
    (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  ;; iovec at 0: {buf = 16, len = 16}; the text at 16; nwritten at 32.
  (data (i32.const 0) "\10\00\00\00\10\00\00\00")
  (data (i32.const 16) "hello from wasm\n")
  (func (export "hello")
    i32.const 1   ;; fd 1: stdout
    i32.const 0   ;; iovs
    i32.const 1   ;; iovs_len
    i32.const 32  ;; nwritten
    call $fd_write
    drop))
