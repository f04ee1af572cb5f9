/**
 * A connected byte stream as the stream calls see it (`tcp_read`, `tls_write_vectored`, ...):
 * TCP's on a `Deno.TcpConn` (./tcp_connection.ts), TLS's on a `node:tls` socket (below).
 */
export interface ByteStream {
  readTimeout: bigint;
  writeTimeout: bigint;
  peekTimeout: bigint;
  /**
   * One read of up to `len` bytes into the guest's buffer at `bufPtr` (consumed unless
   * `peek`); the byte count (0: end of stream) at `outPtr`. Bytes already there are read
   * without suspending the caller. Returns 0, 1 (an error ID at `outPtr`) or 9027 (timeout).
   */
  readInto(
    process: Process,
    bufPtr: number,
    len: number,
    outPtr: number,
    peek: boolean,
  ): number | Promise<number>;
  /**
   * Writes all of `data` (a view of guest memory, valid until the call returns); the byte
   * count at `outPtr`. The caller suspends only when too much is queued already.
   */
  writeFrom(process: Process, data: Uint8Array, outPtr: number): number | Promise<number>;
  /** The peer's address; throws when there is none. */
  peerAddress(): SocketAddress;
}

/**
 * A TLS connection on a `node:tls` socket, shared by every handle to it (spec §1.11): reads,
 * peeks and writes with the connection's timeouts, which all handles share.
 *
 * Data arrives as events into a buffer of the connection's own, from which reads take it
 * (`peek` leaves it there); past a high-water mark the socket is paused until reads drain it,
 * so a process that does not read holds a bounded amount. A timeout, or a kill, of a waiting
 * read loses nothing: the data stays for the next read, by any handle. A write returns at
 * once while little is queued; past a bound it waits until the socket has handed the write
 * to the kernel, so a peer that does not read stops the writer.
 */
import type { Socket } from "node:net";
import { clearTimeout, setTimeout } from "node:timers";
import { TIMEOUT } from "../../runtime/message.ts";
import type { Process } from "../../runtime/process.ts";
import type { SocketAddress } from "./addresses.ts";
import { isUnwinding, reportError, TIMED_OUT, withDeadline } from "./io.ts";
import { peerAddress } from "./node_listener.ts";
import { ReceivedBytes } from "./received_bytes.ts";
import { OpenSocket } from "./resources.ts";

const EMPTY = new Uint8Array(0);
/** Buffered bytes past which the socket stops reading until reads take them. */
const HIGH_WATER = 256 * 1024;
/**
 * Bytes a connection's writes may leave queued in the socket before a write waits, as the
 * kernel's send buffer bounds a blocking write.
 */
const WRITE_HIGH_WATER = 256 * 1024;
/** How long a closed connection may take to send what its writes left queued. */
const LINGER_MS = 30_000;
/** u64::MAX: no timeout (spec §0.6). */
export const NO_TIMEOUT = 0xFFFF_FFFF_FFFF_FFFFn;

export class StreamConnection extends OpenSocket implements ByteStream {
  readTimeout = NO_TIMEOUT;
  writeTimeout = NO_TIMEOUT;
  peekTimeout = NO_TIMEOUT;

  /** Received bytes not yet consumed. */
  readonly #received = new ReceivedBytes();
  #paused = false;
  #ended = false;
  #error: Error | null = null;
  /** Wakes the reads waiting for data (or the end, or an error). */
  #arrival: { promise: Promise<void>; resolve: () => void } | null = null;

  constructor(readonly socket: Socket) {
    super();
    socket.on("data", (data: Uint8Array) => {
      this.#received.push(data);
      if (this.#received.size > HIGH_WATER && !this.#paused) {
        this.#paused = true;
        socket.pause();
      }
      this.#wake();
    });
    socket.on("end", () => {
      this.#ended = true;
      this.#wake();
    });
    socket.on("error", (error: Error) => {
      this.#error ??= error;
      this.#wake();
    });
    socket.on("close", () => {
      this.#ended = true;
      this.#wake();
    });
  }

