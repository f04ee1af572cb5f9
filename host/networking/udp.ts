/**
 * UDP (spec §1.12) on `node:dgram`, which Deno provides without a flag (`Deno.listenDatagram`
 * needs `--unstable-net`, and has no `connect`, broadcast or TTL setting), so `deno task run`
 * and the compiled binary need nothing more.
 *
 * Datagrams arrive as events; each socket keeps those no receive has asked for yet, up to a
 * bound (past it, new ones are dropped, as a full socket buffer drops them), and hands them to
 * waiting receives in order. A receive into a smaller buffer gets the datagram cut to it, as
 * `recv` does.
 */
import dgram from "node:dgram";
import type { Buffer } from "node:buffer";
import { trap } from "../../runtime/errors.ts";
import { hostFn, type HostFunction, suspendingFn } from "../../runtime/host_api.ts";
import { TIMEOUT } from "../../runtime/message.ts";
import type { Process } from "../../runtime/process.ts";
import { fromHostPort, ipText, readSocketAddress, type SocketAddress } from "./addresses.ts";
import {
  ioErrorText,
  isUnwinding,
  reportError,
  TIMED_OUT,
  withDeadline,
  writeAddress,
} from "./io.ts";
import {
  addHandle,
  addressIterator,
  cloneHandle,
  dropHandle,
  handleOf,
  OpenSocket,
  Shared,
} from "./resources.ts";

/** Datagrams a socket keeps for receives not made yet, and their total size. */
const QUEUED_DATAGRAMS = 1024;
const QUEUED_BYTES = 4 * 1024 * 1024;
const ADDRESS = ["i32", "i32", "i32", "i32", "i32"] as const;

interface Datagram {
  readonly data: Uint8Array;
  readonly from: SocketAddress;
}

interface Waiter {
  resolve(datagram: Datagram): void;
  abandoned: boolean;
}

/** An error with the errno name `code`, printed as Rust prints it (./io.ts). */
function osError(code: string, message: string): Error {
  return Object.assign(new Error(message), { code });
}

export class UdpSocket extends OpenSocket {
  readonly #queue: Datagram[] = [];
  #queuedBytes = 0;
  readonly #waiters: Waiter[] = [];
  connected: SocketAddress | null = null;
  broadcast = false;
  /** Linux's default for unicast. */
  ttl = 64;

  constructor(readonly socket: dgram.Socket) {
    super();
    socket.on("message", (data: Buffer, from: dgram.RemoteInfo) => {
      const datagram = {
        data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
        from: fromHostPort(from.address, from.port),
      };
      for (let waiter = this.#waiters.shift(); waiter; waiter = this.#waiters.shift()) {
        if (!waiter.abandoned) return waiter.resolve(datagram);
      }
      if (
        this.#queue.length < QUEUED_DATAGRAMS &&
        this.#queuedBytes + data.byteLength <= QUEUED_BYTES
      ) {
        this.#queue.push(datagram);
        this.#queuedBytes += data.byteLength;
      }
    });
    // Errors of a send are reported to its callback; any other just ends the socket's use.
    socket.on("error", () => {});
  }

  protected closeSocket(): void {
    this.socket.close();
  }

  /** The next datagram: a queued one, or the next to arrive. */
  receive(process: Process): Datagram | Promise<Datagram> {
    const queued = this.#queue.shift();
    if (queued !== undefined) {
      this.#queuedBytes -= queued.data.byteLength;
      return queued;
    }
    let waiter: Waiter;
    const arrival = new Promise<Datagram>((resolve) => {
      waiter = { resolve, abandoned: false };
      this.#waiters.push(waiter);
    });
    return process.suspend(arrival, () => waiter.abandoned = true);
  }

  /** Sends `data` (to `to`, or to the connected peer); resolves with the byte count. */
  send(data: Uint8Array, to: SocketAddress | null): Promise<number> {
    if (to === null && this.connected === null) {
      return Promise.reject(osError("EDESTADDRREQ", "not connected"));
    }
    if (to !== null && this.connected !== null) {
      return Promise.reject(osError("EISCONN", "already connected"));
    }
    return new Promise((resolve, reject) => {
      const done = (error: Error | null, bytes: number) => error ? reject(error) : resolve(bytes);
      if (to === null) this.socket.send(data, done);
      else this.socket.send(data, to.port, ipText(to), done);
    });
  }

