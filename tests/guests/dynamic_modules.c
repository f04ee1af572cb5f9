/*
 * dynamic_modules.c: compile_module, spawning from a module ID, drop_module, and modules
 * sent inside messages with push_module / take_module (tests/dynamic_modules.test.ts).
 *
 * The modules compiled here are embedded as bytes. HELLO is, in WAT:
 *
 *   (module
 *     (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
 *     (memory (export "memory") 1)
 *     (data (i32.const 16) "dynamic module: hello, arg=?\n")
 *     (func (export "hello") (param $arg i32)          ;; prints the line with ? = '0' + arg
 *       (i32.store8 (i32.const 43) (i32.add (i32.const 48) (local.get $arg)))
 *       (i32.store (i32.const 0) (i32.const 16))
 *       (i32.store (i32.const 4) (i32.const 29))
 *       (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))))
 *
 * Every scenario is an export run as the root. Output lines are "<who>: <what>".
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lunatic.h"

LUNATIC_IMPORT("lunatic::process", "compile_module")
int32_t compile_module(const uint8_t *data, uint32_t len, uint64_t *id);
LUNATIC_IMPORT("lunatic::process", "drop_module") void drop_module(int64_t id);
LUNATIC_IMPORT("lunatic::message", "push_module") uint64_t push_module(int64_t module_id);
LUNATIC_IMPORT("lunatic::message", "take_module") int64_t take_module(uint64_t index);
LUNATIC_IMPORT("lunatic::process", "create_config") int64_t create_config(void);
LUNATIC_IMPORT("lunatic::process", "config_set_max_memory")
void config_set_max_memory(int64_t id, uint64_t bytes);
LUNATIC_IMPORT("lunatic::process", "config_set_can_compile_modules")
void config_set_can_compile_modules(int64_t id, int32_t can);

__attribute__((constructor)) static void line_buffered_stdout(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
}

static const uint8_t HELLO[] = {
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, 0x01, 0x0d, 0x02, 0x60, 0x04, 0x7f, 0x7f,
    0x7f, 0x7f, 0x01, 0x7f, 0x60, 0x01, 0x7f, 0x00, 0x02, 0x23, 0x01, 0x16, 0x77, 0x61, 0x73,
    0x69, 0x5f, 0x73, 0x6e, 0x61, 0x70, 0x73, 0x68, 0x6f, 0x74, 0x5f, 0x70, 0x72, 0x65, 0x76,
    0x69, 0x65, 0x77, 0x31, 0x08, 0x66, 0x64, 0x5f, 0x77, 0x72, 0x69, 0x74, 0x65, 0x00, 0x00,
    0x03, 0x02, 0x01, 0x01, 0x05, 0x03, 0x01, 0x00, 0x01, 0x07, 0x12, 0x02, 0x06, 0x6d, 0x65,
    0x6d, 0x6f, 0x72, 0x79, 0x02, 0x00, 0x05, 0x68, 0x65, 0x6c, 0x6c, 0x6f, 0x00, 0x01, 0x0a,
    0x27, 0x01, 0x25, 0x00, 0x41, 0x2b, 0x41, 0x30, 0x20, 0x00, 0x6a, 0x3a, 0x00, 0x00, 0x41,
    0x00, 0x41, 0x10, 0x36, 0x02, 0x00, 0x41, 0x04, 0x41, 0x1d, 0x36, 0x02, 0x00, 0x41, 0x01,
    0x41, 0x00, 0x41, 0x01, 0x41, 0x08, 0x10, 0x00, 0x1a, 0x0b, 0x0b, 0x23, 0x01, 0x00, 0x41,
    0x10, 0x0b, 0x1d, 0x64, 0x79, 0x6e, 0x61, 0x6d, 0x69, 0x63, 0x20, 0x6d, 0x6f, 0x64, 0x75,
    0x6c, 0x65, 0x3a, 0x20, 0x68, 0x65, 0x6c, 0x6c, 0x6f, 0x2c, 0x20, 0x61, 0x72, 0x67, 0x3d,
    0x3f, 0x0a};

/* BIG is HELLO with a 3-page memory that prints "big module: 3 pages\n":
 *   (module
 *     (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
 *     (memory (export "memory") 3)
 *     (data (i32.const 16) "big module: 3 pages\n")
 *     (func (export "hello") (param $arg i32)
 *       (i32.store (i32.const 0) (i32.const 16))
 *       (i32.store (i32.const 4) (i32.const 20))
 *       (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8))))) */
