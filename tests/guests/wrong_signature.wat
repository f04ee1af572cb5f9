;; Imports lunatic::process::process_id with the wrong signature.
(module
  (import "lunatic::process" "process_id" (func $pid (param i32) (result i64)))
  (memory (export "memory") 1)
  (func (export "_start") (drop (call $pid (i32.const 0)))))
