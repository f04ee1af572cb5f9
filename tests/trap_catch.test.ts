/**
 * `lunatic::trap::catch` (spec §1.8, §6.8): the host re-enters the guest through its export
 * `_lunatic_catch_trap(function, pointer)`, returns what it returns, or 0 when it traps, and
 * the process carries on. Kills and proc_exit are not traps: they are never caught.
 *
 * Guests: tests/guests/trap_catch.wat (one export per scenario, run as the root) and
 * tests/guests/trap_catch_missing.wat (no `_lunatic_catch_trap` export).
 */
import assert from "node:assert/strict";
import { outputLines, reasonOf, runRecorded } from "./helpers/run_guest.ts";

Deno.test("catch returns the inner result, or 0 when the inner code traps, and the process continues", async () => {
  const { stdout, outcome } = await runRecorded("trap_catch", { entry: "results" });
  assert.deepEqual(outputLines(stdout), [
    "catch ok=1041", // call_indirect function(pointer): 41 + 1000
    "catch unreachable=0",
    "catch oob=0", // out-of-bounds load
    "catch host_trap=0", // lunatic::error::drop of an unknown ID traps in the host
    "catch nested=7", // an inner catch caught the trap, the outer returned 0 + 7
    "catch div0=0", // integer divide by zero
    "catch suspending_trap=0", // a suspending host function (receive) that traps
    "catch trap_after_sleep=0", // a trap after the inner code was suspended (sleep_ms)
    "catch ok=1002", // and catch still works
    "entered=10", // globals keep what the trapped code did before the trap
    "still running",
  ]);
  assert.deepEqual(outcome, { kind: "normal" });
});

Deno.test("catch also returns 0 when the inner code exhausts the call stack", async () => {
  const { stdout, outcome } = await runRecorded("trap_catch", { entry: "recursion" });
  assert.deepEqual(outputLines(stdout), [
    "catch recurse: entering",
    "catch recurse=0",
    "catch ok=1001", // catch still works afterwards
    "still running",
  ]);
  assert.deepEqual(outcome, { kind: "normal" });
});

Deno.test("the inner code may block inside catch (receive, sleep_ms) while other processes run", async () => {
  const { stdout, outcome, exits } = await runRecorded("trap_catch", { entry: "blocking" });
  assert.deepEqual(outputLines(stdout), [
    "inner: waiting for a message",
    "sender: sending 77", // the sender ran while the root waited inside catch
    "inner: got it and slept",
    "catch blocking=77",
    "ended=2",
  ]);
  assert.deepEqual(outcome, { kind: "normal" });
  assert.equal(reasonOf(exits.get(2)), "(normal)");
});

Deno.test("a kill while inside catch still kills the process: it is not caught", async () => {
  const { stdout, outcome, exits } = await runRecorded("trap_catch", { entry: "kill_inside" });
  assert.deepEqual(outputLines(stdout), [
    "victim: entering catch",
    "killed=2", // the victim never printed what follows its catch
  ]);
  assert.deepEqual(outcome, { kind: "normal" });
  assert.equal(reasonOf(exits.get(2)), "killed");
});

Deno.test("proc_exit inside catch ends the process with its code: it is not caught", async () => {
  const { stdout, outcome, exitCode } = await runRecorded("trap_catch", { entry: "exit_inside" });
  assert.deepEqual(outputLines(stdout), ["catch exit: entering"]);
  assert.equal(reasonOf(outcome), "exited with code 3");
  assert.equal(exitCode, 3);
});

Deno.test("catch without a `_lunatic_catch_trap` export traps the caller", async () => {
  const { stdout, outcome } = await runRecorded("trap_catch_missing");
  assert.equal(stdout, "calling catch\n");
  assert.equal(
    reasonOf(outcome),
    "lunatic::trap::catch needs the export `_lunatic_catch_trap`, a function",
  );
});
