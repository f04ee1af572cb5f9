;; bad_input: bad arguments to host functions trap only the process that passed them.
;;
;; `_start` starts a `bystander` process, then spawns each `bad_*` export in turn (each gets
;; the root's PID as an i64 parameter), prints "<name>=<pid>", waits for its ProcessDied and
;; asks the bystander for a reply, which it prints as "bystander=<count>". Two entries fail
;; in the child itself rather than in a host call: `no_such_function` (not exported) and
;; `wants_i32` (its parameter type does not match the i64 record). Last comes
;; `trap_mid_receive`, which tells the root it is ready, blocks in receive while the root and
;; the bystander exchange messages, and traps once its message arrives.
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
  (import "lunatic::process" "link" (func $link (param i64 i64)))
  (import "lunatic::process" "die_when_link_dies" (func $die_when_link_dies (param i32)))
  (import "lunatic::message" "seek_data" (func $seek_data (param i64)))
  (import "lunatic::message" "get_tag" (func $get_tag (result i64)))
  (import "lunatic::message" "data_size" (func $data_size (result i64)))
  (import "lunatic::message" "send_receive_skip_search"
    (func $send_receive_skip_search (param i64 i64 i64) (result i32)))
  (import "lunatic::error" "string_size" (func $string_size (param i64) (result i32)))
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

  ;; The cases, in order; an empty name ends the list.
  (data (i32.const 0x1000) "bad_write_data_oob\00")
  (data (i32.const 0x1020) "bad_read_data_oob\00")
  (data (i32.const 0x1040) "bad_receive_tags_oob\00")
  (data (i32.const 0x1060) "bad_receive_tags_count\00")
  (data (i32.const 0x1080) "bad_spawn_utf8\00")
  (data (i32.const 0x10a0) "bad_spawn_param_type\00")
  (data (i32.const 0x10c0) "bad_spawn_param_len\00")
  (data (i32.const 0x10e0) "bad_spawn_unknown_config\00")
  (data (i32.const 0x1100) "bad_spawn_unknown_module\00")
  (data (i32.const 0x1120) "bad_spawn_id_ptr_oob\00")
  (data (i32.const 0x1140) "bad_spawn_name_oob\00")
  (data (i32.const 0x1160) "bad_unknown_error_id\00")
  (data (i32.const 0x1180) "bad_read_empty_slot\00")
  (data (i32.const 0x11a0) "bad_data_size_empty\00")
  (data (i32.const 0x11c0) "bad_get_tag_empty\00")
  (data (i32.const 0x11e0) "bad_get_pid_empty\00")
  (data (i32.const 0x1200) "bad_send_empty\00")
  (data (i32.const 0x1220) "bad_skip_search_empty\00")
  (data (i32.const 0x1240) "bad_seek_past_end\00")
  (data (i32.const 0x1260) "bad_read_link_died\00")
  (data (i32.const 0x1280) "no_such_function\00")
  (data (i32.const 0x12a0) "wants_i32\00")
  (data (i32.const 0x12c0) "\00")
  ;; Other strings.
  (data (i32.const 0x1400) "bystander\00")
  (data (i32.const 0x1420) "trap_mid_receive\00")
  (data (i32.const 0x1440) "root done\00")
  (data (i32.const 0x1460) "ping\00")
  (data (i32.const 0x1480) "NOT REACHED\00")
  (data (i32.const 0x14a0) "noop\00")
  (data (i32.const 0x14c0) "exists_mid_receive\00")
  (data (i32.const 0x14e0) "bystander done\00")
  (data (i32.const 0x1500) "trap_mid_receive ready\00")
  (data (i32.const 0x1520) "go\00")
  (data (i32.const 0x1540) "abc\00")
  ;; An invalid UTF-8 function name.
  (data (i32.const 0x1600) "\ff\fe\fd")
  ;; A parameter record with the unknown type byte 0x7d.
  (data (i32.const 0x1620) "\7d\01\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00")

  ;; Asks the bystander for a reply and prints "bystander=<messages it has answered>".
  (func $ping (param $bystander i64)
    (call $create_data (i64.const 1) (i64.const 4))
    (drop (call $write_data (i32.const 0x1460) (i32.const 4)))
    (if (call $send_receive_skip_search (local.get $bystander) (i64.const 2) (i64.const 5000))
      (then unreachable))
    (drop (call $read_data (i32.const 0x300) (i32.const 8)))
    (call $kv (i32.const 0x1400) (i64.load (i32.const 0x300))))

  (func (export "_start")
    (local $bystander i64) (local $case i32) (local $pid i64)
    (local.set $bystander (call $spawn_with_parent (i64.const 0) (i32.const 0x1400)))
    (call $monitor (local.get $bystander))
    (call $ping (local.get $bystander))
    (local.set $case (i32.const 0x1000))
    (block $end
      (loop $next
        (br_if $end (i32.eqz (i32.load8_u (local.get $case))))
        (local.set $pid (call $spawn_with_parent (i64.const 0) (local.get $case)))
        (call $kv (local.get $case) (local.get $pid))
        (call $monitor (local.get $pid))
        (call $await_death (local.get $pid))
        (call $ping (local.get $bystander))
        (local.set $case (i32.add (local.get $case) (i32.const 0x20)))
        (br $next)))
    ;; A process that traps in the middle of a receive.
    (local.set $pid (call $spawn_with_parent (i64.const 0) (i32.const 0x1420)))
    (call $kv (i32.const 0x1420) (local.get $pid))
    (call $monitor (local.get $pid))
    (drop (call $receive_tag (i64.const 9)))
    (call $ping (local.get $bystander))
    (call $kv (i32.const 0x14c0) (i64.extend_i32_u (call $exists (local.get $pid))))
    (call $send_bytes (local.get $pid) (i64.const 5) (i32.const 0x1520) (i32.const 2))
    (call $await_death (local.get $pid))
    (call $ping (local.get $bystander))
    ;; Stop the bystander.
    (call $send_bytes (local.get $bystander) (i64.const 3) (i32.const 0x1520) (i32.const 0))
    (call $await_death (local.get $bystander))
    (call $say (i32.const 0x1440)))

  ;; Answers each message tagged 1 with the number of messages answered so far (u64 LE),
  ;; tagged 2; returns on tag 3.
  (func (export "bystander") (param $parent i64)
    (local $count i64)
    (loop $next
      (drop (call $receive (i32.const 0) (i32.const 0) (i64.const -1)))
      (if (i64.eq (call $get_tag) (i64.const 3))
        (then
          (call $say (i32.const 0x14e0))
          (return)))
      (local.set $count (i64.add (local.get $count) (i64.const 1)))
      (i64.store (i32.const 0x300) (local.get $count))
      (call $send_bytes (local.get $parent) (i64.const 2) (i32.const 0x300) (i32.const 8))
      (br $next)))

  (func (export "trap_mid_receive") (param $parent i64)
    (call $send_bytes (local.get $parent) (i64.const 9) (i32.const 0x1500) (i32.const 22))
    (call $say (i32.const 0x1500))
    (drop (call $receive_tag (i64.const 5)))
    unreachable)

  ;; ---- the bad cases (each gets the root's PID) ----

  (func (export "bad_write_data_oob") (param i64)
    (call $create_data (i64.const 0) (i64.const 0))
    (drop (call $write_data (i32.const 0xfffa) (i32.const 16)))
    (call $say (i32.const 0x1480)))

  (func (export "bad_read_data_oob") (param i64)
    (call $send_bytes (call $process_id) (i64.const 0) (i32.const 0x1540) (i32.const 3))
    (drop (call $receive (i32.const 0) (i32.const 0) (i64.const -1)))
    (drop (call $read_data (i32.const 0xfffa) (i32.const 16)))
    (call $say (i32.const 0x1480)))

  ;; One tag (8 bytes) at 0xfffc runs past the end of the 64 KiB memory.
  (func (export "bad_receive_tags_oob") (param i64)
    (drop (call $receive (i32.const 0xfffc) (i32.const 1) (i64.const 0)))
    (call $say (i32.const 0x1480)))

  ;; 0x2000_0000 tags: 4 GiB, far more than memory (and 0 if the size wrapped at 32 bits).
  (func (export "bad_receive_tags_count") (param i64)
    (drop (call $receive (i32.const 0x200) (i32.const 0x20000000) (i64.const 0)))
    (call $say (i32.const 0x1480)))

  (func (export "bad_spawn_utf8") (param i64)
    (drop (call $spawn_raw (i64.const 0) (i64.const -1) (i64.const -1)
      (i32.const 0x1600) (i32.const 3) (i32.const 0) (i32.const 0) (i32.const 0x1f8)))
    (call $say (i32.const 0x1480)))

  (func (export "bad_spawn_param_type") (param i64)
    (drop (call $spawn_raw (i64.const 0) (i64.const -1) (i64.const -1)
      (i32.const 0x14a0) (i32.const 4) (i32.const 0x1620) (i32.const 17) (i32.const 0x1f8)))
    (call $say (i32.const 0x1480)))

  (func (export "bad_spawn_param_len") (param i64)
    (drop (call $spawn_raw (i64.const 0) (i64.const -1) (i64.const -1)
      (i32.const 0x14a0) (i32.const 4) (i32.const 0x1620) (i32.const 16) (i32.const 0x1f8)))
    (call $say (i32.const 0x1480)))

  (func (export "bad_spawn_unknown_config") (param i64)
    (drop (call $spawn_raw (i64.const 0) (i64.const 7) (i64.const -1)
      (i32.const 0x14a0) (i32.const 4) (i32.const 0) (i32.const 0) (i32.const 0x1f8)))
    (call $say (i32.const 0x1480)))

  (func (export "bad_spawn_unknown_module") (param i64)
    (drop (call $spawn_raw (i64.const 0) (i64.const -1) (i64.const 3)
      (i32.const 0x14a0) (i32.const 4) (i32.const 0) (i32.const 0) (i32.const 0x1f8)))
    (call $say (i32.const 0x1480)))

  (func (export "bad_spawn_id_ptr_oob") (param i64)
    (drop (call $spawn_raw (i64.const 0) (i64.const -1) (i64.const -1)
      (i32.const 0x14a0) (i32.const 4) (i32.const 0) (i32.const 0) (i32.const 0xfffc)))
    (call $say (i32.const 0x1480)))

  (func (export "bad_spawn_name_oob") (param i64)
    (drop (call $spawn_raw (i64.const 0) (i64.const -1) (i64.const -1)
      (i32.const 0xfff0) (i32.const 100) (i32.const 0) (i32.const 0) (i32.const 0x1f8)))
    (call $say (i32.const 0x1480)))

  (func (export "bad_unknown_error_id") (param i64)
    (drop (call $string_size (i64.const 12345)))
    (call $say (i32.const 0x1480)))

  (func (export "bad_read_empty_slot") (param i64)
    (drop (call $read_data (i32.const 0x200) (i32.const 4)))
    (call $say (i32.const 0x1480)))

  (func (export "bad_data_size_empty") (param i64)
    (drop (call $data_size))
    (call $say (i32.const 0x1480)))

  (func (export "bad_get_tag_empty") (param i64)
    (drop (call $get_tag))
    (call $say (i32.const 0x1480)))

  (func (export "bad_get_pid_empty") (param i64)
    (drop (call $get_process_id))
    (call $say (i32.const 0x1480)))

  ;; send takes the message out of the slot, so a second send finds it empty.
  (func (export "bad_send_empty") (param $parent i64)
    (call $create_data (i64.const 77) (i64.const 0))
    (drop (call $send (call $process_id)))
    (drop (call $send (local.get $parent)))
    (call $say (i32.const 0x1480)))

  (func (export "bad_skip_search_empty") (param $parent i64)
    (drop (call $send_receive_skip_search (local.get $parent) (i64.const 2) (i64.const 0)))
    (call $say (i32.const 0x1480)))

  (func (export "bad_seek_past_end") (param i64)
    (call $send_bytes (call $process_id) (i64.const 0) (i32.const 0x1540) (i32.const 3))
    (drop (call $receive (i32.const 0) (i32.const 0) (i64.const -1)))
    (call $seek_data (i64.const 100))
    (drop (call $read_data (i32.const 0x200) (i32.const 4)))
    (call $say (i32.const 0x1480)))

  ;; A LinkDied message in the slot has no data.
  (func (export "bad_read_link_died") (param i64)
    (call $die_when_link_dies (i32.const 0))
    (call $link (i64.const 1) (i64.const 999))
    (if (i32.ne (call $receive (i32.const 0) (i32.const 0) (i64.const -1)) (i32.const 1))
      (then (return)))
    (drop (call $read_data (i32.const 0x200) (i32.const 4)))
    (call $say (i32.const 0x1480)))

  ;; Spawned with an i64 record: the parameter types do not match.
  (func (export "wants_i32") (param i32)
    (call $say (i32.const 0x1480)))

  (func (export "noop"))
)
