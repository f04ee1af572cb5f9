/**
 * Compatibility with guests built by the `lunatic` Rust crate 0.14.1 (spec §1, §6):
 * every host function such a binary imports links with its exact signature; the ones not
 * implemented yet fail only when called, with `not supported yet: <module>::<function>`;
 * metrics calls are accepted; and a C guest that makes the calls lunatic-rs makes (spawning
 * closures through `_lunatic_spawn_by_index_0.14.1`, request/reply, a supervisor) runs.
 *
 * Guests: tests/guests/all_lunatic_rs_imports.wat (declares every import listed in
 * shared/spec/lunatic-rs-imports.txt) and tests/guests/lunatic_rs_style.c.
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { parseModule } from "../runtime/wasm/module_info.ts";
import { guestPath, outputLines, reasonOf, runRecorded } from "./helpers/run_guest.ts";

/** The list of lunatic-rs imports, outside the repository (`../shared/spec/` from its root). */
const IMPORT_LIST = fileURLToPath(
  new URL("../../shared/spec/lunatic-rs-imports.txt", import.meta.url),
);
const IMPORTS_WAT = fileURLToPath(
  new URL("./guests/all_lunatic_rs_imports.wat", import.meta.url),
);

/** `module name (params) -> (results)`, one string per import. */
function signature(module: string, name: string, params: string[], results: string[]): string {
  return `${module} ${name} (${params.join(", ")}) -> (${results.join(", ")})`;
}

/** Parses lunatic-rs-imports.txt: `[module]` headers, then `  name (params) -> (results)`. */
function parseImportList(text: string): string[] {
  const imports: string[] = [];
  let module: string | null = null;
  for (const line of text.split("\n")) {
    const header = line.match(/^\[(\S+)\]/);
    if (header) {
      module = header[1];
      continue;
    }
    const entry = line.match(/^\s+(\S+) \(([^)]*)\) -> \(([^)]*)\)\s*$/);
    if (entry && module !== null) {
      const list = (s: string) => s.split(",").map((t) => t.trim()).filter((t) => t !== "");
      imports.push(signature(module, entry[1], list(entry[2]), list(entry[3])));
    }
  }
  return imports;
}

/** The function imports the .wat source declares. */
function parseWatImports(text: string): string[] {
  const imports: string[] = [];
  const pattern =
    /\(import "([^"]+)" "([^"]+)" \(func \$\S+((?: \(param [^)]*\))?)((?: \(result [^)]*\))?)\)\)/g;
  for (const [, module, name, params, results] of text.matchAll(pattern)) {
    const types = (s: string) => s.replace(/^ \((param|result) /, "").replace(/\)$/, "");
    const list = (s: string) => s === "" ? [] : types(s).split(" ");
    imports.push(signature(module, name, list(params), list(results)));
  }
  return imports;
}

Deno.test("all_lunatic_rs_imports.wat declares exactly the lunatic-rs import list, and its build matches", async () => {
  const wat = await Deno.readTextFile(IMPORTS_WAT);
  const declared = parseWatImports(wat);
  const built = parseModule(await Deno.readFile(guestPath("all_lunatic_rs_imports"))).imports
    .map((i) => signature(i.module, i.name, i.type!.params, i.type!.results));
  assert.deepEqual(built, declared, "the built .wasm is out of date with the .wat");
  assert.equal(new Set(declared).size, declared.length, "an import is declared twice");
  let list: string;
  try {
    list = await Deno.readTextFile(IMPORT_LIST);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      console.warn(`${IMPORT_LIST} is not there: the list check is skipped`);
      assert.equal(declared.length, 116);
      return;
    }
    throw error;
  }
  const expected = parseImportList(list);
  assert.equal(expected.length, 116, "the import list changed size");
  assert.deepEqual([...declared].sort(), [...expected].sort());
});

Deno.test("a module importing every lunatic-rs host function instantiates and runs; metrics calls are accepted", async () => {
  const { stdout, outcome } = await runRecorded("all_lunatic_rs_imports");
  assert.deepEqual(outcome, { kind: "normal" });
  assert.deepEqual(outputLines(stdout), [
    "all lunatic-rs imports linked",
    "node_id=0",
    "module_id=0",
    "nodes_count=0",
    "process_id=1",
    "receive=0",
    "tag=129",
    "metrics accepted", // counter, increment_counter, increment/decrement_gauge, histogram
    "done",
  ]);
});

