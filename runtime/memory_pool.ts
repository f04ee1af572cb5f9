/**
 * Memories of ended processes, zeroed, for the next process with the same limits.
 *
 * V8 gives every new `WebAssembly.Memory` its own mapping (mmap, madvise, mprotect, and two
 * munmaps when it is collected): ~60% of instantiating a small guest. A small memory is
 * cheaper to zero than that (64 KiB: ~1 us against ~12 us), so processes whose memory stays
 * small take one from here. Larger memories cost more to zero than V8's lazily zeroed fresh
 * pages, and a grown memory cannot shrink back to its initial size: neither is kept.
 */

const PAGE_BYTES = 65_536;

/** Memories up to this size are kept: zeroing 512 KiB (~10 us) still beats a fresh mapping. */
export const POOLED_MEMORY_MAX_PAGES = 8;

export class MemoryPool {
  readonly #free = new Map<string, WebAssembly.Memory[]>();
  #bytes = 0;

  #count = 0;

  /**
   * @param capacityBytes how many bytes of zeroed memories may wait here (they are resident)
   * @param capacity how many memories may wait here: each holds two kernel memory maps and
   *   V8's reservation of its whole maximum (up to ~10 GiB), which the capacity accounting's
   *   reserves for the host cover (256 × 10 GiB of its 8 TiB; runtime/capacity.ts)
   */
  constructor(readonly capacityBytes: number = 16 * 1024 * 1024, readonly capacity: number = 256) {}

  /** Bytes held by the memories waiting here. */
  get bytes(): number {
    return this.#bytes;
  }

  /** A zeroed memory of `initial` pages that can grow to `maximum`: kept or new. */
  take(initial: number, maximum: number): WebAssembly.Memory {
    const memory = this.#free.get(key(initial, maximum))?.pop();
    if (memory === undefined) return new WebAssembly.Memory({ initial, maximum });
    this.#bytes -= initial * PAGE_BYTES;
    this.#count--;
    return memory;
  }

  /**
   * Keeps `memory` (taken with these limits) for a later {@link take}, if it never grew, is
   * small enough and there is room; it is zeroed now so no process's data outlives it. The
   * caller must be done with it: no instance that uses it may run again.
   */
  give(memory: WebAssembly.Memory, initial: number, maximum: number): void {
    const size = initial * PAGE_BYTES;
    if (
      initial === 0 || initial > POOLED_MEMORY_MAX_PAGES || this.#count === this.capacity ||
      this.#bytes + size > this.capacityBytes
    ) return;
    const buffer = memory.buffer;
    if (buffer.byteLength !== size) return;
    new Uint8Array(buffer).fill(0);
    const k = key(initial, maximum);
    let free = this.#free.get(k);
    if (free === undefined) this.#free.set(k, free = []);
    free.push(memory);
    this.#bytes += size;
    this.#count++;
  }
}

function key(initial: number, maximum: number): string {
  return `${initial}:${maximum}`;
}
