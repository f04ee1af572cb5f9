/*
 * cluster_links.c: links and monitors across nodes (tests/distributed_cluster.test.ts), the
 * lunatic::distributed link/monitor calls this runtime adds. The root runs on the last node
 * to start; nodes[0] and nodes[1] are two others.
 *
 * 1. A worker on nodes[0] linked with tag 42 fails: the root (die_when_link_dies off) gets
 *    LinkDied with tag 42.
 * 2. A monitored worker on nodes[0] ends normally: the root gets ProcessDied with its PID.
 * 3. A local helper (default die_when_link_dies) linked to a worker on nodes[0] that fails is
 *    killed; the root, monitoring the helper, gets its ProcessDied.
 * 4. A worker on nodes[1] linked with tag 43: the root prints "root: waiting for node loss"
 *    and the test kills nodes[1]; the root gets LinkDied with tag 43.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lunatic.h"

LUNATIC_IMPORT("lunatic::distributed", "link")
int32_t distributed_link(uint64_t node, uint64_t process_id, int64_t tag);
LUNATIC_IMPORT("lunatic::distributed", "monitor")
int32_t distributed_monitor(uint64_t node, uint64_t process_id);
LUNATIC_IMPORT("lunatic::distributed", "exists")
int32_t distributed_exists(uint64_t node, uint64_t process_id);

__attribute__((constructor)) static void line_buffered_stdout(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
}

static void command(uint64_t node, uint64_t pid, const char *text) {
    lunatic_message_create_data(1, 0);
    lunatic_message_write_data(text, (uint32_t)strlen(text));
    lunatic_distributed_send(node, pid);
}

static uint64_t spawn_worker(uint64_t node) {
    uint64_t id = 0;
    int32_t status = lunatic_distributed_spawn(node, LUNATIC_INHERIT_CONFIG,
                                               lunatic_distributed_module_id(), "worker", 6, NULL,
                                               0, &id);
    if (status != 0) {
        printf("root: spawn on node %" PRIu64 " -> %" PRId32 "\n", node, status);
        exit(1);
    }
    return id;
}

/* Waits for "fail" (aborts) or "end" (returns). */
LUNATIC_EXPORT("worker") void worker(void) {
    char text[16] = "";
    lunatic_message_receive_any(LUNATIC_NO_TIMEOUT);
    uint32_t n = lunatic_message_read_exact(text, sizeof text - 1);
    text[n] = 0;
    if (strcmp(text, "fail") == 0) abort();
}

/* Links itself to worker (node, pid), tells the root it did, and waits to be killed. */
LUNATIC_EXPORT("helper") void helper(int64_t root, int64_t node, int64_t pid) {
    int32_t status = distributed_link((uint64_t)node, (uint64_t)pid, 5);
    lunatic_message_create_data(9, 0);
    lunatic_message_write_data(&status, sizeof status);
    lunatic_message_send((uint64_t)root);
    lunatic_message_receive_any(LUNATIC_NO_TIMEOUT);
    printf("helper: NOT REACHED\n");
}

static void expect(int32_t wanted_kind) {
    int32_t kind = lunatic_message_receive_any(LUNATIC_NO_TIMEOUT);
    if (kind == LUNATIC_RECEIVE_LINK_DIED) {
        printf("root: LinkDied, tag %" PRId64 "\n", lunatic_message_get_tag());
    } else if (kind == LUNATIC_RECEIVE_PROCESS_DIED) {
        printf("root: ProcessDied, pid %" PRIu64 "\n", lunatic_message_get_process_id());
    } else {
        printf("root: data message, tag %" PRId64 "\n", lunatic_message_get_tag());
    }
    if (kind != wanted_kind) printf("root: expected kind %" PRId32 "\n", wanted_kind);
}

int main(void) {
    uint64_t nodes[8];
    int32_t count = lunatic_distributed_get_nodes(nodes, 8);
    uint64_t others[2];
    int32_t found = 0;
    for (int32_t i = 0; i < count && found < 2; i++) {
        if (nodes[i] != lunatic_distributed_node_id()) others[found++] = nodes[i];
    }
    if (found < 2) {
        printf("root: needs two other nodes\n");
        return 1;
    }
    lunatic_process_die_when_link_dies(0);

    uint64_t failing = spawn_worker(others[0]);
    printf("root: exists -> %" PRId32 "\n", distributed_exists(others[0], failing));
    printf("root: link -> %" PRId32 "\n", distributed_link(others[0], failing, 42));
    command(others[0], failing, "fail");
    expect(LUNATIC_RECEIVE_LINK_DIED);
    printf("root: exists after -> %" PRId32 "\n", distributed_exists(others[0], failing));
    printf("root: exists on node 999 -> %" PRId32 "\n", distributed_exists(999, 1));

    uint64_t ending = spawn_worker(others[0]);
    printf("root: monitor -> %" PRId32 "\n", distributed_monitor(others[0], ending));
    command(others[0], ending, "end");
    expect(LUNATIC_RECEIVE_PROCESS_DIED);
    printf("root: (worker pid was %" PRIu64 ")\n", ending);

    printf("root: link to a missing process -> %" PRId32 "\n",
           distributed_link(others[0], 999999, 44));
    expect(LUNATIC_RECEIVE_LINK_DIED);
    printf("root: link on node 999 -> %" PRId32 "\n", distributed_link(999, 1, 45));

    uint64_t target = spawn_worker(others[0]);
    uint8_t params[3 * LUNATIC_PARAM_SIZE];
    lunatic_param_i64(params, (int64_t)lunatic_process_process_id());
    lunatic_param_i64(params + LUNATIC_PARAM_SIZE, (int64_t)others[0]);
    lunatic_param_i64(params + 2 * LUNATIC_PARAM_SIZE, (int64_t)target);
    uint64_t helper_pid;
    lunatic_process_spawn(LUNATIC_NO_LINK, LUNATIC_INHERIT_CONFIG, LUNATIC_SAME_MODULE, "helper",
                          6, params, sizeof params, &helper_pid);
    lunatic_process_monitor(helper_pid);
    int64_t linked_tag[1] = {9};
    lunatic_message_receive(linked_tag, 1, LUNATIC_NO_TIMEOUT);
    int32_t helper_status = -1;
    lunatic_message_read_exact(&helper_status, sizeof helper_status);
    printf("root: helper linked -> %" PRId32 "\n", helper_status);
    command(others[0], target, "fail");
    expect(LUNATIC_RECEIVE_PROCESS_DIED);
    printf("root: (helper pid was %" PRIu64 ")\n", helper_pid);

    uint64_t doomed = spawn_worker(others[1]);
    printf("root: link -> %" PRId32 "\n", distributed_link(others[1], doomed, 43));
    printf("root: waiting for node loss\n");
    expect(LUNATIC_RECEIVE_LINK_DIED);
    printf("root: done\n");
    return 0;
}
