/*
 * lunatic.h: the lunatic host ABI (lunatic 0.13.2) for C guests.
 *
 * Build a guest with:   clang-14 --target=wasm32-wasi -O2 -Iexamples prog.c -o prog.wasm
 * Run it with:          deno task run prog.wasm [args...]
 *
 * NAMING
 *   Host function `<name>` of the import module `lunatic::<module>` is declared here as
 *   `lunatic_<module>_<name>`, with the wasm signature written in C types:
 *       lunatic::process::spawn    -> lunatic_process_spawn
 *       lunatic::message::send     -> lunatic_message_send
 *       lunatic::error::drop       -> lunatic_error_drop
 *       lunatic::version::major    -> lunatic_version_major
 *   Wasm i64 is int64_t or uint64_t (process IDs, error IDs, timeouts and sizes are unsigned;
 *   tags, config IDs and module IDs are signed because -1 and tags are i64 in lunatic-rs);
 *   wasm i32 is a pointer, uint32_t (lengths) or int32_t (status codes, flags).
 *   Only the functions a program calls become imports of its .wasm.
 *
 *   Helpers defined in this file (static inline, not host functions) share the `lunatic_`
 *   prefix; each is marked "[helper]" and none has the name of a host function:
 *       lunatic_param_i32, lunatic_param_i64          spawn parameter records
 *       lunatic_spawn_export                           spawn an export of this module
 *       lunatic_error_take_string                      read and drop an error
 *       lunatic_message_receive_any / _receive_tag     receive without / with one tag
 *       lunatic_message_write_u64 / _read_u64 / _read_exact
 *       lunatic_tcp_bind_ipv4, lunatic_tcp_listener_port, lunatic_tcp_write_all
 *   Constants are LUNATIC_*, and LUNATIC_EXPORT(name) exports a C function under `name`.
 *
 * MODEL (see spec/lunatic-abi.md sections 1-3)
 *   - Each process has ONE message scratch slot. Sending: create_data(tag, capacity) ->
 *     write_data()* -> send(pid) (send empties the slot). Receiving: receive() puts the
 *     message in the slot -> read_data()* / get_tag() / data_size(). create_data discards a
 *     received message still in the slot, so read it completely first.
 *   - Tag 0 means "untagged". An untagged message never matches a receive with a tag list.
 *   - Spawned processes run an EXPORTED function of the module; its parameters come from the
 *     spawn parameter records (17 bytes each, see lunatic_param_i32/i64).
 *   - With a wasi command module (one with main), wasm-ld wraps every export other than
 *     _start so that it runs the C constructors first and the destructors (which flush stdio)
 *     after. A process that traps never flushes, so examples make stdout line buffered.
 */
#ifndef LUNATIC_H
#define LUNATIC_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define LUNATIC_IMPORT(module, name) \
    __attribute__((import_module(module), import_name(name)))

/* Exports a function under `name` so that lunatic_process_spawn can start a process in it. */
#define LUNATIC_EXPORT(name) __attribute__((export_name(name)))

/* ---- Constants ------------------------------------------------------------------------- */

/* Status codes of fallible calls (spawn, ...). On LUNATIC_ERROR an error ID is written. */
#define LUNATIC_OK 0
#define LUNATIC_ERROR 1
/* Returned by receive / send_receive_skip_search when the timeout expires. */
#define LUNATIC_TIMEOUT 9027
/* What lunatic_message_receive put into the scratch slot. */
#define LUNATIC_RECEIVE_DATA 0
#define LUNATIC_RECEIVE_LINK_DIED 1
#define LUNATIC_RECEIVE_PROCESS_DIED 2
/* Timeouts are u64 milliseconds; UINT64_MAX waits forever. */
#define LUNATIC_NO_TIMEOUT UINT64_MAX
/* Tag 0: an untagged message, or spawn without a link. */
#define LUNATIC_UNTAGGED 0
#define LUNATIC_NO_LINK 0
/* spawn: config_id -1 shares the caller's config, module_id -1 is the caller's module. */
#define LUNATIC_INHERIT_CONFIG (-1)
#define LUNATIC_SAME_MODULE (-1)
/* Spawn parameter records: one type byte, then the value as a 16-byte little-endian u128. */
#define LUNATIC_PARAM_SIZE 17
#define LUNATIC_PARAM_I32 0x7F
#define LUNATIC_PARAM_I64 0x7E
#define LUNATIC_PARAM_V128 0x7B

