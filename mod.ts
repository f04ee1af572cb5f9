/**
 * lunatic for Deno: an Erlang-inspired runtime for WebAssembly, embedded in a TypeScript
 * program. Guests are `wasm32-wasi` programs built against lunatic's host ABI (0.13.2, e.g.
 * with the `lunatic` Rust crate 0.14); each process is an isolated instance with its own
 * memory, preemptively scheduled, talking to others only by messages.
 *
 * The API follows lunatic's embedding crate (`lunatic_runtime`): environments made from a
 * config, wasm processes spawned in them, processes written in TypeScript beside them, links,
 * monitors and a registry that guests share.
 *
 * ```ts
 * import { EnvConfig, lunatic } from "./mod.ts";
 *
 * const environment = lunatic.createEnvironment(new EnvConfig({ maxMemory: 64 * 1024 * 1024 }));
 * const module = await lunatic.load("app.wasm");
 * const guest = environment.spawn(module);
 * const outcome = await guest.exited;
 * console.log(outcome.kind); // "normal" or "failure"
 * ```
 *
 * @module
 */
import { Lunatic } from "./lunatic.ts";
import { ProcessConfig } from "./runtime/config.ts";
import type { Environment as RuntimeEnvironment } from "./runtime/environment.ts";
import { LunaticError } from "./runtime/errors.ts";
import { hostEnvironment } from "./runtime/host_env.ts";
import type { LunaticModule } from "./runtime/module.ts";
import {
  NativeProcess as RuntimeNativeProcess,
  NativeProcessKilled,
} from "./runtime/native_process.ts";
import { DataMessage, ProcessDiedMessage } from "./runtime/message.ts";
import type { Process as RuntimeProcess, ProcessOutcome } from "./runtime/process.ts";
import {
  BufferInput,
  EMPTY_INPUT,
  hostStdio,
  type OutputSink,
  type Stdio,
} from "./runtime/stdio.ts";

export { LunaticError, NativeProcessKilled };
export type { ProcessOutcome };

/**
 * What processes of an environment may do and see; a spawn may give one of its own.
 * Numbers may be given as `number` or `bigint`.
 *
 * @example
 * ```ts
 * const config = new EnvConfig({ maxMemory: 16 * 1024 * 1024, dirs: ["./data"], allow: ["wasi_snapshot_preview1::"] });
 * ```
 */
export interface EnvConfigInit {
  /** Linear memory limit in bytes (default lunatic's: just under 4 GiB). */
  maxMemory?: number | bigint;
  /** Fuel limit in units of 100,000 instructions (default: unlimited). */
  maxFuel?: number | bigint;
  /**
   * Host functions allowed, as prefixes of `module::function`
   * (e.g. `"lunatic::message::"`); default: all.
   */
  allow?: string[];
  /** Host directories to preopen: a path (seen under the same name) or `{ host, guest }`. */
  dirs?: (string | { host: string; guest: string })[];
  /** Environment variables (default: the host's, as `lunatic run` gives them). */
  env?: Record<string, string>;
  /** Guest arguments after argv[0] (argv[0] is the module's name). */
  args?: string[];
  /** May spawn processes (default true, as `lunatic run`'s root). */
  canSpawnProcesses?: boolean;
  /** May compile modules (default true). */
  canCompileModules?: boolean;
  /** May create configs (default true). */
  canCreateConfigs?: boolean;
}

/**
 * A process config, as lunatic's `EnvConfig`: limits, permissions and what the guest sees.
 *
 * @example
 * ```ts
 * const config = new EnvConfig({ maxFuel: 10_000, canSpawnProcesses: false });
 * const environment = lunatic.createEnvironment(config);
 * ```
 */
export class EnvConfig {
  /** Linear memory limit in bytes. */
  readonly maxMemory: bigint;
  /** Fuel limit in units of 100,000 instructions; 0 means unlimited. */
  readonly maxFuel: bigint;
  /** Allowed host-function prefixes, or null for all. */
  readonly allow: readonly string[] | null;
  /** Preopened directories. */
  readonly dirs: readonly { host: string; guest: string }[];
  /** Environment variables the guest sees. */
  readonly env: Readonly<Record<string, string>>;
  /** Guest arguments after argv[0]. */
  readonly args: readonly string[];
  /** Whether its processes may spawn processes. */
  readonly canSpawnProcesses: boolean;
  /** Whether its processes may compile modules. */
  readonly canCompileModules: boolean;
  /** Whether its processes may create configs. */
  readonly canCreateConfigs: boolean;

