/*
 * ring.c: a token passed around a ring of processes (a classic actor benchmark).
 *
 * Usage:   deno task run examples/ring.wasm [processes=1000] [rounds=100]
 * Output:  exactly one line, e.g. for the defaults:
 *     ring: 1000 processes, 100 rounds, 100000 messages
 * Exit:    0 (2 on a bad argument, 1 if the token's count is wrong or a spawn fails)
 *
 * How it works:
 *   1. The root spawns N processes running the export `ring_node(rounds, report_to, leader)`,
 *      linked to the root (so that if one fails, the root fails too rather than hang).
 *      Node 0 is the leader: it gets leader = 1 and report_to = the root's process ID.
 *   2. The root tells node i its successor, node (i+1) % N, in a first message tagged
 *      TAG_SETUP carrying the successor's process ID (u64).
 *   3. The root hands the token {hops = 0, rounds = 0} to the leader (tag TAG_TOKEN).
 *      Every node forwards the token to its successor, adding 1 to `hops` on each send.
 *      When the token comes back to the leader, one round is complete and the leader adds 1
 *      to `rounds`. After the last round the leader sends the token to the root (tag
 *      TAG_RESULT) instead of forwarding it.
 *   4. The root prints the counts carried by the token; they are counted hop by hop, not
 *      computed, and the root checks that hops == N * M.
 * Every node forwards the token exactly M times and then returns (a normal exit); the
 * leader returns after reporting.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "lunatic.h"

#define TAG_SETUP 1
#define TAG_TOKEN 2
#define TAG_RESULT 3
#define LINK_NODE 10

__attribute__((constructor)) static void line_buffered_stdout(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
}

_Noreturn static void fail(const char *what) {
    fprintf(stderr, "ring: %s\n", what);
    exit(1);
}

/* The token: two u64 counters, sent as 16 little-endian bytes. */
typedef struct {
    uint64_t hops;
    uint64_t rounds;
} token_t;

static void send_token(uint64_t to, int64_t tag, const token_t *token) {
    lunatic_message_create_data(tag, 16);
    lunatic_message_write_u64(token->hops);
    lunatic_message_write_u64(token->rounds);
    lunatic_message_send(to);
}

static token_t receive_token(void) {
    token_t token;
    if (lunatic_message_receive_tag(TAG_TOKEN, LUNATIC_NO_TIMEOUT) != LUNATIC_RECEIVE_DATA ||
        !lunatic_message_read_u64(&token.hops) || !lunatic_message_read_u64(&token.rounds)) {
        fail("node: bad token");
    }
    return token;
}

/* Entry point of every ring node. */
LUNATIC_EXPORT("ring_node") void ring_node(int64_t rounds, int64_t report_to, int32_t leader) {
    /* First learn the successor. Selective receive on TAG_SETUP: a token that arrives early
     * (from another sender) stays queued. */
    uint64_t next;
    if (lunatic_message_receive_tag(TAG_SETUP, LUNATIC_NO_TIMEOUT) != LUNATIC_RECEIVE_DATA ||
        !lunatic_message_read_u64(&next)) {
        fail("node: bad setup message");
    }

    if (!leader) {
        for (int64_t i = 0; i < rounds; i++) {
            token_t token = receive_token();
            token.hops++;
            send_token(next, TAG_TOKEN, &token);
        }
        return;
    }

    /* The leader: the first token comes from the root (hops == 0); every later arrival
     * completes a round. */
    for (;;) {
        token_t token = receive_token();
        if (token.hops > 0) {
            token.rounds++;
            if ((int64_t)token.rounds == rounds) {
                send_token((uint64_t)report_to, TAG_RESULT, &token);
                return;
            }
        }
        token.hops++;
        send_token(next, TAG_TOKEN, &token);
    }
}

static uint64_t parse_count(const char *text) {
    char *end;
    uint64_t n = strtoull(text, &end, 10);
    if (*text == '\0' || *end != '\0' || n == 0 || n > 1000000000) {
        fprintf(stderr, "usage: ring.wasm [processes=1000] [rounds=100]\n");
        exit(2);
    }
    return n;
}

int main(int argc, char **argv) {
    uint64_t processes = argc > 1 ? parse_count(argv[1]) : 1000;
    uint64_t rounds = argc > 2 ? parse_count(argv[2]) : 100;
    uint64_t self = lunatic_process_process_id();

    uint64_t *pids = malloc(processes * sizeof *pids);
    if (pids == NULL) {
        fail("out of memory");
    }
    for (uint64_t i = 0; i < processes; i++) {
        uint8_t params[3 * LUNATIC_PARAM_SIZE];
        uint8_t *p = lunatic_param_i64(params, (int64_t)rounds);
        p = lunatic_param_i64(p, i == 0 ? (int64_t)self : 0);
        lunatic_param_i32(p, i == 0);
        if (lunatic_spawn_export(LINK_NODE, "ring_node", params, sizeof params, &pids[i]) !=
            LUNATIC_OK) {
            char message[256];
            lunatic_error_take_string(pids[i], message, sizeof message);
            fprintf(stderr, "ring: spawn %" PRIu64 " failed: %s\n", i, message);
            return 1;
        }
    }

    /* Close the ring: node i forwards to node i+1, the last one to node 0. */
    for (uint64_t i = 0; i < processes; i++) {
        lunatic_message_create_data(TAG_SETUP, 8);
        lunatic_message_write_u64(pids[(i + 1) % processes]);
        lunatic_message_send(pids[i]);
    }

    token_t token = {0, 0};
    send_token(pids[0], TAG_TOKEN, &token);

    if (lunatic_message_receive_tag(TAG_RESULT, LUNATIC_NO_TIMEOUT) != LUNATIC_RECEIVE_DATA ||
        !lunatic_message_read_u64(&token.hops) || !lunatic_message_read_u64(&token.rounds)) {
        fail("bad result message");
    }
    printf("ring: %" PRIu64 " processes, %" PRIu64 " rounds, %" PRIu64 " messages\n", processes,
           token.rounds, token.hops);
    free(pids);
    if (token.hops != processes * rounds || token.rounds != rounds) {
        fprintf(stderr, "ring: expected %" PRIu64 " messages\n", processes * rounds);
        return 1;
    }
    return 0;
}
