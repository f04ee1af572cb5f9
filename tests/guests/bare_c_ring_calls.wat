;; Bare-V8 baseline (bench/bare_v8.ts, `c-ring-calls`): the C ring's hop (examples/ring.c) as
;; its lunatic calls alone, with their signatures: receive (suspending), read_data twice,
;; create_data, write_data twice, send. The host functions do nothing but pass the token on,
;; so this is what V8 charges for the calls of one hop, with none of a runtime's work.
(module
  (import "h" "receive" (func $receive (param i32 i32 i64) (result i32)))
  (import "h" "read_data" (func $read (param i32 i32) (result i32)))
  (import "h" "create_data" (func $create (param i64 i64)))
  (import "h" "write_data" (func $write (param i32 i32) (result i32)))
  (import "h" "send" (func $send (param i64) (result i32)))
  (memory 2 2)
  (func (export "run") (param $next i64)
    (loop $again
      (br_if 1 (i32.eqz (call $receive (i32.const 1024) (i32.const 1) (i64.const -1))))
      (drop (call $read (i32.const 2048) (i32.const 8)))
      (drop (call $read (i32.const 2056) (i32.const 8)))
      (call $create (i64.const 2) (i64.const 16))
      (drop (call $write (i32.const 2048) (i32.const 8)))
      (drop (call $write (i32.const 2056) (i32.const 8)))
      (drop (call $send (local.get $next)))
      (br $again))))
