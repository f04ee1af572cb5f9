/*
 * timer_order.c: timers and sleeps in deadline order (tests/timer_order.test.ts).
 *
 *   before_sleep(rounds)  each round: send_after(self, 10 ms) with the round's tag, some
 *                         computing (0-6 ms), sleep(15 ms), then a receive of that tag with a
 *                         timeout of 0: the timer's deadline came first, so its message must
 *                         be there. Prints "missed <n> of <rounds>".
 *   in_deadline_order     three timers set out of order (30, 10, 20 ms), then a sleep past all
 *                         of them: the messages arrive in deadline order. Prints the tags.
 *   spin                  computes forever (a competitor; the test kills it).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "lunatic.h"

LUNATIC_IMPORT("lunatic::timer", "send_after") uint64_t send_after(uint64_t process_id, uint64_t ms);

__attribute__((constructor)) static void line_buffered_stdout(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
}

static uint64_t now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000 + (uint64_t)t.tv_nsec / 1000000;
}

static void compute_for(uint64_t ms) {
    volatile uint64_t sink = 0;
    for (uint64_t end = now_ms() + ms; now_ms() < end;) sink++;
}

static void timer_to_self(int64_t tag, uint64_t ms) {
    lunatic_message_create_data(tag, 0);
    send_after(lunatic_process_process_id(), ms);
}

LUNATIC_EXPORT("before_sleep") void before_sleep(int32_t rounds) {
    int32_t missed = 0;
    for (int32_t round = 0; round < rounds; round++) {
        int64_t tag = round + 1;
        timer_to_self(tag, 10);
        compute_for((uint64_t)(round * 7) % 7);
        lunatic_process_sleep_ms(15);
        if (lunatic_message_receive(&tag, 1, 0) != LUNATIC_RECEIVE_DATA) missed++;
    }
    printf("missed %d of %d\n", missed, rounds);
}

LUNATIC_EXPORT("in_deadline_order") void in_deadline_order(void) {
    timer_to_self(30, 30);
    timer_to_self(10, 10);
    timer_to_self(20, 20);
    lunatic_process_sleep_ms(40);
    for (int i = 0; i < 3; i++) {
        if (lunatic_message_receive_any(0) != LUNATIC_RECEIVE_DATA) {
            printf("missing\n");
            return;
        }
        printf("%" PRId64 "\n", lunatic_message_get_tag());
    }
}

LUNATIC_EXPORT("spin") void spin(void) {
    for (;;) compute_for(1);
}

int main(void) { return 0; }
