/**
 * TCP (spec §1.10) on `Deno.listen` and `Deno.connect`. Streams are shared connections
 * (./tcp_connection.ts); listeners belong to one process. A process blocked in accept,
 * connect, read or write suspends only itself. The stream calls (read, write, clone, drop,
 * timeouts) are shared with TLS (./tls.ts), whose connections are `node:tls` sockets.
 */
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
import { type ByteStream, NO_TIMEOUT } from "./stream.ts";
import { TcpConnection } from "./tcp_connection.ts";
import { addressInUse, holdAddress, overlapsBound } from "./bound_addresses.ts";

const ADDRESS = ["i32", "i32", "i32", "i32", "i32"] as const;
/** Accepted connections a listener keeps for `accept` calls not made yet. */
const QUEUED_CONNECTIONS = 1024;

/**
 * A listening socket on `Deno.listen`. It accepts ahead of the `accept` calls, keeping up to
 * {@link QUEUED_CONNECTIONS} (past that the kernel's backlog holds them), so that an accept
 * loop takes waiting connections without suspending: a suspended acceptor resumes only on
 * its turn, behind every process that is ready, and under load its clients waited that long
 * for each connection. It starts with the first call: a listener with an accept in flight
 * closes its socket only when Deno drops that operation, an event-loop turn later, and a
 * listener bound and dropped unused should refuse connections at once. Deno accepts up to
 * ~128 connections per event-loop turn.
 */
export class TcpListener extends OpenSocket {
  readonly #queue: Deno.TcpConn[] = [];
  #waiter: { resolve(conn: Deno.TcpConn): void; reject(error: unknown): void } | null = null;
  #accepting = false;

  /**
   * @param release gives up the address held against a second bind in this isolate (a
   *   listener that shares its port, see {@link listen}), or null.
   */
  constructor(readonly listener: Deno.TcpListener, private readonly release: (() => void) | null) {
    super();
  }

