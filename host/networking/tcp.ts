/**
 * TCP (spec §1.10) on `node:net` (see ./stream.ts for why not `Deno.Conn`). Streams are
 * shared connections (./stream.ts); listeners belong to one process. A process blocked in
 * accept, connect, read or write suspends only itself.
 */
import net from "node:net";
import { trap } from "../../runtime/errors.ts";
import { hostFn, type HostFunction, suspendingFn } from "../../runtime/host_api.ts";
import { TIMEOUT } from "../../runtime/message.ts";
import type { Process } from "../../runtime/process.ts";
import { guestTimeout } from "../../runtime/timers.ts";
import { fromHostPort, ipText, readSocketAddress, type SocketAddress } from "./addresses.ts";
import { isUnwinding, reportError, TIMED_OUT, withDeadline, writeAddress } from "./io.ts";
import {
  addHandle,
  addressIterator,
  cloneHandle,
  dropHandle,
  handleOf,
  networking,
  OpenSocket,
  Shared,
} from "./resources.ts";
import { NO_TIMEOUT, StreamConnection } from "./stream.ts";

const ADDRESS = ["i32", "i32", "i32", "i32", "i32"] as const;
/** Connections the kernel queues for a listener before `accept` (Deno's and Node's 511). */
const BACKLOG = 511;
/**
 * Sockets listening on one guest listener's address (SO_REUSEPORT), each accepting on its
 * own. `node:net` accepts one connection per event-loop turn per socket, and a turn of a busy
 * runtime lasts a scheduler slice: with one socket, 400 clients connecting to a loaded server
 * waited up to 2.9 s to be accepted; with four, ~0.25 s (BENCHMARKS.md).
 */
const ACCEPTING_SOCKETS = 4;
/** Accepted connections a listener keeps for `accept` calls not made yet. */
const QUEUED_CONNECTIONS = 1024;

/**
 * A listening socket. Connections arrive as events; it keeps them for the `accept` calls to
 * come (up to a bound, past which new ones are closed, as a full backlog refuses them) and
 * hands them to waiting calls in order.
 */
export class Listener extends OpenSocket {
  readonly #queue: net.Socket[] = [];
  readonly #waiters: { resolve(socket: net.Socket): void; abandoned: boolean }[] = [];

