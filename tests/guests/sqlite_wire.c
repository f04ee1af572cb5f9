/*
 * sqlite_wire.c: lunatic::sqlite as lunatic-rs speaks it, in C (tests/sqlite.test.ts): bincode
 * BindLists in, bincode rows, values, names and errors out through `lunatic_alloc`. Every
 * export is a scenario the test runs as a root; lines are "<what>: <value>".
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lunatic.h"

LUNATIC_IMPORT("lunatic::sqlite", "open") int64_t sqlite_open(const char *path, uint32_t len, uint64_t *id);
LUNATIC_IMPORT("lunatic::sqlite", "query_prepare")
uint64_t sqlite_prepare(uint64_t conn, const char *sql, uint32_t len);
LUNATIC_IMPORT("lunatic::sqlite", "execute") uint32_t sqlite_execute(uint64_t conn, const char *sql, uint32_t len);
LUNATIC_IMPORT("lunatic::sqlite", "bind_value") void sqlite_bind(uint64_t stmt, const uint8_t *data, uint32_t len);
LUNATIC_IMPORT("lunatic::sqlite", "sqlite3_changes") uint32_t sqlite_changes(uint64_t conn);
LUNATIC_IMPORT("lunatic::sqlite", "statement_reset") void sqlite_reset(uint64_t stmt);
LUNATIC_IMPORT("lunatic::sqlite", "last_error") uint8_t *sqlite_last_error(uint64_t conn, uint32_t *len);
LUNATIC_IMPORT("lunatic::sqlite", "sqlite3_finalize") void sqlite_finalize(uint64_t stmt);
LUNATIC_IMPORT("lunatic::sqlite", "sqlite3_step") uint32_t sqlite_step(uint64_t stmt);
LUNATIC_IMPORT("lunatic::sqlite", "read_column")
uint8_t *sqlite_read_column(uint64_t stmt, uint32_t col, uint32_t *len);
LUNATIC_IMPORT("lunatic::sqlite", "column_names") uint8_t *sqlite_column_names(uint64_t stmt, uint32_t *len);
LUNATIC_IMPORT("lunatic::sqlite", "read_row") uint8_t *sqlite_read_row(uint64_t stmt, uint32_t *len);
LUNATIC_IMPORT("lunatic::sqlite", "column_count") uint32_t sqlite_column_count(uint64_t stmt);
LUNATIC_IMPORT("lunatic::sqlite", "column_name")
uint8_t *sqlite_column_name(uint64_t stmt, uint32_t col, uint32_t *len);

LUNATIC_EXPORT("lunatic_alloc") void *lunatic_alloc(uint32_t len) { return malloc(len); }

__attribute__((constructor)) static void line_buffered_stdout(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
}

#define S(text) text, (uint32_t)strlen(text)

/* ---- bincode: a BindList writer ---------------------------------------------------------- */
typedef struct {
    uint8_t bytes[1024];
    uint32_t len;
    uint64_t count;
} bind_list;

static void put(bind_list *list, const void *data, uint32_t n) {
    memcpy(list->bytes + list->len, data, n);
    list->len += n;
}
static void put_u32(bind_list *list, uint32_t v) { put(list, &v, 4); }
static void put_u64(bind_list *list, uint64_t v) { put(list, &v, 8); }
static void begin(bind_list *list) {
    list->len = 8; /* the u64 count, written by finish() */
    list->count = 0;
}
static void key_index(bind_list *list, uint64_t index) {
    put_u32(list, 1);
    put_u64(list, index);
    list->count++;
}
static void key_name(bind_list *list, const char *name) {
    put_u32(list, 2);
    put_u64(list, strlen(name));
    put(list, name, (uint32_t)strlen(name));
    list->count++;
}
static void value_int64(bind_list *list, int64_t v) { put_u32(list, 5); put(list, &v, 8); }
static void value_int(bind_list *list, int32_t v) { put_u32(list, 4); put(list, &v, 4); }
static void value_double(bind_list *list, double v) { put_u32(list, 3); put(list, &v, 8); }
static void value_text(bind_list *list, const char *text) {
    put_u32(list, 2);
    put_u64(list, strlen(text));
    put(list, text, (uint32_t)strlen(text));
}
static void value_blob(bind_list *list, const uint8_t *data, uint32_t n) {
    put_u32(list, 1);
    put_u64(list, n);
    put(list, data, n);
}
static void value_null(bind_list *list) { put_u32(list, 0); }
static void finish_bind(bind_list *list, uint64_t stmt) {
    memcpy(list->bytes, &list->count, 8);
    sqlite_bind(stmt, list->bytes, list->len);
}

