/**
 * Namespace filtering covers lunatic::networking like every host namespace: `--allow` without
 * `lunatic::networking::` denies every networking call, `lunatic::networking::tcp_` allows
 * exactly the TCP calls (and not `resolve` nor UDP), and `lunatic::networking::` allows all.
 *
 * Guest: tests/guests/net_capabilities.c, run through the command line as a user would.
 */
import assert from "node:assert/strict";
import { guestPath, outputLines, runCli } from "./helpers/run_guest.ts";

/** A loopback port that was free a moment ago, for the guest to listen on. */
function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

const TCP_STEPS = [
  "calling tcp_bind",
  "tcp_bind: ok",
  "tcp_connect: ok",
  "tcp_accept: ok",
  "tcp_write_vectored: ok",
  "tcp_read: ok",
  "read: hello",
];

function run(allow: string[]) {
  const flags = allow.flatMap((namespace) => ["--allow", namespace]);
  return runCli(["run", ...flags, guestPath("net_capabilities"), String(freePort())]);
}

Deno.test("--allow without lunatic::networking:: denies the first networking call", async () => {
  const result = await run(["wasi_snapshot_preview1::", "lunatic::error::"]);
  assert.equal(result.code, 134);
  assert.deepEqual(outputLines(result.stdout), ["calling tcp_bind"]);
  assert.match(result.stderr, /permission denied: lunatic::networking::tcp_bind/);
});

Deno.test("--allow lunatic::networking::tcp_ allows TCP only: resolve is denied", async () => {
  const result = await run(["wasi_snapshot_preview1::", "lunatic::networking::tcp_"]);
  assert.equal(result.code, 134);
  assert.deepEqual(outputLines(result.stdout), [...TCP_STEPS, "calling resolve"]);
  assert.match(result.stderr, /permission denied: lunatic::networking::resolve/);
});

Deno.test("--allow lunatic::networking::tcp_ with ::resolve: UDP is still denied", async () => {
  const result = await run([
    "wasi_snapshot_preview1::",
    "lunatic::networking::tcp_",
    "lunatic::networking::resolve",
  ]);
  assert.equal(result.code, 134);
  assert.deepEqual(outputLines(result.stdout), [
    ...TCP_STEPS,
    "calling resolve",
    "resolve: ok",
    "calling udp_bind",
  ]);
  assert.match(result.stderr, /permission denied: lunatic::networking::udp_bind/);
});

Deno.test("--allow lunatic::networking:: allows every networking call", async () => {
  const result = await run(["wasi_snapshot_preview1::", "lunatic::networking::"]);
  assert.equal(result.code, 0, result.stderr);
  assert.deepEqual(outputLines(result.stdout), [
    ...TCP_STEPS,
    "calling resolve",
    "resolve: ok",
    "calling udp_bind",
    "udp_bind: ok",
  ]);
});
