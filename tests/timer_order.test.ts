/**
 * Timers keep deadline order under load: a timer whose deadline comes before a sleep's is
 * delivered before that sleep returns, with processes computing beside it and with the
 * thread stalled now and then (as a garbage collection or a long host call stalls it); timers
 * set out of order arrive in deadline order.
 *
 * Guest: tests/guests/timer_order.c.
 */
import assert from "node:assert/strict";
import { CaptureSink, EMPTY_INPUT, Lunatic } from "../lunatic.ts";
import { guestPath } from "./helpers/run_guest.ts";

/** Blocks the thread for `ms` now and then, as a collection or a big compilation would. */
function stallNowAndThen(ms: number, everyMs: number): () => void {
  const timer = setInterval(() => {
    const end = performance.now() + ms;
    while (performance.now() < end) { /* the thread is held */ }
  }, everyMs);
  return () => clearInterval(timer);
}

Deno.test("a timer due before a sleep ends is delivered before the sleep returns, under load and stalls", async () => {
  const lunatic = new Lunatic({ failureReports: () => {} });
  const module = await lunatic.load(guestPath("timer_order"));
  const quiet = { stdin: EMPTY_INPUT, stdout: new CaptureSink(), stderr: new CaptureSink() };
  const spinners = [0, 1].map(() => lunatic.spawnRoot(module, { entry: "spin", stdio: quiet }));
  const stopStalls = stallNowAndThen(25, 40);
  try {
    const stdout = new CaptureSink();
    const root = lunatic.spawnRoot(module, {
      entry: "before_sleep",
      entryArgs: [30],
      stdio: { ...quiet, stdout },
    });
    assert.deepEqual(await root.exited, { kind: "normal" });
    assert.equal(stdout.text(), "missed 0 of 30\n");
  } finally {
    stopStalls();
    for (const spinner of spinners) spinner.kill();
  }
});

Deno.test("timers set out of order arrive in deadline order", async () => {
  const lunatic = new Lunatic();
  const stdout = new CaptureSink();
  const stopStalls = stallNowAndThen(25, 20);
  try {
    const { outcome } = await lunatic.run(guestPath("timer_order"), {
      entry: "in_deadline_order",
      stdio: { stdin: EMPTY_INPUT, stdout, stderr: new CaptureSink() },
    });
    assert.deepEqual(outcome, { kind: "normal" });
    assert.equal(stdout.text(), "10\n20\n30\n");
  } finally {
    stopStalls();
  }
});
