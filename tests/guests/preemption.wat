;; Guests for preemption, fuel, memory limits and fault containment. Each export is run as a
;; root (or spawned) by tests/preemption.test.ts; results are printed as `label=value` lines.
(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "lunatic::process" "spawn" (func $spawn (param i64 i64 i64 i32 i32 i32 i32 i32) (result i32)))
  (import "lunatic::process" "process_id" (func $process_id (result i64)))
  (import "lunatic::process" "kill" (func $kill (param i64)))
  (import "lunatic::process" "sleep_ms" (func $sleep_ms (param i64)))
  (import "lunatic::process" "create_config" (func $create_config (result i64)))
  (import "lunatic::process" "config_set_max_fuel" (func $set_max_fuel (param i64 i64)))
  (import "lunatic::process" "config_set_max_memory" (func $set_max_memory (param i64 i64)))
  (import "lunatic::process" "config_set_can_spawn_processes" (func $set_can_spawn (param i64 i32)))
  (import "lunatic::message" "create_data" (func $create_data (param i64 i64)))
  (import "lunatic::message" "write_data" (func $write_data (param i32 i32) (result i32)))
  (import "lunatic::message" "read_data" (func $read_data (param i32 i32) (result i32)))
  (import "lunatic::message" "send" (func $send (param i64) (result i32)))
  (import "lunatic::message" "receive" (func $receive (param i32 i32 i64) (result i32)))
  (import "lunatic::error" "string_size" (func $error_size (param i64) (result i32)))
  (import "lunatic::error" "to_string" (func $error_text (param i64 i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "spin")        ;; 0..4
  (data (i32.const 8) "pong")        ;; 8..12
  (data (i32.const 16) "count_to")   ;; 16..24
  (data (i32.const 32) "grow")       ;; 32..36
  (data (i32.const 40) "recurse")    ;; 40..47
  (data (i32.const 48) "spin_then_report") ;; 48..64

  ;; ---- printing: label at (ptr,len), then "=", a signed decimal, newline
  (func $print_raw (param $ptr i32) (param $len i32)
    (i32.store (i32.const 512) (local.get $ptr))
    (i32.store (i32.const 516) (local.get $len))
    (drop (call $fd_write (i32.const 1) (i32.const 512) (i32.const 1) (i32.const 520))))
  (func $print (param $ptr i32) (param $len i32) (param $value i64)
    (local $p i32) (local $neg i32) (local $v i64)
    (memory.copy (i32.const 600) (local.get $ptr) (local.get $len))
    (local.set $p (i32.add (i32.const 600) (local.get $len)))
    (i32.store8 (local.get $p) (i32.const 61))
    (local.set $p (i32.add (local.get $p) (i32.const 1)))
    (local.set $v (local.get $value))
    (if (i64.lt_s (local.get $v) (i64.const 0))
      (then (i32.store8 (local.get $p) (i32.const 45))
            (local.set $p (i32.add (local.get $p) (i32.const 1)))
            (local.set $v (i64.sub (i64.const 0) (local.get $v)))))
    ;; digits into 760.. backwards
    (local.set $neg (i32.const 780))
    (loop $digits
      (local.set $neg (i32.sub (local.get $neg) (i32.const 1)))
      (i32.store8 (local.get $neg) (i32.add (i32.const 48) (i32.wrap_i64 (i64.rem_u (local.get $v) (i64.const 10)))))
      (local.set $v (i64.div_u (local.get $v) (i64.const 10)))
      (br_if $digits (i64.ne (local.get $v) (i64.const 0))))
    (memory.copy (local.get $p) (local.get $neg) (i32.sub (i32.const 780) (local.get $neg)))
    (local.set $p (i32.add (local.get $p) (i32.sub (i32.const 780) (local.get $neg))))
    (i32.store8 (local.get $p) (i32.const 10))
    (call $print_raw (i32.const 600) (i32.sub (i32.add (local.get $p) (i32.const 1)) (i32.const 600))))
  (data (i32.const 300) "pongs")          ;; 300..305
  (data (i32.const 310) "spawn_result")   ;; 310..322
  (data (i32.const 330) "grow_ok")        ;; 330..337
  (data (i32.const 340) "grow_past_limit");; 340..355
  (data (i32.const 360) "woke")           ;; 360..364
  (data (i32.const 370) "counted")        ;; 370..377

  ;; params: a single i64 record at 64..81
  (func $param_i64 (param $value i64)
    (i32.store8 (i32.const 64) (i32.const 0x7e))
    (i64.store (i32.const 65) (local.get $value))
    (i64.store (i32.const 73) (i64.const 0)))
  (func $spawn_with (param $config i64) (param $name i32) (param $len i32) (param $params i32) (result i64)
    (if (call $spawn (i64.const 0) (local.get $config) (i64.const -1) (local.get $name) (local.get $len)
          (i32.const 64) (local.get $params) (i32.const 96))
      (then (return (i64.const -1))))
    (i64.load (i32.const 96)))

  ;; ---- an infinite loop with no host calls
  (func $spin (export "spin")
    (loop $forever (br $forever)))

  ;; ---- replies to every message with an empty one, forever
  (func (export "pong") (param $peer i64)
    (loop $serving
      (drop (call $receive (i32.const 0) (i32.const 0) (i64.const -1)))
      (call $create_data (i64.const 0) (i64.const 0))
      (drop (call $send (local.get $peer)))
      (br $serving)))

  ;; ---- root: 4 spinners, then 200 ping-pong round trips and a 20 ms sleep; prints and
  ;; kills the spinners (which are running, not suspended).
  (func (export "spinners_and_ping_pong")
    (local $i i32) (local $pong i64)
    (call $param_i64 (i64.const 0))
    (loop $spinners
      (i64.store (i32.add (i32.const 1024) (i32.shl (local.get $i) (i32.const 3)))
        (call $spawn_with (i64.const -1) (i32.const 0) (i32.const 4) (i32.const 0)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $spinners (i32.lt_u (local.get $i) (i32.const 4))))
    (call $param_i64 (call $process_id))
    (local.set $pong (call $spawn_with (i64.const -1) (i32.const 8) (i32.const 4) (i32.const 17)))
    (local.set $i (i32.const 0))
    (loop $pinging
      (call $create_data (i64.const 0) (i64.const 0))
      (drop (call $send (local.get $pong)))
      (drop (call $receive (i32.const 0) (i32.const 0) (i64.const -1)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $pinging (i32.lt_u (local.get $i) (i32.const 200))))
    (call $print (i32.const 300) (i32.const 5) (i64.extend_i32_u (local.get $i)))
    (call $sleep_ms (i64.const 20))
    (call $print (i32.const 360) (i32.const 4) (i64.const 1))
    (local.set $i (i32.const 0))
    (loop $killing
      (call $kill (i64.load (i32.add (i32.const 1024) (i32.shl (local.get $i) (i32.const 3)))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $killing (i32.lt_u (local.get $i) (i32.const 4))))
    (call $kill (local.get $pong)))

  ;; ---- counts to n in a loop, then prints
  (func $count_to (export "count_to") (param $n i64)
    (local $i i64)
    (loop $counting
      (local.set $i (i64.add (local.get $i) (i64.const 1)))
      (br_if $counting (i64.lt_u (local.get $i) (local.get $n))))
    (call $print (i32.const 370) (i32.const 7) (local.get $i)))

  ;; ---- root: spawns count_to(n) under a config with max_fuel = units
  (func (export "fuel_limited") (param $units i64) (param $n i64)
    (local $config i64)
    (local.set $config (call $create_config))
    (call $set_max_fuel (local.get $config) (local.get $units))
    (call $param_i64 (local.get $n))
    (drop (call $spawn_with (local.get $config) (i32.const 16) (i32.const 8) (i32.const 17)))
    (call $sleep_ms (i64.const 50)))

  ;; ---- grows memory by one page at a time; prints how many grows worked before -1
  (func (export "grow")
    (local $n i64)
    (block $refused
      (loop $growing
        (br_if $refused (i32.eq (memory.grow (i32.const 1)) (i32.const -1)))
        (local.set $n (i64.add (local.get $n) (i64.const 1)))
        (br $growing)))
    (call $print (i32.const 330) (i32.const 7) (local.get $n))
    (call $print (i32.const 340) (i32.const 15) (i64.const -1)))

  ;; ---- root: spawns `grow` with max_memory = bytes; prints spawn's result (0/1)
  (func (export "memory_limited") (param $bytes i64)
    (local $config i64) (local $result i64)
    (local.set $config (call $create_config))
    (call $set_max_memory (local.get $config) (local.get $bytes))
    (local.set $result (call $spawn_with (local.get $config) (i32.const 32) (i32.const 4) (i32.const 0)))
    (if (i64.eq (local.get $result) (i64.const -1))
      (then
        (call $print (i32.const 310) (i32.const 12) (i64.const 1))
        (local.set $result (i64.load (i32.const 96)))
        (call $error_text (local.get $result) (i32.const 2048))
        (call $print_raw (i32.const 2048) (call $error_size (local.get $result))))
      (else (call $print (i32.const 310) (i32.const 12) (i64.const 0))))
    (call $sleep_ms (i64.const 30)))

  ;; ---- unbounded recursion: overflows the stack
  (func $recurse (export "recurse") (param $depth i64)
    (call $recurse (i64.add (local.get $depth) (i64.const 1))))

  ;; ---- root: spawns `recurse` and a spinner-free pong, checks pong still answers
  (func (export "overflow_is_contained")
    (local $pong i64)
    (call $param_i64 (i64.const 0))
    (drop (call $spawn_with (i64.const -1) (i32.const 40) (i32.const 7) (i32.const 17)))
    (call $sleep_ms (i64.const 20))
    (call $param_i64 (call $process_id))
    (local.set $pong (call $spawn_with (i64.const -1) (i32.const 8) (i32.const 4) (i32.const 17)))
    (call $create_data (i64.const 0) (i64.const 0))
    (drop (call $send (local.get $pong)))
    (drop (call $receive (i32.const 0) (i32.const 0) (i64.const -1)))
    (call $print (i32.const 300) (i32.const 5) (i64.const 1))
    (call $kill (local.get $pong)))

  ;; ---- kills itself, then spins: the kill must take effect at the next check
  (func (export "kill_self_then_spin")
    (call $kill (call $process_id))
    (call $spin)))
