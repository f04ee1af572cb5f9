;; Bare-V8 baseline (bench/bare_v8.ts): the smallest "process" — a one-page memory and an
;; export that calls its one import once.
(module
  (import "h" "send" (func $send))
  (memory 1 2)
  (func (export "run") (call $send)))
