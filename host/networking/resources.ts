/**
 * Networking resources (spec §0.4, §1.9–§1.12, §3.4): each process has tables of DNS
 * iterators, listeners, streams and UDP sockets. A stream or UDP socket is shared: `clone_*`
 * adds a handle to the same connection in the same table, and a message carries a handle to
 * another process. The socket closes when its last handle anywhere is dropped: by `drop_*`,
 * with a message nobody took, or when the process holding it ends.
 */
import { trap } from "../../runtime/errors.ts";
import type { DisposableHostState } from "../../runtime/host_api.ts";
import type { Process } from "../../runtime/process.ts";
import { ResourceTable } from "../../runtime/resources.ts";
import { Scheduler } from "../../runtime/scheduler.ts";
import type { SocketAddress } from "./addresses.ts";

/** Sockets and listeners open in this OS process, for leak checks. */
let openSockets = 0;

/** How many sockets and listeners the networking namespace holds open now. */
export function openNetworkResources(): number {
  return openSockets;
}

/** Something the namespace opened; counted until it is closed. */
export abstract class OpenSocket {
  #closed = false;

  constructor() {
    openSockets++;
    Scheduler.ioSources++;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Closes it once; later calls do nothing. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    openSockets--;
    Scheduler.ioSources--;
    try {
      this.closeSocket();
    } catch {
      // Already closed by the other side or by Deno: nothing is left to release.
    }
  }

  protected abstract closeSocket(): void;
}

/** A socket shared by handles: it closes when the last handle is released. */
export class Shared<T extends OpenSocket> {
  #handles = 1;

  constructor(readonly socket: T) {}

  /** Another handle to the same socket. */
  retain(): this {
    this.#handles++;
    return this;
  }

  release(): void {
    if (--this.#handles === 0) this.socket.close();
  }
}

/** A DNS iterator (spec §1.9): the addresses still to yield. */
export class DnsIterator {
  #next = 0;
  constructor(readonly addresses: readonly SocketAddress[]) {}

  next(): SocketAddress | undefined {
    return this.addresses[this.#next++];
  }
}

/** The kinds of resource a message can carry, as `push_*` / `take_*` name them. */
export type SocketKind = "tcp_stream" | "tls_stream" | "udp_socket";

const NETWORKING = Symbol("lunatic::networking");

/**
 * A process's networking tables, each made on first use (a connection's process needs one of
 * the six: idle connections are counted by the ten thousand). Disposing of it releases
 * everything it still holds.
 */
export class NetworkingState implements DisposableHostState {
  #dnsIterators: ResourceTable<DnsIterator> | null = null;
  #tcpListeners: ResourceTable<OpenSocket> | null = null;
  #tlsListeners: ResourceTable<OpenSocket> | null = null;
  #tcpStreams: ResourceTable<Shared<OpenSocket>> | null = null;
  #tlsStreams: ResourceTable<Shared<OpenSocket>> | null = null;
  #udpSockets: ResourceTable<Shared<OpenSocket>> | null = null;

  get dnsIterators(): ResourceTable<DnsIterator> {
    return this.#dnsIterators ??= new ResourceTable();
  }

  get tcpListeners(): ResourceTable<OpenSocket> {
    return this.#tcpListeners ??= new ResourceTable();
  }

  get tlsListeners(): ResourceTable<OpenSocket> {
    return this.#tlsListeners ??= new ResourceTable();
  }

  /** The table of streams or sockets of `kind`. */
  streams(kind: SocketKind): ResourceTable<Shared<OpenSocket>> {
    switch (kind) {
      case "tcp_stream":
        return this.#tcpStreams ??= new ResourceTable();
      case "tls_stream":
        return this.#tlsStreams ??= new ResourceTable();
      case "udp_socket":
        return this.#udpSockets ??= new ResourceTable();
    }
  }

  dispose(): void {
    for (const listeners of [this.#tcpListeners, this.#tlsListeners]) {
      if (listeners === null) continue;
      for (const listener of listeners.values()) listener.close();
      listeners.clear();
    }
    for (const table of [this.#tcpStreams, this.#tlsStreams, this.#udpSockets]) {
      if (table === null) continue;
      for (const handle of table.values()) handle.release();
      table.clear();
    }
    this.#dnsIterators?.clear();
  }
}

/** The calling process's networking tables (made on first use). */
export function networking(process: Process): NetworkingState {
  return process.hostState(NETWORKING, newNetworkingState);
}

// One function, not a closure per call: every stream call looks its tables up.
function newNetworkingState(): NetworkingState {
  return new NetworkingState();
}

const KIND_NAMES: Record<SocketKind, string> = {
  tcp_stream: "tcp stream",
  tls_stream: "tls stream",
  udp_socket: "udp socket",
};

/** The handle with `id` in the process's table of `kind`; traps on an unknown ID. */
export function handleOf<T extends OpenSocket>(
  process: Process,
  kind: SocketKind,
  id: bigint,
): Shared<T> {
  const handle = networking(process).streams(kind).get(id);
  if (handle === undefined) trap(`unknown ${KIND_NAMES[kind]} id ${BigInt.asUintN(64, id)}`);
  return handle as Shared<T>;
}

/** Adds a handle to the process's table of `kind`; returns its ID. */
export function addHandle(process: Process, kind: SocketKind, handle: Shared<OpenSocket>): bigint {
  return BigInt(networking(process).streams(kind).add(handle));
}

/** Removes and releases the handle with `id`; traps on an unknown ID. */
export function dropHandle(process: Process, kind: SocketKind, id: bigint): void {
  const handle = networking(process).streams(kind).take(id);
  if (handle === undefined) trap(`unknown ${KIND_NAMES[kind]} id ${BigInt.asUintN(64, id)}`);
  handle.release();
}

/** `clone_*`: a new ID in the same process for the same socket. */
export function cloneHandle(process: Process, kind: SocketKind, id: bigint): bigint {
  return addHandle(process, kind, handleOf(process, kind, id).retain());
}

/**
 * `push_*`: moves the handle out of the process's table (its ID becomes invalid) into a
 * message resource, which releases it if the message is dropped before it is taken.
 */
export function handleForMessage(process: Process, kind: SocketKind, id: bigint) {
  const handle = networking(process).streams(kind).take(id);
  if (handle === undefined) trap(`unknown ${KIND_NAMES[kind]} id ${BigInt.asUintN(64, id)}`);
  return { kind, value: handle, drop: () => handle.release() };
}

/** Writes a one-address DNS iterator's ID at `idPtr` (for local and peer addresses). */
export function addressIterator(process: Process, address: SocketAddress): bigint {
  return BigInt(networking(process).dnsIterators.add(new DnsIterator([address])));
}
