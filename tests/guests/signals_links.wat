;; signals_links: links, die_when_link_dies, LinkDied and ProcessDied messages, monitors.
;; One export per scenario; the tests run each as the root (entry option).
;;   spawn_link_child_fails    child spawned with link tag 42 traps: the parent (flag off)
;;                             receives LinkDied (1) carrying 42, get_process_id 0; a tag
;;                             list [43] matches the LinkDied of a second child linked with 43
;;   parent_fails              the parent of a child spawned with link 42 traps: the child
;;                             (flag off) receives LinkDied with tag 0 (spawn-link asymmetry)
;;   link_tag_child_fails      link(55, parent) from the child, child traps: parent sees 55
;;   link_tag_parent_fails     link(66, child) from the parent, parent traps: child sees 66
;;   link_missing              link to a PID that does not exist: LinkDied at once (flag off);
;;                             with the flag on the process dies at its next suspension
;;   unlinked_survives         unlink, then the former link fails: nothing happens
;;   link_death_kills          a process with the default flag dies when its link fails,
;;                             which cascades to its own links
;;   normal_end_no_kill        linked processes ending normally (return, proc_exit(0)) kill
;;                             nobody and send no LinkDied
;;   kill_linked               a killed linked child counts as a failure
;;   monitor                   ProcessDied (2) with the dead PID and tag 0 for failed and
;;                             normal ends; a tag list never matches it
;;   stop_monitoring           no ProcessDied after stop_monitoring
;;   monitor_missing           monitor of a PID that does not exist
;;   parent_returns            a child linked at spawn outlives a parent that returns
;;   parent_fails_kills_child  a child with the default flag dies when its parent fails
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
  (import "lunatic::process" "link" (func $link (param i64 i64)))
  (import "lunatic::process" "unlink" (func $unlink (param i64)))
  (import "lunatic::process" "die_when_link_dies" (func $die_when_link_dies (param i32)))
  (import "lunatic::process" "stop_monitoring" (func $stop_monitoring (param i64)))
  (import "lunatic::message" "get_tag" (func $get_tag (result i64)))
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

  (data (i32.const 0x1000) "fail_trap\00")
  (data (i32.const 0x1020) "watch_parent\00")
  (data (i32.const 0x1040) "link_then_fail\00")
  (data (i32.const 0x1060) "fail_after_go\00")
  (data (i32.const 0x1080) "middle\00")
  (data (i32.const 0x10a0) "end_normal\00")
  (data (i32.const 0x10c0) "end_exit0\00")
  (data (i32.const 0x10e0) "blocked\00")
  (data (i32.const 0x1100) "receive\00")
  (data (i32.const 0x1120) "tag\00")
  (data (i32.const 0x1140) "process_id\00")
  (data (i32.const 0x1160) "child receive\00")
  (data (i32.const 0x1180) "child tag\00")
  (data (i32.const 0x11a0) "child process_id\00")
  (data (i32.const 0x11c0) "child ready\00")
  (data (i32.const 0x11e0) "alive\00")
  (data (i32.const 0x1200) "NOT REACHED\00")
  (data (i32.const 0x1220) "linked\00")
  (data (i32.const 0x1240) "middle waiting\00")
  (data (i32.const 0x1260) "child\00")
  (data (i32.const 0x1280) "exists\00")
  (data (i32.const 0x12a0) "pending\00")
  (data (i32.const 0x12c0) "middle\00")
  (data (i32.const 0x12e0) "fail_trap\00")
  (data (i32.const 0x1300) "died\00")
  (data (i32.const 0x1320) "ready\00")
  (data (i32.const 0x1340) "go\00")
  (data (i32.const 0x1360) "tagged_receive\00")
  (data (i32.const 0x1380) "outlive_parent\00")
  (data (i32.const 0x13a0) "parent returning\00")
  (data (i32.const 0x13c0) "child survived\00")
  (data (i32.const 0x13e0) "wait_forever\00")

  ;; receive any (no timeout) and print status, tag and process id.
  (func $receive_print (param $timeout i64)
    (call $kv (i32.const 0x1100)
      (i64.extend_i32_u (call $receive (i32.const 0) (i32.const 0) (local.get $timeout))))
    (call $kv (i32.const 0x1120) (call $get_tag))
    (call $kv (i32.const 0x1140) (call $get_process_id)))

  ;; Prints "pending=<status>" for a receive of anything with timeout 0: 9027 when empty.
  (func $print_pending
    (call $kv (i32.const 0x12a0)
      (i64.extend_i32_u (call $receive (i32.const 0) (i32.const 0) (i64.const 0)))))

  ;; Sleeps 1 ms at a time until `pid` no longer exists.
  (func $wait_gone (param $pid i64)
    (block $gone
      (loop $poll
        (br_if $gone (i32.eqz (call $exists (local.get $pid))))
        (call $sleep_ms (i64.const 1))
        (br $poll))))

  (func (export "spawn_link_child_fails")
    (local $child i64)
    (call $die_when_link_dies (i32.const 0))
    (local.set $child (call $spawn (i64.const 42) (i32.const 0x1000) (i32.const 0) (i32.const 0)))
    (call $kv (i32.const 0x1260) (local.get $child))
    (call $receive_print (i64.const -1))
    (call $kv (i32.const 0x1280) (i64.extend_i32_u (call $exists (local.get $child))))
    ;; LinkDied carries the link tag, so a tag list can select it
    (local.set $child (call $spawn (i64.const 43) (i32.const 0x1000) (i32.const 0) (i32.const 0)))
    (call $kv (i32.const 0x1360) (i64.extend_i32_u (call $receive_tag (i64.const 43))))
    (call $kv (i32.const 0x1120) (call $get_tag))
    (call $say (i32.const 0x11e0)))

  (func (export "parent_fails")
    (drop (call $spawn_with_parent (i64.const 42) (i32.const 0x1020)))
    (drop (call $receive_tag (i64.const 9)))
    unreachable)

  (func (export "link_tag_child_fails")
    (call $die_when_link_dies (i32.const 0))
    (drop (call $spawn_with_parent (i64.const 0) (i32.const 0x1040)))
    (drop (call $receive_tag (i64.const 9)))
    (call $say (i32.const 0x1320))
    (call $receive_print (i64.const -1))
    (call $say (i32.const 0x11e0)))

  (func (export "link_tag_parent_fails")
    (local $child i64)
    (local.set $child (call $spawn_with_parent (i64.const 0) (i32.const 0x1020)))
    (drop (call $receive_tag (i64.const 9)))
    (call $link (i64.const 66) (local.get $child))
    unreachable)

  (func (export "link_missing")
    (call $die_when_link_dies (i32.const 0))
    (call $link (i64.const 77) (i64.const 999))
    (call $receive_print (i64.const 50))
    (call $die_when_link_dies (i32.const 1))
    (call $link (i64.const 78) (i64.const 998))
    (call $say (i32.const 0x1220))
    (call $sleep_ms (i64.const 1))
    (call $say (i32.const 0x1200)))

  (func (export "unlinked_survives")
    (local $child i64)
    (local.set $child (call $spawn (i64.const 8) (i32.const 0x1060) (i32.const 0) (i32.const 0)))
    (call $unlink (local.get $child))
    (call $monitor (local.get $child))
    (call $send_bytes (local.get $child) (i64.const 0) (i32.const 0x1340) (i32.const 2))
    (call $await_death (local.get $child))
    (call $kv (i32.const 0x1300) (local.get $child))
    (call $print_pending)
    (call $say (i32.const 0x11e0)))

  (func (export "link_death_kills")
    (local $middle i64)
    (call $die_when_link_dies (i32.const 0))
    (local.set $middle (call $spawn (i64.const 1) (i32.const 0x1080) (i32.const 0) (i32.const 0)))
    (call $kv (i32.const 0x12c0) (local.get $middle))
    (call $receive_print (i64.const -1))
    (call $say (i32.const 0x11e0)))

  (func (export "normal_end_no_kill")
    (local $child i64)
    ;; default flag (die when a link fails): normal ends of links do not kill
    (local.set $child (call $spawn (i64.const 3) (i32.const 0x10a0) (i32.const 0) (i32.const 0)))
    (call $monitor (local.get $child))
    (call $await_death (local.get $child))
    (local.set $child (call $spawn (i64.const 4) (i32.const 0x10c0) (i32.const 0) (i32.const 0)))
    (call $monitor (local.get $child))
    (call $await_death (local.get $child))
    (call $print_pending)
    ;; flag off: still no LinkDied message for a normal end
    (call $die_when_link_dies (i32.const 0))
    (local.set $child (call $spawn (i64.const 5) (i32.const 0x10a0) (i32.const 0) (i32.const 0)))
    (call $monitor (local.get $child))
    (call $await_death (local.get $child))
    (call $print_pending)
    (call $say (i32.const 0x11e0)))

  (func (export "kill_linked")
    (local $child i64)
    (call $die_when_link_dies (i32.const 0))
    (local.set $child (call $spawn (i64.const 6) (i32.const 0x10e0) (i32.const 0) (i32.const 0)))
    (call $kill (local.get $child))
    (call $receive_print (i64.const -1))
    (call $say (i32.const 0x11e0)))

  (func (export "monitor")
    (local $child i64)
    (local.set $child (call $spawn (i64.const 0) (i32.const 0x1060) (i32.const 0) (i32.const 0)))
    (call $kv (i32.const 0x1260) (local.get $child))
    (call $monitor (local.get $child))
    (call $send_bytes (local.get $child) (i64.const 0) (i32.const 0x1340) (i32.const 2))
    (call $receive_print (i64.const -1))
    ;; a normal end is reported too; a ProcessDied is untagged, so a tag list ([0]) skips it
    (local.set $child (call $spawn (i64.const 0) (i32.const 0x10a0) (i32.const 0) (i32.const 0)))
    (call $kv (i32.const 0x1260) (local.get $child))
    (call $monitor (local.get $child))
    (call $wait_gone (local.get $child))
    (i64.store (i32.const 0x1f0) (i64.const 0))
    (call $kv (i32.const 0x1360)
      (i64.extend_i32_u (call $receive (i32.const 0x1f0) (i32.const 1) (i64.const 0))))
    (call $receive_print (i64.const 0))
    (call $say (i32.const 0x11e0)))

  (func (export "stop_monitoring")
    (local $child i64)
    (local.set $child (call $spawn (i64.const 0) (i32.const 0x1060) (i32.const 0) (i32.const 0)))
    (call $monitor (local.get $child))
    (call $stop_monitoring (local.get $child))
    (call $send_bytes (local.get $child) (i64.const 0) (i32.const 0x1340) (i32.const 2))
    (call $wait_gone (local.get $child))
    (call $kv (i32.const 0x1300) (local.get $child))
    (call $print_pending)
    (call $say (i32.const 0x11e0)))

  (func (export "monitor_missing")
    (call $monitor (i64.const 999))
    (call $receive_print (i64.const 50))
    (call $say (i32.const 0x11e0)))

  (func (export "parent_returns")
    (drop (call $spawn_with_parent (i64.const 42) (i32.const 0x1380)))
    (drop (call $receive_tag (i64.const 9)))
    (call $say (i32.const 0x13a0)))

  (func (export "parent_fails_kills_child")
    (drop (call $spawn_with_parent (i64.const 42) (i32.const 0x13e0)))
    (drop (call $receive_tag (i64.const 9)))
    unreachable)

  ;; ---- children ----

  ;; Keeps the default flag, monitors the parent and waits for its ProcessDied.
  (func (export "outlive_parent") (param $parent i64)
    (call $monitor (local.get $parent))
    (call $send_bytes (local.get $parent) (i64.const 9) (i32.const 0x1320) (i32.const 5))
    (call $kv (i32.const 0x1160)
      (i64.extend_i32_u (call $receive (i32.const 0) (i32.const 0) (i64.const -1))))
    (call $kv (i32.const 0x11a0) (call $get_process_id))
    (call $say (i32.const 0x13c0)))

  ;; Keeps the default flag, tells the parent it is ready and waits (until it is killed).
  (func (export "wait_forever") (param $parent i64)
    (call $send_bytes (local.get $parent) (i64.const 9) (i32.const 0x1320) (i32.const 5))
    (drop (call $receive (i32.const 0) (i32.const 0) (i64.const -1)))
    (call $say (i32.const 0x1200)))

  (func (export "fail_trap")
    unreachable)

  ;; Turns the flag off, tells the parent it is ready (tag 9), waits for a LinkDied.
  (func (export "watch_parent") (param $parent i64)
    (call $die_when_link_dies (i32.const 0))
    (call $send_bytes (local.get $parent) (i64.const 9) (i32.const 0x1320) (i32.const 5))
    (call $kv (i32.const 0x1160)
      (i64.extend_i32_u (call $receive (i32.const 0) (i32.const 0) (i64.const -1))))
    (call $kv (i32.const 0x1180) (call $get_tag))
    (call $kv (i32.const 0x11a0) (call $get_process_id)))

  (func (export "link_then_fail") (param $parent i64)
    (call $link (i64.const 55) (local.get $parent))
    (call $send_bytes (local.get $parent) (i64.const 9) (i32.const 0x1320) (i32.const 5))
    unreachable)

  (func (export "fail_after_go")
    (drop (call $receive (i32.const 0) (i32.const 0) (i64.const -1)))
    unreachable)

  ;; Keeps the default flag, spawns fail_trap linked (tag 2) and waits: it is killed.
  (func (export "middle")
    (drop (call $spawn (i64.const 2) (i32.const 0x1000) (i32.const 0) (i32.const 0)))
    (call $say (i32.const 0x1240))
    (drop (call $receive (i32.const 0) (i32.const 0) (i64.const -1)))
    (call $say (i32.const 0x1200)))

  (func (export "end_normal"))

  (func (export "end_exit0")
    (call $proc_exit (i32.const 0)))

  (func (export "blocked")
    (drop (call $receive (i32.const 0) (i32.const 0) (i64.const -1)))
    (call $say (i32.const 0x1200)))
)