/* ---- lunatic::error -------------------------------------------------------------------- */

/* Length in bytes of the error's UTF-8 message. Traps on an unknown ID. */
LUNATIC_IMPORT("lunatic::error", "string_size")
uint32_t lunatic_error_string_size(uint64_t error_id);
/* Writes exactly string_size bytes (no NUL) at `out`. Traps on an unknown ID. */
LUNATIC_IMPORT("lunatic::error", "to_string")
void lunatic_error_to_string(uint64_t error_id, char *out);
/* Frees the error. Traps on an unknown ID. */
LUNATIC_IMPORT("lunatic::error", "drop")
void lunatic_error_drop(uint64_t error_id);

/* ---- lunatic::distributed ------------------------------------------------------------- */

/* How many nodes control listed at the last refresh (0 when not a node). */
LUNATIC_IMPORT("lunatic::distributed", "nodes_count")
int32_t lunatic_distributed_nodes_count(void);
/* Copies up to `capacity` node IDs to `ids`; returns how many it copied. */
LUNATIC_IMPORT("lunatic::distributed", "get_nodes")
int32_t lunatic_distributed_get_nodes(uint64_t *ids, int32_t capacity);
/* This node's ID (0 when not a node). */
LUNATIC_IMPORT("lunatic::distributed", "node_id") uint64_t lunatic_distributed_node_id(void);
/* Control's ID of the module this process runs (0 when not a node). */
LUNATIC_IMPORT("lunatic::distributed", "module_id") uint64_t lunatic_distributed_module_id(void);
/* Spawns `function` of control module `module_id` on `node`, never linked: 0 (its ID at `id`),
 * 1 no such node, 2 no such module, 9027 unreachable (an error ID at `id` for those). */
LUNATIC_IMPORT("lunatic::distributed", "spawn")
int32_t lunatic_distributed_spawn(uint64_t node, int64_t config_id, uint64_t module_id,
                                  const char *function, uint32_t function_len,
                                  const uint8_t *params, uint32_t params_len, uint64_t *id);
/* Sends the scratch data message to `process_id` on `node`, waiting for its acknowledgement:
 * 0, 1 no such process, 2 no such node, 9027 unreachable. */
LUNATIC_IMPORT("lunatic::distributed", "send")
int32_t lunatic_distributed_send(uint64_t node, uint64_t process_id);
/* `send`, then waits for a message tagged `wait_on_tag` without searching the mailbox first. */
LUNATIC_IMPORT("lunatic::distributed", "send_receive_skip_search")
int32_t lunatic_distributed_send_receive_skip_search(uint64_t node, uint64_t process_id,
                                                     int64_t wait_on_tag, uint64_t timeout_ms);

/* ---- lunatic::message ------------------------------------------------------------------ */

