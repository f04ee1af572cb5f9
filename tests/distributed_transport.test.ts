/**
 * Node-to-node traffic: the frames (lunatic's rmp_serde layout, read byte for byte), and the
 * mutual-TLS transport: only certificates from the cluster's control server get in, a bad
 * frame closes only the connection that sent it, an unreachable node fails fast.
 */
import assert from "node:assert/strict";
import * as tls from "node:tls";
import { ControlClient } from "../runtime/distributed/control_client.ts";
import { ControlServer } from "../runtime/distributed/control_server.ts";
import { ControlStore } from "../runtime/distributed/control_store.ts";
import { ConnectionError, NodeTransport } from "../runtime/distributed/transport.ts";
import {
  decodePayload,
  encodeRequest,
  encodeResponse,
  FrameReader,
  type Request,
  WireError,
} from "../runtime/distributed/wire.ts";

const text = (value: string) => [...new TextEncoder().encode(value)];

Deno.test("wire: lunatic's rmp_serde bytes are read as they are meant", () => {
  // (1u64, Request::Message { environment_id: 1, process_id: 2, tag: Some(7), data: vec![1, 2] })
  const message = new Uint8Array([
    0x92,
    0x01,
    0x81,
    0xa7,
    ...text("Message"),
    0x94,
    0x01,
    0x02,
    0x07,
    0x92,
    0x01,
    0x02,
  ]);
  assert.deepEqual(decodePayload(message), {
    msgId: 1n,
    request: {
      kind: "Message",
      environmentId: 1n,
      processId: 2n,
      tag: 7n,
      data: new Uint8Array([1, 2]),
    },
  });
  // (5u64, Request::Spawn(Spawn { environment_id: 1, module_id: 3, function: "f",
  //   params: vec![Val::I32(-1), Val::I64(2)], config: vec![] }))
  const spawn = new Uint8Array([
    0x92,
    0x05,
    0x81,
    0xa5,
    ...text("Spawn"),
    0x95,
    0x01,
    0x03,
    0xa1,
    ...text("f"),
    0x92,
    0x81,
    0xa3,
    ...text("I32"),
    0xff,
    0x81,
    0xa3,
    ...text("I64"),
    0x02,
    0x90,
  ]);
  assert.deepEqual(decodePayload(spawn), {
    msgId: 5n,
    request: {
      kind: "Spawn",
      environmentId: 1n,
      moduleId: 3n,
      function: "f",
      params: [{ I32: -1 }, { I64: 2n }],
      config: new Uint8Array(),
    },
  });
  // Responses as lunatic writes them: unit variants as names, errors as one-entry maps.
  const frame = (bytes: number[]) => new Uint8Array([bytes.length, 0, 0, 0, ...bytes]);
  assert.deepEqual(
    encodeResponse(1n, { kind: "Sent" }),
    frame([0x92, 0x01, 0xa4, ...text("Sent")]),
  );
  assert.deepEqual(
    encodeResponse(2n, { kind: "Spawned", processId: 9n }),
    frame([0x92, 0x02, 0x81, 0xa7, ...text("Spawned"), 0x09]),
  );
  assert.deepEqual(
    encodeResponse(3n, { kind: "Error", error: { kind: "ProcessNotFound" } }),
    frame([0x92, 0x03, 0x81, 0xa5, ...text("Error"), 0xaf, ...text("ProcessNotFound")]),
  );
});

