import type { Message } from "./message.ts";

/**
 * A process's queue of messages that arrived while it was not waiting for them, with
 * selective receive (spec §3.5). With a tag list, the first queued message whose tag is in the
 * list is taken; untagged messages never match a list. A message that arrives while its
 * process waits for it goes straight to the process ({@link Process.deliver}) and never
 * touches the queue.
 */
export class Mailbox {
  #queue: Message[] = [];
  #head = 0;
  /** Messages waiting. */
  get length(): number {
    return this.#queue.length - this.#head;
  }

  /** Messages ever pushed: marks "what arrived since" for a request/reply across nodes. */
  pushed = 0;

  push(message: Message): void {
    this.#queue.push(message);
    this.pushed++;
  }

  /** Puts `message` ahead of every queued one (an upgrade's state message). */
  pushFront(message: Message): void {
    if (this.#head > 0) this.#queue[--this.#head] = message;
    else this.#queue.unshift(message);
  }

  /**
   * Takes the first message matching `tags` among the last `count` pushed (they sit at the
   * queue's end while nothing was taken since), or returns null.
   */
  takeRecent(count: number, tags: readonly bigint[] | null): Message | null {
    const queue = this.#queue;
    for (let i = Math.max(this.#head, queue.length - count); i < queue.length; i++) {
      if (!matchesTags(tags, queue[i].tag)) continue;
      const [message] = queue.splice(i, 1);
      if (i === this.#head) this.#compact();
      return message;
    }
    return null;
  }

  /** Takes the first queued message matching `tags` (null = any), or returns null. */
  take(tags: readonly bigint[] | null): Message | null {
    const queue = this.#queue;
    for (let i = this.#head; i < queue.length; i++) {
      const message = queue[i];
      if (!matchesTags(tags, message.tag)) continue;
      if (i === this.#head) {
        queue[i] = undefined as unknown as Message;
        this.#head++;
        this.#compact();
      } else {
        queue.splice(i, 1);
      }
      return message;
    }
    return null;
  }

  /** Removes and returns every queued message (the process ended). */
  drain(): Message[] {
    const rest = this.#queue.slice(this.#head);
    this.#queue = [];
    this.#head = 0;
    return rest;
  }

  #compact(): void {
    if (this.#head === this.#queue.length) {
      this.#queue.length = 0;
      this.#head = 0;
    } else if (this.#head > 1024 && this.#head * 2 > this.#queue.length) {
      this.#queue = this.#queue.slice(this.#head);
      this.#head = 0;
    }
  }
}

/** Whether a message tagged `tag` matches a receive's tag list (null: any message). */
export function matchesTags(tags: readonly bigint[] | null, tag: bigint): boolean {
  if (tags === null) return true;
  if (tag === 0n) return false;
  for (let i = 0; i < tags.length; i++) if (tags[i] === tag) return true;
  return false;
}