/* Replaces the scratch slot with a new empty data message. `capacity` is only a size hint. */
LUNATIC_IMPORT("lunatic::message", "create_data")
void lunatic_message_create_data(int64_t tag, uint64_t capacity);
/* Appends `len` bytes to the message in the slot; returns `len`. */
LUNATIC_IMPORT("lunatic::message", "write_data")
uint32_t lunatic_message_write_data(const void *data, uint32_t len);
/* Copies up to `len` bytes from the read cursor; returns the count, 0 at the end. */
LUNATIC_IMPORT("lunatic::message", "read_data")
uint32_t lunatic_message_read_data(void *data, uint32_t len);
/* Moves the read cursor to an absolute byte offset. */
LUNATIC_IMPORT("lunatic::message", "seek_data")
void lunatic_message_seek_data(uint64_t index);
/* Tag of the message in the slot (0 if untagged; the link tag for a LinkDied message). */
LUNATIC_IMPORT("lunatic::message", "get_tag")
int64_t lunatic_message_get_tag(void);
/* For a ProcessDied message, the dead process's ID; 0 for every other kind. */
LUNATIC_IMPORT("lunatic::message", "get_process_id")
uint64_t lunatic_message_get_process_id(void);
/* Total size of the data message in the slot. */
LUNATIC_IMPORT("lunatic::message", "data_size")
uint64_t lunatic_message_data_size(void);
/* Takes the message out of the slot and delivers it to `process_id` (dropped silently if no
 * such process exists). Always returns 0. */
LUNATIC_IMPORT("lunatic::message", "send")
int32_t lunatic_message_send(uint64_t process_id);
/* Sends like send, then waits for a message with tag `wait_on_tag` that arrives AFTER the
 * send (messages already queued are not searched). Returns 0 with the reply in the slot, or
 * LUNATIC_TIMEOUT. */
LUNATIC_IMPORT("lunatic::message", "send_receive_skip_search")
int32_t lunatic_message_send_receive_skip_search(uint64_t process_id, int64_t wait_on_tag,
                                                 uint64_t timeout_ms);
/* Takes the first queued message matching `tags` (any message if tags_len is 0; `tags_len`
 * counts i64 tags, not bytes) into the slot, waiting up to `timeout_ms`. Returns
 * LUNATIC_RECEIVE_DATA, LUNATIC_RECEIVE_LINK_DIED, LUNATIC_RECEIVE_PROCESS_DIED or
 * LUNATIC_TIMEOUT. */
LUNATIC_IMPORT("lunatic::message", "receive")
int32_t lunatic_message_receive(const int64_t *tags, uint32_t tags_len, uint64_t timeout_ms);

/* ---- lunatic::process ------------------------------------------------------------------ */

/* Starts a process running export `function[0..function_len)` of module `module_id` with the
 * decoded `params`. `link` != 0 links it to the caller with that tag (if the child fails, the
 * caller gets LinkDied carrying `link`). Returns LUNATIC_OK with the new process ID at *id,
 * or LUNATIC_ERROR with an error ID at *id. */
LUNATIC_IMPORT("lunatic::process", "spawn")
int32_t lunatic_process_spawn(int64_t link, int64_t config_id, int64_t module_id,
                              const char *function, uint32_t function_len,
                              const uint8_t *params, uint32_t params_len, uint64_t *id);
LUNATIC_IMPORT("lunatic::process", "process_id")
uint64_t lunatic_process_process_id(void);
LUNATIC_IMPORT("lunatic::process", "environment_id")
uint64_t lunatic_process_environment_id(void);
/* 1 if the process currently exists, else 0. */
LUNATIC_IMPORT("lunatic::process", "exists")
int32_t lunatic_process_exists(uint64_t process_id);
LUNATIC_IMPORT("lunatic::process", "kill")
void lunatic_process_kill(uint64_t process_id);
LUNATIC_IMPORT("lunatic::process", "sleep_ms")
void lunatic_process_sleep_ms(uint64_t ms);
/* Links both ways with the same tag (0 = no tag). */
LUNATIC_IMPORT("lunatic::process", "link")
void lunatic_process_link(int64_t tag, uint64_t process_id);
LUNATIC_IMPORT("lunatic::process", "unlink")
void lunatic_process_unlink(uint64_t process_id);
/* flag != 0 (the default): die when a linked process fails. flag == 0: receive a LinkDied
 * message instead. */
