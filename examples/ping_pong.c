/*
 * ping_pong.c: two processes exchanging messages.
 *
 * Usage:   deno task run examples/ping_pong.wasm [exchanges=10]
 * Output:  (for `ping_pong.wasm 2`; the pong process is process 2 under `lunatic run`)
 *     ping: spawned pong as process 2
 *     pong: got ping 1
 *     ping: got pong 1
 *     pong: got ping 2
 *     ping: got pong 2
 *     ping_pong: 2 exchanges done, pong exited
 * Exit:    0 (2 on a bad argument, 1 if something goes wrong)
 *
 * The root process ("ping") spawns a process running the exported function `pong`, passing
 * its own process ID as a spawn parameter. Each exchange is a request/reply:
 *   ping -> pong   message tagged TAG_PING carrying a u64 counter,
 *   pong -> ping   message tagged TAG_PONG carrying the same counter.
 * The ping side uses send_receive_skip_search: it sends the ping and waits for the pong in
 * one host call. Finally ping sends TAG_STOP, pong returns (a normal exit), and ping waits
 * for the ProcessDied message it asked for with monitor() before it exits, so that pong
 * has really finished when the program ends.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "lunatic.h"

/* Tags tell our message kinds apart; any non-zero i64 works. */
#define TAG_PING 1
#define TAG_PONG 2
#define TAG_STOP 3
/* The link tag of pong: if pong fails, ping (which keeps the default die_when_link_dies)
 * dies with it instead of waiting forever. */
#define LINK_PONG 100

/* Several processes share stdout: make every line a single write, and make sure lines are
 * written before a process ends (this constructor runs in every process, spawned ones too,
 * because wasm-ld wraps each export with the constructors). */
__attribute__((constructor)) static void line_buffered_stdout(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
}

_Noreturn static void fail(const char *what) {
    fprintf(stderr, "ping_pong: %s\n", what);
    exit(1);
}

/* Entry point of the pong process: lunatic calls this export with the spawn parameters. */
LUNATIC_EXPORT("pong") void pong(int64_t ping_pid) {
    const int64_t tags[] = {TAG_PING, TAG_STOP};
    for (;;) {
        /* Take the next ping or stop request; the message lands in the scratch slot. */
        if (lunatic_message_receive(tags, 2, LUNATIC_NO_TIMEOUT) != LUNATIC_RECEIVE_DATA) {
            fail("pong: unexpected receive result");
        }
        if (lunatic_message_get_tag() == TAG_STOP) {
            return; /* a normal exit: ping's monitor sees ProcessDied */
        }
        uint64_t counter;
        if (!lunatic_message_read_u64(&counter)) {
            fail("pong: short ping message");
        }
        printf("pong: got ping %" PRIu64 "\n", counter);
        /* Reply. create_data discards the received ping, which we have fully read. */
        lunatic_message_create_data(TAG_PONG, 8);
        lunatic_message_write_u64(counter);
        lunatic_message_send((uint64_t)ping_pid);
    }
}

int main(int argc, char **argv) {
    uint64_t exchanges = 10;
    if (argc > 1) {
        char *end;
        exchanges = strtoull(argv[1], &end, 10);
        if (*argv[1] == '\0' || *end != '\0' || exchanges == 0) {
            fprintf(stderr, "usage: ping_pong.wasm [exchanges=10]\n");
            return 2;
        }
    }

    /* spawn("pong", params = [i64 my pid]), linked with tag LINK_PONG. */
    uint8_t params[LUNATIC_PARAM_SIZE];
    lunatic_param_i64(params, (int64_t)lunatic_process_process_id());
    uint64_t pong_pid;
    if (lunatic_spawn_export(LINK_PONG, "pong", params, sizeof params, &pong_pid) !=
        LUNATIC_OK) {
        char message[256];
        lunatic_error_take_string(pong_pid, message, sizeof message);
        fprintf(stderr, "ping_pong: spawn failed: %s\n", message);
        return 1;
    }
    lunatic_process_monitor(pong_pid);
    printf("ping: spawned pong as process %" PRIu64 "\n", pong_pid);

    for (uint64_t i = 1; i <= exchanges; i++) {
        lunatic_message_create_data(TAG_PING, 8);
        lunatic_message_write_u64(i);
        /* Send the ping and wait for a reply tagged TAG_PONG in one call. */
        if (lunatic_message_send_receive_skip_search(pong_pid, TAG_PONG, LUNATIC_NO_TIMEOUT) !=
            0) {
            fail("ping: no reply");
        }
        uint64_t counter;
        if (!lunatic_message_read_u64(&counter) || counter != i) {
            fail("ping: wrong reply");
        }
        printf("ping: got pong %" PRIu64 "\n", counter);
    }

    /* Ask pong to stop and wait until it has ended (ProcessDied is untagged, so receive
     * without a tag filter). */
    lunatic_message_create_data(TAG_STOP, 0);
    lunatic_message_send(pong_pid);
    for (;;) {
        int32_t kind = lunatic_message_receive_any(LUNATIC_NO_TIMEOUT);
        if (kind == LUNATIC_RECEIVE_PROCESS_DIED && lunatic_message_get_process_id() == pong_pid) {
            break;
        }
    }
    printf("ping_pong: %" PRIu64 " exchanges done, pong exited\n", exchanges);
    return 0;
}
