/*
 * cluster_hello.c: a process on every node of a cluster, and their answers.
 *
 * Usage:   deno task control --bind-socket 127.0.0.1:3030
 *          deno task node http://127.0.0.1:3030/                 (as many as you like)
 *          deno task node http://127.0.0.1:3030/ --wasm examples/cluster_hello.wasm
 * Output:  (of the last node, with two others started before it)
 *     cluster_hello: node 3 sees 3 nodes
 *     cluster_hello: node 1 answers: hello from process 1 on node 1
 *     cluster_hello: node 2 answers: hello from process 1 on node 2
 *     cluster_hello: node 3 answers: hello from process 2 on node 3
 *     cluster_hello: done
 *   and each node prints "greeter: asked by process 1 on node 3".
 * Exit:    the node keeps serving until Ctrl-C; the root process ends after "done".
 *
 * The root asks control's node list (get_nodes: every node, this one included) and spawns the
 * exported function `greeter` on each, from this module (module_id: control's ID for it; the
 * other nodes fetch it from control). The spawn parameters carry where to answer: the root's
 * process ID and node ID. Each greeter sends one message back with distributed::send; the
 * root waits for them one at a time, tagged with the node's index.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "lunatic.h"


#define MAX_NODES 64
/* Answers are tagged FIRST_ANSWER + the node's index in the list. */
#define FIRST_ANSWER 100

__attribute__((constructor)) static void line_buffered_stdout(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
}

LUNATIC_EXPORT("greeter") void greeter(int64_t root, int64_t root_node, int64_t tag) {
    printf("greeter: asked by process %" PRId64 " on node %" PRId64 "\n", root, root_node);
    char text[100];
    snprintf(text, sizeof text, "hello from process %" PRIu64 " on node %" PRIu64,
             lunatic_process_process_id(), lunatic_distributed_node_id());
    lunatic_message_create_data(tag, 0);
    lunatic_message_write_data(text, (uint32_t)strlen(text));
    lunatic_distributed_send((uint64_t)root_node, (uint64_t)root);
}

int main(void) {
    uint64_t nodes[MAX_NODES];
    int32_t count = lunatic_distributed_get_nodes(nodes, MAX_NODES);
    uint64_t self = lunatic_distributed_node_id();
    printf("cluster_hello: node %" PRIu64 " sees %" PRId32 " nodes\n", self, count);
    if (self == 0) {
        printf("cluster_hello: not a node of a cluster (run it with `lunatic node --wasm`)\n");
        return 1;
    }
    for (int32_t i = 0; i < count; i++) {
        uint8_t params[3 * LUNATIC_PARAM_SIZE];
        lunatic_param_i64(params, (int64_t)lunatic_process_process_id());
        lunatic_param_i64(params + LUNATIC_PARAM_SIZE, (int64_t)self);
        lunatic_param_i64(params + 2 * LUNATIC_PARAM_SIZE, FIRST_ANSWER + i);
        uint64_t id;
        int32_t status = lunatic_distributed_spawn(nodes[i], LUNATIC_INHERIT_CONFIG,
                                                   lunatic_distributed_module_id(), "greeter", 7,
                                                   params, sizeof params, &id);
        if (status != LUNATIC_OK) {
            char reason[200];
            lunatic_error_take_string(id, reason, sizeof reason);
            printf("cluster_hello: node %" PRIu64 " cannot spawn: %s\n", nodes[i], reason);
            continue;
        }
        int64_t tags[1] = {FIRST_ANSWER + i};
        lunatic_message_receive(tags, 1, LUNATIC_NO_TIMEOUT);
        char answer[128];
        uint32_t n = lunatic_message_read_exact(answer, sizeof answer - 1);
        answer[n] = 0;
        printf("cluster_hello: node %" PRIu64 " answers: %s\n", nodes[i], answer);
    }
    printf("cluster_hello: done\n");
    return 0;
}
