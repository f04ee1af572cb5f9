;; Benchmark guest: `spawn_many(n, max_memory)` spawns n processes running `child`, each of
;; which sends one empty message back; it returns once all n have reported. The children run
;; with a config limiting their memory to `max_memory` bytes (0: the parent's config).
(module
  (import "lunatic::process" "spawn" (func $spawn (param i64 i64 i64 i32 i32 i32 i32 i32) (result i32)))
  (import "lunatic::process" "process_id" (func $process_id (result i64)))
  (import "lunatic::process" "create_config" (func $create_config (result i64)))
  (import "lunatic::process" "config_set_max_memory" (func $set_max_memory (param i64 i64)))
  (import "lunatic::message" "create_data" (func $create_data (param i64 i64)))
  (import "lunatic::message" "send" (func $send (param i64) (result i32)))
  (import "lunatic::message" "receive" (func $receive (param i32 i32 i64) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "child")
  (func (export "child") (param $parent i64)
    (call $create_data (i64.const 0) (i64.const 0))
    (drop (call $send (local.get $parent))))
  (func (export "spawn_many") (param $n i32) (param $max_memory i64)
    (local $i i32) (local $config i64)
    (local.set $config (i64.const -1))
    (if (i64.ne (local.get $max_memory) (i64.const 0))
      (then
        (local.set $config (call $create_config))
        (call $set_max_memory (local.get $config) (local.get $max_memory))))
    ;; one i64 parameter record: the parent's process id
    (i32.store8 (i32.const 64) (i32.const 0x7e))
    (i64.store (i32.const 65) (call $process_id))
    (i64.store (i32.const 73) (i64.const 0))
    (block $done
      (loop $spawning
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (if (call $spawn (i64.const 0) (local.get $config) (i64.const -1) (i32.const 0) (i32.const 5)
              (i32.const 64) (i32.const 17) (i32.const 128))
          (then unreachable))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $spawning)))
    (local.set $i (i32.const 0))
    (block $all_reported
      (loop $waiting
        (br_if $all_reported (i32.ge_u (local.get $i) (local.get $n)))
        (drop (call $receive (i32.const 0) (i32.const 0) (i64.const -1)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $waiting)))))
