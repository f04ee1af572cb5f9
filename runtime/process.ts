import type { ProcessConfig } from "./config.ts";
import type { Environment, ProcessEndpoint } from "./environment.ts";
import { HostTrap, ProcessExit, ProcessKilled, ProcessUpgrade, trap } from "./errors.ts";
import { GuestMemory } from "./guest_memory.ts";
import type { DisposableHostState } from "./host_api.ts";
import { promising } from "./jspi.ts";
import { Mailbox, matchesTags } from "./mailbox.ts";
import {
  LinkDiedMessage,
  type Message,
  ProcessDiedMessage,
  receiveStatus,
  TIMEOUT,
} from "./message.ts";
import type { HostedProcess, LunaticModule, MemoryLimits } from "./module.ts";
import { ResourceTable } from "./resources.ts";
import type { Runtime } from "./runtime.ts";
import type { Stdio } from "./stdio.ts";
import type { ProcessCharge } from "./capacity.ts";
import { formatBacktrace } from "./backtrace.ts";
import { after } from "./timers.ts";

/**
 * How a process ended. Links only care whether it failed.
 *
 * @example
 * ```ts
 * const outcome = await process.exited;
 * if (outcome.kind === "failure") console.error(`failed: ${outcome.reason}`);
 * ```
 */
export type ProcessOutcome =
  | { readonly kind: "normal" }
  | {
    readonly kind: "failure";
    /** Why it failed, e.g. `unreachable`, `killed`, `exited with code 3`. */
    readonly reason: string;
    /** The WASI exit code when it ended through `proc_exit(n != 0)`. */
    readonly exitCode?: number;
    /** The wasm frames at the failure, one per line, innermost first. */
    readonly backtrace?: string;
    /** Killed because every process of its environment waited for a message nothing could send. */
    readonly deadlock?: boolean;
  };

/** A value passed to an entry function (from the spawn parameter records). */
export type EntryArgument = number | bigint;

/** A suspended host call: how to unwind it if the process is killed meanwhile. */
interface Wait {
  reject: (reason: unknown) => void;
  onAbort?: () => void;
}

type State = "created" | "running" | "waiting" | "ready" | "done";

const NORMAL: ProcessOutcome = { kind: "normal" };

/** Each host-state key's slot in every process's array of host states. */
const HOST_STATE_SLOTS = new Map<symbol, number>();

/** lunatic's fuel unit: `max_fuel` counts units of 100,000 instructions. */
const FUEL_UNIT = 100_000;
/** Instructions a process runs between checks with the scheduler (wasmtime yields as often). */
const FUEL_SLICE = 100_000;
/**
 * The fewest instructions a slice grants. A slice shrinks when host calls make its
 * instructions slow (a loop of spawns runs ~20 instructions per 30 us spawn), so that the
 * process still checks in with the scheduler about every {@link SLICE_TARGET_MS}.
 */
const MIN_FUEL_SLICE = 1_000;
const SLICE_TARGET_MS = 1;

/**
 * A lunatic process: one WebAssembly instance with a memory of its own (new, or a zeroed one
 * an ended process gave back), a mailbox, links and monitors, and per-process resource tables. Its entry export runs through JSPI; host
 * functions that block suspend it with {@link suspend}.
 */
