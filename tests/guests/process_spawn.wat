;; process_spawn: lunatic::process::spawn with parameter records, module_id/config_id -1,
;; process_id, environment_id and exists.
;;
;; `_start` (the root) spawns `show_params` with three 17-byte records, i32 -7, i64 0x1_0000_0002
;; and i32 0x7fffffff, whose unused high bytes are filled with junk (the host must take only the
;; low 32 or 64 bits). The child prints what it got and waits for a "go" message, so the root
;; can check `exists` while it is alive. Then the root spawns `noop` three times to show that
;; PIDs count up and are never reused.
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
  (import "lunatic::process" "environment_id" (func $environment_id (result i64)))
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

  (data (i32.const 0x1000) "show_params\00")
  (data (i32.const 0x1020) "noop\00")
  (data (i32.const 0x1040) "root pid\00")
  (data (i32.const 0x1060) "root environment\00")
  (data (i32.const 0x1080) "root exists_self\00")
  (data (i32.const 0x10a0) "root exists_unknown\00")
  (data (i32.const 0x10c0) "root exists_zero\00")
  (data (i32.const 0x10e0) "root spawn_status\00")
  (data (i32.const 0x1100) "root child_pid\00")
  (data (i32.const 0x1120) "root exists_child\00")
  (data (i32.const 0x1140) "root receive\00")
  (data (i32.const 0x1160) "root died\00")
  (data (i32.const 0x1180) "root exists_after\00")
  (data (i32.const 0x11a0) "root noop_pid\00")
  (data (i32.const 0x11c0) "child a\00")
  (data (i32.const 0x11e0) "child b\00")
  (data (i32.const 0x1200) "child c\00")
  (data (i32.const 0x1220) "child pid\00")
  (data (i32.const 0x1240) "child environment\00")
  (data (i32.const 0x1260) "child got\00")
  (data (i32.const 0x1280) "root done\00")
  (data (i32.const 0x12a0) "go\00")
  (data (i32.const 0x12c0) "noop ran\00")
  ;; Three parameter records (51 bytes): [0x7f][-7 as u128 LE, junk above bit 32],
  ;; [0x7e][0x1_0000_0002, junk above bit 64], [0x7f][0x7fffffff].
  (data (i32.const 0x1800)
    "\7f" "\f9\ff\ff\ff" "\11\22\33\44\55\66\77\88\99\aa\bb\cc"
    "\7e" "\02\00\00\00\01\00\00\00" "\de\ad\be\ef\de\ad\be\ef"
    "\7f" "\ff\ff\ff\7f" "\00\00\00\00\00\00\00\00\00\00\00\00")

  (func (export "_start")
    (local $child i64) (local $i i32) (local $pid i64)
    (call $kv (i32.const 0x1040) (call $process_id))
    (call $kv (i32.const 0x1060) (call $environment_id))
    (call $kv (i32.const 0x1080) (i64.extend_i32_u (call $exists (call $process_id))))
    (call $kv (i32.const 0x10a0) (i64.extend_i32_u (call $exists (i64.const 999))))
    (call $kv (i32.const 0x10c0) (i64.extend_i32_u (call $exists (i64.const 0))))

    ;; spawn(link 0, config -1, module -1, "show_params", 3 records)
    (call $kv (i32.const 0x10e0) (i64.extend_i32_u
      (call $spawn_raw (i64.const 0) (i64.const -1) (i64.const -1)
        (i32.const 0x1000) (i32.const 11) (i32.const 0x1800) (i32.const 51) (i32.const 0x1f8))))
    (local.set $child (i64.load (i32.const 0x1f8)))
    (call $kv (i32.const 0x1100) (local.get $child))
    (call $monitor (local.get $child))
    (call $kv (i32.const 0x1120) (i64.extend_i32_u (call $exists (local.get $child))))
    (call $send_bytes (local.get $child) (i64.const 0) (i32.const 0x12a0) (i32.const 2))
    (call $kv (i32.const 0x1140)
      (i64.extend_i32_u (call $receive (i32.const 0) (i32.const 0) (i64.const -1))))
    (call $kv (i32.const 0x1160) (call $get_process_id))
    (call $kv (i32.const 0x1180) (i64.extend_i32_u (call $exists (local.get $child))))

    ;; Three more spawns without parameters: PIDs 3, 4, 5.
    (loop $again
      (local.set $pid (call $spawn (i64.const 0) (i32.const 0x1020) (i32.const 0) (i32.const 0)))
      (call $kv (i32.const 0x11a0) (local.get $pid))
      (call $monitor (local.get $pid))
      (call $await_death (local.get $pid))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $again (i32.lt_u (local.get $i) (i32.const 3))))
    (call $say (i32.const 0x1280)))

  (func (export "show_params") (param $a i32) (param $b i64) (param $c i32)
    (call $kv (i32.const 0x11c0) (i64.extend_i32_s (local.get $a)))
    (call $kv (i32.const 0x11e0) (local.get $b))
    (call $kv (i32.const 0x1200) (i64.extend_i32_s (local.get $c)))
    (call $kv (i32.const 0x1220) (call $process_id))
    (call $kv (i32.const 0x1240) (call $environment_id))
    (drop (call $receive (i32.const 0) (i32.const 0) (i64.const -1)))
    (call $ks (i32.const 0x1260) (i32.const 0x200) (call $read_data (i32.const 0x200) (i32.const 64))))

  (func (export "noop")
    (call $say (i32.const 0x12c0)))
)
