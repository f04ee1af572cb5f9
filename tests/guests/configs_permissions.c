/*
 * configs_permissions.c: configs, permissions and limits (tests/configs_permissions.test.ts).
 *
 * Every scenario is an export run as the root process (root config: every permission, max
 * memory u32::MAX, no fuel limit, preopen "." plus the test's dirs). Scenarios that need a
 * trap to happen run it in a child, which the root monitors, so the test can read the child's
 * failure reason and the root still prints what came after.
 *
 *   defaults         create_config defaults, setters and getters, drop_config, ID numbering
 *   drop_twice / get_unknown / set_unknown / set_memory_unknown   trap on unknown config IDs
 *   permissions      children spawned with various configs probe what they may do
 *   snapshot         a config is copied at spawn: later edits (and drop) do not reach the child
 *   memory_limit     max_memory bounds memory.grow; a limit below the initial size fails spawn
 *   escalate         a child cannot grant permissions it lacks or raise memory/fuel limits
 *   wasi_config      lunatic::wasi: args (first = argv[0]), env vars, preopens
 *   wasi_config_edited  the same config edited between spawns, and -1 children of it
 *   preopen_outside  config_preopen_dir outside the caller's preopens traps
 *   preopen_missing  a preopened directory that does not exist makes spawn trap
 *
 * Output lines are "<who>: <what>".
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wasi/api.h>

#include "lunatic.h"

LUNATIC_IMPORT("lunatic::process", "create_config") int64_t create_config(void);
LUNATIC_IMPORT("lunatic::process", "drop_config") void drop_config(int64_t id);
LUNATIC_IMPORT("lunatic::process", "config_set_max_memory")
void config_set_max_memory(int64_t id, uint64_t bytes);
LUNATIC_IMPORT("lunatic::process", "config_get_max_memory")
uint64_t config_get_max_memory(int64_t id);
LUNATIC_IMPORT("lunatic::process", "config_set_max_fuel")
void config_set_max_fuel(int64_t id, uint64_t units);
LUNATIC_IMPORT("lunatic::process", "config_get_max_fuel")
uint64_t config_get_max_fuel(int64_t id);
LUNATIC_IMPORT("lunatic::process", "config_can_compile_modules")
int32_t config_can_compile_modules(int64_t id);
LUNATIC_IMPORT("lunatic::process", "config_set_can_compile_modules")
void config_set_can_compile_modules(int64_t id, int32_t can);
LUNATIC_IMPORT("lunatic::process", "config_can_create_configs")
int32_t config_can_create_configs(int64_t id);
LUNATIC_IMPORT("lunatic::process", "config_set_can_create_configs")
void config_set_can_create_configs(int64_t id, int32_t can);
LUNATIC_IMPORT("lunatic::process", "config_can_spawn_processes")
int32_t config_can_spawn_processes(int64_t id);
LUNATIC_IMPORT("lunatic::process", "config_set_can_spawn_processes")
void config_set_can_spawn_processes(int64_t id, int32_t can);
LUNATIC_IMPORT("lunatic::process", "compile_module")
int32_t compile_module(const uint8_t *data, uint32_t len, uint64_t *id);
LUNATIC_IMPORT("lunatic::wasi", "config_add_environment_variable")
void config_add_environment_variable(int64_t id, const char *key, uint32_t key_len,
                                     const char *value, uint32_t value_len);
LUNATIC_IMPORT("lunatic::wasi", "config_add_command_line_argument")
void config_add_command_line_argument(int64_t id, const char *arg, uint32_t len);
LUNATIC_IMPORT("lunatic::wasi", "config_preopen_dir")
void config_preopen_dir(int64_t id, const char *dir, uint32_t len);

__attribute__((constructor)) static void line_buffered_stdout(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
}

/* The smallest valid module: the header alone. */
static const uint8_t EMPTY_MODULE[] = {0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00};

static void print_config(const char *who, int64_t id) {
    printf("%s: config %" PRId64 ": max_memory=%" PRIu64 " max_fuel=%" PRIu64
           " compile=%" PRId32 " create=%" PRId32 " spawn=%" PRId32 "\n",
           who, id, config_get_max_memory(id), config_get_max_fuel(id),
           config_can_compile_modules(id), config_can_create_configs(id),
           config_can_spawn_processes(id));
}