export class Process implements HostedProcess, ProcessEndpoint {
  // The fields a message hop touches come first and together, two cache lines of the object
  // (with `runtime` and `environment`, which as constructor parameter properties come first
  // of all): in a ring of a thousand processes every hop finds the receiver's and the
  // sender's state out of cache, and each object or distant field it reads costs a miss
  // (BENCHMARKS.md).
  #state: State = "created";
  /** The message scratch slot (spec §3.2): the message being built or the last received. */
  #scratch: Message | null = null;
  /** Whether the scratch message may hold resources to drop when it is replaced. */
  #scratchResources = false;
  #receiving = false;
  /** Receiving with no timeout (counted by the environment's deadlock detection). */
  #waitsForever = false;
  /** While waiting in a receive: the tags it takes (null: any message). */
  #receiveTags: readonly bigint[] | null = null;
  /** Resolves the promise of the receive or completion wait in progress, with its status. */
  #messageResolve: ((status: number) => void) | null = null;
  #messageStatus = 0;
  #cancelReceiveTimer: (() => void) | null = null;
  #wait: Wait | null = null;
  #killReason: string | null = null;
  #memory: GuestMemory | null = null;
  #memoryBytes: Uint8Array | null = null;
  /** The Wait of {@link waitForMessage}, one per process: a kill withdraws the receive. */
  #messageWait: Wait | null = null;
  /** The Wait of {@link waitForCompletion}, one per process, and what a kill calls. */
  #completionWait: Wait | null = null;
  #onCompletionAbort: (() => void) | null = null;
  /** The process this one last sent to, by ID (-1: none): senders mostly repeat. */
  #lastTargetId = -1;
  #lastTarget: ProcessEndpoint | undefined = undefined;
  /** Whether the process waited since its slice began (set with #state by every wait). */
  #waitedInSlice = false;
  /** Messages that arrived while the process was not waiting for them (made on first use). */
  #mailbox: Mailbox | null = null;
  #messageReject: ((reason: unknown) => void) | null = null;