  /** Connects (again) to `to`. */
  connect(to: SocketAddress): Promise<void> {
    if (this.connected !== null) {
      this.socket.disconnect();
      this.connected = null;
    }
    return new Promise((resolve, reject) => {
      this.socket.connect(to.port, ipText(to), (error?: Error) => {
        if (error) return reject(error);
        this.connected = to;
        resolve();
      });
    });
  }

  localAddress(): SocketAddress {
    const { address, port } = this.socket.address();
    return fromHostPort(address, port);
  }
}

/** A bound socket, or the bind's error. */
function bind(address: SocketAddress): Promise<dgram.Socket> {
  const socket = dgram.createSocket(address.family === 4 ? "udp4" : "udp6");
  return new Promise((resolve, reject) => {
    const failed = (error: Error) => {
      try {
        socket.close();
      } catch { /* never opened */ }
      reject(error);
    };
    socket.once("error", failed);
    socket.bind(address.port, ipText(address), () => {
      socket.off("error", failed);
      resolve(socket);
    });
  });
}

function socketOf(process: Process, id: bigint): UdpSocket {
  return handleOf<UdpSocket>(process, "udp_socket", id).socket;
}

/** Copies a datagram into the guest's buffer (cut to it); returns the byte count. */
function deliver(process: Process, datagram: Datagram, bufPtr: number, len: number): number {
  const count = Math.min(len >>> 0, datagram.data.byteLength);
  process.memory.write(bufPtr, datagram.data.subarray(0, count));
  return count;
}

/** Runs an OS call that must not fail; a failure traps, as in lunatic. */
function orTrap(what: string, call: () => void): void {
  try {
    call();
  } catch (error) {
    trap(`${what}: ${ioErrorText(error)}`);
  }
}

