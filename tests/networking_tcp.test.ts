/**
 * TCP (spec §1.10, §3.4): bind, addresses, accept, connect, peek (which does not consume),
 * read, vectored write, flush, the three timeouts (shared by clones), errors with the OS's
 * text, streams moved and cloned between processes and closed with their last handle, with a
 * dropped message or with the process that held them; bounded buffering toward a peer that
 * does not read; sockets served beside spinning processes; bad input confined to the caller.
 *
 * Guest: tests/guests/net_tcp.c (both sides of each exchange on 127.0.0.1).
 */
import assert from "node:assert/strict";
import * as net from "node:net";
import { openNetworkResources } from "../host/networking.ts";
import { outputLines, reasonOf, runRecorded } from "./helpers/run_guest.ts";

function scenario(entry: string, ...entryArgs: number[]) {
  return runRecorded("net_tcp", { entry, entryArgs });
}

/** Open file descriptors of this OS process (Linux). */
function openFds(): number {
  return [...Deno.readDirSync("/proc/self/fd")].length;
}

Deno.test("bind, local and peer addresses, accept, connect, peek, read, vectored write, flush", async () => {
  const { stdout, outcome } = await scenario("loopback");
  assert.deepEqual(outcome, { kind: "normal" });
  assert.deepEqual(outputLines(stdout), [
    "root: local 4 127.0.0.1 port matches",
    "root: local then exhausted",
    "root: accepted peer 4 127.0.0.1 port set",
    "root: accepted peer then exhausted",
    "root: peer_addr 4 127.0.0.1 port set",
    "root: peer_addr then exhausted",
    "root: peeked hello",
    "root: read hello", // the peek did not consume
    "root: vectored write ok, 5 bytes",
    "root: flush 0, error slot 0",
    "client: got world",
    "client: then eof", // the root dropped its only handle
    "root: done",
  ]);
});

Deno.test("read, write and peek timeouts: shared by clones, 9027 with nothing written, nothing lost", async () => {
  const { stdout, outcome } = await scenario("timeouts");
  assert.deepEqual(outcome, { kind: "normal" });
  assert.deepEqual(outputLines(stdout), [
    "root: read timeout none",
    "root: clone's read timeout 30",
    "root: clone's write timeout 1000",
    "root: clone's peek timeout 20",
    "root: idle read timeout, count slot 77",
    "root: idle peek timeout",
    "root: read timeout none", // u64::MAX cleared it
    "root: then read late",
  ]);
});

Deno.test("errors return 1 with the OS's text: a closed port, an address in use", async () => {
  const refused = await scenario("refused");
  assert.deepEqual(outputLines(refused.stdout), [
    "root: connect to a closed port: 1 Connection refused (os error 111)",
  ]);
  const inUse = await scenario("in_use");
  assert.deepEqual(outputLines(inUse.stdout), [
    "root: bind a port in use: 1 Address already in use (os error 98)",
    "root: bind it once freed: ok",
  ]);
});