  /** Process id, unique within its environment. */
  readonly id: number;
  /** Its code: the module it was spawned from, or the version it upgraded to. */
  module: LunaticModule;
  /** The export it runs (set when it starts, and by an upgrade). */
  entry = "";
  /** The tag `lunatic::hot::subscribe` asked new versions to be announced with, or null. */
  hotSubscription: bigint | null = null;
  readonly config: ProcessConfig;
  readonly stdio: Stdio;
  /** What the process holds of the runtime's capacity (released when it ends). */
  readonly charge: ProcessCharge;
  /** Linked processes and the tag this side stored for each (0n = no tag). */
  links: Map<number, bigint> | null = null;
  /** Processes monitoring this one. */
  monitors: Set<number> | null = null;
  /** When set, a failed link kills this process; otherwise it receives a LinkDied message. */
  dieWhenLinkDies = true;
  /** A root process: whoever spawned it reports its failure, the runtime's log does not. */
  isRoot = false;
  /** Resolves with the outcome once the process has ended and its links were notified. */
  get exited(): Promise<ProcessOutcome> {
    // Made on first use: most processes are never awaited, and spawning is a hot path.
    if (this.#exited === null) {
      this.#exited = this.#outcome !== null
        ? Promise.resolve(this.#outcome)
        : new Promise((resolve) => this.#resolveExited = resolve);
    }
    return this.#exited;
  }

  #instance: WebAssembly.Instance | null = null;
  #hostStates: unknown[] | null = null;
  #errors: ResourceTable<string> | null = null;
  #configs: ResourceTable<ProcessConfig> | null = null;
  #modules: ResourceTable<LunaticModule> | null = null;
  #exited: Promise<ProcessOutcome> | null = null;
  #resolveExited: ((outcome: ProcessOutcome) => void) | null = null;
  #outcome: ProcessOutcome | null = null;
  /** Instructions burnt in slices already accounted. */
  #fuelUsed = 0;
  /** Size of the slice the counter was last set to. */
  #fuelGranted = 0;
  /** Size of the next slice: up to {@link FUEL_SLICE}, less while slices run slow. */
  #fuelSlice = MIN_FUEL_SLICE;
  /** When the current slice began (NaN: before the first). */
  #sliceStart = NaN;

  /** When it was created (`Date.now()`), for its uptime. */
  readonly startedAt: number = Date.now();

  constructor(
    readonly runtime: Runtime,
    readonly environment: Environment,
    id: number,
    module: LunaticModule,
    config: ProcessConfig,
    stdio: Stdio,
    charge: ProcessCharge,
  ) {
    this.id = id;
    this.module = module;
    this.config = config;
    this.stdio = stdio;
    this.charge = charge;
  }

  /** The message scratch slot (spec §3.2): the message being built or the last received. */
  get scratch(): Message | null {
    return this.#scratch;
  }

  /**
   * Replaces the scratch message, dropping the resources nobody took from the old one. Reads
   * the old message only when it may hold resources: it is usually long out of cache.
   */
  setScratch(message: Message | null): void {
    const old = this.#scratch;
    if (this.#scratchResources && old !== message && old?.kind === "data") old.dropResources();
    this.#scratch = message;
    this.#scratchResources = message !== null && message.kind === "data" &&
      message.resources !== null;
  }

  /** Takes the scratch message out of the slot (to send it); its resources go with it. */
  takeScratch(): Message | null {
    const message = this.#scratch;
    this.#scratch = null;
    this.#scratchResources = false;
    return message;
  }

  /** A resource was pushed to the scratch message. */
  scratchGainedResource(): void {
    this.#scratchResources = true;
  }

  /**
   * The process with `processId` in this one's environment (possibly one that has ended), or
   * undefined. Remembers the last one found: a ring node, a client of one server, a worker
   * replying to its parent send to the same process every time, and the environment's map is
   * one more thing to fetch from memory. (IDs are never reused, so it cannot go stale; an
   * ended one is forgotten.)
   */
  sendTarget(processId: bigint): ProcessEndpoint | undefined {
    const id = Number(processId);
    if (id === this.#lastTargetId) {
      if (this.#lastTarget!.alive) return this.#lastTarget;
      // Ended: let it be collected (the environment no longer has it either).
      this.#lastTargetId = -1;
      this.#lastTarget = undefined;
    }
    const target = this.environment.get(processId);
    if (target !== undefined) {
      this.#lastTargetId = id;
      this.#lastTarget = target;
    }
    return target;
  }

  /** A mark for {@link takeQueuedSince}: how many messages were ever queued. */
  queueMark(): number {
    return this.#mailbox?.pushed ?? 0;
  }

  /**
   * Takes the first message matching `tags` queued after `mark` (while the process took none
   * from its queue), or returns null.
   */
  takeQueuedSince(mark: number, tags: readonly bigint[] | null): Message | null {
    const mailbox = this.#mailbox;
    return mailbox === null ? null : mailbox.takeRecent(mailbox.pushed - mark, tags);
  }

  /** Takes the first queued message matching `tags` (null = any), or returns null. */
  takeQueuedMessage(tags: readonly bigint[] | null): Message | null {
    return this.#mailbox === null ? null : this.#mailbox.take(tags);
  }

  /** The wasm instance (null until instantiated). */
  get instance(): WebAssembly.Instance | null {
    return this.#instance;
  }

  get alive(): boolean {
    return this.#state !== "done";
  }

  get memory(): GuestMemory {
    if (this.#memory !== null) return this.#memory;
    const instance = this.#instance;
    if (instance === null) {
      trap("the process is not initialised yet (host call during instantiation)");
    }
    const memory = instance.exports.memory;
    if (!(memory instanceof WebAssembly.Memory)) trap("No export `memory` found");
    return this.#memory = new GuestMemory(memory);
  }

  /**
   * The guest memory's bytes (as {@link GuestMemory.u8}), kept in the process's first fields
   * for the message hot path: one object less to fetch per read_data and write_data. A grown
   * memory detaches the old buffer, which empties the view and makes it fetched again; a
   * shared memory grows in place, so its view is never kept.
   */
  get memoryBytes(): Uint8Array {
    const bytes = this.#memoryBytes;
    if (bytes !== null && bytes.length !== 0) return bytes;
    const fresh = this.memory.u8;
    this.#memoryBytes = fresh.buffer instanceof ArrayBuffer ? fresh : null;
    return fresh;
  }

  /** created, running, ready (to resume), waiting (in a host call), done. */
  get state(): string {
    return this.#state;
  }

  /** Messages waiting in its mailbox. */
  get queuedMessages(): number {
    return this.#mailbox?.length ?? 0;
  }

  /** Its linear memory's size in bytes (0 before instantiation or after its end). */
  get memorySize(): number {
    const memory = this.#instance?.exports.memory;
    return memory instanceof WebAssembly.Memory ? memory.buffer.byteLength : 0;
  }

  /** Instructions it has run (in the units of its fuel counter, accounted per slice). */
  get fuelUsed(): number {
    return this.#fuelUsed;
  }

  /** Config resources this process created (`create_config`). */
  get configs(): ResourceTable<ProcessConfig> {
    return this.#configs ??= new ResourceTable();
  }

  /** Module resources this process holds (`compile_module`, `take_module`). */
  get modules(): ResourceTable<LunaticModule> {
    return this.#modules ??= new ResourceTable();
  }

  /** Error messages handed to the guest as `lunatic::error` IDs. */
  get errors(): ResourceTable<string> {
    return this.#errors ??= new ResourceTable();
  }

  hostState<T>(key: symbol, create: () => T): T {
    // An array slot per key, not a Map per process: stream calls look their state up on
    // every read and write, and 1,000 processes' Maps miss the cache.
    let slot = HOST_STATE_SLOTS.get(key);
    if (slot === undefined) HOST_STATE_SLOTS.set(key, slot = HOST_STATE_SLOTS.size);
    const states = this.#hostStates ??= [];
    let state = states[slot] as T | undefined;
    if (state === undefined) {
      while (states.length < slot) states.push(undefined);
      states[slot] = state = create();
    }
    return state;
  }

  /**
   * Instantiates `compiled` (`module` compiled for this process's memory limit), in a memory
   * from the runtime's pool when the module imports one (`limits`): the process gives that
   * memory back when it ends. A memory that saw a failed instantiation (data written, a start
   * function run) is not given back: the process takes ownership only once it succeeded.
   * Throws (a WebAssembly.LinkError or RuntimeError) if instantiation fails. The fuel counter
   * starts empty: the guest's first check asks {@link outOfFuel} for a slice.
   */
  instantiate(
    module: LunaticModule,
    compiled: WebAssembly.Module,
    limits: MemoryLimits | null,
  ): void {
    const memory = limits === null
      ? null
      : this.runtime.memories.take(limits.initial, limits.maximum);
    this.#instance = new WebAssembly.Instance(compiled, module.importsFor(this, memory));
    if (memory !== null) this.#pooledMemory = { memory, limits: limits! };
  }

  /** The pooled memory the instance imports, given back to the runtime's pool at the end. */
  #pooledMemory: { memory: WebAssembly.Memory; limits: MemoryLimits } | null = null;

  /** Reads in flight straight into this process's memory (see {@link lendMemory}). */
  #memoryLoans = 0;

  /**
   * A host call hands part of the memory to an operation that writes into it later (a socket
   * read into the guest's buffer). While any is out, an ended process's memory is not given
   * back to the pool: the write would land in the next owner's memory. Each loan ends with
   * {@link endMemoryLoan}.
   */
  lendMemory(): void {
    this.#memoryLoans++;
  }

  endMemoryLoan(): void {
    this.#memoryLoans--;
  }

  /**
   * The instrumented guest's counter ran out (`lunatic::internal::out_of_fuel`, with what is
   * left of it: zero or the overshoot): account the slice, apply the fuel limit and pending
   * kills, let other processes and the event loop run when they are waiting, and give the
   * counter its next slice. During instantiation (a start function) it never suspends.
   */
  outOfFuel(counter: bigint): bigint | Promise<bigint> {
    const burnt = this.#fuelGranted - Number(counter);
    this.#fuelUsed += burnt;
    const now = performance.now();
    this.#adaptSlice(burnt, this.#waitedInSlice ? NaN : now - this.#sliceStart);
    this.#waitedInSlice = false;
    let grant = this.#fuelSlice;
    if (this.config.maxFuel !== 0n) {
      const left = Number(this.config.maxFuel) * FUEL_UNIT - this.#fuelUsed;
      if (left <= 0) throw new HostTrap("out of fuel");
      grant = Math.min(grant, left);
    }
    this.#fuelGranted = grant;
    this.#sliceStart = now;
    this.checkSignals();
    const next = BigInt(grant);
    if (this.#state === "running" && this.runtime.scheduler.shouldYield()) {
      // The next slice starts when the process runs again, not while it waits its turn.
      return this.suspend(Promise.resolve(next)).then((granted) => this.#startSlice(granted));
    }
    return next;
  }

  #startSlice(next: bigint): bigint {
    this.#sliceStart = performance.now();
    this.#waitedInSlice = false;
    return next;
  }

  /**
   * Sizes the next slice from how long the last one's `burnt` instructions took: a slice
   * slower than {@link SLICE_TARGET_MS} (host calls between the instructions) shrinks to
   * what would take that long; a fast one, or one during which the process waited (NaN: it
   * was not hogging, or the first), doubles back towards {@link FUEL_SLICE}. Slices start small, so a
   * process that spawns in a loop checks in within its first milliseconds.
   */
  #adaptSlice(burnt: number, elapsedMs: number): void {
    if (elapsedMs > SLICE_TARGET_MS) {
      const fitting = Math.floor(burnt * SLICE_TARGET_MS / elapsedMs);
      this.#fuelSlice = Math.max(MIN_FUEL_SLICE, Math.min(this.#fuelSlice, fitting));
    } else if (!(elapsedMs >= SLICE_TARGET_MS / 2)) {
      this.#fuelSlice = Math.min(FUEL_SLICE, this.#fuelSlice * 2);
    }
  }

  /** Queues the entry call; the process starts running on the scheduler's next turn. */
  start(entry: string, args: EntryArgument[]): void {
    this.runtime.scheduler.enqueue(() => this.#run(entry, args));
  }

  #run(entry: string, args: EntryArgument[]): void {
    if (this.#state === "done") return;
    if (this.#killReason !== null) return this.#finish(failure(this.#killReason));
    const problem = this.module.checkEntry(entry, args);
    if (problem !== null) return this.#finish(failure(problem));
    this.entry = entry;
    const exported = this.#instance!.exports[entry] as (...a: unknown[]) => unknown;
    this.#state = "running";
    // A start function may have begun a slice at instantiation: the wait for this turn is
    // not running time.
    this.#waitedInSlice = true;
    let result: Promise<unknown>;
    try {
      result = promising(exported)(...args);
    } catch (error) {
      return this.#finish(this.#classify(error));
    }
    result.then(() => this.#finish(NORMAL), (error) => {
      if (error instanceof ProcessUpgrade) this.#upgradeTo(error);
      else this.#finish(this.#classify(error));
    });
  }

  /**
   * Goes on in a new version (runtime/hot.ts): the old instance's stack has unwound; its
   * memory goes back, a fresh instance of the new version takes its place, the state message
   * goes first in the mailbox, and the new entry starts. Everything else of the process — ID,
   * mailbox, links, monitors, registry names, config, resources — stays.
   */
  #upgradeTo(upgrade: ProcessUpgrade): void {
    if (this.#state === "done") return;
    if (this.#killReason !== null) return this.#finish(failure(this.#killReason));
    const module = upgrade.module as LunaticModule;
    const old = this.#pooledMemory;
    this.#pooledMemory = null;
    if (old !== null && this.#memoryLoans === 0) {
      this.runtime.memories.give(old.memory, old.limits.initial, old.limits.maximum);
    }
    this.#instance = null;
    this.#memory = null;
    this.#memoryBytes = null;
    try {
      module.prepare(this.config);
      const maxPages = this.config.maxMemoryPages;
      this.module = module;
      this.instantiate(module, module.compiled(maxPages), module.importedMemory(maxPages));
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      return this.#finish(failure(`upgrade to version ${module.version} failed: ${reason}`));
    }
    (this.#mailbox ??= new Mailbox()).pushFront(upgrade.state as Message);
    this.#run(upgrade.entry, []);
  }

  /**
   * Throws if a kill is pending. Host functions that are suspension points call this, so a
   * kill takes effect there even when the call would not need to wait.
   */
  checkSignals(): void {
    if (this.#killReason !== null) throw new ProcessKilled(this.#killReason);
  }

  suspend<T>(promise: Promise<T>, onAbort?: () => void): Promise<T> {
    this.checkSignals();
    return new Promise<T>((resolve, reject) => {
      const wait: Wait = { reject, onAbort };
      this.#wait = wait;
      this.#state = "waiting";
      this.#waitedInSlice = true;
      promise.then(
        (value) => this.#wake(wait, () => resolve(value)),
        (error) => this.#wake(wait, () => reject(error)),
      );
    });
  }

  /** The process whose receive promise {@link Process.#keepMessageResolvers} is making. */
  static #waiting: Process | null = null;

  /**
   * The executor of every receive's promise, shared by all processes: a closure per process
   * would be one more object (and cache line) each wait touches.
   */
  static readonly #keepMessageResolvers = (
    resolve: (status: number) => void,
    reject: (reason: unknown) => void,
  ): void => {
    const process = Process.#waiting!;
    Process.#waiting = null;
    process.#messageResolve = resolve;
    process.#messageReject = reject;
  };

  /**
   * The receive hot path: suspends until the next arriving message matching `tags` (null:
   * any), or until `timeout` milliseconds pass (null: never), without searching the queue
   * (callers take from it first when they want to). The message goes to the scratch slot and
   * the promise resolves with its receive status, or with {@link TIMEOUT}. Allocates nothing
   * per wait beyond the promise V8 resumes from.
   */
  waitForMessage(tags: readonly bigint[] | null, timeout: bigint | null): Promise<number> {
    const promise = this.#waitForStatus(
      this.#messageWait ??= {
        reject: (reason) => this.#messageReject!(reason),
        onAbort: () => this.#stopReceiving(),
      },
    );
    this.#receiveTags = tags;
    this.#receiving = true;
    if (timeout !== null) {
      this.#cancelReceiveTimer = after(timeout, () => {
        this.#cancelReceiveTimer = null;
        if (this.#receiving) this.#received(null);
      });
    } else {
      this.#waitsForever = true;
      this.environment.startedWaitingForever();
    }
    return promise;
  }

  #stopReceiving(): void {
    this.#receiving = false;
    this.#receiveTags = null;
    if (this.#waitsForever) {
      this.#waitsForever = false;
      this.environment.stoppedWaitingForever();
    }
    if (this.#cancelReceiveTimer !== null) {
      this.#cancelReceiveTimer();
      this.#cancelReceiveTimer = null;
    }
  }

  /** The awaited message arrived (null: the timeout passed): the process is ready to resume. */
  #received(message: Message | null): void {
    this.#stopReceiving();
    if (message === null) {
      this.#messageStatus = TIMEOUT;
    } else {
      this.setScratch(message);
      this.#messageStatus = receiveStatus(message);
    }
    this.#readyToResume();
  }

  /**
   * Begins a wait that {@link resumeAfterWait} ends with {@link Process.#messageStatus} (a
   * receive's or a completion's): the promise V8 resumes the guest from.
   */
  #waitForStatus(wait: Wait): Promise<number> {
    this.checkSignals();
    Process.#waiting = this;
    const promise = new Promise<number>(Process.#keepMessageResolvers);
    this.#wait = wait;
    this.#state = "waiting";
    this.#waitedInSlice = true;
    return promise;
  }

  /** The wait is over and its status set: the process resumes on its turn. */
  #readyToResume(): void {
    this.#wait = null;
    this.#state = "ready";
    this.runtime.scheduler.resume(this);
  }

  /**
   * The I/O hot path: suspends until the operation the caller started calls
   * {@link completeWait} with the host call's result, as {@link waitForMessage} does for a
   * message. A kill meanwhile calls `onAbort` (the operation must then not complete the wait,
   * nor touch the process's memory) and unwinds the process. Allocates nothing per wait beyond
   * the promise V8 resumes from, where {@link suspend} makes closures and promises around it.
   */
  waitForCompletion(onAbort: () => void): Promise<number> {
    const promise = this.#waitForStatus(
      this.#completionWait ??= {
        reject: (reason) => this.#messageReject!(reason),
        onAbort: () => {
          const abort = this.#onCompletionAbort!;
          this.#onCompletionAbort = null;
          abort();
        },
      },
    );
    this.#onCompletionAbort = onAbort;
    return promise;
  }

  /** Ends a {@link waitForCompletion}: the process is ready to resume with `status`. */
  completeWait(status: number): void {
    if (this.#wait !== this.#completionWait || this.#state !== "waiting") return;
    this.#onCompletionAbort = null;
    this.#messageStatus = status;
    this.#readyToResume();
  }

  /**
   * The scheduler's turn for a process whose message arrived, or whose operation completed:
   * resume its wait.
   */
  resumeAfterWait(): void {
    if (this.#state !== "ready") return;
    this.#state = "running";
    if (this.#killReason !== null) this.#messageReject!(new ProcessKilled(this.#killReason));
    else this.#messageResolve!(this.#messageStatus);
  }

  yieldNow(): Promise<void> {
    return this.suspend(Promise.resolve());
  }

  /** Moves a waiting process to the ready queue; it resumes (or unwinds) on its turn. */
  #wake(wait: Wait, resume: () => void): void {
    if (this.#wait !== wait) return; // aborted by a kill meanwhile
    this.#wait = null;
    this.#state = "ready";
    this.runtime.scheduler.resume(() => {
      if (this.#state !== "ready") return;
      this.#state = "running";
      if (this.#killReason !== null) wait.reject(new ProcessKilled(this.#killReason));
      else resume();
    });
  }

  /**
   * Delivers a message (spec §3.5): straight to a receive waiting for it, otherwise onto the
   * queue; dropped if the process has ended.
   */
  deliver(message: Message): void {
    if (this.#receiving && matchesTags(this.#receiveTags, message.tag)) {
      this.#received(message);
    } else if (this.#state === "done") {
      if (message.kind === "data") message.dropResources();
    } else {
      (this.#mailbox ??= new Mailbox()).push(message);
    }
  }

  /**
   * Kills the process (spec §2.5 Kill). A waiting process unwinds at once; a running one at
   * its next suspension point; one that has not started never runs.
   */
  kill(reason = "killed"): void {
    if (this.#state === "done" || this.#killReason !== null) return;
    this.#killReason = reason;
    this.#unwind(reason);
  }

  /**
   * Kills the process because its environment is deadlocked: its outcome says so
   * (`deadlock: true`), so that whoever awaits it can tell a deadlock from other kills.
   */
  killForDeadlock(reason: string): void {
    if (this.#state === "done" || this.#killReason !== null) return;
    this.#killReason = reason;
    this.#deadlocked = true;
    this.#unwind(reason);
  }

  #deadlocked = false;

  #unwind(reason: string): void {
    if (this.#state === "waiting") {
      const wait = this.#wait!;
      this.#wait = null;
      this.#state = "running";
      wait.onAbort?.();
      wait.reject(new ProcessKilled(reason));
    } else if (this.#state === "created") {
      // Not started (or never will be): end it now, nothing runs.
      this.#finish(failure(reason));
    }
  }

  /** Records a link to `other` with the tag as this side stores it. */
  addLink(other: number, tag: bigint): void {
    (this.links ??= new Map()).set(other, tag);
  }

  removeLink(other: number): void {
    this.links?.delete(other);
  }

  /**
   * A linked process ended (spec §2.5 LinkDied). `name` says which in a kill's reason (a
   * process on another node is "<id> on node <n>").
   */
  linkDied(
    other: number,
    tag: bigint,
    outcome: ProcessOutcome | "no_process",
    name: string = String(other),
  ): void {
    if (this.#state === "done") return;
    this.links?.delete(other);
    if (outcome !== "no_process" && outcome.kind === "normal") return;
    if (this.dieWhenLinkDies) {
      this.kill(`linked process ${name} failed`);
    } else {
      this.deliver(new LinkDiedMessage(tag));
    }
  }

  addMonitor(watcher: number): void {
    (this.monitors ??= new Set()).add(watcher);
  }

  removeMonitor(watcher: number): void {
    this.monitors?.delete(watcher);
  }

  #classify(error: unknown): ProcessOutcome {
    if (error instanceof ProcessExit) {
      return error.code === 0
        ? NORMAL
        : { kind: "failure", reason: `exited with code ${error.code}`, exitCode: error.code };
    }
    if (error instanceof ProcessKilled) return failure(error.message);
    let reason: string;
    if (error instanceof HostTrap || error instanceof WebAssembly.RuntimeError) {
      reason = error.message;
    } else if (error instanceof RangeError && /call stack/i.test(error.message)) {
      reason = "call stack exhausted";
    } else {
      reason = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    }
    return failureWithBacktrace(reason, error, this.module, this.config.maxMemoryPages);
  }

  /** Ends the process: unregister, notify links and monitors, release everything it holds. */
  #finish(outcome: ProcessOutcome): void {
    if (this.#state === "done") return;
    if (this.#deadlocked && outcome.kind === "failure") outcome = { ...outcome, deadlock: true };
    this.#state = "done";
    this.#wait = null;
    this.environment.processes.delete(this.id);
    const links = this.links;
    this.links = null;
    if (links !== null) {
      for (const [other, tag] of links) {
        this.environment.get(other)?.linkDied(this.id, tag, outcome);
      }
    }
    const monitors = this.monitors;
    this.monitors = null;
    if (monitors !== null) {
      for (const watcher of monitors) {
        this.environment.get(watcher)?.deliver(new ProcessDiedMessage(BigInt(this.id)));
      }
    }
    this.#release();
    this.environment.processEnded();
    this.runtime.processEnded(this, outcome, links?.size ?? 0);
    this.#outcome = outcome;
    this.#resolveExited?.(outcome);
  }

  #release(): void {
    this.setScratch(null);
    for (const message of this.#mailbox?.drain() ?? []) {
      if (message.kind === "data") message.dropResources();
    }
    this.#mailbox = null;
    this.#stopReceiving();
    if (this.#hostStates !== null) {
      for (const state of this.#hostStates) {
        (state as Partial<DisposableHostState> | undefined)?.dispose?.();
      }
      this.#hostStates = null;
    }
    this.#errors = null;
    this.#configs = null;
    this.#modules = null;
    this.#instance = null;
    this.#memory = null;
    this.#memoryBytes = null;
    this.#lastTargetId = -1;
    this.#lastTarget = undefined;
    // Every end comes after the guest's last activation returned or unwound (a process that
    // never started has none), and host calls write to guest memory only before returning
    // to it, or through a loan (lendMemory): nothing else can touch the memory any more.
    // A memory lent to a read still in flight is dropped instead: the read may yet write.
    if (this.#pooledMemory !== null) {
      const { memory, limits } = this.#pooledMemory;
      this.#pooledMemory = null;
      if (this.#memoryLoans === 0) {
        this.runtime.memories.give(memory, limits.initial, limits.maximum);
      }
    }
  }
}

function failure(reason: string): ProcessOutcome {
  return { kind: "failure", reason };
}

/**
 * A failure whose backtrace is made when first read: formatting V8's stack and naming its
 * frames costs milliseconds in a big module, and most failures (a linked process's crash, a
 * test that should panic) are never shown. The error is let go once it has been read.
 */
function failureWithBacktrace(
  reason: string,
  error: unknown,
  module: LunaticModule,
  maxPages: number,
): ProcessOutcome {
  let pending: unknown = error;
  let backtrace: string | undefined;
  return {
    kind: "failure",
    reason,
    get backtrace(): string | undefined {
      if (pending !== undefined) {
        backtrace = formatBacktrace(pending, module.backtraceSource(maxPages));
        pending = undefined;
      }
      return backtrace;
    },
  };
}
