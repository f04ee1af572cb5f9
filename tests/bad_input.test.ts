/**
 * Bad input to host functions (spec §0.2, §0.3, §1.1–§1.3, §2.3): out-of-bounds pointers,
 * invalid UTF-8 function names, bad spawn parameter records, unknown config/module/error IDs,
 * an empty or non-data scratch slot, a missing or mistyped entry export, and a trap in the
 * middle of a receive. Each must fail only the offending process: the root and a bystander
 * process keep running and exchanging messages.
 *
 * Guest: tests/guests/bad_input.wat.
 */
import assert from "node:assert/strict";
import { outputLines, reasonOf, type RecordedRun, runRecorded } from "./helpers/run_guest.ts";

interface Run extends RecordedRun {
  /** The PID of each case, from the root's "<case>=<pid>" lines. */
  pids: Map<string, number>;
}

async function run(): Promise<Run> {
  const result = await runRecorded("bad_input");
  const pids = new Map<string, number>();
  for (const line of result.stdout.split("\n")) {
    const match = line.match(/^(bad_\w+|no_such_function|wants_i32|trap_mid_receive)=(\d+)$/);
    if (match) pids.set(match[1], Number(match[2]));
  }
  return { ...result, pids };
}

/** Each case export, in the order the root runs them, and the failure reason it must get. */
const CASES: [string, RegExp][] = [
  // write_data(0xfffa, 16) in a 64 KiB memory
  ["bad_write_data_oob", /^out of bounds memory access: 16 bytes at 0xfffa\b/],
  // read_data(0xfffa, 16) with a received message in the slot
  ["bad_read_data_oob", /^out of bounds memory access: 16 bytes at 0xfffa\b/],
  // receive with one tag (8 bytes) at 0xfffc
  ["bad_receive_tags_oob", /^out of bounds memory access: 8 bytes at 0xfffc\b/],
  // receive with 0x2000_0000 tags (4 GiB of tags)
  ["bad_receive_tags_count", /^out of bounds memory access/],
  ["bad_spawn_utf8", /^function name is not valid UTF-8$/],
  ["bad_spawn_param_type", /^unknown spawn parameter type 0x7d$/],
  ["bad_spawn_param_len", /^spawn parameters are 16 bytes, not a multiple of 17$/],
  ["bad_spawn_unknown_config", /^unknown config id 7$/],
  ["bad_spawn_unknown_module", /^unknown module id 3$/],
  // the result pointer: 8 bytes at 0xfffc
  ["bad_spawn_id_ptr_oob", /^out of bounds memory access: 8 bytes at 0xfffc\b/],
  // the function name: 100 bytes at 0xfff0
  ["bad_spawn_name_oob", /^out of bounds memory access: 100 bytes at 0xfff0\b/],
  ["bad_unknown_error_id", /^unknown error id 12345$/],
  ["bad_read_empty_slot", /no message in the scratch slot/],
  ["bad_data_size_empty", /no message in the scratch slot/],
  ["bad_get_tag_empty", /no message in the scratch slot/],
  ["bad_get_pid_empty", /no message in the scratch slot/],
  ["bad_send_empty", /no message in the scratch slot/],
  ["bad_skip_search_empty", /no message in the scratch slot/],
  // seek_data(100) on a 3-byte message, then read_data
  ["bad_seek_past_end", /past the end/],
  // read_data with a LinkDied message in the slot
  ["bad_read_link_died", /link_died.*not data/],
  // spawn succeeded; the child fails because the export does not exist
  ["no_such_function", /^Function 'no_such_function' not found$/],
  // spawn succeeded; the child fails because (i32) does not match the i64 record
  ["wants_i32", /^Function 'wants_i32' has type \(i32\) -> \(\)/],
  // trapped after its blocking receive returned
  ["trap_mid_receive", /^unreachable$/],
];

Deno.test("each bad input fails only the process that passed it, with a reason naming the problem", async () => {
  const { exits, pids } = await run();
  assert.deepEqual([...pids.keys()], CASES.map(([name]) => name));
  for (const [name, reason] of CASES) {
    const pid = pids.get(name)!;
    assert.match(reasonOf(exits.get(pid)), reason, `${name} (pid ${pid})`);
  }
});

Deno.test("after every failed process the root and the bystander keep running and exchanging messages", async () => {
  const { stdout, outcome, exitCode, exits } = await run();
  assert.deepEqual(outcome, { kind: "normal" });
  assert.equal(exitCode, 0);
  const out = outputLines(stdout);
  // The bystander answered once at the start, once after each case, and twice around the
  // trap in the middle of a receive: its count goes 1, 2, 3, ... without a gap.
  const replies = out.filter((line) => line.startsWith("bystander="));
  assert.deepEqual(replies, replies.map((_, i) => `bystander=${i + 1}`));
  assert.equal(replies.length, 1 + (CASES.length - 1) + 2);
  // Every case line is followed by the bystander's answer (the root went on after the death).
  for (const [name] of CASES.slice(0, -1)) {
    const at = out.findIndex((line) => line.startsWith(`${name}=`));
    assert.match(out[at + 1], /^bystander=\d+$/, name);
  }
  // While trap_mid_receive was blocked in receive, the others went on and it still existed.
  const mid = out.indexOf("trap_mid_receive ready");
  assert.ok(mid > 0);
  assert.match(out[mid + 1], /^bystander=\d+$/);
  assert.equal(out[mid + 2], "exists_mid_receive=1");
  assert.match(out[mid + 3], /^bystander=\d+$/);
  assert.ok(!stdout.includes("NOT REACHED"), stdout);
  assert.deepEqual(out.slice(-2), ["bystander done", "root done"]);
  assert.deepEqual(exits.get(2), { kind: "normal" }); // the bystander
  assert.equal(exits.size, 2 + CASES.length); // the root, the bystander and every case ended
});

Deno.test("receive with a tag list of 4 GiB traps on the whole range before reading any tag", async () => {
  // receive(0x200, 0x2000_0000, 0): the tag list is 0x2000_0000 * 8 = 2^32 bytes at 0x200.
  // host/message.ts readTags checks `count * 8` bytes with GuestMemory.check, which takes
  // the length `>>> 0`: 2^32 wraps to 0 and the check passes. readTags then allocates an
  // array of 0x2000_0000 entries and reads tags one by one until one is out of bounds
  // (here at 0x10000). With a 64 KiB memory that is quick, but with a 256 MiB memory the
  // same call stalls every process for ~24 s and ends in "RangeError: Invalid array length".
  // lunatic checks the whole range (as 64-bit) before reading.
  const { exits, pids } = await run();
  const reason = reasonOf(exits.get(pids.get("bad_receive_tags_count")!));
  assert.match(reason, /^out of bounds memory access: \d+ bytes at 0x200\b/);
});
