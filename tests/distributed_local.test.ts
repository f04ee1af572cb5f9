/**
 * `lunatic::distributed` on a single node (spec §1.16, §6.13): this runtime is node 0, every
 * module ID is 0, there are no other nodes. Spawns and sends addressed to node 0 behave as
 * local ones; any other node is "not found".
 *
 * Guest: tests/guests/distributed_local.c (one export per scenario, run as the root).
 */
import assert from "node:assert/strict";
import {
  type GuestOptions,
  outputLines,
  reasonOf,
  type RecordedRun,
  runRecorded,
} from "./helpers/run_guest.ts";

/** Runs one scenario export as the root and records every process's end. */
function scenario(entry: string, options: GuestOptions = {}): Promise<RecordedRun> {
  return runRecorded("distributed_local", { ...options, entry });
}

Deno.test("node_id 0, module_id 0, nodes_count 0, get_nodes copies nothing", async () => {
  const { stdout, outcome } = await scenario("identity");
  assert.deepEqual(outcome, { kind: "normal" });
  assert.deepEqual(outputLines(stdout), [
    "root: node_id=0 module_id=0 nodes_count=0 get_nodes=0 buffer=7,7",
  ]);
});

Deno.test("distributed::spawn on node 0 runs the function, never linked; node 5 returns 1, an unknown module 2, with error IDs", async () => {
  const { stdout, outcome, exits } = await scenario("spawn");
  // The child runs concurrently with the root: its line is checked on its own.
  assert.deepEqual(outputLines(stdout).filter((line) => line.startsWith("remote_child:")), [
    "remote_child: pid 2, parent 1, node_id 0, module_id 0; failing",
  ]);
  assert.deepEqual(outputLines(stdout).filter((line) => line.startsWith("root:")), [
    "root: spawn on node 0, module 0 -> 0, pid 2",
    "root: process 2 ended", // it failed, and the root (die_when_link_dies on) lived on
    "root: spawn on node 5, module 0 -> 1: node 5 not found",
    "root: spawn on node 0, module 3 -> 2: module 3 not found",
    "root: still alive",
  ]);
  assert.deepEqual(outcome, { kind: "normal" });
  assert.equal(reasonOf(exits.get(2)), "unreachable");
  assert.deepEqual([...exits.keys()].sort(), [1, 2]);
});

Deno.test("distributed::spawn without can_spawn_processes traps", async () => {
  const { stdout, outcome, exits } = await scenario("spawn_without_permission");
  assert.deepEqual(outcome, { kind: "normal" });
  assert.deepEqual(outputLines(stdout), [
    "try_spawn: calling distributed::spawn",
    "root: process 2 ended",
  ]);
  assert.equal(
    reasonOf(exits.get(2)),
    "Process doesn't have permissions to spawn sub-processes",
  );
});

Deno.test("distributed::send: node 0 delivers and returns 0; a missing PID returns 1; node 5 returns 2", async () => {
  const { stdout, outcome } = await scenario("send");
  assert.deepEqual(outcome, { kind: "normal" });
  assert.deepEqual(outputLines(stdout), [
    "root: send to node 0 -> 0",
    'root: receive -> 0, tag 7, "to myself"', // the tag travels with the data
    "root: send to missing pid -> 1",
    "root: send to node 5 -> 2",
  ]);
});

Deno.test("distributed::send and send_receive_skip_search take the message even when the node is unknown", async () => {
  for (const [which, name] of [[0, "send"], [1, "send_receive_skip_search"]] as const) {
    const { stdout, outcome } = await scenario("send_other_node_takes_message", {
      entryArgs: [which],
    });
    // Spec §3.2: every sending call takes the message, leaving the slot empty; §1.16: it
    // "takes the scratch message" before it talks to the node. A local send afterwards
    // therefore finds nothing to send.
    assert.deepEqual(outputLines(stdout), [`root: ${name} to node 5 -> 2`], name);
    assert.equal(reasonOf(outcome), "no message in the scratch slot to send", name);
  }
});

Deno.test("distributed::send of a message carrying resources traps, even to node 0", async () => {
  const { stdout, outcome } = await scenario("send_resources");
  assert.deepEqual(outputLines(stdout), ["root: sending a message with a module"]);
  assert.equal(reasonOf(outcome), "a message sent to another node cannot carry resources");
});

Deno.test("distributed::send_receive_skip_search to node 0 gets the reply; 9027 on timeout, 1 for a missing PID, 2 for node 5", async () => {
  const { stdout, outcome } = await scenario("skip_search");
  assert.deepEqual(outcome, { kind: "normal" });
  assert.deepEqual(outputLines(stdout), [
    'echo: got "ping" tagged 42',
    'root: send_receive_skip_search node 0 -> 0: tag 42 "pong: ping"',
    "root: process 2 ended",
    "silent: got a request, not replying",
    "root: send_receive_skip_search to a silent process -> 9027",
    "root: process 3 ended",
    "root: send_receive_skip_search to a missing pid -> 1",
    "root: send_receive_skip_search to node 5 -> 2",
  ]);
});
