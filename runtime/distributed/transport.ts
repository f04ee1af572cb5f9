/**
 * Node-to-node connections: TCP with mutual TLS (`node:tls`, whose servers can require
 * client certificates; `Deno.listenTls` cannot). Both ends present certificates from the
 * control server's CA, and each checks the other's name (the node's UUID, its certificate's
 * only DNS name). A connection carries requests both ways, each answered on it by `msg_id`;
 * one is made to a node the first time something is sent to it, and a node that connects to
 * us is reached through its own connection, so a pair of nodes shares one in the usual case.
 *
 * Failing fast: a connection attempt has `connectTimeoutMs` (1 s); after a failure the node
 * is not tried again for a backoff (100 ms, doubling to 5 s), and requests in between fail at
 * once with the same error. Two nodes that dial each other at once agree on one of the two
 * connections and retire the other. A frame that cannot be decoded closes its connection with a
 * logged reason; nothing else is affected. A request or answer too big for a frame is refused
 * where it is made (the other end would have to close the connection over it).
 */
import * as tls from "node:tls";
import { setImmediate } from "node:timers";
import { getLogger } from "@logtape/logtape";
import {
  decodePayload,
  FrameReader,
  MAX_FRAME_BYTES,
  type Request,
  requestPayload,
  type Response,
  responsePayload,
} from "./wire.ts";
import type { KeyPair } from "./x509.ts";

const log = getLogger(["lunatic", "distributed"]);

/** A node could not be reached, or stopped answering; the text names it. */
export class ConnectionError extends Error {}

export interface PeerAddress {
  name: string;
  /** `ip:port`, `[v6]:port`. */
  address: string;
}

export interface TransportOptions {
  key: KeyPair;
  certPem: string;
  caPem: string;
  /** Answers a request that came from the node named `peer`. */
  handle(request: Request, peer: string): Promise<Response> | Response;
  /** A connection to the node named `peer` closed (it may be back soon, or gone). */
  onDisconnect?(peer: string): void;
  connectTimeoutMs?: number;
  /** How long a request waits for its answer. */
  requestTimeoutMs?: number;
  /**
   * This node's name (its certificate's). With it, two nodes that dialed each other at once
   * agree on one connection to keep (the one dialed by the smaller name) and retire the other.
   */
  name?: string;
  /** How long a retired connection must have been quiet before it closes (default 2 s). */
  retireGraceMs?: number;
}

interface Pending {
  resolve(response: Response): void;
  reject(error: Error): void;
  /** When it stops waiting (Date.now() ms). */
  deadline: number;
}

class Connection {
  readonly #reader = new FrameReader();
  readonly #pending = new Map<bigint, Pending>();
  #nextMsgId = 1n;
  #closed = false;
  /**
   * Frames written in this turn of the event loop, sent together at its end: laid out here
   * as they go on the wire (one buffer, grown as needed, instead of an allocation per frame).
   */
  #outgoing = new Uint8Array(4096);
  #outgoingLength = 0;

  /** Replaced by another connection to the same node: it takes no new requests. */
  #retired = false;
  /** When the other end last sent a request on it (performance.now()). */
  #lastIncoming = 0;