  readInto(
    process: Process,
    bufPtr: number,
    len: number,
    outPtr: number,
    peek: boolean,
  ): number | Promise<number> {
    return readInto(process, this, bufPtr, len, outPtr, peek);
  }

  writeFrom(process: Process, data: Uint8Array, outPtr: number): number | Promise<number> {
    // The socket sends later: it gets a copy, not the guest's memory.
    return writeFrom(process, this, data.slice(), outPtr);
  }

  peerAddress(): SocketAddress {
    return peerAddress(this.socket);
  }

  /**
   * Closes the socket once what its writes queued has gone out, as closing a kernel socket
   * still sends its buffer; a peer that takes none of it for {@link LINGER_MS} is cut off.
   */
  protected closeSocket(): void {
    const socket = this.socket;
    if (socket.writableLength === 0 || this.#error !== null) {
      socket.destroy();
      return;
    }
    this.#received.clear();
    socket.removeAllListeners("data");
    socket.resume(); // whatever still comes is dropped, not buffered
    const linger = setTimeout(() => socket.destroy(), LINGER_MS);
    linger.unref();
    socket.once("close", () => clearTimeout(linger));
    socket.end(() => socket.destroy());
  }

  #wake(): void {
    const arrival = this.#arrival;
    this.#arrival = null;
    arrival?.resolve();
  }

  /** Settles when bytes, the end or an error come next. */
  nextArrival(): Promise<void> {
    if (this.#arrival === null) {
      let resolve!: () => void;
      const promise = new Promise<void>((r) => resolve = r);
      this.#arrival = { promise, resolve };
    }
    return this.#arrival.promise;
  }

  /**
   * Up to `max` bytes that are there now: consumed unless `peek`; an empty array at the end of
   * the stream; null when none have come yet. Throws the socket's error once what came before
   * it has been read.
   */
  takeNow(max: number, peek: boolean): Uint8Array | null {
    if (max === 0) return EMPTY;
    if (this.#received.size > 0) return this.#take(Math.min(max, this.#received.size), peek);
    if (this.#error !== null) throw this.#error;
    if (this.#ended || this.closed) return EMPTY;
    return null;
  }

  /** Like {@link takeNow}, but waits (within the read or peek timeout) for bytes to come. */
  async read(
    process: Process,
    max: number,
    peek: boolean,
  ): Promise<Uint8Array | typeof TIMED_OUT> {
    for (;;) {
      const data = this.takeNow(max, peek);
      if (data !== null) return data;
      const arrived = await withDeadline(
        process,
        this.nextArrival(),
        peek ? this.peekTimeout : this.readTimeout,
      );
      if (arrived === TIMED_OUT) return TIMED_OUT;
    }
  }

  #take(count: number, peek: boolean): Uint8Array {
    const data = this.#received.first(count);
    if (peek) return data;
    this.#received.consume(count);
    if (this.#paused && this.#received.size <= HIGH_WATER / 2) {
      this.#paused = false;
      this.socket.resume();
    }
    return data;
  }

  /**
   * Writes all of `data`. Like a write to a kernel socket, it returns at once while the bytes
   * waiting to leave stay under a bound; past it, it waits (within the write timeout) until
   * the socket has passed this write on. An error that comes later fails the next call.
   */
  write(process: Process, data: Uint8Array): number | Promise<number | typeof TIMED_OUT> {
    if (this.#error !== null) throw this.#error;
    let flushed: { error: Error | null | undefined } | null = null;
    let notify: (() => void) | null = null;
    this.socket.write(data, (error?: Error | null) => {
      flushed = { error };
      notify?.();
    });
    if (flushed === null && this.socket.writableLength <= WRITE_HIGH_WATER) {
      return data.byteLength;
    }
    const done = new Promise<number>((resolve, reject) => {
      notify = () => flushed!.error ? reject(flushed!.error) : resolve(data.byteLength);
      if (flushed !== null) notify();
    });
    return withDeadline(process, done, this.writeTimeout);
  }
}

function readInto(
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

function writeFrom(
  process: Process,
  connection: StreamConnection,
  data: Uint8Array,
  outPtr: number,
): number | Promise<number> {
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
