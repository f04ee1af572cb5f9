/**
 * The cluster's control server: its CA (made at first start, kept in the state directory),
 * lunatic 0.13.2's HTTP API (register with a CSR, started, nodes, stopped, modules), its
 * errors, and what it does beyond lunatic (attribute queries, silent nodes leaving, names that
 * cannot be taken over). Certificates are checked by using them: node:tls with mutual TLS.
 */
import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import * as tls from "node:tls";
import { join } from "node:path";
import { ControlServer } from "../runtime/distributed/control_server.ts";
import { ControlStore } from "../runtime/distributed/control_store.ts";
import {
  createCertificateRequest,
  generateKeyPair,
  type KeyPair,
  parseCertificateRequest,
  X509Error,
} from "../runtime/distributed/x509.ts";
import { startCliServer } from "./helpers/run_guest.ts";

interface Registered {
  name: string;
  key: KeyPair;
  token: string;
  certPem: string;
  rootCert: string;
  urls: Record<string, string>;
}

async function withControl(
  body: (control: ControlServer, dir: string, clock: { now: number }) => Promise<void>,
  dir?: string,
): Promise<void> {
  const stateDir = dir ?? await Deno.makeTempDir({ prefix: "control_" });
  const clock = { now: 1_000_000 };
  const control = await ControlServer.start({
    store: ControlStore.open(stateDir),
    nodeTimeoutMs: 15_000,
    now: () => clock.now,
  });
  try {
    await body(control, stateDir, clock);
  } finally {
    await control.close();
    if (dir === undefined) await Deno.remove(stateDir, { recursive: true });
  }
}

async function call(
  control: ControlServer,
  method: string,
  path: string,
  options: {
    body?: unknown;
    raw?: Uint8Array<ArrayBuffer>;
    node?: Registered;
    headers?: Record<string, string>;
  } = {},
): Promise<{ status: number; body: Record<string, unknown> }> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.node !== undefined) {
    headers.authorization = `Bearer ${options.node.token}`;
    headers["x-lunatic-node-name"] = options.node.name;
  }
  const response = await fetch(new URL(path, control.url), {
    method,
    headers,
    body: options.raw ?? (options.body === undefined ? undefined : JSON.stringify(options.body)),
  });
  return { status: response.status, body: await response.json() };
}

async function register(
  control: ControlServer,
  key = generateKeyPair(),
  name = crypto.randomUUID(),
) {
  const response = await call(control, "POST", "/", {
    body: { node_name: name, csr_pem: createCertificateRequest(key, [name]) },
  });
  assert.equal(response.status, 200, JSON.stringify(response.body));
  const body = response.body as {
    cert_pem_chain: string[];
    authentication_token: string;
    root_cert: string;
    urls: Record<string, string>;
    node_name: string;
  };
  assert.equal(body.node_name, name);
  return {
    name,
    key,
    token: body.authentication_token,
    certPem: body.cert_pem_chain[0],
    rootCert: body.root_cert,
    urls: body.urls,
  } satisfies Registered;
}

Deno.test("control: a registration gets a certificate for the node's name signed by control's CA", async () => {
  await withControl(async (control, dir) => {
    const node = await register(control);
    const cert = new X509Certificate(node.certPem);
    const ca = new X509Certificate(node.rootCert);
    assert.ok(cert.verify(ca.publicKey), "signed by the CA");
    assert.ok(cert.checkIssued(ca));
    assert.equal(cert.subjectAltName, `DNS:${node.name}`);
    assert.ok(ca.ca);
    assert.equal(node.rootCert, Deno.readTextFileSync(join(dir, "ca.pem")));
    assert.equal(Deno.statSync(join(dir, "ca.key")).mode! & 0o777, 0o600);
    assert.match(node.token, /^[A-Za-z0-9_-]{43}$/);
    const base = control.url;
    assert.deepEqual(node.urls, {
      api_base: base,
      nodes: `${base}nodes`,
      node_started: `${base}started`,
      node_stopped: `${base}stopped`,
      get_module: `${base}module/{id}`,
      add_module: `${base}module`,
      get_nodes: `${base}nodes`,
    });
  });
});

