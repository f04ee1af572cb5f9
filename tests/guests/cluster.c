/*
 * cluster.c: lunatic::distributed across nodes (tests/distributed_cluster.test.ts). The root
 * runs under `lunatic node --wasm`; the other nodes have no module of their own and fetch
 * this one from control when the root spawns on them.
 *
 * The root spawns a worker on every node (itself included), sends each a greeting and waits
 * for its answer, makes a request/reply with send_receive_skip_search, looks nodes up by
 * attribute, and tries the calls that must fail at once: an unknown node, an unknown module,
 * a missing process. Lines are "<who>: <what>"; the root ends with "root: done".
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lunatic.h"

LUNATIC_IMPORT("lunatic::distributed", "exec_lookup_nodes")
int32_t exec_lookup_nodes(const char *query, uint32_t query_len, uint64_t *query_id,
                          uint64_t *nodes_len, uint64_t *error_id);
LUNATIC_IMPORT("lunatic::distributed", "copy_lookup_nodes_results")
int32_t copy_lookup_nodes_results(uint64_t query_id, uint64_t *ids, int32_t cap,
                                  uint64_t *error_id);

LUNATIC_IMPORT("lunatic::process", "create_config") int64_t create_config(void);
LUNATIC_IMPORT("lunatic::wasi", "config_preopen_dir")
void config_preopen_dir(int64_t config, const char *dir, uint32_t len);

#define GREETING_TAG 7
#define REPLY_TAG 8

__attribute__((constructor)) static void line_buffered_stdout(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
}

static void text_message(int64_t tag, const char *text) {
    lunatic_message_create_data(tag, 0);
    lunatic_message_write_data(text, (uint32_t)strlen(text));
}

static void read_text(char *buf, uint32_t cap) {
    uint32_t n = lunatic_message_read_exact(buf, cap - 1);
    buf[n] = 0;
}

/* Spawns `function(root pid, root node)` on `node`; prints the outcome; 0 on failure. */
static uint64_t spawn_on(uint64_t node, uint64_t module, const char *function) {
    uint8_t params[2 * LUNATIC_PARAM_SIZE];
    lunatic_param_i64(params, (int64_t)lunatic_process_process_id());
    lunatic_param_i64(params + LUNATIC_PARAM_SIZE, (int64_t)lunatic_distributed_node_id());
    uint64_t id = 0;
    int32_t status = lunatic_distributed_spawn(node, LUNATIC_INHERIT_CONFIG, module, function,
                                       (uint32_t)strlen(function), params, sizeof params, &id);
    if (status == LUNATIC_OK) return id;
    char text[300];
    lunatic_error_take_string(id, text, sizeof text);
    printf("root: spawn on node %" PRIu64 " module %" PRIu64 " -> %" PRId32 ": %s\n", node,
           module, status, text);
    return 0;
}

/* Answers greetings and pings from the root until told to stop. */
LUNATIC_EXPORT("worker") void worker(int64_t root, int64_t root_node) {
    char text[128];
    char reply[200];
    for (;;) {
        lunatic_message_receive_any(LUNATIC_NO_TIMEOUT);
        read_text(text, sizeof text);
        if (strcmp(text, "stop") == 0) return;
        if (strcmp(text, "ping") == 0) {
            snprintf(reply, sizeof reply, "pong from node %" PRIu64, lunatic_distributed_node_id());
        } else {
            snprintf(reply, sizeof reply, "node %" PRIu64 " module %" PRIu64 " pid %" PRIu64
                     " got \"%s\"", lunatic_distributed_node_id(), lunatic_distributed_module_id(),
                     lunatic_process_process_id(), text);
        }
        text_message(REPLY_TAG, reply);
        int32_t status = lunatic_distributed_send((uint64_t)root_node, (uint64_t)root);
        if (status != 0) printf("worker: reply -> %" PRId32 "\n", status);
    }
}

