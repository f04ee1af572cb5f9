/**
 * `lunatic::registry` (spec §1.5), `lunatic::process::get_or_spawn` (§1.3) and
 * `lunatic::timer` (§1.4, §6.9).
 *
 * Guest: tests/guests/registry_timers.c (one export per scenario, run as the root).
 */
import assert from "node:assert/strict";
import { outputLines, reasonOf, type RecordedRun, runRecorded } from "./helpers/run_guest.ts";

/** Runs one scenario export as the root and records every process's end. */
function scenario(entry: string): Promise<RecordedRun> {
  return runRecorded("registry_timers", { entry });
}

/** The output lines with " after N ms" cut off, and the Ns in order. */
function timed(stdout: string): { lines: string[]; elapsed: number[] } {
  const elapsed: number[] = [];
  const output = outputLines(stdout).map((line) =>
    line.replace(/ after (\d+) ms$/, (_, ms: string) => {
      elapsed.push(Number(ms));
      return "";
    })
  );
  return { lines: output, elapsed };
}

/** setTimeout may fire up to a millisecond early by the guest's monotonic clock. */
const SLACK_MS = 2;

Deno.test("registry put/get/remove: get returns 1 for a missing name (nothing written), 0 with the node ID and PID", async () => {
  const { stdout, outcome } = await scenario("registry");
  assert.deepEqual(outcome, { kind: "normal" });
  assert.deepEqual(outputLines(stdout), [
    "root: get svc -> 1 (node 777, pid 777)", // missing: the out-pointers are untouched
    "root: get svc -> 0 (node 0, pid 42)", // put does not check that the process exists
    "root: get svc -> 0 (node 3, pid 7)", // put overwrites
    "root: get svc -> 1 (node 777, pid 777)", // removed
    "root: get  -> 0 (node 0, pid 9)", // the empty string is a valid name
    "root: done", // removing a missing name did not trap
  ]);
});

Deno.test("a registry name that is not UTF-8 traps", async () => {
  const { stdout, outcome } = await scenario("registry_bad_name");
  assert.deepEqual(outputLines(stdout), ["root: put with an invalid UTF-8 name"]);
  assert.equal(reasonOf(outcome), "registry name is not valid UTF-8");
});

Deno.test("names are shared by the processes of an environment and survive the process's death", async () => {
  const { stdout, outcome } = await scenario("registry_shared");
  assert.deepEqual(outcome, { kind: "normal" });
  assert.deepEqual(outputLines(stdout), [
    "registrar: get root -> 0 (node 0, pid 1)", // the root's entry, seen by its child
    "registrar: registered itself",
    "root: process 2 ended",
    "root: get registrar -> 0 (node 0, pid 2)", // the child's entry, seen by the root
    "root: registered pid 2 exists=0", // still registered after it ended
  ]);
});

Deno.test("get_or_spawn: 2 with the registered IDs for an existing name; otherwise spawns and registers; a failed spawn registers nothing", async () => {
  const { stdout, outcome, exits } = await scenario("get_or_spawn");
  assert.deepEqual(outcome, { kind: "normal" });
  // The spawned process runs concurrently with the root: its line is checked on its own.
  assert.deepEqual(outputLines(stdout).filter((line) => line.startsWith("named")), [
    "named 2: running as pid 2", // only the spawning call's parameters ever ran
  ]);
  assert.deepEqual(outputLines(stdout).filter((line) => line.startsWith("root:")), [
    "root: get_or_spawn taken -> 2 (node 0, pid 42)", // nothing spawned
    "root: get_or_spawn fresh -> 0 (node 0, pid 2)", // spawned, the local node ID is 0
    "root: get fresh -> 0 (node 0, pid 2)", // and registered
    "root: get_or_spawn fresh -> 2 (node 0, pid 2)",
    "root: process 2 ended",
    "root: get_or_spawn broken -> 1 (node 0): memory minimum size of 2 pages exceeds memory limits (0 pages allowed)",
    // lunatic registers the error ID under the name here (spec §9.7); this runtime does not
    "root: get broken -> 1 (node 777, pid 777)",
  ]);
  assert.deepEqual([...exits.keys()].sort(), [1, 2]);
  assert.equal(reasonOf(exits.get(2)), "(normal)");
});

