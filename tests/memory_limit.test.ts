/**
 * A config's `max_memory` holds whichever way the process was spawned: from a reused (pooled)
 * memory or a memory of its own, through `spawn` with a config ID or the parent's config,
 * `compile_module`, `get_or_spawn`, `distributed::spawn`, and as a root (run or test mode)
 * whose limit the embedder set. The guest mallocs and touches 1 MiB blocks until malloc
 * fails, grows its memory to exactly the 4 MiB limit, then asks for one page more: that must
 * be refused (-1), and the blocks it got must fit in the limit.
 *
 * Guests: tests/guests/memory_limit.c (small initial memory: pooled) and memory_limit_big.c
 * (20 initial pages: a memory of its own).
 */
import assert from "node:assert/strict";
import { dirname } from "node:path";
import { CaptureSink, EMPTY_INPUT, Lunatic, runTests } from "../lunatic.ts";
import { POOLED_MEMORY_MAX_PAGES } from "../runtime/memory_pool.ts";
import { parseModule } from "../runtime/wasm/module_info.ts";
import { guestPath, runGuest } from "./helpers/run_guest.ts";

const LIMIT_PAGES = 64; // 4 MiB
const GUESTS = {
  pooled: "memory_limit",
  own: "memory_limit_big",
} as const;

/** Checks one "<path>: blocks=<n> pages=<p> grow=<r>" line: the 4 MiB limit held. */
function assertLimited(line: string | undefined, path: string): void {
  const match = line?.match(/^(\S+): blocks=(\d+) pages=(\d+) grow=(-?\d+)$/);
  assert.ok(match, `no report from ${path}: ${line}`);
  const [, who, blocks, pages, grow] = match;
  assert.equal(who, path);
  assert.equal(Number(pages), LIMIT_PAGES, "the memory grew to exactly the limit");
  assert.equal(Number(grow), -1, "one page past the limit is refused");
  // malloc stopped inside the limit: at least two 1 MiB blocks fit, four never do.
  assert.ok(Number(blocks) >= 2 && Number(blocks) <= 3, `${blocks} blocks of 1 MiB`);
}

Deno.test("the two guests take the two memory paths: a pooled memory, and one of its own", () => {
  const pages = (name: string) => parseModule(Deno.readFileSync(guestPath(name))).memories[0].min;
  assert.ok(pages(GUESTS.pooled) <= POOLED_MEMORY_MAX_PAGES);
  assert.ok(pages(GUESTS.own) > POOLED_MEMORY_MAX_PAGES);
});

for (const [kind, guest] of Object.entries(GUESTS)) {
  for (
    const [entry, path] of [
      ["via_spawn", "spawn"],
      ["via_inherited", "inherited"],
      ["via_get_or_spawn", "get_or_spawn"],
      ["via_distributed_spawn", "distributed_spawn"],
    ]
  ) {
    Deno.test(`max_memory holds for a child spawned by ${path} (${kind} memory)`, async () => {
      // Twice in one runtime: the second child may get the memory the first gave back.
      const lunatic = new Lunatic();
      for (let round = 0; round < 2; round++) {
        const { stdout, exitCode } = await runGuest(guest, { entry, lunatic });
        assert.equal(exitCode, 0, stdout);
        assertLimited(stdout.trim(), path);
      }
    });
  }

  Deno.test(`max_memory holds for a child of a compile_module module (${kind} memory)`, async () => {
    const file = guestPath(guest);
    const { stdout, exitCode } = await runGuest(guest, { args: [file], dirs: [dirname(file)] });
    assert.equal(exitCode, 0, stdout);
    assertLimited(stdout.trim(), "compile_module");
  });

  Deno.test(`a root's maxMemory holds (${kind} memory)`, async () => {
    const { stdout, exitCode } = await runGuest(guest, {
      entry: "hog_self",
      maxMemory: BigInt(LIMIT_PAGES * 65_536),
    });
    assert.equal(exitCode, 0, stdout);
    assertLimited(stdout.trim(), "self");
  });

  Deno.test(`test mode: a test root's maxMemory and its child's config hold (${kind} memory)`, async () => {
    const lunatic = new Lunatic();
    const module = await lunatic.load(guestPath(guest));
    const report = new CaptureSink();
    const summary = await runTests(lunatic.runtime, module, {
      maxMemory: BigInt(LIMIT_PAGES * 65_536),
      showOutput: true,
      report,
      stdin: EMPTY_INPUT,
    });
    assert.equal(summary.passed, 2, report.text());
    const outputs = new Map(summary.results.map((result) => [result.name, result.output]));
    assertLimited(outputs.get("memory_limit::root_allocates")?.trim(), "self");
    assertLimited(outputs.get("memory_limit::child_allocates")?.trim(), "spawn");
  });
}

Deno.test("without a limit the same guest gets every block it asks for", async () => {
  const { stdout, exitCode } = await runGuest(GUESTS.pooled, { entry: "hog_self" });
  assert.equal(exitCode, 0, stdout);
  assert.match(stdout, /^self: blocks=16 pages=\d+ grow=\d+\n$/);
});
