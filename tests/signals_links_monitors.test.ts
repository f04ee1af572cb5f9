/**
 * Links, die_when_link_dies, monitors and the LinkDied / ProcessDied messages
 * (spec §1.3, §2.3 "Linking on spawn", §2.4–§2.6).
 *
 * Guests: tests/guests/signals_links.wat (one export per scenario, run as the root) and
 * tests/guests/c_link_exit_codes.c.
 */
import assert from "node:assert/strict";
import { CaptureSink, EMPTY_INPUT } from "../lunatic.ts";
import type { ProcessOutcome } from "../runtime/process.ts";
import {
  guestPath,
  outputLines,
  quietLunatic,
  reasonOf,
  type RecordedRun,
  runRecorded,
} from "./helpers/run_guest.ts";

const GUEST = "signals_links";

/**
 * Runs a guest export as the root and records every process's end. `outliving` lists PIDs
 * that end after the root: the run then also waits for them, and the output includes theirs
 * (runRecorded returns as soon as the root ends, so this captures the output itself).
 */
async function scenario(
  entry: string | undefined,
  outliving: number[] = [],
  guest = GUEST,
): Promise<RecordedRun> {
  if (outliving.length === 0) return await runRecorded(guest, { entry });
  const failureReports: string[] = [];
  const lunatic = quietLunatic(failureReports);
  const exits = new Map<number, ProcessOutcome>();
  const onEnd = new Map<number, () => void>();
  const ends = outliving.map((pid) => new Promise<void>((resolve) => onEnd.set(pid, resolve)));
  lunatic.runtime.onProcessExit((process, outcome) => {
    exits.set(process.id, outcome);
    onEnd.get(process.id)?.();
  });
  const stdout = new CaptureSink();
  const stderr = new CaptureSink();
  const result = await lunatic.run(guestPath(guest), {
    entry,
    stdio: { stdin: EMPTY_INPUT, stdout, stderr },
  });
  await Promise.all(ends);
  lunatic.runtime.failures.flush();
  return { ...result, stdout: stdout.text(), stderr: stderr.text(), exits, failureReports };
}

Deno.test("spawn-link: a failing child sends its parent LinkDied (receive 1) with the spawn tag and process id 0", async () => {
  const { stdout, outcome, exits } = await scenario("spawn_link_child_fails");
  assert.deepEqual(outputLines(stdout), [
    "child=2",
    "receive=1", // LinkDied
    "tag=42", // the spawn's link tag
    "process_id=0", // a LinkDied message does not expose the dead PID
    "exists=0",
    "tagged_receive=1", // a LinkDied carries its tag, so a tag list [43] selects it
    "tag=43",
    "alive", // die_when_link_dies(0): the parent lives on
  ]);
  assert.deepEqual(outcome, { kind: "normal" });
  assert.equal(reasonOf(exits.get(2)), "unreachable");
  assert.equal(reasonOf(exits.get(3)), "unreachable");
});

Deno.test("spawn-link asymmetry: when the parent fails, the child's LinkDied carries tag 0", async () => {
  const { stdout, outcome, exits } = await scenario("parent_fails", [2]);
  assert.equal(reasonOf(outcome), "unreachable");
  assert.deepEqual(outputLines(stdout, "child"), [
    "child receive=1",
    "child tag=0", // the parent side of a spawn link stores no tag
    "child process_id=0",
  ]);
  assert.deepEqual(exits.get(2), { kind: "normal" });
});

Deno.test("link(tag) stores the same tag on both sides: the child links with 55 and fails", async () => {
  const { stdout, outcome, exits } = await scenario("link_tag_child_fails");
  assert.deepEqual(outputLines(stdout), ["ready", "receive=1", "tag=55", "process_id=0", "alive"]);
  assert.deepEqual(outcome, { kind: "normal" });
  assert.equal(reasonOf(exits.get(2)), "unreachable");
});

Deno.test("link(tag) stores the same tag on both sides: the parent links with 66 and fails", async () => {
  const { stdout, outcome, exits } = await scenario("link_tag_parent_fails", [2]);
  assert.equal(reasonOf(outcome), "unreachable");
  assert.deepEqual(outputLines(stdout, "child"), [
    "child receive=1",
    "child tag=66",
    "child process_id=0",
  ]);
  assert.deepEqual(exits.get(2), { kind: "normal" });
});

Deno.test("link to a PID that does not exist: LinkDied at once (flag off), death at the next suspension (flag on)", async () => {
  const { stdout, outcome } = await scenario("link_missing");
  assert.deepEqual(outputLines(stdout), ["receive=1", "tag=77", "process_id=0", "linked"]);
  assert.equal(outcome.kind, "failure"); // "NOT REACHED" after sleep_ms was not printed
});

Deno.test("link to a PID that does not exist: the failure reason names that PID", async () => {
  // The process links to 998 (which does not exist) with die_when_link_dies on.
  const { outcome } = await scenario("link_missing");
  assert.match(reasonOf(outcome), /\b998\b/);
});

Deno.test("unlink removes the link: a later failure of the former link kills nobody", async () => {
  const { stdout, outcome, exits } = await scenario("unlinked_survives");
  assert.deepEqual(outputLines(stdout), ["died=2", "pending=9027", "alive"]);
  assert.deepEqual(outcome, { kind: "normal" });
  assert.equal(reasonOf(exits.get(2)), "unreachable");
});

