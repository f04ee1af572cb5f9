/*
 * hello.c: the smallest lunatic program.
 *
 * Usage:   deno task run examples/hello.wasm [args...]
 * Output:  (for `hello.wasm a b`)
 *     Hello from lunatic process 1 (environment 1, host ABI 0.13.2)!
 *     argc = 3
 *     argv[0] = "hello.wasm"
 *     argv[1] = "a"
 *     argv[2] = "b"
 * Exit:    0
 *
 * `lunatic run` starts the module's `_start` (which calls main) as the root process, PID 1,
 * with argv = [file name, args...]. The only lunatic calls here ask who we are.
 */
#include <inttypes.h>
#include <stdio.h>

#include "lunatic.h"

int main(int argc, char **argv) {
    printf("Hello from lunatic process %" PRIu64 " (environment %" PRIu64
           ", host ABI %d.%d.%d)!\n",
           lunatic_process_process_id(), lunatic_process_environment_id(),
           (int)lunatic_version_major(), (int)lunatic_version_minor(),
           (int)lunatic_version_patch());
    printf("argc = %d\n", argc);
    for (int i = 0; i < argc; i++) {
        printf("argv[%d] = \"%s\"\n", i, argv[i]);
    }
    return 0;
}