Deno.test("control: two registered nodes talk mutual TLS with their certificates; others cannot", async () => {
  await withControl(async (control) => {
    const server = await register(control);
    const client = await register(control);
    const stranger = generateKeyPair();
    const { port, close, authorizedPeers } = await tlsServer(server);
    try {
      // The client checks the server's name, the node's UUID, as node-to-node TLS does.
      assert.equal(await tlsHello(port, server.name, client.rootCert, client), "hello");
      assert.deepEqual(authorizedPeers, [`DNS:${client.name}`]);
      await assert.rejects(tlsHello(port, server.name, client.rootCert, null));
      await assert.rejects(tlsHello(port, client.name, client.rootCert, client));
      // A certificate from another control server's CA is refused.
      await withControl(async (other) => {
        const outsider = await register(other, stranger);
        await assert.rejects(tlsHello(port, server.name, client.rootCert, outsider));
      });
    } finally {
      await close();
    }
  });
});

async function tlsServer(node: Registered) {
  const authorizedPeers: string[] = [];
  const server = tls.createServer({
    key: node.key.keyPem,
    cert: node.certPem,
    ca: [node.rootCert],
    requestCert: true,
    rejectUnauthorized: true,
  }, (socket) => {
    authorizedPeers.push(socket.getPeerCertificate().subjectaltname ?? "");
    socket.end("hello");
  });
  server.on("tlsClientError", () => {});
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as { port: number }).port;
  return {
    port,
    authorizedPeers,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

function tlsHello(
  port: number,
  servername: string,
  ca: string,
  node: Registered | null,
): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({
      host: "127.0.0.1",
      port,
      servername,
      ca: [ca],
      ...(node === null ? {} : { key: node.key.keyPem, cert: node.certPem }),
    });
    let text = "";
    socket.on("data", (chunk) => text += chunk);
    socket.on("end", () => text === "" ? reject(new Error("closed without data")) : resolve(text));
    socket.on("error", reject);
  });
}

Deno.test("control: started nodes get IDs from 1 and are listed; a query selects by attribute; stopped ones leave", async () => {
  await withControl(async (control) => {
    const eu = await register(control);
    const us = await register(control);
    const started = (node: Registered, address: string, attributes: Record<string, string>) =>
      call(control, "POST", "/started", { node, body: { node_address: address, attributes } });
    assert.deepEqual((await started(eu, "127.0.0.1:4001", { region: "eu", gpu: "yes" })).body, {
      node_id: 1,
    });
    assert.deepEqual((await started(us, "[::1]:4002", { region: "us" })).body, { node_id: 2 });
    const list = await call(control, "GET", "/nodes", { node: eu });
    assert.deepEqual(list.body, {
      nodes: [
        { id: 1, address: "127.0.0.1:4001", name: eu.name },
        { id: 2, address: "[::1]:4002", name: us.name },
      ],
    });
    const query = await call(control, "GET", "/nodes?region=eu&gpu=yes", { node: us });
    assert.deepEqual(query.body, { nodes: [{ id: 1, address: "127.0.0.1:4001", name: eu.name }] });
    assert.deepEqual((await call(control, "GET", "/nodes?region=mars", { node: us })).body, {
      nodes: [],
    });

    assert.equal((await call(control, "POST", "/stopped", { node: eu })).status, 200);
    assert.deepEqual((await call(control, "GET", "/nodes", { node: us })).body, {
      nodes: [{ id: 2, address: "[::1]:4002", name: us.name }],
    });
    // Starting again is a new node with a new ID.
    assert.deepEqual((await started(eu, "127.0.0.1:4003", {})).body, { node_id: 3 });
    const bad = await started(us, "localhost:80", {});
    assert.equal(bad.status, 400);
    assert.equal(bad.body.code, "invalid_data");
  });
});

