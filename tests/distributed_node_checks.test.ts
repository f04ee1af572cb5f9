/**
 * What a node checks of what other nodes send it, and how its transport and signals behave at
 * their edges, in one OS process: a control server, a ClusterNode on a runtime of its own, and
 * a bare NodeTransport registered as a second node that speaks the wire directly.
 *
 * - a signal naming another node as its sender is refused; one naming its own is served;
 * - a spawn from a module control does not have yet fails, and works once it is uploaded (the
 *   miss is not cached);
 * - a request too big for a frame is refused where it is made, and the connection serves on;
 * - a transport that was closed dials no one;
 * - an Exited that arrives before the answer to the Link that made the link is not lost.
 */
import assert from "node:assert/strict";
import { ProcessConfig } from "../runtime/config.ts";
import { ControlClient } from "../runtime/distributed/control_client.ts";
import { ControlServer } from "../runtime/distributed/control_server.ts";
import { ControlStore } from "../runtime/distributed/control_store.ts";
import { encodeConfig } from "../runtime/distributed/config_wire.ts";
import { ClusterNode } from "../runtime/distributed/node.ts";
import { RemoteSignals } from "../runtime/distributed/remote_signals.ts";
import { ConnectionError, NodeTransport } from "../runtime/distributed/transport.ts";
import { MAX_FRAME_BYTES, type Request, type Response } from "../runtime/distributed/wire.ts";
import type { Environment, ProcessEndpoint } from "../runtime/environment.ts";
import { Lunatic } from "../lunatic.ts";
import { hostStdio } from "../runtime/stdio.ts";
import { compileWat } from "./helpers/compile.ts";

interface Setup {
  node: ClusterNode;
  /** The bare second node: its control registration and its transport. */
  fake: ControlClient;
  transport: NodeTransport;
  /** The ClusterNode as the fake reaches it. */
  peer: { name: string; address: string };
}

async function withNodeAndFake(body: (setup: Setup) => Promise<void>): Promise<void> {
  const state = await Deno.makeTempDir({ prefix: "node_checks_" });
  const control = await ControlServer.start({ store: ControlStore.open(state) });
  const lunatic = new Lunatic();
  const node = await ClusterNode.start({
    runtime: lunatic.runtime,
    controlUrl: control.url,
    ceiling: new ProcessConfig({ canSpawnProcesses: true }),
    stdio: hostStdio,
  });
  const fake = await ControlClient.register(control.url);
  const transport = new NodeTransport({
    key: fake.registration.key,
    certPem: fake.registration.certPem,
    caPem: fake.registration.rootCertPem,
    handle: () => ({ kind: "Sent" }),
  });
  const port = await transport.listen("127.0.0.1", 0);
  await fake.start(`127.0.0.1:${port}`, {});
  try {
    await body({
      node,
      fake,
      transport,
      peer: { name: node.nodeName, address: node.address },
    });
  } finally {
    await transport.close();
    fake.close();
    await node.stop();
    await control.close();
    await Deno.remove(state, { recursive: true });
  }
}

Deno.test("node: a signal naming another node as its sender is refused; its own name is served", async () => {
  await withNodeAndFake(async ({ node, fake, transport, peer }) => {
    const link = (fromNode: bigint): Request & { kind: "Link" } => ({
      kind: "Link",
      environmentId: 1n,
      processId: 1n,
      fromNode,
      fromProcess: 1n,
      tag: 0n,
    });
    // Claiming to be the node itself (or any node but the sender) is refused, with why.
    const forged = await transport.request(peer, link(node.nodeId));
    assert.equal(forged.kind, "Error");
    assert.match(
      (forged as { error: { message: string } }).error.message,
      new RegExp(
        `names node ${node.nodeId} as its sender, but came from node ${fake.registration.nodeName}`,
      ),
    );
    const unknown = await transport.request(peer, {
      kind: "Exited",
      environmentId: 1n,
      processId: 1n,
      fromNode: 999n, // no such node
      fromProcess: 1n,
      failed: true,
      reason: "made up",
    });
    assert.equal(unknown.kind, "Error");
    // Under its own ID the request is served: there is no process 1 there.
    assert.deepEqual(await transport.request(peer, link(fake.nodeId)), {
      kind: "Error",
      error: { kind: "ProcessNotFound" },
    });
  });
});

Deno.test("node: a spawn from a module control lacks fails, and succeeds once it is uploaded", async () => {
  await withNodeAndFake(async ({ fake, transport, peer }) => {
    const bytes = await compileWat(`(module (memory (export "memory") 1) (func (export "run")))`);
    const spawn = (moduleId: bigint): Request => ({
      kind: "Spawn",
      environmentId: 7n,
      moduleId,
      function: "run",
      params: [],
      config: encodeConfig(new ProcessConfig()),
    });
    const nextId = 1n; // control's module IDs start at 1
    assert.deepEqual(await transport.request(peer, spawn(nextId)), {
      kind: "Error",
      error: { kind: "ModuleNotFound" },
    });
    assert.equal(await fake.addModule(bytes), nextId);
    const spawned = await transport.request(peer, spawn(nextId));
    assert.equal(spawned.kind, "Spawned", Deno.inspect(spawned));
  });
});

Deno.test("transport: a request too big for a frame is refused where it is made; the connection serves on; a closed transport dials no one", async () => {
  await withNodeAndFake(async ({ transport, peer }) => {
    const exists: Request = { kind: "Exists", environmentId: 1n, processId: 1n };
    assert.deepEqual(await transport.request(peer, exists), { kind: "Exists", exists: false });
    const huge: Request = {
      kind: "Message",
      environmentId: 1n,
      processId: 1n,
      tag: null,
      data: new Uint8Array(MAX_FRAME_BYTES + 1),
    };
    await assert.rejects(
      transport.request(peer, huge),
      (error: unknown) =>
        error instanceof ConnectionError && /is over the \d+-byte frame limit/.test(error.message),
    );
    assert.ok(transport.connected(peer.name)); // the connection was not given up over it
    assert.deepEqual(await transport.request(peer, exists), { kind: "Exists", exists: false });

    await transport.close();
    await assert.rejects(transport.request(peer, exists), /shutting down/);
    assert.equal(transport.connected(peer.name), false);
  });
});

Deno.test("remote signals: an Exited read before the answer to its Link still kills the link", async () => {
  const died: string[] = [];
  const process = {
    id: 5,
    alive: true,
    environment: { id: 1 } as Environment,
    linkDied(_id: number, tag: bigint, outcome: unknown, name: string) {
      died.push(`${tag} ${JSON.stringify(outcome)} ${name}`);
    },
    deliver() {},
  } as unknown as ProcessEndpoint;
  // The other node answers Linked, but its Exited (the process ended at once) is handled
  // first, as when both arrive in one chunk.
  const send = (_nodeId: bigint, request: Request): Promise<Response> => {
    if (request.kind === "Link") {
      signals.handle({
        kind: "Exited",
        environmentId: 1n,
        processId: 5n,
        fromNode: 2n,
        fromProcess: 9n,
        failed: true,
        reason: "boom",
      });
    }
    return Promise.resolve({ kind: "Linked" });
  };
  const signals: RemoteSignals = new RemoteSignals(
    send,
    () => 1n,
    () => ({ get: () => process }) as unknown as Environment,
  );
  assert.equal(await signals.link(process, 2n, 9n, 42n), 0);
  assert.deepEqual(died, ['42 {"kind":"failure","reason":"remote"} 9 on node 2']);
  assert.equal(signals.nodesReferenced().size, 0); // nothing left behind
});
