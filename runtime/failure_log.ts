/**
 * Reports of failed processes. One failure usually brings others: a crash kills every process
 * linked to it, a spawn loop past capacity fails each spawn. A report per process would bury
 * the cause under thousands of lines, so failures alike (the same reason, process IDs aside)
 * that come in one burst are shown a few at a time, and the rest as one summary line with
 * their count when the burst is over.
 *
 * Reports are written after the current task: a failure is on the critical path of whatever
 * it wakes (a supervisor waiting for LinkDied restarts children), and naming a big module's
 * frames takes milliseconds.
 */
import { setImmediate } from "node:timers";

/** Where reports go: one call per report (a failure with its backtrace, or a summary). */
export type FailureSink = (report: string) => void;

/** What the log needs of one failure. */
export interface FailureReport {
  /** The process's registered name, or its ID. */
  readonly name: string;
  readonly reason: string;
  readonly linkCount: number;
  /** The backtrace, made only if the report is shown (symbolizing is not free). */
  backtrace(): string | undefined;
}

interface Burst {
  /** The first failure's reason, for the summary. */
  readonly reason: string;
  shown: number;
  hidden: number;
}

export class FailureLog {
  /** Failures alike shown in full before the rest of a burst is only counted. */
  static readonly SHOWN_PER_BURST = 3;
  /** A burst ends this long after its first failure. */
  static readonly BURST_MS = 250;

  readonly #bursts = new Map<string, Burst>();
  #timer: ReturnType<typeof setTimeout> | null = null;
  /** Failures not yet written (see the module's comment). */
  #pending: FailureReport[] = [];

  /** @param enabled whether reports are wanted now (a log level can hide them) */
  constructor(readonly sink: FailureSink, readonly enabled: () => boolean = () => true) {}

  failed(failure: FailureReport): void {
    if (!this.enabled()) return;
    if (this.#pending.length === 0) setImmediate(this.#writePending);
    this.#pending.push(failure);
  }

  #writePending = (): void => {
    const pending = this.#pending;
    this.#pending = [];
    for (const failure of pending) this.#write(failure);
  };

  #write(failure: FailureReport): void {
    const key = failure.reason.replace(/\d+/g, "#");
    let burst = this.#bursts.get(key);
    if (burst === undefined) {
      burst = { reason: failure.reason, shown: 0, hidden: 0 };
      this.#bursts.set(key, burst);
      this.#armTimer();
    }
    if (burst.shown === FailureLog.SHOWN_PER_BURST) {
      burst.hidden++;
      return;
    }
    burst.shown++;
    const backtrace = failure.backtrace();
    this.sink(
      `Process ${failure.name} failed, notifying: ${failure.linkCount} links: ${failure.reason}` +
        (backtrace ? `\nwasm backtrace:\n${backtrace}` : ""),
    );
  }

  /** Writes every pending report and ends every burst now, with its summary if it hid some. */
  flush(): void {
    this.#writePending();
    if (this.#timer !== null) {
      clearTimeout(this.#timer);
      this.#timer = null;
    }
    for (const burst of this.#bursts.values()) {
      if (burst.hidden === 0) continue;
      const count = burst.hidden.toLocaleString("en-US");
      this.sink(
        `... and ${count} more ${
          burst.hidden === 1 ? "process" : "processes"
        } failed the same way (${burst.reason})`,
      );
    }
    this.#bursts.clear();
  }

  #armTimer(): void {
    if (this.#timer !== null) return;
    const timer = setTimeout(() => {
      this.#timer = null;
      this.flush();
    }, FailureLog.BURST_MS);
    // A pending summary must not keep the runtime alive (the CLI flushes before it exits).
    Deno.unrefTimer(timer);
    this.#timer = timer;
  }
}
