;; Benchmark guest: `spawn_idle(n)` spawns n processes that block in receive, each with a
;; config limiting its memory to 2 pages (as small as BEAM's processes are), then returns;
;; the children stay alive until the host kills them.
(module
  (import "lunatic::process" "spawn" (func $spawn (param i64 i64 i64 i32 i32 i32 i32 i32) (result i32)))
  (import "lunatic::process" "create_config" (func $create_config (result i64)))
  (import "lunatic::process" "config_set_max_memory" (func $set_max_memory (param i64 i64)))
  (import "lunatic::message" "receive" (func $receive (param i32 i32 i64) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "idle")
  (func (export "idle") (drop (call $receive (i32.const 0) (i32.const 0) (i64.const -1))))
  (func (export "spawn_idle") (param $n i32)
    (local $config i64) (local $i i32)
    (local.set $config (call $create_config))
    (call $set_max_memory (local.get $config) (i64.const 131072))
    (block $done
      (loop $spawning
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (if (call $spawn (i64.const 0) (local.get $config) (i64.const -1) (i32.const 0) (i32.const 4)
              (i32.const 0) (i32.const 0) (i32.const 64))
          (then unreachable))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $spawning)))))