LUNATIC_IMPORT("lunatic::process", "die_when_link_dies")
void lunatic_process_die_when_link_dies(int32_t flag);
/* Receive a ProcessDied message (untagged) when `process_id` ends, however it ends. */
LUNATIC_IMPORT("lunatic::process", "monitor")
void lunatic_process_monitor(uint64_t process_id);
LUNATIC_IMPORT("lunatic::process", "stop_monitoring")
void lunatic_process_stop_monitoring(uint64_t process_id);

/* ---- lunatic::version ------------------------------------------------------------------ */

LUNATIC_IMPORT("lunatic::version", "major")
int32_t lunatic_version_major(void);
LUNATIC_IMPORT("lunatic::version", "minor")
int32_t lunatic_version_minor(void);
LUNATIC_IMPORT("lunatic::version", "patch")
int32_t lunatic_version_patch(void);

/* ---- lunatic::networking --------------------------------------------------------------- */

/* Socket addresses go in as (addr_type, addr_ptr, port, flow_info, scope_id): addr_type 4 reads
 * 4 octets at addr_ptr, 6 reads 16; only the low 16 bits of port count; flow_info and
 * scope_id are for IPv6. Listeners, streams, sockets and DNS iterators are per-process IDs.
 * Fallible calls return LUNATIC_OK with the new ID (or a count) at *id, LUNATIC_ERROR with an
 * error ID there, or LUNATIC_TIMEOUT (nothing written). */
#define LUNATIC_NET_ADDR_IPV4 4
#define LUNATIC_NET_ADDR_IPV6 6

/* Resolves "host:port" (a name or an IP literal; IPv6 in brackets) into a DNS iterator. */
LUNATIC_IMPORT("lunatic::networking", "resolve")
int32_t lunatic_networking_resolve(const char *name, uint32_t name_len, uint64_t timeout_ms,
                                   uint64_t *id);
/* The next address: LUNATIC_OK, or 1 when there is none left. addr must hold 16 bytes. */
LUNATIC_IMPORT("lunatic::networking", "resolve_next")
int32_t lunatic_networking_resolve_next(uint64_t dns_iter, uint32_t *addr_type, uint8_t *addr,
                                        uint16_t *port, uint32_t *flow_info, uint32_t *scope_id);
LUNATIC_IMPORT("lunatic::networking", "drop_dns_iterator")
void lunatic_networking_drop_dns_iterator(uint64_t dns_iter);

LUNATIC_IMPORT("lunatic::networking", "tcp_bind")
int32_t lunatic_networking_tcp_bind(uint32_t addr_type, const uint8_t *addr, uint32_t port,
                                    uint32_t flow_info, uint32_t scope_id, uint64_t *id);
LUNATIC_IMPORT("lunatic::networking", "drop_tcp_listener")
void lunatic_networking_drop_tcp_listener(uint64_t listener);
/* The listener's address, as a one-address DNS iterator. */
LUNATIC_IMPORT("lunatic::networking", "tcp_local_addr")
int32_t lunatic_networking_tcp_local_addr(uint64_t listener, uint64_t *dns_iter);
/* Waits for a connection: its stream at *id, its peer as a DNS iterator at *peer_iter. */
LUNATIC_IMPORT("lunatic::networking", "tcp_accept")
int32_t lunatic_networking_tcp_accept(uint64_t listener, uint64_t *id, uint64_t *peer_iter);
LUNATIC_IMPORT("lunatic::networking", "tcp_connect")
int32_t lunatic_networking_tcp_connect(uint32_t addr_type, const uint8_t *addr, uint32_t port,
                                       uint32_t flow_info, uint32_t scope_id,
                                       uint64_t timeout_ms, uint64_t *id);
