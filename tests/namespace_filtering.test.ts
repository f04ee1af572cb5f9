/**
 * Host-namespace filtering: `lunatic::process::config_allow_namespace(config_id, ptr, len)`
 * narrows a config to the host functions whose `module::function` starts with one of its
 * namespaces; a call outside fails the process with `permission denied: <module>::<function>`;
 * a config never allows more than its creator's; and the same filter from the command line
 * (`--allow`) and the embedding API (`allow`).
 *
 * Guest: tests/guests/namespace_filtering.wat (one export per scenario, run as the root).
 */
import assert from "node:assert/strict";
import {
  type GuestOptions,
  guestPath,
  outputLines,
  reasonOf,
  type RecordedRun,
  runCli,
  runRecorded,
} from "./helpers/run_guest.ts";

const GUEST = "namespace_filtering";

/** Runs the guest as the root and records every process's end. */
function run(options: GuestOptions = {}): Promise<RecordedRun> {
  return runRecorded(GUEST, options);
}

Deno.test("a config narrowed to lunatic::message:: and WASI: those calls work, lunatic::process::process_id is denied", async () => {
  const { stdout, outcome, exits } = await run({ entry: "narrow" });
  assert.deepEqual(outcome, { kind: "normal" });
  assert.deepEqual(outputLines(stdout), [
    "child: got=hi", // receive + read_data (lunatic::message) and fd_write (WASI) work
    "child: calling lunatic::process::process_id",
    "root: ended=2",
  ]);
  assert.equal(reasonOf(exits.get(2)), "permission denied: lunatic::process::process_id");
});

Deno.test("namespaces are prefixes of module::function, so single functions can be allowed", async () => {
  const { stdout, outcome, exits } = await run({ entry: "functions" });
  assert.deepEqual(outcome, { kind: "normal" });
  assert.deepEqual(outputLines(stdout), [
    "child: got=hi", // fd_write, receive and read_data were allowed one by one
    "child: calling lunatic::message::create_data",
    "root: ended=2",
  ]);
  assert.equal(reasonOf(exits.get(2)), "permission denied: lunatic::message::create_data");
});

Deno.test("a narrowed process cannot create a wider config: allowing lunatic::process:: does not give process_id", async () => {
  const { stdout, outcome, exits } = await run({ entry: "no_widen" });
  assert.deepEqual(outcome, { kind: "normal" });
  assert.deepEqual(outputLines(stdout), [
    "grandchild: started",
    "middle: grandchild ended=3",
    "grandchild: started",
    "middle: grandchild ended=4",
    "grandchild: started",
    "middle: grandchild ended=5",
    "grandchild: started",
    "middle: grandchild ended=6",
    "middle: done",
    "root: ended=2",
  ]);
  // The middle (PID 2) may use lunatic::message::, WASI and a few lunatic::process functions.
  assert.equal(reasonOf(exits.get(2)), "(normal)");
  // 3: its config allows lunatic::process:: + WASI; the middle's ceiling still applies
  assert.equal(reasonOf(exits.get(3)), "permission denied: lunatic::process::process_id");
  // 4: a config without namespaces of its own: the middle's ceiling
  assert.equal(reasonOf(exits.get(4)), "permission denied: lunatic::process::process_id");
  // 5: config -1, the middle's own
  assert.equal(reasonOf(exits.get(5)), "permission denied: lunatic::process::process_id");
  // 6: the config of 3 does not list lunatic::message::, although the middle may use it
  assert.equal(reasonOf(exits.get(6)), "permission denied: lunatic::message::create_data");
});

Deno.test("embedding API: allow narrows the root; what it spawns can never be allowed more", async () => {
  {
    const { stdout, outcome, exitCode } = await run({ allow: ["wasi_snapshot_preview1::"] });
    assert.equal(stdout, "root: hello\n");
    assert.equal(reasonOf(outcome), "permission denied: lunatic::process::process_id");
    assert.equal(exitCode, 134);
  }
  {
    const { stdout, outcome } = await run({
      allow: ["wasi_snapshot_preview1::", "lunatic::process::"],
    });
    assert.deepEqual(outcome, { kind: "normal" });
    assert.equal(stdout, "root: hello\nroot: pid=1\nroot: done\n");
  }
  {
    // The root creates a config listing lunatic::message::, which it may not use itself.
    const { stdout, outcome, exits } = await run({
      entry: "root_ceiling",
      allow: ["wasi_snapshot_preview1::", "lunatic::process::"],
    });
    assert.deepEqual(outputLines(stdout), [
      "root: pid=1",
      "child: calling lunatic::message::create_data",
    ]);
    assert.equal(reasonOf(exits.get(2)), "permission denied: lunatic::message::create_data");
    // linked with die_when_link_dies: the child's failure ends the sleeping root at once
    assert.equal(reasonOf(outcome), "linked process 2 failed");
  }
  {
    // No allow option: everything.
    const { stdout, outcome } = await run();
    assert.deepEqual(outcome, { kind: "normal" });
    assert.equal(stdout, "root: hello\nroot: pid=1\nroot: done\n");
  }
});

Deno.test("CLI --allow: one namespace denies the rest; repeating it adds namespaces", async () => {
  const path = guestPath(GUEST);
  const [only, both, none] = await Promise.all([
    runCli(["run", "--allow", "wasi_snapshot_preview1::", path]),
    runCli(["run", "--allow", "wasi_snapshot_preview1::", "--allow", "lunatic::process::", path]),
    runCli(["run", path]),
  ]);
  assert.equal(only.code, 134);
  assert.equal(only.stdout, "root: hello\n");
  assert.match(only.stderr, /permission denied: lunatic::process::process_id/);
  assert.equal(both.code, 0, both.stderr);
  assert.equal(both.stdout, "root: hello\nroot: pid=1\nroot: done\n");
  assert.equal(none.code, 0, none.stderr);
  assert.equal(none.stdout, "root: hello\nroot: pid=1\nroot: done\n");
});
