/*
 * http_hello.c: an HTTP/1.1 server that answers every request with "Hello, world!", a process
 * per connection, with keep-alive.
 *
 *   deno task run examples/http_hello.wasm [PORT]      (default 8080; 0: any free port)
 *
 * The root listens on 127.0.0.1:PORT and prints "listening on 127.0.0.1:PORT"; for each
 * connection it spawns a `connection` process and sends it the stream inside a message (the
 * stream moves to the child). A connection process answers each request it reads, until the
 * client closes or asks to ("Connection: close").
 */
#define _GNU_SOURCE /* memmem */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lunatic.h"

static const char RESPONSE[] =
    "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\nHello, world!";
static const char RESPONSE_CLOSE[] =
    "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\nConnection: close\r\n"
    "\r\nHello, world!";

/* Whether the request's headers (up to its blank line) ask to close the connection. */
static int asks_to_close(const char *request, size_t len) {
    for (size_t i = 0; i + 17 <= len; i++) {
        if ((i == 0 || request[i - 1] == '\n') && strncasecmp(request + i, "connection: close", 17) == 0) {
            return 1;
        }
    }
    return 0;
}

LUNATIC_EXPORT("connection") void connection(void) {
    if (lunatic_message_receive_any(LUNATIC_NO_TIMEOUT) != LUNATIC_RECEIVE_DATA) return;
    uint64_t stream = lunatic_message_take_tcp_stream(0);
    static char buffer[8192];
    size_t used = 0;
    for (;;) {
        uint64_t read = 0;
        if (used == sizeof buffer) break; /* a request this big is not ours to answer */
        if (lunatic_networking_tcp_read(stream, (uint8_t *)buffer + used, sizeof buffer - used,
                                        &read) != LUNATIC_OK ||
            read == 0) {
            break;
        }
        used += read;
        /* Answer every complete request in the buffer (a client may pipeline them). */
        char *end;
        while ((end = memmem(buffer, used, "\r\n\r\n", 4)) != NULL) {
            size_t length = (size_t)(end - buffer) + 4;
            int close = asks_to_close(buffer, length);
            uint64_t error;
            const char *response = close ? RESPONSE_CLOSE : RESPONSE;
            size_t size = close ? sizeof RESPONSE_CLOSE - 1 : sizeof RESPONSE - 1;
            if (lunatic_tcp_write_all(stream, response, (uint32_t)size, &error) != LUNATIC_OK ||
                close) {
                lunatic_networking_drop_tcp_stream(stream);
                return;
            }
            memmove(buffer, buffer + length, used - length);
            used -= length;
        }
    }
    lunatic_networking_drop_tcp_stream(stream);
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    unsigned port = argc > 1 ? (unsigned)atoi(argv[1]) : 8080;
    uint64_t listener;
    if (lunatic_tcp_bind_ipv4(127, 0, 0, 1, (uint16_t)port, &listener) != LUNATIC_OK) {
        char text[200];
        lunatic_error_take_string(listener, text, sizeof text);
        fprintf(stderr, "cannot listen on 127.0.0.1:%u: %s\n", port, text);
        return 1;
    }
    printf("listening on 127.0.0.1:%u\n", lunatic_tcp_listener_port(listener));
    for (;;) {
        uint64_t stream, peer;
        if (lunatic_networking_tcp_accept(listener, &stream, &peer) != LUNATIC_OK) {
            lunatic_error_drop(stream);
            continue;
        }
        lunatic_networking_drop_dns_iterator(peer);
        uint64_t child;
        if (lunatic_spawn_export(LUNATIC_NO_LINK, "connection", NULL, 0, &child) != LUNATIC_OK) {
            lunatic_error_drop(child);
            lunatic_networking_drop_tcp_stream(stream);
            continue;
        }
        lunatic_message_create_data(LUNATIC_UNTAGGED, 0);
        lunatic_message_push_tcp_stream(stream);
        lunatic_message_send(child);
    }
}