  constructor(readonly bound: BoundAddress) {
    super();
    for (const server of bound.servers) {
      server.on("connection", (socket: net.Socket) => {
        socket.setNoDelay(true);
        for (let waiter = this.#waiters.shift(); waiter; waiter = this.#waiters.shift()) {
          if (!waiter.abandoned) return waiter.resolve(socket);
        }
        if (this.#queue.length < QUEUED_CONNECTIONS) this.#queue.push(socket);
        else socket.destroy();
      });
      server.on("error", () => {});
    }
  }

  protected closeSocket(): void {
    this.bound.close();
    for (const socket of this.#queue.splice(0)) socket.destroy();
  }

  /** The next connection: a queued one, or the next to arrive. */
  accept(process: Process): net.Socket | Promise<net.Socket> {
    const queued = this.#queue.shift();
    if (queued !== undefined) return queued;
    let waiter!: { resolve(socket: net.Socket): void; abandoned: boolean };
    const arrival = new Promise<net.Socket>((resolve) => {
      waiter = { resolve, abandoned: false };
      this.#waiters.push(waiter);
    });
    return process.suspend(arrival, () => waiter.abandoned = true);
  }

  address(): SocketAddress {
    return this.bound.address;
  }
}

/**
 * The addresses this OS process listens on. The sockets of a listener share their port
 * (SO_REUSEPORT), which would let a second bind of the same address succeed: this refuses it
 * as the kernel refuses a socket without that option.
 */
const boundAddresses = new Set<string>();

/** A bound address: its accepting sockets, and the address as the first one got it. */
export class BoundAddress {
  readonly #key: string;
  constructor(readonly servers: net.Server[], readonly address: SocketAddress) {
    this.#key = addressKey(address);
    boundAddresses.add(this.#key);
  }

  close(): void {
    boundAddresses.delete(this.#key);
    for (const server of this.servers) server.close();
  }
}

function addressKey(address: SocketAddress): string {
  return `${ipText(address)}|${address.port}`;
}

/** Whether binding `address` would overlap one of ours (the same port on it or a wildcard). */
function overlapsOurs(address: SocketAddress): boolean {
  if (address.port === 0) return false;
  const ip = ipText(address);
  const wildcards = ["0.0.0.0", "::"];
  for (const key of boundAddresses) {
    const [boundIp, boundPort] = key.split("|");
    if (Number(boundPort) !== address.port) continue;
    if (boundIp === ip || wildcards.includes(boundIp) || wildcards.includes(ip)) return true;
  }
  return false;
}

/** One listening socket on `host:port` with SO_REUSEPORT, or the error that stopped it. */
function listenOne(host: string, port: number): Promise<net.Server> {
  const server = net.createServer();
  return new Promise((resolve, reject) => {
    const failed = (error: Error) => {
      server.close();
      reject(error);
    };
    server.once("error", failed);
    server.listen({ port, host, backlog: BACKLOG, reusePort: true } as net.ListenOptions, () => {
      server.off("error", failed);
      resolve(server);
    });
  });
}

/** Listening sockets on `address` (port 0: one the OS picks), or the error that stopped them. */
export async function listen(address: SocketAddress): Promise<BoundAddress> {
  if (overlapsOurs(address)) {
    throw Object.assign(new Error("address in use"), { code: "EADDRINUSE" });
  }
  const host = ipText(address);
  const first = await listenOne(host, address.port);
  const { address: boundIp, port } = first.address() as net.AddressInfo;
  const servers = [first];
  try {
    while (servers.length < ACCEPTING_SOCKETS) servers.push(await listenOne(host, port));
  } catch (error) {
    for (const server of servers) server.close();
    throw error;
  }
  return new BoundAddress(servers, fromHostPort(boundIp, port));
}

/** Connects to `address`; resolves once connected. */
function connect(address: SocketAddress): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: ipText(address), port: address.port });
    const failed = (error: Error) => {
      socket.destroy();
      reject(error);
    };
    socket.once("error", failed);
    socket.once("connect", () => {
      socket.off("error", failed);
      socket.setNoDelay(true);
      resolve(socket);
    });
  });
}

/** Destroys what `pending` brings, whenever it comes (a connection nobody will take). */
export function destroyWhenSettled(pending: Promise<net.Socket>): void {
  pending.then((socket) => socket.destroy(), () => {});
}

/** The address of a connected socket's peer. */
export function peerAddress(socket: net.Socket): SocketAddress {
  if (socket.remoteAddress === undefined || socket.remotePort === undefined) {
    throw Object.assign(new Error("not connected"), { code: "ENOTCONN" });
  }
  return fromHostPort(socket.remoteAddress, socket.remotePort);
}

/** The stream with `id` in the process's table of `kind`; traps on an unknown ID. */
export function connectionOf(
  process: Process,
  kind: "tcp_stream" | "tls_stream",
  id: bigint,
): StreamConnection {
  return handleOf<StreamConnection>(process, kind, id).socket;
}

/** A handle to a new connection over `socket` in the process's table of `kind`; its ID. */
export function addStream(
  process: Process,
  kind: "tcp_stream" | "tls_stream",
  socket: net.Socket,
): bigint {
  return addHandle(process, kind, new Shared(new StreamConnection(socket)));
}

/** The listener with `id`; traps on an unknown ID. */
function listenerOf(process: Process, id: bigint, tls: boolean): Listener {
  const table = tls ? networking(process).tlsListeners : networking(process).tcpListeners;
  const listener = table.get(id);
  if (listener === undefined) {
    trap(`unknown ${tls ? "tls" : "tcp"} listener id ${BigInt.asUintN(64, id)}`);
  }
  return listener as Listener;
}

