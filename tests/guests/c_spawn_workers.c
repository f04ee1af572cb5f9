/*
 * c_spawn_workers.c: spawn parameters and selective receive from C (tests/process_spawn.test.ts).
 *
 * The root prints the lunatic version, then spawns WORKERS processes running the export
 * `worker`, each with three parameter records built by lunatic.h: i64 the root's PID, i32 the
 * worker's index and i64 a negative factor (sign-extended to 128 bits by the helper). Each
 * worker replies with factor * index, tagged RESULT_TAG + index. The root collects the results
 * in REVERSE index order with a selective receive per tag, then waits for the ProcessDied of
 * every worker (it monitors them). Finally it spawns an export that does not exist, linked
 * with tag MISSING_TAG and with die_when_link_dies(0): spawn still succeeds, the child fails,
 * and the root receives a LinkDied message carrying MISSING_TAG.
 *
 * Output lines start with "root:" or "worker <index>:".
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "lunatic.h"

#define WORKERS 4
#define RESULT_TAG 100
#define MISSING_TAG 7
#define FACTOR (-1000000000000LL)

__attribute__((constructor)) static void line_buffered_stdout(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
}

_Noreturn static void fail(const char *what) {
    printf("root: FAILED: %s\n", what);
    exit(1);
}

LUNATIC_EXPORT("worker") void worker(int64_t parent, int32_t index, int64_t factor) {
    printf("worker %" PRId32 ": pid %" PRIu64 ", parent %" PRId64 ", factor %" PRId64 "\n", index,
           lunatic_process_process_id(), parent, factor);
    lunatic_message_create_data(RESULT_TAG + index, 8);
    lunatic_message_write_u64((uint64_t)(factor * index));
    lunatic_message_send((uint64_t)parent);
}

int main(void) {
    printf("root: version %" PRId32 ".%" PRId32 ".%" PRId32 "\n", lunatic_version_major(),
           lunatic_version_minor(), lunatic_version_patch());
    uint64_t self = lunatic_process_process_id();
    uint64_t pids[WORKERS];
    for (int32_t i = 0; i < WORKERS; i++) {
        uint8_t params[3 * LUNATIC_PARAM_SIZE];
        uint8_t *p = params;
        p = lunatic_param_i64(p, (int64_t)self);
        p = lunatic_param_i32(p, i);
        lunatic_param_i64(p, FACTOR);
        if (lunatic_spawn_export(LUNATIC_NO_LINK, "worker", params, sizeof params, &pids[i]) !=
            LUNATIC_OK) {
            fail("spawn worker");
        }
        lunatic_process_monitor(pids[i]);
        printf("root: spawned worker %" PRId32 " as %" PRIu64 "\n", i, pids[i]);
    }

    for (int32_t i = WORKERS - 1; i >= 0; i--) {
        if (lunatic_message_receive_tag(RESULT_TAG + i, LUNATIC_NO_TIMEOUT) !=
            LUNATIC_RECEIVE_DATA) {
            fail("receive result");
        }
        uint64_t value;
        if (!lunatic_message_read_u64(&value)) fail("short result");
        printf("root: result %" PRId32 " = %" PRId64 "\n", i, (int64_t)value);
    }

    for (int ended = 0; ended < WORKERS;) {
        if (lunatic_message_receive_any(LUNATIC_NO_TIMEOUT) != LUNATIC_RECEIVE_PROCESS_DIED) {
            fail("expected ProcessDied");
        }
        uint64_t dead = lunatic_message_get_process_id();
        int known = 0;
        for (int i = 0; i < WORKERS; i++) known |= pids[i] == dead;
        if (!known) fail("ProcessDied of an unknown process");
        ended++;
    }
    printf("root: all %d workers ended\n", WORKERS);

    lunatic_process_die_when_link_dies(0);
    uint64_t missing;
    int32_t status = lunatic_spawn_export(MISSING_TAG, "missing_export", NULL, 0, &missing);
    printf("root: spawn missing_export: status %" PRId32 ", pid %" PRIu64 "\n", status, missing);
    int32_t kind = lunatic_message_receive_tag(MISSING_TAG, LUNATIC_NO_TIMEOUT);
    printf("root: receive %" PRId32 ", tag %" PRId64 ", process id %" PRIu64 "\n", kind,
           lunatic_message_get_tag(), lunatic_message_get_process_id());
    return 0;
}
