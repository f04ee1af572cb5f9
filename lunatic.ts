/**
 * The runtime assembled with every host namespace: the `Lunatic` class that the command line,
 * the test runner and the tests drive (roots, test mode, worker lanes), and that mod.ts, the
 * public embedding API, builds on. Not a published entry point: its types reach into the
 * runtime's internals.
 *
 * ```ts
 * import { Lunatic } from "./lunatic.ts";
 * const lunatic = new Lunatic();
 * const result = await lunatic.run("app.wasm", { args: ["--verbose"] });
 * console.log(result.exitCode);
 * ```
 */
import { basename } from "node:path";
import { distributedNamespace } from "./host/distributed.ts";
import { errorNamespace } from "./host/error.ts";
import { hotNamespace } from "./host/hot.ts";
import { lunaticWasiNamespace } from "./host/lunatic_wasi.ts";
import { messageNamespace } from "./host/message.ts";
import { metricsNamespace } from "./host/metrics.ts";
import { networkingNamespace } from "./host/networking.ts";
import { processNamespace } from "./host/process.ts";
import { registryNamespace } from "./host/registry.ts";
import { sqliteNamespace } from "./host/sqlite.ts";
import { timerNamespace } from "./host/timer.ts";
import { trapNamespace } from "./host/trap.ts";
import { versionNamespace } from "./host/version.ts";
import { wasiNamespace } from "./host/wasi.ts";
import type { CapacityLimits } from "./runtime/capacity.ts";
import type { FailureSink } from "./runtime/failure_log.ts";
import { type GuestView, ProcessConfig, rootView } from "./runtime/config.ts";
import type { Environment } from "./runtime/environment.ts";
import { ModuleLineage, type Versioned } from "./runtime/hot.ts";
import { LunaticError } from "./runtime/errors.ts";
import type { HostNamespace } from "./runtime/host_api.ts";
import { setupLogging } from "./runtime/log.ts";
import type { LunaticModule } from "./runtime/module.ts";
import type { TestLane } from "./runtime/test_runner.ts";
import { type WorkerGuestOptions, WorkerLane } from "./runtime/test_worker_lane.ts";
import type { EntryArgument, Process, ProcessOutcome } from "./runtime/process.ts";
import { Runtime } from "./runtime/runtime.ts";
import { hostStdio, type Stdio } from "./runtime/stdio.ts";

export type { CapacityLimits } from "./runtime/capacity.ts";
export type { FailureSink } from "./runtime/failure_log.ts";
export { ProcessConfig } from "./runtime/config.ts";
export type { GuestView, Preopen, PreopenSpec } from "./runtime/config.ts";
export { LunaticError } from "./runtime/errors.ts";
export type { HostContext, HostFunction, HostNamespace, ValType } from "./runtime/host_api.ts";
export type { LunaticModule } from "./runtime/module.ts";
export type { EntryArgument, Process, ProcessOutcome } from "./runtime/process.ts";
export {
  BufferInput,
  CaptureSink,
  EMPTY_INPUT,
  type InputSource,
  type OutputSink,
  type Stdio,
} from "./runtime/stdio.ts";
export {
  discoverTests,
  parseTestExport,
  selectTests,
  type TestFunction,
  type TestSelection,
} from "./runtime/test_discovery.ts";
export {
  findPanicMessage,
  InProcessLane,
  listTests,
  runTests,
  type TestGuestOptions,
  type TestLane,
  type TestResult,
  testRootConfig,
  type TestRunOptions,
  type TestRunSummary,
} from "./runtime/test_runner.ts";
export { type WorkerGuestOptions, WorkerLane } from "./runtime/test_worker_lane.ts";

/** Every host namespace this runtime provides, in the order they are linked. */
export const defaultNamespaces: readonly HostNamespace<never>[] = [
  errorNamespace,
  messageNamespace,
  processNamespace,
  registryNamespace,
  timerNamespace,
  trapNamespace,
  versionNamespace,
  distributedNamespace,
  hotNamespace,
  lunaticWasiNamespace,
  metricsNamespace,
  networkingNamespace,
  sqliteNamespace,
  wasiNamespace,
];

/**
 * `count` test lanes on worker threads, each with a runtime of its own (the default host
 * namespaces) that has loaded `module`: pass them as `lanes` to {@link runTests} so that tests
 * run `count` at a time, each on a thread of its own. `logLevel` is the workers' log level.
 */
