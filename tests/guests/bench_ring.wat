;; Benchmark guest: `ring(n, m)` builds a ring of n processes (the root is one of them) and
;; passes a token m hops in total; each hop is one 8-byte message carrying the hops left.
(module
  (import "lunatic::process" "spawn" (func $spawn (param i64 i64 i64 i32 i32 i32 i32 i32) (result i32)))
  (import "lunatic::process" "process_id" (func $process_id (result i64)))
  (import "lunatic::message" "create_data" (func $create_data (param i64 i64)))
  (import "lunatic::message" "write_data" (func $write_data (param i32 i32) (result i32)))
  (import "lunatic::message" "read_data" (func $read_data (param i32 i32) (result i32)))
  (import "lunatic::message" "send" (func $send (param i64) (result i32)))
  (import "lunatic::message" "receive" (func $receive (param i32 i32 i64) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "node")
  ;; Sends `left` to `next`.
  (func $pass (param $next i64) (param $left i64)
    (i64.store (i32.const 256) (local.get $left))
    (call $create_data (i64.const 0) (i64.const 8))
    (drop (call $write_data (i32.const 256) (i32.const 8)))
    (drop (call $send (local.get $next))))
  (func $take (result i64)
    (drop (call $receive (i32.const 0) (i32.const 0) (i64.const -1)))
    (drop (call $read_data (i32.const 256) (i32.const 8)))
    (i64.load (i32.const 256)))
  ;; A ring node: forwards the token (minus one hop) until it reads 0, which it forwards once.
  (func (export "node") (param $next i64)
    (local $left i64)
    (loop $forwarding
      (local.set $left (call $take))
      (if (i64.eqz (local.get $left))
        (then (call $pass (local.get $next) (i64.const 0)) (return)))
      (call $pass (local.get $next) (i64.sub (local.get $left) (i64.const 1)))
      (br $forwarding)))
  (func (export "ring") (param $n i32) (param $m i64)
    (local $next i64) (local $i i32) (local $left i64)
    (local.set $next (call $process_id))
    ;; spawn n-1 nodes, each pointing at the previously spawned one
    (local.set $i (i32.const 1))
    (block $built
      (loop $building
        (br_if $built (i32.ge_u (local.get $i) (local.get $n)))
        (i32.store8 (i32.const 64) (i32.const 0x7e))
        (i64.store (i32.const 65) (local.get $next))
        (i64.store (i32.const 73) (i64.const 0))
        (if (call $spawn (i64.const 0) (i64.const -1) (i64.const -1) (i32.const 0) (i32.const 4)
              (i32.const 64) (i32.const 17) (i32.const 128))
          (then unreachable))
        (local.set $next (i64.load (i32.const 128)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $building)))
    ;; the root closes the ring
    (call $pass (local.get $next) (i64.sub (local.get $m) (i64.const 1)))
    (loop $forwarding
      (local.set $left (call $take))
      (if (i64.eqz (local.get $left)) (then (return)))
      (call $pass (local.get $next) (i64.sub (local.get $left) (i64.const 1)))
      (br $forwarding))))