static const uint8_t BIG[] = {
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, 0x01, 0x0d, 0x02, 0x60, 0x04, 0x7f, 0x7f,
    0x7f, 0x7f, 0x01, 0x7f, 0x60, 0x01, 0x7f, 0x00, 0x02, 0x23, 0x01, 0x16, 0x77, 0x61, 0x73,
    0x69, 0x5f, 0x73, 0x6e, 0x61, 0x70, 0x73, 0x68, 0x6f, 0x74, 0x5f, 0x70, 0x72, 0x65, 0x76,
    0x69, 0x65, 0x77, 0x31, 0x08, 0x66, 0x64, 0x5f, 0x77, 0x72, 0x69, 0x74, 0x65, 0x00, 0x00,
    0x03, 0x02, 0x01, 0x01, 0x05, 0x03, 0x01, 0x00, 0x03, 0x07, 0x12, 0x02, 0x06, 0x6d, 0x65,
    0x6d, 0x6f, 0x72, 0x79, 0x02, 0x00, 0x05, 0x68, 0x65, 0x6c, 0x6c, 0x6f, 0x00, 0x01, 0x0a,
    0x1d, 0x01, 0x1b, 0x00, 0x41, 0x00, 0x41, 0x10, 0x36, 0x02, 0x00, 0x41, 0x04, 0x41, 0x14,
    0x36, 0x02, 0x00, 0x41, 0x01, 0x41, 0x00, 0x41, 0x01, 0x41, 0x08, 0x10, 0x00, 0x1a, 0x0b,
    0x0b, 0x1a, 0x01, 0x00, 0x41, 0x10, 0x0b, 0x14, 0x62, 0x69, 0x67, 0x20, 0x6d, 0x6f, 0x64,
    0x75, 0x6c, 0x65, 0x3a, 0x20, 0x33, 0x20, 0x70, 0x61, 0x67, 0x65, 0x73, 0x0a};

/* (module (import "lunatic::process" "no_such_function" (func))) */
static const uint8_t UNKNOWN_FUNCTION[] = {
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, 0x01, 0x04, 0x01, 0x60, 0x00, 0x00,
    0x02, 0x25, 0x01, 0x10, 0x6c, 0x75, 0x6e, 0x61, 0x74, 0x69, 0x63, 0x3a, 0x3a, 0x70,
    0x72, 0x6f, 0x63, 0x65, 0x73, 0x73, 0x10, 0x6e, 0x6f, 0x5f, 0x73, 0x75, 0x63, 0x68,
    0x5f, 0x66, 0x75, 0x6e, 0x63, 0x74, 0x69, 0x6f, 0x6e, 0x00, 0x00};

/* (module (import "env" "foo" (func))) */
static const uint8_t UNKNOWN_MODULE[] = {0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, 0x01,
                                         0x04, 0x01, 0x60, 0x00, 0x00, 0x02, 0x0b, 0x01, 0x03,
                                         0x65, 0x6e, 0x76, 0x03, 0x66, 0x6f, 0x6f, 0x00, 0x00};

/* (module (import "lunatic::process" "process_id" (func (param i32)))): the host function
 * has type () -> i64. */
static const uint8_t WRONG_SIGNATURE[] = {
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, 0x01, 0x05, 0x01, 0x60, 0x01, 0x7f,
    0x00, 0x02, 0x1f, 0x01, 0x10, 0x6c, 0x75, 0x6e, 0x61, 0x74, 0x69, 0x63, 0x3a, 0x3a,
    0x70, 0x72, 0x6f, 0x63, 0x65, 0x73, 0x73, 0x0a, 0x70, 0x72, 0x6f, 0x63, 0x65, 0x73,
    0x73, 0x5f, 0x69, 0x64, 0x00, 0x00};

/* (module (func (export "f") i32.const 1)): well-formed, but the body leaves an i32 on the
 * stack of a function that returns nothing. */
