/**
 * A C guest the size of a lunatic-rs debug build, for the failure and restart benchmark
 * (bench/failure_restart.ts): thousands of generated functions compiled without optimisation
 * and with DWARF (a 10+ MB module, half of it debug sections, ~6 MB of code: twice lunatic-rs's
 * supervisor tests), and a 1 MiB stack as Rust gives wasm32-wasi programs, so that its memory
 * starts at 18 pages.
 *
 * The generated functions are reachable from `main`, so the linker keeps them; the exports
 * that the benchmark runs are written out below the generator.
 */
import { fileURLToPath } from "node:url";
import { compileC } from "../../tests/helpers/compile.ts";

const EXAMPLES = fileURLToPath(new URL("../../examples", import.meta.url));

/** How many filler functions: ~550 bytes of code each at -O0. */
const FILLER_FUNCTIONS = 11_000;

export const BIG_MODULE_FLAGS = [
  "--target=wasm32-wasi",
  "-O0",
  "-g",
  `-I${EXAMPLES}`,
  "-Wl,-z,stack-size=1048576",
  "-Wl,--export=child_traps",
  "-Wl,--export=child_replies",
  "-Wl,--export=measure_link_died",
];

/** Filler function i; each calls the one before it on a path no input takes, so that all are
 * reachable from `main` without a table (lunatic-rs's tables hold a few hundred functions). */
function filler(i: number): string {
  const previous = i === 0 ? "acc" : `filler_${i - 1}(acc)`;
  return `int filler_${i}(int x) {
    int acc = x ^ ${i};
    for (int k = 0; k < (x & 7); k++) {
        acc = acc * ${(i % 97) + 3} + k;
        if (acc & ${1 << (i % 13)}) acc -= ${i % 1000};
        else acc += filler_salt;
    }
    if (x == ${-1 - i}) return ${previous};
    switch (acc & 3) {
    case 0: return acc + ${i % 31};
    case 1: return acc - ${i % 17};
    case 2: return acc ^ ${i % 251};
    default: return acc;
    }
}
`;
}

const PROGRAM = `
/* The benchmark's exports (see bench/failure_restart.ts). */

/* A child that is about to fail: sends its parent the monotonic time, then traps. */
__attribute__((export_name("child_traps"))) void child_traps(int64_t parent) {
    lunatic_message_create_data(LUNATIC_UNTAGGED, 8);
    lunatic_message_write_u64(now_ns());
    lunatic_message_send((uint64_t)parent);
    __builtin_trap();
}

/* A child that answers at once: sends its parent the monotonic time and returns. */
__attribute__((export_name("child_replies"))) void child_replies(int64_t parent) {
    lunatic_message_create_data(LUNATIC_UNTAGGED, 8);
    lunatic_message_write_u64(now_ns());
    lunatic_message_send((uint64_t)parent);
}

static int compare_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/*
 * Spawns \`rounds\` linked children that trap, one after another, and prints the median, the
 * 99th percentile and the worst of: spawn to the child's first message ("start"), and the
 * child's last instant before its trap to the LinkDied message here ("link_died"), in
 * microseconds.
 */
__attribute__((export_name("measure_link_died"))) void measure_link_died(int32_t rounds) {
    lunatic_process_die_when_link_dies(0);
    uint64_t *start = malloc(sizeof(uint64_t) * rounds);
    uint64_t *died = malloc(sizeof(uint64_t) * rounds);
    uint8_t params[LUNATIC_PARAM_SIZE];
    lunatic_param_i64(params, (int64_t)lunatic_process_process_id());
    for (int32_t round = 0; round < rounds; round++) {
        uint64_t child, sent = 0;
        uint64_t before = now_ns();
        if (lunatic_spawn_export(1, "child_traps", params, sizeof params, &child) != LUNATIC_OK) abort();
        if (lunatic_message_receive_any(LUNATIC_NO_TIMEOUT) != LUNATIC_RECEIVE_DATA ||
            !lunatic_message_read_u64(&sent)) abort();
        if (lunatic_message_receive_any(LUNATIC_NO_TIMEOUT) != LUNATIC_RECEIVE_LINK_DIED) abort();
        uint64_t after = now_ns();
        start[round] = sent - before;
        died[round] = after - sent;
    }
    qsort(start, rounds, sizeof(uint64_t), compare_u64);
    qsort(died, rounds, sizeof(uint64_t), compare_u64);
    int32_t p99 = rounds - 1 - rounds / 100;
    printf("{\\"start_median_us\\": %.1f, \\"start_p99_us\\": %.1f, \\"start_max_us\\": %.1f, "
           "\\"link_died_median_us\\": %.1f, \\"link_died_p99_us\\": %.1f, "
           "\\"link_died_max_us\\": %.1f}\\n",
           start[rounds / 2] / 1e3, start[p99] / 1e3, start[rounds - 1] / 1e3,
           died[rounds / 2] / 1e3, died[p99] / 1e3, died[rounds - 1] / 1e3);
}

int main(int argc, char **argv) {
    /* Reaches every filler function, so the linker keeps them. */
    filler_salt = argc;
    printf("%d\\n", filler_last(-argc));
    (void)argv;
    return 0;
}
`;

/** The C source: the filler functions, their table, and the benchmark's exports. */
export function bigModuleSource(): string {
  const parts = [
    "#include <stdio.h>",
    "#include <stdlib.h>",
    "#include <time.h>",
    '#include "lunatic.h"',
    "",
    "static int filler_salt;",
    "static uint64_t now_ns(void) {",
    "    struct timespec t;",
    "    clock_gettime(CLOCK_MONOTONIC, &t);",
    "    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;",
    "}",
  ];
  for (let i = 0; i < FILLER_FUNCTIONS; i++) parts.push(filler(i));
  parts.push(`#define filler_last filler_${FILLER_FUNCTIONS - 1}`);
  parts.push(PROGRAM);
  return parts.join("\n");
}

/** Builds the guest (clang-14, about a minute on two cores). */
export function buildBigModule(): Promise<Uint8Array<ArrayBuffer>> {
  return compileC(bigModuleSource(), BIG_MODULE_FLAGS);
}
