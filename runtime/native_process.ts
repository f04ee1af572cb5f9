/**
 * A process written in TypeScript (an embedder's `spawnNative`): a process ID in an
 * environment, a mailbox, links and monitors, exactly as guests see a process; its body is
 * an async function. Guests send it messages, link to it, monitor it and find it in the
 * registry as they would a wasm process. The body's end is the process's normal end, its
 * rejection the failure its links hear of.
 *
 * A kill cannot stop JavaScript that is running: it ends the process at once (links and
 * monitors hear of it, its pending `receive` rejects with {@link NativeProcessKilled}), and
 * every later `receive` or `send` of the body throws the same.
 */
import type { Environment, ProcessEndpoint } from "./environment.ts";
import { matchesTags } from "./mailbox.ts";
import { DataMessage, type Message, ProcessDiedMessage } from "./message.ts";
import type { ProcessOutcome } from "./process.ts";
import type { Runtime } from "./runtime.ts";
import { after } from "./timers.ts";

/** What a native process receives. */
export type NativeSignal =
  | { kind: "data"; tag: bigint; data: Uint8Array }
  | { kind: "link_died"; tag: bigint; processId: bigint }
  | { kind: "process_died"; processId: bigint }
  | { kind: "timeout" };

/**
 * Thrown into a killed native process's body by `receive` and `send`.
 *
 * @example
 * ```ts
 * try {
 *   await self.receive();
 * } catch (error) {
 *   if (error instanceof NativeProcessKilled) return; // it was killed meanwhile
 *   throw error;
 * }
 * ```
 */
export class NativeProcessKilled extends Error {
  /** The process `processId` ended for `reason`. */
  constructor(
    /** The process that ended. */
    readonly processId: number,
    /** Why it ended. */
    readonly reason: string,
  ) {
    super(`process ${processId} was ended: ${reason}`);
  }
}

interface Waiter {
  tags: readonly bigint[] | null;
  resolve(signal: NativeSignal): void;
  reject(error: Error): void;
  cancelTimer: (() => void) | null;
}

/** The tag a signal matches tag lists with: data and link deaths carry one, ProcessDied none. */
function tagOf(signal: NativeSignal): bigint {
  return signal.kind === "data" || signal.kind === "link_died" ? signal.tag : 0n;
}

export class NativeProcess implements ProcessEndpoint {
  readonly id: number;
  /** When it was created (`Date.now()`), for its uptime. */
  readonly startedAt: number = Date.now();
  dieWhenLinkDies = true;
  readonly links: Map<number, bigint> = new Map();
  readonly monitors: Set<number> = new Set();
  readonly #queue: NativeSignal[] = [];
  #waiter: Waiter | null = null;
  #outcome: ProcessOutcome | null = null;
  #resolveExited!: (outcome: ProcessOutcome) => void;
  /** Resolves with the outcome once the process has ended and its links were told. */
  readonly exited: Promise<ProcessOutcome>;

