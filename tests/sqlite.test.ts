/**
 * lunatic::sqlite through a C guest that speaks lunatic-rs's bincode (tests/guests/sqlite_wire.c):
 * every call with its results and payloads, the preopen check on open, bad input confined to
 * its process with the SQLite message, two processes sharing a database file, and a process's
 * connections and statements released when it ends.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { compileWat } from "./helpers/compile.ts";
import { reasonOf, runGuest } from "./helpers/run_guest.ts";

const GUEST = "sqlite_wire";

Deno.test("sqlite: open, execute, prepare, bind, step, rows, columns, changes, errors", async () => {
  const run = await runGuest(GUEST, { entry: "roundtrip", env: {} });
  assert.equal(reasonOf(run.outcome), "(normal)", run.stderr);
  assert.equal(
    run.stdout,
    `open :memory: with a null id pointer: 0
execute create: 0
insert statement: 0
step insert: 101, changes 1
step insert: 101
execute two statements: 0, changes 2
column_count: 4
column_names (4): id name score data
column_name 1: name (4 bytes, raw)
row (63 bytes): Integer(1) Text(alice) Double(9.5) Blob[1 2]
row (43 bytes): Integer(2) Text(bob) Null Null
row (53 bytes): Integer(3) Text(carol) Double(8) Null
step: 101
step after reset: 100; read_column 1: Text(alice)
step quoted: 100; Text(double-quoted)
execute duplicate: 19
last_error: code 19, "UNIQUE constraint failed: t.id"
execute bad sql: 1
last_error: code 1, "near "SELEKT": syntax error"
execute attach: 23
execute vacuum into: 23
`,
  );
});

async function withDir(body: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.realPath(await Deno.makeTempDir({ prefix: "sqlite_" }));
  try {
    await body(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("sqlite: a database opens only inside the caller's preopens, after .. and symlinks", async () => {
  await withDir(async (dir) => {
    const inside = join(dir, "inside");
    await Deno.mkdir(inside);
    await Deno.symlink(join(dir, "outside.db"), join(inside, "link.db"));
    const open = (path: string) =>
      runGuest(GUEST, { entry: "open_path", env: { DB: path }, dirs: [inside], defaultDir: false });
    assert.equal(
      (await open(join(inside, "app.db"))).stdout,
      `open ${join(inside, "app.db")}: 0\n`,
    );
    assert.equal((await open(":memory:")).stdout, "open :memory:: 0\n");
    for (
      const path of [
        join(dir, "outside.db"),
        join(inside, "..", "outside.db"),
        join(inside, "link.db"),
        "/etc/x.db",
        `file:${join(inside, "uri.db")}`,
      ]
    ) {
      const run = await open(path);
      assert.equal(run.stdout, `open ${path}: 1, Failed to access '${path}'\n`, path);
    }
    assert.ok(!(await exists(join(dir, "outside.db"))), "nothing was created outside");
  });
});

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch {
    return false;
  }
}

Deno.test("sqlite: bad input fails only the calling process, with the reason", async () => {
  const cases: [string, RegExp][] = [
    ["bad_prepare", /^lunatic::sqlite::query_prepare: no such table: missing/],
    ["bad_bincode", /^lunatic::sqlite::bind_value: unknown bind key variant 9/],
    ["unknown_statement", /^lunatic::sqlite::sqlite3_step: unknown statement id 77/],
    ["no_error", /^lunatic::sqlite::last_error: the connection has no error/],
  ];
  for (const [entry, reason] of cases) {
    const run = await runGuest(GUEST, { entry, env: {} });
    assert.match(reasonOf(run.outcome), reason, entry);
    assert.ok(!run.stdout.includes("NOT REACHED"), entry);
  }
});

Deno.test("sqlite: processes writing one database file see each other's rows", async () => {
  await withDir(async (dir) => {
    const db = join(dir, "shared.db");
    const options = (entry: string, args: bigint[] = []) => ({
      entry,
      entryArgs: args,
      env: { DB: db },
      dirs: [dir],
      defaultDir: false,
    });
    assert.equal((await runGuest(GUEST, options("writer", [7n]))).stdout, "insert 7: 0\n");
    assert.equal((await runGuest(GUEST, options("writer", [8n]))).stdout, "insert 8: 0\n");
    assert.equal(
      (await runGuest(GUEST, options("reader"))).stdout,
      "row (20 bytes): Integer(7)\nrow (20 bytes): Integer(8)\n",
    );
    // A process that ends inside a write transaction, with a statement mid-way: its
    // connection closes with it, so the lock is gone and the next writer gets in.
    assert.equal((await runGuest(GUEST, options("hold_lock"))).stdout, "begin immediate: 0\n");
    assert.equal((await runGuest(GUEST, options("writer", [9n]))).stdout, "insert 9: 0\n");
    assert.match((await runGuest(GUEST, options("reader"))).stdout, /Integer\(9\)\n$/);
  });
});

Deno.test("sqlite: --allow without lunatic::sqlite:: denies its calls", async () => {
  const run = await runGuest(GUEST, {
    entry: "roundtrip",
    env: {},
    allow: ["wasi_snapshot_preview1::"],
  });
  assert.match(reasonOf(run.outcome), /permission denied: lunatic::sqlite::open/);
});

Deno.test("sqlite: a module without lunatic_alloc fails when a call returns memory, naming the export", async () => {
  const wasm = await compileWat(`(module
    (import "lunatic::sqlite" "open" (func $open (param i32 i32 i32) (result i64)))
    (import "lunatic::sqlite" "query_prepare" (func $prepare (param i64 i32 i32) (result i64)))
    (import "lunatic::sqlite" "sqlite3_step" (func $step (param i64) (result i32)))
    (import "lunatic::sqlite" "read_row" (func $row (param i64 i32) (result i32)))
    (memory (export "memory") 1)
    (data (i32.const 100) ":memory:")
    (data (i32.const 200) "SELECT 1")
    (func (export "_start")
      (drop (call $open (i32.const 100) (i32.const 8) (i32.const 0)))
      (drop (call $prepare (i64.const 0) (i32.const 200) (i32.const 8)))
      (drop (call $step (i64.const 0)))
      (drop (call $row (i64.const 0) (i32.const 300)))))`);
  const path = await Deno.makeTempFile({ suffix: ".wasm" });
  try {
    await Deno.writeFile(path, wasm);
    const run = await runGuest(path, { env: {} });
    assert.match(reasonOf(run.outcome), /`lunatic_alloc` export, which it lacks/);
  } finally {
    await Deno.remove(path);
  }
});
