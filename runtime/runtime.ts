import type { ProcessConfig } from "./config.ts";
import { Capacity, type CapacityLimits } from "./capacity.ts";
import { Environment, type ProcessEndpoint } from "./environment.ts";
import { LunaticError } from "./errors.ts";
import { FailureLog, type FailureSink } from "./failure_log.ts";
import type { HostNamespace } from "./host_api.ts";
import { logger } from "./log.ts";
import { MemoryPool } from "./memory_pool.ts";
import { HostRegistry, type LunaticModule, ModuleLoader } from "./module.ts";
import { type EntryArgument, Process, type ProcessOutcome } from "./process.ts";
import { Scheduler } from "./scheduler.ts";
import type { ClusterNode } from "./distributed/node.ts";
import { MetricsRegistry } from "./metrics.ts";
import { RuntimeStats } from "./runtime_stats.ts";
import type { Stdio } from "./stdio.ts";

const log = logger("process");

/** What a spawn needs: where, what, with which config, and an optional link to the parent. */
export interface SpawnRequest {
  environment: Environment;
  module: LunaticModule;
  config: ProcessConfig;
  /** Name of the exported entry function. */
  entry: string;
  args: EntryArgument[];
  stdio: Stdio;
  /** Link the child to `parent`; the child stores `tag`, the parent stores no tag (§2.3). */
  link?: { parent: Process; tag: bigint };
  /** A root process (of `lunatic run`, a test, an embedder): its failure is not logged. */
  root?: boolean;
}

/** Observes process ends (see {@link Runtime.onProcessExit}). */
export type ExitListener = (process: ProcessEndpoint, outcome: ProcessOutcome) => void;

/**
 * One runtime: the scheduler, the module loader with its host functions, and the
 * environments with their processes.
 */
export class Runtime {
  readonly scheduler: Scheduler = new Scheduler();
  readonly capacity: Capacity;
  /** Zeroed memories of ended processes, for new ones with the same limits. */
  readonly memories: MemoryPool = new MemoryPool();
  readonly modules: ModuleLoader;
  readonly #exitListeners = new Set<ExitListener>();
  /**
   * Reports of failed processes (roots excepted), bursts of alike failures summarised; to
   * the log at warning level unless its sink is replaced.
   */
  readonly failures: FailureLog;
  /** Every process alive, wasm and native. */
  readonly live: Set<ProcessEndpoint> = new Set();
  /** What the runtime's own metrics count (runtime_metrics.ts). */
  readonly stats: RuntimeStats = new RuntimeStats();
  /** Guests' `lunatic::metrics`. */
  readonly metrics: MetricsRegistry = new MetricsRegistry();
  /** This runtime's place in a cluster (`lunatic node`), or null when it is on its own. */
  node: ClusterNode | null = null;
  /**
   * Whether TCP listeners share their port with other isolates' listeners on the same
   * address (SO_REUSEPORT: the kernel spreads new connections among them). Only the
   * instances of `lunatic run --parallel` do; otherwise a second bind fails, as in lunatic.
   */
  sharesListeningPorts = false;

  constructor(
    namespaces: readonly HostNamespace<never>[],
    limits: CapacityLimits = {},
    failureSink?: FailureSink,
  ) {
    this.modules = new ModuleLoader(new HostRegistry(namespaces));
    this.capacity = new Capacity(limits);
    this.failures = failureSink === undefined
      ? new FailureLog((report) => log.warn(report), () => log.isEnabledFor("warning"))
      : new FailureLog(failureSink);
  }

  /**
   * A new environment (spec §2.1): its own process IDs from 1 and its own registry. Each root
   * process gets one, and test mode gives one to each test; several may share an ID.
   */
  newEnvironment(id: number): Environment {
    return new Environment(id);
  }

  /**
   * Creates, instantiates and starts a process. Throws a LunaticError when it cannot be
   * created (a missing preopen, memory limits, instantiation failure); the process ID is
   * consumed either way.
   */
  spawn(request: SpawnRequest): Process {
    const { environment, module, config } = request;
    const id = environment.allocateProcessId();
    module.prepare(config);
    const maxPages = config.maxMemoryPages;
    const compiled = module.compiled(maxPages);
    const memoryLimits = module.importedMemory(maxPages);
    const charge = this.capacity.charge(maxPages);
    const process = new Process(this, environment, id, module, config, request.stdio, charge);
    process.isRoot = request.root ?? false;
    try {
      process.instantiate(module, compiled, memoryLimits);
    } catch (error) {
      this.capacity.release(charge);
      this.stats.spawnFailed(error instanceof Error ? error.message : String(error));
      throw new LunaticError(
        `failed to instantiate ${module.displayName}: ${
          error instanceof Error ? error.message : String(error)
        }`,
      );
    }
    environment.processes.set(id, process);
    this.live.add(process);
    this.stats.spawned(environment.id);
    if (request.link !== undefined) {
      const { parent, tag } = request.link;
      parent.addLink(id, 0n);
      process.addLink(parent.id, tag);
    }
    process.start(request.entry, request.args);
    return process;
  }

  /**
   * Calls `listener` whenever a process ends (after its links and monitors were notified).
   * Returns a function that removes the listener.
   */
  onProcessExit(listener: ExitListener): () => void {
    this.#exitListeners.add(listener);
    return () => this.#exitListeners.delete(listener);
  }

  /** Tells the exit listeners that `process` (wasm or native) ended. */
  notifyProcessEnded(process: ProcessEndpoint, outcome: ProcessOutcome): void {
    this.live.delete(process);
    this.stats.ended(process, outcome);
    for (const listener of this.#exitListeners) {
      try {
        listener(process, outcome);
      } catch (error) {
        // An embedder's listener must not stop the runtime from finishing the process.
        log.error(`an exit listener threw: ${error instanceof Error ? error.stack : error}`);
      }
    }
  }

  /** Called by a process once it has ended and notified its links. */
  processEnded(process: Process, outcome: ProcessOutcome, linkCount: number): void {
    this.capacity.release(process.charge);
    this.notifyProcessEnded(process, outcome);
    // Normal ends are not logged: it costs ~2% of a short-lived process even when disabled.
    if (outcome.kind === "normal") return;
    const name = registeredName(process) ?? String(process.id);
    if (outcome.exitCode !== undefined) {
      // A deliberate exit(n): links see a failure, but it is not an error worth a warning.
      log.info(
        `Process ${name} exited with code ${outcome.exitCode}, notifying: ${linkCount} links`,
      );
      return;
    }
    if (process.isRoot) return;
    this.failures.failed({
      name,
      reason: outcome.reason,
      linkCount,
      backtrace: () => outcome.backtrace,
    });
  }
}

/** The last `/`-separated segment of a registry name for the process, as lunatic prints it. */
function registeredName(process: Process): string | null {
  for (const [name, entry] of process.environment.registry) {
    if (entry.processId === BigInt(process.id)) return name.split("/").pop() ?? name;
  }
  return null;
}