/* Spawns `function` (this module) with `config` and one i32 parameter; monitors it. */
static uint64_t spawn_with(int64_t config, const char *function, int32_t param) {
    uint8_t params[LUNATIC_PARAM_SIZE];
    lunatic_param_i32(params, param);
    uint64_t id;
    int32_t status = lunatic_process_spawn(LUNATIC_NO_LINK, config, LUNATIC_SAME_MODULE, function,
                                           (uint32_t)strlen(function), params, sizeof params, &id);
    if (status != LUNATIC_OK) {
        char text[200];
        lunatic_error_take_string(id, text, sizeof text);
        printf("root: spawn %s failed: %s\n", function, text);
        exit(1);
    }
    lunatic_process_monitor(id);
    return id;
}

/* Waits for the ProcessDied of `pid` (monitored) and prints it. */
static void await_death(uint64_t pid) {
    for (;;) {
        int32_t kind = lunatic_message_receive_any(LUNATIC_NO_TIMEOUT);
        if (kind == LUNATIC_RECEIVE_PROCESS_DIED && lunatic_message_get_process_id() == pid) {
            printf("root: process %" PRIu64 " ended\n", pid);
            return;
        }
    }
}

LUNATIC_EXPORT("noop") void noop(void) {}

/* ---- defaults ---------------------------------------------------------------------------- */

LUNATIC_EXPORT("defaults") void defaults(void) {
    int64_t a = create_config();
    print_config("root", a);
    config_set_max_memory(a, 2 * 1024 * 1024);
    config_set_max_fuel(a, 7);
    config_set_can_compile_modules(a, 1);
    config_set_can_create_configs(a, 1);
    config_set_can_spawn_processes(a, 1);
    print_config("root", a);
    config_set_can_compile_modules(a, 0);
    config_set_can_create_configs(a, 0);
    config_set_can_spawn_processes(a, 0);
    config_set_can_compile_modules(a, 42); /* any non-zero value means true */
    print_config("root", a);
    int64_t b = create_config();
    drop_config(a);
    int64_t c = create_config();
    printf("root: ids %" PRId64 " %" PRId64 " %" PRId64 "\n", a, b, c);
    print_config("root", b); /* untouched by the edits of config a */
}

LUNATIC_EXPORT("drop_twice") void drop_twice(void) {
    int64_t id = create_config();
    drop_config(id);
    printf("root: dropped %" PRId64 "\n", id);
    drop_config(id);
    printf("root: NOT REACHED\n");
}

LUNATIC_EXPORT("get_unknown") void get_unknown(void) {
    printf("root: reading config 5\n");
    config_get_max_memory(5);
    printf("root: NOT REACHED\n");
}

LUNATIC_EXPORT("set_unknown") void set_unknown(void) {
    create_config(); /* 0 exists, 3 does not */
    printf("root: writing config 3\n");
    config_set_can_spawn_processes(3, 1);
    printf("root: NOT REACHED\n");
}

LUNATIC_EXPORT("set_memory_unknown") void set_memory_unknown(void) {
    printf("root: writing config -1\n");
    config_set_max_memory(-1, 65536);
    printf("root: NOT REACHED\n");
}

/* ---- permissions ------------------------------------------------------------------------- */

/* What a process may do: compile a module, create a config, spawn (in that order; spawning
 * without permission traps, so it comes last). */
LUNATIC_EXPORT("probe") void probe(int32_t label) {
    uint64_t module_id = 99;
    int32_t compiled = compile_module(EMPTY_MODULE, sizeof EMPTY_MODULE, &module_id);
    int64_t config = create_config();
    printf("probe %" PRId32 ": compile_module=%" PRId32 " create_config=%" PRId64 "\n", label,
           compiled, config);
    uint64_t id;
    int32_t spawned = lunatic_spawn_export(LUNATIC_NO_LINK, "noop", NULL, 0, &id);
    printf("probe %" PRId32 ": spawn=%" PRId32 "\n", label, spawned);
}

