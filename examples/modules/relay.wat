;; relay: add_via(a, b) calls math.add on another node through the GVM's
;; host module (gvm.call_i32, docs/gvm.md) and returns its result. It names
;; no peer (peer_len 0), so the call goes to the serving node's default
;; peer: gvm serve --peer NAME.
(module
  (import "gvm" "call_i32"
    (func $call_i32 (param i32 i32 i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "math.add")
  (func (export "add_via") (param i32 i32) (result i32)
    i32.const 0   ;; peer_ptr
    i32.const 0   ;; peer_len 0: the node's default peer (--peer)
    i32.const 0   ;; target_ptr: "math.add"
    i32.const 8   ;; target_len
    local.get 0   ;; a
    local.get 1   ;; b
    call $call_i32))
