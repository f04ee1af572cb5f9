/*
 * spawn_fairness.c: a process that spawns in a loop lets its children run meanwhile
 * (tests/preemption.test.ts).
 *
 * Each spawn costs the host tens of microseconds but the guest only a few instructions, so
 * an instruction count alone would let the loop hold the thread for thousands of spawns. The
 * root spawns CHILDREN processes that each reply once, then counts the replies already in
 * its mailbox (a receive with timeout 0), then waits for the rest.
 */
#include <stdio.h>
#include <stdlib.h>

#include "lunatic.h"

#define CHILDREN 2000

__attribute__((constructor)) static void line_buffered_stdout(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
}

LUNATIC_EXPORT("child") void child(int64_t parent) {
    lunatic_message_create_data(LUNATIC_UNTAGGED, 0);
    lunatic_message_send((uint64_t)parent);
}

int main(void) {
    uint8_t params[LUNATIC_PARAM_SIZE];
    lunatic_param_i64(params, (int64_t)lunatic_process_process_id());
    for (int i = 0; i < CHILDREN; i++) {
        uint64_t pid;
        if (lunatic_spawn_export(LUNATIC_NO_LINK, "child", params, sizeof params, &pid) !=
            LUNATIC_OK) {
            printf("spawn %d failed\n", i);
            return 1;
        }
    }
    int replies = 0;
    while (lunatic_message_receive_any(0) == LUNATIC_RECEIVE_DATA) replies++;
    printf("replies when the loop ended: %d\n", replies);
    while (replies < CHILDREN) {
        if (lunatic_message_receive_any(LUNATIC_NO_TIMEOUT) != LUNATIC_RECEIVE_DATA) return 1;
        replies++;
    }
    printf("replies: %d\n", replies);
    return 0;
}
