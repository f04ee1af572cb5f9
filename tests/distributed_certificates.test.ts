/**
 * lunatic::distributed's certificate calls through a C guest: a test CA, a control certificate
 * and a node certificate signed by it, results in memory from the guest's `lunatic_alloc`;
 * a request that is not one gives a null pointer, a CA that is not one traps, and a module
 * without `lunatic_alloc` fails saying so.
 */
import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { join } from "node:path";
import { createCertificateRequest, generateKeyPair } from "../runtime/distributed/x509.ts";
import { compileWat } from "./helpers/compile.ts";
import { reasonOf, runGuest } from "./helpers/run_guest.ts";

function pem(stdout: string, name: string): string {
  const match = stdout.match(new RegExp(`${name}:\\n([\\s\\S]*?)end ${name}\\n`));
  assert.ok(match, `no ${name} certificate in ${stdout}`);
  return match[1];
}

Deno.test("certificates: test CA, control and node certificates signed by it; bad input", async () => {
  const dir = await Deno.realPath(await Deno.makeTempDir({ prefix: "certificates_" }));
  try {
    const nodeName = crypto.randomUUID();
    await Deno.writeTextFile(
      join(dir, "node.csr"),
      createCertificateRequest(generateKeyPair(), [nodeName]),
    );
    const run = await runGuest("certificates", { args: [join(dir, "node.csr")], dirs: [dir] });
    const ca = new X509Certificate(pem(run.stdout, "ca"));
    assert.ok(ca.ca);
    const server = new X509Certificate(pem(run.stdout, "server"));
    assert.ok(server.verify(ca.publicKey));
    assert.equal(server.subjectAltName, "DNS:ctrl.lunatic.cloud");
    const node = new X509Certificate(pem(run.stdout, "node"));
    assert.ok(node.verify(ca.publicKey));
    assert.equal(node.subjectAltName, `DNS:${nodeName}`);
    assert.match(run.stdout, /test_root_cert: (\d+) bytes, read \1\n/);
    assert.match(run.stdout, /server key is a key: 1\n/);
    assert.match(run.stdout, /sign_node of garbage -> (0x)?0\n/);
    assert.match(run.stdout, /bad CA:\n$/);
    assert.match(reasonOf(run.outcome), /bad CA: no PEM block "CERTIFICATE"/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("certificates: a module without lunatic_alloc fails naming the export", async () => {
  const wasm = await compileWat(`(module
    (import "lunatic::distributed" "test_root_cert" (func $cert (param i32) (result i32)))
    (memory (export "memory") 1)
    (func (export "_start") (drop (call $cert (i32.const 16)))))`);
  const path = await Deno.makeTempFile({ suffix: ".wasm" });
  try {
    await Deno.writeFile(path, wasm);
    const run = await runGuest(path);
    assert.match(reasonOf(run.outcome), /`lunatic_alloc` export, which it lacks/);
  } finally {
    await Deno.remove(path);
  }
});