Deno.test("send_after delivers after the delay; timer IDs count from 0; cancel_timer is 1 only for a pending timer", async () => {
  const { stdout, outcome } = await scenario("timers");
  assert.deepEqual(outcome, { kind: "normal" });
  const { lines: output, elapsed } = timed(stdout);
  assert.deepEqual(output, [
    "root: timer ids 0 1 2", // late (60 ms), early (10 ms), cancelled (30 ms)
    "root: cancel pending -> 1",
    "root: cancel again -> 0",
    "root: cancel unknown -> 0",
    'root: receive -> 0 tag 2 "early"', // by delay, not by order of creation
    "root: cancel fired -> 0", // already delivered
    'root: receive -> 0 tag 1 "late"',
    "root: receive -> 9027", // the cancelled message never arrives
    "root: next timer id 3", // IDs are never reused
    'root: receive -> 0 tag 4 "next"', // a delay of 0 still delivers
  ]);
  const [early, late] = elapsed;
  assert.ok(early >= 10 - SLACK_MS, `early after ${early} ms`);
  assert.ok(late >= 60 - SLACK_MS, `late after ${late} ms`);
});

Deno.test("send_after with no message in the scratch slot traps", async () => {
  const { stdout, outcome } = await scenario("send_after_empty");
  assert.deepEqual(outputLines(stdout), ["root: send_after without a message"]);
  assert.equal(reasonOf(outcome), "no message in the scratch slot to send");
});

Deno.test("a timer delivers to the process named when it was set: a PID that did not exist yet gets nothing", async () => {
  const { stdout, outcome, exits } = await scenario("timer_target");
  assert.deepEqual(outcome, { kind: "normal" });
  const { lines: output, elapsed } = timed(stdout);
  // The two waiters run side by side: only the root's own lines have an order of their own
  // (a loaded machine may time PID 2 out before PID 3's timer fires).
  assert.deepEqual([...output].sort(), [
    "root: process 2 ended",
    "root: process 3 ended",
    "root: spawned 2", // PID 2 came to exist right after its timer was set
    "root: spawned 3",
    'waiter: receive -> 0 tag 2 "to pid 3"',
    "waiter: receive -> 9027", // PID 2 waited 100 ms: its timer's message was dropped
  ]);
  assert.deepEqual(output.filter((line) => line.startsWith("root: ")), [
    "root: spawned 2",
    "root: spawned 3",
    "root: process 3 ended",
    "root: process 2 ended",
  ]);
  // The delivered message's own timing (the lines that carry one, in output order).
  const timedLines = outputLines(stdout).filter((line) => / after \d+ ms$/.test(line));
  const delivered = timedLines.findIndex((line) => line.includes('"to pid 3"'));
  assert.ok(elapsed[delivered] >= 10 - SLACK_MS, `delivered after ${elapsed[delivered]} ms`);
  assert.equal(reasonOf(exits.get(2)), "(normal)");
  assert.equal(reasonOf(exits.get(3)), "(normal)");
});

Deno.test("a timer outlives the process that set it", async () => {
  const { stdout, outcome } = await scenario("timer_survives");
  assert.deepEqual(outcome, { kind: "normal" });
  const { lines: output, elapsed } = timed(stdout);
  assert.deepEqual(output, [
    "setter: timer 0 set; exiting",
    "root: process 2 ended",
    "root: setter exists=0",
    'root: receive -> 0 tag 5 "from a dead creator"',
  ]);
  assert.ok(elapsed[0] >= 30 - SLACK_MS, `delivered after ${elapsed[0]} ms`);
});
