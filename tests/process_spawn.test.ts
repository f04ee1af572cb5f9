/**
 * `lunatic::process::spawn` and process identity (spec §1.3, §2.1, §2.3): parameter records,
 * module_id / config_id -1, process_id, environment_id and exists.
 *
 * Guests: tests/guests/process_spawn.wat, tests/guests/c_spawn_workers.c.
 */
import assert from "node:assert/strict";
import { outputLines, reasonOf, runRecorded } from "./helpers/run_guest.ts";

Deno.test("spawn passes i32 and i64 parameter records in order, using only the low 32/64 bits", async () => {
  const { stdout, exits } = await runRecorded("process_spawn");
  assert.deepEqual(outputLines(stdout, "child "), [
    "child a=-7", // [0x7f][f9 ff ff ff, junk]: the low 32 bits
    "child b=4294967298", // [0x7e][0x1_0000_0002, junk above bit 64]
    "child c=2147483647",
    "child pid=2",
    "child environment=1",
    "child got=go",
  ]);
  assert.deepEqual(exits.get(2), { kind: "normal" });
});

Deno.test("process_id, environment_id (1 under run) and exists as the root sees them", async () => {
  const { stdout, outcome, exitCode } = await runRecorded("process_spawn");
  assert.deepEqual(outputLines(stdout, "root "), [
    "root pid=1",
    "root environment=1",
    "root exists_self=1",
    "root exists_unknown=0",
    "root exists_zero=0",
    "root spawn_status=0", // spawn returns 0 and writes the PID
    "root child_pid=2",
    "root exists_child=1", // registered while it runs
    "root receive=2", // ProcessDied of the monitored child
    "root died=2",
    "root exists_after=0", // gone once it has ended
    "root noop_pid=3",
    "root noop_pid=4",
    "root noop_pid=5",
    "root done",
  ]);
  assert.deepEqual(outcome, { kind: "normal" });
  assert.equal(exitCode, 0);
});

Deno.test("spawn with module -1 and config -1 runs an export of the caller's module; PIDs count up, never reused", async () => {
  const { stdout, exits } = await runRecorded("process_spawn");
  assert.equal(outputLines(stdout, "noop ran").length, 3);
  assert.deepEqual([...exits.keys()].sort(), [1, 2, 3, 4, 5]);
  for (const [pid, outcome] of exits) assert.deepEqual(outcome, { kind: "normal" }, `pid ${pid}`);
  // The root waited for each child, so its last line comes last.
  assert.ok(stdout.endsWith("root done\n"));
});

Deno.test("environment_id is the root's environment, inherited by spawned processes", async () => {
  const { stdout } = await runRecorded("process_spawn", { environmentId: 7 });
  assert.deepEqual(outputLines(stdout, "root environment"), ["root environment=7"]);
  assert.deepEqual(outputLines(stdout, "child environment"), ["child environment=7"]);
  assert.deepEqual(outputLines(stdout, "root pid"), ["root pid=1"]);
});

Deno.test("C guest: workers get (i64, i32, negative i64) parameters; results collected by tag in reverse", async () => {
  const { stdout, outcome, exits } = await runRecorded("c_spawn_workers");
  assert.deepEqual(outcome, { kind: "normal" });
  assert.deepEqual(outputLines(stdout, "root:"), [
    "root: version 0.13.2",
    "root: spawned worker 0 as 2",
    "root: spawned worker 1 as 3",
    "root: spawned worker 2 as 4",
    "root: spawned worker 3 as 5",
    "root: result 3 = -3000000000000",
    "root: result 2 = -2000000000000",
    "root: result 1 = -1000000000000",
    "root: result 0 = 0",
    "root: all 4 workers ended",
    // spawn of a missing export succeeds; the child then fails and the link reports the tag
    "root: spawn missing_export: status 0, pid 6",
    "root: receive 1, tag 7, process id 0",
  ]);
  assert.deepEqual(outputLines(stdout, "worker").sort(), [
    "worker 0: pid 2, parent 1, factor -1000000000000",
    "worker 1: pid 3, parent 1, factor -1000000000000",
    "worker 2: pid 4, parent 1, factor -1000000000000",
    "worker 3: pid 5, parent 1, factor -1000000000000",
  ]);
  for (const pid of [2, 3, 4, 5]) assert.deepEqual(exits.get(pid), { kind: "normal" });
  assert.equal(reasonOf(exits.get(6)), "Function 'missing_export' not found");
});
