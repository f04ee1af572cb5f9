;; all_lunatic_rs_imports: declares EVERY host function that guests built with lunatic-rs
;; 0.14.1 import, with the exact signatures of shared/spec/lunatic-rs-imports.txt
;; (tests/lunatic_rs_compat.test.ts checks that this file declares exactly that list).
;;
;; The import declarations were generated from that list (one per line, in its order); the
;; functions after them are written by hand. A module with an import the host lacks, or with
;; a different signature, fails to load, so instantiating this module proves the runtime
;; links every one of them.
;;
;; Exports:
;;   _start             a few calls lunatic-rs makes on every run, plus the metrics calls
;;   metrics_bad_name   lunatic::metrics::counter with a name that is not UTF-8
;;   metrics_oob        lunatic::metrics::histogram with a name outside memory
(module
  ;; ---- Generated from lunatic-rs-imports.txt: 116 imports ----
  (import "lunatic::distributed" "get_nodes" (func $lunatic::distributed::get_nodes (param i32 i32) (result i32)))
  (import "lunatic::distributed" "module_id" (func $lunatic::distributed::module_id (result i64)))
  (import "lunatic::distributed" "node_id" (func $lunatic::distributed::node_id (result i64)))
  (import "lunatic::distributed" "nodes_count" (func $lunatic::distributed::nodes_count (result i32)))
  (import "lunatic::distributed" "send" (func $lunatic::distributed::send (param i64 i64) (result i32)))
  (import "lunatic::distributed" "send_receive_skip_search" (func $lunatic::distributed::send_receive_skip_search (param i64 i64 i64 i64) (result i32)))
  (import "lunatic::distributed" "spawn" (func $lunatic::distributed::spawn (param i64 i64 i64 i32 i32 i32 i32 i32) (result i32)))
  (import "lunatic::error" "drop" (func $lunatic::error::drop (param i64)))
  (import "lunatic::error" "string_size" (func $lunatic::error::string_size (param i64) (result i32)))
  (import "lunatic::error" "to_string" (func $lunatic::error::to_string (param i64 i32)))
  (import "lunatic::message" "create_data" (func $lunatic::message::create_data (param i64 i64)))
  (import "lunatic::message" "get_process_id" (func $lunatic::message::get_process_id (result i64)))
  (import "lunatic::message" "get_tag" (func $lunatic::message::get_tag (result i64)))
  (import "lunatic::message" "push_tcp_stream" (func $lunatic::message::push_tcp_stream (param i64) (result i64)))
  (import "lunatic::message" "push_tls_stream" (func $lunatic::message::push_tls_stream (param i64) (result i64)))
  (import "lunatic::message" "read_data" (func $lunatic::message::read_data (param i32 i32) (result i32)))
  (import "lunatic::message" "receive" (func $lunatic::message::receive (param i32 i32 i64) (result i32)))
  (import "lunatic::message" "send" (func $lunatic::message::send (param i64) (result i32)))
  (import "lunatic::message" "send_receive_skip_search" (func $lunatic::message::send_receive_skip_search (param i64 i64 i64) (result i32)))
  (import "lunatic::message" "take_tcp_stream" (func $lunatic::message::take_tcp_stream (param i64) (result i64)))
  (import "lunatic::message" "take_tls_stream" (func $lunatic::message::take_tls_stream (param i64) (result i64)))
  (import "lunatic::message" "write_data" (func $lunatic::message::write_data (param i32 i32) (result i32)))
  (import "lunatic::metrics" "counter" (func $lunatic::metrics::counter (param i32 i32 i64)))
  (import "lunatic::metrics" "decrement_gauge" (func $lunatic::metrics::decrement_gauge (param i32 i32 f64)))
  (import "lunatic::metrics" "histogram" (func $lunatic::metrics::histogram (param i32 i32 f64)))
  (import "lunatic::metrics" "increment_counter" (func $lunatic::metrics::increment_counter (param i32 i32)))
  (import "lunatic::metrics" "increment_gauge" (func $lunatic::metrics::increment_gauge (param i32 i32 f64)))
  (import "lunatic::networking" "clone_tcp_stream" (func $lunatic::networking::clone_tcp_stream (param i64) (result i64)))
  (import "lunatic::networking" "clone_tls_stream" (func $lunatic::networking::clone_tls_stream (param i64) (result i64)))
  (import "lunatic::networking" "clone_udp_socket" (func $lunatic::networking::clone_udp_socket (param i64) (result i64)))
  (import "lunatic::networking" "drop_dns_iterator" (func $lunatic::networking::drop_dns_iterator (param i64)))
  (import "lunatic::networking" "drop_tcp_listener" (func $lunatic::networking::drop_tcp_listener (param i64)))
  (import "lunatic::networking" "drop_tcp_stream" (func $lunatic::networking::drop_tcp_stream (param i64)))
  (import "lunatic::networking" "drop_tls_listener" (func $lunatic::networking::drop_tls_listener (param i64)))
  (import "lunatic::networking" "drop_tls_stream" (func $lunatic::networking::drop_tls_stream (param i64)))
  (import "lunatic::networking" "drop_udp_socket" (func $lunatic::networking::drop_udp_socket (param i64)))
  (import "lunatic::networking" "get_udp_socket_broadcast" (func $lunatic::networking::get_udp_socket_broadcast (param i64) (result i32)))
  (import "lunatic::networking" "get_udp_socket_ttl" (func $lunatic::networking::get_udp_socket_ttl (param i64) (result i32)))
  (import "lunatic::networking" "resolve" (func $lunatic::networking::resolve (param i32 i32 i64 i32) (result i32)))
  (import "lunatic::networking" "resolve_next" (func $lunatic::networking::resolve_next (param i64 i32 i32 i32 i32 i32) (result i32)))
  (import "lunatic::networking" "set_tls_read_timeout" (func $lunatic::networking::set_tls_read_timeout (param i64 i64)))
  (import "lunatic::networking" "set_tls_write_timeout" (func $lunatic::networking::set_tls_write_timeout (param i64 i64)))
  (import "lunatic::networking" "set_udp_socket_broadcast" (func $lunatic::networking::set_udp_socket_broadcast (param i64 i32)))
  (import "lunatic::networking" "set_udp_socket_ttl" (func $lunatic::networking::set_udp_socket_ttl (param i64 i32)))
  (import "lunatic::networking" "tcp_accept" (func $lunatic::networking::tcp_accept (param i64 i32 i32) (result i32)))
  (import "lunatic::networking" "tcp_bind" (func $lunatic::networking::tcp_bind (param i32 i32 i32 i32 i32 i32) (result i32)))
  (import "lunatic::networking" "tcp_connect" (func $lunatic::networking::tcp_connect (param i32 i32 i32 i32 i32 i64 i32) (result i32)))
  (import "lunatic::networking" "tcp_local_addr" (func $lunatic::networking::tcp_local_addr (param i64 i32) (result i32)))
  (import "lunatic::networking" "tcp_read" (func $lunatic::networking::tcp_read (param i64 i32 i32 i32) (result i32)))
  (import "lunatic::networking" "tcp_write_vectored" (func $lunatic::networking::tcp_write_vectored (param i64 i32 i32 i32) (result i32)))
  (import "lunatic::networking" "tls_accept" (func $lunatic::networking::tls_accept (param i64 i32 i32) (result i32)))
  (import "lunatic::networking" "tls_bind" (func $lunatic::networking::tls_bind (param i32 i32 i32 i32 i32 i32 i32 i32 i32 i32) (result i32)))
  (import "lunatic::networking" "tls_connect" (func $lunatic::networking::tls_connect (param i32 i32 i32 i64 i32 i32 i32) (result i32)))
  (import "lunatic::networking" "tls_local_addr" (func $lunatic::networking::tls_local_addr (param i64 i32) (result i32)))
  (import "lunatic::networking" "tls_read" (func $lunatic::networking::tls_read (param i64 i32 i32 i32) (result i32)))
  (import "lunatic::networking" "tls_write_vectored" (func $lunatic::networking::tls_write_vectored (param i64 i32 i32 i32) (result i32)))
  (import "lunatic::networking" "udp_bind" (func $lunatic::networking::udp_bind (param i32 i32 i32 i32 i32 i32) (result i32)))
  (import "lunatic::networking" "udp_connect" (func $lunatic::networking::udp_connect (param i64 i32 i32 i32 i32 i32 i64 i32) (result i32)))
  (import "lunatic::networking" "udp_local_addr" (func $lunatic::networking::udp_local_addr (param i64 i32) (result i32)))
  (import "lunatic::networking" "udp_peer_addr" (func $lunatic::networking::udp_peer_addr (param i64 i32) (result i32)))
  (import "lunatic::networking" "udp_receive" (func $lunatic::networking::udp_receive (param i64 i32 i32 i32) (result i32)))
  (import "lunatic::networking" "udp_receive_from" (func $lunatic::networking::udp_receive_from (param i64 i32 i32 i32 i32) (result i32)))
  (import "lunatic::networking" "udp_send" (func $lunatic::networking::udp_send (param i64 i32 i32 i32) (result i32)))
  (import "lunatic::networking" "udp_send_to" (func $lunatic::networking::udp_send_to (param i64 i32 i32 i32 i32 i32 i32 i32 i32) (result i32)))
  (import "lunatic::process" "config_can_create_configs" (func $lunatic::process::config_can_create_configs (param i64) (result i32)))
  (import "lunatic::process" "config_can_spawn_processes" (func $lunatic::process::config_can_spawn_processes (param i64) (result i32)))
  (import "lunatic::process" "config_set_can_create_configs" (func $lunatic::process::config_set_can_create_configs (param i64 i32)))
  (import "lunatic::process" "config_set_can_spawn_processes" (func $lunatic::process::config_set_can_spawn_processes (param i64 i32)))
  (import "lunatic::process" "config_set_max_fuel" (func $lunatic::process::config_set_max_fuel (param i64 i64)))
  (import "lunatic::process" "config_set_max_memory" (func $lunatic::process::config_set_max_memory (param i64 i64)))
  (import "lunatic::process" "create_config" (func $lunatic::process::create_config (result i64)))
  (import "lunatic::process" "die_when_link_dies" (func $lunatic::process::die_when_link_dies (param i32)))
  (import "lunatic::process" "drop_config" (func $lunatic::process::drop_config (param i64)))
  (import "lunatic::process" "drop_module" (func $lunatic::process::drop_module (param i64)))
  (import "lunatic::process" "exists" (func $lunatic::process::exists (param i64) (result i32)))
  (import "lunatic::process" "get_or_spawn" (func $lunatic::process::get_or_spawn (param i32 i32 i64 i64 i64 i32 i32 i32 i32 i32 i32) (result i32)))
  (import "lunatic::process" "kill" (func $lunatic::process::kill (param i64)))
  (import "lunatic::process" "link" (func $lunatic::process::link (param i64 i64)))
  (import "lunatic::process" "monitor" (func $lunatic::process::monitor (param i64)))
  (import "lunatic::process" "process_id" (func $lunatic::process::process_id (result i64)))
  (import "lunatic::process" "sleep_ms" (func $lunatic::process::sleep_ms (param i64)))
  (import "lunatic::process" "spawn" (func $lunatic::process::spawn (param i64 i64 i64 i32 i32 i32 i32 i32) (result i32)))
  (import "lunatic::process" "unlink" (func $lunatic::process::unlink (param i64)))
  (import "lunatic::registry" "get" (func $lunatic::registry::get (param i32 i32 i32 i32) (result i32)))
  (import "lunatic::registry" "put" (func $lunatic::registry::put (param i32 i32 i64 i64)))
  (import "lunatic::registry" "remove" (func $lunatic::registry::remove (param i32 i32)))
  (import "lunatic::sqlite" "bind_value" (func $lunatic::sqlite::bind_value (param i64 i32 i32)))
  (import "lunatic::sqlite" "execute" (func $lunatic::sqlite::execute (param i64 i32 i32) (result i32)))
  (import "lunatic::sqlite" "open" (func $lunatic::sqlite::open (param i32 i32 i32) (result i64)))
  (import "lunatic::sqlite" "query_prepare" (func $lunatic::sqlite::query_prepare (param i64 i32 i32) (result i64)))
  (import "lunatic::sqlite" "read_row" (func $lunatic::sqlite::read_row (param i64 i32) (result i32)))
  (import "lunatic::sqlite" "sqlite3_finalize" (func $lunatic::sqlite::sqlite3_finalize (param i64)))
  (import "lunatic::sqlite" "sqlite3_step" (func $lunatic::sqlite::sqlite3_step (param i64) (result i32)))
  (import "lunatic::timer" "cancel_timer" (func $lunatic::timer::cancel_timer (param i64) (result i32)))
  (import "lunatic::timer" "send_after" (func $lunatic::timer::send_after (param i64 i64) (result i64)))
  (import "lunatic::trap" "catch" (func $lunatic::trap::catch (param i32 i32) (result i32)))
  (import "lunatic::wasi" "config_add_command_line_argument" (func $lunatic::wasi::config_add_command_line_argument (param i64 i32 i32)))
  (import "lunatic::wasi" "config_add_environment_variable" (func $lunatic::wasi::config_add_environment_variable (param i64 i32 i32 i32 i32)))
  (import "lunatic::wasi" "config_preopen_dir" (func $lunatic::wasi::config_preopen_dir (param i64 i32 i32)))
  (import "wasi_snapshot_preview1" "args_get" (func $wasi_snapshot_preview1::args_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "args_sizes_get" (func $wasi_snapshot_preview1::args_sizes_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "clock_time_get" (func $wasi_snapshot_preview1::clock_time_get (param i32 i64 i32) (result i32)))
  (import "wasi_snapshot_preview1" "environ_get" (func $wasi_snapshot_preview1::environ_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "environ_sizes_get" (func $wasi_snapshot_preview1::environ_sizes_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_close" (func $wasi_snapshot_preview1::fd_close (param i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_filestat_get" (func $wasi_snapshot_preview1::fd_filestat_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_prestat_dir_name" (func $wasi_snapshot_preview1::fd_prestat_dir_name (param i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_prestat_get" (func $wasi_snapshot_preview1::fd_prestat_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_read" (func $wasi_snapshot_preview1::fd_read (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_seek" (func $wasi_snapshot_preview1::fd_seek (param i32 i64 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $wasi_snapshot_preview1::fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "path_filestat_get" (func $wasi_snapshot_preview1::path_filestat_get (param i32 i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "path_open" (func $wasi_snapshot_preview1::path_open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $wasi_snapshot_preview1::proc_exit (param i32)))
  (import "wasi_snapshot_preview1" "random_get" (func $wasi_snapshot_preview1::random_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "sched_yield" (func $wasi_snapshot_preview1::sched_yield (result i32)))
  ;; ---- End of the generated imports ----

  ;; Memory map: 0x00 iovec, 0x08 nwritten, 0x10-0x3f digits, 0x40-0x1bf line buffer,
  ;; 0x200 scratch, 0x1000- strings.
  (memory (export "memory") 1)

  (data (i32.const 0x1000) "all lunatic-rs imports linked\00")
  (data (i32.const 0x1040) "node_id\00")
  (data (i32.const 0x1060) "module_id\00")
  (data (i32.const 0x1080) "nodes_count\00")
  (data (i32.const 0x10a0) "process_id\00")
  (data (i32.const 0x10c0) "receive\00")
  (data (i32.const 0x10e0) "tag\00")
  (data (i32.const 0x1100) "metrics accepted\00")
  (data (i32.const 0x1120) "done\00")
  (data (i32.const 0x1160) "NOT REACHED\00")
  (data (i32.const 0x1180) "requests")
  (data (i32.const 0x11a0) "load")
  (data (i32.const 0x11c0) "latency")
  (data (i32.const 0x11e0) "\ff\fe")
  (data (i32.const 0x1200) "\7f\00\00\01")
  (data (i32.const 0x1220) "localhost:80")

  ;; Writes `len` bytes at `ptr` to stdout.
  (func $write (param $ptr i32) (param $len i32)
    (i32.store (i32.const 0x00) (local.get $ptr))
    (i32.store (i32.const 0x04) (local.get $len))
    (drop (call $wasi_snapshot_preview1::fd_write
      (i32.const 1) (i32.const 0x00) (i32.const 1) (i32.const 0x08))))

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

  (func (export "_start")
    (call $say (i32.const 0x1000))
    ;; What lunatic-rs asks on every Process::send and spawn.
    (call $kv (i32.const 0x1040) (call $lunatic::distributed::node_id))
    (call $kv (i32.const 0x1060) (call $lunatic::distributed::module_id))
    (call $kv (i32.const 0x1080) (i64.extend_i32_s (call $lunatic::distributed::nodes_count)))
    (call $kv (i32.const 0x10a0) (call $lunatic::process::process_id))
    ;; A tagged message to itself, the way Process::tag_send and Mailbox::receive do it.
    (call $lunatic::message::create_data (i64.const 129) (i64.const 0))
    (drop (call $lunatic::message::write_data (i32.const 0x1180) (i32.const 8)))
    (drop (call $lunatic::message::send (call $lunatic::process::process_id)))
    (call $kv (i32.const 0x10c0) (i64.extend_i32_s
      (call $lunatic::message::receive (i32.const 0) (i32.const 0) (i64.const -1))))
    (call $kv (i32.const 0x10e0) (call $lunatic::message::get_tag))
    ;; Metrics: accepted and ignored.
    (call $lunatic::metrics::counter (i32.const 0x1180) (i32.const 8) (i64.const 3))
    (call $lunatic::metrics::increment_counter (i32.const 0x1180) (i32.const 8))
    (call $lunatic::metrics::increment_gauge (i32.const 0x11a0) (i32.const 4) (f64.const 1.5))
    (call $lunatic::metrics::decrement_gauge (i32.const 0x11a0) (i32.const 4) (f64.const 0.5))
    (call $lunatic::metrics::histogram (i32.const 0x11c0) (i32.const 7) (f64.const 0.25))
    (call $say (i32.const 0x1100))
    (call $say (i32.const 0x1120)))

  ;; ---- Metrics with bad names trap, as lunatic does.

  (func (export "metrics_bad_name")
    (call $lunatic::metrics::counter (i32.const 0x11e0) (i32.const 2) (i64.const 1))
    (call $say (i32.const 0x1160)))

  (func (export "metrics_oob")
    (call $lunatic::metrics::histogram (i32.const 0xfffffff0) (i32.const 100) (f64.const 1))
    (call $say (i32.const 0x1160)))
)
