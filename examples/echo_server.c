/*
 * echo_server.c: a line echo server, a process per connection.
 *
 *   deno task run examples/echo_server.wasm [PORT]     (default 7000; 0: any free port)
 *
 * The root listens on 127.0.0.1:PORT, prints "listening on 127.0.0.1:PORT" and hands each
 * connection to a new `echo` process inside a message. An echo process sends back each line
 * it reads, as soon as the line is complete, until the client closes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lunatic.h"

LUNATIC_EXPORT("echo") void echo(void) {
    if (lunatic_message_receive_any(LUNATIC_NO_TIMEOUT) != LUNATIC_RECEIVE_DATA) return;
    uint64_t stream = lunatic_message_take_tcp_stream(0);
    static char line[65536];
    size_t used = 0;
    for (;;) {
        uint64_t read = 0;
        if (used == sizeof line) used = 0; /* a line longer than that is dropped */
        if (lunatic_networking_tcp_read(stream, (uint8_t *)line + used, sizeof line - used,
                                        &read) != LUNATIC_OK ||
            read == 0) {
            break;
        }
        size_t start = used;
        used += read;
        char *newline = memchr(line + start, '\n', used - start);
        if (newline == NULL) continue;
        /* Everything up to the last newline goes back; the rest waits for its end. */
        char *last = newline;
        for (char *p = newline; (p = memchr(p + 1, '\n', (size_t)(line + used - p - 1))) != NULL;) {
            last = p;
        }
        size_t complete = (size_t)(last - line) + 1;
        uint64_t error;
        if (lunatic_tcp_write_all(stream, line, (uint32_t)complete, &error) != LUNATIC_OK) break;
        memmove(line, line + complete, used - complete);
        used -= complete;
    }
    lunatic_networking_drop_tcp_stream(stream);
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    unsigned port = argc > 1 ? (unsigned)atoi(argv[1]) : 7000;
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
        if (lunatic_spawn_export(LUNATIC_NO_LINK, "echo", NULL, 0, &child) != LUNATIC_OK) {
            lunatic_error_drop(child);
            lunatic_networking_drop_tcp_stream(stream);
            continue;
        }
        lunatic_message_create_data(LUNATIC_UNTAGGED, 0);
        lunatic_message_push_tcp_stream(stream);
        lunatic_message_send(child);
    }
}