Deno.test("control: a node that stops asking leaves the list after the timeout", async () => {
  await withControl(async (control, _dir, clock) => {
    const quiet = await register(control);
    const chatty = await register(control);
    for (const [node, port] of [[quiet, 1], [chatty, 2]] as const) {
      await call(control, "POST", "/started", {
        node,
        body: { node_address: `127.0.0.1:${port}`, attributes: {} },
      });
    }
    clock.now += 10_000;
    assert.equal(control.nodes().length, 2);
    await call(control, "GET", "/nodes", { node: chatty });
    clock.now += 10_000; // quiet: 20 s of silence; chatty: 10 s
    assert.deepEqual(control.nodes().map((node) => node.id), [2]);
    // Speaking again brings it back.
    await call(control, "GET", "/nodes", { node: quiet });
    assert.deepEqual(control.nodes().map((node) => node.id), [1, 2]);
  });
});

Deno.test("control: registrations are bounded: a silent one is forgotten after its TTL, and past the limit registering answers 503", async () => {
  const stateDir = await Deno.makeTempDir({ prefix: "control_" });
  const clock = { now: 1_000_000 };
  const control = await ControlServer.start({
    store: ControlStore.open(stateDir),
    registrationTtlMs: 60_000,
    maxRegistrations: 2,
    now: () => clock.now,
  });
  try {
    const silent = await register(control);
    const active = await register(control);
    await call(control, "POST", "/started", {
      node: silent,
      body: { node_address: "127.0.0.1:1", attributes: {} },
    });
    const name = crypto.randomUUID();
    const full = await call(control, "POST", "/", {
      body: { node_name: name, csr_pem: createCertificateRequest(generateKeyPair(), [name]) },
    });
    assert.equal(full.status, 503);
    assert.equal(full.body.code, "too_many_registrations");

    clock.now += 40_000;
    await call(control, "GET", "/nodes", { node: active }); // active speaks; silent does not
    clock.now += 40_000; // silent: 80 s without a word, over the 60 s TTL
    const third = await register(control); // room again: the silent one is forgotten
    assert.equal((await call(control, "GET", "/nodes", { node: silent })).status, 401);
    assert.equal((await call(control, "GET", "/nodes", { node: active })).status, 200);
    assert.equal((await call(control, "GET", "/nodes", { node: third })).status, 200);
  } finally {
    await control.close();
    await Deno.remove(stateDir, { recursive: true });
  }
});

Deno.test("control: authentication errors have lunatic's codes", async () => {
  await withControl(async (control) => {
    const node = await register(control);
    const cases: [Record<string, string>, number, string][] = [
      [{}, 400, "no_auth_header"],
      [{ authorization: "Basic x" }, 400, "invalid_auth_token"],
      [{ authorization: `Bearer ${node.token}` }, 400, "no_lunatic_node_name_header"],
      [
        { authorization: `Bearer ${node.token}`, "x-lunatic-node-name": "nope" },
        400,
        "invalid_lunatic_node_name_header",
      ],
      [
        { authorization: "Bearer wrong", "x-lunatic-node-name": node.name },
        401,
        "unauthenticated",
      ],
      [
        { authorization: `Bearer ${node.token}`, "x-lunatic-node-name": crypto.randomUUID() },
        401,
        "unauthenticated",
      ],
    ];
    for (const [headers, status, code] of cases) {
      const response = await call(control, "GET", "/nodes", { headers });
      assert.equal(response.status, status, JSON.stringify(headers));
      assert.equal(response.body.code, code);
    }
  });
});

Deno.test("control: bad registrations are refused with the reason; a live node's name cannot be taken", async () => {
  await withControl(async (control) => {
    const name = crypto.randomUUID();
    const csr = createCertificateRequest(generateKeyPair(), [name]);
    const refuse = async (body: unknown, code: string, pattern: RegExp) => {
      const response = await call(control, "POST", "/", { body });
      assert.equal(response.status, 400);
      assert.equal(response.body.code, code);
      assert.match(String(response.body.message), pattern);
    };
    await refuse({ node_name: "not-a-uuid", csr_pem: csr }, "invalid_data", /UUID/);
    await refuse({ node_name: name }, "invalid_data", /csr_pem/);
    await refuse({ node_name: name, csr_pem: "garbage" }, "sign_error", /no PEM block/);
    // A request whose signature does not match its key: one byte of the key changed.
    const tampered = tamperPem(csr);
    await refuse({ node_name: name, csr_pem: tampered }, "sign_error", /signature|public key/);
    const notJson = await call(control, "POST", "/", { raw: new TextEncoder().encode("{") });
    assert.equal(notJson.body.code, "invalid_data");

    const owner = await register(control, generateKeyPair(), name);
    await call(control, "POST", "/started", {
      node: owner,
      body: { node_address: "127.0.0.1:1", attributes: {} },
    });
    await refuse(
      { node_name: name, csr_pem: createCertificateRequest(generateKeyPair(), [name]) },
      "name_taken",
      /belongs to a running node/,
    );
    // The same key may register again (a node restarting): the old registration ends.
    const again = await register(control, owner.key, name);
    assert.equal((await call(control, "GET", "/nodes", { node: owner })).status, 401);
    assert.equal((await call(control, "GET", "/nodes", { node: again })).status, 200);
  });
});