/** Reads `count` `{ptr u32, len u32}` entries at `iovPtr` and joins the bytes they name. */
export function gatherIovecs(process: Process, iovPtr: number, count: number): Uint8Array {
  const memory = process.memory;
  const start = memory.check(iovPtr, (count >>> 0) * 8);
  if (count === 1) return memory.copy(memory.readU32(start), memory.readU32(start + 4));
  const parts: Uint8Array[] = [];
  let total = 0;
  for (let i = 0; i < (count >>> 0) * 8; i += 8) {
    const part = memory.bytes(memory.readU32(start + i), memory.readU32(start + i + 4));
    parts.push(part);
    total += part.byteLength;
  }
  const joined = new Uint8Array(total);
  let at = 0;
  for (const part of parts) {
    joined.set(part, at);
    at += part.byteLength;
  }
  return joined;
}

/** Binds a listener for `address` into `table`; the listener ID (or an error ID) at `idPtr`. */
export async function bindListener(
  process: Process,
  address: SocketAddress,
  idPtr: number,
  wrap: (bound: BoundAddress) => Listener,
  tls: boolean,
): Promise<number> {
  const binding = listen(address);
  let bound: BoundAddress;
  try {
    bound = await process.suspend(binding);
  } catch (error) {
    if (isUnwinding(error)) {
      binding.then((b) => b.close(), () => {});
      throw error;
    }
    return reportError(process, idPtr, error);
  }
  const table = tls ? networking(process).tlsListeners : networking(process).tcpListeners;
  process.memory.writeU64(idPtr, table.add(wrap(bound)));
  return 0;
}

/** Connects to `address` within `timeout` (guest ms); a late connection is closed. */
export async function connectTo(
  process: Process,
  address: SocketAddress,
  timeout: bigint,
): Promise<net.Socket | typeof TIMED_OUT> {
  const connecting = connect(address);
  try {
    return await withDeadline(process, connecting, timeout, (socket) => socket.destroy());
  } catch (error) {
    if (isUnwinding(error)) destroyWhenSettled(connecting);
    throw error;
  }
}

/**
 * `tcp_read`, `tcp_peek`, `tls_read`: one read of up to `len` bytes into the guest's buffer;
 * the byte count (0: end of stream) at `outPtr`. Bytes already there are read without
 * suspending the caller.
 */
export function readInto(
  process: Process,
  connection: StreamConnection,
  bufPtr: number,
  len: number,
  outPtr: number,
  peek: boolean,
): number | Promise<number> {
  process.memory.check(bufPtr, len);
  process.memory.check(outPtr, 8);
  process.checkSignals();
  let data;
  try {
    data = connection.takeNow(len >>> 0, peek);
  } catch (error) {
    return reportError(process, outPtr, error);
  }
  if (data === null) {
    const timeout = peek ? connection.peekTimeout : connection.readTimeout;
    if (timeout !== NO_TIMEOUT) return readLater(process, connection, bufPtr, len, outPtr, peek);
    // The usual wait, without a deadline: as few promises as a wake-up can take.
    return process.suspend(connection.nextArrival()).then(() =>
      readInto(process, connection, bufPtr, len, outPtr, peek)
    );
  }
  return deliver(process, data, bufPtr, outPtr);
}

/** Copies what a read got into the guest's buffer, its length to `outPtr`; returns 0. */
function deliver(process: Process, data: Uint8Array, bufPtr: number, outPtr: number): number {
  process.memory.write(bufPtr, data); // after a wait, the memory may have grown: checked again
  process.memory.writeU64(outPtr, data.byteLength);
  return 0;
}

