/*
 * hot_counter.c: a counter server that moves to new code while the program runs.
 *
 * Usage:   deno task run --watch examples/hot_counter.wasm [requests=30] [interval_ms=100] [until=0]
 *          then, while it runs:  cp examples/hot_counter_v2.wasm examples/hot_counter.wasm
 *          (and `git checkout examples/hot_counter.wasm` afterwards)
 * Output:  (version 1 until the file is replaced, then version 2; the count goes on)
 *     client: v1 count=1 (server 2)
 *     client: v1 count=2 (server 2)
 *     ...
 *     client: v2 count=14 (server 2)
 *     ...
 *     hot_counter: 30 requests answered, server 2 ended
 * Exit:    0
 *
 * The root spawns the server and then acts as its client: every interval it asks the server
 * to add 1 (tag 1, with the PID to reply to) and prints the reply. The server subscribes to
 * new versions of its module (lunatic::hot::subscribe). When `--watch` loads the replaced
 * file, the server gets a message with the new version; it puts its count in a message
 * (its state) and calls lunatic::hot::upgrade("resume"): the process goes on in the new
 * version's `resume`, with the same PID and mailbox (requests sent meanwhile wait there),
 * which takes the state first and serves on. hot_counter_v2.c builds this file as version 2.
 * With `until` > 0 the client asks until a reply comes from that version, then `requests`
 * more (the tests use it so as not to depend on when the file is replaced).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lunatic.h"

#ifndef VERSION
#define VERSION 1
#endif

LUNATIC_IMPORT("lunatic::hot", "version") int64_t lunatic_hot_version(void);
LUNATIC_IMPORT("lunatic::hot", "subscribe") void lunatic_hot_subscribe(int64_t tag);
LUNATIC_IMPORT("lunatic::hot", "upgrade")
int32_t lunatic_hot_upgrade(const char *entry, uint32_t len);

#define TAG_INC 1
#define TAG_REPLY 2
#define TAG_STOP 3
#define TAG_STATE 5
#define TAG_NEW_VERSION 99

__attribute__((constructor)) static void line_buffered_stdout(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
}

static void serve_from(uint64_t count) {
    for (;;) {
        lunatic_message_receive_any(LUNATIC_NO_TIMEOUT);
        int64_t tag = lunatic_message_get_tag();
        if (tag == TAG_NEW_VERSION) {
            /* The state, then the new code: this call returns only if it cannot upgrade. */
            lunatic_message_create_data(TAG_STATE, 8);
            lunatic_message_write_data(&count, sizeof count);
            lunatic_hot_upgrade("resume", 6);
            fprintf(stderr, "server: cannot upgrade, staying on version %d\n", VERSION);
        } else if (tag == TAG_INC) {
            uint64_t reply_to = 0;
            lunatic_message_read_exact(&reply_to, sizeof reply_to);
            count++;
            char text[64];
            snprintf(text, sizeof text, "v%" PRId64 " count=%" PRIu64, lunatic_hot_version(),
                     count);
            lunatic_message_create_data(TAG_REPLY, 0);
            lunatic_message_write_data(text, (uint32_t)strlen(text));
            lunatic_message_send(reply_to);
        } else if (tag == TAG_STOP) {
            return;
        }
    }
}

LUNATIC_EXPORT("serve") void serve(void) {
    lunatic_hot_subscribe(TAG_NEW_VERSION);
    serve_from(0);
}

/* Where an upgrade continues: the state is first in the mailbox. */
LUNATIC_EXPORT("resume") void resume(void) {
    int64_t tags[1] = {TAG_STATE};
    lunatic_message_receive(tags, 1, LUNATIC_NO_TIMEOUT);
    uint64_t count = 0;
    lunatic_message_read_exact(&count, sizeof count);
    serve_from(count);
}

int main(int argc, char **argv) {
    int requests = argc > 1 ? atoi(argv[1]) : 30;
    int interval = argc > 2 ? atoi(argv[2]) : 100;
    int until = argc > 3 ? atoi(argv[3]) : 0;
    uint64_t server;
    if (lunatic_process_spawn(LUNATIC_NO_LINK, LUNATIC_INHERIT_CONFIG, LUNATIC_SAME_MODULE,
                              "serve", 5, NULL, 0, &server) != 0) {
        return 1;
    }
    lunatic_process_monitor(server);
    uint64_t self = lunatic_process_process_id();
    int answered = 0;
    for (int i = 0; i < requests; i++) {
        lunatic_process_sleep_ms((uint64_t)interval);
        lunatic_message_create_data(TAG_INC, 8);
        lunatic_message_write_data(&self, sizeof self);
        lunatic_message_send(server);
        int64_t tags[1] = {TAG_REPLY};
        lunatic_message_receive(tags, 1, LUNATIC_NO_TIMEOUT);
        char text[64];
        uint32_t n = lunatic_message_read_exact(text, sizeof text - 1);
        text[n] = 0;
        printf("client: %s (server %" PRIu64 ")\n", text, server);
        answered++;
        /* Waiting for a version: the requests count only from its first reply. */
        if (until > 0 && atoi(text + 1) < until) i = -1;
    }
    lunatic_message_create_data(TAG_STOP, 0);
    lunatic_message_send(server);
    for (;;) {
        if (lunatic_message_receive_any(LUNATIC_NO_TIMEOUT) == LUNATIC_RECEIVE_PROCESS_DIED) break;
    }
    printf("hot_counter: %d requests answered, server %" PRIu64 " ended\n", answered,
           server);
    return 0;
}