function tamperPem(pem: string): string {
  const body = pem.split("\n").filter((line) => !line.startsWith("-----")).join("");
  const bytes = Uint8Array.from(atob(body), (c) => c.charCodeAt(0));
  bytes[bytes.length - 80] ^= 0x01; // inside the public key's point
  return `-----BEGIN CERTIFICATE REQUEST-----\n${
    btoa(String.fromCharCode(...bytes))
  }\n-----END CERTIFICATE REQUEST-----\n`;
}

Deno.test("x509: a request's signature is checked, and its names read back", () => {
  const key = generateKeyPair();
  const request = parseCertificateRequest(createCertificateRequest(key, ["a.example", "b"]));
  assert.deepEqual(request.dnsNames, ["a.example", "b"]);
  assert.deepEqual(request.publicKey, key.publicKey);
  assert.throws(
    () => parseCertificateRequest(tamperPem(createCertificateRequest(key, ["a"]))),
    X509Error,
  );
});

Deno.test("control: modules are stored from ID 1, served as lunatic serves them, and kept", async () => {
  const dir = await Deno.makeTempDir({ prefix: "control_" });
  try {
    let caPem = "";
    await withControl(async (control) => {
      const node = await register(control);
      caPem = node.rootCert;
      const bytes = new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0]);
      const added = await call(control, "POST", "/module", { node, raw: bytes });
      assert.deepEqual(added.body, { module_id: 1 });
      const fetched = await call(control, "GET", "/module/1?env_id=1", { node });
      assert.deepEqual(fetched.body, { bytes: [...bytes] });
      const missing = await call(control, "GET", "/module/7", { node });
      assert.equal(missing.status, 400);
      assert.equal(missing.body.code, "error_reading_bytes");
      const badId = await call(control, "GET", "/module/x", { node });
      assert.equal(badId.body.code, "invalid_path_arg");
      const unauthenticated = await call(control, "POST", "/module", { raw: bytes });
      assert.equal(unauthenticated.body.code, "no_auth_header");
    }, dir);
    // A restart keeps the CA and the modules; registrations are made again.
    await withControl(async (control) => {
      const node = await register(control);
      assert.equal(node.rootCert, caPem);
      assert.deepEqual((await call(control, "GET", "/module/1", { node })).body, {
        bytes: [0, 97, 115, 109, 1, 0, 0, 0],
      });
      const next = await call(control, "POST", "/module", { node, raw: new Uint8Array([1]) });
      assert.deepEqual(next.body, { module_id: 2 });
    }, dir);
    // A CA whose key is not its certificate's is refused, naming the directory.
    Deno.writeTextFileSync(join(dir, "ca.key"), generateKeyPair().keyPem);
    assert.throws(() => ControlStore.open(dir), /cannot be used: the CA key is not the key/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("lunatic control serves the API and says where", async () => {
  const dir = await Deno.makeTempDir({ prefix: "control_cli_" });
  try {
    const server = await startCliServer(
      ["control", "--bind-socket", "127.0.0.1:0", "--state", dir],
      /control listening on http:\/\/127\.0\.0\.1:(\d+)\//,
    );
    try {
      const response = await fetch(`http://127.0.0.1:${server.port}/nodes`);
      assert.equal(response.status, 400);
      assert.equal((await response.json()).code, "no_auth_header");
      assert.ok(Deno.statSync(join(dir, "ca.pem")).isFile);
    } finally {
      await server.stop();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
