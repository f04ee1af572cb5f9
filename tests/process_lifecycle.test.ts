/**
 * How processes end (spec §2.4, §2.7): a return or proc_exit(0) is a normal end; a trap,
 * proc_exit(n != 0) or a kill is a failure. Also sleep_ms and kill (of others, of itself, of
 * an unknown PID).
 *
 * Guest: tests/guests/process_lifecycle.wat.
 */
import assert from "node:assert/strict";
import { TRAP_EXIT_CODE } from "../lunatic.ts";
import { reasonOf, runRecorded } from "./helpers/run_guest.ts";

/** `name=value` lines as a map (the last value wins). */
function values(stdout: string): Map<string, string> {
  const map = new Map<string, string>();
  for (const line of stdout.split("\n")) {
    const eq = line.indexOf("=");
    if (eq > 0) map.set(line.slice(0, eq), line.slice(eq + 1));
  }
  return map;
}

const GUEST = "process_lifecycle";

Deno.test("root entry that returns ends normally with exit code 0", async () => {
  const { outcome, exitCode, stdout } = await runRecorded(GUEST, { entry: "end_return" });
  assert.deepEqual(outcome, { kind: "normal" });
  assert.equal(exitCode, 0);
  assert.equal(stdout, "end_return running\n");
});

Deno.test("root that executes unreachable fails with reason 'unreachable' and the trap exit code", async () => {
  const { outcome, exitCode, stdout } = await runRecorded(GUEST, { entry: "end_trap" });
  assert.equal(reasonOf(outcome), "unreachable");
  assert.equal(exitCode, TRAP_EXIT_CODE);
  assert.equal(stdout, "end_trap running\n");
});

Deno.test("proc_exit(0) is a normal end and stops the process at once", async () => {
  const { outcome, exitCode, stdout } = await runRecorded(GUEST, { entry: "end_exit0" });
  assert.deepEqual(outcome, { kind: "normal" });
  assert.equal(exitCode, 0);
  assert.equal(stdout, "end_exit0 running\n"); // nothing after proc_exit
});

Deno.test("proc_exit(7) is a failure carrying exit code 7", async () => {
  const { outcome, exitCode, stdout } = await runRecorded(GUEST, { entry: "end_exit7" });
  assert.equal(outcome.kind, "failure");
  assert.equal(outcome.kind === "failure" ? outcome.exitCode : undefined, 7);
  assert.equal(reasonOf(outcome), "exited with code 7");
  assert.equal(exitCode, 7);
  assert.equal(stdout, "end_exit7 running\n");
});

Deno.test("kill(self) takes effect at the next suspension point (sleep_ms) as a failure", async () => {
  const { outcome, exitCode, stdout } = await runRecorded(GUEST, { entry: "end_kill_self" });
  assert.equal(reasonOf(outcome), "killed");
  assert.equal(exitCode, TRAP_EXIT_CODE);
  assert.equal(stdout, "end_kill_self running\n");
});

Deno.test("children end normally or fail the same ways; the root outlives every one of them", async () => {
  const { outcome, stdout, exits } = await runRecorded(GUEST);
  assert.deepEqual(outcome, { kind: "normal" });
  const pids = values(stdout);
  const expected: [string, string][] = [
    ["end_return", "(normal)"],
    ["end_trap", "unreachable"],
    ["end_exit0", "(normal)"],
    ["end_exit7", "exited with code 7"],
    ["end_kill_self", "killed"],
    ["blocked", "killed"], // killed while waiting in receive
    ["sleeping", "killed"], // killed while in sleep_ms
  ];
  for (const [name, reason] of expected) {
    const pid = Number(pids.get(name));
    assert.ok(pid > 1, `${name} was spawned`);
    assert.equal(reasonOf(exits.get(pid)), reason, name);
    assert.ok(stdout.includes(`${name} running\n`), `${name} ran`);
  }
  const exit7 = exits.get(Number(pids.get("end_exit7")));
  assert.equal(exit7?.kind === "failure" ? exit7.exitCode : undefined, 7);
  assert.ok(!stdout.includes("NOT REACHED"), stdout);
  // After each child's ProcessDied the root saw exists() == 0, then went on.
  assert.equal(stdout.split("\n").filter((l) => l === "root exists_after=0").length, 5);
  assert.ok(stdout.includes("root killed_unknown=999\n")); // kill of an unknown PID: no-op
  assert.ok(stdout.endsWith("root done\n"));
  assert.equal(exits.size, 8);
});

Deno.test("sleep_ms suspends only the caller, for at least the requested time", async () => {
  const started = performance.now();
  const { stdout, exits } = await runRecorded(GUEST, { entry: "sleep_order" });
  const elapsed = performance.now() - started;
  assert.equal(stdout, "sleeper sleeping\nquick ran\nsleeper woke\nroot done\n");
  assert.ok(elapsed >= 29, `sleep_ms(30) took ${elapsed} ms`);
  assert.deepEqual(exits.get(2), { kind: "normal" });
  assert.deepEqual(exits.get(3), { kind: "normal" });
});
