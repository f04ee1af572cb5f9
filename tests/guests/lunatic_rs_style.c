/*
 * lunatic_rs_style.c: the host calls a lunatic-rs 0.14.1 binary makes, in the same order and
 * with the same encodings, written in C (tests/lunatic_rs_compat.test.ts). See spec §6.
 *
 *  - Spawning a closure (§6.2): the parent calls lunatic::process::spawn(link, -1, -1,
 *    "_lunatic_spawn_by_index_0.14.1", params, &id) with two i32 parameter records
 *    [function, entry]: `function` is a table index (a C function pointer, exactly like a Rust
 *    `fn` pointer on wasm32) of a type-specific wrapper, `entry` the user's function. If the
 *    closure captures something, the parent then sends the captured value as the child's
 *    FIRST message, untagged, encoded as bincode (u64 little-endian). In the child, the host
 *    calls the export `_lunatic_spawn_by_index_0.14.1(function, entry)`, which calls
 *    `function(entry)`; the wrapper receives the capture with an untagged receive and calls
 *    `entry(capture)`.
 *  - Sending goes through host::send: `lunatic::distributed::node_id()` first, then
 *    lunatic::message::send for the local node (§6.3).
 *  - Tags come from a per-process counter starting at 129 (Tag::new, §6.3).
 *  - Request/reply (AbstractProcess, §6.5): the request is tagged (handler_id << 56) | tag and
 *    carries (request, return address Process{node_id, id}); it is sent with
 *    send_receive_skip_search waiting on the low 56 bits; the server splits the tag into the
 *    handler ID (top byte) and the response tag, and replies tagged with the response tag.
 *    Handler 32 is shutdown. Startup: the child replies Ok(()) (u32 variant 0) tagged with an
 *    init tag the parent waits on (§6.5 "Start").
 *  - Supervisor (§6.6): die_when_link_dies(0), children linked with tags from Tag::new();
 *    a LinkDied message's tag tells which child died, and that child is restarted.
 *
 * Output lines are "<who>: <what>"; the test compares the whole transcript.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lunatic.h"

#define SPAWN_EXPORT "_lunatic_spawn_by_index_0.14.1"
#define LOW_56_BITS 0x00FFFFFFFFFFFFFFLL
#define SHUTDOWN_HANDLER 32
/* Tags 64..=128 are "special" in lunatic-rs (Tag::new never returns them). */
#define RESTARTED_TAG 64


__attribute__((constructor)) static void line_buffered_stdout(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
}

/* ---- The lunatic-rs runtime, in miniature -------------------------------------------------- */

/* Process<M>: what bincode puts on the wire is {node_id: u64, id: u64}. */
typedef struct {
    uint64_t node_id;
    uint64_t id;
} process_t;

static process_t this_process(void) {
    return (process_t){lunatic_distributed_node_id(), lunatic_process_process_id()};
}

/* Tag::new(): a per-process counter; the first tag is 129. */
static int64_t next_tag = 129;
static int64_t tag_new(void) { return next_tag++; }

/* host::send: the local node gets lunatic::message::send, others lunatic::distributed::send. */
static void host_send(process_t to) {
    if (to.node_id == lunatic_distributed_node_id()) {
        lunatic_message_send(to.id);
    } else {
        lunatic_distributed_send(to.node_id, to.id);
    }
}

/* The capture of a closure: three u64, bincode-encoded as 24 bytes. */
typedef struct {
    uint64_t a, b, c;
} capture_t;

typedef void (*capture_entry_t)(const capture_t *capture);
typedef void (*unit_entry_t)(void);
typedef void (*wrapper_t)(int32_t entry);

/* The spawn entry point of every lunatic-rs process: call `function(arg)` through the table. */
LUNATIC_EXPORT(SPAWN_EXPORT) void lunatic_spawn_by_index(int32_t function, int32_t arg) {
    ((wrapper_t)(uintptr_t)function)(arg);
}

/* type_helper_wrapper for a capture: its first message, untagged, is the capture. */
static void wrapper_capture(int32_t entry) {
    if (lunatic_message_receive(NULL, 0, LUNATIC_NO_TIMEOUT) != LUNATIC_RECEIVE_DATA) abort();
    capture_t capture;
    if (!lunatic_message_read_u64(&capture.a) || !lunatic_message_read_u64(&capture.b) ||
        !lunatic_message_read_u64(&capture.c)) {
        abort();
    }
    ((capture_entry_t)(uintptr_t)entry)(&capture);
}

