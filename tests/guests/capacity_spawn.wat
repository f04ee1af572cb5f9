;; Spawns `sleeper` processes (which block in receive) until spawn fails, then prints how
;; many it spawned and the error text, kills them all and returns.
(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "lunatic::process" "spawn" (func $spawn (param i64 i64 i64 i32 i32 i32 i32 i32) (result i32)))
  (import "lunatic::process" "kill" (func $kill (param i64)))
  (import "lunatic::message" "receive" (func $receive (param i32 i32 i64) (result i32)))
  (import "lunatic::error" "string_size" (func $error_size (param i64) (result i32)))
  (import "lunatic::error" "to_string" (func $error_text (param i64 i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "sleeper")
  (func (export "sleeper") (drop (call $receive (i32.const 0) (i32.const 0) (i64.const -1))))
  (func $print (param $ptr i32) (param $len i32)
    (i32.store (i32.const 16) (local.get $ptr))
    (i32.store (i32.const 20) (local.get $len))
    (drop (call $fd_write (i32.const 1) (i32.const 16) (i32.const 1) (i32.const 24))))
  (func (export "_start")
    (local $count i32) (local $error i64) (local $len i32) (local $i i32)
    (block $failed
      (loop $spawning
        (br_if $failed (call $spawn (i64.const 0) (i64.const -1) (i64.const -1) (i32.const 0)
          (i32.const 7) (i32.const 0) (i32.const 0) (i32.add (i32.const 1024) (i32.shl (local.get $count) (i32.const 3)))))
        (local.set $count (i32.add (local.get $count) (i32.const 1)))
        (br_if $spawning (i32.lt_u (local.get $count) (i32.const 1000)))))
    ;; "spawned=" + one digit count (the test keeps it below 10) + newline
    (i64.store (i32.const 32) (i64.const 0x3d64656e77617073))
    (i32.store8 (i32.const 40) (i32.add (i32.const 48) (local.get $count)))
    (i32.store8 (i32.const 41) (i32.const 10))
    (call $print (i32.const 32) (i32.const 10))
    (local.set $error (i64.load (i32.add (i32.const 1024) (i32.shl (local.get $count) (i32.const 3)))))
    (local.set $len (call $error_size (local.get $error)))
    (call $error_text (local.get $error) (i32.const 4096))
    (call $print (i32.const 4096) (local.get $len))
    (block $done
      (loop $killing
        (br_if $done (i32.ge_u (local.get $i) (local.get $count)))
        (call $kill (i64.load (i32.add (i32.const 1024) (i32.shl (local.get $i) (i32.const 3)))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $killing)))))
