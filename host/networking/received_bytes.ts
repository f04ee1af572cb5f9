/**
 * Bytes a stream received that no read has taken yet, in arrival order: the TLS stream's
 * (./stream.ts) and, after a peek or a timed-out read, the TCP stream's (./tcp_connection.ts).
 */
export class ReceivedBytes {
  /** The chunks as they came; the first is consumed up to #offset. */
  #chunks: Uint8Array[] = [];
  #offset = 0;
  #size = 0;

  /** How many bytes are here. */
  get size(): number {
    return this.#size;
  }

  push(bytes: Uint8Array): void {
    this.#chunks.push(bytes);
    this.#size += bytes.byteLength;
  }

  clear(): void {
    this.#chunks = [];
    this.#offset = 0;
    this.#size = 0;
  }

  /** The first `count` bytes (at most {@link size}): a view when one chunk holds them. */
  first(count: number): Uint8Array {
    const first = this.#chunks[0];
    if (this.#offset === 0 && first.byteLength === count) return first; // the usual read
    if (first.byteLength - this.#offset >= count) {
      return first.subarray(this.#offset, this.#offset + count);
    }
    const joined = new Uint8Array(count);
    this.copyFirst(joined);
    return joined;
  }

  /** Copies the first `into.byteLength` bytes (at most {@link size}) into `into`. */
  copyFirst(into: Uint8Array): void {
    const count = into.byteLength;
    let at = 0;
    let offset = this.#offset;
    for (let i = 0; at < count; i++) {
      const part = this.#chunks[i].subarray(offset, offset + (count - at));
      into.set(part, at);
      at += part.byteLength;
      offset = 0;
    }
  }

  /** Drops the first `count` bytes (at most {@link size}). */
  consume(count: number): void {
    this.#size -= count;
    let left = count;
    while (left > 0) {
      const available = this.#chunks[0].byteLength - this.#offset;
      if (available > left) {
        this.#offset += left;
        return;
      }
      left -= available;
      this.#chunks.shift();
      this.#offset = 0;
    }
  }
}
