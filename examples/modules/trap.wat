;; trap: "boom" always traps (unreachable).
(module
  (func (export "boom")
    unreachable))
