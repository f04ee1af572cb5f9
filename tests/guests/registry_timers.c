/*
 * registry_timers.c: lunatic::registry, get_or_spawn and lunatic::timer
 * (tests/registry_timers.test.ts).
 *
 * Every scenario is an export run as the root. Output lines are "<who>: <what>".
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lunatic.h"

LUNATIC_IMPORT("lunatic::registry", "put")
void registry_put(const char *name, uint32_t len, uint64_t node_id, uint64_t process_id);
LUNATIC_IMPORT("lunatic::registry", "get")
int32_t registry_get(const char *name, uint32_t len, uint64_t *node_id, uint64_t *process_id);
LUNATIC_IMPORT("lunatic::registry", "remove") void registry_remove(const char *name, uint32_t len);
LUNATIC_IMPORT("lunatic::process", "get_or_spawn")
int32_t get_or_spawn(const char *name, uint32_t name_len, int64_t link, int64_t config_id,
                     int64_t module_id, const char *function, uint32_t function_len,
                     const uint8_t *params, uint32_t params_len, uint64_t *node_id,
                     uint64_t *id);
LUNATIC_IMPORT("lunatic::process", "create_config") int64_t create_config(void);
LUNATIC_IMPORT("lunatic::process", "config_set_max_memory")
void config_set_max_memory(int64_t id, uint64_t bytes);
LUNATIC_IMPORT("lunatic::timer", "send_after")
int64_t send_after(uint64_t process_id, uint64_t delay_ms);
LUNATIC_IMPORT("lunatic::timer", "cancel_timer") int32_t cancel_timer(int64_t timer_id);

__attribute__((constructor)) static void line_buffered_stdout(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
}

static void put(const char *name, uint64_t node, uint64_t pid) {
    registry_put(name, (uint32_t)strlen(name), node, pid);
}

/* Prints "<who>: get <name> -> <status> [node <n> pid <p>]". */
static int32_t get(const char *who, const char *name, uint64_t *pid_out) {
    uint64_t node = 777, pid = 777; /* untouched when the name is missing */
    int32_t status = registry_get(name, (uint32_t)strlen(name), &node, &pid);
    printf("%s: get %s -> %" PRId32 " (node %" PRIu64 ", pid %" PRIu64 ")\n", who, name, status,
           node, pid);
    if (pid_out != NULL) *pid_out = pid;
    return status;
}

