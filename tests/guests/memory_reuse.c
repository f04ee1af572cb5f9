/*
 * memory_reuse.c: a process never sees what an ended process left in memory
 * (tests/memory_reuse.test.ts).
 *
 * The runtime hands small memories of ended processes to new ones. The root runs, one after
 * another (each ended before the next starts): `dirty`, which scribbles over its data, its
 * zero-initialised data and its stack; `check`, which counts what is not as a fresh instance
 * has it; `grow`, which grows its memory by a page and scribbles there; `size`, which reports
 * its memory size in pages. Each child replies with one u64; the root prints the replies.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lunatic.h"

#define SCRATCH 40000

static char greeting[16] = "initial data";
static unsigned char scratch[SCRATCH];

__attribute__((constructor)) static void line_buffered_stdout(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
}

static void reply(int64_t parent, uint64_t value) {
    lunatic_message_create_data(LUNATIC_UNTAGGED, 8);
    lunatic_message_write_u64(value);
    lunatic_message_send((uint64_t)parent);
}

/* Fills a stack buffer and returns a byte of it, so the compiler keeps the writes. */
__attribute__((noinline)) static unsigned char scribble_stack(unsigned char value) {
    volatile unsigned char frame[4096];
    for (int i = 0; i < (int)sizeof frame; i++) frame[i] = value;
    return frame[value];
}

/* Counts the bytes in the top 4 KiB under the stack's start that are not zero. */
__attribute__((noinline)) static uint64_t dirty_stack_bytes(void) {
    volatile unsigned char frame[4096];
    uint64_t dirty = 0;
    for (int i = 0; i < (int)sizeof frame; i++) dirty += frame[i] != 0;
    return dirty;
}

LUNATIC_EXPORT("dirty") void dirty(int64_t parent) {
    memset(scratch, 0xAB, sizeof scratch);
    memcpy(greeting, "overwritten!!!!", 16);
    reply(parent, scribble_stack(0xCD));
}

LUNATIC_EXPORT("check") void check(int64_t parent) {
    uint64_t dirty = dirty_stack_bytes();
    for (int i = 0; i < SCRATCH; i++) dirty += scratch[i] != 0;
    if (strcmp(greeting, "initial data") != 0) dirty += 1000000;
    reply(parent, dirty);
}

LUNATIC_EXPORT("grow") void grow(int64_t parent) {
    size_t before = __builtin_wasm_memory_size(0);
    if (__builtin_wasm_memory_grow(0, 1) == (size_t)-1) abort();
    memset((void *)(before * 65536), 0xEF, 65536);
    reply(parent, before + 1);
}

LUNATIC_EXPORT("size") void size(int64_t parent) {
    reply(parent, __builtin_wasm_memory_size(0));
}

static uint64_t run_child(const char *function) {
    uint8_t params[LUNATIC_PARAM_SIZE];
    lunatic_param_i64(params, (int64_t)lunatic_process_process_id());
    uint64_t child;
    if (lunatic_spawn_export(LUNATIC_NO_LINK, function, params, sizeof params, &child) !=
        LUNATIC_OK) {
        printf("spawn %s failed\n", function);
        exit(1);
    }
    lunatic_process_monitor(child);
    uint64_t value = 0;
    if (lunatic_message_receive_any(LUNATIC_NO_TIMEOUT) != LUNATIC_RECEIVE_DATA ||
        !lunatic_message_read_u64(&value)) {
        printf("%s: no reply\n", function);
        exit(1);
    }
    if (lunatic_message_receive_any(LUNATIC_NO_TIMEOUT) != LUNATIC_RECEIVE_PROCESS_DIED) {
        printf("%s: no ProcessDied\n", function);
        exit(1);
    }
    return value;
}

int main(void) {
    printf("dirty %" PRIu64 "\n", run_child("dirty"));
    printf("check %" PRIu64 "\n", run_child("check"));
    printf("grow %" PRIu64 "\n", run_child("grow"));
    printf("size %" PRIu64 "\n", run_child("size"));
    printf("check %" PRIu64 "\n", run_child("check"));
    return 0;
}