/* ---- bincode: readers that print -------------------------------------------------------- */
static const uint8_t *print_value(const uint8_t *at) {
    uint32_t tag;
    memcpy(&tag, at, 4);
    at += 4;
    uint64_t n;
    int64_t i;
    double d;
    switch (tag) {
    case 0: printf("Null"); break;
    case 1:
        memcpy(&n, at, 8);
        printf("Blob[");
        for (uint64_t k = 0; k < n; k++) printf(k ? " %u" : "%u", at[8 + k]);
        printf("]");
        at += 8 + n;
        break;
    case 2:
        memcpy(&n, at, 8);
        printf("Text(%.*s)", (int)n, at + 8);
        at += 8 + n;
        break;
    case 3: memcpy(&d, at, 8); printf("Double(%g)", d); at += 8; break;
    case 4: memcpy(&i, at, 8); printf("Integer(%" PRId64 ")", i); at += 8; break;
    case 5: memcpy(&i, at, 8); printf("I64(%" PRId64 ")", i); at += 8; break;
    default: printf("?%u", tag);
    }
    return at;
}

static void print_row(uint64_t stmt) {
    uint32_t len = 0;
    const uint8_t *at = sqlite_read_row(stmt, &len);
    uint64_t count;
    memcpy(&count, at, 8);
    at += 8;
    printf("row (%u bytes):", len);
    for (uint64_t k = 0; k < count; k++) {
        printf(" ");
        at = print_value(at);
    }
    printf("\n");
}

static void print_error(uint64_t conn) {
    uint32_t len = 0;
    const uint8_t *at = sqlite_last_error(conn, &len);
    printf("last_error:");
    if (*at++) {
        uint32_t code;
        memcpy(&code, at, 4);
        at += 4;
        printf(" code %u", code);
    } else printf(" no code");
    if (*at++) {
        uint64_t n;
        memcpy(&n, at, 8);
        printf(", \"%.*s\"", (int)n, at + 8);
    }
    printf("\n");
}

static uint64_t open_db(const char *path) {
    uint64_t id = 0;
    int64_t status = sqlite_open(path, (uint32_t)strlen(path), &id);
    if (status != 0) {
        char text[200];
        lunatic_error_take_string(id, text, sizeof text);
        printf("open %s: %" PRId64 ", %s\n", path, status, text);
        return UINT64_MAX;
    }
    return id;
}

/* Everything of the ABI on one in-memory database. */
LUNATIC_EXPORT("roundtrip") void roundtrip(void) {
    /* lunatic-rs's way: a null conn_id_ptr, then connection 0. */
    printf("open :memory: with a null id pointer: %" PRId64 "\n", sqlite_open(S(":memory:"), NULL));
    uint64_t conn = 0;
    printf("execute create: %u\n",
           sqlite_execute(conn, S("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT, score REAL, data BLOB)")));
    uint64_t insert = sqlite_prepare(conn, S("INSERT INTO t VALUES (?, ?, ?, ?)"));
    printf("insert statement: %" PRIu64 "\n", insert);
    bind_list list;
    begin(&list);
    key_index(&list, 1); value_int64(&list, 1);
    key_index(&list, 2); value_text(&list, "alice");
    key_index(&list, 3); value_double(&list, 9.5);
    uint8_t blob[2] = {1, 2};
    key_index(&list, 4); value_blob(&list, blob, 2);
    finish_bind(&list, insert);
    printf("step insert: %u, changes %u\n", sqlite_step(insert), sqlite_changes(conn));
    sqlite_reset(insert);
    begin(&list);
    key_index(&list, 1); value_int(&list, 2);
    key_index(&list, 2); value_text(&list, "bob");
    key_index(&list, 3); value_null(&list);
    key_index(&list, 4); value_null(&list);
    finish_bind(&list, insert);
    printf("step insert: %u\n", sqlite_step(insert));
    sqlite_finalize(insert);
    printf("execute two statements: %u, changes %u\n",
           sqlite_execute(conn, S("INSERT INTO t VALUES (3, 'carol', 7, NULL); UPDATE t SET score = score + 1 WHERE id > 1;")),
           sqlite_changes(conn));

    uint64_t select = sqlite_prepare(conn, S("SELECT id, name, score, data FROM t WHERE id >= :min ORDER BY id"));
    begin(&list);
    key_name(&list, ":min"); value_int(&list, 1);
    finish_bind(&list, select);
    printf("column_count: %u\n", sqlite_column_count(select));
    uint32_t len = 0;
    const uint8_t *names = sqlite_column_names(select, &len);
    uint64_t count;
    memcpy(&count, names, 8);
    printf("column_names (%" PRIu64 "):", count);
    const uint8_t *at = names + 8;
    for (uint64_t k = 0; k < count; k++) {
        uint64_t n;
        memcpy(&n, at, 8);
        printf(" %.*s", (int)n, at + 8);
        at += 8 + n;
    }
    printf("\n");
    const char *name = (const char *)sqlite_column_name(select, 1, &len);
    printf("column_name 1: %.*s (%u bytes, raw)\n", (int)len, name, len);
    uint32_t code;
    while ((code = sqlite_step(select)) == 100) print_row(select);
    printf("step: %u\n", code);
    sqlite_reset(select);
    printf("step after reset: %u; read_column 1: ", sqlite_step(select));
    print_value(sqlite_read_column(select, 1, &len));
    printf("\n");
    sqlite_finalize(select);

    /* SQLite's defaults, as lunatic's: a double-quoted string is a literal. */
    uint64_t quoted = sqlite_prepare(conn, S("SELECT \"double-quoted\""));
    printf("step quoted: %u; ", sqlite_step(quoted));
    print_value(sqlite_read_column(quoted, 0, &len));
    printf("\n");
    sqlite_finalize(quoted);

    printf("execute duplicate: %u\n", sqlite_execute(conn, S("INSERT INTO t VALUES (1, 'again', 0, NULL)")));
    print_error(conn);
    printf("execute bad sql: %u\n", sqlite_execute(conn, S("SELEKT 1")));
    print_error(conn);
    /* No way to other files from SQL: ATTACH and VACUUM INTO are not authorized. */
    printf("execute attach: %u\n", sqlite_execute(conn, S("ATTACH DATABASE '/tmp/x.db' AS x")));
    printf("execute vacuum into: %u\n", sqlite_execute(conn, S("VACUUM INTO '/tmp/y.db'")));
}

