/**
 * lunatic for Deno: an Erlang-inspired runtime for WebAssembly.
 *
 * Run a `wasm32-wasi` program built against the lunatic host ABI (0.13.2):
 *
 * ```ts
 * import { Lunatic } from "./mod.ts";
 * const lunatic = new Lunatic();
 * const result = await lunatic.run("app.wasm", { args: ["--verbose"] });
 * console.log(result.exitCode);
 * ```
 *
 * @module
 */
import { basename } from "node:path";
import { distributedNamespace } from "./host/distributed.ts";
import { errorNamespace } from "./host/error.ts";
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
import { ProcessConfig } from "./runtime/config.ts";
import type { Environment } from "./runtime/environment.ts";
import { LunaticError } from "./runtime/errors.ts";
import type { HostNamespace } from "./runtime/host_api.ts";
import { setupLogging } from "./runtime/log.ts";
import type { LunaticModule } from "./runtime/module.ts";
import type { EntryArgument, Process, ProcessOutcome } from "./runtime/process.ts";
import { Runtime } from "./runtime/runtime.ts";
import { hostStdio, type Stdio } from "./runtime/stdio.ts";

export type { CapacityLimits } from "./runtime/capacity.ts";
export { ProcessConfig } from "./runtime/config.ts";
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
  listTests,
  runTests,
  type TestResult,
  testRootConfig,
  type TestRunOptions,
  type TestRunSummary,
} from "./runtime/test_runner.ts";

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
  lunaticWasiNamespace,
  metricsNamespace,
  networkingNamespace,
  sqliteNamespace,
  wasiNamespace,
];

/** Options for a root process. */
export interface RootOptions {
  /** Guest arguments after argv[0] (argv[0] is the module's file name). */
  args?: string[];
  /** Environment variables; defaults to the host's whole environment, as lunatic does. */
  env?: Record<string, string>;
  /** Extra preopened directories (`"."` is always preopened, as in lunatic). */
  dirs?: string[];
  /** Standard streams; defaults to the host's. */
  stdio?: Partial<Stdio>;
  /** Entry export; defaults to `_start`. */
  entry?: string;
  /** Entry arguments (i32 as number, i64 as bigint). */
  entryArgs?: EntryArgument[];
  /** Environment ID; defaults to 1, as `lunatic run`. */
  environmentId?: number;
  /**
   * Host namespaces the root may call, as prefixes of `module::function` (for example
   * `wasi_snapshot_preview1::fd_` or `lunatic::message::`). Default: everything. A call
   * outside them fails the process with `permission denied: <module>::<function>`; the
   * processes it spawns can never be allowed more.
   */
  allow?: string[];
}

/** How a root process ended, and the exit code `lunatic run` gives for it. */
export interface RunResult {
  outcome: ProcessOutcome;
  exitCode: number;
}

/** Exit code for a trap or kill (128 + SIGABRT, as wasmtime uses for traps). */
export const TRAP_EXIT_CODE = 134;

/** The exit code for an outcome: 0, the `proc_exit` code, or {@link TRAP_EXIT_CODE}. */
export function exitCodeOf(outcome: ProcessOutcome): number {
  if (outcome.kind === "normal") return 0;
  return outcome.exitCode ?? TRAP_EXIT_CODE;
}

/** An embedded lunatic runtime. */
export class Lunatic {
  readonly runtime: Runtime;

  constructor(
    options: { namespaces?: readonly HostNamespace<never>[]; capacity?: CapacityLimits } = {},
  ) {
    setupLogging();
    Error.stackTraceLimit = Math.max(Error.stackTraceLimit, 64);
    this.runtime = new Runtime(options.namespaces ?? defaultNamespaces, options.capacity);
  }

  /**
   * Loads and validates a module from a path or bytes. Throws a {@link LunaticError} naming
   * what is wrong (file missing, malformed wasm, an unknown import).
   */
  async load(source: string | URL | Uint8Array, name?: string): Promise<LunaticModule> {
    let bytes: Uint8Array;
    if (source instanceof Uint8Array) {
      bytes = source;
    } else {
      try {
        bytes = await Deno.readFile(source);
      } catch (error) {
        if (error instanceof Deno.errors.NotFound) {
          throw new LunaticError(`Module '${source}' not found`);
        }
        throw new LunaticError(`cannot read module '${source}': ${(error as Error).message}`);
      }
    }
    const displayName = name ??
      (source instanceof Uint8Array ? "module.wasm" : basename(String(source)));
    return await this.runtime.modules.loadAndCompile(bytes, displayName, 65_535);
  }

  /** The root config lunatic gives `lunatic run` (spec §4.1). */
  rootConfig(module: LunaticModule, options: RootOptions = {}): ProcessConfig {
    return new ProcessConfig({
      canCompileModules: true,
      canCreateConfigs: true,
      canSpawnProcesses: true,
      args: [module.displayName, ...(options.args ?? [])],
      env: Object.entries(options.env ?? Deno.env.toObject()),
      preopenedDirs: [".", ...(options.dirs ?? [])],
      allowedNamespaces: options.allow ?? null,
    });
  }

  /** Spawns a root process (PID 1 in a fresh environment) without waiting for it. */
  spawnRoot(
    module: LunaticModule,
    options: RootOptions = {},
    config = this.rootConfig(module, options),
  ): Process {
    const environment: Environment = this.runtime.environment(options.environmentId ?? 1);
    const stdio = { ...hostStdio(), ...options.stdio };
    module.prepare(config);
    return this.runtime.spawn({
      environment,
      module,
      config,
      entry: options.entry ?? "_start",
      args: options.entryArgs ?? [],
      stdio,
    });
  }

  /** Loads a module, runs it as the root process and waits for that process to end. */
  async run(source: string | URL | Uint8Array, options: RootOptions = {}): Promise<RunResult> {
    const module = await this.load(source);
    const root = this.spawnRoot(module, options);
    const outcome = await root.exited;
    return { outcome, exitCode: exitCodeOf(outcome) };
  }
}
