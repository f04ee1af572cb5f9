;; Bare-V8 baseline (bench/bare_v8.ts): a ring node receives (0 means stop) and sends on.
(module
  (import "h" "send" (func $send))
  (import "h" "receive" (func $receive (result i32)))
  (memory 1 2)
  (func (export "run")
    (loop $again
      (br_if 1 (i32.eqz (call $receive)))
      (call $send)
      (br $again))))