  /** A config from `init`; what it leaves out takes the defaults {@link EnvConfigInit} names. */
  constructor(init: EnvConfigInit = {}) {
    const defaults = new ProcessConfig();
    this.maxMemory = BigInt(init.maxMemory ?? defaults.maxMemory);
    this.maxFuel = BigInt(init.maxFuel ?? 0);
    if (this.maxMemory < 0n || this.maxFuel < 0n) {
      throw new LunaticError("maxMemory and maxFuel must not be negative");
    }
    this.allow = init.allow === undefined ? null : [...init.allow];
    this.dirs = (init.dirs ?? []).map((dir) =>
      typeof dir === "string" ? { host: dir, guest: dir } : { host: dir.host, guest: dir.guest }
    );
    this.env = { ...(init.env ?? hostEnvironment()) };
    this.args = [...(init.args ?? [])];
    this.canSpawnProcesses = init.canSpawnProcesses ?? true;
    this.canCompileModules = init.canCompileModules ?? true;
    this.canCreateConfigs = init.canCreateConfigs ?? true;
  }

  /** The runtime's config for a process of `module`. */
  #forModule(module: Module): ProcessConfig {
    return new ProcessConfig({
      maxMemory: this.maxMemory,
      maxFuel: this.maxFuel,
      canCompileModules: this.canCompileModules,
      canCreateConfigs: this.canCreateConfigs,
      canSpawnProcesses: this.canSpawnProcesses,
      preopenedDirs: [...this.dirs],
      args: [module.name, ...this.args],
      env: Object.entries(this.env),
      allowedNamespaces: this.allow === null ? null : [...this.allow],
    });
  }

  /** @ignore The runtime config (used by Environment.spawn). */
  static toProcessConfig(config: EnvConfig, module: Module): ProcessConfig {
    return config.#forModule(module);
  }
}

/**
 * A compiled WebAssembly module, ready to spawn processes from ({@link lunatic.load}).
 *
 * @example
 * ```ts
 * const module = await lunatic.load("app.wasm");
 * console.log(module.name); // "app.wasm"
 * ```
 */
export class Module {
  readonly #module: LunaticModule;

  private constructor(module: LunaticModule) {
    this.#module = module;
  }

  /** The module's file name (argv[0] of its processes). */
  get name(): string {
    return this.#module.displayName;
  }

  /** Its version: 1, then 2, 3, ... for each {@link lunatic.reload} of it. */
  get version(): number {
    return this.#module.version;
  }

  /** The names of the module's exported functions. */
  get exports(): string[] {
    return this.#module.info.exports.filter((entry) => entry.kind === "func").map((e) => e.name);
  }

  /** @ignore */
  static wrap(module: LunaticModule): Module {
    return new Module(module);
  }

  /** @ignore */
  static unwrap(module: Module): LunaticModule {
    return module.#module;
  }
}

/**
 * What a native process receives: a message (its tag and bytes), the end of a linked process
 * (when it does not die with it), the end of a monitored one, or a timeout.
 *
 * @example
 * ```ts
 * const signal = await self.receive({ timeoutMs: 100 });
 * if (signal.kind === "data") console.log(new TextDecoder().decode(signal.data));
 * ```
 */
export type Signal =
  | { kind: "data"; tag: bigint; data: Uint8Array }
  | { kind: "link_died"; tag: bigint; processId: bigint }
  | { kind: "process_died"; processId: bigint }
  | { kind: "timeout" };

/**
 * Options of {@link Process.send}.
 *
 * @example
 * ```ts
 * guest.send(new TextEncoder().encode("ping"), { tag: 1n });
 * ```
 */
export interface SendOptions {
  /** The message's tag (default 0: untagged), for selective receive. */
  tag?: bigint;
}

/**
 * A process of an environment, wasm or native: it has an ID guests can address, takes
 * messages, can be killed, linked and monitored.
 *
 * @example
 * ```ts
 * function greet(process: Process) {
 *   process.send(new TextEncoder().encode("hello"), { tag: 1n });
 * }
 * ```
 */