static const uint8_t BAD_BODY[] = {0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, 0x01, 0x04, 0x01,
                                   0x60, 0x00, 0x00, 0x03, 0x02, 0x01, 0x00, 0x07, 0x05, 0x01, 0x01,
                                   0x66, 0x00, 0x00, 0x0a, 0x06, 0x01, 0x04, 0x00, 0x41, 0x01, 0x0b};

static const uint8_t NOT_WASM[] = "not wasm at all";

/* Compiles `bytes`; prints "root: compile <what> -> <status>: <module id or error text>". */
static int64_t compile(const char *what, const uint8_t *bytes, uint32_t len) {
    uint64_t id = 12345;
    int32_t status = compile_module(bytes, len, &id);
    if (status == LUNATIC_ERROR) {
        char text[400];
        lunatic_error_take_string(id, text, sizeof text);
        printf("root: compile %s -> 1: %s\n", what, text);
        return -1;
    }
    printf("root: compile %s -> %" PRId32 ": module %" PRIu64 "\n", what, status, id);
    return (int64_t)id;
}

/* Spawns export `function` of module `module` with one i32 parameter; monitors it. */
static uint64_t spawn_from(int64_t module, const char *function, int32_t arg) {
    uint8_t params[LUNATIC_PARAM_SIZE];
    lunatic_param_i32(params, arg);
    uint64_t id;
    int32_t status = lunatic_process_spawn(LUNATIC_NO_LINK, LUNATIC_INHERIT_CONFIG, module,
                                           function, (uint32_t)strlen(function), params,
                                           sizeof params, &id);
    if (status != LUNATIC_OK) {
        printf("root: spawn %s failed\n", function);
        exit(1);
    }
    lunatic_process_monitor(id);
    return id;
}

static void await_death(const char *who, uint64_t pid) {
    for (;;) {
        int32_t kind = lunatic_message_receive_any(LUNATIC_NO_TIMEOUT);
        if (kind == LUNATIC_RECEIVE_PROCESS_DIED && lunatic_message_get_process_id() == pid) {
            printf("%s: process %" PRIu64 " ended\n", who, pid);
            return;
        }
    }
}

LUNATIC_EXPORT("noop") void noop(int32_t unused) { (void)unused; }

LUNATIC_EXPORT("compile_and_spawn") void compile_and_spawn(void) {
    int64_t first = compile("hello", HELLO, sizeof HELLO);
    await_death("root", spawn_from(first, "hello", 7));
    int64_t second = compile("hello again", HELLO, sizeof HELLO); /* a new ID every time */
    /* The export must exist in that module: `noop` is one of this module's, not HELLO's. */
    await_death("root", spawn_from(second, "noop", 0));
    drop_module(first);
    printf("root: dropped module %" PRId64 "\n", first);
    await_death("root", spawn_from(second, "hello", 3));
}

LUNATIC_EXPORT("compile_errors") void compile_errors(void) {
    compile("text", NOT_WASM, sizeof NOT_WASM - 1);
    compile("truncated", HELLO, 40);
    compile("bad body", BAD_BODY, sizeof BAD_BODY);
    compile("unknown function", UNKNOWN_FUNCTION, sizeof UNKNOWN_FUNCTION);
    compile("unknown module", UNKNOWN_MODULE, sizeof UNKNOWN_MODULE);
    compile("wrong signature", WRONG_SIGNATURE, sizeof WRONG_SIGNATURE);
    /* Errors took IDs from the error table, not the module table: the next module is 0. */
    compile("hello", HELLO, sizeof HELLO);
}

LUNATIC_EXPORT("drop_twice") void drop_twice(void) {
    int64_t id = compile("hello", HELLO, sizeof HELLO);
    drop_module(id);
    printf("root: dropped module %" PRId64 "\n", id);
    drop_module(id);
    printf("root: NOT REACHED\n");
}

LUNATIC_EXPORT("spawn_dropped") void spawn_dropped(void) {
    int64_t id = compile("hello", HELLO, sizeof HELLO);
    drop_module(id);
    printf("root: dropped module %" PRId64 "; spawning from it\n", id);
    spawn_from(id, "hello", 1);
    printf("root: NOT REACHED\n");
}

