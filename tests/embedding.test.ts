/**
 * The embedding API (mod.ts): every `run` is PID 1 of a fresh environment with its own
 * registry; a deadlocked run ends with a deadlock outcome even while the embedder keeps the
 * event loop busy; a root waiting for a message that a sleeping process or a timer will send
 * is not a deadlock; failure reports go to the sink the embedder gives.
 *
 * Guest: tests/guests/embedding.c (one export per scenario, run as the root).
 */
import assert from "node:assert/strict";
import {
  CaptureSink,
  DEADLOCK_EXIT_CODE,
  DEADLOCK_REASON,
  EMPTY_INPUT,
  Lunatic,
} from "../lunatic.ts";
import { guestPath, outputLines, runGuest, runRecorded } from "./helpers/run_guest.ts";

const GUEST = guestPath("embedding");

Deno.test("each run is PID 1 of a fresh environment with an empty registry", async () => {
  const lunatic = new Lunatic();
  for (let run = 0; run < 3; run++) {
    const { stdout, exitCode } = await runGuest(GUEST, { lunatic, entry: "identity" });
    assert.equal(exitCode, 0);
    assert.equal(stdout, "pid 1 environment 1 registry empty\n", `run ${run}`);
  }
  const { stdout } = await runGuest(GUEST, { lunatic, entry: "identity", environmentId: 7 });
  assert.equal(stdout, "pid 1 environment 7 registry empty\n");
});

Deno.test("a deadlocked embedded run ends with a deadlock outcome while the event loop is busy", async () => {
  // The embedder's own timer keeps the event loop alive: the runtime must notice by itself.
  const busy = setInterval(() => {}, 5);
  try {
    const { stdout, outcome, exitCode, exits } = await runRecorded(GUEST, { entry: "deadlocked" });
    assert.equal(stdout, "waiting\n");
    assert.equal(exitCode, DEADLOCK_EXIT_CODE);
    assert.equal(outcome.kind, "failure");
    assert.ok(outcome.kind === "failure" && outcome.deadlock === true);
    assert.equal(outcome.reason, DEADLOCK_REASON);
    // The child that waited with it was ended too, also as a deadlock.
    const child = exits.get(2);
    assert.ok(child?.kind === "failure" && child.deadlock === true, JSON.stringify(child));
  } finally {
    clearInterval(busy);
  }
});

Deno.test("waiting for a message a sleeping process or a pending timer will send is no deadlock", async () => {
  for (
    const [entry, line] of [
      ["waits_for_sleeper", "received 0 from the sleeper"],
      ["waits_for_timer", "received 0 from the timer"],
    ]
  ) {
    const { stdout, outcome } = await runGuest(GUEST, { entry });
    assert.deepEqual(outcome, { kind: "normal" }, entry);
    assert.deepEqual(outputLines(stdout), [line]);
  }
});

Deno.test("failure reports go to the embedder's sink; a root's failure is its outcome only", async () => {
  const reports: string[] = [];
  const lunatic = new Lunatic({ failureReports: (report) => reports.push(report) });
  const { outcome } = await runGuest(guestPath("cli_trap"), { lunatic });
  assert.equal(outcome.kind === "failure" && outcome.reason, "unreachable");
  assert.deepEqual(reports, [], "the root's failure is not reported");

  const { stdout } = await runGuest(GUEST, { lunatic, entry: "failing_child" });
  assert.equal(stdout, "child 2 died\n");
  assert.equal(reports.length, 1);
  assert.match(
    reports[0],
    /^Process 2 failed, notifying: 0 links: unreachable\nwasm backtrace:\n +0: +0x[0-9a-f]+ - embedding\.wasm!child_traps\n/,
  );
});

Deno.test("a failure is reported after the linked process got its LinkDied, not before", async () => {
  const stdout = new CaptureSink();
  const seenAtReport: string[] = [];
  const lunatic = new Lunatic({ failureReports: () => seenAtReport.push(stdout.text()) });
  const { outcome } = await lunatic.run(GUEST, {
    entry: "link_died",
    stdio: { stdin: EMPTY_INPUT, stdout, stderr: new CaptureSink() },
  });
  lunatic.runtime.failures.flush();
  assert.deepEqual(outcome, { kind: "normal" });
  // The report (with its backtrace) was made once the root had run on LinkDied.
  assert.deepEqual(seenAtReport, ["LinkDied from child 2, tag 7\n"]);
});

Deno.test("a cascade of alike failures is reported as three reports and one summary line", async () => {
  const reports: string[] = [];
  const lunatic = new Lunatic({ failureReports: (report) => reports.push(report) });
  const { outcome } = await runGuest(GUEST, { lunatic, entry: "cascade" });
  assert.equal(outcome.kind === "failure" && outcome.reason, "unreachable");
  lunatic.runtime.failures.flush();
  assert.equal(reports.length, 4, reports.join("\n"));
  for (const report of reports.slice(0, 3)) {
    assert.match(report, /^Process \d+ failed, notifying: 0 links: linked process 1 failed$/);
  }
  assert.equal(
    reports[3],
    "... and 47 more processes failed the same way (linked process 1 failed)",
  );
});