export interface Process {
  /** Its process ID in its environment (from 1). */
  readonly id: bigint;
  /** Its environment's ID. */
  readonly environmentId: bigint;
  /** Sends it a data message. Nothing happens if it has ended. */
  send(data: Uint8Array, options?: SendOptions): void;
  /** Ends it (its outcome: a failure, `killed`). */
  kill(): void;
  /**
   * Links it with `other` (same environment): when one fails, the other fails too, or hears of
   * it as a `link_died` signal with `tag`.
   */
  link(other: Process, tag?: bigint): void;
  /** Removes a link made with {@link link}. */
  unlink(other: Process): void;
  /** This process is told (`process_died`) when `other` ends. */
  monitor(other: Process): void;
  /** Resolves with the outcome once it has ended and its links and monitors were told. */
  readonly exited: Promise<ProcessOutcome>;
}

/** The runtime endpoint behind a public process. */
const endpoints = new WeakMap<Process, RuntimeProcess | RuntimeNativeProcess>();

function endpointOf(process: Process): RuntimeProcess | RuntimeNativeProcess {
  const endpoint = endpoints.get(process);
  if (endpoint === undefined) throw new LunaticError("not a process of this runtime");
  return endpoint;
}

function sameEnvironment(a: Process, b: Process): void {
  if (
    a.environmentId !== b.environmentId || endpointOf(a).environment !== endpointOf(b).environment
  ) {
    throw new LunaticError(`processes ${a.id} and ${b.id} are in different environments`);
  }
}

function dataMessage(data: Uint8Array, tag: bigint): DataMessage {
  const message = new DataMessage(tag, data.length);
  message.write(data);
  return message;
}

/**
 * What {@link WasmProcess} and {@link NativeProcess} share: the {@link Process} calls.
 *
 * @example
 * ```ts
 * function stop(process: ProcessBase) {
 *   process.kill();
 * }
 * ```
 */
export abstract class ProcessBase implements Process {
  /** Its process ID in its environment (from 1). */
  readonly id: bigint;
  /** Its environment's ID. */
  readonly environmentId: bigint;

  /** @ignore */
  constructor(endpoint: RuntimeProcess | RuntimeNativeProcess) {
    this.id = BigInt(endpoint.id);
    this.environmentId = BigInt(endpoint.environment.id);
    endpoints.set(this, endpoint);
  }

  /** Sends it a data message. Nothing happens if it has ended. */
  send(data: Uint8Array, options: SendOptions = {}): void {
    endpointOf(this).deliver(dataMessage(data, options.tag ?? 0n));
  }

  /** Ends it (its outcome: a failure, `killed`). */
  kill(): void {
    endpointOf(this).kill();
  }

  /** Links it with `other`; both store `tag` (default 0). */
  link(other: Process, tag = 0n): void {
    sameEnvironment(this, other);
    const [a, b] = [endpointOf(this), endpointOf(other)];
    if (a === b) return;
    if (!b.alive) {
      a.linkDied(b.id, tag, "no_process");
      return;
    }
    a.addLink(b.id, tag);
    b.addLink(a.id, tag);
  }

  /** Removes a link made with {@link link}. */
  unlink(other: Process): void {
    sameEnvironment(this, other);
    endpointOf(this).removeLink(endpointOf(other).id);
    endpointOf(other).removeLink(endpointOf(this).id);
  }

  /** This process is told (`process_died`) when `other` ends (at once if it has). */
  monitor(other: Process): void {
    sameEnvironment(this, other);
    const target = endpointOf(other);
    const self = endpointOf(this);
    if (target.alive) target.addMonitor(self.id);
    else self.deliver(new ProcessDiedMessage(BigInt(target.id)));
  }

  /** Resolves with the outcome once it has ended and its links and monitors were told. */
  abstract readonly exited: Promise<ProcessOutcome>;
}

/**
 * A process running a wasm module ({@link Environment.spawn}).
 *
 * @example
 * ```ts
 * const guest = environment.spawn(module, { entry: "_start" });
 * guest.send(new TextEncoder().encode("work"), { tag: 7n });
 * console.log(await guest.exited);
 * ```
 */
export class WasmProcess extends ProcessBase {
  /** Resolves with the outcome once it has ended and its links and monitors were told. */
  readonly exited: Promise<ProcessOutcome>;

  /** @ignore */
  constructor(process: RuntimeProcess) {
    super(process);
    this.exited = process.exited;
  }
}

/**
 * Options of {@link NativeProcess.receive}.
 *
 * @example
 * ```ts
 * const reply = await self.receive({ tags: [2n], timeoutMs: 1_000 });
 * if (reply.kind === "timeout") console.log("no answer");
 * ```
 */
