/**
 * `lunatic::networking`: DNS, TCP, TLS and UDP. Linked so that every lunatic-rs binary
 * instantiates; the implementation comes with the networking issue.
 */
import type { HostNamespace } from "../runtime/host_api.ts";
import { notSupported } from "./not_supported.ts";

const ADDR = "i32,i32,i32,i32,i32"; // addr_type, addr_ptr, port, flow_info, scope_id

export const networkingNamespace: HostNamespace = {
  module: "lunatic::networking",
  functions: notSupported("lunatic::networking", {
    resolve: "i32,i32,i64,i32 -> i32",
    drop_dns_iterator: "i64 ->",
    resolve_next: "i64,i32,i32,i32,i32,i32 -> i32",
    tcp_bind: `${ADDR},i32 -> i32`,
    drop_tcp_listener: "i64 ->",
    tcp_local_addr: "i64,i32 -> i32",
    tcp_accept: "i64,i32,i32 -> i32",
    tcp_connect: `${ADDR},i64,i32 -> i32`,
    tcp_peer_addr: "i64,i32 -> i32",
    drop_tcp_stream: "i64 ->",
    clone_tcp_stream: "i64 -> i64",
    tcp_write_vectored: "i64,i32,i32,i32 -> i32",
    tcp_peek: "i64,i32,i32,i32 -> i32",
    tcp_read: "i64,i32,i32,i32 -> i32",
    set_read_timeout: "i64,i64 ->",
    set_write_timeout: "i64,i64 ->",
    set_peek_timeout: "i64,i64 ->",
    get_read_timeout: "i64 -> i64",
    get_write_timeout: "i64 -> i64",
    get_peek_timeout: "i64 -> i64",
    tcp_flush: "i64,i32 -> i32",
    tls_bind: `${ADDR},i32,i32,i32,i32,i32 -> i32`,
    drop_tls_listener: "i64 ->",
    tls_local_addr: "i64,i32 -> i32",
    tls_accept: "i64,i32,i32 -> i32",
    tls_connect: "i32,i32,i32,i64,i32,i32,i32 -> i32",
    drop_tls_stream: "i64 ->",
    clone_tls_stream: "i64 -> i64",
    tls_write_vectored: "i64,i32,i32,i32 -> i32",
    tls_read: "i64,i32,i32,i32 -> i32",
    set_tls_read_timeout: "i64,i64 ->",
    set_tls_write_timeout: "i64,i64 ->",
    get_tls_read_timeout: "i64 -> i64",
    get_tls_write_timeout: "i64 -> i64",
    tls_flush: "i64,i32 -> i32",
    udp_bind: `${ADDR},i32 -> i32`,
    udp_local_addr: "i64,i32 -> i32",
    udp_peer_addr: "i64,i32 -> i32",
    drop_udp_socket: "i64 ->",
    udp_receive: "i64,i32,i32,i32 -> i32",
    udp_receive_from: "i64,i32,i32,i32,i32 -> i32",
    udp_connect: `i64,${ADDR},i64,i32 -> i32`,
    clone_udp_socket: "i64 -> i64",
    set_udp_socket_broadcast: "i64,i32 ->",
    get_udp_socket_broadcast: "i64 -> i32",
    set_udp_socket_ttl: "i64,i32 ->",
    get_udp_socket_ttl: "i64 -> i32",
    udp_send_to: `i64,i32,i32,${ADDR},i32 -> i32`,
    udp_send: "i64,i32,i32,i32 -> i32",
  }),
};
