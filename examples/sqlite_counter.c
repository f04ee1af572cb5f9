/*
 * sqlite_counter.c: processes incrementing one counter in a SQLite database file.
 *
 * Usage:   deno task run examples/sqlite_counter.wasm [processes=4] [increments=25] [db=counter.db]
 * Output:  (for the defaults)
 *     sqlite_counter: 4 processes x 25 increments: counter = 100 (counter.db)
 * Exit:    0 (1 if the count is wrong or the database cannot be used)
 *
 * The root opens the database (a file in a preopened directory: "." is one), sets the counter
 * to 0 and spawns the workers, linked to it. Each worker opens its own connection and runs
 * `UPDATE counter SET n = n + 1` as many times as asked, then ends; the root waits for their
 * ends (monitor) and reads the counter back with a prepared statement. The lunatic::sqlite
 * calls take bincode (a row comes back in memory from this module's `lunatic_alloc`).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wasi/api.h>

#include "lunatic.h"

LUNATIC_IMPORT("lunatic::sqlite", "open")
int64_t sqlite_open(const char *path, uint32_t len, uint64_t *id);
LUNATIC_IMPORT("lunatic::sqlite", "execute")
uint32_t sqlite_execute(uint64_t conn, const char *sql, uint32_t len);
LUNATIC_IMPORT("lunatic::sqlite", "query_prepare")
uint64_t sqlite_prepare(uint64_t conn, const char *sql, uint32_t len);
LUNATIC_IMPORT("lunatic::sqlite", "sqlite3_step") uint32_t sqlite_step(uint64_t stmt);
LUNATIC_IMPORT("lunatic::sqlite", "read_column")
uint8_t *sqlite_read_column(uint64_t stmt, uint32_t col, uint32_t *len);

/* Where lunatic::sqlite puts results it returns: memory this module gives it. */
LUNATIC_EXPORT("lunatic_alloc") void *lunatic_alloc(uint32_t len) { return malloc(len); }

#define SQL(text) text, (uint32_t)strlen(text)

__attribute__((constructor)) static void line_buffered_stdout(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
}

/* argv[i] (workers have the root's arguments too: they inherit its config). */
static const char *argument(int i, const char *fallback) {
    static char buffer[1024];
    static uint8_t *argv[16];
    __wasi_size_t argc, size;
    if (__wasi_args_sizes_get(&argc, &size) != 0 || argc > 16 || size > sizeof buffer ||
        __wasi_args_get(argv, (uint8_t *)buffer) != 0 || (__wasi_size_t)i >= argc) {
        return fallback;
    }
    return (const char *)argv[i];
}

static uint64_t open_database(const char *path) {
    uint64_t id;
    if (sqlite_open(path, (uint32_t)strlen(path), &id) != 0) {
        char reason[200];
        lunatic_error_take_string(id, reason, sizeof reason);
        fprintf(stderr, "sqlite_counter: %s\n", reason);
        exit(1);
    }
    return id;
}

LUNATIC_EXPORT("worker") void worker(int32_t increments) {
    uint64_t conn = open_database(argument(3, "counter.db"));
    for (int32_t i = 0; i < increments; i++) {
        uint32_t code = sqlite_execute(conn, SQL("UPDATE counter SET n = n + 1"));
        if (code != 0) {
            fprintf(stderr, "sqlite_counter: UPDATE failed with SQLite code %u\n", code);
            exit(1);
        }
    }
}

int main(int argc, char **argv) {
    int processes = argc > 1 ? atoi(argv[1]) : 4;
    int increments = argc > 2 ? atoi(argv[2]) : 25;
    const char *path = argc > 3 ? argv[3] : "counter.db";
    uint64_t conn = open_database(path);
    if (sqlite_execute(conn, SQL("CREATE TABLE IF NOT EXISTS counter (n INTEGER)")) != 0 ||
        sqlite_execute(conn, SQL("DELETE FROM counter; INSERT INTO counter VALUES (0)")) != 0) {
        fprintf(stderr, "sqlite_counter: cannot set the counter up\n");
        return 1;
    }
    for (int i = 0; i < processes; i++) {
        uint8_t params[LUNATIC_PARAM_SIZE];
        lunatic_param_i32(params, increments);
        uint64_t id;
        if (lunatic_process_spawn(1, LUNATIC_INHERIT_CONFIG, LUNATIC_SAME_MODULE, "worker", 6,
                                  params, sizeof params, &id) != 0) {
            fprintf(stderr, "sqlite_counter: spawn failed\n");
            return 1;
        }
        lunatic_process_monitor(id);
    }
    for (int ended = 0; ended < processes;) {
        if (lunatic_message_receive_any(LUNATIC_NO_TIMEOUT) == LUNATIC_RECEIVE_PROCESS_DIED) ended++;
    }
    uint64_t stmt = sqlite_prepare(conn, SQL("SELECT n FROM counter"));
    if (sqlite_step(stmt) != 100) return 1;
    uint32_t len;
    const uint8_t *value = sqlite_read_column(stmt, 0, &len);
    int64_t n = 0;
    memcpy(&n, value + 4, 8); /* SqliteValue::Integer: a u32 tag (4), then the i64 */
    printf("sqlite_counter: %d processes x %d increments: counter = %" PRId64 " (%s)\n",
           processes, increments, n, path);
    return n == (int64_t)processes * increments ? 0 : 1;
}
