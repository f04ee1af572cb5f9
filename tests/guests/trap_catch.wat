;; trap_catch: lunatic::trap::catch (tests/trap_catch.test.ts).
;;
;; The host calls this module's export `_lunatic_catch_trap(function, pointer)`, which does
;; what lunatic-rs's does: `call_indirect function(pointer)` through the function table (a
;; function "pointer" is a table index). catch returns what that returns, or 0 if it traps.
;;
;; Table slots (the `function` argument):
;;   0 ok          returns pointer + 1000
;;   1 unreachable
;;   2 oob         loads from 0xfffffff0
;;   3 host trap   lunatic::error::drop of an unknown error ID
;;   4 blocking    receive (waits for a message), sleep_ms(5), returns the i64 it carried
;;   5 wait        receive with a tag nobody sends (killed while waiting)
;;   6 nested      catch(1, 0) + 7: a trap in a nested catch is caught there
;;   7 exit        proc_exit(3)
;;   8 div0        i32.div_s by zero
;;   9 recurse     unbounded recursion (call stack exhausted)
;;  10 host trap in a suspending host function: receive with its tag list outside memory
;;  11 after a suspension: sleep_ms(1), then unreachable
;; Every inner function first increments the global $entered, so the state a trap leaves
;; behind is visible afterwards.
(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))
  (import "lunatic::trap" "catch" (func $catch (param i32 i32) (result i32)))
  (import "lunatic::error" "drop" (func $error_drop (param i64)))
  (import "lunatic::process" "spawn"
    (func $spawn_raw (param i64 i64 i64 i32 i32 i32 i32 i32) (result i32)))
  (import "lunatic::process" "process_id" (func $process_id (result i64)))
  (import "lunatic::process" "monitor" (func $monitor (param i64)))
  (import "lunatic::process" "kill" (func $kill (param i64)))
  (import "lunatic::process" "sleep_ms" (func $sleep_ms (param i64)))
  (import "lunatic::message" "create_data" (func $create_data (param i64 i64)))
  (import "lunatic::message" "write_data" (func $write_data (param i32 i32) (result i32)))
  (import "lunatic::message" "read_data" (func $read_data (param i32 i32) (result i32)))
  (import "lunatic::message" "get_process_id" (func $get_process_id (result i64)))
  (import "lunatic::message" "send" (func $send (param i64) (result i32)))
  (import "lunatic::message" "receive" (func $receive (param i32 i32 i64) (result i32)))

  ;; Memory map: 0x00 iovec, 0x08 nwritten, 0x10-0x3f digits, 0x40-0x1bf line buffer,
  ;; 0x1d0 spawn parameter record, 0x1f0 tag list, 0x1f8 spawn result, 0x200-0xfff scratch,
  ;; 0x1000- NUL-terminated strings in 64-byte slots.
  (memory (export "memory") 1)

  (type $inner (func (param i32) (result i32)))
  (table 12 funcref)
  (elem (i32.const 0)
    $ok $unreachable $oob $host_trap $blocking $wait $nested $exit $div0 $recurse
    $suspending_trap $trap_after_sleep)

  (global $entered (mut i32) (i32.const 0))

  (func (export "_lunatic_catch_trap") (param $function i32) (param $pointer i32) (result i32)
    (call_indirect (type $inner) (local.get $pointer) (local.get $function)))

  ;; Writes `len` bytes at `ptr` to stdout.
  (func $write (param $ptr i32) (param $len i32)
    (i32.store (i32.const 0x00) (local.get $ptr))
    (i32.store (i32.const 0x04) (local.get $len))
    (drop (call $fd_write (i32.const 1) (i32.const 0x00) (i32.const 1) (i32.const 0x08))))

  (func $strlen (param $p i32) (result i32)
    (local $n i32)
    (block $done
      (loop $next
        (br_if $done (i32.eqz (i32.load8_u (i32.add (local.get $p) (local.get $n)))))
        (local.set $n (i32.add (local.get $n) (i32.const 1)))
        (br $next)))
    (local.get $n))

  ;; Copies `len` bytes to `dst`; returns the end.
  (func $append (param $dst i32) (param $src i32) (param $len i32) (result i32)
    (memory.copy (local.get $dst) (local.get $src) (local.get $len))
    (i32.add (local.get $dst) (local.get $len)))

  ;; Writes `v` in signed decimal at `dst`; returns the end.
  (func $itoa (param $dst i32) (param $v i64) (result i32)
    (local $p i32) (local $u i64)
    (local.set $u (local.get $v))
    (if (i64.lt_s (local.get $v) (i64.const 0))
      (then
        (i32.store8 (local.get $dst) (i32.const 0x2d))
        (local.set $dst (i32.add (local.get $dst) (i32.const 1)))
        (local.set $u (i64.sub (i64.const 0) (local.get $v)))))
    (local.set $p (i32.const 0x40))
    (loop $digit
      (local.set $p (i32.sub (local.get $p) (i32.const 1)))
      (i32.store8 (local.get $p)
        (i32.add (i32.const 0x30) (i32.wrap_i64 (i64.rem_u (local.get $u) (i64.const 10)))))
      (local.set $u (i64.div_u (local.get $u) (i64.const 10)))
      (br_if $digit (i64.ne (local.get $u) (i64.const 0))))
    (call $append (local.get $dst) (local.get $p) (i32.sub (i32.const 0x40) (local.get $p))))

  ;; Writes the line in the line buffer that ends at `end` (a newline is added).
  (func $flush (param $end i32)
    (i32.store8 (local.get $end) (i32.const 0x0a))
    (call $write (i32.const 0x40) (i32.sub (i32.add (local.get $end) (i32.const 1)) (i32.const 0x40))))

  ;; Starts a line with the NUL-terminated `label`; returns the end.
  (func $label (param $label i32) (result i32)
    (call $append (i32.const 0x40) (local.get $label) (call $strlen (local.get $label))))

  ;; Prints "<label>\n".
  (func $say (param $label i32)
    (call $flush (call $label (local.get $label))))

  ;; Prints "<label>=<v>\n" (v as signed decimal), in one write.
  (func $kv (param $label i32) (param $v i64)
    (local $end i32)
    (local.set $end (call $label (local.get $label)))
    (i32.store8 (local.get $end) (i32.const 0x3d))
    (call $flush (call $itoa (i32.add (local.get $end) (i32.const 1)) (local.get $v))))

  ;; Spawns export `name` (NUL-terminated, same module and config) with this process's PID
  ;; as its i64 parameter, monitored; returns the PID.
  (func $spawn_child (param $name i32) (result i64)
    (local $pid i64)
    (i32.store8 (i32.const 0x1d0) (i32.const 0x7e))
    (i64.store (i32.const 0x1d1) (call $process_id))
    (i64.store (i32.const 0x1d9) (i64.const 0))
    (if (call $spawn_raw (i64.const 0) (i64.const -1) (i64.const -1)
          (local.get $name) (call $strlen (local.get $name))
          (i32.const 0x1d0) (i32.const 17) (i32.const 0x1f8))
      (then unreachable))
    (local.set $pid (i64.load (i32.const 0x1f8)))
    (call $monitor (local.get $pid))
    (local.get $pid))

  ;; Receives until the ProcessDied of `pid`; prints "<label>=<pid>".
  (func $await_death (param $label i32) (param $pid i64)
    (loop $next
      (br_if $next (i32.ne (call $receive (i32.const 0) (i32.const 0) (i64.const -1)) (i32.const 2)))
      (br_if $next (i64.ne (call $get_process_id) (local.get $pid))))
    (call $kv (local.get $label) (local.get $pid)))

  (func $enter
    (global.set $entered (i32.add (global.get $entered) (i32.const 1))))

  ;; ---- Inner functions ---------------------------------------------------------------------

  (func $ok (param $p i32) (result i32)
    (call $enter)
    (i32.add (local.get $p) (i32.const 1000)))

  (func $unreachable (param $p i32) (result i32)
    (call $enter)
    (unreachable))

  (func $oob (param $p i32) (result i32)
    (call $enter)
    (i32.load (i32.const 0xfffffff0)))

  (func $host_trap (param $p i32) (result i32)
    (call $enter)
    (call $error_drop (i64.const 12345))
    (i32.const 1))

  (func $blocking (param $p i32) (result i32)
    (call $enter)
    (call $say (i32.const 0x1300))
    (drop (call $receive (i32.const 0) (i32.const 0) (i64.const -1)))
    (drop (call $read_data (i32.const 0x300) (i32.const 8)))
    (call $sleep_ms (i64.const 5))
    (call $say (i32.const 0x1340))
    (i32.wrap_i64 (i64.load (i32.const 0x300))))

  (func $wait (param $p i32) (result i32)
    (call $enter)
    (i64.store (i32.const 0x1f0) (i64.const 99))
    (drop (call $receive (i32.const 0x1f0) (i32.const 1) (i64.const -1)))
    (i32.const 1))

  (func $nested (param $p i32) (result i32)
    (call $enter)
    (i32.add (call $catch (i32.const 1) (i32.const 0)) (i32.const 7)))

  (func $exit (param $p i32) (result i32)
    (call $enter)
    (call $proc_exit (i32.const 3))
    (i32.const 1))

  (func $div0 (param $p i32) (result i32)
    (call $enter)
    (i32.div_s (local.get $p) (i32.const 0)))

  (func $recurse (param $p i32) (result i32)
    (call $enter)
    (i32.add (call $recurse (i32.add (local.get $p) (i32.const 1))) (i32.const 1)))

  (func $suspending_trap (param $p i32) (result i32)
    (call $enter)
    (drop (call $receive (i32.const 0xfffffff0) (i32.const 4) (i64.const -1)))
    (i32.const 1))

  (func $trap_after_sleep (param $p i32) (result i32)
    (call $enter)
    (call $sleep_ms (i64.const 1))
    (unreachable))

  ;; ---- Labels ------------------------------------------------------------------------------

  (data (i32.const 0x1000) "catch ok\00")
  (data (i32.const 0x1040) "catch unreachable\00")
  (data (i32.const 0x1080) "catch oob\00")
  (data (i32.const 0x10c0) "catch host_trap\00")
  (data (i32.const 0x1100) "catch nested\00")
  (data (i32.const 0x1140) "catch div0\00")
  (data (i32.const 0x1180) "catch recurse\00")
  (data (i32.const 0x11c0) "entered\00")
  (data (i32.const 0x1200) "still running\00")
  (data (i32.const 0x1240) "catch blocking\00")
  (data (i32.const 0x1280) "sender\00")
  (data (i32.const 0x12c0) "victim\00")
  (data (i32.const 0x1300) "inner: waiting for a message\00")
  (data (i32.const 0x1340) "inner: got it and slept\00")
  (data (i32.const 0x1380) "victim: entering catch\00")
  (data (i32.const 0x13c0) "victim: NOT REACHED\00")
  (data (i32.const 0x1400) "killed\00")
  (data (i32.const 0x1440) "ended\00")
  (data (i32.const 0x1480) "catch exit: entering\00")
  (data (i32.const 0x14c0) "catch exit: NOT REACHED\00")
  (data (i32.const 0x1500) "sender: sending 77\00")
  (data (i32.const 0x1540) "catch recurse: entering\00")
  (data (i32.const 0x1580) "catch suspending_trap\00")
  (data (i32.const 0x15c0) "catch trap_after_sleep\00")

  ;; ---- Scenarios ---------------------------------------------------------------------------

  (func (export "results")
    (call $kv (i32.const 0x1000) (i64.extend_i32_s (call $catch (i32.const 0) (i32.const 41))))
    (call $kv (i32.const 0x1040) (i64.extend_i32_s (call $catch (i32.const 1) (i32.const 0))))
    (call $kv (i32.const 0x1080) (i64.extend_i32_s (call $catch (i32.const 2) (i32.const 0))))
    (call $kv (i32.const 0x10c0) (i64.extend_i32_s (call $catch (i32.const 3) (i32.const 0))))
    (call $kv (i32.const 0x1100) (i64.extend_i32_s (call $catch (i32.const 6) (i32.const 0))))
    (call $kv (i32.const 0x1140) (i64.extend_i32_s (call $catch (i32.const 8) (i32.const 5))))
    (call $kv (i32.const 0x1580) (i64.extend_i32_s (call $catch (i32.const 10) (i32.const 0))))
    (call $kv (i32.const 0x15c0) (i64.extend_i32_s (call $catch (i32.const 11) (i32.const 0))))
    (call $kv (i32.const 0x1000) (i64.extend_i32_s (call $catch (i32.const 0) (i32.const 2))))
    (call $kv (i32.const 0x11c0) (i64.extend_i32_u (global.get $entered)))
    (call $say (i32.const 0x1200)))

  (func (export "recursion")
    (call $say (i32.const 0x1540))
    (call $kv (i32.const 0x1180) (i64.extend_i32_s (call $catch (i32.const 9) (i32.const 0))))
    (call $kv (i32.const 0x1000) (i64.extend_i32_s (call $catch (i32.const 0) (i32.const 1))))
    (call $say (i32.const 0x1200)))

  ;; Sends the i64 77 to `parent` after 10 ms.
  (func (export "sender") (param $parent i64)
    (call $sleep_ms (i64.const 10))
    (call $say (i32.const 0x1500))
    (i64.store (i32.const 0x300) (i64.const 77))
    (call $create_data (i64.const 0) (i64.const 0))
    (drop (call $write_data (i32.const 0x300) (i32.const 8)))
    (drop (call $send (local.get $parent))))

  (func (export "blocking")
    (local $sender i64)
    (local.set $sender (call $spawn_child (i32.const 0x1280)))
    (call $kv (i32.const 0x1240) (i64.extend_i32_s (call $catch (i32.const 4) (i32.const 0))))
    (call $await_death (i32.const 0x1440) (local.get $sender)))

  (func (export "victim") (param $parent i64)
    (call $say (i32.const 0x1380))
    (drop (call $catch (i32.const 5) (i32.const 0)))
    (call $say (i32.const 0x13c0)))

  (func (export "kill_inside")
    (local $victim i64)
    (local.set $victim (call $spawn_child (i32.const 0x12c0)))
    (call $sleep_ms (i64.const 10)) ;; the victim is now waiting inside catch
    (call $kill (local.get $victim))
    (call $await_death (i32.const 0x1400) (local.get $victim)))

  (func (export "exit_inside")
    (call $say (i32.const 0x1480))
    (drop (call $catch (i32.const 7) (i32.const 0)))
    (call $say (i32.const 0x14c0)))
)