LUNATIC_EXPORT("permissions") void permissions(void) {
    /* 1: a fresh config, no permissions at all */
    int64_t none = create_config();
    await_death(spawn_with(none, "probe", 1));
    /* 2: -1, the root's own config: everything */
    await_death(spawn_with(-1, "probe", 2));
    /* 3: only can_create_configs */
    int64_t create_only = create_config();
    config_set_can_create_configs(create_only, 1);
    await_death(spawn_with(create_only, "probe", 3));
    /* 4: only can_compile_modules */
    int64_t compile_only = create_config();
    config_set_can_compile_modules(compile_only, 1);
    await_death(spawn_with(compile_only, "probe", 4));
    /* 5: only can_spawn_processes: its child inherits it (-1) */
    int64_t spawn_only = create_config();
    config_set_can_spawn_processes(spawn_only, 1);
    await_death(spawn_with(spawn_only, "probe", 5));
}

/* ---- snapshot ---------------------------------------------------------------------------- */

/* Waits for "go", then probes. */
LUNATIC_EXPORT("probe_after_go") void probe_after_go(int32_t label) {
    lunatic_message_receive_any(LUNATIC_NO_TIMEOUT);
    probe(label);
}

LUNATIC_EXPORT("snapshot") void snapshot(void) {
    int64_t config = create_config();
    config_set_can_create_configs(config, 1);
    uint64_t first = spawn_with(config, "probe_after_go", 1);
    /* Edit the config after the spawn, before the child runs. */
    config_set_can_create_configs(config, 0);
    config_set_can_compile_modules(config, 1);
    config_set_can_spawn_processes(config, 1);
    uint64_t second = spawn_with(config, "probe_after_go", 2);
    drop_config(config);
    printf("root: edited and dropped config %" PRId64 "\n", config);
    lunatic_message_create_data(LUNATIC_UNTAGGED, 0);
    lunatic_message_send(first);
    await_death(first);
    lunatic_message_create_data(LUNATIC_UNTAGGED, 0);
    lunatic_message_send(second);
    await_death(second);
}

/* ---- memory limit ------------------------------------------------------------------------ */

LUNATIC_EXPORT("grow") void grow(int32_t limit_pages) {
    size_t pages = __builtin_wasm_memory_size(0);
    /* Up to the limit exactly: allowed. One page more: refused with -1, not a trap. */
    size_t to_limit = __builtin_wasm_memory_grow(0, (size_t)limit_pages - pages);
    size_t beyond = __builtin_wasm_memory_grow(0, 1);
    printf("grow: to the limit %s, size %zu pages, one more page -> %d\n",
           to_limit == pages ? "ok" : "REFUSED", __builtin_wasm_memory_size(0), (int)beyond);
}

LUNATIC_EXPORT("memory_limit") void memory_limit(void) {
    int64_t config = create_config();
    config_set_max_memory(config, 16 * 65536);
    await_death(spawn_with(config, "grow", 16));
    /* Below the module's initial memory: instantiation fails, spawn returns 1. */
    config_set_max_memory(config, 65536);
    uint64_t id;
    int32_t status = lunatic_process_spawn(LUNATIC_NO_LINK, config, LUNATIC_SAME_MODULE, "noop",
                                           4, NULL, 0, &id);
    char text[300];
    lunatic_error_take_string(id, text, sizeof text);
    printf("root: spawn with 1 page -> %" PRId32 ": %s\n", status, text);
}

/* ---- escalate ---------------------------------------------------------------------------- */

/* Runs with can_create_configs only, max memory 4 MiB, fuel 5. */
LUNATIC_EXPORT("escalate") void escalate(int32_t step) {
    int64_t config = create_config();
    switch (step) {
    case 0:
        /* What it may do: the new config starts at the creator's limits, no permissions. */
        print_config("escalate 0", config);
        config_set_can_create_configs(config, 1); /* it has this one */
        config_set_can_spawn_processes(config, 0);
        config_set_can_compile_modules(config, 0); /* refusing is always allowed */
        config_set_max_memory(config, 2 * 1024 * 1024);
        config_set_max_memory(config, 4 * 1024 * 1024);
        config_set_max_fuel(config, 3);
        config_set_max_fuel(config, 5);
        print_config("escalate 0", config);
        break;
    case 1:
        printf("escalate 1: granting can_spawn_processes\n");
        config_set_can_spawn_processes(config, 1);
        break;
    case 2:
        printf("escalate 2: granting can_compile_modules\n");
        config_set_can_compile_modules(config, 1);
        break;
    case 3:
        printf("escalate 3: raising max memory\n");
        config_set_max_memory(config, 4 * 1024 * 1024 + 1);
        break;
    case 4:
        printf("escalate 4: raising max fuel\n");
        config_set_max_fuel(config, 6);
        break;
    case 5:
        printf("escalate 5: removing the fuel limit\n");
        config_set_max_fuel(config, 0);
        break;
    }
    printf("escalate %" PRId32 ": done\n", step);
}

