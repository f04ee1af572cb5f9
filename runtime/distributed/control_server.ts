/**
 * The control server of a cluster (`lunatic control`): lunatic 0.13.2's HTTP API, so its
 * nodes and ours can register with it.
 *
 *   POST /                 Register {node_name, csr_pem} -> Registration (a certificate for
 *                          the node's key, signed by this server's CA, and a bearer token)
 *   POST /started          NodeStart {node_address, attributes} -> {node_id}   (IDs from 1)
 *   POST /stopped          the node leaves the cluster
 *   GET  /nodes[?k=v&...]  {nodes: [{id, address, name}]}, the started nodes whose attributes
 *                          match every pair of the query (lunatic ignores the query)
 *   POST /module           wasm bytes (≤ 50 MB) -> {module_id}   (IDs from 1)
 *   GET  /module/{id}      {bytes: [...]}
 *
 * All but registration need `Authorization: Bearer <token>` and `x-lunatic-node-name`.
 * Errors are `{code, message}` with lunatic's codes and statuses. Unlike lunatic, a node that
 * has made no request for `nodeTimeoutMs` (nodes poll /nodes every 5 s) leaves the list, a
 * name that a live node holds cannot be registered again by another key, and `/stopped`
 * stops the node that sent it (lunatic's stops the node whose ID equals its registration's).
 * Registrations are bounded (lunatic keeps every one forever): one silent for
 * `registrationTtlMs` (10 min) is forgotten with its node, a stopped node's record goes at
 * once, and past `maxRegistrations` (10,000) live ones registration answers 503.
 */
import { getLogger } from "@logtape/logtape";
import type { ControlStore } from "./control_store.ts";
import { issueCertificate, parseCertificateRequest, X509Error } from "./x509.ts";

const log = getLogger(["lunatic", "control"]);

/** lunatic's body limit for uploads. */
export const MAX_MODULE_BYTES = 50 * 1024 * 1024;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export interface ControlServerOptions {
  store: ControlStore;
  hostname?: string;
  port?: number;
  /** How long a node may stay silent before it leaves the list (default 15 s). */
  nodeTimeoutMs?: number;
  /** How long a silent registration (and its node) is kept (default 10 min). */
  registrationTtlMs?: number;
  /** At most this many registrations at once (default 10,000). */
  maxRegistrations?: number;
  /** The clock, in milliseconds (tests pass their own). */
  now?: () => number;
}

interface Registration {
  nodeName: string;
  token: string;
  publicKey: Uint8Array;
  /** The node this registration started, if it has. */
  nodeId: number | null;
  lastSeen: number;
}

interface NodeRecord {
  id: number;
  registration: Registration;
  address: string;
  attributes: Record<string, string>;
}

/** A control server's view of a node, as `/nodes` lists it. */
export interface NodeInfo {
  id: number;
  address: string;
  name: string;
}

class ApiError extends Error {
  constructor(readonly status: number, readonly code: string, message = "") {
    super(message);
  }
}

const notAuthenticated = () => new ApiError(401, "unauthenticated", "Not authenticated");

export class ControlServer {
  readonly #store: ControlStore;
  readonly #server: Deno.HttpServer<Deno.NetAddr>;
  readonly #nodeTimeoutMs: number;
  readonly #registrationTtlMs: number;
  readonly #maxRegistrations: number;
  readonly #now: () => number;
  readonly #registrations = new Map<string, Registration>(); // by token
  readonly #nodes = new Map<number, NodeRecord>();
  #nextNodeId = 1;
  /** The address it listens on, `ip:port`. */
  readonly address: string;

  private constructor(options: ControlServerOptions, server: Deno.HttpServer<Deno.NetAddr>) {
    this.#store = options.store;
    this.#server = server;
    this.#nodeTimeoutMs = options.nodeTimeoutMs ?? 15_000;
    this.#registrationTtlMs = options.registrationTtlMs ?? 10 * 60_000;
    this.#maxRegistrations = options.maxRegistrations ?? 10_000;
    this.#now = options.now ?? Date.now;
    const { hostname, port } = server.addr;
    this.address = hostname.includes(":") ? `[${hostname}]:${port}` : `${hostname}:${port}`;
  }

