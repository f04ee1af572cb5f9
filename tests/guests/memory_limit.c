/*
 * memory_limit.c: a config's max_memory holds on every spawn path (tests/memory_limit.test.ts).
 *
 * `hog` allocates 1 MiB blocks with malloc and writes every page of each, until malloc fails
 * or it holds 16; then it grows its memory to exactly LIMIT and asks memory.grow for one page
 * more. It replies with how many blocks it got, its memory size in pages and what that last
 * memory.grow returned (-1: refused). Every scenario is an export
 * run as the root that spawns `hog` with a config limited to LIMIT bytes by one spawn path,
 * and prints "<path>: blocks=<n> pages=<p> grow=<r>"; `main` takes the compile_module path
 * (argv[1] names the module file), and two test-mode exports run `hog_self` and `via_spawn`.
 *
 * tests/guests/memory_limit_big.c is this file linked with an initial memory too large for the
 * runtime's pool of reused memories, so that the process gets a memory of its own.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lunatic.h"

LUNATIC_IMPORT("lunatic::process", "create_config") int64_t create_config(void);
LUNATIC_IMPORT("lunatic::process", "config_set_max_memory")
void config_set_max_memory(int64_t id, uint64_t bytes);
LUNATIC_IMPORT("lunatic::process", "config_set_can_spawn_processes")
void config_set_can_spawn_processes(int64_t id, int32_t can);
LUNATIC_IMPORT("lunatic::process", "compile_module")
int32_t compile_module(const uint8_t *data, uint32_t len, uint64_t *id);
LUNATIC_IMPORT("lunatic::process", "get_or_spawn")
int32_t get_or_spawn(const char *name, uint32_t name_len, int64_t link, int64_t config_id,
                     int64_t module_id, const char *function, uint32_t function_len,
                     const uint8_t *params, uint32_t params_len, uint64_t *node_id,
                     uint64_t *id);

#define LIMIT (4u << 20) /* 4 MiB: 64 pages */
#define BLOCK (1u << 20)
#define MAX_BLOCKS 16

__attribute__((constructor)) static void line_buffered_stdout(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
}

/* Keeps every block reachable, so the compiler cannot drop the allocations. */
static volatile unsigned char *volatile blocks[MAX_BLOCKS];

/*
 * Allocates and touches blocks until malloc fails, grows the memory to exactly LIMIT, then
 * asks for one page more: returns the block count and what that last memory.grow returned
 * (-1 when the limit holds).
 */
static uint64_t allocate(int32_t *grow) {
    uint64_t count = 0;
    while (count < MAX_BLOCKS) {
        volatile unsigned char *block = malloc(BLOCK);
        if (block == NULL) break;
        for (uint32_t offset = 0; offset < BLOCK; offset += 4096) block[offset] = 0xA5;
        blocks[count++] = block;
    }
    size_t pages = __builtin_wasm_memory_size(0);
    if (pages < LIMIT / 65536 && __builtin_wasm_memory_grow(0, LIMIT / 65536 - pages) == (size_t)-1) {
        printf("cannot grow from %zu pages to the limit\n", pages);
        exit(1);
    }
    *grow = (int32_t)__builtin_wasm_memory_grow(0, 1);
    return count;
}

static void report(const char *path, uint64_t count, uint64_t pages, int64_t grow) {
    printf("%s: blocks=%" PRIu64 " pages=%" PRIu64 " grow=%" PRId64 "\n", path, count, pages, grow);
}

LUNATIC_EXPORT("hog") void hog(int64_t parent) {
    int32_t grow;
    uint64_t count = allocate(&grow);
    lunatic_message_create_data(LUNATIC_UNTAGGED, 24);
    lunatic_message_write_u64(count);
    lunatic_message_write_u64(__builtin_wasm_memory_size(0));
    lunatic_message_write_u64((uint64_t)(int64_t)grow);
    lunatic_message_send((uint64_t)parent);
}

/* The root itself allocates: for roots whose config the embedder limited. */
LUNATIC_EXPORT("hog_self") void hog_self(void) {
    int32_t grow;
    uint64_t count = allocate(&grow);
    report("self", count, __builtin_wasm_memory_size(0), grow);
}

static int64_t limited_config(void) {
    int64_t config = create_config();
    config_set_max_memory(config, LIMIT);
    return config;
}

static void fail(const char *path, const char *what, uint64_t error) {
    char text[300];
    lunatic_error_take_string(error, text, sizeof text);
    printf("%s: %s failed: %s\n", path, what, text);
    exit(1);
}

/* Waits for hog's reply and prints it. */
static void await_report(const char *path) {
    uint64_t count = 0, pages = 0, grow = 0;
    if (lunatic_message_receive_any(LUNATIC_NO_TIMEOUT) != LUNATIC_RECEIVE_DATA ||
        !lunatic_message_read_u64(&count) || !lunatic_message_read_u64(&pages) ||
        !lunatic_message_read_u64(&grow)) {
        printf("%s: no reply\n", path);
        exit(1);
    }
    report(path, count, pages, (int64_t)grow);
}