LUNATIC_EXPORT("escalate_all") void escalate_all(void) {
    int64_t config = create_config();
    config_set_can_create_configs(config, 1);
    config_set_max_memory(config, 4 * 1024 * 1024);
    config_set_max_fuel(config, 5);
    for (int32_t step = 0; step <= 5; step++) await_death(spawn_with(config, "escalate", step));
}

/* ---- lunatic::wasi ----------------------------------------------------------------------- */

/* Prints argv, the environment and the preopens, all through raw WASI calls. */
LUNATIC_EXPORT("show_wasi") void show_wasi(int32_t unused) {
    (void)unused;
    __wasi_size_t count, size;
    (void)__wasi_args_sizes_get(&count, &size);
    char **argv = calloc(count + 1, sizeof *argv);
    char *buf = malloc(size + 1);
    (void)__wasi_args_get((uint8_t **)argv, (uint8_t *)buf);
    printf("show_wasi: argc=%u", (unsigned)count);
    for (__wasi_size_t i = 0; i < count; i++) printf(" [%s]", argv[i]);
    printf("\n");
    (void)__wasi_environ_sizes_get(&count, &size);
    char **env = calloc(count + 1, sizeof *env);
    char *envbuf = malloc(size + 1);
    (void)__wasi_environ_get((uint8_t **)env, (uint8_t *)envbuf);
    printf("show_wasi: envc=%u", (unsigned)count);
    for (__wasi_size_t i = 0; i < count; i++) printf(" [%s]", env[i]);
    printf("\n");
    for (__wasi_fd_t fd = 3;; fd++) {
        __wasi_prestat_t prestat;
        if (__wasi_fd_prestat_get(fd, &prestat) != 0) break;
        char name[512];
        size_t len = prestat.u.dir.pr_name_len;
        if (len >= sizeof name || __wasi_fd_prestat_dir_name(fd, (uint8_t *)name, len) != 0) break;
        name[len] = 0;
        printf("show_wasi: preopen fd %u = %s\n", (unsigned)fd, name);
        /* Read hello.txt inside it, if there is one. */
        __wasi_fd_t file;
        if (__wasi_path_open(fd, 0, "hello.txt", 0, __WASI_RIGHTS_FD_READ, 0, 0, &file) == 0) {
            char text[64];
            __wasi_iovec_t iov = {(uint8_t *)text, sizeof text - 1};
            __wasi_size_t got = 0;
            (void)__wasi_fd_read(file, &iov, 1, &got);
            text[got] = 0;
            printf("show_wasi: %s/hello.txt says %s\n", name, text);
            (void)__wasi_fd_close(file);
        }
    }
}

/* The root's argv[1], the directory the test gave it (it is also one of its --dir preopens). */
static char *root_arg(void) {
    __wasi_size_t count, size;
    (void)__wasi_args_sizes_get(&count, &size);
    char **argv = calloc(count + 1, sizeof *argv);
    char *buf = malloc(size + 1);
    (void)__wasi_args_get((uint8_t **)argv, (uint8_t *)buf);
    if (count < 2) {
        printf("root: no directory argument\n");
        exit(1);
    }
    return argv[1];
}

static void add_string_arg(int64_t config, const char *arg) {
    config_add_command_line_argument(config, arg, (uint32_t)strlen(arg));
}

static void add_env(int64_t config, const char *key, const char *value) {
    config_add_environment_variable(config, key, (uint32_t)strlen(key), value,
                                    (uint32_t)strlen(value));
}

static void preopen(int64_t config, const char *dir) {
    config_preopen_dir(config, dir, (uint32_t)strlen(dir));
}

LUNATIC_EXPORT("wasi_config") void wasi_config(void) {
    char *dir = root_arg();
    char sub[512];
    snprintf(sub, sizeof sub, "%s/sub", dir);
    /* A fresh config: no args, no env, no preopens. */
    int64_t empty = create_config();
    await_death(spawn_with(empty, "show_wasi", 0));
    int64_t config = create_config();
    add_string_arg(config, "first");
    add_string_arg(config, "second arg");
    add_env(config, "GREETING", "hello world");
    add_env(config, "EMPTY", "");
    preopen(config, sub); /* inside the root's preopen `dir` */
    printf("root: preopened <dir>/sub\n");
    await_death(spawn_with(config, "show_wasi", 0));
}