LUNATIC_IMPORT("lunatic::networking", "tcp_peer_addr")
int32_t lunatic_networking_tcp_peer_addr(uint64_t stream, uint64_t *dns_iter);
/* The socket closes when its last handle (in any process) is dropped. */
LUNATIC_IMPORT("lunatic::networking", "drop_tcp_stream")
void lunatic_networking_drop_tcp_stream(uint64_t stream);
LUNATIC_IMPORT("lunatic::networking", "clone_tcp_stream")
uint64_t lunatic_networking_clone_tcp_stream(uint64_t stream);
/* One write of `count` {ptr, len} pieces (it may write less): the byte count at *written. */
LUNATIC_IMPORT("lunatic::networking", "tcp_write_vectored")
int32_t lunatic_networking_tcp_write_vectored(uint64_t stream, const uint32_t *iovecs,
                                              uint32_t count, uint64_t *written);
/* One read: the byte count at *read, 0 at the end of the stream. */
LUNATIC_IMPORT("lunatic::networking", "tcp_read")
int32_t lunatic_networking_tcp_read(uint64_t stream, uint8_t *buf, uint32_t len, uint64_t *read);
/* Like tcp_read, but the bytes stay to be read again. */
LUNATIC_IMPORT("lunatic::networking", "tcp_peek")
int32_t lunatic_networking_tcp_peek(uint64_t stream, uint8_t *buf, uint32_t len, uint64_t *read);
LUNATIC_IMPORT("lunatic::networking", "tcp_flush")
int32_t lunatic_networking_tcp_flush(uint64_t stream, uint64_t *error);
/* Timeouts in ms, shared by every handle to the stream; UINT64_MAX: none. */
LUNATIC_IMPORT("lunatic::networking", "set_read_timeout")
void lunatic_networking_set_read_timeout(uint64_t stream, uint64_t ms);
LUNATIC_IMPORT("lunatic::networking", "get_read_timeout")
uint64_t lunatic_networking_get_read_timeout(uint64_t stream);
LUNATIC_IMPORT("lunatic::networking", "set_write_timeout")
void lunatic_networking_set_write_timeout(uint64_t stream, uint64_t ms);
LUNATIC_IMPORT("lunatic::networking", "get_write_timeout")
uint64_t lunatic_networking_get_write_timeout(uint64_t stream);
LUNATIC_IMPORT("lunatic::networking", "set_peek_timeout")
void lunatic_networking_set_peek_timeout(uint64_t stream, uint64_t ms);
LUNATIC_IMPORT("lunatic::networking", "get_peek_timeout")
uint64_t lunatic_networking_get_peek_timeout(uint64_t stream);

/* TLS: a PEM certificate and a PEM PKCS#8 key, exactly one of each. */
LUNATIC_IMPORT("lunatic::networking", "tls_bind")
int32_t lunatic_networking_tls_bind(uint32_t addr_type, const uint8_t *addr, uint32_t port,
                                    uint32_t flow_info, uint32_t scope_id, uint64_t *id,
                                    const char *cert, uint32_t cert_len, const char *key,
                                    uint32_t key_len);
LUNATIC_IMPORT("lunatic::networking", "drop_tls_listener")
void lunatic_networking_drop_tls_listener(uint64_t listener);
LUNATIC_IMPORT("lunatic::networking", "tls_local_addr")
int32_t lunatic_networking_tls_local_addr(uint64_t listener, uint64_t *dns_iter);
LUNATIC_IMPORT("lunatic::networking", "tls_accept")
int32_t lunatic_networking_tls_accept(uint64_t listener, uint64_t *id, uint64_t *peer_iter);
/* Connects to host:port and checks its certificate for `host`, against the usual roots, or
 * against `count` extra CA certificates given as {ptr, len} PEM entries. */
LUNATIC_IMPORT("lunatic::networking", "tls_connect")
int32_t lunatic_networking_tls_connect(const char *host, uint32_t host_len, uint32_t port,
                                       uint64_t timeout_ms, uint64_t *id,
                                       const uint32_t *certs, uint32_t count);
LUNATIC_IMPORT("lunatic::networking", "drop_tls_stream")
void lunatic_networking_drop_tls_stream(uint64_t stream);
LUNATIC_IMPORT("lunatic::networking", "clone_tls_stream")
uint64_t lunatic_networking_clone_tls_stream(uint64_t stream);
LUNATIC_IMPORT("lunatic::networking", "tls_write_vectored")
int32_t lunatic_networking_tls_write_vectored(uint64_t stream, const uint32_t *iovecs,
                                              uint32_t count, uint64_t *written);