export interface ReceiveOptions {
  /** Only messages (and link deaths) with one of these tags; default: anything. */
  tags?: bigint[];
  /** Give up after this many milliseconds with `{ kind: "timeout" }`; default: wait forever. */
  timeoutMs?: number;
}

/**
 * A process written in TypeScript ({@link Environment.spawnNative}): guests can message it,
 * link to it, monitor it and find it in the registry. Its body's rejection is its failure.
 *
 * @example
 * ```ts
 * const echo = environment.spawnNative(async (self) => {
 *   const signal = await self.receive();
 *   if (signal.kind === "data") guest.send(signal.data, { tag: signal.tag });
 * });
 * ```
 */
export class NativeProcess extends ProcessBase {
  readonly #process: RuntimeNativeProcess;
  /** Resolves with the outcome once it has ended and its links and monitors were told. */
  readonly exited: Promise<ProcessOutcome>;

  /** @ignore */
  constructor(process: RuntimeNativeProcess) {
    super(process);
    this.#process = process;
    this.exited = process.exited;
  }

  /**
   * The next signal for this process (in arrival order among those that match `tags`).
   * Rejects with {@link NativeProcessKilled} once the process has been ended.
   */
  receive(options: ReceiveOptions = {}): Promise<Signal> {
    return this.#process.receive(options.tags ?? null, options.timeoutMs ?? null);
  }

  /**
   * Whether a failed link ends this process (true, the default) or arrives as a `link_died`
   * signal.
   */
  dieWhenLinkDies(on: boolean): void {
    this.#process.dieWhenLinkDies = on;
  }
}

/**
 * Options of {@link Environment.spawn}.
 *
 * @example
 * ```ts
 * const chunks: Uint8Array[] = [];
 * environment.spawn(module, {
 *   entry: "worker",
 *   entryArgs: [42n],
 *   stdio: { stdin: "input\n", stdout: (bytes) => chunks.push(bytes) },
 *   config: new EnvConfig({ maxFuel: 1_000 }),
 * });
 * ```
 */
export interface SpawnOptions {
  /** The exported function to run (default `_start`). */
  entry?: string;
  /** Its i32 (number) and i64 (bigint) arguments. */
  entryArgs?: (number | bigint)[];
  /** Standard streams; default the host's. */
  stdio?: {
    /** What the guest reads on stdin (default: nothing, end of file). */
    stdin?: string | Uint8Array;
    /** Receives what it writes to stdout (default: this program's stdout). */
    stdout?: (bytes: Uint8Array) => void;
    /** Receives what it writes to stderr (default: this program's stderr). */
    stderr?: (bytes: Uint8Array) => void;
  };
  /** The process's config (default the environment's). */
  config?: EnvConfig;
}

/**
 * The registry of named processes, shared by an environment's guests
 * (`lunatic::registry`) and its TypeScript.
 *
 * @example
 * ```ts
 * environment.registry.put("logger", logger);
 * const id = environment.registry.get("logger"); // logger.id
 * ```
 */
export class Registry {
  readonly #environment: RuntimeEnvironment;

  /** @ignore */
  constructor(environment: RuntimeEnvironment) {
    this.#environment = environment;
  }

  /**
   * Registers `process` under `name` (replacing what was there). The process must belong to
   * this registry's environment: a name here would otherwise lead its guests to whatever
   * process has that ID in theirs.
   */
  put(name: string, process: Process): void {
    if (endpointOf(process).environment !== this.#environment) {
      throw new LunaticError(
        `process ${process.id} is in environment ${process.environmentId}, ` +
          `not in this registry's (${this.#environment.id})`,
      );
    }
    this.#environment.registry.set(name, { nodeId: 0n, processId: process.id });
  }

  /** The ID of the process registered under `name`. */
  get(name: string): bigint | undefined {
    return this.#environment.registry.get(name)?.processId;
  }

  /** Removes `name` (nothing happens if it is not registered). */
  remove(name: string): void {
    this.#environment.registry.delete(name);
  }
}

/**
 * A namespace of processes (lunatic's environment): its own process IDs from 1, its own
 * registry, a default config.
 *
 * @example
 * ```ts
 * const environment = lunatic.createEnvironment();
 * const guest = environment.spawn(await lunatic.load("app.wasm"));
 * const watcher = environment.spawnNative(async (self) => {
 *   self.monitor(guest);
 *   console.log(await self.receive()); // { kind: "process_died", processId: 1n }
 * });
 * ```
 */