async function readLater(
  process: Process,
  connection: StreamConnection,
  bufPtr: number,
  len: number,
  outPtr: number,
  peek: boolean,
): Promise<number> {
  let data;
  try {
    data = await connection.read(process, len >>> 0, peek);
  } catch (error) {
    if (isUnwinding(error)) throw error;
    return reportError(process, outPtr, error);
  }
  return data === TIMED_OUT ? TIMEOUT : deliver(process, data, bufPtr, outPtr);
}

/**
 * `tcp_write_vectored`, `tls_write_vectored`: one write; the byte count at `outPtr`. The
 * caller suspends only when the connection has too much queued already.
 */
export function writeFrom(
  process: Process,
  connection: StreamConnection,
  iovPtr: number,
  iovCount: number,
  outPtr: number,
): number | Promise<number> {
  const data = gatherIovecs(process, iovPtr, iovCount);
  process.memory.check(outPtr, 8);
  process.checkSignals();
  let written;
  try {
    written = connection.write(process, data);
  } catch (error) {
    return reportError(process, outPtr, error);
  }
  if (typeof written !== "number") return writeLater(process, written, outPtr);
  process.memory.writeU64(outPtr, written);
  return 0;
}

async function writeLater(
  process: Process,
  writing: Promise<number | typeof TIMED_OUT>,
  outPtr: number,
): Promise<number> {
  let written;
  try {
    written = await writing;
  } catch (error) {
    if (isUnwinding(error)) throw error;
    return reportError(process, outPtr, error);
  }
  if (written === TIMED_OUT) return TIMEOUT;
  process.memory.writeU64(outPtr, written);
  return 0;
}

type TimeoutField = "readTimeout" | "writeTimeout" | "peekTimeout";

/** A setter and a getter of one of a stream's timeouts (u64::MAX: none). */
export function timeoutFunctions(kind: "tcp_stream" | "tls_stream", field: TimeoutField) {
  return {
    set: hostFn(["i64", "i64"], [], (id: bigint, ms: bigint, p: Process) => {
      const value = guestTimeout(ms);
      connectionOf(p, kind, id)[field] = value === null ? NO_TIMEOUT : value;
    }),
    get: hostFn(["i64"], ["i64"], (id: bigint, p: Process) => {
      return BigInt.asIntN(64, connectionOf(p, kind, id)[field]);
    }),
  };
}

/**
 * The calls TCP and TLS streams share, under the names of `kind` (`drop_tcp_stream`,
 * `tcp_read`, ...): drop, clone, vectored write, read and flush.
 */
export function streamFunctions(
  kind: "tcp_stream" | "tls_stream",
  prefix: "tcp" | "tls",
): Record<string, HostFunction<Process>> {
  return {
    [`drop_${kind}`]: hostFn(["i64"], [], (id: bigint, p: Process) => {
      dropHandle(p, kind, id);
    }),
    [`clone_${kind}`]: hostFn(["i64"], ["i64"], (id: bigint, p: Process) => {
      return cloneHandle(p, kind, id);
    }),
    [`${prefix}_write_vectored`]: suspendingFn(
      ["i64", "i32", "i32", "i32"],
      ["i32"],
      (id: bigint, iovPtr: number, iovCount: number, outPtr: number, p: Process) => {
        return writeFrom(p, connectionOf(p, kind, id), iovPtr, iovCount, outPtr);
      },
    ),
    [`${prefix}_read`]: suspendingFn(
      ["i64", "i32", "i32", "i32"],
      ["i32"],
      (id: bigint, bufPtr: number, len: number, outPtr: number, p: Process) => {
        return readInto(p, connectionOf(p, kind, id), bufPtr, len, outPtr, false);
      },
    ),
    // Writes are handed to the socket as they are made: nothing is held back to flush.
    [`${prefix}_flush`]: hostFn(
      ["i64", "i32"],
      ["i32"],
      (id: bigint, errorPtr: number, p: Process) => {
        connectionOf(p, kind, id);
        p.memory.writeU64(errorPtr, 0);
        return 0;
      },
    ),
  };
}

