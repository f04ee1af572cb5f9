import { setImmediate } from "node:timers";
import { IoPoll } from "./io_poll.ts";

/**
 * What the scheduler runs: a function, or a process whose awaited message arrived or whose
 * operation completed (a method call on the process instead of a closure per process keeps
 * the message hop's memory traffic down).
 */
export type Task = (() => void) | { resumeAfterWait(): void };

function run(task: Task): void {
  if (typeof task === "function") task();
  else task.resumeAfterWait();
}

/**
 * Runs ready processes. Waking a process only queues it here; the scheduler resumes queued
 * processes in FIFO order. Resumptions run as microtasks, which would starve timers and I/O,
 * so after each time slice the scheduler hands control back to the event loop: through
 * `setImmediate` (~4 µs, lets timers run), or, while sockets are open, through a turn that
 * lets the event loop poll the OS (see {@link Scheduler.ioSources}).
 */
export class Scheduler {
  /** How long processes may run on microtasks before the event loop gets a turn. */
  static readonly SLICE_MS = 2;

  /**
   * The slice while many sockets are open. Deno's event loop asks the OS which sockets are
   * ready only at a turn that waits, so a busy runtime sees new requests once a slice: with
   * 1,000 busy connections, 0.5 ms slices served 83–85k req/s with p90 13 ms where 2 ms ones
   * served 67k with p90 38 ms (some connections were seen every turn, others once a slice).
   * With 100 connections the extra turns cost 7%, so the short slice waits for many sockets.
   */
  static readonly BUSY_IO_SLICE_MS = 0.5;
  static readonly BUSY_IO_SOURCES = 256;

  static sliceMs(): number {
    return Scheduler.ioSources > Scheduler.BUSY_IO_SOURCES
      ? Scheduler.BUSY_IO_SLICE_MS
      : Scheduler.SLICE_MS;
  }

  /**
   * I/O sources (sockets, listeners) open in this isolate, counted by whoever opens them.
   * While any is, a slice ends with a turn that lets the event loop poll the OS for I/O
   * (runtime/io_poll.ts): accepts, reads and write completions are then seen every slice,
   * however busy the processes are. Without any, `setImmediate` (~4 µs) is enough.
   */
  static ioSources = 0;
  static readonly #ioPoll = new IoPoll();

  #queue: Task[] = [];
  #head = 0;
  #scheduled = false;
  #sliceStart = performance.now();

  /**
   * Runs a resumption now if nothing is queued and the event loop had a turn recently:
   * resolving a suspended guest's promise only schedules it, so this keeps FIFO order among
   * resumptions without a trip through the queue. Otherwise the task waits its turn.
   */
  resume(task: Task): void {
    if (this.#head === this.#queue.length && !this.#scheduled && !this.#sliceExpired()) {
      this.#resumedDirectly = true;
      run(task);
    } else {
      this.enqueue(task);
    }
  }

  #checks = 0;

  /** Whether the event loop is due a turn; reads the clock on every 16th call only. */
  #sliceExpired(): boolean {
    if ((++this.#checks & 15) !== 0) return this.#expired;
    return this.#expired = performance.now() - this.#sliceStart > Scheduler.sliceMs();
  }

  #expired = false;

  /** Queues a task (usually: resume one process) to run on the next drain. */
  enqueue(task: Task): void {
    this.#queue.push(task);
    if (!this.#scheduled) {
      this.#scheduled = true;
      queueMicrotask(this.#drain);
    }
  }

  /**
   * Whether a running process should let others run: some are ready, or the event loop has
   * not had a turn for a whole slice.
   */
  shouldYield(): boolean {
    // Processes resumed directly wait in V8's microtask queue, not ours: a running process
    // yields to them at its next check.
    const resumed = this.#resumedDirectly;
    this.#resumedDirectly = false;
    return resumed || this.#head < this.#queue.length || this.#sliceExpired();
  }

  #resumedDirectly = false;

  /** Tasks a drain step runs before it lets their processes run and checks the clock. */
  static readonly STEP = 8;

  /**
   * Runs the next few queued tasks, then comes back as a microtask. A task only resolves the
   * promise its process waits on: the process runs in the microtask that resolution queued,
   * ahead of the next step. So each step sees the time the previous ones took, and the event
   * loop gets its turn after a slice however many processes are ready (running a whole queue
   * of 600 processes at once kept it from accepting connections for up to 5 s).
   */
  #drain = (): void => {
    const now = performance.now();
    if (now - this.#sliceStart > Scheduler.sliceMs()) {
      this.#expired = true;
      if (Scheduler.ioSources > 0) Scheduler.#ioPoll.poll(this.#drainAfterEventLoop);
      else setImmediate(this.#drainAfterEventLoop);
      return;
    }
    this.#scheduled = false;
    const end = Math.min(this.#queue.length, this.#head + Scheduler.STEP);
    while (this.#head < end) {
      const task = this.#queue[this.#head];
      this.#queue[this.#head++] = noop;
      run(task);
    }
    if (this.#head === this.#queue.length) {
      this.#queue.length = 0;
      this.#head = 0;
    } else if (!this.#scheduled) {
      this.#scheduled = true;
      queueMicrotask(this.#drain);
    }
  };

  #drainAfterEventLoop = (): void => {
    this.#sliceStart = performance.now();
    this.#expired = false;
    this.#drain();
  };
}

function noop(): void {}
