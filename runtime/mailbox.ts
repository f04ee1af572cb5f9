import type { Message } from "./message.ts";
import { after } from "./timers.ts";

/**
 * A process's message queue with selective receive (spec §3.5). With a tag list, the first
 * queued message whose tag is in the list is taken; untagged messages never match a list.
 */
export class Mailbox {
  #queue: Message[] = [];
  #head = 0;
  /** The waiting receive, if any (at most one: a process waits for one thing at a time). */
  #waitCallback: ((message: Message | null) => void) | null = null;
  #waitTags: readonly bigint[] | null = null;
  #cancelTimer: (() => void) | null = null;

  /** Number of queued messages. */
  get size(): number {
    return this.#queue.length - this.#head;
  }

  /**
   * Delivers a message: straight to a waiting receive whose tags match it, otherwise onto
   * the queue.
   */
  deliver(message: Message): void {
    const callback = this.#waitCallback;
    if (callback !== null && matches(this.#waitTags, message.tag)) {
      this.cancelWait();
      callback(message);
      return;
    }
    this.#queue.push(message);
  }

  /** Takes the first queued message matching `tags` (null = any), or returns null. */
  take(tags: readonly bigint[] | null): Message | null {
    const queue = this.#queue;
    for (let i = this.#head; i < queue.length; i++) {
      const message = queue[i];
      if (!matches(tags, message.tag)) continue;
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

  /**
   * Waits for the next *arriving* message matching `tags`, without searching the queue
   * (callers search it first with {@link take} when they want to). `onResult` gets the
   * message as it is delivered, or null on timeout. {@link cancelWait} withdraws the wait.
   */
  wait(
    tags: readonly bigint[] | null,
    timeoutMs: bigint | null,
    onResult: (message: Message | null) => void,
  ): void {
    this.#waitCallback = onResult;
    this.#waitTags = tags;
    if (timeoutMs !== null) {
      this.#cancelTimer = after(timeoutMs, () => {
        this.#cancelTimer = null;
        if (this.#waitCallback !== onResult) return;
        this.cancelWait();
        onResult(null);
      });
    }
  }

  /** Withdraws the waiting receive (it was satisfied, timed out, or its process was killed). */
  cancelWait(): void {
    this.#waitCallback = null;
    this.#waitTags = null;
    if (this.#cancelTimer !== null) {
      this.#cancelTimer();
      this.#cancelTimer = null;
    }
  }

  /** Removes and returns every queued message (the process ended). */
  drain(): Message[] {
    const rest = this.#queue.slice(this.#head);
    this.#queue = [];
    this.#head = 0;
    this.cancelWait();
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

function matches(tags: readonly bigint[] | null, tag: bigint): boolean {
  if (tags === null) return true;
  if (tag === 0n) return false;
  for (let i = 0; i < tags.length; i++) if (tags[i] === tag) return true;
  return false;
}
