/**
 * A TCP or TLS connection shared by every handle to it (spec §1.10): reads, peeks and writes
 * with the connection's timeouts, which all handles share.
 *
 * It wraps a `node:net` socket (a `node:tls` one for TLS) rather than a `Deno.Conn`, whose
 * reads are one promise each: with events, bytes that have come are there to take without
 * suspending the reader, and a peek can look without consuming. Data arrives into a buffer of
 * the connection's own, from which reads take it (`peek` leaves it there); past a high-water
 * mark the socket is paused until reads drain it, so a process that does not read holds a
 * bounded amount. A timeout, or a
 * kill, of a waiting read loses nothing: the data stays for the next read, by any handle.
 * A write returns at once while little is queued; past a bound it waits until the socket has
 * handed the write to the kernel, so a peer that does not read stops the writer.
 */
import type { Socket } from "node:net";
import { clearTimeout, setTimeout } from "node:timers";
import type { Process } from "../../runtime/process.ts";
import { TIMED_OUT, withDeadline } from "./io.ts";
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

export class StreamConnection extends OpenSocket {
  readTimeout = NO_TIMEOUT;
  writeTimeout = NO_TIMEOUT;
  peekTimeout = NO_TIMEOUT;

  /** Received bytes not yet consumed, in arrival order (the first one from #offset). */
  #chunks: Uint8Array[] = [];
  #offset = 0;
  #buffered = 0;
  #paused = false;
  #ended = false;
  #error: Error | null = null;
  /** Wakes the reads waiting for data (or the end, or an error). */
  #arrival: { promise: Promise<void>; resolve: () => void } | null = null;

  constructor(readonly socket: Socket) {
    super();
    socket.on("data", (data: Uint8Array) => {
      this.#chunks.push(data);
      this.#buffered += data.byteLength;
      if (this.#buffered > HIGH_WATER && !this.#paused) {
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
    this.#chunks = [];
    this.#buffered = 0;
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
    if (this.#buffered > 0) return this.#take(Math.min(max, this.#buffered), peek);
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
    const first = this.#chunks[0];
    let data: Uint8Array;
    if (this.#offset === 0 && first.byteLength === count) {
      data = first; // the usual read: all of one arrival
    } else if (first.byteLength - this.#offset >= count) {
      data = first.subarray(this.#offset, this.#offset + count);
    } else {
      data = new Uint8Array(count);
      let at = 0;
      let offset = this.#offset;
      for (let i = 0; at < count; i++) {
        const part = this.#chunks[i].subarray(offset, offset + (count - at));
        data.set(part, at);
        at += part.byteLength;
        offset = 0;
      }
    }
    if (peek) return data;
    this.#buffered -= count;
    let left = count;
    while (left > 0) {
      const available = this.#chunks[0].byteLength - this.#offset;
      if (available > left) {
        this.#offset += left;
        break;
      }
      left -= available;
      this.#chunks.shift();
      this.#offset = 0;
    }
    if (this.#paused && this.#buffered <= HIGH_WATER / 2) {
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
