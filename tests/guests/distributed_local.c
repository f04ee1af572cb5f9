/*
 * distributed_local.c: lunatic::distributed on a single node (tests/distributed_local.test.ts).
 *
 * The runtime is node 0 with no other nodes; every process's module ID is 0. Spawns and sends
 * addressed to node 0 behave as local ones; any other node is unknown.
 *
 * Every scenario is an export run as the root. Output lines are "<who>: <what>".
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lunatic.h"

LUNATIC_IMPORT("lunatic::process", "create_config") int64_t create_config(void);
LUNATIC_IMPORT("lunatic::process", "compile_module")
int32_t compile_module(const uint8_t *data, uint32_t len, uint64_t *id);
LUNATIC_IMPORT("lunatic::message", "push_module") uint64_t push_module(int64_t module_id);

__attribute__((constructor)) static void line_buffered_stdout(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
}

static void await_death(uint64_t pid) {
    for (;;) {
        int32_t kind = lunatic_message_receive_any(LUNATIC_NO_TIMEOUT);
        if (kind == LUNATIC_RECEIVE_PROCESS_DIED && lunatic_message_get_process_id() == pid) {
            printf("root: process %" PRIu64 " ended\n", pid);
            return;
        }
    }
}

static void text_message(int64_t tag, const char *text) {
    lunatic_message_create_data(tag, 0);
    lunatic_message_write_data(text, (uint32_t)strlen(text));
}

/* Reads the text of the received message. */
static void read_text(char *buf, uint32_t cap) {
    uint32_t n = lunatic_message_read_exact(buf, cap - 1);
    buf[n] = 0;
}

/* Calls distributed::spawn of export `function` with the root's PID as an i64 parameter;
 * prints the status and the PID or error. Returns the PID (0 on error). */
static uint64_t spawn_on(uint64_t node, int64_t config, uint64_t module, const char *function) {
    uint8_t params[LUNATIC_PARAM_SIZE];
    lunatic_param_i64(params, (int64_t)lunatic_process_process_id());
    uint64_t id = 777;
    int32_t status = lunatic_distributed_spawn(node, config, module, function,
                                               (uint32_t)strlen(function), params, sizeof params,
                                               &id);
    if (status == LUNATIC_OK) {
        printf("root: spawn on node %" PRIu64 ", module %" PRIu64 " -> 0, pid %" PRIu64 "\n",
               node, module, id);
        return id;
    }
    char text[200];
    lunatic_error_take_string(id, text, sizeof text);
    printf("root: spawn on node %" PRIu64 ", module %" PRIu64 " -> %" PRId32 ": %s\n", node,
           module, status, text);
    return 0;
}

LUNATIC_EXPORT("identity") void identity(void) {
    uint64_t ids[4] = {7, 7, 7, 7};
    int32_t copied = lunatic_distributed_get_nodes(ids, 4);
    printf("root: node_id=%" PRIu64 " module_id=%" PRIu64 " nodes_count=%" PRId32
           " get_nodes=%" PRId32 " buffer=%" PRIu64 ",%" PRIu64 "\n",
           lunatic_distributed_node_id(), lunatic_distributed_module_id(),
           lunatic_distributed_nodes_count(), copied, ids[0], ids[1]);
}

/* Prints where it runs, then fails: a remote spawn is never linked, so the root lives on. */
LUNATIC_EXPORT("remote_child") void remote_child(int64_t parent) {
    printf("remote_child: pid %" PRIu64 ", parent %" PRId64 ", node_id %" PRIu64
           ", module_id %" PRIu64 "; failing\n",
           lunatic_process_process_id(), parent, lunatic_distributed_node_id(),
           lunatic_distributed_module_id());
    abort();
}

LUNATIC_EXPORT("spawn") void spawn_scenario(void) {
    uint64_t child =
        spawn_on(0, LUNATIC_INHERIT_CONFIG, lunatic_distributed_module_id(), "remote_child");
    if (child != 0) {
        lunatic_process_monitor(child);
        await_death(child);
    }
    spawn_on(5, LUNATIC_INHERIT_CONFIG, lunatic_distributed_module_id(), "remote_child");
    spawn_on(0, LUNATIC_INHERIT_CONFIG, 3, "remote_child");
    printf("root: still alive\n");
}

LUNATIC_EXPORT("try_spawn") void try_spawn(int64_t parent) {
    (void)parent;
    printf("try_spawn: calling distributed::spawn\n");
    uint64_t id;
    lunatic_distributed_spawn(0, LUNATIC_INHERIT_CONFIG, 0, "remote_child", 12, NULL, 0, &id);
    printf("try_spawn: NOT REACHED\n");
}

LUNATIC_EXPORT("spawn_without_permission") void spawn_without_permission(void) {
    int64_t config = create_config(); /* no permissions */
    uint8_t params[LUNATIC_PARAM_SIZE];
    lunatic_param_i64(params, 0);
    uint64_t id;
    lunatic_process_spawn(LUNATIC_NO_LINK, config, LUNATIC_SAME_MODULE, "try_spawn", 9, params,
                          sizeof params, &id);
    lunatic_process_monitor(id);
    await_death(id);
}

