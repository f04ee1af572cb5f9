/*
 * embedding.c: roots run by the embedding API (tests/embedding.test.ts). Each scenario is an
 * export run as the root. Three of them wait for a message with no timeout: one where nothing
 * can ever send it (a deadlock the runtime ends), and two where a sleeping child or a timer
 * will (not a deadlock: the message arrives).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "lunatic.h"

LUNATIC_IMPORT("lunatic::timer", "send_after") uint64_t send_after(uint64_t process_id, uint64_t ms);
LUNATIC_IMPORT("lunatic::registry", "put")
void registry_put(const char *name, uint32_t len, uint64_t node_id, uint64_t process_id);
LUNATIC_IMPORT("lunatic::registry", "get")
int32_t registry_get(const char *name, uint32_t len, uint64_t *node_id, uint64_t *process_id);

__attribute__((constructor)) static void line_buffered_stdout(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
}

/* Prints its PID, its environment's ID and whether the registry already held "root". */
LUNATIC_EXPORT("identity") void identity(void) {
    uint64_t node, pid;
    int32_t found = registry_get("root", 4, &node, &pid);
    registry_put("root", 4, 0, lunatic_process_process_id());
    printf("pid %" PRIu64 " environment %" PRIu64 " registry %s\n", lunatic_process_process_id(),
           lunatic_process_environment_id(), found == 0 ? "had root" : "empty");
}

LUNATIC_EXPORT("child_waits") void child_waits(int64_t parent) {
    (void)parent;
    lunatic_message_receive_any(LUNATIC_NO_TIMEOUT);
}

LUNATIC_EXPORT("child_sleeps_then_sends") void child_sleeps_then_sends(int64_t parent) {
    lunatic_process_sleep_ms(30);
    lunatic_message_create_data(LUNATIC_UNTAGGED, 0);
    lunatic_message_send((uint64_t)parent);
}

/* Spawns `function` of this module with the root's PID as its parameter. */
static void spawn_child(const char *function, int64_t link) {
    uint8_t params[LUNATIC_PARAM_SIZE];
    lunatic_param_i64(params, (int64_t)lunatic_process_process_id());
    uint64_t child;
    if (lunatic_spawn_export(link, function, params, sizeof params, &child) != LUNATIC_OK) {
        exit(2);
    }
}

/* A deadlock: the root and its child both wait for messages nobody will send. */
LUNATIC_EXPORT("deadlocked") void deadlocked(void) {
    printf("waiting\n");
    spawn_child("child_waits", LUNATIC_NO_LINK);
    lunatic_message_receive_any(LUNATIC_NO_TIMEOUT);
    printf("NOT REACHED\n");
}

LUNATIC_EXPORT("waits_for_sleeper") void waits_for_sleeper(void) {
    spawn_child("child_sleeps_then_sends", LUNATIC_NO_LINK);
    int32_t kind = lunatic_message_receive_any(LUNATIC_NO_TIMEOUT);
    printf("received %d from the sleeper\n", kind);
}

LUNATIC_EXPORT("waits_for_timer") void waits_for_timer(void) {
    spawn_child("child_waits", LUNATIC_NO_LINK);
    lunatic_message_create_data(LUNATIC_UNTAGGED, 0);
    send_after(lunatic_process_process_id(), 30);
    int32_t kind = lunatic_message_receive_any(LUNATIC_NO_TIMEOUT);
    printf("received %d from the timer\n", kind);
}

LUNATIC_EXPORT("child_traps") void child_traps(void) { __builtin_trap(); }

/* A child traps; the root watches it end and returns normally. */
LUNATIC_EXPORT("failing_child") void failing_child(void) {
    uint64_t child;
    if (lunatic_spawn_export(LUNATIC_NO_LINK, "child_traps", NULL, 0, &child) != LUNATIC_OK) {
        exit(2);
    }
    lunatic_process_monitor(child);
    if (lunatic_message_receive_any(LUNATIC_NO_TIMEOUT) != LUNATIC_RECEIVE_PROCESS_DIED) exit(3);
    printf("child %" PRIu64 " died\n", child);
}

/* A linked child traps; the root, not dying with its links, says when LinkDied arrives. */
LUNATIC_EXPORT("link_died") void link_died(void) {
    lunatic_process_die_when_link_dies(0);
    uint64_t child;
    if (lunatic_spawn_export(7, "child_traps", NULL, 0, &child) != LUNATIC_OK) exit(2);
    if (lunatic_message_receive_any(LUNATIC_NO_TIMEOUT) != LUNATIC_RECEIVE_LINK_DIED) exit(3);
    printf("LinkDied from child %" PRIu64 ", tag %" PRId64 "\n", child, lunatic_message_get_tag());
}

/* A cascade: 50 children linked to the root wait; the root traps, and each of them dies. */
LUNATIC_EXPORT("cascade") void cascade(void) {
    for (int i = 0; i < 50; i++) spawn_child("child_waits", 1);
    lunatic_process_sleep_ms(1); /* let them start */
    __builtin_trap();
}

int main(void) { return 0; }
