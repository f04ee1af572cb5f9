import type { Message } from "./message.ts";
import type { ProcessOutcome } from "./process.ts";

/**
 * What the runtime and other processes need of a process: a wasm one (runtime/process.ts) or
 * one written in TypeScript by an embedder (runtime/native_process.ts).
 */
export interface ProcessEndpoint {
  readonly id: number;
  readonly environment: Environment;
  readonly alive: boolean;
  /** When set, a failed link kills the process; otherwise it hears of it as a signal. */
  dieWhenLinkDies: boolean;
  /** A message or signal for its mailbox (dropped once it has ended). */
  deliver(message: Message): void;
  addLink(other: number, tag: bigint): void;
  removeLink(other: number): void;
  /** A linked process ended; `name` says which in a kill's reason. */
  linkDied(other: number, tag: bigint, outcome: ProcessOutcome | "no_process", name?: string): void;
  addMonitor(watcher: number): void;
  removeMonitor(watcher: number): void;
  kill(reason?: string): void;
  killForDeadlock(reason: string): void;
}

/** A registry entry: where a named process lives. */
export interface RegistryEntry {
  nodeId: bigint;
  processId: bigint;
}

/**
 * A namespace of processes (spec §2.1): its own process-ID counter (from 1, never reused),
 * the live processes, and the registry of names that its processes share.
 */
export class Environment {
  #nextProcessId = 1;
  readonly processes: Map<number, ProcessEndpoint> = new Map();
  readonly registry: Map<string, RegistryEntry> = new Map();
  /** Processes waiting for a message with no timeout: only another process can wake them. */
  #waitingForever = 0;
  /** Timers (`send_after`) that will deliver to a process of this environment. */
  #pendingTimers = 0;
  #checkQueued = false;
  /**
   * Called when every process of the environment waits for a message that nothing can send:
   * each waits with no timeout, and no timer will deliver to any. Messages never cross
   * environments, so nothing can wake them. The owner of the environment (a root run, a
   * test) decides what to do; null: nobody watches (lunatic would wait forever).
   */
  onDeadlock: (() => void) | null = null;

  constructor(readonly id: number) {}

  /** Whether every process waits with no timeout and no timer is pending (none alive: no). */
  get deadlocked(): boolean {
    const alive = this.processes.size;
    return alive > 0 && this.#waitingForever === alive && this.#pendingTimers === 0;
  }

  /** A process of this environment started waiting for a message with no timeout. */
  startedWaitingForever(): void {
    if (++this.#waitingForever === this.processes.size) this.#queueDeadlockCheck();
  }

  /** ...and stopped (a message came, or it was killed). */
  stoppedWaitingForever(): void {
    this.#waitingForever--;
  }

  /** A timer will deliver to a process of this environment. */
  timerSet(): void {
    this.#pendingTimers++;
  }

  /** That timer fired (its message delivered) or was cancelled. */
  timerDone(): void {
    if (--this.#pendingTimers === 0) this.#queueDeadlockCheck();
  }

  /** A process ended (after it notified its links and monitors). */
  processEnded(): void {
    if (this.#waitingForever === this.processes.size) this.#queueDeadlockCheck();
  }

  /**
   * Checks again once the current task's synchronous work is done (a message sent right after
   * a receive began wakes the receiver before then), and tells the owner if it still holds.
   */
  #queueDeadlockCheck(): void {
    if (this.onDeadlock === null || this.#checkQueued) return;
    this.#checkQueued = true;
    queueMicrotask(() => {
      this.#checkQueued = false;
      if (this.deadlocked) this.onDeadlock?.();
    });
  }

  /** Takes the next process ID. A spawn that fails after this still consumes it. */
  allocateProcessId(): number {
    return this.#nextProcessId++;
  }

  get(processId: bigint | number): ProcessEndpoint | undefined {
    return this.processes.get(typeof processId === "number" ? processId : toPid(processId));
  }

  /** Number of processes alive in this environment. */
  get size(): number {
    return this.processes.size;
  }
}

/** A guest's u64 process ID as a number, or -1 for one no process can have. */
function toPid(id: bigint): number {
  // One conversion instead of BigInt comparisons; past 2^53 it rounds, but stays unsafe.
  const pid = Number(id);
  return pid > 0 && pid <= Number.MAX_SAFE_INTEGER ? pid : -1;
}
