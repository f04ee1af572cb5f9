/**
 * `lunatic::message` (spec §1.2, §3): the scratch slot, data messages, tags, FIFO order,
 * selective receive with timeouts, forwarding, and send_receive_skip_search.
 *
 * Guest: tests/guests/message_passing.wat (one export per scenario, run as the root).
 */
import assert from "node:assert/strict";
import { outputLines, type RecordedRun, runRecorded } from "./helpers/run_guest.ts";

/** Runs one scenario export of the message guest as the root and records every end. */
async function scenario(entry: string): Promise<RecordedRun> {
  const result = await runRecorded("message_passing", { entry });
  assert.deepEqual(result.outcome, { kind: "normal" }, result.stdout);
  return result;
}

Deno.test("create_data/write_data/send, then receive, get_tag, get_process_id, data_size, read_data and seek_data", async () => {
  const { stdout } = await scenario("data_api");
  assert.deepEqual(outputLines(stdout), [
    "write=6", // write_data returns the length written
    "write=5",
    "send=0", // send always returns 0
    "receive=0", // a data message
    `tag=${0x1234567890abcn}`, // the full i64 tag
    "process_id=0", // only ProcessDied messages have one
    "size=11",
    "read=4",
    "bytes=hell",
    "read=7", // min(len, what is left)
    "bytes=o world",
    "read=0", // 0 at the end of the buffer
    "bytes=world", // after seek_data(6)
    "read=3", // after seek_data(0)
    "bytes=hel",
    "size=11", // data_size is the whole length, not what is left
    "read=0", // seek_data(size): at the end, reads return 0
    "receive=0", // an empty untagged message (created with capacity u64::MAX, a mere hint)
    "tag=0",
    "size=0",
    "read=0",
    "tag=-5", // negative tags round-trip
    "done",
  ]);
});

Deno.test("selective receive: tag lists, untagged messages never match, timeouts return 9027 and leave the slot alone", async () => {
  const { stdout } = await scenario("selective");
  // queued: a(10) b(untagged) c(20) d(10) e(30)
  assert.deepEqual(outputLines(stdout), [
    "receive=0", // tags [20]
    "got=c",
    "receive=0", // tags [10, 30]: the first queued message with either tag
    "got=a",
    "receive=9027", // tags [0], timeout 0: the untagged b does not match, even with 0 listed
    "receive=9027", // tags [40], timeout 20 ms
    "slot=a", // the timeouts did not touch the slot: "a" is still there
    "receive=0", // no tag list: the first queued message of any kind
    "got=b",
    "receive=0", // tags [30], timeout 0: an already queued match is still returned
    "got=e",
    "receive=0",
    "got=d",
    "receive=9027", // nothing left, timeout 0
    "receive=9027", // nothing left, timeout 10 ms
    "done",
  ]);
});

Deno.test("messages are received in the order they were sent, also within one tag", async () => {
  const { stdout } = await scenario("fifo");
  assert.deepEqual(outputLines(stdout), [
    "fifo=x",
    "fifo=y",
    "fifo=z",
    "fifo=a",
    "fifo=b",
    "fifo=c",
    "fifo=d",
    "done",
  ]);
});

Deno.test("a receive waiting on a tag list takes the matching arrival and leaves the others queued in order", async () => {
  const { stdout, exits } = await scenario("selective_wait");
  const root = outputLines(stdout).filter((line) => !line.startsWith("sender"));
  assert.deepEqual(root, [
    "waiting",
    "receive=0",
    "got=w", // tag 50, sent last
    "receive=0",
    "got=u", // untagged, sent first
    "receive=0",
    "got=v", // tag 60
    "done",
  ]);
  assert.deepEqual(exits.get(2), { kind: "normal" });
});

Deno.test("between processes: replies, forwarding a received message, send to an unknown PID, send_receive_skip_search", async () => {
  const { stdout, exits } = await scenario("cross");
  assert.deepEqual(outputLines(stdout), [
    "receive=0", // the echo's reply, selected by tag 1005
    "tag=1005",
    "got=ping",
    "receive=0", // the same message sent on (after seek_data(0)) keeps tag and bytes
    "tag=1005",
    "forwarded=ping",
    "send_unknown=0", // dropped silently
    "skip_search=0", // the "old" reply already queued with the same tag was not searched
    "got=new",
    "queued=0", // ...and is still queued
    "got=old",
    "skip_search_timeout=9027", // no new reply: timeout even though "stale" matches
    "queued=0",
    "got=stale",
    "echo done",
    "done",
  ]);
  assert.deepEqual(exits.get(2), { kind: "normal" });
});