const readTimeout = timeoutFunctions("tcp_stream", "readTimeout");
const writeTimeout = timeoutFunctions("tcp_stream", "writeTimeout");
const peekTimeout = timeoutFunctions("tcp_stream", "peekTimeout");

export const tcpFunctions: Record<string, HostFunction<Process>> = {
  tcp_bind: suspendingFn(
    [...ADDRESS, "i32"],
    ["i32"],
    (
      type: number,
      ptr: number,
      port: number,
      flow: number,
      scope: number,
      idPtr: number,
      p: Process,
    ) => {
      const address = readSocketAddress(p.memory, type, ptr, port, flow, scope);
      p.memory.check(idPtr, 8);
      return bindListener(p, address, idPtr, (bound) => new Listener(bound), false);
    },
  ),
  drop_tcp_listener: hostFn(["i64"], [], (id: bigint, p: Process) => {
    listenerOf(p, id, false);
    networking(p).tcpListeners.take(id)!.close();
  }),
  tcp_local_addr: hostFn(["i64", "i32"], ["i32"], (id: bigint, idPtr: number, p: Process) => {
    const listener = listenerOf(p, id, false);
    return writeAddress(p, idPtr, () => listener.address());
  }),
  tcp_accept: suspendingFn(
    ["i64", "i32", "i32"],
    ["i32"],
    async (id: bigint, idPtr: number, peerPtr: number, p: Process) => {
      const listener = listenerOf(p, id, false);
      p.memory.check(idPtr, 8);
      p.memory.check(peerPtr, 8);
      const socket = await listener.accept(p);
      let peer: SocketAddress;
      try {
        peer = peerAddress(socket);
      } catch (error) {
        socket.destroy();
        p.memory.writeU64(peerPtr, 0);
        return reportError(p, idPtr, error);
      }
      p.memory.writeU64(idPtr, addStream(p, "tcp_stream", socket));
      p.memory.writeU64(peerPtr, addressIterator(p, peer));
      return 0;
    },
  ),
  tcp_connect: suspendingFn(
    [...ADDRESS, "i64", "i32"],
    ["i32"],
    async (
      type: number,
      ptr: number,
      port: number,
      flow: number,
      scope: number,
      timeout: bigint,
      idPtr: number,
      p: Process,
    ) => {
      const address = readSocketAddress(p.memory, type, ptr, port, flow, scope);
      p.memory.check(idPtr, 8);
      let socket;
      try {
        socket = await connectTo(p, address, timeout);
      } catch (error) {
        if (isUnwinding(error)) throw error;
        return reportError(p, idPtr, error);
      }
      if (socket === TIMED_OUT) return TIMEOUT;
      p.memory.writeU64(idPtr, addStream(p, "tcp_stream", socket));
      return 0;
    },
  ),
  tcp_peer_addr: hostFn(["i64", "i32"], ["i32"], (id: bigint, idPtr: number, p: Process) => {
    const connection = connectionOf(p, "tcp_stream", id);
    return writeAddress(p, idPtr, () => peerAddress(connection.socket));
  }),
  ...streamFunctions("tcp_stream", "tcp"),
  // Does not consume, with or without a peek timeout (lunatic's consumes without one).
  tcp_peek: suspendingFn(
    ["i64", "i32", "i32", "i32"],
    ["i32"],
    (id: bigint, bufPtr: number, len: number, outPtr: number, p: Process) => {
      return readInto(p, connectionOf(p, "tcp_stream", id), bufPtr, len, outPtr, true);
    },
  ),
  set_read_timeout: readTimeout.set,
  get_read_timeout: readTimeout.get,
  set_write_timeout: writeTimeout.set,
  get_write_timeout: writeTimeout.get,
  set_peek_timeout: peekTimeout.set,
  get_peek_timeout: peekTimeout.get,
};