Deno.test("wire: every request and response survives the trip; bad payloads are WireErrors", () => {
  const requests: Request[] = [
    {
      kind: "Spawn",
      environmentId: 1n,
      moduleId: 2n,
      function: "f",
      params: [{ I64: -5n }],
      config: new Uint8Array([9]),
    },
    { kind: "Message", environmentId: 1n, processId: 2n, tag: null, data: new Uint8Array(300) },
    { kind: "Link", environmentId: 1n, processId: 2n, fromNode: 3n, fromProcess: 4n, tag: -1n },
    {
      kind: "Exited",
      environmentId: 1n,
      processId: 2n,
      fromNode: 3n,
      fromProcess: 4n,
      failed: true,
      reason: "boom",
    },
    { kind: "Exists", environmentId: 1n, processId: 2n },
  ];
  const stream = new Uint8Array(
    requests.flatMap((request, i) => [...encodeRequest(BigInt(i), request)]),
  );
  // Delivered a byte at a time, in 7-byte pieces (lengths and payloads split across reads)
  // and all at once (payloads are views of the read): frames are cut where their lengths say.
  for (const piece of [1, 7, stream.length]) {
    const reader = new FrameReader();
    const payloads: Uint8Array[] = [];
    for (let at = 0; at < stream.length; at += piece) {
      payloads.push(...reader.push(stream.slice(at, at + piece)));
    }
    assert.deepEqual(
      payloads.map((payload) => decodePayload(payload)),
      requests.map((request, i) => ({ msgId: BigInt(i), request })),
      `in pieces of ${piece}`,
    );
  }
  assert.deepEqual(
    decodePayload(encodeResponse(u64Max, { kind: "Exists", exists: true }).subarray(4)),
    {
      msgId: u64Max,
      response: { kind: "Exists", exists: true },
    },
  );
  for (
    const bad of [[0xc1], [0x91, 0x01], [0x92, 0x01, 0xa3, ...text("Zap")], [
      0x92,
      0xff,
      0xa4,
      ...text("Sent"),
    ]]
  ) {
    assert.throws(() => decodePayload(new Uint8Array(bad)), WireError);
  }
  assert.throws(() => new FrameReader().push(new Uint8Array([0xff, 0xff, 0xff, 0xff])), /at most/);
});

const u64Max = (1n << 64n) - 1n;

async function withTwoRegistrations(
  body: (a: ControlClient, b: ControlClient, outsider: ControlClient) => Promise<void>,
): Promise<void> {
  const dirs = [await Deno.makeTempDir(), await Deno.makeTempDir()];
  const control = await ControlServer.start({ store: ControlStore.open(dirs[0]) });
  const otherControl = await ControlServer.start({ store: ControlStore.open(dirs[1]) });
  try {
    const a = await ControlClient.register(control.url);
    const b = await ControlClient.register(control.url);
    const outsider = await ControlClient.register(otherControl.url);
    await body(a, b, outsider);
  } finally {
    await control.close();
    await otherControl.close();
    for (const dir of dirs) await Deno.remove(dir, { recursive: true });
  }
}

function transportFor(client: ControlClient, log: string[] = []): NodeTransport {
  const registration = client.registration;
  return new NodeTransport({
    key: registration.key,
    certPem: registration.certPem,
    caPem: registration.rootCertPem,
    handle: (request, peer) => {
      log.push(`${request.kind} from ${peer}`);
      return { kind: "Sent" };
    },
  });
}

Deno.test("transport: nodes of one control talk; a stranger's certificate or none is refused; bad frames close only their connection", async () => {
  await withTwoRegistrations(async (a, b, outsider) => {
    const served: string[] = [];
    const server = transportFor(a, served);
    const port = await server.listen("127.0.0.1", 0);
    const client = transportFor(b);
    try {
      const peer = { name: a.registration.nodeName, address: `127.0.0.1:${port}` };
      const message: Request = {
        kind: "Message",
        environmentId: 1n,
        processId: 1n,
        tag: null,
        data: new Uint8Array([1]),
      };
      assert.deepEqual(await client.request(peer, message), { kind: "Sent" });
      assert.deepEqual(served, [`Message from ${b.registration.nodeName}`]);

      // Another cluster's node, and a client without a certificate, get no answer at all.
      // (The stranger trusts this cluster's CA, so it is the server that turns it away.)
      const stranger = new NodeTransport({
        key: outsider.registration.key,
        certPem: outsider.registration.certPem,
        caPem: a.registration.rootCertPem,
        handle: () => ({ kind: "Sent" }),
      });
      await assert.rejects(stranger.request(peer, message), ConnectionError);
      await stranger.close();
      await assert.rejects(
        rawTls(port, a.registration.nodeName, a.registration.rootCertPem, null, new Uint8Array()),
      );

      // A registered node that sends garbage is disconnected; the others are not affected.
      const garbage = new Uint8Array([3, 0, 0, 0, 0xc1, 0xc1, 0xc1]);
      const closedBy = await rawTls(
        port,
        a.registration.nodeName,
        a.registration.rootCertPem,
        b,
        garbage,
      );
      assert.equal(closedBy, "closed");
      assert.deepEqual(await client.request(peer, message), { kind: "Sent" });
      assert.equal(served.length, 2);
    } finally {
      await client.close();
      await server.close();
    }
  });
});