/* Spawns two children with its own config (-1), one after the other. */
LUNATIC_EXPORT("show_wasi_twice_inherited") void show_wasi_twice_inherited(int32_t unused) {
    (void)unused;
    await_death(spawn_with(LUNATIC_INHERIT_CONFIG, "show_wasi", 0));
    await_death(spawn_with(LUNATIC_INHERIT_CONFIG, "show_wasi", 0));
}

/* A config's WASI view is encoded once and shared (host/wasi/state.ts): an edit after a spawn
 * must still reach the next spawn, and -1 children must see their parent's view. */
LUNATIC_EXPORT("wasi_config_edited") void wasi_config_edited(void) {
    char *dir = root_arg();
    char sub[512];
    snprintf(sub, sizeof sub, "%s/sub", dir);
    int64_t config = create_config();
    add_string_arg(config, "one");
    add_env(config, "A", "1");
    await_death(spawn_with(config, "show_wasi", 0));
    add_string_arg(config, "two");
    add_env(config, "B", "2");
    preopen(config, sub);
    printf("root: edited the config\n");
    await_death(spawn_with(config, "show_wasi", 0));
    config_set_can_spawn_processes(config, 1);
    await_death(spawn_with(config, "show_wasi_twice_inherited", 0));
}

LUNATIC_EXPORT("preopen_outside") void preopen_outside(void) {
    int64_t config = create_config();
    printf("root: preopening /etc\n");
    preopen(config, "/etc");
    printf("root: NOT REACHED\n");
}

LUNATIC_EXPORT("preopen_parent") void preopen_parent(void) {
    char *dir = root_arg();
    char parent[512];
    snprintf(parent, sizeof parent, "%s/sub/..", dir); /* still inside: it is `dir` itself */
    int64_t config = create_config();
    preopen(config, parent);
    printf("root: preopened <dir>/sub/..\n");
    snprintf(parent, sizeof parent, "%s/..", dir); /* outside */
    preopen(config, parent);
    printf("root: NOT REACHED\n");
}

/* <dir>/link is a symbolic link to a directory outside every preopen. */
LUNATIC_EXPORT("preopen_symlink") void preopen_symlink(void) {
    char *dir = root_arg();
    char link[512];
    snprintf(link, sizeof link, "%s/link", dir);
    /* The root's own WASI view: open link/hello.txt below its preopen <dir>. */
    for (__wasi_fd_t fd = 3;; fd++) {
        __wasi_prestat_t prestat;
        if (__wasi_fd_prestat_get(fd, &prestat) != 0) break;
        char name[512];
        size_t len = prestat.u.dir.pr_name_len;
        if (len >= sizeof name || __wasi_fd_prestat_dir_name(fd, (uint8_t *)name, len) != 0) break;
        name[len] = 0;
        if (strcmp(name, dir) != 0) continue;
        __wasi_fd_t file;
        __wasi_errno_t err =
            __wasi_path_open(fd, 0, "link/hello.txt", 0, __WASI_RIGHTS_FD_READ, 0, 0, &file);
        printf("root: its own open of <dir>/link/hello.txt -> errno %u\n", (unsigned)err);
    }
    int64_t config = create_config();
    printf("root: preopening <dir>/link\n");
    preopen(config, link);
    printf("root: preopened <dir>/link\n");
    await_death(spawn_with(config, "show_wasi", 0));
}

LUNATIC_EXPORT("preopen_missing") void preopen_missing(void) {
    char *dir = root_arg();
    char missing[512];
    snprintf(missing, sizeof missing, "%s/missing", dir);
    int64_t config = create_config();
    preopen(config, missing); /* inside the preopens, so accepted here */
    printf("root: preopened <dir>/missing; spawning\n");
    uint64_t id;
    lunatic_process_spawn(LUNATIC_NO_LINK, config, LUNATIC_SAME_MODULE, "noop", 4, NULL, 0, &id);
    printf("root: NOT REACHED\n");
}

int main(void) {
    defaults();
    return 0;
}
