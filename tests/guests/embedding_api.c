/*
 * embedding_api.c: a guest for the public embedding API's tests (tests/mod_api.test.ts),
 * talking to processes written in TypeScript. Every export is an entry the test spawns.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lunatic.h"

LUNATIC_IMPORT("lunatic::registry", "put")
void registry_put(const char *name, uint32_t len, uint64_t node_id, uint64_t process_id);
LUNATIC_IMPORT("lunatic::registry", "get")
int32_t registry_get(const char *name, uint32_t len, uint64_t *node_id, uint64_t *process_id);

__attribute__((constructor)) static void line_buffered_stdout(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
}

static void send_text(uint64_t to, int64_t tag, const char *text) {
    lunatic_message_create_data(tag, 0);
    lunatic_message_write_data(text, (uint32_t)strlen(text));
    lunatic_message_send(to);
}

/* Answers each message from `peer` with "echo: <text>" (tag + 1); "crash" aborts, "bye" ends. */
LUNATIC_EXPORT("echo") void echo(int64_t peer) {
    for (;;) {
        lunatic_message_receive_any(LUNATIC_NO_TIMEOUT);
        char text[256];
        uint32_t n = lunatic_message_read_exact(text, sizeof text - 1);
        text[n] = 0;
        if (strcmp(text, "crash") == 0) abort();
        if (strcmp(text, "bye") == 0) return;
        char reply[300];
        snprintf(reply, sizeof reply, "echo: %s", text);
        send_text((uint64_t)peer, lunatic_message_get_tag() + 1, reply);
    }
}

/* Finds "ts-native" in the registry, greets it, registers itself as "guest", waits for "bye". */
LUNATIC_EXPORT("registry_user") void registry_user(void) {
    uint64_t node = 0, pid = 0;
    if (registry_get("ts-native", 9, &node, &pid) != 0) {
        printf("guest: ts-native is not registered\n");
        return;
    }
    registry_put("guest", 5, 0, lunatic_process_process_id());
    send_text(pid, 3, "hi from the guest");
    lunatic_message_receive_any(LUNATIC_NO_TIMEOUT);
}

/* Links to `peer` without dying with it; prints what its end brings, then ends. */
LUNATIC_EXPORT("watch") void watch(int64_t peer) {
    lunatic_process_die_when_link_dies(0);
    lunatic_process_link(9, (uint64_t)peer);
    send_text((uint64_t)peer, 1, "linked");
    int32_t kind = lunatic_message_receive_any(LUNATIC_NO_TIMEOUT);
    printf("guest: receive kind %" PRId32 ", tag %" PRId64 "\n", kind, lunatic_message_get_tag());
}

/* Monitors `peer`, tells it so, prints what its end brings. */
LUNATIC_EXPORT("monitor_peer") void monitor_peer(int64_t peer) {
    lunatic_process_monitor((uint64_t)peer);
    send_text((uint64_t)peer, 1, "monitoring");
    int32_t kind = lunatic_message_receive_any(LUNATIC_NO_TIMEOUT);
    printf("guest: receive kind %" PRId32 ", process %" PRIu64 "\n", kind,
           lunatic_message_get_process_id());
}

/* Waits forever (to be killed or linked to). */
LUNATIC_EXPORT("idle") void idle(void) {
    lunatic_message_receive_any(LUNATIC_NO_TIMEOUT);
}

/* `_start`: prints its arguments and ends. */
int main(int argc, char **argv) {
    printf("guest: main with %d arguments, first %s\n", argc, argv[0]);
    return 0;
}