LUNATIC_IMPORT("lunatic::networking", "tls_read")
int32_t lunatic_networking_tls_read(uint64_t stream, uint8_t *buf, uint32_t len, uint64_t *read);
LUNATIC_IMPORT("lunatic::networking", "tls_flush")
int32_t lunatic_networking_tls_flush(uint64_t stream, uint64_t *error);
LUNATIC_IMPORT("lunatic::networking", "set_tls_read_timeout")
void lunatic_networking_set_tls_read_timeout(uint64_t stream, uint64_t ms);
LUNATIC_IMPORT("lunatic::networking", "get_tls_read_timeout")
uint64_t lunatic_networking_get_tls_read_timeout(uint64_t stream);
LUNATIC_IMPORT("lunatic::networking", "set_tls_write_timeout")
void lunatic_networking_set_tls_write_timeout(uint64_t stream, uint64_t ms);
LUNATIC_IMPORT("lunatic::networking", "get_tls_write_timeout")
uint64_t lunatic_networking_get_tls_write_timeout(uint64_t stream);

LUNATIC_IMPORT("lunatic::networking", "udp_bind")
int32_t lunatic_networking_udp_bind(uint32_t addr_type, const uint8_t *addr, uint32_t port,
                                    uint32_t flow_info, uint32_t scope_id, uint64_t *id);
LUNATIC_IMPORT("lunatic::networking", "drop_udp_socket")
void lunatic_networking_drop_udp_socket(uint64_t socket);
LUNATIC_IMPORT("lunatic::networking", "clone_udp_socket")
uint64_t lunatic_networking_clone_udp_socket(uint64_t socket);
LUNATIC_IMPORT("lunatic::networking", "udp_local_addr")
int32_t lunatic_networking_udp_local_addr(uint64_t socket, uint64_t *dns_iter);
/* LUNATIC_OK, 1 (not connected) or 2 (another error), with an error ID at *dns_iter. */
LUNATIC_IMPORT("lunatic::networking", "udp_peer_addr")
int32_t lunatic_networking_udp_peer_addr(uint64_t socket, uint64_t *dns_iter);
LUNATIC_IMPORT("lunatic::networking", "udp_connect")
int32_t lunatic_networking_udp_connect(uint64_t socket, uint32_t addr_type, const uint8_t *addr,
                                       uint32_t port, uint32_t flow_info, uint32_t scope_id,
                                       uint64_t timeout_ms, uint64_t *result);
LUNATIC_IMPORT("lunatic::networking", "udp_send")
int32_t lunatic_networking_udp_send(uint64_t socket, const uint8_t *buf, uint32_t len,
                                    uint64_t *sent);
LUNATIC_IMPORT("lunatic::networking", "udp_send_to")
int32_t lunatic_networking_udp_send_to(uint64_t socket, const uint8_t *buf, uint32_t len,
                                       uint32_t addr_type, const uint8_t *addr, uint32_t port,
                                       uint32_t flow_info, uint32_t scope_id, uint64_t *sent);
/* Waits for a datagram (cut to len): its size at *received. */
LUNATIC_IMPORT("lunatic::networking", "udp_receive")
int32_t lunatic_networking_udp_receive(uint64_t socket, uint8_t *buf, uint32_t len,
                                       uint64_t *received);
LUNATIC_IMPORT("lunatic::networking", "udp_receive_from")
int32_t lunatic_networking_udp_receive_from(uint64_t socket, uint8_t *buf, uint32_t len,
                                            uint64_t *received, uint64_t *from_iter);