  /** Starts serving; resolves once it listens. */
  static start(options: ControlServerOptions): Promise<ControlServer> {
    return new Promise((resolve, reject) => {
      let control: ControlServer | undefined;
      try {
        const server = Deno.serve({
          hostname: options.hostname ?? "127.0.0.1",
          port: options.port ?? 0,
          onListen: () => {},
          onError: (error) => {
            log.error("control request failed: {error}", { error });
            return json(500, { code: "internal", message: "" });
          },
        }, (request) => control!.#handle(request));
        control = new ControlServer(options, server);
        resolve(control);
      } catch (error) {
        reject(error);
      }
    });
  }

  /**
   * Starts on `options.port`, or (when it is not given) on the first free port of 3030-3998,
   * then 1025-65534, as lunatic's control does.
   */
  static async startOnFreePort(options: ControlServerOptions): Promise<ControlServer> {
    if (options.port !== undefined) return await ControlServer.start(options);
    for (const [from, to] of [[3030, 3998], [1025, 65534]]) {
      for (let port = from; port <= to; port++) {
        try {
          return await ControlServer.start({ ...options, port });
        } catch (error) {
          if (!(error instanceof Deno.errors.AddrInUse)) throw error;
        }
      }
    }
    throw new Deno.errors.AddrInUse("no free port for the control server");
  }

  /** `http://ip:port/`, the URL nodes are given. */
  get url(): string {
    return `http://${this.address}/`;
  }

  /** The nodes `/nodes` would list now. */
  nodes(query: Record<string, string> = {}): NodeInfo[] {
    const now = this.#now();
    const listed: NodeInfo[] = [];
    for (const node of this.#nodes.values()) {
      if (now - node.registration.lastSeen > this.#nodeTimeoutMs) continue;
      if (!Object.entries(query).every(([key, value]) => node.attributes[key] === value)) continue;
      listed.push({ id: node.id, address: node.address, name: node.registration.nodeName });
    }
    return listed;
  }

  async close(): Promise<void> {
    await this.#server.shutdown();
  }

  async #handle(request: Request): Promise<Response> {
    try {
      const url = new URL(request.url);
      const route = `${request.method} ${url.pathname}`;
      if (route === "POST /") return json(200, await this.#register(request));
      const registration = this.#authenticate(request);
      registration.lastSeen = this.#now();
      if (route === "POST /started") return json(200, await this.#started(registration, request));
      if (route === "POST /stopped") {
        this.#stop(registration);
        return json(200, null);
      }
      if (route === "GET /nodes") {
        return json(200, { nodes: this.nodes(Object.fromEntries(url.searchParams)) });
      }
      if (route === "POST /module") return json(200, await this.#addModule(request));
      const moduleId = url.pathname.match(/^\/module\/([^/]+)$/)?.[1];
      if (request.method === "GET" && moduleId !== undefined) {
        return json(200, this.#module(moduleId));
      }
      return json(404, { code: "not_found", message: `no route ${route}` });
    } catch (error) {
      if (error instanceof ApiError) {
        return json(error.status, { message: error.message, code: error.code });
      }
      throw error;
    }
  }

  async #register(request: Request): Promise<unknown> {
    const body = await jsonBody(request);
    const nodeName = body.node_name;
    const csrPem = body.csr_pem;
    if (typeof nodeName !== "string" || !UUID.test(nodeName)) {
      throw new ApiError(400, "invalid_data", "node_name must be a UUID");
    }
    if (typeof csrPem !== "string") throw new ApiError(400, "invalid_data", "csr_pem is missing");
    let certPem: string;
    let publicKey: Uint8Array;
    try {
      const csr = parseCertificateRequest(csrPem);
      publicKey = csr.publicKey;
      // The certificate names the node whatever else the request asks for: a node can only
      // ever be certified as itself.
      certPem = issueCertificate(this.#store.ca, { publicKey, dnsNames: [nodeName.toLowerCase()] });
    } catch (error) {
      if (error instanceof X509Error) throw new ApiError(400, "sign_error", error.message);
      throw error;
    }
    for (const [token, other] of this.#registrations) {
      if (other.nodeName.toLowerCase() !== nodeName.toLowerCase()) continue;
      const live = other.nodeId !== null && this.#nodes.has(other.nodeId) &&
        this.#now() - other.lastSeen <= this.#nodeTimeoutMs;
      if (live && !sameBytes(other.publicKey, publicKey)) {
        throw new ApiError(400, "name_taken", `node name ${nodeName} belongs to a running node`);
      }
      this.#stop(other);
      this.#registrations.delete(token);
    }
    this.#pruneSilent();
    if (this.#registrations.size >= this.#maxRegistrations) {
      throw new ApiError(
        503,
        "too_many_registrations",
        `control holds ${this.#registrations.size} registrations, its limit`,
      );
    }
    const token = encodeBase64Url(crypto.getRandomValues(new Uint8Array(32)));
    this.#registrations.set(token, {
      nodeName,
      token,
      publicKey,
      nodeId: null,
      lastSeen: this.#now(),
    });
    log.info("registered node {nodeName}", { nodeName });
    const host = request.headers.get("host") ?? this.address;
    return {
      node_name: nodeName,
      cert_pem_chain: [certPem],
      authentication_token: token,
      root_cert: this.#store.ca.certPem,
      urls: {
        api_base: `http://${host}/`,
        nodes: `http://${host}/nodes`,
        node_started: `http://${host}/started`,
        node_stopped: `http://${host}/stopped`,
        get_module: `http://${host}/module/{id}`,
        add_module: `http://${host}/module`,
        get_nodes: `http://${host}/nodes`,
      },
    };
  }

  #authenticate(request: Request): Registration {
    const header = request.headers.get("authorization");
    if (header === null) {
      throw new ApiError(400, "no_auth_header", "Missing node authorization header");
    }
    if (!header.startsWith("Bearer ")) {
      throw new ApiError(400, "invalid_auth_token", "Header value doesn't start with Bearer");
    }
    const nodeName = request.headers.get("x-lunatic-node-name");
    if (nodeName === null) {
      throw new ApiError(400, "no_lunatic_node_name_header", "Missing x-lunatic-node-name header");
    }
    if (!UUID.test(nodeName)) {
      throw new ApiError(
        400,
        "invalid_lunatic_node_name_header",
        `Invalid x-lunatic-node-name header: ${nodeName} not a valid UUID`,
      );
    }
    const registration = this.#registrations.get(header.slice("Bearer ".length));
    if (
      registration === undefined || registration.nodeName.toLowerCase() !== nodeName.toLowerCase()
    ) {
      throw notAuthenticated();
    }
    return registration;
  }

  async #started(registration: Registration, request: Request): Promise<unknown> {
    const body = await jsonBody(request);
    const address = body.node_address;
    if (typeof address !== "string" || !isSocketAddress(address)) {
      throw new ApiError(400, "invalid_data", "node_address must be an ip:port socket address");
    }
    const attributes: Record<string, string> = {};
    const given = body.attributes ?? {};
    if (typeof given !== "object" || given === null || Array.isArray(given)) {
      throw new ApiError(400, "invalid_data", "attributes must be an object of strings");
    }
    for (const [key, value] of Object.entries(given)) {
      if (typeof value !== "string") {
        throw new ApiError(400, "invalid_data", `attribute ${key} must be a string`);
      }
      attributes[key] = value;
    }
    // A node that starts again is a new node: the old one is gone.
    this.#stop(registration);
    const id = this.#nextNodeId++;
    this.#nodes.set(id, { id, registration, address, attributes });
    registration.nodeId = id;
    log.info("node {name} started as node {id} at {address}", {
      name: registration.nodeName,
      id,
      address,
    });
    return { node_id: id };
  }

  /** Its node, if it started one, leaves the cluster (its ID is never given again). */
  #stop(registration: Registration): void {
    if (registration.nodeId === null) return;
    if (this.#nodes.delete(registration.nodeId)) {
      log.info("node {id} stopped", { id: registration.nodeId });
    }
  }