Deno.test("a failed link kills a process with the default die_when_link_dies, which cascades to its links", async () => {
  const { stdout, outcome, exits } = await scenario("link_death_kills");
  assert.deepEqual(outputLines(stdout), [
    "middle=2",
    "middle waiting",
    "receive=1", // the middle's death reached the root as a LinkDied...
    "tag=1", // ...with the tag of the root's spawn link to it
    "process_id=0",
    "alive",
  ]);
  assert.deepEqual(outcome, { kind: "normal" });
  assert.equal(reasonOf(exits.get(3)), "unreachable");
  assert.equal(reasonOf(exits.get(2)), "linked process 3 failed");
});

Deno.test("linked processes that end normally (return, proc_exit(0)) kill nobody and send no LinkDied", async () => {
  const { stdout, outcome, exits } = await scenario("normal_end_no_kill");
  assert.deepEqual(outputLines(stdout), ["pending=9027", "pending=9027", "alive"]);
  assert.deepEqual(outcome, { kind: "normal" });
  for (const pid of [2, 3, 4]) assert.deepEqual(exits.get(pid), { kind: "normal" });
});

Deno.test("a child linked at spawn outlives a parent that returns normally", async () => {
  const { stdout, outcome, exits } = await scenario("parent_returns", [2]);
  assert.deepEqual(outcome, { kind: "normal" });
  assert.deepEqual(outputLines(stdout), [
    "parent returning",
    "child receive=2", // only its monitor reports the parent's end
    "child process_id=1",
    "child survived",
  ]);
  assert.deepEqual(exits.get(2), { kind: "normal" });
});

Deno.test("a child with the default flag dies when the parent it is linked to fails", async () => {
  const { stdout, outcome, exits } = await scenario("parent_fails_kills_child", [2]);
  assert.equal(reasonOf(outcome), "unreachable");
  assert.equal(reasonOf(exits.get(2)), "linked process 1 failed");
  assert.deepEqual(outputLines(stdout), []); // "NOT REACHED" was never printed
});

Deno.test("a killed linked child is a failure: the parent gets LinkDied with the spawn tag", async () => {
  const { stdout, exits } = await scenario("kill_linked");
  assert.deepEqual(outputLines(stdout), ["receive=1", "tag=6", "process_id=0", "alive"]);
  assert.equal(reasonOf(exits.get(2)), "killed");
});

Deno.test("monitor: ProcessDied (receive 2) with the dead PID and tag 0, for failed and normal ends; tag lists skip it", async () => {
  const { stdout, exits } = await scenario("monitor");
  assert.deepEqual(outputLines(stdout), [
    "child=2",
    "receive=2", // ProcessDied
    "tag=0",
    "process_id=2",
    "child=3",
    "tagged_receive=9027", // untagged: a tag list, even [0], never matches it
    "receive=2", // ...but a receive without tags takes it
    "tag=0",
    "process_id=3",
    "alive",
  ]);
  assert.equal(reasonOf(exits.get(2)), "unreachable");
  assert.deepEqual(exits.get(3), { kind: "normal" });
});

Deno.test("stop_monitoring: no ProcessDied arrives", async () => {
  const { stdout, exits } = await scenario("stop_monitoring");
  assert.deepEqual(outputLines(stdout), ["died=2", "pending=9027", "alive"]);
  assert.equal(reasonOf(exits.get(2)), "unreachable");
});

Deno.test("monitor of a PID that does not exist reports it as dead at once (this runtime's choice, spec §9.8)", async () => {
  // lunatic 0.13.2 ignores such a monitor; host/process.ts documents answering at once.
  const { stdout } = await scenario("monitor_missing");
  assert.deepEqual(outputLines(stdout), ["receive=2", "tag=0", "process_id=999", "alive"]);
});

Deno.test("C guest: exit codes, traps and kills of linked children; LinkDied comes before ProcessDied", async () => {
  const { stdout, outcome, exits } = await scenario(undefined, [], "c_link_exit_codes");
  assert.deepEqual(outputLines(stdout), [
    "child: exit(0)",
    "root: exit(0): ProcessDied (same pid)", // exit(0) is normal: no LinkDied
    "child: exit(5)",
    "root: exit(5): LinkDied tag 11",
    "root: exit(5): ProcessDied (same pid)",
    "root: crash: LinkDied tag 12",
    "root: crash: ProcessDied (same pid)",
    "root: killed: LinkDied tag 13",
    "root: killed: ProcessDied (same pid)",
    "root: returner: ProcessDied (same pid)",
    "root: skip search: status 0, reply fresh",
    "root: still queued: stale",
    "root: echo: ProcessDied (same pid)",
    "root: linking to a crash with die_when_link_dies(1)",
  ]);
  assert.deepEqual(exits.get(2), { kind: "normal" });
  assert.deepEqual(exits.get(3), { kind: "failure", reason: "exited with code 5", exitCode: 5 });
  assert.equal(reasonOf(exits.get(4)), "unreachable");
  assert.equal(reasonOf(exits.get(5)), "killed");
  assert.deepEqual(exits.get(6), { kind: "normal" });
  assert.deepEqual(exits.get(7), { kind: "normal" });
  assert.equal(reasonOf(exits.get(8)), "unreachable");
  assert.equal(reasonOf(outcome), "linked process 8 failed");
});