export const udpFunctions: Record<string, HostFunction<Process>> = {
  udp_bind: suspendingFn(
    [...ADDRESS, "i32"],
    ["i32"],
    async (
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
      const binding = bind(address);
      let socket: dgram.Socket;
      try {
        socket = await p.suspend(binding);
      } catch (error) {
        if (isUnwinding(error)) {
          binding.then((s) => s.close(), () => {});
          throw error;
        }
        return reportError(p, idPtr, error);
      }
      p.memory.writeU64(idPtr, addHandle(p, "udp_socket", new Shared(new UdpSocket(socket))));
      return 0;
    },
  ),
  drop_udp_socket: hostFn(["i64"], [], (id: bigint, p: Process) => {
    dropHandle(p, "udp_socket", id);
  }),
  clone_udp_socket: hostFn(["i64"], ["i64"], (id: bigint, p: Process) => {
    return cloneHandle(p, "udp_socket", id);
  }),
  udp_local_addr: hostFn(["i64", "i32"], ["i32"], (id: bigint, idPtr: number, p: Process) => {
    const socket = socketOf(p, id);
    return writeAddress(p, idPtr, () => socket.localAddress());
  }),
  udp_peer_addr: hostFn(["i64", "i32"], ["i32"], (id: bigint, idPtr: number, p: Process) => {
    const socket = socketOf(p, id);
    p.memory.check(idPtr, 8);
    if (socket.connected === null) {
      reportError(p, idPtr, osError("ENOTCONN", "not connected"));
      return 1; // NotConnected (2 would be any other error)
    }
    p.memory.writeU64(idPtr, addressIterator(p, socket.connected));
    return 0;
  }),
  udp_receive: suspendingFn(
    ["i64", "i32", "i32", "i32"],
    ["i32"],
    async (id: bigint, bufPtr: number, len: number, outPtr: number, p: Process) => {
      const socket = socketOf(p, id);
      p.memory.check(bufPtr, len);
      p.memory.check(outPtr, 8);
      const datagram = await socket.receive(p);
      p.memory.writeU64(outPtr, deliver(p, datagram, bufPtr, len));
      return 0;
    },
  ),
  udp_receive_from: suspendingFn(
    ["i64", "i32", "i32", "i32", "i32"],
    ["i32"],
    async (
      id: bigint,
      bufPtr: number,
      len: number,
      outPtr: number,
      fromPtr: number,
      p: Process,
    ) => {
      const socket = socketOf(p, id);
      p.memory.check(bufPtr, len);
      p.memory.check(outPtr, 8);
      p.memory.check(fromPtr, 8);
      const datagram = await socket.receive(p);
      p.memory.writeU64(outPtr, deliver(p, datagram, bufPtr, len));
      p.memory.writeU64(fromPtr, addressIterator(p, datagram.from));
      return 0;
    },
  ),
  udp_connect: suspendingFn(
    ["i64", ...ADDRESS, "i64", "i32"],
    ["i32"],
    async (
      id: bigint,
      type: number,
      ptr: number,
      port: number,
      flow: number,
      scope: number,
      timeout: bigint,
      idPtr: number,
      p: Process,
    ) => {
      const socket = socketOf(p, id);
      const address = readSocketAddress(p.memory, type, ptr, port, flow, scope);
      p.memory.check(idPtr, 8);
      let connected;
      try {
        connected = await withDeadline(p, socket.connect(address), timeout);
      } catch (error) {
        if (isUnwinding(error)) throw error;
        return reportError(p, idPtr, error);
      }
      if (connected === TIMED_OUT) return TIMEOUT;
      p.memory.writeU64(idPtr, 0);
      return 0;
    },
  ),
  udp_send: suspendingFn(
    ["i64", "i32", "i32", "i32"],
    ["i32"],
    async (id: bigint, bufPtr: number, len: number, outPtr: number, p: Process) => {
      const socket = socketOf(p, id);
      const data = p.memory.copy(bufPtr, len);
      p.memory.check(outPtr, 8);
      let sent;
      try {
        sent = await p.suspend(socket.send(data, null));
      } catch (error) {
        if (isUnwinding(error)) throw error;
        return reportError(p, outPtr, error);
      }
      p.memory.writeU64(outPtr, sent);
      return 0;
    },
  ),
  udp_send_to: suspendingFn(
    ["i64", "i32", "i32", ...ADDRESS, "i32"],
    ["i32"],
    async (
      id: bigint,
      bufPtr: number,
      len: number,
      type: number,
      ptr: number,
      port: number,
      flow: number,
      scope: number,
      outPtr: number,
      p: Process,
    ) => {
      const socket = socketOf(p, id);
      const data = p.memory.copy(bufPtr, len);
      const address = readSocketAddress(p.memory, type, ptr, port, flow, scope);
      p.memory.check(outPtr, 8);
      let sent;
      try {
        sent = await p.suspend(socket.send(data, address));
      } catch (error) {
        if (isUnwinding(error)) throw error;
        return reportError(p, outPtr, error);
      }
      p.memory.writeU64(outPtr, sent);
      return 0;
    },
  ),
  set_udp_socket_broadcast: hostFn(["i64", "i32"], [], (id: bigint, flag: number, p: Process) => {
    const socket = socketOf(p, id);
    orTrap("set_udp_socket_broadcast", () => socket.socket.setBroadcast(flag > 0));
    socket.broadcast = flag > 0;
  }),
  get_udp_socket_broadcast: hostFn(["i64"], ["i32"], (id: bigint, p: Process) => {
    return socketOf(p, id).broadcast ? 1 : 0;
  }),
  set_udp_socket_ttl: hostFn(["i64", "i32"], [], (id: bigint, ttl: number, p: Process) => {
    const socket = socketOf(p, id);
    orTrap("set_udp_socket_ttl", () => socket.socket.setTTL(ttl >>> 0));
    socket.ttl = ttl >>> 0;
  }),
  get_udp_socket_ttl: hostFn(["i64"], ["i32"], (id: bigint, p: Process) => {
    return socketOf(p, id).ttl;
  }),
};