LUNATIC_EXPORT("send") void send_scenario(void) {
    uint64_t self = lunatic_process_process_id();
    text_message(7, "to myself");
    printf("root: send to node 0 -> %" PRId32 "\n", lunatic_distributed_send(0, self));
    int32_t kind = lunatic_message_receive_any(0);
    char text[64];
    read_text(text, sizeof text);
    printf("root: receive -> %" PRId32 ", tag %" PRId64 ", \"%s\"\n", kind,
           lunatic_message_get_tag(), text);
    text_message(8, "to nobody");
    printf("root: send to missing pid -> %" PRId32 "\n", lunatic_distributed_send(0, 999));
    text_message(9, "to another node");
    printf("root: send to node 5 -> %" PRId32 "\n", lunatic_distributed_send(5, self));
}

/* Every sending call takes the message out of the scratch slot (spec §3.2, §1.16), even when
 * the node is unknown: a local send afterwards finds the slot empty and traps.
 * which = 0: distributed::send; 1: distributed::send_receive_skip_search. */
LUNATIC_EXPORT("send_other_node_takes_message") void send_other_node_takes_message(int32_t which) {
    uint64_t self = lunatic_process_process_id();
    text_message(9, "to another node");
    int32_t status = which == 0 ? lunatic_distributed_send(5, self)
                                : lunatic_distributed_send_receive_skip_search(5, self, 9, 20);
    printf("root: %s to node 5 -> %" PRId32 "\n",
           which == 0 ? "send" : "send_receive_skip_search", status);
    lunatic_message_send(self);
    if (lunatic_message_receive_any(0) == LUNATIC_RECEIVE_DATA) {
        char text[64];
        read_text(text, sizeof text);
        printf("root: the message was still in the slot: \"%s\"\n", text);
    }
    printf("root: NOT REACHED\n");
}

LUNATIC_EXPORT("send_resources") void send_resources(void) {
    static const uint8_t EMPTY_MODULE[] = {0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00};
    uint64_t module;
    compile_module(EMPTY_MODULE, sizeof EMPTY_MODULE, &module);
    lunatic_message_create_data(0, 0);
    push_module((int64_t)module);
    printf("root: sending a message with a module\n");
    lunatic_distributed_send(0, lunatic_process_process_id());
    printf("root: NOT REACHED\n");
}

/* Replies "pong: <text>" with the request's tag, unless `parent` is 0. */
LUNATIC_EXPORT("echo") void echo(int64_t parent) {
    lunatic_message_receive_any(LUNATIC_NO_TIMEOUT);
    int64_t tag = lunatic_message_get_tag();
    char text[64];
    read_text(text, sizeof text);
    printf("echo: got \"%s\" tagged %" PRId64 "\n", text, tag);
    char reply[80];
    snprintf(reply, sizeof reply, "pong: %s", text);
    text_message(tag, reply);
    lunatic_message_send((uint64_t)parent);
}

LUNATIC_EXPORT("silent") void silent(int64_t parent) {
    (void)parent;
    lunatic_message_receive_any(LUNATIC_NO_TIMEOUT);
    printf("silent: got a request, not replying\n");
}

static uint64_t spawn_local(const char *function) {
    uint8_t params[LUNATIC_PARAM_SIZE];
    lunatic_param_i64(params, (int64_t)lunatic_process_process_id());
    uint64_t id;
    lunatic_spawn_export(LUNATIC_NO_LINK, function, params, sizeof params, &id);
    lunatic_process_monitor(id);
    return id;
}

LUNATIC_EXPORT("skip_search") void skip_search(void) {
    uint64_t echo_pid = spawn_local("echo");
    text_message(42, "ping");
    int32_t status = lunatic_distributed_send_receive_skip_search(0, echo_pid, 42, 1000);
    char text[64];
    read_text(text, sizeof text);
    printf("root: send_receive_skip_search node 0 -> %" PRId32 ": tag %" PRId64 " \"%s\"\n", status,
           lunatic_message_get_tag(), text);
    await_death(echo_pid);
    uint64_t silent_pid = spawn_local("silent");
    text_message(43, "hello?");
    printf("root: send_receive_skip_search to a silent process -> %" PRId32 "\n",
           lunatic_distributed_send_receive_skip_search(0, silent_pid, 43, 20));
    await_death(silent_pid);
    text_message(44, "anyone?");
    printf("root: send_receive_skip_search to a missing pid -> %" PRId32 "\n",
           lunatic_distributed_send_receive_skip_search(0, 999, 44, 20));
    text_message(45, "far away");
    printf("root: send_receive_skip_search to node 5 -> %" PRId32 "\n",
           lunatic_distributed_send_receive_skip_search(5, echo_pid, 45, 20));
}

int main(void) {
    identity();
    return 0;
}
