/**
 * A TCP or TLS connection shared by every handle to it (spec §1.10): reads, peeks and writes
 * with the connection's timeouts, which all handles share.
 *
 * It wraps a `node:net` socket (a `node:tls` one for TLS). Deno's own `Deno.Conn.read` is
 * unfair with many connections: measured with wrk and 1,000 keep-alive connections, a plain
 * `Deno.listen` server answered its slowest 1% after 1.26 s, a `node:net` one after 32 ms
 * (BENCHMARKS.md). Data arrives as events into a buffer of the connection's own, from which
 * reads take it (`peek` leaves it there); past a high-water mark the socket is paused until
 * reads drain it, so a process that does not read holds a bounded amount. A timeout, or a
 * kill, of a waiting read loses nothing: the data stays for the next read, by any handle.
 * A write resolves when the socket has handed it to the kernel, so a peer that does not read
 * stops the writer once the kernel's buffer is full.
 */
import type { Socket } from "node:net";
import type { Process } from "../../runtime/process.ts";
import { TIMED_OUT, withDeadline } from "./io.ts";
import { OpenSocket } from "./resources.ts";

const EMPTY = new Uint8Array(0);
/** Buffered bytes past which the socket stops reading until reads take them. */
const HIGH_WATER = 256 * 1024;
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
      this.#chunks.push(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
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

  protected closeSocket(): void {
    this.socket.destroy();
  }

  #wake(): void {
    const arrival = this.#arrival;
    this.#arrival = null;
    arrival?.resolve();
  }

  #nextArrival(): Promise<void> {
    if (this.#arrival === null) {
      let resolve!: () => void;
      const promise = new Promise<void>((r) => resolve = r);
      this.#arrival = { promise, resolve };
    }
    return this.#arrival.promise;
  }

  /**
   * Up to `max` bytes, once some are there. An empty array is the end of the stream. Consumes
   * them unless `peek`. Throws the socket's error once what came before it has been read.
   */
  async read(
    process: Process,
    max: number,
    peek: boolean,
  ): Promise<Uint8Array | typeof TIMED_OUT> {
    if (max === 0) return EMPTY;
    while (this.#buffered === 0) {
      if (this.#error !== null) throw this.#error;
      if (this.#ended || this.closed) return EMPTY;
      const arrived = await withDeadline(
        process,
        this.#nextArrival(),
        peek ? this.peekTimeout : this.readTimeout,
      );
      if (arrived === TIMED_OUT) return TIMED_OUT;
    }
    return this.#take(Math.min(max, this.#buffered), peek);
  }

  #take(count: number, peek: boolean): Uint8Array {
    const first = this.#chunks[0];
    let data: Uint8Array;
    if (first.byteLength - this.#offset >= count) {
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

  /** Writes all of `data`; resolves with its length once the socket has passed it on. */
  write(process: Process, data: Uint8Array): Promise<number | typeof TIMED_OUT> {
    if (this.#error !== null) return Promise.reject(this.#error);
    const written = new Promise<number>((resolve, reject) => {
      this.socket.write(data, (error?: Error | null) => {
        if (error) reject(error);
        else resolve(data.byteLength);
      });
    });
    return withDeadline(process, written, this.writeTimeout);
  }
}
