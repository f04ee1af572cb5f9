/**
 * TLS (spec §1.11): a server with its own certificate answers a standard TLS client (Deno's);
 * guest clients verify the server against extra CA certificates (lunatic-rs's `(len, ptr)`
 * entries), and fail, with an error rather than a trap, against the usual roots or another
 * CA; a TLS stream moved to another process writes there while a clone reads; certificates
 * and keys that are not one PEM block of the right kind trap the caller.
 *
 * Guest: tests/guests/net_tls.c; certificates: tests/fixtures/tls (make_certs.sh).
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { CaptureSink, EMPTY_INPUT, Lunatic, type OutputSink } from "../lunatic.ts";
import { guestPath, outputLines, reasonOf, runRecorded } from "./helpers/run_guest.ts";

const TLS_DIR = fileURLToPath(new URL("./fixtures/tls", import.meta.url));
const GUEST = guestPath("net_tls");
const tlsOptions = { dirs: [TLS_DIR], env: { TLS_DIR } };

/** Captures output and resolves `port` when the guest prints "server: port N". */
class PortWatcher extends CaptureSink implements OutputSink {
  readonly port: Promise<number>;
  #found!: (port: number) => void;
  constructor() {
    super();
    this.port = new Promise((resolve) => this.#found = resolve);
  }
  override write(bytes: Uint8Array): void {
    super.write(bytes);
    const match = this.text().match(/server: port (\d+)\n/);
    if (match) this.#found(Number(match[1]));
  }
}

/** Starts `tls_server(count)` as a root of `lunatic`; resolves its port and its end. */
async function startServer(lunatic: Lunatic, count: number) {
  const stdout = new PortWatcher();
  const run = lunatic.run(GUEST, {
    ...tlsOptions,
    entry: "tls_server",
    entryArgs: [count],
    stdio: { stdin: EMPTY_INPUT, stdout, stderr: new CaptureSink() },
  });
  return { port: await stdout.port, run, stdout };
}

Deno.test("a TLS server with its own certificate answers a standard TLS client", async () => {
  const lunatic = new Lunatic();
  const { port, run, stdout } = await startServer(lunatic, 2);
  const caCerts = [await Deno.readTextFile(`${TLS_DIR}/ca.pem`)];
  for (const hostname of ["localhost", "127.0.0.1"]) {
    const conn = await Deno.connectTls({ hostname, port, caCerts });
    await conn.write(new TextEncoder().encode(`hello from ${hostname}\n`));
    const buffer = new Uint8Array(100);
    const n = await conn.read(buffer);
    assert.equal(
      new TextDecoder().decode(buffer.subarray(0, n ?? 0)),
      `HELLO FROM ${hostname.toUpperCase()}\n`,
    );
    conn.close();
  }
  assert.deepEqual((await run).outcome, { kind: "normal" });
  assert.match(stdout.text(), /server: done\n$/);
});

Deno.test("guest clients: the test CA verifies the server; the usual roots and another CA fail with an error", async () => {
  const { stdout, outcome } = await runRecorded(GUEST, { ...tlsOptions, entry: "tls_both_sides" });
  assert.deepEqual(outcome, { kind: "normal" });
  const lines = outputLines(stdout);
  assert.deepEqual(lines.slice(0, 2), [
    "client: trusting the test CA: connected, read timeout 5000",
    "client: got HELLO OVER TLS",
  ]);
  // Each failed handshake fails on both sides, the client's process and the server's, in
  // whichever order they run; the server's process goes on to the next client.
  const [usualRoots, otherCa] = [lines.slice(2, 4).sort(), lines.slice(4, 6).sort()];
  assert.match(usualRoots[0], /^client: trusting the usual roots: 1 \S/);
  assert.match(usualRoots[1], /^server: accept: \S/);
  assert.match(otherCa[0], /^client: trusting another CA: 1 \S/);
  assert.match(otherCa[1], /^server: accept: \S/);
  assert.equal(lines.length, 6);
});

Deno.test("a TLS stream moved to another process writes there; its clone reads", async () => {
  const lunatic = new Lunatic();
  const { port, run } = await startServer(lunatic, 1);
  const stdout = new CaptureSink();
  const { outcome } = await lunatic.run(GUEST, {
    ...tlsOptions,
    entry: "tls_moved",
    entryArgs: [port],
    stdio: { stdin: EMPTY_INPUT, stdout, stderr: new CaptureSink() },
  });
  assert.deepEqual(outcome, { kind: "normal" });
  assert.equal(stdout.text(), "root: got FROM THE WRITER\n");
  await run;
});

Deno.test("a certificate or key that is not one PEM block of its kind traps the caller", async () => {
  const cases: [string, string][] = [
    ["tls_bad_certificate", 'the TLS certificate must be one PEM "CERTIFICATE" block; it has 2'],
    ["tls_key_not_pkcs8", 'the TLS key (PKCS#8) must be one PEM "PRIVATE KEY" block; it has 0'],
  ];
  for (const [entry, reason] of cases) {
    const { outcome, stdout } = await runRecorded(GUEST, { ...tlsOptions, entry });
    assert.equal(reasonOf(outcome), reason, entry);
    assert.equal(stdout, "", entry);
  }
});