LUNATIC_IMPORT("lunatic::networking", "set_udp_socket_broadcast")
void lunatic_networking_set_udp_socket_broadcast(uint64_t socket, int32_t on);
LUNATIC_IMPORT("lunatic::networking", "get_udp_socket_broadcast")
int32_t lunatic_networking_get_udp_socket_broadcast(uint64_t socket);
LUNATIC_IMPORT("lunatic::networking", "set_udp_socket_ttl")
void lunatic_networking_set_udp_socket_ttl(uint64_t socket, uint32_t ttl);
LUNATIC_IMPORT("lunatic::networking", "get_udp_socket_ttl")
uint32_t lunatic_networking_get_udp_socket_ttl(uint64_t socket);

/* Sockets in messages: push moves the handle into the message being built and returns its
 * index; take moves the handle at that index of the received message into this process. */
LUNATIC_IMPORT("lunatic::message", "push_tcp_stream")
uint64_t lunatic_message_push_tcp_stream(uint64_t stream);
LUNATIC_IMPORT("lunatic::message", "take_tcp_stream")
uint64_t lunatic_message_take_tcp_stream(uint64_t index);
LUNATIC_IMPORT("lunatic::message", "push_tls_stream")
uint64_t lunatic_message_push_tls_stream(uint64_t stream);
LUNATIC_IMPORT("lunatic::message", "take_tls_stream")
uint64_t lunatic_message_take_tls_stream(uint64_t index);
LUNATIC_IMPORT("lunatic::message", "push_udp_socket")
uint64_t lunatic_message_push_udp_socket(uint64_t socket);
LUNATIC_IMPORT("lunatic::message", "take_udp_socket")
uint64_t lunatic_message_take_udp_socket(uint64_t index);

/* ---- Helpers --------------------------------------------------------------------------- */

/* [helper] Writes one 17-byte parameter record at `out` and returns the byte after it.
 * The value is sign-extended to 128 bits, as lunatic-rs does; the host uses the low bits. */
static inline uint8_t *lunatic_param_record(uint8_t *out, uint8_t type, int64_t value) {
    out[0] = type;
    for (int i = 0; i < 16; i++) {
        out[1 + i] = i < 8 ? (uint8_t)((uint64_t)value >> (8 * i)) : (value < 0 ? 0xFF : 0x00);
    }
    return out + LUNATIC_PARAM_SIZE;
}

/* [helper] An i32 parameter record; returns `out + LUNATIC_PARAM_SIZE`. */
static inline uint8_t *lunatic_param_i32(uint8_t *out, int32_t value) {
    return lunatic_param_record(out, LUNATIC_PARAM_I32, value);
}

/* [helper] An i64 parameter record; returns `out + LUNATIC_PARAM_SIZE`. */
static inline uint8_t *lunatic_param_i64(uint8_t *out, int64_t value) {
    return lunatic_param_record(out, LUNATIC_PARAM_I64, value);
}

/* [helper] Spawns export `function` (a NUL-terminated name) of this module with this
 * process's config. Same results as lunatic_process_spawn. */
static inline int32_t lunatic_spawn_export(int64_t link, const char *function,
                                           const uint8_t *params, uint32_t params_len,
                                           uint64_t *id) {
    return lunatic_process_spawn(link, LUNATIC_INHERIT_CONFIG, LUNATIC_SAME_MODULE, function,
                                 (uint32_t)strlen(function), params, params_len, id);
}

/* [helper] Copies the error's message into `buf` (truncated, always NUL-terminated when
 * cap > 0), drops the error, and returns the message's full length. */
static inline uint32_t lunatic_error_take_string(uint64_t error_id, char *buf, uint32_t cap) {
    uint32_t size = lunatic_error_string_size(error_id);
    char *text = size < cap ? buf : (char *)malloc(size ? size : 1);
    if (text != NULL) {
        lunatic_error_to_string(error_id, text);
    }
    lunatic_error_drop(error_id);
    if (cap > 0) {
        uint32_t n = text == NULL ? 0 : (size < cap ? size : cap - 1);
        if (text != buf && n > 0) {
            memcpy(buf, text, n);
        }
        buf[n] = '\0';
    }
    if (text != buf) {
        free(text);
    }
    return size;
}

