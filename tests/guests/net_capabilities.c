/*
 * net_capabilities.c: which lunatic::networking calls a namespace filter lets through
 * (tests/networking_capabilities.test.ts).
 *
 *   net_capabilities PORT      TCP on 127.0.0.1:PORT (bind, connect, accept, write, read),
 *                              then resolve, then a UDP bind
 *
 * Each step prints "<call>: ok" once it returned; a denied call ends the process there. Only
 * TCP calls are used until "calling resolve", so that `lunatic::networking::tcp_` covers them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lunatic.h"

static void check(const char *call, int32_t status) {
    if (status != LUNATIC_OK) {
        printf("%s: failed with status %d\n", call, status);
        exit(1);
    }
    printf("%s: ok\n", call);
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    uint16_t port = argc > 1 ? (uint16_t)atoi(argv[1]) : 0;
    uint8_t loopback[4] = {127, 0, 0, 1};
    uint64_t listener, client, server, peer, count;
    printf("calling tcp_bind\n");
    check("tcp_bind", lunatic_networking_tcp_bind(LUNATIC_NET_ADDR_IPV4, loopback, port, 0, 0,
                                                   &listener));
    check("tcp_connect", lunatic_networking_tcp_connect(LUNATIC_NET_ADDR_IPV4, loopback, port, 0,
                                                         0, 5000, &client));
    check("tcp_accept", lunatic_networking_tcp_accept(listener, &server, &peer));
    uint32_t iovec[2] = {(uint32_t)(uintptr_t) "hello", 5};
    check("tcp_write_vectored", lunatic_networking_tcp_write_vectored(client, iovec, 1, &count));
    char text[6] = {0};
    check("tcp_read", lunatic_networking_tcp_read(server, (uint8_t *)text, 5, &count));
    printf("read: %s\n", text);

    printf("calling resolve\n");
    uint64_t names;
    check("resolve", lunatic_networking_resolve("localhost:80", 12, 5000, &names));
    printf("calling udp_bind\n");
    uint64_t socket;
    check("udp_bind", lunatic_networking_udp_bind(LUNATIC_NET_ADDR_IPV4, loopback, 0, 0, 0,
                                                   &socket));
    return 0;
}
