/*
 * bench_live_spawn.c: spawning processes that stay alive, from a C guest (wasi-libc), for
 * bench:compare (issue 17): `bench_live_spawn.wasm N` spawns N processes that each wait in
 * receive, then prints "spawned N in <ns> ns" measured with the WASI monotonic clock.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "lunatic.h"

LUNATIC_EXPORT("idle") void idle(void) { lunatic_message_receive_any(LUNATIC_NO_TIMEOUT); }

static uint64_t now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

int main(int argc, char **argv) {
    int n = argc > 1 ? atoi(argv[1]) : 1000;
    uint64_t start = now_ns();
    for (int i = 0; i < n; i++) {
        uint64_t id;
        if (lunatic_process_spawn(LUNATIC_NO_LINK, LUNATIC_INHERIT_CONFIG, LUNATIC_SAME_MODULE,
                                  "idle", 4, NULL, 0, &id) != 0) {
            printf("spawn %d failed\n", i);
            return 1;
        }
    }
    printf("spawned %d in %" PRIu64 " ns\n", n, now_ns() - start);
    return 0;
}
