/**
 * Modules as resources (spec §1.2, §1.3, §3.4): compile_module, spawning from a module ID,
 * compile errors that name the problem, drop_module, and modules sent in messages with
 * push_module / take_module.
 *
 * Guest: tests/guests/dynamic_modules.c (embeds the bytes of the modules it compiles; one
 * export per scenario, run as the root).
 */
import assert from "node:assert/strict";
import { outputLines, reasonOf, type RecordedRun, runRecorded } from "./helpers/run_guest.ts";

/** Runs one scenario export as the root and records every process's end. */
function scenario(entry: string): Promise<RecordedRun> {
  return runRecorded("dynamic_modules", { entry });
}

Deno.test("compile_module returns 0 and a module ID; a spawn from that ID runs the module's export", async () => {
  const { stdout, outcome, exits } = await scenario("compile_and_spawn");
  assert.deepEqual(outcome, { kind: "normal" });
  assert.deepEqual(outputLines(stdout), [
    "root: compile hello -> 0: module 0",
    "dynamic module: hello, arg=7", // the compiled module's `hello`, with the spawn parameter
    "root: process 2 ended",
    "root: compile hello again -> 0: module 1", // the same bytes again: a new ID
    "root: process 3 ended",
    "root: dropped module 0", // dropping one ID leaves the other usable
    "dynamic module: hello, arg=3",
    "root: process 4 ended",
  ]);
  assert.equal(reasonOf(exits.get(2)), "(normal)");
  // `noop` is an export of the root's module, not of the compiled one
  assert.equal(reasonOf(exits.get(3)), "Function 'noop' not found");
  assert.equal(reasonOf(exits.get(4)), "(normal)");
});

Deno.test("compile_module returns 1 with an error that names the problem", async () => {
  const { stdout, outcome } = await scenario("compile_errors");
  assert.deepEqual(outcome, { kind: "normal" });
  const output = outputLines(stdout);
  assert.equal(output.length, 7, stdout);
  assert.match(
    output[0],
    /^root: compile text -> 1: invalid WebAssembly module .*bad magic number/,
  );
  assert.match(
    output[1],
    /^root: compile truncated -> 1: invalid WebAssembly module .*unexpected end of module while reading the import section/,
  );
  assert.match(
    output[2],
    /^root: compile bad body -> 1: invalid WebAssembly module .*Compiling function #\d+ failed/,
  );
  assert.match(
    output[3],
    /^root: compile unknown function -> 1: .*imports unknown host function "lunatic::process::no_such_function" \(module "lunatic::process", name "no_such_function"\)$/,
  );
  assert.match(
    output[4],
    /^root: compile unknown module -> 1: .*imports unknown host function "env::foo" \(module "env", name "foo"\)$/,
  );
  assert.match(
    output[5],
    /^root: compile wrong signature -> 1: .*imports "lunatic::process::process_id" with type \(i32\) -> \(\), but the host function has type \(\) -> \(i64\)$/,
  );
  // Failed compiles used error IDs, not module IDs: the first module is still 0.
  assert.equal(output[6], "root: compile hello -> 0: module 0");
});

Deno.test("drop_module of a dropped module traps; so does spawning from it", async () => {
  {
    const { stdout, outcome } = await scenario("drop_twice");
    assert.deepEqual(outputLines(stdout), [
      "root: compile hello -> 0: module 0",
      "root: dropped module 0",
    ]);
    assert.equal(reasonOf(outcome), "unknown module id 0");
  }
  {
    const { stdout, outcome, exits } = await scenario("spawn_dropped");
    assert.deepEqual(outputLines(stdout), [
      "root: compile hello -> 0: module 0",
      "root: dropped module 0; spawning from it",
    ]);
    assert.equal(reasonOf(outcome), "unknown module id 0");
    assert.deepEqual([...exits.keys()], [1]);
  }
});

Deno.test("push_module clones a module into a message; the receiver takes it and spawns from it", async () => {
  const { stdout, outcome, exits } = await scenario("send_module");
  assert.deepEqual(outcome, { kind: "normal" });
  assert.deepEqual(outputLines(stdout, "root:"), [
    "root: compile hello -> 0: module 0",
    "root: pushed module 0 at indexes 0 and 1", // one index space per message, in push order
    "root: process 3 ended", // the root's own spawn from module 0 after pushing it
    "root: process 2 ended", // the receiver
  ]);
  assert.deepEqual(outputLines(stdout, "receiver:"), [
    'receiver: got "two modules"',
    // take_module gives new IDs in the receiver's own table, in the order taken
    "receiver: index 1 -> module 0, index 0 -> module 1",
    "receiver: process 4 ended",
  ]);
  assert.deepEqual(outputLines(stdout, "dynamic module:").sort(), [
    "dynamic module: hello, arg=1", // the root, from its module ID after the push
    "dynamic module: hello, arg=5", // the receiver, from the taken module
  ]);
  for (const pid of [1, 2, 3, 4]) assert.equal(reasonOf(exits.get(pid)), "(normal)", `pid ${pid}`);
});

Deno.test("take_module of an index already taken, or past the message's resources, traps", async () => {
  {
    const { stdout, outcome, exits } = await scenario("take_twice");
    assert.deepEqual(outcome, { kind: "normal" });
    assert.deepEqual(outputLines(stdout, "receiver:"), [
      'receiver: got "two modules"',
      "receiver: took index 0 as module 0",
    ]);
    assert.equal(reasonOf(exits.get(2)), "the resource at index 0 was already taken");
  }
  {
    const { stdout, outcome, exits } = await scenario("take_wrong_index");
    assert.deepEqual(outcome, { kind: "normal" });
    assert.deepEqual(outputLines(stdout, "receiver:"), [
      'receiver: got "two modules"',
      "receiver: taking index 2",
    ]);
    assert.equal(reasonOf(exits.get(2)), "no resource at index 2 in the message");
  }
});

Deno.test("compile_module does not apply the caller's memory limit: a module it could not run itself can be sent to a process that can", async () => {
  // The child runs with max_memory 2 pages and compiles a module whose memory starts at 3.
  // lunatic checks memory limits when it creates a process (spec §4.2: spawn returns 1), not
  // when it compiles (§1.3), so compile_module succeeds and the root, whose limit is
  // u32::MAX, spawns the module.
  const { stdout, outcome, exits } = await scenario("compile_small_limit");
  assert.deepEqual(outputLines(stdout), [
    "small_compiler: compile big -> 0: module 0",
    "root: got the message",
    "root: took module 0",
    "big module: 3 pages",
    "root: process 3 ended",
  ]);
  assert.deepEqual(outcome, { kind: "normal" });
  assert.equal(reasonOf(exits.get(2)), "(normal)");
});
