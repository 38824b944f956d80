;; needsenv: imports env.log, which the reference GVM does not provide:
;; running it shows the error for an import the GVM cannot satisfy.
(module
  (import "env" "log" (func $log (param i32)))
  (func (export "run")
    i32.const 42
    call $log))
