/*
 * c_link_exit_codes.c: how linked children end, seen from C (tests/signals_links_monitors.test.ts).
 *
 * The root calls die_when_link_dies(0), then spawns children linked with distinct tags and
 * monitors each one:
 *   exit_with(0)   calls exit(0): a normal end, so only a ProcessDied arrives
 *   exit_with(5)   calls exit(5): a failure with exit code 5: LinkDied (tag) then ProcessDied
 *   crash          __builtin_trap(): LinkDied then ProcessDied
 *   sleeper        sleeps for a minute and is killed: LinkDied then ProcessDied
 *   returner       returns normally: only a ProcessDied
 * For each child it prints every message until the child's ProcessDied: links are notified
 * before monitors (spec §2.4), so a LinkDied always comes first.
 * Then it checks send_receive_skip_search from C: a reply tagged REPLY_TAG already in the
 * mailbox is skipped, and the fresh reply from the `echo` child is returned.
 * Last, it turns die_when_link_dies back on and spawns `crash` linked: the root is killed
 * ("root: NOT REACHED" must not appear).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "lunatic.h"

#define REQUEST_TAG 50
#define REPLY_TAG 51

__attribute__((constructor)) static void line_buffered_stdout(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
}

_Noreturn static void fail(const char *what) {
    printf("root: FAILED: %s\n", what);
    exit(1);
}

LUNATIC_EXPORT("exit_with") void exit_with(int32_t code) {
    printf("child: exit(%" PRId32 ")\n", code);
    exit(code);
}

LUNATIC_EXPORT("crash") void crash(void) {
    __builtin_trap();
}

LUNATIC_EXPORT("sleeper") void sleeper(void) {
    lunatic_process_sleep_ms(60000);
    printf("child: sleeper woke (NOT EXPECTED)\n");
}

LUNATIC_EXPORT("returner") void returner(void) {}

/* Replies to one REQUEST_TAG message with its bytes, tagged REPLY_TAG. */
LUNATIC_EXPORT("echo") void echo(int64_t parent) {
    if (lunatic_message_receive_tag(REQUEST_TAG, LUNATIC_NO_TIMEOUT) != LUNATIC_RECEIVE_DATA) {
        return;
    }
    char buffer[64];
    uint32_t n = lunatic_message_read_exact(buffer, sizeof buffer);
    lunatic_message_create_data(REPLY_TAG, n);
    lunatic_message_write_data(buffer, n);
    lunatic_message_send((uint64_t)parent);
}

static uint64_t spawn(int64_t link, const char *function, const uint8_t *params,
                      uint32_t params_len) {
    uint64_t pid;
    if (lunatic_spawn_export(link, function, params, params_len, &pid) != LUNATIC_OK) {
        fail("spawn");
    }
    return pid;
}

/* Prints the messages that arrive until the ProcessDied of `pid`. */
static void report(const char *name, uint64_t pid) {
    for (;;) {
        int32_t kind = lunatic_message_receive_any(LUNATIC_NO_TIMEOUT);
        if (kind == LUNATIC_RECEIVE_LINK_DIED) {
            printf("root: %s: LinkDied tag %" PRId64 "\n", name, lunatic_message_get_tag());
        } else if (kind == LUNATIC_RECEIVE_PROCESS_DIED) {
            uint64_t dead = lunatic_message_get_process_id();
            printf("root: %s: ProcessDied %s\n", name, dead == pid ? "(same pid)" : "(OTHER pid)");
            return;
        } else {
            printf("root: %s: unexpected receive %" PRId32 "\n", name, kind);
        }
    }
}

int main(void) {
    lunatic_process_die_when_link_dies(0);
    uint8_t params[LUNATIC_PARAM_SIZE];
    uint64_t pid;

    lunatic_param_i32(params, 0);
    pid = spawn(10, "exit_with", params, sizeof params);
    lunatic_process_monitor(pid);
    report("exit(0)", pid);

    lunatic_param_i32(params, 5);
    pid = spawn(11, "exit_with", params, sizeof params);
    lunatic_process_monitor(pid);
    report("exit(5)", pid);

    pid = spawn(12, "crash", NULL, 0);
    lunatic_process_monitor(pid);
    report("crash", pid);

    pid = spawn(13, "sleeper", NULL, 0);
    lunatic_process_monitor(pid);
    lunatic_process_kill(pid);
    report("killed", pid);

    pid = spawn(14, "returner", NULL, 0);
    lunatic_process_monitor(pid);
    report("returner", pid);

    /* send_receive_skip_search ignores the stale reply already queued. */
    lunatic_message_create_data(REPLY_TAG, 5);
    lunatic_message_write_data("stale", 5);
    lunatic_message_send(lunatic_process_process_id());
    lunatic_param_i64(params, (int64_t)lunatic_process_process_id());
    pid = spawn(LUNATIC_NO_LINK, "echo", params, sizeof params);
    lunatic_process_monitor(pid);
    lunatic_message_create_data(REQUEST_TAG, 5);
    lunatic_message_write_data("fresh", 5);
    int32_t status = lunatic_message_send_receive_skip_search(pid, REPLY_TAG, 5000);
    char text[16] = {0};
    lunatic_message_read_exact(text, sizeof text - 1);
    printf("root: skip search: status %" PRId32 ", reply %s\n", status, text);
    if (lunatic_message_receive_tag(REPLY_TAG, 0) != LUNATIC_RECEIVE_DATA) fail("stale reply");
    char stale[16] = {0};
    lunatic_message_read_exact(stale, sizeof stale - 1);
    printf("root: still queued: %s\n", stale);
    report("echo", pid);

    lunatic_process_die_when_link_dies(1);
    printf("root: linking to a crash with die_when_link_dies(1)\n");
    spawn(15, "crash", NULL, 0);
    lunatic_message_receive_any(LUNATIC_NO_TIMEOUT);
    printf("root: NOT REACHED\n");
    return 0;
}