  constructor(
    readonly socket: tls.TLSSocket,
    readonly peer: string,
    readonly transport: NodeTransport,
    readonly options: TransportOptions,
    /** Whether this node dialed it (else the peer did). */
    readonly dialedByUs: boolean,
  ) {
    socket.on("data", (chunk: Uint8Array) => this.#received(chunk));
    socket.on("error", (error: Error) => this.close(`${error.message}`));
    socket.on("close", () => this.close("the connection closed"));
  }

  request(request: Request): Promise<Response> {
    if (this.#closed) return Promise.reject(new ConnectionError(`node ${this.peer}: closed`));
    const msgId = this.#nextMsgId++;
    const payload = requestPayload(msgId, request);
    if (payload.length > MAX_FRAME_BYTES) {
      return Promise.reject(new ConnectionError(tooBig(`a ${request.kind} request`, payload)));
    }
    this.#write(payload); // copied now: the payload is the encoder's buffer
    return new Promise((resolve, reject) => {
      const deadline = Date.now() + (this.options.requestTimeoutMs ?? 30_000);
      this.#pending.set(msgId, { resolve, reject, deadline });
      // One sweep a second instead of a timer per request (two timer operations a message).
      this.#sweeper ??= setInterval(() => this.#expire(), 1_000);
    });
  }

  #sweeper: ReturnType<typeof setInterval> | null = null;

  /** Fails the requests whose answer is overdue. */
  #expire(): void {
    const now = Date.now();
    for (const [msgId, pending] of this.#pending) {
      if (pending.deadline > now) continue;
      this.#pending.delete(msgId);
      const timeout = this.options.requestTimeoutMs ?? 30_000;
      pending.reject(new ConnectionError(`node ${this.peer} did not answer within ${timeout} ms`));
    }
    if (this.#pending.size === 0 && this.#sweeper !== null) {
      clearInterval(this.#sweeper);
      this.#sweeper = null;
    }
  }

  #received(chunk: Uint8Array): void {
    let payloads: Uint8Array[];
    try {
      payloads = this.#reader.push(chunk);
    } catch (error) {
      this.close((error as Error).message, true);
      return;
    }
    for (const payload of payloads) {
      let incoming;
      try {
        incoming = decodePayload(payload);
      } catch (error) {
        this.close((error as Error).message, true);
        return;
      }
      if ("response" in incoming) {
        const pending = this.#pending.get(incoming.msgId);
        if (pending === undefined) continue; // answered after its timeout
        this.#pending.delete(incoming.msgId);
        pending.resolve(incoming.response);
      } else {
        this.#lastIncoming = performance.now();
        this.#answer(incoming.msgId, incoming.request);
      }
    }
  }

  /** Requests of the other end being answered now. */
  #answering = 0;

  async #answer(msgId: bigint, request: Request): Promise<void> {
    let response: Response;
    this.#answering++;
    try {
      response = await this.options.handle(request, this.peer);
    } catch (error) {
      response = { kind: "Error", error: { kind: "Unexpected", message: String(error) } };
    } finally {
      this.#answering--;
    }
    if (this.#closed) return;
    let payload = responsePayload(msgId, response);
    if (payload.length > MAX_FRAME_BYTES) {
      const message = tooBig(`the answer to a ${request.kind} request`, payload);
      log.warn("node {peer}: {message}", { peer: this.peer, message });
      payload = responsePayload(msgId, { kind: "Error", error: { kind: "Unexpected", message } });
    }
    this.#write(payload);
  }

  /**
   * Queues a frame for the end of this event-loop turn: an acknowledgement and the answer a
   * process sends right after (a reply, the next request) leave in one segment, which halves
   * the system calls and wake-ups of a request/reply between processes on two nodes.
   */
  #write(payload: Uint8Array): void {
    const start = this.#outgoingLength;
    const end = start + 4 + payload.length;
    if (end > this.#outgoing.length) {
      const grown = new Uint8Array(Math.max(end, this.#outgoing.length * 2));
      grown.set(this.#outgoing.subarray(0, start));
      this.#outgoing = grown;
    }
    const out = this.#outgoing;
    const length = payload.length;
    out[start] = length & 0xff;
    out[start + 1] = (length >>> 8) & 0xff;
    out[start + 2] = (length >>> 16) & 0xff;
    out[start + 3] = (length >>> 24) & 0xff;
    out.set(payload, start + 4);
    this.#outgoingLength = end;
    if (start === 0) setImmediate(this.#flush);
  }

  readonly #flush = () => {
    const length = this.#outgoingLength;
    this.#outgoingLength = 0;
    if (this.#closed || length === 0) return;
    // A copy: the socket may hold on to what it is given until the write completes.
    this.socket.write(this.#outgoing.slice(0, length));
    // A burst's big buffer is not kept for the rest of the connection's life.
    if (this.#outgoing.length > 1 << 20) this.#outgoing = new Uint8Array(4096);
  };

  /**
   * Stops using it for new requests; it closes once it has been quiet for the grace period:
   * no request of ours waiting on it, none from the other end lately (that end may not have
   * switched yet, and what it sends is still answered).
   */
  retire(): void {
    if (this.#retired || this.#closed) return;
    this.#retired = true;
    const grace = this.options.retireGraceMs ?? 2_000;
    const check = () => {
      if (this.#closed) return;
      const quiet = performance.now() - this.#lastIncoming >= grace;
      if (this.#pending.size === 0 && this.#answering === 0 && quiet) {
        this.close("replaced by another connection to the same node");
        return;
      }
      const timer = setTimeout(check, grace);
      Deno.unrefTimer(Number(timer));
    };
    const timer = setTimeout(check, grace);
    Deno.unrefTimer(Number(timer));
  }

  /** Closes the connection: pending requests fail with `reason`. */
  close(reason: string, badFrame = false): void {
    if (this.#closed) return;
    this.#closed = true;
    if (badFrame) {
      log.warn("closing the connection to node {peer}: {reason}", {
        peer: this.peer,
        reason,
      });
    }
    for (const pending of this.#pending.values()) {
      pending.reject(new ConnectionError(`node ${this.peer}: ${reason}`));
    }
    this.#pending.clear();
    if (this.#sweeper !== null) clearInterval(this.#sweeper);
    this.#sweeper = null;
    this.socket.destroy();
    this.transport.forget(this);
    // A retired connection's node is still reached through the one that replaced it.
    if (!this.#retired) this.options.onDisconnect?.(this.peer);
  }
}

export class NodeTransport {
  readonly #options: TransportOptions;
  readonly #connections = new Map<string, Connection>();
  readonly #dialing = new Map<string, Promise<Connection>>();
  readonly #backoff = new Map<string, { until: number; delay: number; error: string }>();
  #server: tls.Server | null = null;
  /** Set by close(): nothing is dialed or accepted any more. */
  #closed = false;

  constructor(options: TransportOptions) {
    this.#options = options;
  }

  /** Accepts nodes' connections on `hostname:port` (0: any free port); returns the port. */
  listen(hostname: string, port: number): Promise<number> {
    const server = tls.createServer({
      key: this.#options.key.keyPem,
      cert: this.#options.certPem,
      ca: [this.#options.caPem],
      requestCert: true,
      rejectUnauthorized: true,
    }, (socket) => {
      if (this.#closed) {
        socket.destroy();
        return;
      }
      const peer = peerName(socket);
      if (peer === null) {
        log.warn("refusing a connection whose certificate names no node");
        socket.destroy();
        return;
      }
      socket.setNoDelay(true);
      this.#adopt(new Connection(socket, peer, this, this.#options, false));
    });
    server.on("tlsClientError", (error: Error) => {
      log.info("refused a node connection: {reason}", { reason: error.message });
    });
    this.#server = server;
    return new Promise((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, hostname, () => {
        server.off("error", reject);
        // Later errors (too many open files on accept, ...) are logged; the node serves on.
        server.on("error", (error: Error) => {
          log.warn("node listener: {reason}", { reason: error.message });
        });
        resolve((server.address() as { port: number }).port);
      });
    });
  }

  /** Sends `request` to `peer` (connecting if needed) and waits for the answer. */
  request(peer: PeerAddress, request: Request): Promise<Response> {
    // An open connection takes it at once (no turn through a resolved promise first).
    const open = this.#closed ? undefined : this.#connections.get(peer.name);
    if (open !== undefined) return open.request(request);
    try {
      return this.#connection(peer).then((connection) => connection.request(request));
    } catch (error) {
      return Promise.reject(error); // a bad address: a rejection, as every other failure
    }
  }

  /** Whether a connection to `peer` is open now. */
  connected(name: string): boolean {
    return this.#connections.has(name);
  }

  #connection(peer: PeerAddress): Promise<Connection> {
    if (this.#closed) {
      return Promise.reject(new ConnectionError(`node ${peer.name}: this node is shutting down`));
    }
    const open = this.#connections.get(peer.name);
    if (open !== undefined) return Promise.resolve(open);
    const dialing = this.#dialing.get(peer.name);
    if (dialing !== undefined) return dialing;
    const backoff = this.#backoff.get(peer.name);
    if (backoff !== undefined && Date.now() < backoff.until) {
      return Promise.reject(new ConnectionError(backoff.error));
    }
    const attempt = this.#dial(peer).then((connection) => {
      this.#backoff.delete(peer.name);
      if (this.#closed) {
        connection.close("node shutting down");
        throw new ConnectionError(`node ${peer.name}: this node is shutting down`);
      }
      return this.#adopt(connection);
    }, (error: Error) => {
      const delay = Math.min((backoff?.delay ?? 50) * 2, 5_000);
      const message = `node ${peer.name} at ${peer.address} cannot be reached: ${error.message}`;
      this.#backoff.set(peer.name, { until: Date.now() + delay, delay, error: message });
      throw new ConnectionError(message);
    }).finally(() => this.#dialing.delete(peer.name));
    this.#dialing.set(peer.name, attempt);
    return attempt;
  }

  #dial(peer: PeerAddress): Promise<Connection> {
    const { host, port } = splitAddress(peer.address);
    const timeoutMs = this.#options.connectTimeoutMs ?? 1_000;
    return new Promise((resolve, reject) => {
      const socket = tls.connect({
        host,
        port,
        servername: peer.name,
        ca: [this.#options.caPem],
        key: this.#options.key.keyPem,
        cert: this.#options.certPem,
      });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error(`no connection within ${timeoutMs} ms`));
      }, timeoutMs);
      socket.once("secureConnect", () => {
        clearTimeout(timer);
        socket.setNoDelay(true);
        socket.removeAllListeners("error");
        resolve(new Connection(socket, peer.name, this, this.#options, true));
      });
      socket.once("error", (error: Error) => {
        clearTimeout(timer);
        socket.destroy();
        reject(error);
      });
    });
  }

  /**
   * Makes `connection` the one that serves its node, unless there is one already: two nodes
   * that dialed each other at once then both keep the connection dialed by the smaller of
   * their names (each decides alone and they agree) and retire the other. Without this node's
   * name, or between two connections one node dialed, the newer one serves. Returns the one
   * kept.
   */
  #adopt(connection: Connection): Connection {
    this.#open.add(connection);
    const existing = this.#connections.get(connection.peer);
    let keep = connection;
    if (existing !== undefined && existing !== connection && this.#options.name !== undefined) {
      const ours = this.#options.name.toLowerCase();
      const dialer = (c: Connection) => c.dialedByUs ? ours : c.peer.toLowerCase();
      if (dialer(existing) !== dialer(connection) && dialer(existing) < dialer(connection)) {
        keep = existing;
      }
    }
    if (existing !== undefined && existing !== keep) existing.retire();
    if (keep !== connection) connection.retire();
    this.#connections.set(connection.peer, keep);
    return keep;
  }

  /** Every open connection, those retired included. */
  readonly #open = new Set<Connection>();

  /** How many connections to the node `name` are open (retired ones still closing included). */
  openConnections(name: string): number {
    let count = 0;
    for (const connection of this.#open) if (connection.peer === name) count++;
    return count;
  }

  /** Called by a connection that closed. */
  forget(connection: Connection): void {
    this.#open.delete(connection);
    if (this.#connections.get(connection.peer) === connection) {
      this.#connections.delete(connection.peer);
    }
  }

  /** Stops accepting and closes every connection. */
  async close(): Promise<void> {
    this.#closed = true;
    for (const connection of [...this.#open]) connection.close("node shutting down");
    const server = this.#server;
    this.#server = null;
    if (server !== null) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

function tooBig(what: string, payload: Uint8Array): string {
  return `${what} of ${payload.length} bytes is over the ${MAX_FRAME_BYTES}-byte frame limit`;
}

/** The node name a verified client certificate carries (its DNS subject alternative name). */
function peerName(socket: tls.TLSSocket): string | null {
  const names = socket.getPeerCertificate()?.subjectaltname ?? "";
  const match = names.match(/DNS:([^,\s]+)/);
  return match === null ? null : match[1];
}

function splitAddress(address: string): { host: string; port: number } {
  const match = address.match(/^\[(.+)\]:(\d+)$/) ?? address.match(/^([^:]+):(\d+)$/);
  if (match === null) throw new ConnectionError(`bad node address ${address}`);
  return { host: match[1], port: Number(match[2]) };
}
