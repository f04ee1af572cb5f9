import type { Message } from "./message.ts";
import { after } from "./timers.ts";

/**
 * A process's message queue with selective receive (spec §3.5). With a tag list, the first
 * queued message whose tag is in the list is taken; untagged messages never match a list.
 */
export class Mailbox {
  #queue: Message[] = [];
  #head = 0;
  #waiter: Waiter | null = null;

  /** Number of queued messages. */
  get size(): number {
    return this.#queue.length - this.#head;
  }

  /**
   * Delivers a message: straight to a waiting receive whose tags match it, otherwise onto
   * the queue.
   */
  deliver(message: Message): void {
    const waiter = this.#waiter;
    if (waiter !== null && matches(waiter.tags, message.tag)) {
      this.#waiter = null;
      waiter.cancelTimer?.();
      waiter.resolve(message);
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
   * message as it is delivered, or null on timeout. Returns a function that withdraws the
   * wait (the process was killed).
   */
  wait(
    tags: readonly bigint[] | null,
    timeoutMs: bigint | null,
    onResult: (message: Message | null) => void,
  ): () => void {
    const waiter: Waiter = { tags, resolve: onResult, cancelTimer: null };
    this.#waiter = waiter;
    if (timeoutMs !== null) {
      waiter.cancelTimer = after(timeoutMs, () => {
        if (this.#waiter === waiter) this.#waiter = null;
        onResult(null);
      });
    }
    return () => {
      if (this.#waiter === waiter) this.#waiter = null;
      waiter.cancelTimer?.();
    };
  }

  /** Removes and returns every queued message (the process ended). */
  drain(): Message[] {
    const rest = this.#queue.slice(this.#head);
    this.#queue = [];
    this.#head = 0;
    if (this.#waiter !== null) {
      this.#waiter.cancelTimer?.();
      this.#waiter = null;
    }
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

interface Waiter {
  tags: readonly bigint[] | null;
  resolve: (message: Message | null) => void;
  cancelTimer: (() => void) | null;
}

function matches(tags: readonly bigint[] | null, tag: bigint): boolean {
  if (tags === null) return true;
  if (tag === 0n) return false;
  for (let i = 0; i < tags.length; i++) if (tags[i] === tag) return true;
  return false;
}
