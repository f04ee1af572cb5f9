/**
 * The three kinds of message a mailbox holds (spec §3.1). Data messages carry bytes and
 * resources; LinkDied and ProcessDied are produced by the runtime's signals.
 */

/** A resource moved or cloned into a message, taken out by index on the receiving side. */
export interface MessageResource {
  readonly kind: string;
  readonly value: unknown;
  /** Releases the resource if the message is dropped before it is taken. */
  drop?(): void;
}

/**
 * Message buffers are carved out of shared slabs: one ArrayBuffer per message would cost far
 * more than the copy (each is a GC-tracked backing store). A slab lives while any message
 * carved from it does.
 */
const SLAB_SIZE = 64 * 1024;
const LARGEST_SLAB_PIECE = 4 * 1024;
let slab = new Uint8Array(SLAB_SIZE);
let slabUsed = 0;

function allocate(size: number): Uint8Array {
  if (size > LARGEST_SLAB_PIECE) return new Uint8Array(size);
  if (slabUsed + size > SLAB_SIZE) {
    slab = new Uint8Array(SLAB_SIZE);
    slabUsed = 0;
  }
  const piece = slab.subarray(slabUsed, slabUsed + size);
  slabUsed += (size + 7) & ~7;
  return piece;
}

const EMPTY = new Uint8Array(0);

export class DataMessage {
  readonly kind = "data";
  /** Bytes written so far; grows by doubling. */
  #buffer: Uint8Array = EMPTY;
  #size = 0;
  #capacity: number;
  /** Read cursor (an absolute offset, set by seek_data). */
  cursor = 0;
  /** Resources in push order; a taken resource leaves a hole (null). */
  resources: (MessageResource | null)[] | null = null;

  /** @param tag 0 = untagged. */
  /** @param capacity a hint for the first write's allocation (capped at 1 MiB). */
  constructor(readonly tag: bigint, capacity = 0) {
    this.#capacity = Math.min(Math.max(capacity, 0), 1 << 20);
  }

  get size(): number {
    return this.#size;
  }

  /** The message's bytes (a view; valid until the next write). */
  get data(): Uint8Array {
    return this.#buffer.subarray(0, this.#size);
  }

  write(bytes: Uint8Array): void {
    this.writeFrom(bytes, 0, bytes.byteLength);
  }

  /** Appends `length` bytes of `source` from `start` (small copies avoid making views). */
  writeFrom(source: Uint8Array, start: number, length: number): void {
    const size = this.#size;
    const needed = size + length;
    if (needed > this.#buffer.byteLength) {
      const grown = allocate(Math.max(needed, this.#buffer.byteLength * 2, this.#capacity, 16));
      if (size > 0) grown.set(this.#buffer.subarray(0, size));
      this.#buffer = grown;
    }
    const buffer = this.#buffer;
    if (length <= 16) {
      for (let i = 0; i < length; i++) buffer[size + i] = source[start + i];
    } else {
      buffer.set(source.subarray(start, start + length), size);
    }
    this.#size = needed;
  }

  /** Copies `length` bytes from `offset` into `target` at `at`. */
  readInto(offset: number, length: number, target: Uint8Array, at: number): void {
    const buffer = this.#buffer;
    if (length <= 16) {
      for (let i = 0; i < length; i++) target[at + i] = buffer[offset + i];
    } else {
      target.set(buffer.subarray(offset, offset + length), at);
    }
  }

  /** Appends a resource and returns its index in this message. */
  pushResource(resource: MessageResource): number {
    this.resources ??= [];
    this.resources.push(resource);
    return this.resources.length - 1;
  }

  /** Drops every resource that was never taken (the message itself is being dropped). */
  dropResources(): void {
    if (this.resources === null) return;
    for (const resource of this.resources) resource?.drop?.();
    this.resources = null;
  }
}

export class LinkDiedMessage {
  readonly kind = "link_died";
  /** @param tag the link's tag as the receiver stored it (0 = none). */
  constructor(readonly tag: bigint) {}
}

export class ProcessDiedMessage {
  readonly kind = "process_died";
  readonly tag = 0n;
  constructor(readonly processId: bigint) {}
}

export type Message = DataMessage | LinkDiedMessage | ProcessDiedMessage;

/** `receive` status codes (spec §1.2). */
export const RECEIVE_DATA = 0;
export const RECEIVE_LINK_DIED = 1;
export const RECEIVE_PROCESS_DIED = 2;
export const TIMEOUT = 9027;

export function receiveStatus(message: Message): number {
  switch (message.kind) {
    case "data":
      return RECEIVE_DATA;
    case "link_died":
      return RECEIVE_LINK_DIED;
    case "process_died":
      return RECEIVE_PROCESS_DIED;
  }
}
