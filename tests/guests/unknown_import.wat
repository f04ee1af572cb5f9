;; Imports a host function the runtime does not provide.
(module
  (import "lunatic::nonexistent" "frobnicate" (func $f (param i32)))
  (memory (export "memory") 1)
  (func (export "_start") (call $f (i32.const 1))))
