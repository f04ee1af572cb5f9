/*
 * net_udp.c: lunatic::networking's UDP and DNS (tests/networking_udp_dns.test.ts). Every
 * scenario is an export run as the root. Output lines are "<who>: <what>".
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lunatic.h"

__attribute__((constructor)) static void line_buffered_stdout(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
}

static const char *error_text(uint64_t id) {
    static char text[300];
    lunatic_error_take_string(id, text, sizeof text);
    return text;
}

static uint8_t LOCALHOST[4] = {127, 0, 0, 1};

static uint64_t udp_bind_local(void) {
    uint64_t id;
    int32_t status = lunatic_networking_udp_bind(LUNATIC_NET_ADDR_IPV4, LOCALHOST, 0, 0, 0, &id);
    if (status != LUNATIC_OK) {
        printf("root: udp bind failed: %s\n", error_text(id));
        exit(1);
    }
    return id;
}

/* The port of an address iterator's first address, dropping the iterator. */
static uint16_t first_port(uint64_t iter) {
    uint32_t type, flow, scope;
    uint8_t addr[16];
    uint16_t port = 0;
    lunatic_networking_resolve_next(iter, &type, addr, &port, &flow, &scope);
    lunatic_networking_drop_dns_iterator(iter);
    return port;
}

static uint16_t udp_port(uint64_t socket) {
    uint64_t iter;
    if (lunatic_networking_udp_local_addr(socket, &iter) != LUNATIC_OK) return 0;
    return first_port(iter);
}

LUNATIC_EXPORT("udp") void udp(void) {
    uint64_t a = udp_bind_local(), b = udp_bind_local();
    uint16_t port_a = udp_port(a), port_b = udp_port(b);
    printf("root: ports %s\n", port_a != 0 && port_b != 0 && port_a != port_b ? "distinct" : "WRONG");

    /* send_to / receive_from, and the sender's address */
    uint64_t sent;
    lunatic_networking_udp_send_to(a, (const uint8_t *)"P2NG", 4, LUNATIC_NET_ADDR_IPV4, LOCALHOST,
                                   port_b, 0, 0, &sent);
    char buf[16] = {0};
    uint64_t got, from;
    lunatic_networking_udp_receive_from(b, (uint8_t *)buf, sizeof buf, &got, &from);
    printf("root: received %.*s (%" PRIu64 " bytes) from the sender's port: %s\n", (int)got, buf,
           got, first_port(from) == port_a ? "yes" : "no");

    /* peer_addr before connect: 1, not connected */
    uint64_t peer;
    int32_t status = lunatic_networking_udp_peer_addr(a, &peer);
    printf("root: peer_addr unconnected: %d %s\n", status, error_text(peer));

    /* connect, send, receive; peer_addr afterwards */
    uint64_t result = 7;
    status = lunatic_networking_udp_connect(a, LUNATIC_NET_ADDR_IPV4, LOCALHOST, port_b, 0, 0,
                                            LUNATIC_NO_TIMEOUT, &result);
    printf("root: connect %d, result slot %" PRIu64 "\n", status, result);
    lunatic_networking_udp_peer_addr(a, &peer);
    printf("root: peer_addr connected: port %s\n", first_port(peer) == port_b ? "matches" : "WRONG");
    lunatic_networking_udp_send(a, (const uint8_t *)"P1NG", 4, &sent);
    memset(buf, 0, sizeof buf);
    lunatic_networking_udp_receive(b, (uint8_t *)buf, sizeof buf, &got);
    printf("root: received %.*s\n", (int)got, buf);

    /* send_to on a connected socket is an error */
    status = lunatic_networking_udp_send_to(a, (const uint8_t *)"x", 1, LUNATIC_NET_ADDR_IPV4,
                                            LOCALHOST, port_b, 0, 0, &sent);
    printf("root: send_to while connected: %d %s\n", status, error_text(sent));

    /* a datagram larger than the buffer is cut to it */
    lunatic_networking_udp_send(a, (const uint8_t *)"0123456789", 10, &sent);
    lunatic_networking_udp_receive(b, (uint8_t *)buf, 4, &got);
    printf("root: a 10-byte datagram into 4 bytes: %" PRIu64 " bytes, %.4s\n", got, buf);

    /* a clone shares the socket */
    uint64_t clone = lunatic_networking_clone_udp_socket(b);
    lunatic_networking_udp_send(a, (const uint8_t *)"via clone", 9, &sent);
    memset(buf, 0, sizeof buf);
    lunatic_networking_udp_receive(clone, (uint8_t *)buf, sizeof buf, &got);
    printf("root: the clone received %.*s; same port: %s\n", (int)got, buf,
           udp_port(clone) == port_b ? "yes" : "no");

    /* TTL and broadcast */
    printf("root: ttl %u\n", lunatic_networking_get_udp_socket_ttl(a));
    lunatic_networking_set_udp_socket_ttl(a, 42);
    printf("root: ttl %u\n", lunatic_networking_get_udp_socket_ttl(a));
    printf("root: broadcast %d\n", lunatic_networking_get_udp_socket_broadcast(b));
    lunatic_networking_set_udp_socket_broadcast(b, 1);
    printf("root: broadcast %d\n", lunatic_networking_get_udp_socket_broadcast(b));
    lunatic_networking_set_udp_socket_broadcast(b, 0);
    printf("root: broadcast %d\n", lunatic_networking_get_udp_socket_broadcast(b));

    lunatic_networking_drop_udp_socket(clone);
    lunatic_networking_drop_udp_socket(a);
    lunatic_networking_drop_udp_socket(b);
}