export function workerLanes(
  count: number,
  module: LunaticModule,
  options: WorkerGuestOptions = {},
  logLevel?: string,
): Promise<TestLane[]> {
  const entry = new URL("./test_worker.ts", import.meta.url);
  const init = { bytes: module.bytes, displayName: module.displayName, options, logLevel };
  return Promise.all(Array.from({ length: count }, () => WorkerLane.start(entry, init)));
}

/** Options for a root process. */
export interface RootOptions extends GuestView {
  /** Guest arguments after argv[0] (argv[0] is the module's file name). */
  args?: string[];
  /** Standard streams; defaults to the host's. */
  stdio?: Partial<Stdio>;
  /** Entry export; defaults to `_start`. */
  entry?: string;
  /** Entry arguments (i32 as number, i64 as bigint). */
  entryArgs?: EntryArgument[];
  /**
   * The ID the root's environment reports (`environment_id`); defaults to 1, as
   * `lunatic run`. Every root gets a fresh environment whatever its ID: its own process IDs
   * (the root is PID 1) and its own registry.
   */
  environmentId?: number;
  /**
   * Host namespaces the root may call, as prefixes of `module::function` (for example
   * `wasi_snapshot_preview1::fd_` or `lunatic::message::`). Default: everything. A call
   * outside them fails the process with `permission denied: <module>::<function>`; the
   * processes it spawns can never be allowed more.
   */
  allow?: string[];
  /**
   * The root's memory limit in bytes (`max_memory` of its config); default lunatic's, 4 GiB
   * less one byte. Configs the root creates start with it and can only lower it.
   */
  maxMemory?: bigint;
}

/** How a root process ended, and the exit code `lunatic run` gives for it. */
export interface RunResult {
  outcome: ProcessOutcome;
  exitCode: number;
}

/** Exit code for a trap or kill (128 + SIGABRT, as wasmtime uses for traps). */
export const TRAP_EXIT_CODE = 134;

/** Exit code when the root was ended for a deadlock (as for a module that cannot load). */
export const DEADLOCK_EXIT_CODE = 1;

/**
 * Why a deadlocked root was ended: every process of its environment waited for a message
 * that nothing could send.
 */
export const DEADLOCK_REASON = "deadlock: every process is waiting for a message that " +
  "nothing can send (no timer or I/O is pending)";

/**
 * The exit code for an outcome: 0, the `proc_exit` code, {@link DEADLOCK_EXIT_CODE} or
 * {@link TRAP_EXIT_CODE}.
 */
export function exitCodeOf(outcome: ProcessOutcome): number {
  if (outcome.kind === "normal") return 0;
  if (outcome.deadlock) return DEADLOCK_EXIT_CODE;
  return outcome.exitCode ?? TRAP_EXIT_CODE;
}

/**
 * What `lunatic run` says on stderr about a root that failed, or null for one that ended
 * normally or by a deliberate `exit(n)` (its exit code says it).
 */
export function rootFailureMessage(outcome: ProcessOutcome): string | null {
  if (outcome.kind === "normal" || outcome.exitCode !== undefined) return null;
  if (outcome.deadlock) return `Error: ${outcome.reason}`;
  const backtrace = outcome.backtrace ? `\nwasm backtrace:\n${outcome.backtrace}` : "";
  return `Error: the root process (1) failed: ${outcome.reason}${backtrace}`;
}

/** A module's bytes from its file; a {@link LunaticError} names a missing or unreadable one. */
export async function readModuleFile(path: string | URL): Promise<Uint8Array> {
  try {
    return await Deno.readFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) throw new LunaticError(`Module '${path}' not found`);
    throw new LunaticError(`cannot read module '${path}': ${(error as Error).message}`);
  }
}

/** Options for {@link Lunatic}. */
export interface LunaticOptions {
  /** The host namespaces guests can import; default {@link defaultNamespaces}. */
  namespaces?: readonly HostNamespace<never>[];
  /** Limits on how many processes the runtime may hold (default: what the OS allows). */
  capacity?: CapacityLimits;
  /**
   * Where reports of failed processes go (every process but roots, whose outcome their
   * spawner gets): one call per report, a failure with its backtrace or the summary of a
   * burst of alike failures. Default: the `lunatic` log at warning level.
   */
  failureReports?: FailureSink;
  /**
   * TCP listeners share their port with other runtimes' listeners on the same address
   * (SO_REUSEPORT; the kernel spreads new connections among them), as the instances of
   * `lunatic run --parallel` do. Needs Deno's `--unstable-net`. Default: false, where a
   * second bind of an address fails as in lunatic.
   */
  shareListeningPorts?: boolean;
}

