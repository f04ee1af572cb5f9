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

export class DataMessage {
  readonly kind = "data";
  /** Bytes written so far; grows by doubling. */
  #buffer: Uint8Array;
  #size = 0;
  /** Read cursor (an absolute offset, set by seek_data). */
  cursor = 0;
  /** Resources in push order; a taken resource leaves a hole (null). */
  resources: (MessageResource | null)[] | null = null;

  /** @param tag 0 = untagged. */
  constructor(readonly tag: bigint, capacity = 0) {
    this.#buffer = new Uint8Array(Math.min(Math.max(capacity, 0), 1 << 20));
  }

  get size(): number {
    return this.#size;
  }

  /** The message's bytes (a view; valid until the next write). */
  get data(): Uint8Array {
    return this.#buffer.subarray(0, this.#size);
  }

  write(bytes: Uint8Array): void {
    const needed = this.#size + bytes.byteLength;
    if (needed > this.#buffer.byteLength) {
      const grown = new Uint8Array(Math.max(needed, this.#buffer.byteLength * 2, 64));
      grown.set(this.#buffer.subarray(0, this.#size));
      this.#buffer = grown;
    }
    this.#buffer.set(bytes, this.#size);
    this.#size = needed;
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
