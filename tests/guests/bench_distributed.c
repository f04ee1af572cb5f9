/*
 * bench_distributed.c: the root of bench/distributed.ts under `lunatic node --wasm`. It spawns
 * an echo process on another node and measures, after a warm-up:
 *   - round trips: a message there and its answer back, one at a time;
 *   - throughput: one-way messages to it as fast as `send` returns (each send waits for the
 *     other node's acknowledgement, as lunatic's does), the echo counting them.
 * Prints "round_trip_ns <n>", "throughput_per_s <n>", then "done".
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lunatic.h"


enum { PING = 1, PONG = 2, ONE_WAY = 3, COUNT = 4, COUNTED = 5 };

static uint64_t now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

static void send_tagged(uint64_t node, uint64_t pid, int64_t tag, uint64_t value) {
    lunatic_message_create_data(tag, 8);
    lunatic_message_write_data(&value, sizeof value);
    lunatic_distributed_send(node, pid);
}

LUNATIC_EXPORT("echo") void echo(int64_t root, int64_t root_node) {
    uint64_t counted = 0;
    for (;;) {
        lunatic_message_receive_any(LUNATIC_NO_TIMEOUT);
        int64_t tag = lunatic_message_get_tag();
        if (tag == PING) send_tagged((uint64_t)root_node, (uint64_t)root, PONG, 0);
        else if (tag == ONE_WAY) counted++;
        else if (tag == COUNT) send_tagged((uint64_t)root_node, (uint64_t)root, COUNTED, counted);
        else return;
    }
}

static void wait_for(int64_t tag) {
    int64_t tags[1] = {tag};
    lunatic_message_receive(tags, 1, LUNATIC_NO_TIMEOUT);
}

int main(void) {
    int rounds = getenv("ROUND_TRIPS") ? atoi(getenv("ROUND_TRIPS")) : 5000;
    int messages = getenv("MESSAGES") ? atoi(getenv("MESSAGES")) : 20000;
    uint64_t nodes[8];
    int32_t count = lunatic_distributed_get_nodes(nodes, 8);
    uint64_t other = 0;
    for (int32_t i = 0; i < count; i++) {
        if (nodes[i] != lunatic_distributed_node_id()) other = nodes[i];
    }
    uint8_t params[2 * LUNATIC_PARAM_SIZE];
    lunatic_param_i64(params, (int64_t)lunatic_process_process_id());
    lunatic_param_i64(params + LUNATIC_PARAM_SIZE, (int64_t)lunatic_distributed_node_id());
    uint64_t echo_pid = 0;
    if (other == 0 ||
        lunatic_distributed_spawn(other, LUNATIC_INHERIT_CONFIG, lunatic_distributed_module_id(),
                                  "echo", 4, params, sizeof params, &echo_pid) != 0) {
        printf("no other node to spawn on\n");
        return 1;
    }
    for (int i = 0; i < rounds / 5; i++) {
        send_tagged(other, echo_pid, PING, 0);
        wait_for(PONG);
    }
    uint64_t start = now_ns();
    for (int i = 0; i < rounds; i++) {
        send_tagged(other, echo_pid, PING, 0);
        wait_for(PONG);
    }
    printf("round_trip_ns %" PRIu64 "\n", (now_ns() - start) / (uint64_t)rounds);
    start = now_ns();
    for (int i = 0; i < messages; i++) send_tagged(other, echo_pid, ONE_WAY, 0);
    send_tagged(other, echo_pid, COUNT, 0);
    wait_for(COUNTED);
    uint64_t counted = 0;
    lunatic_message_read_exact(&counted, sizeof counted);
    uint64_t elapsed = now_ns() - start;
    printf("throughput_per_s %" PRIu64 " (%" PRIu64 " counted)\n",
           (uint64_t)messages * 1000000000ull / elapsed, counted);
    send_tagged(other, echo_pid, 99, 0);
    printf("done\n");
    return 0;
}