static uint8_t *self_param(uint8_t params[LUNATIC_PARAM_SIZE]) {
    return lunatic_param_i64(params, (int64_t)lunatic_process_process_id());
}

LUNATIC_EXPORT("via_spawn") void via_spawn(void) {
    uint8_t params[LUNATIC_PARAM_SIZE];
    self_param(params);
    uint64_t id;
    if (lunatic_process_spawn(LUNATIC_NO_LINK, limited_config(), LUNATIC_SAME_MODULE, "hog", 3,
                              params, sizeof params, &id) != LUNATIC_OK) {
        fail("spawn", "spawn", id);
    }
    await_report("spawn");
}

/* A child with the limited config spawns hog with the config it runs with (-1). */
LUNATIC_EXPORT("middle") void middle(int64_t parent) {
    uint8_t params[LUNATIC_PARAM_SIZE];
    lunatic_param_i64(params, parent);
    uint64_t id;
    if (lunatic_process_spawn(LUNATIC_NO_LINK, LUNATIC_INHERIT_CONFIG, LUNATIC_SAME_MODULE, "hog",
                              3, params, sizeof params, &id) != LUNATIC_OK) {
        fail("inherited", "spawn", id);
    }
}

LUNATIC_EXPORT("via_inherited") void via_inherited(void) {
    uint8_t params[LUNATIC_PARAM_SIZE];
    self_param(params);
    int64_t config = limited_config();
    config_set_can_spawn_processes(config, 1);
    uint64_t id;
    if (lunatic_process_spawn(LUNATIC_NO_LINK, config, LUNATIC_SAME_MODULE, "middle", 6, params,
                              sizeof params, &id) != LUNATIC_OK) {
        fail("inherited", "spawn", id);
    }
    await_report("inherited");
}

static uint8_t *read_file(const char *path, uint32_t *len) {
    FILE *file = fopen(path, "rb");
    if (file == NULL) {
        printf("compile_module: cannot open %s\n", path);
        exit(1);
    }
    fseek(file, 0, SEEK_END);
    long size = ftell(file);
    fseek(file, 0, SEEK_SET);
    uint8_t *buffer = malloc((size_t)size);
    if (buffer == NULL || fread(buffer, 1, (size_t)size, file) != (size_t)size) {
        printf("compile_module: cannot read %s\n", path);
        exit(1);
    }
    fclose(file);
    *len = (uint32_t)size;
    return buffer;
}

LUNATIC_EXPORT("via_get_or_spawn") void via_get_or_spawn(void) {
    uint8_t params[LUNATIC_PARAM_SIZE];
    self_param(params);
    uint64_t node, id;
    int32_t status = get_or_spawn("hog", 3, LUNATIC_NO_LINK, limited_config(), LUNATIC_SAME_MODULE,
                                  "hog", 3, params, sizeof params, &node, &id);
    if (status != LUNATIC_OK) fail("get_or_spawn", "get_or_spawn", id);
    await_report("get_or_spawn");
}

LUNATIC_EXPORT("via_distributed_spawn") void via_distributed_spawn(void) {
    uint8_t params[LUNATIC_PARAM_SIZE];
    self_param(params);
    uint64_t id;
    if (lunatic_distributed_spawn(0, limited_config(), lunatic_distributed_module_id(), "hog", 3,
                                  params, sizeof params, &id) != LUNATIC_OK) {
        fail("distributed_spawn", "spawn", id);
    }
    await_report("distributed_spawn");
}

/* `main` compiles the module at argv[1] and spawns hog from it (lunatic-rs's WasmModule). */
int main(int argc, char **argv) {
    if (argc != 2) {
        printf("usage: memory_limit MODULE.wasm\n");
        return 2;
    }
    uint32_t len;
    uint8_t *bytes = read_file(argv[1], &len);
    uint64_t module;
    if (compile_module(bytes, len, &module) != LUNATIC_OK) fail("compile_module", "compile", module);
    uint8_t params[LUNATIC_PARAM_SIZE];
    self_param(params);
    uint64_t id;
    if (lunatic_process_spawn(LUNATIC_NO_LINK, limited_config(), (int64_t)module, "hog", 3, params,
                              sizeof params, &id) != LUNATIC_OK) {
        fail("compile_module", "spawn", id);
    }
    await_report("compile_module");
    return 0;
}

/* Test mode: a test's root allocates itself, or spawns hog with a limited config. */
LUNATIC_EXPORT("#lunatic_test_memory_limit::root_allocates") void test_root_allocates(void) {
    hog_self();
}

LUNATIC_EXPORT("#lunatic_test_memory_limit::child_allocates") void test_child_allocates(void) {
    via_spawn();
}