  constructor(
    readonly runtime: Runtime,
    readonly environment: Environment,
    body: (self: NativeProcess) => Promise<void>,
  ) {
    this.id = environment.allocateProcessId();
    this.exited = new Promise((resolve) => this.#resolveExited = resolve);
    environment.processes.set(this.id, this);
    runtime.live.add(this);
    runtime.stats.spawned(environment.id);
    // The body starts after the spawner's synchronous code, as a spawned process would.
    queueMicrotask(() => {
      if (!this.alive) return;
      let running: Promise<void>;
      try {
        running = Promise.resolve(body(this));
      } catch (error) {
        running = Promise.reject(error);
      }
      running.then(
        () => this.#finish({ kind: "normal" }),
        (error) => {
          if (error instanceof NativeProcessKilled && error.processId === this.id) return;
          const reason = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
          this.#finish({ kind: "failure", reason });
        },
      );
    });
  }

  get alive(): boolean {
    return this.#outcome === null;
  }

  /** `waiting` in receive, `native` otherwise (its JavaScript runs when it runs). */
  get state(): string {
    return this.#waiter !== null ? "waiting" : "native";
  }

  /** Signals waiting in its mailbox. */
  get queuedMessages(): number {
    return this.#queue.length;
  }

  /**
   * The next signal matching `tags` (null: any), waiting up to `timeoutMs` (null: forever);
   * `{ kind: "timeout" }` when it passes.
   */
  receive(tags: readonly bigint[] | null, timeoutMs: number | null): Promise<NativeSignal> {
    this.#checkAlive();
    if (this.#waiter !== null) {
      return Promise.reject(new Error(`process ${this.id} is already waiting in receive`));
    }
    const index = this.#queue.findIndex((signal) => matchesTags(tags, tagOf(signal)));
    if (index !== -1) return Promise.resolve(this.#queue.splice(index, 1)[0]);
    if (timeoutMs !== null && Number.isNaN(timeoutMs)) {
      return Promise.reject(new RangeError("receive: timeoutMs is NaN"));
    }
    if (timeoutMs === Infinity) timeoutMs = null;
    if (timeoutMs !== null && timeoutMs <= 0) return Promise.resolve({ kind: "timeout" });
    return new Promise((resolve, reject) => {
      const waiter: Waiter = { tags, resolve, reject, cancelTimer: null };
      if (timeoutMs !== null) {
        // `after` re-arms past setTimeout's 2^31-1 ms, which would otherwise fire at once.
        waiter.cancelTimer = after(timeoutMs, () => {
          this.#waiter = null;
          resolve({ kind: "timeout" });
        });
      }
      this.#waiter = waiter;
    });
  }

  /** Sends a data message to process `processId` of this environment (none: dropped). */
  send(processId: bigint, tag: bigint, data: Uint8Array): void {
    this.#checkAlive();
    const message = new DataMessage(tag, data.length);
    message.write(data);
    this.environment.get(processId)?.deliver(message);
  }

  deliver(message: Message): void {
    if (!this.alive) {
      if (message.kind === "data") message.dropResources();
      return;
    }
    if (message.kind === "data") {
      // Resources (sockets, modules) cannot be taken from TypeScript: they are released.
      const data = message.data.slice();
      message.dropResources();
      this.#push({ kind: "data", tag: message.tag, data });
    } else if (message.kind === "process_died") {
      this.#push({ kind: "process_died", processId: message.processId });
    } else {
      this.#push({ kind: "link_died", tag: message.tag, processId: -1n });
    }
  }

  #push(signal: NativeSignal): void {
    const waiter = this.#waiter;
    if (waiter !== null && matchesTags(waiter.tags, tagOf(signal))) {
      this.#waiter = null;
      waiter.cancelTimer?.();
      waiter.resolve(signal);
    } else {
      this.#queue.push(signal);
    }
  }

  addLink(other: number, tag: bigint): void {
    if (this.alive) this.links.set(other, tag);
  }

  removeLink(other: number): void {
    this.links.delete(other);
  }

  linkDied(
    other: number,
    tag: bigint,
    outcome: ProcessOutcome | "no_process",
    name: string = String(other),
  ): void {
    if (!this.alive) return;
    this.links.delete(other);
    if (outcome !== "no_process" && outcome.kind === "normal") return;
    if (this.dieWhenLinkDies) this.kill(`linked process ${name} failed`);
    else this.#push({ kind: "link_died", tag, processId: BigInt(other) });
  }

  addMonitor(watcher: number): void {
    if (this.alive) this.monitors.add(watcher);
  }

  removeMonitor(watcher: number): void {
    this.monitors.delete(watcher);
  }

  kill(reason = "killed"): void {
    this.#finish({ kind: "failure", reason });
  }

  killForDeadlock(reason: string): void {
    this.#finish({ kind: "failure", reason, deadlock: true });
  }

  #checkAlive(): void {
    const outcome = this.#outcome;
    if (outcome !== null) {
      throw new NativeProcessKilled(this.id, outcome.kind === "failure" ? outcome.reason : "ended");
    }
  }

  #finish(outcome: ProcessOutcome): void {
    if (this.#outcome !== null) return;
    this.#outcome = outcome;
    this.environment.processes.delete(this.id);
    const waiter = this.#waiter;
    this.#waiter = null;
    if (waiter !== null) {
      waiter.cancelTimer?.();
      waiter.reject(
        new NativeProcessKilled(this.id, outcome.kind === "failure" ? outcome.reason : "ended"),
      );
    }
    this.#queue.length = 0;
    for (const [other, tag] of this.links) {
      this.environment.get(other)?.linkDied(this.id, tag, outcome);
    }
    this.links.clear();
    for (const watcher of this.monitors) {
      this.environment.get(watcher)?.deliver(new ProcessDiedMessage(BigInt(this.id)));
    }
    this.monitors.clear();
    this.environment.processEnded();
    this.runtime.notifyProcessEnded(this, outcome);
    this.#resolveExited(outcome);
  }
}
