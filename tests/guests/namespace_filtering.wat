;; namespace_filtering: configs narrowed with lunatic::process::config_allow_namespace
;; (tests/namespace_filtering.test.ts).
;;
;; A config allows the host functions whose "module::function" starts with one of its
;; namespaces (all of them until the first config_allow_namespace), and never more than the
;; config of the process that created it. A call outside fails the process with
;; "permission denied: <module>::<function>".
;;
;; Exports (each runs as the root):
;;   _start        prints a line (WASI), then its PID (lunatic::process), then "root: done"
;;   narrow        child allowed lunatic::message:: + wasi: receives and prints, then process_id
;;   functions     child allowed single functions (fd_write, receive, read_data): create_data
;;   no_widen      a middle process, itself narrowed, creates configs that try to widen
;;   root_ceiling  run with `allow` on the root: a config listing lunatic::message:: still
;;                 cannot reach it
(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "lunatic::process" "spawn"
    (func $spawn_raw (param i64 i64 i64 i32 i32 i32 i32 i32) (result i32)))
  (import "lunatic::process" "process_id" (func $process_id (result i64)))
  (import "lunatic::process" "monitor" (func $monitor (param i64)))
  (import "lunatic::process" "sleep_ms" (func $sleep_ms (param i64)))
  (import "lunatic::process" "create_config" (func $create_config (result i64)))
  (import "lunatic::process" "config_allow_namespace"
    (func $config_allow_namespace (param i64 i32 i32)))
  (import "lunatic::process" "config_set_can_spawn_processes"
    (func $config_set_can_spawn_processes (param i64 i32)))
  (import "lunatic::process" "config_set_can_create_configs"
    (func $config_set_can_create_configs (param i64 i32)))
  (import "lunatic::message" "create_data" (func $create_data (param i64 i64)))
  (import "lunatic::message" "write_data" (func $write_data (param i32 i32) (result i32)))
  (import "lunatic::message" "read_data" (func $read_data (param i32 i32) (result i32)))
  (import "lunatic::message" "get_process_id" (func $get_process_id (result i64)))
  (import "lunatic::message" "send" (func $send (param i64) (result i32)))
  (import "lunatic::message" "receive" (func $receive (param i32 i32 i64) (result i32)))

  ;; Memory map: 0x00 iovec, 0x08 nwritten, 0x10-0x3f digits, 0x40-0x1bf line buffer,
  ;; 0x1d0 spawn parameter record, 0x1f8 spawn result, 0x200-0xfff scratch,
  ;; 0x1000- NUL-terminated strings in 64-byte slots.
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

  ;; Adds the NUL-terminated namespace `ns` to config `config`.
  (func $allow (param $config i64) (param $ns i32)
    (call $config_allow_namespace (local.get $config) (local.get $ns) (call $strlen (local.get $ns))))

  ;; Spawns the export named by the NUL-terminated `name` with config `config` and one i32
  ;; parameter `arg`; traps unless the spawn succeeds. Returns the new PID (monitored unless
  ;; `link` is set).
  (func $spawn (param $config i64) (param $link i64) (param $name i32) (param $arg i32)
    (result i64)
    (local $pid i64)
    (i32.store8 (i32.const 0x1d0) (i32.const 0x7f))
    (i64.store (i32.const 0x1d1) (i64.extend_i32_s (local.get $arg)))
    (i64.store (i32.const 0x1d9) (i64.const 0))
    (if (call $spawn_raw (local.get $link) (local.get $config) (i64.const -1)
          (local.get $name) (call $strlen (local.get $name))
          (i32.const 0x1d0) (i32.const 17) (i32.const 0x1f8))
      (then unreachable))
    (local.set $pid (i64.load (i32.const 0x1f8)))
    (if (i64.eqz (local.get $link)) (then (call $monitor (local.get $pid))))
    (local.get $pid))

  ;; Sends the NUL-terminated `text` (untagged) to `pid`.
  (func $send_text (param $pid i64) (param $text i32)
    (call $create_data (i64.const 0) (i64.const 0))
    (drop (call $write_data (local.get $text) (call $strlen (local.get $text))))
    (drop (call $send (local.get $pid))))

  ;; Receives messages until the ProcessDied of `pid` (monitored); prints "<label>=<pid>".
  (func $await_death (param $label i32) (param $pid i64)
    (loop $next
      (br_if $next (i32.ne (call $receive (i32.const 0) (i32.const 0) (i64.const -1)) (i32.const 2)))
      (br_if $next (i64.ne (call $get_process_id) (local.get $pid))))
    (call $kv (local.get $label) (local.get $pid)))

  ;; Receives one message and prints "<label>=<its text>".
  (func $receive_text (param $label i32)
    (drop (call $receive (i32.const 0) (i32.const 0) (i64.const -1)))
    (call $ks (local.get $label) (i32.const 0x200) (call $read_data (i32.const 0x200) (i32.const 64))))

  ;; Namespaces.
  (data (i32.const 0x1000) "lunatic::message::\00")
  (data (i32.const 0x1040) "wasi_snapshot_preview1::\00")
  (data (i32.const 0x1080) "lunatic::process::\00")
  (data (i32.const 0x10c0) "wasi_snapshot_preview1::fd_write\00")
  (data (i32.const 0x1100) "lunatic::message::receive\00")
  (data (i32.const 0x1140) "lunatic::message::read_data\00")
  (data (i32.const 0x1180) "lunatic::process::create_config\00")
  (data (i32.const 0x11c0) "lunatic::process::config_\00")
  (data (i32.const 0x1200) "lunatic::process::spawn\00")
  (data (i32.const 0x1240) "lunatic::process::monitor\00")
  ;; Export names.
  (data (i32.const 0x1400) "receive_then_process_id\00")
  (data (i32.const 0x1440) "receive_then_create_data\00")
  (data (i32.const 0x1480) "middle\00")
  (data (i32.const 0x14c0) "grandchild\00")
  (data (i32.const 0x1500) "create_data_now\00")
  ;; Texts and labels.
  (data (i32.const 0x1800) "hi\00")
  (data (i32.const 0x1840) "root: hello\00")
  (data (i32.const 0x1880) "root: pid\00")
  (data (i32.const 0x18c0) "root: done\00")
  (data (i32.const 0x1900) "root: ended\00")
  (data (i32.const 0x1940) "child: got\00")
  (data (i32.const 0x1980) "child: calling lunatic::process::process_id\00")
  (data (i32.const 0x19c0) "child: calling lunatic::message::create_data\00")
  (data (i32.const 0x1a00) "child: NOT REACHED\00")
  (data (i32.const 0x1a40) "middle: grandchild ended\00")
  (data (i32.const 0x1a80) "middle: done\00")
  (data (i32.const 0x1ac0) "grandchild: started\00")
  (data (i32.const 0x1b00) "grandchild: NOT REACHED\00")
  (data (i32.const 0x1b80) "root: NOT REACHED\00")

  (func (export "_start")
    (call $say (i32.const 0x1840))
    (call $kv (i32.const 0x1880) (call $process_id))
    (call $say (i32.const 0x18c0)))

  ;; ---- narrow ----------------------------------------------------------------------------

  (func (export "narrow")
    (local $config i64) (local $child i64)
    (local.set $config (call $create_config))
    (call $allow (local.get $config) (i32.const 0x1000)) ;; lunatic::message::
    (call $allow (local.get $config) (i32.const 0x1040)) ;; wasi_snapshot_preview1::
    (local.set $child (call $spawn (local.get $config) (i64.const 0) (i32.const 0x1400) (i32.const 0)))
    (call $send_text (local.get $child) (i32.const 0x1800))
    (call $await_death (i32.const 0x1900) (local.get $child)))

  ;; Receives a message and prints it (lunatic::message + WASI), then asks for its PID.
  (func (export "receive_then_process_id") (param $unused i32)
    (call $receive_text (i32.const 0x1940))
    (call $say (i32.const 0x1980))
    (drop (call $process_id))
    (call $say (i32.const 0x1a00)))

  ;; ---- functions -------------------------------------------------------------------------

  (func (export "functions")
    (local $config i64) (local $child i64)
    (local.set $config (call $create_config))
    (call $allow (local.get $config) (i32.const 0x10c0)) ;; wasi_snapshot_preview1::fd_write
    (call $allow (local.get $config) (i32.const 0x1100)) ;; lunatic::message::receive
    (call $allow (local.get $config) (i32.const 0x1140)) ;; lunatic::message::read_data
    (local.set $child (call $spawn (local.get $config) (i64.const 0) (i32.const 0x1440) (i32.const 0)))
    (call $send_text (local.get $child) (i32.const 0x1800))
    (call $await_death (i32.const 0x1900) (local.get $child)))

  (func (export "receive_then_create_data") (param $unused i32)
    (call $receive_text (i32.const 0x1940))
    (call $say (i32.const 0x19c0))
    (call $create_data (i64.const 0) (i64.const 0))
    (call $say (i32.const 0x1a00)))

  ;; ---- no_widen --------------------------------------------------------------------------

  (func (export "no_widen")
    (local $config i64)
    (local.set $config (call $create_config))
    (call $allow (local.get $config) (i32.const 0x1000)) ;; lunatic::message::
    (call $allow (local.get $config) (i32.const 0x1040)) ;; wasi_snapshot_preview1::
    (call $allow (local.get $config) (i32.const 0x1180)) ;; lunatic::process::create_config
    (call $allow (local.get $config) (i32.const 0x11c0)) ;; lunatic::process::config_
    (call $allow (local.get $config) (i32.const 0x1200)) ;; lunatic::process::spawn
    (call $allow (local.get $config) (i32.const 0x1240)) ;; lunatic::process::monitor
    (call $config_set_can_spawn_processes (local.get $config) (i32.const 1))
    (call $config_set_can_create_configs (local.get $config) (i32.const 1))
    (call $await_death (i32.const 0x1900)
      (call $spawn (local.get $config) (i64.const 0) (i32.const 0x1480) (i32.const 0))))

  ;; Spawns four grandchildren, one after the other:
  ;;   1  a config allowing lunatic::process:: and wasi: calls process_id
  ;;   2  a config with no namespace of its own (it inherits the ceiling): calls process_id
  ;;   3  config -1 (this process's own): calls process_id
  ;;   4  the config of 1: calls lunatic::message::create_data, which the middle may use
  (func (export "middle") (param $unused i32)
    (local $wide i64) (local $plain i64)
    (local.set $wide (call $create_config))
    (call $allow (local.get $wide) (i32.const 0x1080)) ;; lunatic::process::
    (call $allow (local.get $wide) (i32.const 0x1040)) ;; wasi_snapshot_preview1::
    (local.set $plain (call $create_config))
    (call $await_death (i32.const 0x1a40)
      (call $spawn (local.get $wide) (i64.const 0) (i32.const 0x14c0) (i32.const 1)))
    (call $await_death (i32.const 0x1a40)
      (call $spawn (local.get $plain) (i64.const 0) (i32.const 0x14c0) (i32.const 2)))
    (call $await_death (i32.const 0x1a40)
      (call $spawn (i64.const -1) (i64.const 0) (i32.const 0x14c0) (i32.const 3)))
    (call $await_death (i32.const 0x1a40)
      (call $spawn (local.get $wide) (i64.const 0) (i32.const 0x14c0) (i32.const 4)))
    (call $say (i32.const 0x1a80)))

  (func (export "grandchild") (param $variant i32)
    (call $say (i32.const 0x1ac0))
    (if (i32.eq (local.get $variant) (i32.const 4))
      (then (call $create_data (i64.const 0) (i64.const 0)))
      (else (drop (call $process_id))))
    (call $say (i32.const 0x1b00)))

  ;; ---- root_ceiling ----------------------------------------------------------------------

  ;; The root itself runs with `allow` (wasi + lunatic::process::), so it cannot receive: it
  ;; links the child and sleeps; the child's failure kills it.
  (func (export "root_ceiling")
    (local $config i64)
    (call $kv (i32.const 0x1880) (call $process_id))
    (local.set $config (call $create_config))
    (call $allow (local.get $config) (i32.const 0x1000)) ;; lunatic::message::
    (call $allow (local.get $config) (i32.const 0x1040)) ;; wasi_snapshot_preview1::
    (drop (call $spawn (local.get $config) (i64.const 9) (i32.const 0x1500) (i32.const 0)))
    (call $sleep_ms (i64.const 2000))
    (call $say (i32.const 0x1b80)))

  (func (export "create_data_now") (param $unused i32)
    (call $say (i32.const 0x19c0))
    (call $create_data (i64.const 0) (i64.const 0))
    (call $say (i32.const 0x1a00)))
)
