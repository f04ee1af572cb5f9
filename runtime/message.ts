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

const EMPTY = new Uint8Array(0);

export class DataMessage {
  readonly kind = "data";
  /** Where the bytes live: a shared slab (from `#start`) or an array of the message's own. */
  #store: Uint8Array = EMPTY;
  #start = 0;
  /** Room in the store from `#start`; grows by doubling. */
  #room = 0;
  #size = 0;
  #capacityHint: number;
  /** Read cursor (an absolute offset, set by seek_data). */
  cursor = 0;
  /** Resources in push order; a taken resource leaves a hole (null). */
  resources: (MessageResource | null)[] | null = null;

  /**
   * @param tag 0 = untagged.
   * @param capacity a hint for the first write's allocation (capped at 1 MiB).
   */
  constructor(readonly tag: bigint, capacity = 0) {
    this.#capacityHint = Math.min(Math.max(capacity, 0), 1 << 20);
  }

  get size(): number {
    return this.#size;
  }

  /** The message's bytes (a view; valid until the next write). */
  get data(): Uint8Array {
    return this.#store.subarray(this.#start, this.#start + this.#size);
  }

  write(bytes: Uint8Array): void {
    this.writeFrom(bytes, 0, bytes.byteLength);
  }

  /** Makes room for `needed` bytes, moving what was written (no view per message). */
  #grow(needed: number): void {
    const room = Math.max(needed, this.#room * 2, this.#capacityHint, 16);
    let store: Uint8Array;
    let start = 0;
    if (room > LARGEST_SLAB_PIECE) {
      store = new Uint8Array(room);
    } else {
      if (slabUsed + room > SLAB_SIZE) {
        slab = new Uint8Array(SLAB_SIZE);
        slabUsed = 0;
      }
      store = slab;
      start = slabUsed;
      slabUsed += (room + 7) & ~7;
    }
    const size = this.#size;
    if (size > 0) store.set(this.#store.subarray(this.#start, this.#start + size), start);
    this.#store = store;
    this.#start = start;
    this.#room = room;
  }

  /** Appends `length` bytes of `source` from `from` (small copies avoid making views). */
  writeFrom(source: Uint8Array, from: number, length: number): void {
    const size = this.#size;
    const needed = size + length;
    if (needed > this.#room) this.#grow(needed);
    const store = this.#store;
    const at = this.#start + size;
    if (length <= 16) {
      for (let i = 0; i < length; i++) store[at + i] = source[from + i];
    } else {
      store.set(source.subarray(from, from + length), at);
    }
    this.#size = needed;
  }

  /** Copies `length` bytes from `offset` into `target` at `at`. */
  readInto(offset: number, length: number, target: Uint8Array, at: number): void {
    const store = this.#store;
    const from = this.#start + offset;
    if (length <= 16) {
      for (let i = 0; i < length; i++) target[at + i] = store[from + i];
    } else {
      target.set(store.subarray(from, from + length), at);
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
