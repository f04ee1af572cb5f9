/**
 * A node's side of the control API (see control_server.ts): registration with a certificate
 * request for its own key, the start announcement, the node list (refreshed every 5 s, and
 * on demand when a node ID is unknown), lookups by attribute, and the module store.
 */
import { createCertificateRequest, generateKeyPair, type KeyPair } from "./x509.ts";

/** A node as control lists it. */
export interface NodeInfo {
  id: bigint;
  address: string;
  name: string;
}

/** What registration gave this node. */
export interface Registration {
  nodeName: string;
  key: KeyPair;
  certPem: string;
  rootCertPem: string;
  token: string;
  urls: {
    nodes: string;
    node_started: string;
    node_stopped: string;
    get_module: string;
    add_module: string;
    get_nodes: string;
  };
}

/** A control server that could not be reached or refused a call. */
export class ControlError extends Error {}

/** How long one call to control may take. */
const CALL_TIMEOUT_MS = 5_000;

export class ControlClient {
  readonly registration: Registration;
  #nodeId = 0n;
  #nodes = new Map<bigint, NodeInfo>();
  #refreshing: Promise<void> | null = null;
  #timer: ReturnType<typeof setInterval> | undefined;
  /** Called after each refresh with the nodes that left the list. */
  onNodesLeft: ((left: NodeInfo[]) => void) | null = null;

  private constructor(registration: Registration) {
    this.registration = registration;
  }

  /** Registers a new node (its own fresh key) with the control server at `controlUrl`. */
  static async register(
    controlUrl: string,
    nodeName = crypto.randomUUID(),
  ): Promise<ControlClient> {
    const key = generateKeyPair();
    const body = await call(controlUrl, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        node_name: nodeName,
        csr_pem: createCertificateRequest(key, [nodeName]),
      }),
    }) as {
      cert_pem_chain?: string[];
      authentication_token?: string;
      root_cert?: string;
      urls?: Registration["urls"];
    };
    const certPem = body.cert_pem_chain?.[0];
    if (
      typeof certPem !== "string" || typeof body.authentication_token !== "string" ||
      typeof body.root_cert !== "string" || typeof body.urls !== "object"
    ) {
      throw new ControlError(`control at ${controlUrl} answered the registration incompletely`);
    }
    return new ControlClient({
      nodeName,
      key,
      certPem,
      rootCertPem: body.root_cert,
      token: body.authentication_token,
      urls: body.urls,
    });
  }

  /** This node's ID (0 until started). */
  get nodeId(): bigint {
    return this.#nodeId;
  }

  /** Announces the node's address and attributes; returns its node ID. */
  async start(address: string, attributes: Record<string, string>): Promise<bigint> {
    const body = await this.#call(this.registration.urls.node_started, {
      method: "POST",
      body: JSON.stringify({ node_address: address, attributes }),
    }) as { node_id?: number };
    if (typeof body.node_id !== "number") throw new ControlError("control gave no node ID");
    this.#nodeId = BigInt(body.node_id);
    await this.refresh();
    const timer = setInterval(() => this.refresh().catch(() => {}), 5_000);
    Deno.unrefTimer(Number(timer));
    this.#timer = timer;
    return this.#nodeId;
  }

  /** The IDs of the cluster's nodes at the last refresh (this one included). */
  nodeIds(): bigint[] {
    return [...this.#nodes.keys()];
  }

  /** A node's address and name, refreshing the list once when it is not known. */
  async node(id: bigint): Promise<NodeInfo | null> {
    const known = this.#nodes.get(id);
    if (known !== undefined) return known;
    await this.refresh();
    return this.#nodes.get(id) ?? null;
  }

  /** A node of the last refresh's list, without asking control (undefined: not on it). */
  knownNode(id: bigint): NodeInfo | undefined {
    return this.#nodes.get(id);
  }

  /** A node by the name its certificate carries, if the list has it. */
  nodeNamed(name: string): NodeInfo | undefined {
    for (const node of this.#nodes.values()) if (node.name === name) return node;
    return undefined;
  }

  /** Fetches the node list (concurrent callers share one request). */
  refresh(): Promise<void> {
    this.#refreshing ??= (async () => {
      try {
        const nodes = await this.#nodesMatching("");
        const left = [...this.#nodes.values()].filter((node) => !nodes.has(node.id));
        this.#nodes = nodes;
        if (left.length > 0) this.onNodesLeft?.(left);
      } finally {
        this.#refreshing = null;
      }
    })();
    return this.#refreshing;
  }

  /** The IDs of the nodes whose attributes match `query` (`k=v&k2=v2`). */
  async lookup(query: string): Promise<bigint[]> {
    return [...(await this.#nodesMatching(query)).keys()];
  }

  async #nodesMatching(query: string): Promise<Map<bigint, NodeInfo>> {
    const url = new URL(this.registration.urls.nodes);
    url.search = query;
    const body = await this.#call(url.href, { method: "GET" }) as {
      nodes?: { id: number; address: string; name: string }[];
    };
    if (!Array.isArray(body.nodes)) throw new ControlError("control sent no node list");
    return new Map(
      body.nodes.map((node) => [
        BigInt(node.id),
        { id: BigInt(node.id), address: node.address, name: node.name },
      ]),
    );
  }

  /** Uploads a module; returns its control module ID. */
  async addModule(bytes: Uint8Array<ArrayBuffer>): Promise<bigint> {
    const body = await this.#call(this.registration.urls.add_module, {
      method: "POST",
      body: bytes,
    }) as { module_id?: number };
    if (typeof body.module_id !== "number") throw new ControlError("control gave no module ID");
    return BigInt(body.module_id);
  }

  /** A module's bytes, or null when control has no such module. */
  async module(id: bigint, environmentId: bigint): Promise<Uint8Array | null> {
    const url = new URL(this.registration.urls.get_module.replace("{id}", String(id)));
    url.searchParams.set("env_id", String(environmentId));
    try {
      const body = await this.#call(url.href, { method: "GET" }) as { bytes?: number[] };
      return Array.isArray(body.bytes) ? Uint8Array.from(body.bytes) : null;
    } catch (error) {
      if (error instanceof ControlError && /error_reading_bytes/.test(error.message)) return null;
      throw error;
    }
  }

  /** Tells control this node is leaving, and stops refreshing. */
  async stop(): Promise<void> {
    clearInterval(this.#timer);
    await this.#call(this.registration.urls.node_stopped, { method: "POST", body: "null" });
  }

  /** Stops refreshing without telling control (the node is going away regardless). */
  close(): void {
    clearInterval(this.#timer);
  }

  #call(url: string, init: RequestInit): Promise<unknown> {
    return call(url, {
      ...init,
      headers: {
        "content-type": "application/json",
        authorization: `Bearer ${this.registration.token}`,
        "x-lunatic-node-name": this.registration.nodeName,
      },
    });
  }
}

async function call(url: string, init: RequestInit): Promise<unknown> {
  let response: Response;
  let text: string;
  try {
    response = await fetch(url, { ...init, signal: AbortSignal.timeout(CALL_TIMEOUT_MS) });
    // The body too: the connection can drop, or the timeout fire, while it arrives.
    text = await response.text();
  } catch (error) {
    throw new ControlError(`control at ${url} cannot be reached: ${(error as Error).message}`);
  }
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new ControlError(`control at ${url} answered ${response.status} with no JSON`);
  }
  if (!response.ok) {
    const { code, message } = body as { code?: string; message?: string };
    throw new ControlError(`control refused ${url}: ${code ?? response.status} ${message ?? ""}`);
  }
  return body;
}
