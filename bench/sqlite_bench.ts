/**
 * lunatic::sqlite against `node:sqlite` used directly (`deno task bench`): 1,000 rows
 * inserted one prepared INSERT at a time, then the same plus reading them back row by row.
 * The guest (tests/guests/bench_sqlite.c) pays for what lunatic-rs pays for: bincode binds and
 * rows, a host call per bind, step and reset, and memory from its `lunatic_alloc` per row.
 * (A bench body that returns a promise must be an `async` function: deno bench does not wait
 * for one a plain function returns.)
 */
import { fileURLToPath } from "node:url";
import { DatabaseSync } from "node:sqlite";
import { Lunatic } from "../lunatic.ts";

const ROWS = 1_000;
const lunatic = new Lunatic();
const module = await lunatic.load(
  fileURLToPath(new URL("../tests/guests/build/bench_sqlite.wasm", import.meta.url)),
);

async function guest(entry: string): Promise<void> {
  const root = lunatic.spawnRoot(module, { entry, entryArgs: [ROWS], environmentId: 0 });
  const outcome = await root.exited;
  if (outcome.kind !== "normal") throw new Error(`bench_sqlite failed: ${outcome.reason}`);
}

function direct(select: boolean): void {
  const db = new DatabaseSync(":memory:");
  db.exec("CREATE TABLE t (id INTEGER, name TEXT)");
  const insert = db.prepare("INSERT INTO t VALUES (?, ?)");
  for (let i = 0; i < ROWS; i++) insert.run(i, "hello");
  if (select) {
    let seen = 0;
    for (const _ of db.prepare("SELECT id, name FROM t").iterate()) seen++;
    if (seen !== ROWS) throw new Error("rows missing");
  }
  db.close();
}

Deno.bench({
  name: "node:sqlite directly: insert 1,000 rows",
  group: "sqlite insert",
  baseline: true,
  fn: () => direct(false),
});
Deno.bench({
  name: "lunatic::sqlite from a guest: insert 1,000 rows",
  group: "sqlite insert",
  fn: async () => await guest("insert_rows"),
});
Deno.bench({
  name: "node:sqlite directly: insert and select 1,000 rows",
  group: "sqlite select",
  baseline: true,
  fn: () => direct(true),
});
Deno.bench({
  name: "lunatic::sqlite from a guest: insert and select 1,000 rows",
  group: "sqlite select",
  fn: async () => await guest("select_rows"),
});
