;; math v0.0.2: add differs (a + b + 1000), so that running "latest" shows
;; which version answered; mul is unchanged.
(module
  (func (export "add") (param i32 i32) (result i32)
    local.get 0
    local.get 1
    i32.add
    i32.const 1000
    i32.add)
  (func (export "mul") (param i32 i32) (result i32)
    local.get 0
    local.get 1
    i32.mul))