export class Environment {
  readonly #environment: RuntimeEnvironment;
  readonly #lunatic: Lunatic;
  /** Its ID. */
  readonly id: bigint;
  /** Its registry of named processes. */
  readonly registry: Registry;
  /** The config processes get unless a spawn gives one. */
  readonly config: EnvConfig;

  /** @ignore */
  constructor(lunatic: Lunatic, id: bigint, config: EnvConfig) {
    this.#lunatic = lunatic;
    this.#environment = lunatic.runtime.newEnvironment(Number(id));
    this.id = id;
    this.config = config;
    this.registry = new Registry(this.#environment);
  }

  /**
   * Spawns a process running `module`'s `entry` export. Throws a {@link LunaticError} when it
   * cannot start (no such export, no exported memory, a preopen that does not exist, a memory
   * limit the module cannot meet).
   */
  spawn(module: Module, options: SpawnOptions = {}): WasmProcess {
    const inner = Module.unwrap(module);
    const entry = options.entry ?? "_start";
    const args = options.entryArgs ?? [];
    const problem = inner.checkEntry(entry, args);
    if (problem !== null) throw new LunaticError(`cannot run ${inner.displayName}: ${problem}`);
    if (!inner.exportsMemory) {
      throw new LunaticError(`cannot run ${inner.displayName}: it does not export its memory`);
    }
    const config = EnvConfig.toProcessConfig(options.config ?? this.config, module);
    const process = this.#lunatic.runtime.spawn({
      environment: this.#environment,
      module: inner,
      config,
      entry,
      args,
      stdio: stdioFrom(options.stdio),
      root: true,
    });
    return new WasmProcess(process);
  }

  /** Spawns a process whose body is `body`; its resolution is a normal end, its rejection a failure. */
  spawnNative(body: (self: NativeProcess) => Promise<void>): NativeProcess {
    // The body starts on a later microtask, when the handle below exists.
    const handles: { self?: NativeProcess } = {};
    const process = new RuntimeNativeProcess(
      this.#lunatic.runtime,
      this.#environment,
      () => body(handles.self!),
    );
    handles.self = new NativeProcess(process);
    return handles.self;
  }
}

function sink(write: (bytes: Uint8Array) => void): OutputSink {
  return { write: (bytes) => write(bytes.slice()) };
}

function stdioFrom(options: SpawnOptions["stdio"]): Stdio {
  const host = hostStdio();
  return {
    stdin: options?.stdin === undefined ? EMPTY_INPUT : new BufferInput(options.stdin),
    stdout: options?.stdout === undefined ? host.stdout : sink(options.stdout),
    stderr: options?.stderr === undefined ? host.stderr : sink(options.stderr),
  };
}

let runtime: Lunatic | null = null;
let nextEnvironmentId = 1n;

/**
 * The entry point: environments and modules.
 *
 * @example
 * ```ts
 * import { lunatic } from "./mod.ts";
 * const environment = lunatic.createEnvironment();
 * const process = environment.spawn(await lunatic.load("app.wasm"));
 * console.log(await process.exited);
 * ```
 */
export const lunatic: {
  /** A fresh environment: its own ID, registry, and process IDs from 1. */
  createEnvironment(config?: EnvConfig): Environment;
  /** Loads, validates and compiles a module from a path, URL or bytes. */
  load(source: string | URL | Uint8Array, name?: string): Promise<Module>;
  /**
   * Loads `bytes` as the next version of `module` (hot code upgrade): processes that
   * subscribed with `lunatic::hot::subscribe` are told and move to it with
   * `lunatic::hot::upgrade`; a third version purges the processes still on the first.
   * Rejects with a {@link LunaticError} for bytes that do not validate or lack an export a
   * running process started from; the system keeps running on what it has.
   */
  reload(module: Module, bytes: Uint8Array): Promise<Module>;
} = {
  createEnvironment(config = new EnvConfig()): Environment {
    runtime ??= new Lunatic();
    return new Environment(runtime, nextEnvironmentId++, config);
  },
  async load(source: string | URL | Uint8Array, name?: string): Promise<Module> {
    runtime ??= new Lunatic();
    return Module.wrap(await runtime.load(source, name));
  },
  async reload(module: Module, bytes: Uint8Array): Promise<Module> {
    runtime ??= new Lunatic();
    return Module.wrap(await runtime.reload(Module.unwrap(module), bytes));
  },
};