/* [helper] Receives the next message of any kind (FIFO). */
static inline int32_t lunatic_message_receive_any(uint64_t timeout_ms) {
    return lunatic_message_receive(NULL, 0, timeout_ms);
}

/* [helper] Receives the first queued message tagged `tag` (a LinkDied message carrying that
 * tag matches too). `tag` must not be 0: untagged messages never match a tag list. */
static inline int32_t lunatic_message_receive_tag(int64_t tag, uint64_t timeout_ms) {
    return lunatic_message_receive(&tag, 1, timeout_ms);
}

/* [helper] Appends `value` as 8 little-endian bytes to the message being built. */
static inline void lunatic_message_write_u64(uint64_t value) {
    uint8_t bytes[8];
    for (int i = 0; i < 8; i++) {
        bytes[i] = (uint8_t)(value >> (8 * i));
    }
    lunatic_message_write_data(bytes, sizeof bytes);
}

/* [helper] Reads up to `len` bytes of the received message, looping over short reads.
 * Returns how many bytes were read (less than `len` only at the end of the message). */
static inline uint32_t lunatic_message_read_exact(void *data, uint32_t len) {
    uint32_t done = 0;
    while (done < len) {
        uint32_t n = lunatic_message_read_data((uint8_t *)data + done, len - done);
        if (n == 0) {
            break;
        }
        done += n;
    }
    return done;
}

/* [helper] Reads 8 little-endian bytes of the received message into *value.
 * Returns 1, or 0 (and leaves *value alone) if fewer than 8 bytes were left. */
static inline int lunatic_message_read_u64(uint64_t *value) {
    uint8_t bytes[8];
    if (lunatic_message_read_exact(bytes, sizeof bytes) != sizeof bytes) {
        return 0;
    }
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) {
        v |= (uint64_t)bytes[i] << (8 * i);
    }
    *value = v;
    return 1;
}

/* [helper] Writes all of `data` to a TCP stream (looping over partial writes). Returns
 * LUNATIC_OK, or what the failing write returned (an error ID at *error for LUNATIC_ERROR). */
static inline int32_t lunatic_tcp_write_all(uint64_t stream, const void *data, uint32_t len,
                                            uint64_t *error) {
    const uint8_t *at = (const uint8_t *)data;
    while (len > 0) {
        uint32_t iov[2] = {(uint32_t)(uintptr_t)at, len};
        uint64_t written = 0;
        int32_t status = lunatic_networking_tcp_write_vectored(stream, iov, 1, &written);
        if (status != LUNATIC_OK) {
            *error = written;
            return status;
        }
        at += written;
        len -= (uint32_t)written;
    }
    return LUNATIC_OK;
}

/* [helper] Binds a TCP listener on IPv4 `a.b.c.d:port` (port 0: any free port). */
static inline int32_t lunatic_tcp_bind_ipv4(uint8_t a, uint8_t b, uint8_t c, uint8_t d,
                                            uint16_t port, uint64_t *id) {
    uint8_t addr[4] = {a, b, c, d};
    return lunatic_networking_tcp_bind(LUNATIC_NET_ADDR_IPV4, addr, port, 0, 0, id);
}

/* [helper] The port of a listener's address (0 if it cannot be read). */
static inline uint16_t lunatic_tcp_listener_port(uint64_t listener) {
    uint64_t iter;
    if (lunatic_networking_tcp_local_addr(listener, &iter) != LUNATIC_OK) {
        return 0;
    }
    uint32_t type, flow, scope;
    uint8_t addr[16];
    uint16_t port = 0;
    lunatic_networking_resolve_next(iter, &type, addr, &port, &flow, &scope);
    lunatic_networking_drop_dns_iterator(iter);
    return port;
}

#endif /* LUNATIC_H */