Deno.test("metrics calls with a name that is not UTF-8, or outside memory, trap", async () => {
  {
    const { stdout, outcome } = await runRecorded("all_lunatic_rs_imports", {
      entry: "metrics_bad_name",
    });
    assert.equal(stdout, "");
    assert.equal(reasonOf(outcome), "metric name is not valid UTF-8");
  }
  {
    const { stdout, outcome } = await runRecorded("all_lunatic_rs_imports", {
      entry: "metrics_oob",
    });
    assert.equal(stdout, "");
    assert.match(reasonOf(outcome), /^out of bounds memory access: 100 bytes at 0xfffffff0/);
  }
});

Deno.test("lunatic-rs style: closures spawned by table index with their capture as the first message, request/reply, a restarting supervisor", async () => {
  const { stdout, outcome, exits } = await runRecorded("lunatic_rs_style");
  assert.deepEqual(outcome, { kind: "normal" });
  assert.deepEqual(outputLines(stdout), [
    "root: pid 1 on node 0",
    // spawn(link 0, -1, -1, "_lunatic_spawn_by_index_0.14.1", [i32 wrapper, i32 entry])
    "hello: a closure without captures runs as pid 2",
    "root: process 2 ended",
    // the capture (parent, init tag, 10) arrived as the first, untagged message
    "server: init with 10 as pid 3",
    "root: server started: Ok=yes (init tag 129)", // Tag::new() starts at 129
    // (handler << 56) | tag; the reply comes back tagged with the low 56 bits
    "root: add(5) -> status 0, 1 value(s) [send tag 0x0100000000000082, reply tag 130]",
    "root: count = 15",
    "root: add(7) -> status 0, 1 value(s) [send tag 0x0100000000000083, reply tag 131]",
    "root: count = 22",
    "root: get() -> status 0, 1 value(s) [send tag 0x0200000000000084, reply tag 132]",
    "root: count = 22",
    "server: terminating with count 22",
    "root: shutdown() -> status 0, 0 value(s) [send tag 0x2000000000000085, reply tag 133]",
    "root: process 3 ended",
    "supervisor: pid 4, die_when_link_dies(0)",
    "worker 0: running as pid 5",
    // the supervisor's own Tag::new() counter: 129 for the link, 130 for the startup reply
    "supervisor: worker 0 started as pid 5 (link tag 129, init tag 130)",
    "worker 1: running as pid 6",
    "supervisor: worker 1 started as pid 6 (link tag 131, init tag 132)",
    "root: supervisor started: Ok=yes (init tag 134)",
    "root: children() -> status 0, 2 value(s) [send tag 0x0100000000000087, reply tag 135]",
    "root: children are 5 and 6",
    "root: telling worker 0 (pid 5) to crash",
    "worker 0: crashing",
    // LinkDied message (not death: die_when_link_dies(0)) carrying the spawn's link tag
    "supervisor: link tag 129 died: worker 0 (pid 5) failed, restarting it",
    "worker 0: running as pid 7",
    "supervisor: worker 0 started as pid 7 (link tag 133, init tag 134)",
    "root: worker 0 was restarted as pid 7 (link tag 133)",
    "root: telling worker 1 (pid 6) to crash",
    "worker 1: crashing",
    "supervisor: link tag 131 died: worker 1 (pid 6) failed, restarting it",
    "worker 1: running as pid 8",
    "supervisor: worker 1 started as pid 8 (link tag 135, init tag 136)",
    "root: worker 1 was restarted as pid 8 (link tag 135)",
    "root: children() -> status 0, 2 value(s) [send tag 0x0100000000000088, reply tag 136]",
    "root: children are 7 and 8",
    "supervisor: shutting down, killing 2 children",
    "root: shutdown() -> status 0, 0 value(s) [send tag 0x2000000000000089, reply tag 137]",
    "root: process 4 ended",
    "root: done",
  ]);
  assert.deepEqual(
    Object.fromEntries([...exits].map(([pid, o]) => [pid, reasonOf(o)])),
    {
      1: "(normal)",
      2: "(normal)",
      3: "(normal)",
      4: "(normal)",
      5: "unreachable", // the crashed workers
      6: "unreachable",
      7: "killed", // the restarted ones, killed at shutdown
      8: "killed",
    },
  );
});