  protected closeSocket(): void {
    this.release?.();
    this.listener.close();
    for (const conn of this.#queue.splice(0)) conn.close();
  }

  /** The next connection: a queued one, or the next to arrive. */
  accept(process: Process): Deno.TcpConn | Promise<Deno.TcpConn> {
    const queued = this.#queue.shift();
    if (!this.#accepting) this.#acceptOne();
    if (queued !== undefined) return queued;
    const waiter = {} as { resolve(conn: Deno.TcpConn): void; reject(error: unknown): void };
    const arrival = new Promise<Deno.TcpConn>((resolve, reject) => {
      waiter.resolve = resolve;
      waiter.reject = reject;
    });
    this.#waiter = waiter;
    return process.suspend(arrival, () => {
      if (this.#waiter === waiter) this.#waiter = null;
    });
  }

  #acceptOne(): void {
    if (this.closed || this.#queue.length >= QUEUED_CONNECTIONS) return;
    this.#accepting = true;
    this.listener.accept().then((conn) => {
      this.#accepting = false;
      if (this.closed) return conn.close();
      const waiter = this.#waiter;
      this.#waiter = null;
      if (waiter !== null) waiter.resolve(conn);
      else this.#queue.push(conn);
      this.#acceptOne();
    }, (error) => {
      this.#accepting = false;
      const waiter = this.#waiter;
      this.#waiter = null;
      // An error (out of descriptors, say) goes to the next accept call, not to a loop.
      if (!this.closed) waiter?.reject(error);
    });
  }

  address(): SocketAddress {
    const { hostname, port } = this.listener.addr;
    return fromHostPort(hostname, port);
  }
}

/**
 * A listener on `address` (port 0: one the OS picks), or the error that stopped it. With
 * `shared` (the instances of `lunatic run --parallel`), the socket takes SO_REUSEPORT, so that
 * each instance's listener on the address gets a share of its connections from the kernel.
 */
function listen(address: SocketAddress, shared: boolean): TcpListener {
  if (!shared) {
    return new TcpListener(
      Deno.listen({ hostname: ipText(address), port: address.port, transport: "tcp" }),
      null,
    );
  }
  if (overlapsBound(address)) throw addressInUse();
  const listener = Deno.listen({
    hostname: ipText(address),
    port: address.port,
    transport: "tcp",
    reusePort: true,
  });
  const { hostname, port } = listener.addr;
  return new TcpListener(listener, holdAddress(fromHostPort(hostname, port)));
}

/** A connection as a stream: Nagle's algorithm off, so a small write (a response) goes at once. */
function accepted(conn: Deno.TcpConn): TcpConnection {
  try {
    conn.setNoDelay(true);
  } catch (error) {
    conn.close();
    throw error;
  }
  return new TcpConnection(conn);
}

/** Connects to `address` within `timeout` (guest ms); a connection made too late is closed. */
async function connectTo(
  process: Process,
  address: SocketAddress,
  timeout: bigint,
): Promise<Deno.TcpConn | typeof TIMED_OUT> {
  const connecting = Deno.connect({ hostname: ipText(address), port: address.port });
  try {
    return await withDeadline(process, connecting, timeout, (conn) => conn.close());
  } catch (error) {
    if (isUnwinding(error)) connecting.then((conn) => conn.close(), () => {});
    throw error;
  }
}
/** The stream with `id` in the process's table of `kind`; traps on an unknown ID. */
export function connectionOf(
  process: Process,
  kind: "tcp_stream" | "tls_stream",
  id: bigint,
): ByteStream {
  return handleOf<OpenSocket & ByteStream>(process, kind, id).socket;
}

/** A handle to a new connection in the process's table of `kind`; its ID. */
export function addStream(
  process: Process,
  kind: "tcp_stream" | "tls_stream",
  connection: OpenSocket & ByteStream,
): bigint {
  return addHandle(process, kind, new Shared(connection));
}

/** The TCP listener with `id`; traps on an unknown ID. */
function listenerOf(process: Process, id: bigint): TcpListener {
  const listener = networking(process).tcpListeners.get(id);
  if (listener === undefined) trap(`unknown tcp listener id ${BigInt.asUintN(64, id)}`);
  return listener as TcpListener;
}

/**
 * The bytes `count` `{ptr u32, len u32}` entries at `iovPtr` name: a view of guest memory for
 * one entry (valid until the call returns), the parts joined for more.
 */
export function gatherIovecs(process: Process, iovPtr: number, count: number): Uint8Array {
  const memory = process.memory;
  const start = memory.check(iovPtr, (count >>> 0) * 8);
  if (count === 1) return memory.bytes(memory.readU32(start), memory.readU32(start + 4));
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
        const data = gatherIovecs(p, iovPtr, iovCount);
        return connectionOf(p, kind, id).writeFrom(p, data, outPtr);
      },
    ),
    [`${prefix}_read`]: suspendingFn(
      ["i64", "i32", "i32", "i32"],
      ["i32"],
      (id: bigint, bufPtr: number, len: number, outPtr: number, p: Process) => {
        return connectionOf(p, kind, id).readInto(p, bufPtr, len, outPtr, false);
      },
    ),
    // Writes reach the socket a microtask after they are made: nothing waits for a flush.
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
      let listener;
      try {
        listener = listen(address, p.runtime.sharesListeningPorts);
      } catch (error) {
        return reportError(p, idPtr, error);
      }
      p.memory.writeU64(idPtr, networking(p).tcpListeners.add(listener));
      return 0;
    },
  ),
  drop_tcp_listener: hostFn(["i64"], [], (id: bigint, p: Process) => {
    listenerOf(p, id);
    networking(p).tcpListeners.take(id)!.close();
  }),
  tcp_local_addr: hostFn(["i64", "i32"], ["i32"], (id: bigint, idPtr: number, p: Process) => {
    const listener = listenerOf(p, id);
    return writeAddress(p, idPtr, () => listener.address());
  }),
  tcp_accept: suspendingFn(
    ["i64", "i32", "i32"],
    ["i32"],
    async (id: bigint, idPtr: number, peerPtr: number, p: Process) => {
      const listener = listenerOf(p, id);
      p.memory.check(idPtr, 8);
      p.memory.check(peerPtr, 8);
      let connection: TcpConnection;
      let peer: SocketAddress;
      try {
        connection = accepted(await listener.accept(p));
        peer = connection.peerAddress();
      } catch (error) {
        if (isUnwinding(error)) throw error;
        p.memory.writeU64(peerPtr, 0);
        return reportError(p, idPtr, error);
      }
      p.memory.writeU64(idPtr, addStream(p, "tcp_stream", connection));
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
      let conn;
      try {
        conn = await connectTo(p, address, timeout);
      } catch (error) {
        if (isUnwinding(error)) throw error;
        return reportError(p, idPtr, error);
      }
      if (conn === TIMED_OUT) return TIMEOUT;
      p.memory.writeU64(idPtr, addStream(p, "tcp_stream", accepted(conn)));
      return 0;
    },
  ),
  tcp_peer_addr: hostFn(["i64", "i32"], ["i32"], (id: bigint, idPtr: number, p: Process) => {
    const connection = connectionOf(p, "tcp_stream", id);
    return writeAddress(p, idPtr, () => connection.peerAddress());
  }),
  ...streamFunctions("tcp_stream", "tcp"),
  // Does not consume, with or without a peek timeout (lunatic's consumes without one).
  tcp_peek: suspendingFn(
    ["i64", "i32", "i32", "i32"],
    ["i32"],
    (id: bigint, bufPtr: number, len: number, outPtr: number, p: Process) => {
      return connectionOf(p, "tcp_stream", id).readInto(p, bufPtr, len, outPtr, true);
    },
  ),
  set_read_timeout: readTimeout.set,
  get_read_timeout: readTimeout.get,
  set_write_timeout: writeTimeout.set,
  get_write_timeout: writeTimeout.get,
  set_peek_timeout: peekTimeout.set,
  get_peek_timeout: peekTimeout.get,
};