Deno.test("a read in flight when the peer resets the connection returns 1 with the OS's text, the next 0 bytes", async () => {
  // The peer resets (SO_LINGER 0) once the guest's byte arrives, while the guest waits to read.
  const server = net.createServer((socket) => {
    socket.once("data", () => socket.resetAndDestroy());
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  try {
    const { port } = server.address() as net.AddressInfo;
    const { stdout, outcome } = await scenario("reset", port);
    assert.deepEqual(outcome, { kind: "normal" });
    assert.deepEqual(outputLines(stdout), [
      "root: read after the peer's reset: 1 Connection reset by peer (os error 104)",
      "root: the next read: ok, 0 bytes", // as the kernel's recv after a reset
    ]);
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
});

Deno.test("a stream moved in a message and its clone: the socket closes with the last handle", async () => {
  const { stdout, outcome } = await scenario("move_and_clone");
  assert.deepEqual(outcome, { kind: "normal" });
  assert.deepEqual(outputLines(stdout, "reader"), [
    "reader: from the writer",
    "reader: from the root",
    "reader: eof",
  ]);
  assert.deepEqual(outputLines(stdout, "root"), ["root: clone id differs"]);
});

Deno.test("a process that ends closes the sockets it holds; so does a message nobody receives", async () => {
  const failed = await scenario("owner_fails");
  assert.deepEqual(outputLines(failed.stdout, "reader"), [
    "reader: from the writer",
    "reader: eof",
  ]);
  assert.equal(reasonOf(failed.exits.get(3)), "unreachable");
  const undelivered = await scenario("undelivered");
  assert.deepEqual(outputLines(undelivered.stdout, "reader"), [
    "reader: before the message",
    "reader: eof",
  ]);
});

Deno.test("a reader killed in its read loses nothing to the clone, and its memory is not reused", async () => {
  const { stdout, outcome } = await scenario("killed_reader");
  assert.deepEqual(outcome, { kind: "normal" });
  assert.deepEqual(outputLines(stdout), [
    "root: the reader was killed",
    "root: the clone read late bytes",
    "checker: its buffer is untouched",
  ]);
});

Deno.test("10,000 connect/accept/exit cycles leave no socket or descriptor open", async () => {
  await scenario("cycles", 10); // warm up: Deno's own descriptors for the first sockets
  const sockets = openNetworkResources();
  const fds = openFds();
  const { stdout, outcome } = await scenario("cycles", 10_000);
  assert.deepEqual(outcome, { kind: "normal" });
  assert.equal(stdout, "root: 10000 cycles\n");
  assert.equal(openNetworkResources(), sockets, "sockets and listeners still open");
  // Closed sockets release their descriptors as the event loop gets to them.
  for (let i = 0; i < 50 && openFds() > fds; i++) await new Promise((r) => setTimeout(r, 20));
  assert.ok(openFds() <= fds, `${openFds() - fds} more descriptors open`);
});

Deno.test("a peer that does not read stops the writer (bounded buffering); the write timeout wakes it", async () => {
  const { stdout, outcome } = await scenario("backpressure");
  assert.deepEqual(outcome, { kind: "normal" });
  const kib = Number(stdout.match(/^root: a write timed out after (\d+) KiB\n$/)?.[1]);
  assert.ok(kib > 0 && kib < 64 * 1024, stdout); // the kernel's buffers, not 256 MiB
});

Deno.test("sockets are served while processes spin; a read timeout wakes its reader", async () => {
  const { stdout, outcome } = await scenario("beside_spinners", 200);
  assert.deepEqual(outcome, { kind: "normal" });
  assert.deepEqual(outputLines(stdout), [
    "root: 200 of 200 round trips beside 2 spinning processes",
    "root: idle read beside them: timeout",
  ]);
});

const ipv6 = (() => {
  try {
    Deno.listen({ hostname: "::1", port: 0 }).close();
    return true;
  } catch {
    return false;
  }
})();

Deno.test({
  name: "IPv6: bind [::1], addresses with flow info and scope ID, connect",
  ignore: !ipv6,
  fn: async () => {
    const { stdout, outcome } = await scenario("ipv6");
    assert.deepEqual(outcome, { kind: "normal" });
    assert.deepEqual(outputLines(stdout), [
      "root: local 6 ::1 flow 0 scope 0 port set",
      "root: local then exhausted",
      "root: peer 6 ::1 flow 0 scope 0 port set",
      "root: peer then exhausted",
      "root: read v6",
    ]);
  },
});

Deno.test("bad input traps only the process that passed it, naming the problem", async () => {
  const cases: [string, RegExp][] = [
    ["bad_address_type", /^Unsupported address type 5 \(4 or 6\)$/],
    ["address_out_of_bounds", /^out of bounds memory access: 4 bytes at 0xfffffff0\b/],
    ["buffer_out_of_bounds", /^out of bounds memory access: 4096 bytes at 0xffffff00\b/],
    ["unknown_stream", /^unknown tcp stream id 77$/],
    ["unknown_listener", /^unknown tcp listener id 9$/],
    ["use_after_push", /^unknown tcp stream id 0$/],
    ["take_twice", /^the resource at index 0 was already taken$/],
  ];
  const sockets = openNetworkResources();
  for (const [entry, reason] of cases) {
    const { outcome, stdout } = await scenario(entry);
    assert.match(reasonOf(outcome), reason, entry);
    assert.doesNotMatch(stdout, /NOT REACHED/, entry);
  }
  // The clients some of them spawned see their peer gone, and end (closing theirs) soon after.
  for (let i = 0; i < 100 && openNetworkResources() > sockets; i++) {
    await new Promise((r) => setTimeout(r, 10));
  }
  assert.equal(openNetworkResources(), sockets, "the failed processes' sockets were closed");
});