/* type_helper_wrapper for a zero-sized capture: no message is sent, none is received. */
static void wrapper_unit(int32_t entry) { ((unit_entry_t)(uintptr_t)entry)(); }

/* Process::spawn / spawn_link: `capture` NULL means a zero-sized capture. */
static process_t spawn_closure(int64_t link, wrapper_t wrapper, int32_t entry,
                               const capture_t *capture) {
    uint8_t params[2 * LUNATIC_PARAM_SIZE];
    uint8_t *p = lunatic_param_i32(params, (int32_t)(uintptr_t)wrapper);
    lunatic_param_i32(p, entry);
    uint64_t id;
    if (lunatic_process_spawn(link, LUNATIC_INHERIT_CONFIG, LUNATIC_SAME_MODULE, SPAWN_EXPORT,
                              (uint32_t)strlen(SPAWN_EXPORT), params, sizeof params,
                              &id) != LUNATIC_OK) {
        abort();
    }
    process_t child = {lunatic_distributed_node_id(), id};
    if (capture != NULL) {
        lunatic_message_create_data(LUNATIC_UNTAGGED, 0);
        lunatic_message_write_u64(capture->a);
        lunatic_message_write_u64(capture->b);
        lunatic_message_write_u64(capture->c);
        host_send(child);
    }
    return child;
}

#define ENTRY(f) ((int32_t)(uintptr_t)(f))

/* AbstractProcess startup: the child answers Ok(()) (bincode: u32 variant 0) on init_tag. */
static void reply_started(uint64_t parent, int64_t init_tag) {
    lunatic_message_create_data(init_tag, 0);
    uint32_t ok = 0;
    lunatic_message_write_data(&ok, sizeof ok);
    host_send((process_t){lunatic_distributed_node_id(), parent});
}

static void await_started(const char *what, int64_t init_tag) {
    if (lunatic_message_receive_tag(init_tag, LUNATIC_NO_TIMEOUT) != LUNATIC_RECEIVE_DATA) abort();
    uint32_t result = 99;
    lunatic_message_read_exact(&result, sizeof result);
    printf("root: %s started: Ok=%s (init tag %" PRId64 ")\n", what, result == 0 ? "yes" : "no",
           init_tag);
}

/* A request as the server sees it. */
typedef struct {
    int64_t handler;
    int64_t response_tag;
    uint64_t argument;
    process_t reply_to;
} request_t;

/* Splits the received message's tag and decodes RequestMessage(argument, ReturnAddress). */
static request_t read_request(void) {
    int64_t tag = lunatic_message_get_tag();
    request_t request = {(int64_t)((uint64_t)tag >> 56), tag & LOW_56_BITS, 0, {0, 0}};
    lunatic_message_read_u64(&request.argument);
    lunatic_message_read_u64(&request.reply_to.node_id);
    lunatic_message_read_u64(&request.reply_to.id);
    return request;
}

/* tag_send(response_tag, values): the reply. */
static void reply(const request_t *request, const uint64_t *values, int count) {
    lunatic_message_create_data(request->response_tag, 0);
    for (int i = 0; i < count; i++) lunatic_message_write_u64(values[i]);
    host_send(request->reply_to);
}

/* The client side of a request: returns the reply's first u64 (or 0 for `()`); up to `cap`
 * u64 of the reply go to `values`. */
static int request(process_t server, int64_t handler, const char *name, uint64_t argument,
                   uint64_t *values, int cap) {
    int64_t tag = tag_new();
    int64_t send_tag = (handler << 56) | tag;
    lunatic_message_create_data(send_tag, 0);
    lunatic_message_write_u64(argument);
    process_t self = this_process();
    lunatic_message_write_u64(self.node_id);
    lunatic_message_write_u64(self.id);
    int32_t status = lunatic_message_send_receive_skip_search(server.id, send_tag & LOW_56_BITS,
                                                              LUNATIC_NO_TIMEOUT);
    int64_t reply_tag = lunatic_message_get_tag();
    int count = 0;
    while (count < cap && lunatic_message_read_u64(&values[count])) count++;
    printf("root: %s -> status %" PRId32 ", %d value(s) [send tag 0x%016" PRIx64
           ", reply tag %" PRId64 "]\n",
           name, status, count, (uint64_t)send_tag, reply_tag);
    return count;
}

