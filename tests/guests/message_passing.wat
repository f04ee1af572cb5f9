;; message_passing: lunatic::message, the scratch slot, selective receive and
;; send_receive_skip_search. One export per scenario; the tests run each as the root.
;;   data_api     create_data/write_data/send to itself, then receive, get_tag,
;;                get_process_id, data_size, read_data (0 at the end) and seek_data
;;   selective    receive with tag lists, untagged messages never matching, timeouts (9027)
;;   fifo         messages are received in the order they were sent
;;   selective_wait  a receive waiting on a tag list skips arriving messages that do not
;;                match (untagged, other tags) and leaves them queued in order
;;   cross        messages between processes (an `echo` child), forwarding a received
;;                message, send to an unknown PID, send_receive_skip_search
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
  (import "lunatic::message" "seek_data" (func $seek_data (param i64)))
  (import "lunatic::message" "get_tag" (func $get_tag (result i64)))
  (import "lunatic::message" "data_size" (func $data_size (result i64)))
  (import "lunatic::message" "send_receive_skip_search"
    (func $send_receive_skip_search (param i64 i64 i64) (result i32)))
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

  (data (i32.const 0x1000) "hello world\00")
  (data (i32.const 0x1020) "write\00")
  (data (i32.const 0x1040) "send\00")
  (data (i32.const 0x1060) "receive\00")
  (data (i32.const 0x1080) "tag\00")
  (data (i32.const 0x10a0) "process_id\00")
  (data (i32.const 0x10c0) "size\00")
  (data (i32.const 0x10e0) "read\00")
  (data (i32.const 0x1100) "bytes\00")
  (data (i32.const 0x1120) "abcde\00")
  (data (i32.const 0x1140) "got\00")
  (data (i32.const 0x1160) "timeout\00")
  (data (i32.const 0x1180) "slot\00")
  (data (i32.const 0x11a0) "echo\00")
  (data (i32.const 0x11c0) "ping\00")
  (data (i32.const 0x11e0) "old\00")
  (data (i32.const 0x1200) "new\00")
  (data (i32.const 0x1220) "stale\00")
  (data (i32.const 0x1240) "quiet\00")
  (data (i32.const 0x1260) "send_unknown\00")
  (data (i32.const 0x1280) "skip_search\00")
  (data (i32.const 0x12a0) "echo done\00")
  (data (i32.const 0x12c0) "done\00")
  (data (i32.const 0x12e0) "forwarded\00")
  (data (i32.const 0x1300) "fifo\00")
  (data (i32.const 0x1320) "xyz\00")
  (data (i32.const 0x1340) "skip_search_timeout\00")
  (data (i32.const 0x1360) "queued\00")
  (data (i32.const 0x1380) "sender\00")
  (data (i32.const 0x13a0) "uvw\00")
  (data (i32.const 0x13c0) "sender sent\00")
  (data (i32.const 0x13e0) "waiting\00")
  ;; Tag lists (i64 LE each).
  (data (i32.const 0x1800) "\14\00\00\00\00\00\00\00")                         ;; [20]
  (data (i32.const 0x1808) "\0a\00\00\00\00\00\00\00\1e\00\00\00\00\00\00\00") ;; [10, 30]
  (data (i32.const 0x1818) "\00\00\00\00\00\00\00\00")                         ;; [0]
  (data (i32.const 0x1820) "\28\00\00\00\00\00\00\00")                         ;; [40]
  (data (i32.const 0x1828) "\1e\00\00\00\00\00\00\00")                         ;; [30]

  ;; Reads the rest of the message in the slot into 0x200 and prints "<label>=<bytes>".
  (func $print_rest (param $label i32)
    (call $ks (local.get $label) (i32.const 0x200)
      (call $read_data (i32.const 0x200) (i32.const 256))))

  ;; receive(tags, count, timeout): prints "receive=<status>", and on a data message also
  ;; "got=<bytes>".
  (func $receive_print (param $tags i32) (param $count i32) (param $timeout i64)
    (local $status i32)
    (local.set $status (call $receive (local.get $tags) (local.get $count) (local.get $timeout)))
    (call $kv (i32.const 0x1060) (i64.extend_i32_u (local.get $status)))
    (if (i32.eqz (local.get $status))
      (then (call $print_rest (i32.const 0x1140)))))

  (func (export "data_api")
    (local $self i64)
    (local.set $self (call $process_id))
    (call $create_data (i64.const 0x1234567890abc) (i64.const 16))
    (call $kv (i32.const 0x1020) (i64.extend_i32_u
      (call $write_data (i32.const 0x1000) (i32.const 6))))       ;; "hello "
    (call $kv (i32.const 0x1020) (i64.extend_i32_u
      (call $write_data (i32.const 0x1006) (i32.const 5))))       ;; "world"
    (call $kv (i32.const 0x1040) (i64.extend_i32_s (call $send (local.get $self))))
    (call $kv (i32.const 0x1060)
      (i64.extend_i32_u (call $receive (i32.const 0) (i32.const 0) (i64.const -1))))
    (call $kv (i32.const 0x1080) (call $get_tag))
    (call $kv (i32.const 0x10a0) (call $get_process_id))
    (call $kv (i32.const 0x10c0) (call $data_size))
    ;; read 4, then the rest (7), then 0 at the end
    (call $kv (i32.const 0x10e0) (i64.extend_i32_u (call $read_data (i32.const 0x200) (i32.const 4))))
    (call $ks (i32.const 0x1100) (i32.const 0x200) (i32.const 4))
    (call $kv (i32.const 0x10e0) (i64.extend_i32_u (call $read_data (i32.const 0x200) (i32.const 100))))
    (call $ks (i32.const 0x1100) (i32.const 0x200) (i32.const 7))
    (call $kv (i32.const 0x10e0) (i64.extend_i32_u (call $read_data (i32.const 0x200) (i32.const 100))))
    ;; seek to 6 and read the rest; seek to 0 and read 3; the size stays the whole length
    (call $seek_data (i64.const 6))
    (call $print_rest (i32.const 0x1100))
    (call $seek_data (i64.const 0))
    (call $kv (i32.const 0x10e0) (i64.extend_i32_u (call $read_data (i32.const 0x200) (i32.const 3))))
    (call $ks (i32.const 0x1100) (i32.const 0x200) (i32.const 3))
    (call $kv (i32.const 0x10c0) (call $data_size))
    ;; seek to the very end: reading returns 0
    (call $seek_data (i64.const 11))
    (call $kv (i32.const 0x10e0) (i64.extend_i32_u (call $read_data (i32.const 0x200) (i32.const 8))))
    ;; an empty untagged message; the capacity u64::MAX is only a size hint
    (call $create_data (i64.const 0) (i64.const -1))
    (drop (call $send (local.get $self)))
    (call $kv (i32.const 0x1060)
      (i64.extend_i32_u (call $receive (i32.const 0) (i32.const 0) (i64.const -1))))
    (call $kv (i32.const 0x1080) (call $get_tag))
    (call $kv (i32.const 0x10c0) (call $data_size))
    (call $kv (i32.const 0x10e0) (i64.extend_i32_u (call $read_data (i32.const 0x200) (i32.const 8))))
    ;; a negative tag round-trips as the same i64
    (call $create_data (i64.const -5) (i64.const 0))
    (drop (call $send (local.get $self)))
    (drop (call $receive (i32.const 0) (i32.const 0) (i64.const -1)))
    (call $kv (i32.const 0x1080) (call $get_tag))
    (call $say (i32.const 0x12c0)))

  (func (export "selective")
    (local $self i64)
    (local.set $self (call $process_id))
    ;; queue: a(10) b(untagged) c(20) d(10) e(30)
    (call $send_bytes (local.get $self) (i64.const 10) (i32.const 0x1120) (i32.const 1))
    (call $send_bytes (local.get $self) (i64.const 0) (i32.const 0x1121) (i32.const 1))
    (call $send_bytes (local.get $self) (i64.const 20) (i32.const 0x1122) (i32.const 1))
    (call $send_bytes (local.get $self) (i64.const 10) (i32.const 0x1123) (i32.const 1))
    (call $send_bytes (local.get $self) (i64.const 30) (i32.const 0x1124) (i32.const 1))
    (call $receive_print (i32.const 0x1800) (i32.const 1) (i64.const -1))  ;; [20] -> c
    (call $receive_print (i32.const 0x1808) (i32.const 2) (i64.const -1))  ;; [10,30] -> a
    (call $receive_print (i32.const 0x1818) (i32.const 1) (i64.const 0))   ;; [0] -> 9027
    (call $receive_print (i32.const 0x1820) (i32.const 1) (i64.const 20))  ;; [40] -> 9027
    ;; a timeout leaves the slot as it was: "a" is still there
    (call $seek_data (i64.const 0))
    (call $print_rest (i32.const 0x1180))
    (call $receive_print (i32.const 0) (i32.const 0) (i64.const -1))       ;; any -> b
    (call $receive_print (i32.const 0x1828) (i32.const 1) (i64.const 0))   ;; [30] -> e
    (call $receive_print (i32.const 0) (i32.const 0) (i64.const 0))        ;; any -> d
    (call $receive_print (i32.const 0) (i32.const 0) (i64.const 0))        ;; any -> 9027
    (call $receive_print (i32.const 0) (i32.const 0) (i64.const 10))       ;; any -> 9027
    (call $say (i32.const 0x12c0)))

  (func (export "fifo")
    (local $self i64) (local $i i32)
    (local.set $self (call $process_id))
    ;; 1 2 3 4 5 untagged, then x y z tagged 7 interleaved with untagged 6
    (call $send_bytes (local.get $self) (i64.const 0) (i32.const 0x1120) (i32.const 1))
    (call $send_bytes (local.get $self) (i64.const 7) (i32.const 0x1320) (i32.const 1))
    (call $send_bytes (local.get $self) (i64.const 0) (i32.const 0x1121) (i32.const 1))
    (call $send_bytes (local.get $self) (i64.const 7) (i32.const 0x1321) (i32.const 1))
    (call $send_bytes (local.get $self) (i64.const 0) (i32.const 0x1122) (i32.const 1))
    (call $send_bytes (local.get $self) (i64.const 7) (i32.const 0x1322) (i32.const 1))
    (call $send_bytes (local.get $self) (i64.const 0) (i32.const 0x1123) (i32.const 1))
    ;; tag 7 first: x y z in order
    (loop $tagged
      (drop (call $receive_tag (i64.const 7)))
      (call $print_rest (i32.const 0x1300))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $tagged (i32.lt_u (local.get $i) (i32.const 3))))
    ;; then the rest in order: a b c d
    (local.set $i (i32.const 0))
    (loop $any
      (drop (call $receive (i32.const 0) (i32.const 0) (i64.const -1)))
      (call $print_rest (i32.const 0x1300))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $any (i32.lt_u (local.get $i) (i32.const 4))))
    (call $say (i32.const 0x12c0)))

  (func (export "cross")
    (local $self i64) (local $echo i64)
    (local.set $self (call $process_id))
    (local.set $echo (call $spawn_with_parent (i64.const 0) (i32.const 0x11a0)))
    (call $monitor (local.get $echo))
    ;; request tagged 5 -> reply tagged 1005 with the same bytes
    (call $send_bytes (local.get $echo) (i64.const 5) (i32.const 0x11c0) (i32.const 4))
    (call $kv (i32.const 0x1060) (i64.extend_i32_u (call $receive_tag (i64.const 1005))))
    (call $kv (i32.const 0x1080) (call $get_tag))
    (call $print_rest (i32.const 0x1140))
    ;; forward the received message (tag and bytes) to ourselves
    (call $seek_data (i64.const 0))
    (drop (call $send (local.get $self)))
    (call $kv (i32.const 0x1060)
      (i64.extend_i32_u (call $receive (i32.const 0) (i32.const 0) (i64.const -1))))
    (call $kv (i32.const 0x1080) (call $get_tag))
    (call $print_rest (i32.const 0x12e0))
    ;; sending to a process that does not exist returns 0 and drops the message
    (call $create_data (i64.const 1) (i64.const 0))
    (call $kv (i32.const 0x1260) (i64.extend_i32_s (call $send (i64.const 999))))
    ;; send_receive_skip_search ignores an already queued "old" reply tagged 2005 and
    ;; returns the new one
    (call $send_bytes (local.get $self) (i64.const 2005) (i32.const 0x11e0) (i32.const 3))
    (call $create_data (i64.const 1005) (i64.const 0))
    (drop (call $write_data (i32.const 0x1200) (i32.const 3)))
    (call $kv (i32.const 0x1280) (i64.extend_i32_u
      (call $send_receive_skip_search (local.get $echo) (i64.const 2005) (i64.const -1))))
    (call $print_rest (i32.const 0x1140))
    (call $kv (i32.const 0x1360) (i64.extend_i32_u (call $receive_tag (i64.const 2005))))
    (call $print_rest (i32.const 0x1140))
    ;; it times out (9027) when no new reply comes, even with a matching one queued
    (call $send_bytes (local.get $self) (i64.const 3005) (i32.const 0x1220) (i32.const 5))
    (call $create_data (i64.const 77) (i64.const 0))                ;; echo ignores tag 77
    (drop (call $write_data (i32.const 0x1240) (i32.const 5)))
    (call $kv (i32.const 0x1340) (i64.extend_i32_u
      (call $send_receive_skip_search (local.get $echo) (i64.const 3005) (i64.const 20))))
    (call $kv (i32.const 0x1360) (i64.extend_i32_u (call $receive_tag (i64.const 3005))))
    (call $print_rest (i32.const 0x1140))
    ;; stop the echo (tag 99) and wait for it
    (call $send_bytes (local.get $echo) (i64.const 99) (i32.const 0x1120) (i32.const 0))
    (call $await_death (local.get $echo))
    (call $say (i32.const 0x12c0)))

  (func (export "selective_wait")
    (local $sender i64)
    (local.set $sender (call $spawn_with_parent (i64.const 0) (i32.const 0x1380)))
    (call $monitor (local.get $sender))
    (call $say (i32.const 0x13e0))
    (i64.store (i32.const 0x1f0) (i64.const 50))
    (call $receive_print (i32.const 0x1f0) (i32.const 1) (i64.const -1))   ;; [50] -> w
    (call $receive_print (i32.const 0) (i32.const 0) (i64.const -1))       ;; any -> u
    (call $receive_print (i32.const 0) (i32.const 0) (i64.const -1))       ;; any -> v
    (call $await_death (local.get $sender))
    (call $say (i32.const 0x12c0)))

  ;; Sends u (untagged), v (tag 60) and w (tag 50) to the parent.
  (func (export "sender") (param $parent i64)
    (call $send_bytes (local.get $parent) (i64.const 0) (i32.const 0x13a0) (i32.const 1))
    (call $send_bytes (local.get $parent) (i64.const 60) (i32.const 0x13a1) (i32.const 1))
    (call $send_bytes (local.get $parent) (i64.const 50) (i32.const 0x13a2) (i32.const 1))
    (call $say (i32.const 0x13c0)))

  ;; Replies to every message tagged t (t not 77 or 99) with the same bytes tagged t + 1000;
  ;; returns on tag 99.
  (func (export "echo") (param $parent i64)
    (local $tag i64) (local $len i32)
    (loop $next
      (drop (call $receive (i32.const 0) (i32.const 0) (i64.const -1)))
      (local.set $tag (call $get_tag))
      (if (i64.eq (local.get $tag) (i64.const 99))
        (then
          (call $say (i32.const 0x12a0))
          (return)))
      (if (i64.ne (local.get $tag) (i64.const 77))
        (then
          (local.set $len (call $read_data (i32.const 0x200) (i32.const 256)))
          (call $send_bytes (local.get $parent) (i64.add (local.get $tag) (i64.const 1000))
            (i32.const 0x200) (local.get $len))))
      (br $next)))
)