  /** Forgets registrations (and their nodes) silent for longer than the TTL. */
  #pruneSilent(): void {
    const oldest = this.#now() - this.#registrationTtlMs;
    for (const [token, registration] of this.#registrations) {
      if (registration.lastSeen >= oldest) continue;
      this.#stop(registration);
      this.#registrations.delete(token);
    }
  }

  async #addModule(request: Request): Promise<unknown> {
    const declared = Number(request.headers.get("content-length") ?? "0");
    if (declared > MAX_MODULE_BYTES) throw tooLarge();
    const bytes = await readLimited(request, MAX_MODULE_BYTES);
    return { module_id: this.#store.addModule(bytes) };
  }

  #module(idText: string): unknown {
    if (!/^\d+$/.test(idText)) {
      throw new ApiError(400, "invalid_path_arg", `Cannot parse \`${idText}\` to a \`u64\``);
    }
    const bytes = this.#store.module(Number(idText));
    if (bytes === null) throw new ApiError(400, "error_reading_bytes");
    return { bytes: Array.from(bytes) };
  }
}

function json(status: number, body: unknown): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json" },
  });
}

async function jsonBody(request: Request): Promise<Record<string, unknown>> {
  let body: unknown;
  try {
    body = JSON.parse(new TextDecoder().decode(await readLimited(request, 1024 * 1024)));
  } catch (error) {
    if (error instanceof ApiError) throw error;
    throw new ApiError(400, "invalid_data", `the body is not JSON: ${(error as Error).message}`);
  }
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    throw new ApiError(400, "invalid_data", "the body must be a JSON object");
  }
  return body as Record<string, unknown>;
}

const tooLarge = () => new ApiError(413, "payload_too_large", "the body is over 50 MB");

async function readLimited(request: Request, limit: number): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  if (request.body === null) return new Uint8Array();
  for await (const chunk of request.body) {
    size += chunk.length;
    if (size > limit) throw tooLarge();
    chunks.push(chunk);
  }
  const bytes = new Uint8Array(size);
  let at = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, at);
    at += chunk.length;
  }
  return bytes;
}

/** `a.b.c.d:port` or `[v6]:port`, as Rust's SocketAddr parses them. */
function isSocketAddress(text: string): boolean {
  const v4 = text.match(/^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3}):(\d{1,5})$/);
  if (v4 !== null) {
    return v4.slice(1, 5).every((part) => Number(part) <= 255) && Number(v4[5]) <= 65535;
  }
  const v6 = text.match(/^\[([0-9a-fA-F:.]+)\]:(\d{1,5})$/);
  return v6 !== null && v6[1].includes(":") && Number(v6[2]) <= 65535;
}

/** Unpadded base64url, as lunatic's tokens are. */
function encodeBase64Url(bytes: Uint8Array): string {
  return btoa(String.fromCharCode(...bytes)).replace(/\+/g, "-").replace(/\//g, "_")
    .replace(/=+$/, "");
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((byte, i) => byte === b[i]);
}
