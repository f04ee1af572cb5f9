;; error_version: lunatic::version and lunatic::error.
;;
;; The module's start function traps in processes 2 and 3, so spawning it there fails while
;; the instance is created: the only case where spawn returns 1 with an error ID (spec §2.3
;; step 11). The root (PID 1) and later processes instantiate normally.
;;   _start               prints the version, spawns twice (both fail: error IDs 0 and 1,
;;                        read with string_size/to_string and dropped), then spawns a `noop`
;;                        that gets PID 4 (failed spawns consumed PIDs 2 and 3)
;;   drop_twice           drops an error ID twice: the second drop traps
;;   string_size_unknown  string_size of an unknown error ID traps
;;   to_string_unknown    to_string of an unknown error ID traps
;;   to_string_oob        to_string to a range past the end of memory traps
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
  (import "lunatic::process" "exists" (func $exists (param i64) (result i32)))
  (import "lunatic::error" "string_size" (func $string_size (param i64) (result i32)))
  (import "lunatic::error" "to_string" (func $to_string (param i64 i32)))
  (import "lunatic::error" "drop" (func $error_drop (param i64)))
  (import "lunatic::version" "major" (func $major (result i32)))
  (import "lunatic::version" "minor" (func $minor (result i32)))
  (import "lunatic::version" "patch" (func $patch (result i32)))
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

  (data (i32.const 0x1000) "noop\00")
  (data (i32.const 0x1020) "major\00")
  (data (i32.const 0x1040) "minor\00")
  (data (i32.const 0x1060) "patch\00")
  (data (i32.const 0x1080) "spawn_status\00")
  (data (i32.const 0x10a0) "error_id\00")
  (data (i32.const 0x10c0) "string_size\00")
  (data (i32.const 0x10e0) "error\00")
  (data (i32.const 0x1100) "pid\00")
  (data (i32.const 0x1120) "exists_2\00")
  (data (i32.const 0x1140) "noop ran\00")
  (data (i32.const 0x1160) "done\00")
  (data (i32.const 0x1180) "dropped\00")
  (data (i32.const 0x11a0) "NOT REACHED\00")

  (func $init
    (local $pid i64)
    (local.set $pid (call $process_id))
    (if (i32.or (i64.eq (local.get $pid) (i64.const 2)) (i64.eq (local.get $pid) (i64.const 3)))
      (then unreachable)))
  (start $init)

  ;; spawn("noop"); prints the status and the ID written at the out-pointer; returns the ID.
  (func $spawn_noop (result i64)
    (call $kv (i32.const 0x1080) (i64.extend_i32_u
      (call $spawn_raw (i64.const 0) (i64.const -1) (i64.const -1)
        (i32.const 0x1000) (i32.const 4) (i32.const 0) (i32.const 0) (i32.const 0x1f8))))
    (i64.load (i32.const 0x1f8)))

  ;; Prints the error's size and text.
  (func $print_error (param $id i64)
    (local $size i32)
    (call $kv (i32.const 0x10a0) (local.get $id))
    (local.set $size (call $string_size (local.get $id)))
    (call $kv (i32.const 0x10c0) (i64.extend_i32_u (local.get $size)))
    (call $to_string (local.get $id) (i32.const 0x200))
    (call $ks (i32.const 0x10e0) (i32.const 0x200) (local.get $size)))

  (func (export "_start")
    (local $first i64) (local $second i64) (local $pid i64)
    (call $kv (i32.const 0x1020) (i64.extend_i32_s (call $major)))
    (call $kv (i32.const 0x1040) (i64.extend_i32_s (call $minor)))
    (call $kv (i32.const 0x1060) (i64.extend_i32_s (call $patch)))
    (local.set $first (call $spawn_noop))
    (call $print_error (local.get $first))
    (local.set $second (call $spawn_noop))
    (call $print_error (local.get $second))
    (call $error_drop (local.get $first))
    (call $error_drop (local.get $second))
    (call $kv (i32.const 0x1120) (i64.extend_i32_u (call $exists (i64.const 2))))
    (local.set $pid (call $spawn_noop))
    (call $kv (i32.const 0x1100) (local.get $pid))
    (call $monitor (local.get $pid))
    (call $await_death (local.get $pid))
    (call $say (i32.const 0x1160)))

  (func (export "drop_twice")
    (local $id i64)
    (local.set $id (call $spawn_noop))
    (call $error_drop (local.get $id))
    (call $say (i32.const 0x1180))
    (call $error_drop (local.get $id))
    (call $say (i32.const 0x11a0)))

  (func (export "string_size_unknown")
    (drop (call $string_size (i64.const 5)))
    (call $say (i32.const 0x11a0)))

  (func (export "to_string_unknown")
    (call $to_string (i64.const 5) (i32.const 0x200))
    (call $say (i32.const 0x11a0)))

  (func (export "to_string_oob")
    (local $id i64)
    (local.set $id (call $spawn_noop))
    (call $kv (i32.const 0x10a0) (local.get $id))
    (call $to_string (local.get $id) (i32.const 0xfffc))
    (call $say (i32.const 0x11a0)))

  (func (export "noop")
    (call $say (i32.const 0x1140)))
)
