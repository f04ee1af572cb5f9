;; The root waits for a message nobody will ever send.
(module
  (import "lunatic::message" "receive" (func $receive (param i32 i32 i64) (result i32)))
  (memory (export "memory") 1)
  (func (export "_start") (drop (call $receive (i32.const 0) (i32.const 0) (i64.const -1)))))
