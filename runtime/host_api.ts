/**
 * How host functions are declared. Each file in `host/` exports one {@link HostNamespace}; the
 * runtime links a module's imports against the namespaces it was given and checks signatures
 * when the module is loaded; each call gets the calling process after the guest's arguments.
 */
import type { ProcessConfig } from "./config.ts";
import type { GuestMemory } from "./guest_memory.ts";
import type { Stdio } from "./stdio.ts";

/** A wasm value type as it appears in a function signature. */
export type ValType = "i32" | "i64" | "f32" | "f64" | "v128" | "funcref" | "externref";

/**
 * What a host function may use of the process that calls it. The full process object offers
 * more (links, spawning, messages) to the namespaces that need it.
 */
export interface HostContext {
  /** Process id, unique within its environment. */
  readonly id: number;
  /** The config the process runs with (shared, never mutated after spawn). */
  readonly config: ProcessConfig;
  /** The process's standard streams. */
  readonly stdio: Stdio;
  /** The guest's linear memory (the export `memory`); traps if the guest has none. */
  readonly memory: GuestMemory;
  /**
   * Per-process state owned by one host namespace, created on first use. Keys are symbols
   * private to the namespace, so namespaces never see each other's state.
   */
  hostState<T>(key: symbol, create: () => T): T;
  /**
   * Waits for `promise` on behalf of the guest. A kill (or link death) while waiting rejects
   * the wait, so the guest unwinds at once. Suspending host functions wrap every wait in this;
   * `onAbort` releases what the wait holds (a timer, a pending read) when it is abandoned.
   */
  suspend<T>(promise: Promise<T>, onAbort?: () => void): Promise<T>;
  /** Lets every other ready process run once before this one continues. */
  yieldNow(): Promise<void>;
}

/**
 * A host function: its wasm signature and what it does. One function serves every process:
 * it gets the guest's arguments, then the calling process (the instance passes it along: see
 * the instrumentation's `processHandle`).
 */
export interface HostFunction<P extends HostContext = HostContext> {
  readonly params: readonly ValType[];
  readonly results: readonly ValType[];
  /**
   * True when the function may block the guest (returns a Promise). It is then linked through
   * `WebAssembly.Suspending`, which costs more per call, so only blocking functions set it.
   */
  readonly suspending?: boolean;
  // deno-lint-ignore no-explicit-any
  call(...argsThenProcess: any[]): unknown;
}

/** One wasm import module's worth of host functions, e.g. `lunatic::message`. */
export interface HostNamespace<P extends HostContext = HostContext> {
  readonly module: string;
  readonly functions: Readonly<Record<string, HostFunction<P>>>;
  /**
   * Called at spawn, before the process exists, for every namespace the module imports from.
   * Throwing a LunaticError refuses the spawn (e.g. a preopened directory that is missing).
   */
  prepare?(config: ProcessConfig): void;
}

/**
 * Per-process host state (see {@link HostContext.hostState}) may implement this; the runtime
 * calls it once when the process ends, so files and sockets are released.
 */
export interface DisposableHostState {
  dispose(): void;
}

/** Shorthand for declaring a plain (non-blocking) host function. */
export function hostFn<P extends HostContext = HostContext>(
  params: readonly ValType[],
  results: readonly ValType[],
  // deno-lint-ignore no-explicit-any
  call: (...argsThenProcess: any[]) => unknown,
): HostFunction<P> {
  checkArity(params, call);
  return { params, results, call };
}

/** Shorthand for declaring a host function that may suspend the calling process. */
export function suspendingFn<P extends HostContext = HostContext>(
  params: readonly ValType[],
  results: readonly ValType[],
  // deno-lint-ignore no-explicit-any
  call: (...argsThenProcess: any[]) => unknown,
): HostFunction<P> {
  checkArity(params, call);
  return { params, results, suspending: true, call };
}

/**
 * The process comes after the guest's arguments, so a definition must declare them all and
 * then the process (or nothing at all, if it uses neither): checked when a namespace is made.
 */
function checkArity(params: readonly ValType[], call: (...args: never[]) => unknown): void {
  if (call.length !== 0 && call.length !== params.length + 1) {
    throw new TypeError(
      `a host function of ${params.length} parameters declares ${call.length}: it must ` +
        `declare the guest's ${params.length} and then the process`,
    );
  }
}

/** Formats a signature the way error messages show it: `(i32, i64) -> (i32)`. */
export function formatSignature(params: readonly ValType[], results: readonly ValType[]): string {
  return `(${params.join(", ")}) -> (${results.join(", ")})`;
}
