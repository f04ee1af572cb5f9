/*
 * bench_sqlite.c: lunatic::sqlite throughput for bench/sqlite_bench.ts, the way lunatic-rs
 * drives it: a prepared INSERT bound (bincode) and stepped per row, a SELECT stepped with
 * read_row per row (bincode rows through lunatic_alloc).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lunatic.h"

LUNATIC_IMPORT("lunatic::sqlite", "open") int64_t sqlite_open(const char *path, uint32_t len, uint64_t *id);
LUNATIC_IMPORT("lunatic::sqlite", "query_prepare")
uint64_t sqlite_prepare(uint64_t conn, const char *sql, uint32_t len);
LUNATIC_IMPORT("lunatic::sqlite", "execute") uint32_t sqlite_execute(uint64_t conn, const char *sql, uint32_t len);
LUNATIC_IMPORT("lunatic::sqlite", "bind_value") void sqlite_bind(uint64_t stmt, const uint8_t *data, uint32_t len);
LUNATIC_IMPORT("lunatic::sqlite", "statement_reset") void sqlite_reset(uint64_t stmt);
LUNATIC_IMPORT("lunatic::sqlite", "sqlite3_finalize") void sqlite_finalize(uint64_t stmt);
LUNATIC_IMPORT("lunatic::sqlite", "sqlite3_step") uint32_t sqlite_step(uint64_t stmt);
LUNATIC_IMPORT("lunatic::sqlite", "read_row") uint8_t *sqlite_read_row(uint64_t stmt, uint32_t *len);

LUNATIC_EXPORT("lunatic_alloc") void *lunatic_alloc(uint32_t len) { return malloc(len); }

#define SQL(text) text, (uint32_t)strlen(text)

static uint64_t setup(void) {
    sqlite_open(SQL(":memory:"), NULL);
    sqlite_execute(0, SQL("CREATE TABLE t (id INTEGER, name TEXT)"));
    return 0;
}

static void insert(uint64_t conn, int32_t rows) {
    uint64_t stmt = sqlite_prepare(conn, SQL("INSERT INTO t VALUES (?, ?)"));
    uint8_t list[64];
    for (int32_t i = 0; i < rows; i++) {
        uint32_t at = 0;
        uint64_t count = 2, index;
        uint32_t tag;
        memcpy(list + at, &count, 8); at += 8;
        tag = 1; memcpy(list + at, &tag, 4); at += 4;
        index = 1; memcpy(list + at, &index, 8); at += 8;
        tag = 5; memcpy(list + at, &tag, 4); at += 4;
        int64_t id = i; memcpy(list + at, &id, 8); at += 8;
        tag = 1; memcpy(list + at, &tag, 4); at += 4;
        index = 2; memcpy(list + at, &index, 8); at += 8;
        tag = 2; memcpy(list + at, &tag, 4); at += 4;
        uint64_t len = 5; memcpy(list + at, &len, 8); at += 8;
        memcpy(list + at, "hello", 5); at += 5;
        sqlite_bind(stmt, list, at);
        sqlite_step(stmt);
        sqlite_reset(stmt);
    }
    sqlite_finalize(stmt);
}

LUNATIC_EXPORT("insert_rows") void insert_rows(int32_t rows) { insert(setup(), rows); }

LUNATIC_EXPORT("select_rows") void select_rows(int32_t rows) {
    uint64_t conn = setup();
    insert(conn, rows);
    uint64_t stmt = sqlite_prepare(conn, SQL("SELECT id, name FROM t"));
    uint32_t len;
    int32_t seen = 0;
    while (sqlite_step(stmt) == 100) {
        free(sqlite_read_row(stmt, &len));
        seen++;
    }
    if (seen != rows) abort();
}

int main(void) { return 0; }
