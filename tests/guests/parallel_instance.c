/*
 * parallel_instance.c: an instance of `lunatic run --parallel` (tests/parallel_run.test.ts).
 * Each instance says which it is (LUNATIC_INSTANCE of LUNATIC_INSTANCES); argv[1] picks what
 * it does:
 *   serve PORT  listen on 127.0.0.1:PORT (every instance on the same port), try a second bind
 *               of it, then answer each connection with "instance N\n" and close it;
 *   exit        instance 1 exits with code 3, the others sleep forever;
 *   stdin       print the first line read from stdin (or EOF) and end.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lunatic.h"

static const char *bind_error(int32_t status, uint64_t id) {
    static char text[300];
    if (status == LUNATIC_OK) return "ok";
    lunatic_error_take_string(id, text, sizeof text);
    return text;
}

static int serve(const char *instance, const char *count, unsigned port) {
    uint64_t listener, second;
    int32_t status = lunatic_tcp_bind_ipv4(127, 0, 0, 1, (uint16_t)port, &listener);
    if (status != LUNATIC_OK) {
        printf("instance %s: bind failed: %s\n", instance, bind_error(status, listener));
        return 2;
    }
    status = lunatic_tcp_bind_ipv4(127, 0, 0, 1, (uint16_t)port, &second);
    printf("instance %s: second bind: %s\n", instance, bind_error(status, second));
    printf("instance %s of %s listening on 127.0.0.1:%u\n", instance, count,
           lunatic_tcp_listener_port(listener));
    char answer[64];
    int length = snprintf(answer, sizeof answer, "instance %s\n", instance);
    for (;;) {
        uint64_t stream, peer, error;
        if (lunatic_networking_tcp_accept(listener, &stream, &peer) != LUNATIC_OK) {
            lunatic_error_drop(stream);
            continue;
        }
        lunatic_networking_drop_dns_iterator(peer);
        lunatic_tcp_write_all(stream, answer, (uint32_t)length, &error);
        lunatic_networking_drop_tcp_stream(stream);
    }
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    const char *instance = getenv("LUNATIC_INSTANCE");
    const char *count = getenv("LUNATIC_INSTANCES");
    if (instance == NULL || count == NULL) {
        printf("not an instance of a parallel run\n");
        return 1;
    }
    const char *mode = argc > 1 ? argv[1] : "";
    if (strcmp(mode, "serve") == 0 && argc > 2) return serve(instance, count, (unsigned)atoi(argv[2]));
    if (strcmp(mode, "exit") == 0) {
        if (strcmp(instance, "1") == 0) {
            printf("instance 1 exits with 3\n");
            return 3;
        }
        for (;;) lunatic_process_sleep_ms(1000);
    }
    if (strcmp(mode, "stdin") == 0) {
        char line[200];
        if (fgets(line, sizeof line, stdin) == NULL) {
            printf("instance %s of %s read EOF\n", instance, count);
        } else {
            line[strcspn(line, "\n")] = 0;
            printf("instance %s of %s read %s\n", instance, count, line);
        }
        return 0;
    }
    printf("unknown mode %s\n", mode);
    return 1;
}
