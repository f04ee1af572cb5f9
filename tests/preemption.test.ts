/**
 * Preemption and fault containment: a process that never calls the host cannot stop others,
 * timers or the event loop; fuel and memory limits fail only the process that exceeds them;
 * a stack overflow or a kill of a running process is a process failure, never a runtime crash.
 */
import assert from "node:assert/strict";
import { outputLines, runRecorded } from "./helpers/run_guest.ts";

/** Runs an export of preemption.wasm as the root, recording every process's outcome. */
function run(entry: string, entryArgs: (number | bigint)[] = []) {
  return runRecorded("preemption", { entry, entryArgs });
}

Deno.test("spinning processes do not stop a ping-pong pair, a sleep or a host timer", async () => {
  let timerFired = false;
  const timer = setTimeout(() => timerFired = true, 5);
  const result = await run("spinners_and_ping_pong");
  clearTimeout(timer);
  assert.equal(result.exitCode, 0);
  assert.equal(result.stdout, "pongs=200\nwoke=1\n");
  assert.ok(timerFired, "a host timer fired while four processes spun");
  // The four spinners (2..5) were killed while running and failed with that reason.
  for (const pid of [2, 3, 4, 5]) {
    assert.deepEqual(result.exits.get(pid), { kind: "failure", reason: "killed" }, `pid ${pid}`);
  }
});

Deno.test("a process out of fuel fails with 'out of fuel'; the limit is in units of 100,000", async () => {
  // 1 unit = 100,000 instructions: counting to 1,000,000 (several instructions a step) exceeds it.
  const starved = await run("fuel_limited", [1n, 1_000_000n]);
  assert.equal(starved.exitCode, 0);
  assert.equal(starved.stdout, "");
  const outOfFuel = starved.exits.get(2);
  assert.equal(outOfFuel?.kind === "failure" && outOfFuel.reason, "out of fuel");
  // Counting to 1,000 fits in one unit; 0 means unlimited.
  const small = await run("fuel_limited", [1n, 1_000n]);
  assert.equal(small.stdout, "counted=1000\n");
  assert.deepEqual(small.exits.get(2), { kind: "normal" });
  const unlimited = await run("fuel_limited", [0n, 3_000_000n]);
  assert.equal(unlimited.stdout, "counted=3000000\n");
});

Deno.test("memory.grow past max_memory returns -1 in the guest; the process goes on", async () => {
  const result = await run("memory_limited", [4n * 65536n]);
  assert.equal(result.stdout, "spawn_result=0\ngrow_ok=3\ngrow_past_limit=-1\n");
  assert.deepEqual(result.exits.get(2), { kind: "normal" });
});

Deno.test("a module whose initial memory exceeds max_memory fails to spawn with the limit named", async () => {
  const result = await run("memory_limited", [65535n]);
  assert.equal(
    result.stdout,
    "spawn_result=1\nmemory minimum size of 1 pages exceeds memory limits (0 pages allowed)",
  );
  assert.equal(result.exitCode, 0);
});

Deno.test("a stack overflow fails only that process", async () => {
  const result = await run("overflow_is_contained");
  assert.equal(result.stdout, "pongs=1\n");
  const overflow = result.exits.get(2);
  assert.equal(overflow?.kind, "failure");
  assert.match(overflow?.kind === "failure" ? overflow.reason : "", /call stack exhausted/);
  assert.equal(result.exitCode, 0);
});

Deno.test("a process that kills itself dies at its next check even in an infinite loop", async () => {
  const result = await run("kill_self_then_spin");
  assert.deepEqual(result.outcome, { kind: "failure", reason: "killed" });
});

Deno.test("a process spawning in a loop lets its children run before the loop ends", async () => {
  // 2,000 spawns are ~60,000 instructions: one slice, were slices counted in instructions
  // alone. They take the host tens of milliseconds, so slices shrink to about a millisecond.
  const result = await runRecorded("spawn_fairness");
  assert.equal(result.exitCode, 0);
  const [during, total] = outputLines(result.stdout);
  const replied = Number(/^replies when the loop ended: (\d+)$/.exec(during)?.[1]);
  assert.ok(replied >= 1000, `only ${replied} of 2000 children had replied: ${during}`);
  assert.equal(total, "replies: 2000");
});
