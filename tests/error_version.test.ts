/**
 * `lunatic::version` (spec §1.7) and `lunatic::error` (spec §0.5, §1.1): the error ID that
 * spawn returns when the new instance cannot be created, string_size, to_string, drop, and
 * traps on unknown IDs.
 *
 * Guest: tests/guests/error_version.wat. Its start function traps in processes 2 and 3, so
 * spawning it there fails during instantiation (spec §2.3 step 11).
 */
import assert from "node:assert/strict";
import { TRAP_EXIT_CODE } from "../lunatic.ts";
import {
  type GuestOptions,
  outputLines,
  reasonOf,
  type RecordedRun,
  runRecorded,
} from "./helpers/run_guest.ts";

/** Runs the guest as the root and records every process's end. */
function run(options: GuestOptions = {}): Promise<RecordedRun> {
  return runRecorded("error_version", options);
}

Deno.test("lunatic::version reports 0.13.2", async () => {
  const { stdout } = await run();
  assert.deepEqual(outputLines(stdout).slice(0, 3), ["major=0", "minor=13", "patch=2"]);
});

Deno.test("a spawn whose instance cannot be created returns 1 and an error ID; string_size, to_string and drop work on it", async () => {
  const { stdout, outcome, exits } = await run();
  // The child's line may come anywhere after its spawn (the root can be preempted before it
  // prints the PID): the root's own lines keep their order.
  const all = outputLines(stdout);
  const childLine = all.indexOf("noop ran");
  assert.ok(childLine > all.lastIndexOf("spawn_status=0"), stdout);
  assert.equal(all.filter((line) => line === "noop ran").length, 1);
  const out = all.filter((line) => line !== "noop ran");
  // The text is the runtime's; it must say why, and string_size must be its UTF-8 length.
  const message = out.find((line) => line.startsWith("error="))?.slice("error=".length) ?? "";
  assert.match(message, /unreachable/);
  const size = new TextEncoder().encode(message).byteLength;
  assert.deepEqual(out.slice(3), [
    "spawn_status=1",
    "error_id=0", // error IDs start at 0...
    `string_size=${size}`,
    `error=${message}`, // to_string writes exactly string_size bytes
    "spawn_status=1",
    "error_id=1", // ...and count up
    `string_size=${size}`,
    `error=${message}`,
    "exists_2=0", // the process that could not be created is not registered
    "spawn_status=0",
    "pid=4", // the two failed spawns consumed PIDs 2 and 3
    "done", // both errors were dropped without a trap; the child ended (root monitored it)
  ]);
  assert.deepEqual(outcome, { kind: "normal" });
  assert.deepEqual([...exits.keys()].sort(), [1, 4]); // 2 and 3 never ran
});

Deno.test("dropping an error ID twice traps the caller ('unknown error id')", async () => {
  const { stdout, outcome, exitCode } = await run({ entry: "drop_twice" });
  assert.deepEqual(outputLines(stdout), ["spawn_status=1", "dropped"]);
  assert.equal(reasonOf(outcome), "unknown error id 0");
  assert.equal(exitCode, TRAP_EXIT_CODE);
});

Deno.test("string_size of an unknown error ID traps", async () => {
  const { stdout, outcome } = await run({ entry: "string_size_unknown" });
  assert.equal(stdout, "");
  assert.equal(reasonOf(outcome), "unknown error id 5");
});

Deno.test("to_string of an unknown error ID traps", async () => {
  const { stdout, outcome } = await run({ entry: "to_string_unknown" });
  assert.equal(stdout, "");
  assert.equal(reasonOf(outcome), "unknown error id 5");
});

Deno.test("to_string into a range past the end of memory traps", async () => {
  const { stdout, outcome } = await run({ entry: "to_string_oob" });
  assert.deepEqual(outputLines(stdout), ["spawn_status=1", "error_id=0"]);
  assert.match(reasonOf(outcome), /^out of bounds memory access: \d+ bytes at 0xfffc\b/);
});
