/*
 * hot_counter.c: a counter server that moves to new code while it serves
 * (tests/hot_reload.test.ts). Built as version 1; hot_counter_v2.c and hot_counter_v3.c
 * build it again as versions 2 and 3.
 *
 * `serve`: registers itself as "counter", subscribes to new versions (tag 99) and answers:
 *   tag 1 "inc" with the reply-to PID as a u64: adds 1, replies (tag 2) "v<N> count=<n>";
 *   tag 3: ends.
 * On a new version it sends its count to itself as the state (a data message) and upgrades
 * to the new version's `resume`, which reads the state first and serves on.
 * `idle`: waits forever, never upgrades (to be purged).
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "lunatic.h"

#ifndef VERSION
#define VERSION 1
#endif

LUNATIC_IMPORT("lunatic::hot", "version") int64_t hot_version(void);
LUNATIC_IMPORT("lunatic::hot", "subscribe") void hot_subscribe(int64_t tag);
LUNATIC_IMPORT("lunatic::hot", "upgrade") int32_t hot_upgrade(const char *entry, uint32_t len);
LUNATIC_IMPORT("lunatic::registry", "put")
void registry_put(const char *name, uint32_t len, uint64_t node_id, uint64_t process_id);

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
            uint64_t version = 0;
            lunatic_message_read_exact(&version, sizeof version);
            lunatic_message_create_data(TAG_STATE, 8);
            lunatic_message_write_data(&count, sizeof count);
            hot_upgrade("resume", 6); /* returns only when it cannot */
            printf("v%d: could not upgrade to version %" PRIu64 "\n", VERSION, version);
        } else if (tag == TAG_INC) {
            uint64_t reply_to = 0;
            lunatic_message_read_exact(&reply_to, sizeof reply_to);
            count++;
            char text[64];
            snprintf(text, sizeof text, "v%" PRId64 " count=%" PRIu64, hot_version(), count);
            lunatic_message_create_data(TAG_REPLY, 0);
            lunatic_message_write_data(text, (uint32_t)strlen(text));
            lunatic_message_send(reply_to);
        } else if (tag == TAG_STOP) {
            return;
        }
    }
}

LUNATIC_EXPORT("serve") void serve(void) {
    registry_put("counter", 7, 0, lunatic_process_process_id());
    hot_subscribe(TAG_NEW_VERSION);
    serve_from(0);
}

/* The state message is first in the mailbox: the count the old version had. */
LUNATIC_EXPORT("resume") void resume(void) {
    int64_t tags[1] = {TAG_STATE};
    lunatic_message_receive(tags, 1, LUNATIC_NO_TIMEOUT);
    uint64_t count = 0;
    lunatic_message_read_exact(&count, sizeof count);
    serve_from(count);
}

LUNATIC_EXPORT("idle") void idle(void) { lunatic_message_receive_any(LUNATIC_NO_TIMEOUT); }

/* ---- A supervisor that upgrades itself and restarts its worker on the code it runs. ---- */
#define TAG_CRASH 7
#define TAG_WHO 8

/* Replies (tag 2) to "who are you" with "<name> v<version> pid <pid>". */
static void answer_who(const char *name) {
    uint64_t reply_to = 0;
    lunatic_message_read_exact(&reply_to, sizeof reply_to);
    char text[64];
    snprintf(text, sizeof text, "%s v%" PRId64 " pid %" PRIu64, name, hot_version(),
             lunatic_process_process_id());
    lunatic_message_create_data(TAG_REPLY, 0);
    lunatic_message_write_data(text, (uint32_t)strlen(text));
    lunatic_message_send(reply_to);
}

LUNATIC_EXPORT("worker") void worker(void) {
    registry_put("worker", 6, 0, lunatic_process_process_id());
    for (;;) {
        lunatic_message_receive_any(LUNATIC_NO_TIMEOUT);
        int64_t tag = lunatic_message_get_tag();
        if (tag == TAG_CRASH) __builtin_trap();
        if (tag == TAG_WHO) answer_who("worker");
    }
}

static void start_worker(void) {
    uint64_t id;
    lunatic_process_spawn(1, LUNATIC_INHERIT_CONFIG, LUNATIC_SAME_MODULE, "worker", 6, NULL, 0, &id);
}

static void supervise(uint64_t restarts) {
    for (;;) {
        int32_t kind = lunatic_message_receive_any(LUNATIC_NO_TIMEOUT);
        int64_t tag = lunatic_message_get_tag();
        if (kind == LUNATIC_RECEIVE_LINK_DIED) {
            restarts++;
            start_worker(); /* from the module this process runs now */
        } else if (tag == TAG_NEW_VERSION) {
            lunatic_message_create_data(TAG_STATE, 8);
            lunatic_message_write_data(&restarts, sizeof restarts);
            hot_upgrade("supervisor_resume", 17);
        } else if (tag == TAG_WHO) {
            answer_who("supervisor");
        } else if (tag == TAG_STOP) {
            return;
        }
    }
}

LUNATIC_EXPORT("supervisor") void supervisor(void) {
    lunatic_process_die_when_link_dies(0);
    registry_put("supervisor", 10, 0, lunatic_process_process_id());
    hot_subscribe(TAG_NEW_VERSION);
    start_worker();
    supervise(0);
}

LUNATIC_EXPORT("supervisor_resume") void supervisor_resume(void) {
    int64_t tags[1] = {TAG_STATE};
    lunatic_message_receive(tags, 1, LUNATIC_NO_TIMEOUT);
    uint64_t restarts = 0;
    lunatic_message_read_exact(&restarts, sizeof restarts);
    supervise(restarts);
}

int main(void) { return 0; }