/* ---- Closures ---------------------------------------------------------------------------- */

static void hello(void) {
    printf("hello: a closure without captures runs as pid %" PRIu64 "\n",
           lunatic_process_process_id());
}

/* The counter server: capture = (parent, init tag, initial count). Handlers: 1 add, 2 get,
 * 32 shutdown. */
static void counter_server(const capture_t *capture) {
    uint64_t count = capture->c;
    printf("server: init with %" PRIu64 " as pid %" PRIu64 "\n", count,
           lunatic_process_process_id());
    reply_started(capture->a, (int64_t)capture->b);
    for (;;) {
        if (lunatic_message_receive(NULL, 0, LUNATIC_NO_TIMEOUT) != LUNATIC_RECEIVE_DATA) continue;
        request_t request = read_request();
        switch (request.handler) {
        case 1:
            count += request.argument;
            reply(&request, &count, 1);
            break;
        case 2:
            reply(&request, &count, 1);
            break;
        case SHUTDOWN_HANDLER:
            printf("server: terminating with count %" PRIu64 "\n", count);
            reply(&request, NULL, 0);
            return;
        default:
            break; /* handler 0: a late reply nobody waits for */
        }
    }
}

/* A worker: capture = (supervisor, init tag, index). Its only command (bincode enum, u32
 * variant 0) is Crash. */
static void worker(const capture_t *capture) {
    printf("worker %" PRIu64 ": running as pid %" PRIu64 "\n", capture->c,
           lunatic_process_process_id());
    reply_started(capture->a, (int64_t)capture->b);
    for (;;) {
        lunatic_message_receive(NULL, 0, LUNATIC_NO_TIMEOUT);
        uint32_t command = 99;
        lunatic_message_read_exact(&command, sizeof command);
        if (command == 0) {
            printf("worker %" PRIu64 ": crashing\n", capture->c);
            __builtin_trap();
        }
    }
}

#define WORKERS 2

typedef struct {
    uint64_t pid;
    int64_t link_tag;
} child_t;

/* link_with(Tag::new()).start(index): spawn linked, then wait for its startup reply. */
static child_t start_worker(uint64_t index) {
    int64_t link_tag = tag_new();
    int64_t init_tag = tag_new();
    capture_t capture = {lunatic_process_process_id(), (uint64_t)init_tag, index};
    process_t child = spawn_closure(link_tag, wrapper_capture, ENTRY(worker), &capture);
    if (lunatic_message_receive_tag(init_tag, LUNATIC_NO_TIMEOUT) != LUNATIC_RECEIVE_DATA) abort();
    printf("supervisor: worker %" PRIu64 " started as pid %" PRIu64 " (link tag %" PRId64
           ", init tag %" PRId64 ")\n",
           index, child.id, link_tag, init_tag);
    return (child_t){child.id, link_tag};
}

/* The supervisor: capture = (parent, init tag, unused). One-for-one restarts. Handlers:
 * 1 children (their PIDs), 32 shutdown (kills the children). */
static void supervisor(const capture_t *capture) {
    lunatic_process_die_when_link_dies(0);
    printf("supervisor: pid %" PRIu64 ", die_when_link_dies(0)\n", lunatic_process_process_id());
    child_t children[WORKERS];
    for (uint64_t i = 0; i < WORKERS; i++) children[i] = start_worker(i);
    reply_started(capture->a, (int64_t)capture->b);
    for (;;) {
        int32_t kind = lunatic_message_receive(NULL, 0, LUNATIC_NO_TIMEOUT);
        if (kind == LUNATIC_RECEIVE_LINK_DIED) {
            int64_t tag = lunatic_message_get_tag();
            int index = -1;
            for (int i = 0; i < WORKERS; i++) {
                if (children[i].link_tag == tag) index = i;
            }
            if (index < 0) {
                printf("supervisor: link tag %" PRId64 " belongs to no child\n", tag);
                abort();
            }
            printf("supervisor: link tag %" PRId64 " died: worker %d (pid %" PRIu64
                   ") failed, restarting it\n",
                   tag, index, children[index].pid);
            children[index] = start_worker((uint64_t)index);
            lunatic_message_create_data(RESTARTED_TAG, 0);
            lunatic_message_write_u64((uint64_t)index);
            lunatic_message_write_u64(children[index].pid);
            lunatic_message_write_u64((uint64_t)children[index].link_tag);
            host_send((process_t){lunatic_distributed_node_id(), capture->a});
            continue;
        }
        if (kind != LUNATIC_RECEIVE_DATA) continue;
        request_t request = read_request();
        if (request.handler == 1) {
            uint64_t pids[WORKERS];
            for (int i = 0; i < WORKERS; i++) pids[i] = children[i].pid;
            reply(&request, pids, WORKERS);
        } else if (request.handler == SHUTDOWN_HANDLER) {
            printf("supervisor: shutting down, killing %d children\n", WORKERS);
            for (int i = 0; i < WORKERS; i++) lunatic_process_kill(children[i].pid);
            reply(&request, NULL, 0);
            return;
        }
    }
}

