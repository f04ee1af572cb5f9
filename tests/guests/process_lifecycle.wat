;; process_lifecycle: how processes end, and sleep_ms / kill.
;;
;; Each `end_*` export ends one way; the tests run them as the root (entry option) and as
;; children of `_start`, which spawns every one, monitors it and waits for its ProcessDied:
;;   end_return       returns                          -> normal
;;   end_trap         executes `unreachable`           -> failure
;;   end_exit0        calls proc_exit(0)               -> normal
;;   end_exit7        calls proc_exit(7)               -> failure, exit code 7
;;   end_kill_self    kill(own pid), then sleep_ms(1)  -> failure (killed) at the sleep
;;   blocked          waits in receive (60 s timeout); `_start` kills it
;;   sleeping         sleeps 60 s; `_start` kills it (the kills must cancel both timers)
;; `sleep_order` shows that sleep_ms suspends only the caller: a sleeper spawned first
;; prints after a process spawned later that does not sleep.
(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "lunatic::process" "spawn"
    (func $spawn_raw (param i64 i64 i64 i32 i32 i32 i32 i32) (result i32)))
  (import "lunatic::process" "process_id" (func $process_id (result i64)))
  (import "lunatic::process" "monitor" (func $monitor (param i64)))
  (import "lunatic::message" "create_data" (func $create_data (param i64 i64)))
  (import "lunatic::message" "write_data" (func $write_data (param i32 i32) (result i32)))
  (import "lunatic::message" "read_data" (func $read_data (param i32 i32) (result i32)))
  (import "lunatic::message" "get_process_id" (func $get_process_id (result i64)))
  (import "lunatic::message" "send" (func $send (param i64) (result i32)))
  (import "lunatic::message" "receive" (func $receive (param i32 i32 i64) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))
  (import "lunatic::process" "kill" (func $kill (param i64)))
  (import "lunatic::process" "sleep_ms" (func $sleep_ms (param i64)))
  (import "lunatic::process" "exists" (func $exists (param i64) (result i32)))
  ;; ---- Helpers shared by the WAT test guests -------------------------------------------
  ;; Memory map: 0x00 iovec, 0x08 nwritten, 0x10-0x3f digits, 0x40-0x1bf line buffer,
  ;; 0x1d0 spawn parameter record, 0x1f0 tag list, 0x1f8 spawn result, 0x200-0xfff scratch,
  ;; 0x1000- NUL-terminated strings in 32-byte slots.
  (memory (export "memory") 1)

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

  ;; Prints "<label>=<len bytes at ptr>\n".
  (func $ks (param $label i32) (param $ptr i32) (param $len i32)
    (local $end i32)
    (local.set $end (call $label (local.get $label)))
    (i32.store8 (local.get $end) (i32.const 0x3d))
    (call $flush
      (call $append (i32.add (local.get $end) (i32.const 1)) (local.get $ptr) (local.get $len))))

  ;; Writes a spawn parameter record (type byte, then the value as u128 LE) at `at`.
  (func $param_i64 (param $at i32) (param $v i64)
    (i32.store8 (local.get $at) (i32.const 0x7e))
    (i64.store (i32.add (local.get $at) (i32.const 1)) (local.get $v))
    (i64.store (i32.add (local.get $at) (i32.const 9)) (i64.const 0)))

  ;; Spawns the export named by the NUL-terminated `name` (same module, same config);
  ;; traps unless the spawn succeeds. Returns the new PID.
  (func $spawn (param $link i64) (param $name i32) (param $params i32) (param $len i32)
    (result i64)
    (if (call $spawn_raw (local.get $link) (i64.const -1) (i64.const -1)
          (local.get $name) (call $strlen (local.get $name))
          (local.get $params) (local.get $len) (i32.const 0x1f8))
      (then unreachable))
    (i64.load (i32.const 0x1f8)))

  ;; Spawns `name` with one i64 parameter: this process's PID.
  (func $spawn_with_parent (param $link i64) (param $name i32) (result i64)
    (call $param_i64 (i32.const 0x1d0) (call $process_id))
    (call $spawn (local.get $link) (local.get $name) (i32.const 0x1d0) (i32.const 17)))

  ;; Sends `len` bytes at `ptr` tagged `tag` (0 = untagged) to `pid`.
  (func $send_bytes (param $pid i64) (param $tag i64) (param $ptr i32) (param $len i32)
    (call $create_data (local.get $tag) (i64.const 0))
    (drop (call $write_data (local.get $ptr) (local.get $len)))
    (drop (call $send (local.get $pid))))

  ;; Receives the first message tagged `tag` (no timeout); returns the receive status.
  (func $receive_tag (param $tag i64) (result i32)
    (i64.store (i32.const 0x1f0) (local.get $tag))
    (call $receive (i32.const 0x1f0) (i32.const 1) (i64.const -1)))

  ;; Receives messages until the ProcessDied of `pid` (needs a `monitor` first); traps on any
  ;; other message.
  (func $await_death (param $pid i64)
    (if (i32.ne (call $receive (i32.const 0) (i32.const 0) (i64.const -1)) (i32.const 2))
      (then unreachable))
    (if (i64.ne (call $get_process_id) (local.get $pid))
      (then unreachable)))
  ;; ---- End of shared helpers -------------------------------------------------------------

  (data (i32.const 0x1000) "end_return\00")
  (data (i32.const 0x1020) "end_trap\00")
  (data (i32.const 0x1040) "end_exit0\00")
  (data (i32.const 0x1060) "end_exit7\00")
  (data (i32.const 0x1080) "end_kill_self\00")
  (data (i32.const 0x10a0) "blocked\00")
  (data (i32.const 0x10c0) "sleeper\00")
  (data (i32.const 0x10e0) "quick\00")
  (data (i32.const 0x1100) "end_return running\00")
  (data (i32.const 0x1120) "end_trap running\00")
  (data (i32.const 0x1140) "end_exit0 running\00")
  (data (i32.const 0x1160) "end_exit7 running\00")
  (data (i32.const 0x1180) "end_kill_self running\00")
  (data (i32.const 0x11a0) "blocked running\00")
  (data (i32.const 0x11c0) "NOT REACHED\00")
  (data (i32.const 0x11e0) "root died\00")
  (data (i32.const 0x1200) "root exists_after\00")
  (data (i32.const 0x1220) "root done\00")
  (data (i32.const 0x1240) "sleeper woke\00")
  (data (i32.const 0x1260) "quick ran\00")
  (data (i32.const 0x1280) "root killed_unknown\00")
  (data (i32.const 0x12a0) "sleeper sleeping\00")
  (data (i32.const 0x12c0) "sleeping\00")
  (data (i32.const 0x12e0) "sleeping running\00")

  ;; Spawns `name`, prints "<name>=<pid>", waits for its end and prints "root died=<pid>".
  (func $run_child (param $name i32)
    (local $pid i64)
    (local.set $pid (call $spawn (i64.const 0) (local.get $name) (i32.const 0) (i32.const 0)))
    (call $kv (local.get $name) (local.get $pid))
    (call $monitor (local.get $pid))
    (call $await_death (local.get $pid))
    (call $kv (i32.const 0x11e0) (local.get $pid))
    (call $kv (i32.const 0x1200) (i64.extend_i32_u (call $exists (local.get $pid)))))

  ;; Spawns `name`, lets it run until it waits, kills it and waits for its end.
  (func $kill_child (param $name i32)
    (local $pid i64)
    (local.set $pid (call $spawn (i64.const 0) (local.get $name) (i32.const 0) (i32.const 0)))
    (call $kv (local.get $name) (local.get $pid))
    (call $monitor (local.get $pid))
    (call $sleep_ms (i64.const 1))
    (call $kill (local.get $pid))
    (call $await_death (local.get $pid))
    (call $kv (i32.const 0x11e0) (local.get $pid)))

  (func (export "_start")
    (local $pid i64)
    (call $run_child (i32.const 0x1000))
    (call $run_child (i32.const 0x1020))
    (call $run_child (i32.const 0x1040))
    (call $run_child (i32.const 0x1060))
    (call $run_child (i32.const 0x1080))
    ;; `blocked` waits in receive and `sleeping` in sleep_ms until they are killed.
    (call $kill_child (i32.const 0x10a0))
    (call $kill_child (i32.const 0x12c0))
    ;; Killing a process that does not exist does nothing.
    (call $kill (i64.const 999))
    (call $kv (i32.const 0x1280) (i64.const 999))
    (call $say (i32.const 0x1220)))

  (func (export "end_return")
    (call $say (i32.const 0x1100)))

  (func (export "end_trap")
    (call $say (i32.const 0x1120))
    unreachable)

  (func (export "end_exit0")
    (call $say (i32.const 0x1140))
    (call $proc_exit (i32.const 0))
    (call $say (i32.const 0x11c0)))

  (func (export "end_exit7")
    (call $say (i32.const 0x1160))
    (call $proc_exit (i32.const 7))
    (call $say (i32.const 0x11c0)))

  (func (export "end_kill_self")
    (call $say (i32.const 0x1180))
    (call $kill (call $process_id))
    (call $sleep_ms (i64.const 1))
    (call $say (i32.const 0x11c0)))

  (func (export "blocked")
    (call $say (i32.const 0x11a0))
    (drop (call $receive (i32.const 0) (i32.const 0) (i64.const 60000)))
    (call $say (i32.const 0x11c0)))

  (func (export "sleeping")
    (call $say (i32.const 0x12e0))
    (call $sleep_ms (i64.const 60000))
    (call $say (i32.const 0x11c0)))

  ;; sleeper sleeps 30 ms; quick, spawned after it, prints first.
  (func (export "sleep_order")
    (local $sleeper i64) (local $quick i64)
    (local.set $sleeper (call $spawn (i64.const 0) (i32.const 0x10c0) (i32.const 0) (i32.const 0)))
    (call $monitor (local.get $sleeper))
    (call $sleep_ms (i64.const 0))
    (local.set $quick (call $spawn (i64.const 0) (i32.const 0x10e0) (i32.const 0) (i32.const 0)))
    (call $monitor (local.get $quick))
    (call $await_death (local.get $quick))
    (call $await_death (local.get $sleeper))
    (call $say (i32.const 0x1220)))

  (func (export "sleeper")
    (call $say (i32.const 0x12a0))
    (call $sleep_ms (i64.const 30))
    (call $say (i32.const 0x1240)))

  (func (export "quick")
    (call $say (i32.const 0x1260)))
)