/** An embedded lunatic runtime. */
export class Lunatic {
  readonly runtime: Runtime;

  constructor(options: LunaticOptions = {}) {
    setupLogging();
    Error.stackTraceLimit = Math.max(Error.stackTraceLimit, 64);
    this.runtime = new Runtime(
      options.namespaces ?? defaultNamespaces,
      options.capacity,
      options.failureReports,
    );
    this.runtime.sharesListeningPorts = options.shareListeningPorts ?? false;
  }

  /**
   * Loads and validates a module from a path or bytes. Throws a {@link LunaticError} naming
   * what is wrong (file missing, malformed wasm, an unknown import).
   */
  async load(source: string | URL | Uint8Array, name?: string): Promise<LunaticModule> {
    const bytes = source instanceof Uint8Array ? source : await readModuleFile(source);
    const displayName = name ??
      (source instanceof Uint8Array ? "module.wasm" : basename(String(source)));
    const module = await this.runtime.modules.loadAndCompile(bytes, displayName, 65_535);
    // A module loaded from a path can get new versions (reload).
    if (!(source instanceof Uint8Array) && module.lineage === null) new ModuleLineage(module);
    return module;
  }

  /**
   * Loads `bytes` as the next version of `module`'s lineage (hot code upgrade,
   * runtime/hot.ts): processes subscribed with `lunatic::hot::subscribe` are told, and move to
   * it with `lunatic::hot::upgrade`. Throws a {@link LunaticError} for bytes that do not
   * validate or lack an export a running process started from. A third version purges the
   * first: `onPurge` hears of the processes about to be killed (`code purged`).
   */
  async reload(
    module: LunaticModule,
    bytes: Uint8Array,
    onPurge?: (victims: Versioned[]) => void,
  ): Promise<LunaticModule> {
    const lineage = module.lineage ?? new ModuleLineage(module);
    const next = await this.runtime.modules.loadAndCompile(bytes, module.displayName, 65_535);
    lineage.addVersion(this.runtime, next, onPurge);
    return next;
  }

  /** The root config lunatic gives `lunatic run` (spec §4.1). */
  rootConfig(module: LunaticModule, options: RootOptions = {}): ProcessConfig {
    return new ProcessConfig({
      canCompileModules: true,
      canCreateConfigs: true,
      canSpawnProcesses: true,
      args: [module.displayName, ...(options.args ?? [])],
      ...rootView(options),
      allowedNamespaces: options.allow ?? null,
      maxMemory: options.maxMemory,
    });
  }

  /**
   * Spawns a root process (PID 1 in a fresh environment) without waiting for it. Throws a
   * {@link LunaticError} when the module cannot run as a root: no entry export of the right
   * type, no exported memory, a preopen that does not exist.
   *
   * If every process of the root's environment comes to wait for a message that nothing can
   * send (no timeout, no timer, no I/O), they are all killed, and the root's outcome is a
   * failure with `deadlock: true` ({@link DEADLOCK_REASON}).
   */
  spawnRoot(
    module: LunaticModule,
    options: RootOptions = {},
    config: ProcessConfig = this.rootConfig(module, options),
  ): Process {
    const entry = options.entry ?? "_start";
    const args = options.entryArgs ?? [];
    const problem = module.checkEntry(entry, args);
    if (problem !== null) throw new LunaticError(`cannot run ${module.displayName}: ${problem}`);
    if (!module.exportsMemory) {
      throw new LunaticError(
        `cannot run ${module.displayName}: it does not export its memory as "memory"`,
      );
    }
    const environment: Environment = this.runtime.newEnvironment(options.environmentId ?? 1);
    const stdio = { ...hostStdio(), ...options.stdio };
    module.prepare(config);
    const root = this.runtime.spawn({
      environment,
      module,
      config,
      entry,
      args,
      stdio,
      root: true,
    });
    environment.onDeadlock = () => {
      if (!root.alive) return; // processes the root left behind may wait as long as they like
      root.killForDeadlock(DEADLOCK_REASON);
      for (const process of [...environment.processes.values()]) {
        process.killForDeadlock(DEADLOCK_REASON);
      }
    };
    return root;
  }

  /**
   * Loads a module, runs it as the root process of a fresh environment and waits for that
   * process to end (or for a deadlock, see {@link spawnRoot}).
   */
  async run(source: string | URL | Uint8Array, options: RootOptions = {}): Promise<RunResult> {
    const module = await this.load(source);
    const root = this.spawnRoot(module, options);
    const outcome = await root.exited;
    return { outcome, exitCode: exitCodeOf(outcome) };
  }
}