/* Receives a UDP socket in a message and answers through it. */
LUNATIC_EXPORT("udp_answerer") void udp_answerer(void) {
    if (lunatic_message_receive_any(LUNATIC_NO_TIMEOUT) != LUNATIC_RECEIVE_DATA) exit(2);
    uint64_t socket = lunatic_message_take_udp_socket(0);
    char buf[16];
    uint64_t got, from;
    lunatic_networking_udp_receive_from(socket, (uint8_t *)buf, sizeof buf, &got, &from);
    uint64_t sent;
    lunatic_networking_udp_send_to(socket, (const uint8_t *)"answer", 6, LUNATIC_NET_ADDR_IPV4,
                                   LOCALHOST, first_port(from), 0, 0, &sent);
}

LUNATIC_EXPORT("udp_in_message") void udp_in_message(void) {
    uint64_t asker = udp_bind_local(), answering = udp_bind_local();
    uint16_t port = udp_port(answering);
    uint64_t child;
    lunatic_spawn_export(LUNATIC_NO_LINK, "udp_answerer", NULL, 0, &child);
    lunatic_message_create_data(LUNATIC_UNTAGGED, 0);
    lunatic_message_push_udp_socket(answering);
    lunatic_message_send(child);
    uint64_t sent, got;
    lunatic_networking_udp_send_to(asker, (const uint8_t *)"ask", 3, LUNATIC_NET_ADDR_IPV4,
                                   LOCALHOST, port, 0, 0, &sent);
    char buf[16] = {0};
    lunatic_networking_udp_receive(asker, (uint8_t *)buf, sizeof buf, &got);
    printf("root: %.*s\n", (int)got, buf);
}

LUNATIC_EXPORT("udp_bad_ttl") void udp_bad_ttl(void) {
    uint64_t a = udp_bind_local();
    lunatic_networking_set_udp_socket_ttl(a, 0); /* the OS refuses a TTL of 0 */
    printf("root: NOT REACHED\n");
}

LUNATIC_EXPORT("udp_unknown") void udp_unknown(void) {
    uint8_t buf[4];
    uint64_t got;
    lunatic_networking_udp_receive(5, buf, sizeof buf, &got);
    printf("root: NOT REACHED\n");
}

/* ---- DNS ----------------------------------------------------------------------------------- */

/* Resolves argv-like names one after another and prints each address, or the error. */
static void resolve_and_print(const char *name) {
    uint64_t iter;
    int32_t status = lunatic_networking_resolve(name, (uint32_t)strlen(name), 5000, &iter);
    if (status != LUNATIC_OK) {
        printf("dns: %s -> %d %s\n", name, status,
               status == LUNATIC_ERROR ? error_text(iter) : "");
        return;
    }
    uint32_t type, flow = 0, scope = 0;
    uint8_t addr[16];
    uint16_t port;
    int count = 0;
    while (lunatic_networking_resolve_next(iter, &type, addr, &port, &flow, &scope) == LUNATIC_OK) {
        if (type == 4) {
            printf("dns: %s -> 4 %u.%u.%u.%u port %u\n", name, addr[0], addr[1], addr[2], addr[3],
                   port);
        } else {
            printf("dns: %s -> 6 %02x%02x::%02x%02x port %u flow %u scope %u\n", name, addr[0],
                   addr[1], addr[14], addr[15], port, flow, scope);
        }
        count++;
    }
    lunatic_networking_drop_dns_iterator(iter);
    printf("dns: %s: %d addresses\n", name, count);
}

LUNATIC_EXPORT("dns") void dns(void) {
    resolve_and_print("127.0.0.1:80");
    resolve_and_print("[::1]:8080");
    resolve_and_print("localhost:443");
    resolve_and_print("localhost");
    resolve_and_print("127.0.0.1:99999");
    resolve_and_print("no-such-host.invalid:80");
}

LUNATIC_EXPORT("dns_unknown_iterator") void dns_unknown_iterator(void) {
    uint32_t type, flow, scope;
    uint8_t addr[16];
    uint16_t port;
    lunatic_networking_resolve_next(3, &type, addr, &port, &flow, &scope);
    printf("root: NOT REACHED\n");
}

LUNATIC_EXPORT("dns_bad_utf8") void dns_bad_utf8(void) {
    uint64_t iter;
    lunatic_networking_resolve("\xff\xfe:80", 5, 1000, &iter);
    printf("root: NOT REACHED\n");
}

int main(void) { return 0; }