/* ---- modules in messages ------------------------------------------------------------------ */

/* mode 0: take both modules (index 1 first) and spawn from one; 1: take index 0 twice;
 * 2: take index 2 of a message with two modules. */
LUNATIC_EXPORT("receiver") void receiver(int32_t mode) {
    lunatic_message_receive_any(LUNATIC_NO_TIMEOUT);
    char text[32] = {0};
    lunatic_message_read_exact(text, sizeof text - 1);
    printf("receiver: got \"%s\"\n", text);
    if (mode == 0) {
        int64_t a = take_module(1);
        int64_t b = take_module(0);
        printf("receiver: index 1 -> module %" PRId64 ", index 0 -> module %" PRId64 "\n", a, b);
        await_death("receiver", spawn_from(b, "hello", 5));
    } else if (mode == 1) {
        printf("receiver: took index 0 as module %" PRId64 "\n", take_module(0));
        take_module(0);
        printf("receiver: NOT REACHED\n");
    } else {
        printf("receiver: taking index 2\n");
        take_module(2);
        printf("receiver: NOT REACHED\n");
    }
}

static void send_modules(int32_t mode) {
    uint64_t receiver_pid = spawn_from(LUNATIC_SAME_MODULE, "receiver", mode);
    int64_t module = compile("hello", HELLO, sizeof HELLO);
    lunatic_message_create_data(LUNATIC_UNTAGGED, 0);
    uint64_t first = push_module(module);
    lunatic_message_write_data("two modules", 11);
    uint64_t second = push_module(module);
    printf("root: pushed module %" PRId64 " at indexes %" PRIu64 " and %" PRIu64 "\n", module,
           first, second);
    /* push_module clones: the sender's module ID still works. (Spawning does not touch the
     * message being built; receiving would replace it, so the wait comes after the send.) */
    uint64_t own = spawn_from(module, "hello", 1);
    lunatic_message_send(receiver_pid);
    await_death("root", own);
    await_death("root", receiver_pid);
}

LUNATIC_EXPORT("send_module") void send_module(void) { send_modules(0); }
LUNATIC_EXPORT("take_twice") void take_twice(void) { send_modules(1); }
LUNATIC_EXPORT("take_wrong_index") void take_wrong_index(void) { send_modules(2); }

/* ---- memory limits belong to spawning, not to compiling ----------------------------------- */

#define MODULE_TAG 50

/* Runs with max_memory 2 pages: compiles BIG (3 pages) and sends it to `parent`. */
LUNATIC_EXPORT("small_compiler") void small_compiler(int32_t parent) {
    uint64_t id = 0;
    int32_t status = compile_module(BIG, sizeof BIG, &id);
    lunatic_message_create_data(MODULE_TAG, 0);
    if (status == LUNATIC_OK) {
        printf("small_compiler: compile big -> 0: module %" PRIu64 "\n", id);
        push_module((int64_t)id);
    } else {
        char text[300];
        lunatic_error_take_string(id, text, sizeof text);
        printf("small_compiler: compile big -> %" PRId32 ": %s\n", status, text);
    }
    lunatic_message_send((uint64_t)parent);
}

/* A process may compile a module it could not instantiate itself: lunatic checks memory
 * limits when a process is created (spec §4.2), and the module can go to a process with a
 * larger limit. */
LUNATIC_EXPORT("compile_small_limit") void compile_small_limit(void) {
    int64_t config = create_config();
    config_set_max_memory(config, 2 * 65536);
    config_set_can_compile_modules(config, 1);
    uint8_t params[LUNATIC_PARAM_SIZE];
    lunatic_param_i32(params, (int32_t)lunatic_process_process_id());
    uint64_t child;
    lunatic_process_spawn(LUNATIC_NO_LINK, config, LUNATIC_SAME_MODULE, "small_compiler", 14,
                          params, sizeof params, &child);
    lunatic_message_receive_tag(MODULE_TAG, LUNATIC_NO_TIMEOUT);
    printf("root: got the message\n");
    int64_t module = take_module(0); /* traps if no module came */
    printf("root: took module %" PRId64 "\n", module);
    await_death("root", spawn_from(module, "hello", 0));
}

int main(void) {
    compile_and_spawn();
    return 0;
}