/* ---- The root ---------------------------------------------------------------------------- */

static void await_death(uint64_t pid) {
    for (;;) {
        int32_t kind = lunatic_message_receive_any(LUNATIC_NO_TIMEOUT);
        if (kind == LUNATIC_RECEIVE_PROCESS_DIED && lunatic_message_get_process_id() == pid) {
            printf("root: process %" PRIu64 " ended\n", pid);
            return;
        }
    }
}

int main(void) {
    process_t self = this_process();
    printf("root: pid %" PRIu64 " on node %" PRIu64 "\n", self.id, self.node_id);

    /* A closure without captures: no first message. */
    process_t greeter = spawn_closure(LUNATIC_NO_LINK, wrapper_unit, ENTRY(hello), NULL);
    lunatic_process_monitor(greeter.id);
    await_death(greeter.id);

    /* An AbstractProcess with request/reply. */
    int64_t init_tag = tag_new();
    capture_t server_capture = {self.id, (uint64_t)init_tag, 10};
    process_t server =
        spawn_closure(LUNATIC_NO_LINK, wrapper_capture, ENTRY(counter_server), &server_capture);
    lunatic_process_monitor(server.id);
    await_started("server", init_tag);
    uint64_t values[WORKERS];
    request(server, 1, "add(5)", 5, values, 1);
    printf("root: count = %" PRIu64 "\n", values[0]);
    request(server, 1, "add(7)", 7, values, 1);
    printf("root: count = %" PRIu64 "\n", values[0]);
    request(server, 2, "get()", 0, values, 1);
    printf("root: count = %" PRIu64 "\n", values[0]);
    request(server, SHUTDOWN_HANDLER, "shutdown()", 0, values, 1);
    await_death(server.id);

    /* A supervisor restarting crashed children. */
    int64_t supervisor_init = tag_new();
    capture_t supervisor_capture = {self.id, (uint64_t)supervisor_init, 0};
    process_t sup =
        spawn_closure(LUNATIC_NO_LINK, wrapper_capture, ENTRY(supervisor), &supervisor_capture);
    lunatic_process_monitor(sup.id);
    await_started("supervisor", supervisor_init);
    request(sup, 1, "children()", 0, values, WORKERS);
    printf("root: children are %" PRIu64 " and %" PRIu64 "\n", values[0], values[1]);
    for (int i = 0; i < WORKERS; i++) {
        printf("root: telling worker %d (pid %" PRIu64 ") to crash\n", i, values[i]);
        lunatic_message_create_data(LUNATIC_UNTAGGED, 0);
        uint32_t crash = 0;
        lunatic_message_write_data(&crash, sizeof crash);
        host_send((process_t){self.node_id, values[i]});
        if (lunatic_message_receive_tag(RESTARTED_TAG, LUNATIC_NO_TIMEOUT) !=
            LUNATIC_RECEIVE_DATA) {
            abort();
        }
        uint64_t index, pid, link_tag;
        lunatic_message_read_u64(&index);
        lunatic_message_read_u64(&pid);
        lunatic_message_read_u64(&link_tag);
        printf("root: worker %" PRIu64 " was restarted as pid %" PRIu64 " (link tag %" PRIu64
               ")\n",
               index, pid, link_tag);
    }
    request(sup, 1, "children()", 0, values, WORKERS);
    printf("root: children are %" PRIu64 " and %" PRIu64 "\n", values[0], values[1]);
    request(sup, SHUTDOWN_HANDLER, "shutdown()", 0, values, 1);
    await_death(sup.id);
    printf("root: done\n");
    return 0;
}