Deno.test("transport: an unreachable node fails within the connect timeout, then at once during the backoff", async () => {
  await withTwoRegistrations(async (a) => {
    const client = transportFor(a);
    try {
      // A port nothing listens on (taken and released).
      const probe = Deno.listen({ hostname: "127.0.0.1", port: 0 });
      const port = probe.addr.port;
      probe.close();
      const peer = { name: crypto.randomUUID(), address: `127.0.0.1:${port}` };
      const request: Request = { kind: "Exists", environmentId: 1n, processId: 1n };
      const first = await client.request(peer, request).catch((error) => error);
      assert.ok(first instanceof ConnectionError);
      assert.match(
        first.message,
        new RegExp(`node ${peer.name} at 127\\.0\\.0\\.1:${port} cannot be reached`),
      );
      const second = await client.request(peer, request).catch((error) => error);
      assert.equal(second.message, first.message);
    } finally {
      await client.close();
    }
  });
});

Deno.test("transport: two nodes that dial each other at once agree on one connection and retire the other", async () => {
  await withTwoRegistrations(async (a, b) => {
    const named = (client: ControlClient, served: string[]) =>
      new NodeTransport({
        key: client.registration.key,
        certPem: client.registration.certPem,
        caPem: client.registration.rootCertPem,
        name: client.registration.nodeName,
        retireGraceMs: 50,
        handle: (request, peer) => {
          served.push(`${request.kind} from ${peer}`);
          return { kind: "Sent" };
        },
      });
    const servedByA: string[] = [];
    const servedByB: string[] = [];
    const ta = named(a, servedByA);
    const tb = named(b, servedByB);
    const toA = {
      name: a.registration.nodeName,
      address: `127.0.0.1:${await ta.listen("127.0.0.1", 0)}`,
    };
    const toB = {
      name: b.registration.nodeName,
      address: `127.0.0.1:${await tb.listen("127.0.0.1", 0)}`,
    };
    const exists: Request = { kind: "Exists", environmentId: 1n, processId: 1n };
    try {
      // Both dial at once: for a moment each has two connections to the other.
      await Promise.all([ta.request(toB, exists), tb.request(toA, exists)]);
      for (
        let i = 0;
        i < 200 && (ta.openConnections(toB.name) + tb.openConnections(toA.name) > 2);
        i++
      ) {
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      // Had they kept different ones, each would have retired the other's: none would be left.
      assert.equal(ta.openConnections(toB.name), 1);
      assert.equal(tb.openConnections(toA.name), 1);
      assert.deepEqual(await ta.request(toB, exists), { kind: "Sent" });
      assert.deepEqual(await tb.request(toA, exists), { kind: "Sent" });
      assert.equal(ta.openConnections(toB.name), 1); // no new dial: the kept one serves
      assert.equal(servedByA.length, 2);
      assert.equal(servedByB.length, 2);
    } finally {
      await ta.close();
      await tb.close();
    }
  });
});

/** Opens a TLS connection (as `node`, or with no certificate), writes `bytes`, reports how it ended. */
function rawTls(
  port: number,
  servername: string,
  ca: string,
  node: ControlClient | null,
  bytes: Uint8Array,
): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({
      host: "127.0.0.1",
      port,
      servername,
      ca: [ca],
      ...(node === null
        ? {}
        : { key: node.registration.key.keyPem, cert: node.registration.certPem }),
    }, () => socket.write(bytes));
    socket.on("data", () => {});
    socket.on("error", reject);
    socket.on("close", () => resolve("closed"));
    if (node === null) {
      socket.on("secureConnect", () => setTimeout(() => socket.write(new Uint8Array([1])), 10));
    }
  });
}