/* Opens the database file $DB. */
LUNATIC_EXPORT("open_path") void open_path(void) {
    const char *path = getenv("DB");
    uint64_t conn = open_db(path);
    if (conn != UINT64_MAX) printf("open %s: 0\n", path);
}

LUNATIC_EXPORT("bad_prepare") void bad_prepare(void) {
    sqlite_open(S(":memory:"), NULL);
    sqlite_prepare(0, S("SELECT * FROM missing"));
    printf("NOT REACHED\n");
}

LUNATIC_EXPORT("bad_bincode") void bad_bincode(void) {
    sqlite_open(S(":memory:"), NULL);
    uint64_t stmt = sqlite_prepare(0, S("SELECT ?"));
    uint8_t garbage[12] = {1, 0, 0, 0, 0, 0, 0, 0, 9, 0, 0, 0};
    sqlite_bind(stmt, garbage, sizeof garbage);
    printf("NOT REACHED\n");
}

LUNATIC_EXPORT("unknown_statement") void unknown_statement(void) {
    sqlite_step(77);
    printf("NOT REACHED\n");
}

LUNATIC_EXPORT("no_error") void no_error(void) {
    sqlite_open(S(":memory:"), NULL);
    uint32_t len;
    sqlite_last_error(0, &len);
    printf("NOT REACHED\n");
}

/* The database $DB: write a row, or read them; or hold the write lock and end. */
LUNATIC_EXPORT("writer") void writer(int64_t value) {
    uint64_t conn = open_db(getenv("DB"));
    sqlite_execute(conn, S("CREATE TABLE IF NOT EXISTS v (x INTEGER)"));
    char sql[100];
    snprintf(sql, sizeof sql, "INSERT INTO v VALUES (%" PRId64 ")", value);
    printf("insert %" PRId64 ": %u\n", value, sqlite_execute(conn, S(sql)));
}

LUNATIC_EXPORT("reader") void reader(void) {
    uint64_t conn = open_db(getenv("DB"));
    uint64_t stmt = sqlite_prepare(conn, S("SELECT x FROM v ORDER BY x"));
    while (sqlite_step(stmt) == 100) print_row(stmt);
}

LUNATIC_EXPORT("hold_lock") void hold_lock(void) {
    uint64_t conn = open_db(getenv("DB"));
    sqlite_execute(conn, S("CREATE TABLE IF NOT EXISTS v (x INTEGER)"));
    printf("begin immediate: %u\n", sqlite_execute(conn, S("BEGIN IMMEDIATE")));
    uint64_t stmt = sqlite_prepare(conn, S("SELECT x FROM v"));
    sqlite_step(stmt); /* a statement in the middle of its rows, too */
    /* ends without COMMIT, finalize or close */
}

int main(void) { return 0; }