int main(void) {
    uint64_t self = lunatic_distributed_node_id();
    uint64_t nodes[16];
    int32_t count = lunatic_distributed_get_nodes(nodes, 16);
    printf("root: node %" PRIu64 ", module %" PRIu64 ", %" PRId32 " nodes (count %" PRId32 ")\n",
           self, lunatic_distributed_module_id(), count, lunatic_distributed_nodes_count());

    uint64_t workers[16];
    for (int32_t i = 0; i < count; i++) {
        workers[i] = spawn_on(nodes[i], lunatic_distributed_module_id(), "worker");
        if (workers[i] == 0) continue;
        char text[64];
        snprintf(text, sizeof text, "hello %" PRId32, i);
        text_message(GREETING_TAG, text);
        int32_t sent = lunatic_distributed_send(nodes[i], workers[i]);
        int64_t tags[1] = {REPLY_TAG};
        lunatic_message_receive(tags, 1, LUNATIC_NO_TIMEOUT);
        char answer[200];
        read_text(answer, sizeof answer);
        printf("root: send -> %" PRId32 "; answer: %s\n", sent, answer);
    }

    /* Request/reply: the answer may arrive before the send's acknowledgement does. */
    for (int32_t i = 0; i < count; i++) {
        if (workers[i] == 0) continue;
        text_message(GREETING_TAG, "ping");
        int32_t status =
            lunatic_distributed_send_receive_skip_search(nodes[i], workers[i], REPLY_TAG, 5000);
        char answer[200] = "";
        if (status == 0) read_text(answer, sizeof answer);
        printf("root: request to node %" PRIu64 " -> %" PRId32 " %s\n", nodes[i], status, answer);
    }

    uint64_t query = 0, found = 0, error = 0;
    int32_t status = exec_lookup_nodes("role=worker", 11, &query, &found, &error);
    uint64_t ids[16];
    int32_t copied = copy_lookup_nodes_results(query, ids, 16, &error);
    printf("root: lookup role=worker -> %" PRId32 ", %" PRIu64 " nodes, copied %" PRId32 ":",
           status, found, copied);
    for (int32_t i = 0; i < copied; i++) printf(" %" PRIu64, ids[i]);
    printf("\n");
    printf("root: copy again -> %" PRId32 "\n", copy_lookup_nodes_results(query, ids, 16, &error));

    /* What must fail, at once. */
    spawn_on(999, lunatic_distributed_module_id(), "worker");
    if (count > 1) {
        uint64_t other = nodes[0] == self ? nodes[1] : nodes[0];
        spawn_on(other, 4242, "worker");
        text_message(GREETING_TAG, "nobody");
        printf("root: send to a missing process -> %" PRId32 "\n",
               lunatic_distributed_send(other, 999999));
    }
    text_message(GREETING_TAG, "lost");
    printf("root: send to node 999 -> %" PRId32 "\n", lunatic_distributed_send(999, 1));

    /* A config that preopens a directory of this node, which another node does not have. */
    const char *outside = getenv("OUTSIDE_DIR");
    if (outside != NULL && count > 1) {
        uint64_t other = nodes[0] == self ? nodes[1] : nodes[0];
        int64_t config = create_config();
        config_preopen_dir(config, outside, (uint32_t)strlen(outside));
        uint8_t params[2 * LUNATIC_PARAM_SIZE];
        lunatic_param_i64(params, 0);
        lunatic_param_i64(params + LUNATIC_PARAM_SIZE, 0);
        uint64_t id = 0;
        int32_t status = lunatic_distributed_spawn(other, config, lunatic_distributed_module_id(),
                                                   "worker", 6, params, sizeof params, &id);
        char text[300] = "";
        if (status != 0) lunatic_error_take_string(id, text, sizeof text);
        printf("root: spawn preopening %s -> %" PRId32 ": %s\n", outside, status, text);
    }

    for (int32_t i = 0; i < count; i++) {
        if (workers[i] == 0) continue;
        text_message(GREETING_TAG, "stop");
        lunatic_distributed_send(nodes[i], workers[i]);
    }
    printf("root: done\n");
    return 0;
}
