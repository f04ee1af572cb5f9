/*
 * testmode_suite.c: a test binary shaped like one that `cargo test` builds with lunatic-rs
 * (tests/test_mode.test.ts). Every `#[lunatic::test]` is a function export named
 * `#lunatic_test_[#ignore_][#panic_<expected>#]mycrate::tests::<name>`; the harness's main is
 * never run in test mode.
 *
 * Panicking tests print exactly what Rust's default panic hook prints on stderr (in the
 * pre-1.73 or the 1.73+ format; the thread is '<unnamed>' because test mode calls the export
 * directly, without Rust's main setting the thread name) and then trap, as a wasm32-wasi panic
 * (panic=abort) does.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <wasi/api.h>

#include "lunatic.h"

#define TEST(name) LUNATIC_EXPORT("#lunatic_test_" name)

__attribute__((constructor)) static void line_buffered_stdout(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
}

static const char BACKTRACE_NOTE[] =
    "note: run with `RUST_BACKTRACE=1` environment variable to display a backtrace\n";

_Noreturn static void panic_before_rust_1_73(const char *message, int line) {
    fprintf(stderr, "thread '<unnamed>' panicked at '%s', src/lib.rs:%d:9\n%s", message, line,
            BACKTRACE_NOTE);
    __builtin_trap();
}

_Noreturn static void panic_since_rust_1_73(const char *message, int line) {
    fprintf(stderr, "thread '<unnamed>' panicked at src/lib.rs:%d:9:\n%s\n%s", line, message,
            BACKTRACE_NOTE);
    __builtin_trap();
}

int main(void) { return 0; }

TEST("mycrate::tests::passes") void passes(void) { printf("passes: all good\n"); }

TEST("mycrate::tests::exits_with_failure") void exits_with_failure(void) {
    printf("about to exit(1)\n");
    exit(1);
}

TEST("mycrate::tests::traps") void traps(void) {
    printf("about to trap\n");
    __builtin_trap();
}

TEST("mycrate::tests::panics") void panics(void) {
    panic_since_rust_1_73("assertion failed: 1 + 1 == 3", 30);
}

/* #[should_panic(expected = "code #7")]: the macro escapes '#' as '\#'. */
TEST("#panic_code \\#7#mycrate::tests::should_panic_old_format")
void should_panic_old_format(void) { panic_before_rust_1_73("bad input: code #7", 40); }

TEST("#panic_code \\#7#mycrate::tests::should_panic_new_format")
void should_panic_new_format(void) {
    panic_since_rust_1_73("bad input: code #7\nsecond line", 50);
}

TEST("#panic_out of range#mycrate::tests::should_panic_wrong_message")
void should_panic_wrong_message(void) { panic_since_rust_1_73("division by zero", 60); }

/* #[should_panic] without expected text: any failure passes, even without panic text. */
TEST("#panic_#mycrate::tests::should_panic_any") void should_panic_any(void) {
    __builtin_trap();
}

TEST("#panic_#mycrate::tests::should_panic_but_returns") void should_panic_but_returns(void) {
    printf("returning normally\n");
}

TEST("#panic_overflow#mycrate::tests::should_panic_trap_without_message")
void should_panic_trap_without_message(void) { __builtin_trap(); }

TEST("#ignore_mycrate::tests::ignored") void ignored(void) { printf("the ignored test ran\n"); }

TEST("#ignore_#panic_slow#mycrate::tests::ignored_should_panic")
void ignored_should_panic(void) { panic_before_rust_1_73("too slow", 70); }

/* Prints argv, an environment variable, the preopens and its identity. */
TEST("mycrate::tests::prints_args") void prints_args(void) {
    __wasi_size_t argc, size;
    if (__wasi_args_sizes_get(&argc, &size) != 0) exit(2);
    uint8_t *argv[16];
    uint8_t buffer[512];
    if (argc > 16 || size > sizeof buffer || __wasi_args_get(argv, buffer) != 0) exit(2);
    printf("argc %u\n", (unsigned)argc);
    for (__wasi_size_t i = 0; i < argc; i++) printf("argv[%u]=%s\n", (unsigned)i, argv[i]);
    const char *greeting = getenv("TESTMODE_GREETING");
    printf("TESTMODE_GREETING=%s\n", greeting ? greeting : "(unset)");
    for (__wasi_fd_t fd = 3;; fd++) {
        __wasi_prestat_t prestat;
        if (__wasi_fd_prestat_get(fd, &prestat) != 0) break;
        char name[256];
        size_t len = prestat.u.dir.pr_name_len;
        if (len >= sizeof name || __wasi_fd_prestat_dir_name(fd, (uint8_t *)name, len) != 0) {
            exit(2);
        }
        name[len] = 0;
        printf("preopen %s\n", name);
    }
    printf("environment %" PRIu64 ", process %" PRIu64 "\n", lunatic_process_environment_id(),
           lunatic_process_process_id());
}

LUNATIC_EXPORT("child_prints") void child_prints(void) {
    printf("child: hello from process %" PRIu64 "\n", lunatic_process_process_id());
}

/* Its child writes to its own stream; the test then fails so that both streams are shown. */
TEST("mycrate::tests::spawns_child") void spawns_child(void) {
    printf("parent: spawning\n");
    uint64_t child;
    if (lunatic_spawn_export(LUNATIC_NO_LINK, "child_prints", NULL, 0, &child) != LUNATIC_OK) {
        exit(2);
    }
    lunatic_process_monitor(child);
    if (lunatic_message_receive_any(LUNATIC_NO_TIMEOUT) != LUNATIC_RECEIVE_PROCESS_DIED) exit(2);
    printf("parent: child %" PRIu64 " ended\n", child);
    exit(1);
}

LUNATIC_EXPORT("child_waits") void child_waits(void) {
    lunatic_message_receive_any(LUNATIC_NO_TIMEOUT);
}

LUNATIC_EXPORT("child_sleeps") void child_sleeps(void) { lunatic_process_sleep_ms(3600000); }

/*
 * Waits forever, with a child that waits too: a deadlock the runner detects. With
 * TESTMODE_CHILD_SLEEPS set the child sleeps for an hour instead, and only a time limit ends
 * the test before then.
 */
TEST("mycrate::tests::blocked_in_receive") void blocked_in_receive(void) {
    printf("waiting for a message that never comes\n");
    const char *child_export = getenv("TESTMODE_CHILD_SLEEPS") ? "child_sleeps" : "child_waits";
    uint64_t child;
    if (lunatic_spawn_export(LUNATIC_NO_LINK, child_export, NULL, 0, &child) != LUNATIC_OK) {
        exit(2);
    }
    lunatic_message_receive_any(LUNATIC_NO_TIMEOUT);
}