static uint64_t spawn_monitored(const char *function, int64_t param) {
    uint8_t params[LUNATIC_PARAM_SIZE];
    lunatic_param_i64(params, param);
    uint64_t id;
    if (lunatic_spawn_export(LUNATIC_NO_LINK, function, params, sizeof params, &id) != LUNATIC_OK) {
        printf("root: spawn %s failed\n", function);
        exit(1);
    }
    lunatic_process_monitor(id);
    return id;
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

static int64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- registry ------------------------------------------------------------------------------ */

LUNATIC_EXPORT("registry") void registry(void) {
    get("root", "svc", NULL);
    put("svc", 0, 42); /* no check that process 42 exists */
    get("root", "svc", NULL);
    put("svc", 3, 7); /* overwrites; the node ID is stored as given */
    get("root", "svc", NULL);
    registry_remove("svc", 3);
    get("root", "svc", NULL);
    registry_remove("svc", 3);   /* removing a missing name is fine */
    registry_remove("never", 5); /* so is one that never existed */
    put("", 0, 9);               /* the empty name is a name */
    get("root", "", NULL);
    printf("root: done\n");
}

LUNATIC_EXPORT("registry_bad_name") void registry_bad_name(void) {
    printf("root: put with an invalid UTF-8 name\n");
    registry_put("\xff\xfe", 2, 0, 1);
    printf("root: NOT REACHED\n");
}

LUNATIC_EXPORT("registrar") void registrar(int64_t unused) {
    (void)unused;
    get("registrar", "root", NULL);
    put("registrar", 0, lunatic_process_process_id());
    printf("registrar: registered itself\n");
}

LUNATIC_EXPORT("registry_shared") void registry_shared(void) {
    put("root", 0, lunatic_process_process_id());
    uint64_t child = spawn_monitored("registrar", 0);
    await_death(child);
    uint64_t pid;
    get("root", "registrar", &pid); /* entries are not removed when a process dies */
    printf("root: registered pid %" PRIu64 " exists=%" PRId32 "\n", pid,
           lunatic_process_exists(pid));
}

/* ---- get_or_spawn ------------------------------------------------------------------------- */

LUNATIC_EXPORT("named") void named(int64_t label) {
    printf("named %" PRId64 ": running as pid %" PRIu64 "\n", label, lunatic_process_process_id());
}

static int32_t call_get_or_spawn(const char *name, int64_t config, int64_t label) {
    uint8_t params[LUNATIC_PARAM_SIZE];
    lunatic_param_i64(params, label);
    uint64_t node = 777, id = 777;
    int32_t status = get_or_spawn(name, (uint32_t)strlen(name), LUNATIC_NO_LINK, config,
                                  LUNATIC_SAME_MODULE, "named", 5, params, sizeof params, &node,
                                  &id);
    if (status == LUNATIC_ERROR) {
        char text[300];
        lunatic_error_take_string(id, text, sizeof text);
        printf("root: get_or_spawn %s -> 1 (node %" PRIu64 "): %s\n", name, node, text);
    } else {
        printf("root: get_or_spawn %s -> %" PRId32 " (node %" PRIu64 ", pid %" PRIu64 ")\n", name,
               status, node, id);
    }
    if (status == LUNATIC_OK) lunatic_process_monitor(id);
    return status == LUNATIC_OK ? (int32_t)id : 0;
}

LUNATIC_EXPORT("get_or_spawn") void get_or_spawn_scenario(void) {
    put("taken", 0, 42);
    call_get_or_spawn("taken", LUNATIC_INHERIT_CONFIG, 1); /* 2: exists, nothing spawned */
    int32_t pid = call_get_or_spawn("fresh", LUNATIC_INHERIT_CONFIG, 2); /* 0: spawned */
    get("root", "fresh", NULL);                                           /* and registered */
    call_get_or_spawn("fresh", LUNATIC_INHERIT_CONFIG, 3); /* 2: now it exists */
    await_death((uint64_t)pid);
    /* A spawn that fails (no room for the module's memory): 1, and no name registered. */
    int64_t tiny = create_config();
    config_set_max_memory(tiny, 0);
    call_get_or_spawn("broken", tiny, 4);
    get("root", "broken", NULL);
}

/* ---- timers ------------------------------------------------------------------------------- */

static void message(int64_t tag, const char *text) {
    lunatic_message_create_data(tag, 0);
    lunatic_message_write_data(text, (uint32_t)strlen(text));
}

/* Receives (any message, `timeout`); prints "<who>: receive -> <status> [tag <t> "<text>"]". */
static int32_t receive_print(const char *who, uint64_t timeout, int64_t start) {
    int32_t status = lunatic_message_receive_any(timeout);
    if (status != LUNATIC_RECEIVE_DATA) {
        printf("%s: receive -> %" PRId32 "\n", who, status);
        return status;
    }
    char text[64] = {0};
    lunatic_message_read_exact(text, sizeof text - 1);
    printf("%s: receive -> 0 tag %" PRId64 " \"%s\" after %" PRId64 " ms\n", who,
           lunatic_message_get_tag(), text, now_ms() - start);
    return status;
}

LUNATIC_EXPORT("timers") void timers(void) {
    uint64_t self = lunatic_process_process_id();
    int64_t start = now_ms();
    message(1, "late");
    int64_t late = send_after(self, 60);
    message(2, "early");
    int64_t early = send_after(self, 10);
    message(3, "cancelled");
    int64_t cancelled = send_after(self, 30);
    printf("root: timer ids %" PRId64 " %" PRId64 " %" PRId64 "\n", late, early, cancelled);
    printf("root: cancel pending -> %" PRId32 "\n", cancel_timer(cancelled));
    printf("root: cancel again -> %" PRId32 "\n", cancel_timer(cancelled));
    printf("root: cancel unknown -> %" PRId32 "\n", cancel_timer(99));
    receive_print("root", LUNATIC_NO_TIMEOUT, start);
    printf("root: cancel fired -> %" PRId32 "\n", cancel_timer(early));
    receive_print("root", LUNATIC_NO_TIMEOUT, start);
    receive_print("root", 50, start); /* the cancelled message never comes */
    message(4, "next");
    printf("root: next timer id %" PRId64 "\n", send_after(self, 0));
    receive_print("root", LUNATIC_NO_TIMEOUT, start);
}

LUNATIC_EXPORT("send_after_empty") void send_after_empty(void) {
    printf("root: send_after without a message\n");
    send_after(lunatic_process_process_id(), 10);
    printf("root: NOT REACHED\n");
}

LUNATIC_EXPORT("waiter") void waiter(int64_t timeout) {
    receive_print("waiter", (uint64_t)timeout, now_ms());
}

LUNATIC_EXPORT("timer_target") void timer_target(void) {
    /* PID 2 does not exist yet when the timer is set: the message is dropped, although the
     * next spawn gets PID 2 before the timer fires. */
    message(1, "to pid 2 before it existed");
    send_after(2, 10);
    uint64_t first = spawn_monitored("waiter", 100);
    printf("root: spawned %" PRIu64 "\n", first);
    /* An existing process gets its message after the delay. */
    uint64_t second = spawn_monitored("waiter", 1000);
    message(2, "to pid 3");
    send_after(second, 10);
    printf("root: spawned %" PRIu64 "\n", second);
    await_death(second);
    await_death(first);
}

LUNATIC_EXPORT("timer_setter") void timer_setter(int64_t parent) {
    message(5, "from a dead creator");
    int64_t id = send_after((uint64_t)parent, 30);
    printf("setter: timer %" PRId64 " set; exiting\n", id);
}

LUNATIC_EXPORT("timer_survives") void timer_survives(void) {
    int64_t start = now_ms();
    uint64_t setter = spawn_monitored("timer_setter", (int64_t)lunatic_process_process_id());
    await_death(setter);
    printf("root: setter exists=%" PRId32 "\n", lunatic_process_exists(setter));
    receive_print("root", 1000, start);
}

int main(void) {
    registry();
    return 0;
}
