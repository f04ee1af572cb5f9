/**
 * The TCP under TLS (./tls.ts): listeners and connections on `node:net`, whose sockets
 * `node:tls` secures. (Plain TCP is on `Deno.listen`/`Deno.connect`: ./tcp.ts.) A listener
 * belongs to one process; a process blocked in accept or connect suspends only itself.
 */
import net from "node:net";
import type { Process } from "../../runtime/process.ts";
import { fromHostPort, ipText, type SocketAddress } from "./addresses.ts";
import { isUnwinding, reportError, type TIMED_OUT, withDeadline } from "./io.ts";
import { networking, OpenSocket } from "./resources.ts";
import { addressInUse, holdAddress, overlapsBound } from "./bound_addresses.ts";

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

/** A bound address: its accepting sockets, and the address as the first one got it. */
export class BoundAddress {
  readonly #release: () => void;
  constructor(readonly servers: net.Server[], readonly address: SocketAddress) {
    this.#release = holdAddress(address);
  }

  close(): void {
    this.#release();
    for (const server of this.servers) server.close();
  }
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
  if (overlapsBound(address)) throw addressInUse();
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

/** The address of a connected socket's peer. */
export function peerAddress(socket: net.Socket): SocketAddress {
  if (socket.remoteAddress === undefined || socket.remotePort === undefined) {
    throw Object.assign(new Error("not connected"), { code: "ENOTCONN" });
  }
  return fromHostPort(socket.remoteAddress, socket.remotePort);
}

/** Binds a TLS listener for `address`; the listener ID (or an error ID) at `idPtr`. */
export async function bindListener(
  process: Process,
  address: SocketAddress,
  idPtr: number,
  wrap: (bound: BoundAddress) => Listener,
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
  process.memory.writeU64(idPtr, networking(process).tlsListeners.add(wrap(bound)));
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
    if (isUnwinding(error)) connecting.then((socket) => socket.destroy(), () => {});
    throw error;
  }
}
