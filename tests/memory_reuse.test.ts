/**
 * Small memories of ended processes are zeroed and handed to new processes with the same
 * limits (runtime/memory_pool.ts): a process never sees what another left behind, its data
 * segments are as the module declares them, and a memory that grew is not reused.
 *
 * Guest: tests/guests/memory_reuse.c.
 */
import assert from "node:assert/strict";
import { Lunatic } from "../lunatic.ts";
import { MemoryPool, POOLED_MEMORY_MAX_PAGES } from "../runtime/memory_pool.ts";
import { parseModule } from "../runtime/wasm/module_info.ts";
import { guestPath, outputLines, runRecorded } from "./helpers/run_guest.ts";

const PAGE = 65_536;

Deno.test("a process that takes an ended process's memory finds it as a fresh instance has it", async () => {
  const lunatic = new Lunatic();
  const { stdout, exits, exitCode } = await runRecorded("memory_reuse", { lunatic });
  assert.equal(exitCode, 0);
  const initialPages = parseModule(Deno.readFileSync(guestPath("memory_reuse"))).memories[0].min;
  assert.ok(initialPages <= POOLED_MEMORY_MAX_PAGES, "the guest's memory is small enough to reuse");
  assert.deepEqual(outputLines(stdout), [
    "dirty 205", // it wrote its data, zero-initialised data and stack
    "check 0", // the next process's data, bss and stack are as new, its data segment restored
    `grow ${initialPages + 1}`,
    `size ${initialPages}`, // after a process that grew its memory, a memory of the initial size
    "check 0",
  ]);
  for (const [pid, outcome] of exits) assert.deepEqual(outcome, { kind: "normal" }, `pid ${pid}`);
  // Memories were kept for reuse (each child ran after the last had ended, so one serves all
  // but the one that grew: with no reuse, each of the other four would be here).
  assert.ok(lunatic.runtime.memories.bytes >= initialPages * PAGE);
  assert.ok(lunatic.runtime.memories.bytes <= 2 * initialPages * PAGE);
});

Deno.test("MemoryPool: a given memory comes back zeroed, only to a taker with the same limits", () => {
  const pool = new MemoryPool();
  const memory = pool.take(2, 4);
  assert.equal(memory.buffer.byteLength, 2 * PAGE);
  new Uint8Array(memory.buffer).fill(0x5a);
  pool.give(memory, 2, 4);
  assert.equal(pool.bytes, 2 * PAGE);

  const other = pool.take(2, 5); // another maximum: a new memory
  assert.notEqual(other, memory);
  assert.equal(pool.bytes, 2 * PAGE);

  const again = pool.take(2, 4);
  assert.equal(again, memory);
  assert.equal(pool.bytes, 0);
  assert.ok(new Uint8Array(again.buffer).every((byte) => byte === 0));
});

Deno.test("MemoryPool: grown, large and surplus memories are not kept", () => {
  const pool = new MemoryPool(3 * PAGE, 2);
  const grown = pool.take(1, 4);
  grown.grow(1);
  pool.give(grown, 1, 4);
  assert.equal(pool.bytes, 0, "a memory that grew cannot shrink back to its initial size");

  const large = pool.take(POOLED_MEMORY_MAX_PAGES + 1, POOLED_MEMORY_MAX_PAGES + 1);
  pool.give(large, POOLED_MEMORY_MAX_PAGES + 1, POOLED_MEMORY_MAX_PAGES + 1);
  assert.equal(pool.bytes, 0, "zeroing a large memory costs more than a fresh one");

  const empty = pool.take(0, 1);
  pool.give(empty, 0, 1);
  assert.equal(pool.bytes, 0);

  // Bounded by bytes (3 pages) and by count (2 memories).
  pool.give(pool.take(2, 2), 2, 2);
  pool.give(new WebAssembly.Memory({ initial: 2, maximum: 2 }), 2, 2);
  assert.equal(pool.bytes, 2 * PAGE);
  pool.give(new WebAssembly.Memory({ initial: 1, maximum: 1 }), 1, 1);
  assert.equal(pool.bytes, 3 * PAGE);
  pool.give(new WebAssembly.Memory({ initial: 1, maximum: 2 }), 1, 2);
  assert.equal(pool.bytes, 3 * PAGE);
});
