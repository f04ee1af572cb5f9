// Benchmark guest: how late do sleeps wake, and how long do round trips take, while N
// processes spin in infinite loops that never call the host? Run as the root:
//   latency.wasm <spinners> <samples>
// Prints `sleep_overshoot_us p50 p99 max` and `round_trip_us p50 p99 max`.
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "lunatic.h"

static uint64_t now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

LUNATIC_EXPORT("spin") void spin(void) {
    volatile uint64_t counter = 0;
    for (;;) counter++;
}

LUNATIC_EXPORT("pong") void pong(int64_t peer) {
    for (;;) {
        lunatic_message_receive_any(LUNATIC_NO_TIMEOUT);
        lunatic_message_create_data(LUNATIC_UNTAGGED, 0);
        lunatic_message_send((uint64_t)peer);
    }
}

static int compare(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void report(const char *name, uint64_t *samples, int count) {
    qsort(samples, (size_t)count, sizeof samples[0], compare);
    printf("%s %" PRIu64 " %" PRIu64 " %" PRIu64 "\n", name, samples[count / 2],
           samples[count * 99 / 100], samples[count - 1]);
}

int main(int argc, char **argv) {
    int spinners = argc > 1 ? atoi(argv[1]) : 4;
    int count = argc > 2 ? atoi(argv[2]) : 100;
    uint64_t *ids = calloc((size_t)spinners + 1, sizeof(uint64_t));
    uint64_t *samples = calloc((size_t)count, sizeof(uint64_t));
    for (int i = 0; i < spinners; i++) {
        if (lunatic_spawn_export(LUNATIC_NO_LINK, "spin", NULL, 0, &ids[i]) != LUNATIC_OK) return 1;
    }
    for (int i = 0; i < count; i++) {
        uint64_t start = now_us();
        lunatic_process_sleep_ms(5);
        samples[i] = now_us() - start - 5000;
    }
    report("sleep_overshoot_us", samples, count);
    uint8_t params[LUNATIC_PARAM_SIZE];
    lunatic_param_i64(params, (int64_t)lunatic_process_process_id());
    uint64_t pong_id;
    if (lunatic_spawn_export(LUNATIC_NO_LINK, "pong", params, sizeof params, &pong_id) != LUNATIC_OK)
        return 1;
    for (int i = 0; i < count; i++) {
        uint64_t start = now_us();
        lunatic_message_create_data(LUNATIC_UNTAGGED, 0);
        lunatic_message_send(pong_id);
        lunatic_message_receive_any(LUNATIC_NO_TIMEOUT);
        samples[i] = now_us() - start;
    }
    report("round_trip_us", samples, count);
    for (int i = 0; i < spinners; i++) lunatic_process_kill(ids[i]);
    lunatic_process_kill(pong_id);
    return 0;
}
