/**
 * A minimal process for testing the WASI namespace on its own: it implements HostContext,
 * links a guest against `wasi_snapshot_preview1` only, runs `_start` through JSPI and reports
 * the exit code and captured output. Waits are not interruptible (`suspend` passes the
 * promise through) and `yieldNow` just lets the event loop turn.
 */
import { fileURLToPath } from "node:url";
import { wasiNamespace } from "../../host/wasi.ts";
import { ProcessConfig, type ProcessConfigInit } from "../../runtime/config.ts";
import { HostTrap, ProcessExit } from "../../runtime/errors.ts";
import { GuestMemory } from "../../runtime/guest_memory.ts";
import type { DisposableHostState, HostContext } from "../../runtime/host_api.ts";
import { BufferInput, CaptureSink, EMPTY_INPUT, type Stdio } from "../../runtime/stdio.ts";

/** JS Promise Integration, which Deno's type declarations do not describe yet. */
interface Jspi {
  Suspending: new (fn: (...args: never[]) => unknown) => object;
  promising(fn: unknown): (...args: unknown[]) => Promise<unknown>;
}
const jspi = WebAssembly as unknown as Jspi;

export interface WasiRunOptions extends Pick<ProcessConfigInit, "args" | "env" | "preopenedDirs"> {
  stdin?: string | Uint8Array;
}

export interface WasiRun {
  /** The proc_exit code (0 when `_start` returns), or null when the guest trapped. */
  exitCode: number | null;
  /** The trap's message when the guest trapped. */
  trap: string | null;
  stdout: string;
  stderr: string;
}

/** Absolute path of `tests/guests/build/<name>.wasm`. */
export function guestWasmPath(name: string): string {
  return fileURLToPath(new URL(`../guests/build/${name}.wasm`, import.meta.url));
}

/** Compiles a built test guest, failing with a clear message when it has not been built. */
export async function loadGuest(name: string): Promise<WebAssembly.Module> {
  const path = guestWasmPath(name);
  let bytes: Uint8Array<ArrayBuffer>;
  try {
    bytes = await Deno.readFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new Error(
        `test guest ${path} is missing: build it with ` +
          "`deno run --allow-all tools/build_guests.ts` (or `deno task build:guests`)",
      );
    }
    throw error;
  }
  return await WebAssembly.compile(bytes);
}

/** A HostContext with captured streams; attach a memory before calling host functions. */
export class WasiTestProcess implements HostContext {
  readonly id = 1;
  readonly #states = new Map<symbol, unknown>();
  #memory: GuestMemory | null = null;

  constructor(readonly config: ProcessConfig, readonly stdio: Stdio) {}

  get memory(): GuestMemory {
    if (this.#memory === null) throw new HostTrap("No export `memory` found");
    return this.#memory;
  }

  attach(memory: WebAssembly.Memory): void {
    this.#memory = new GuestMemory(memory);
  }

  hostState<T>(key: symbol, create: () => T): T {
    if (!this.#states.has(key)) this.#states.set(key, create());
    return this.#states.get(key) as T;
  }

  suspend<T>(promise: Promise<T>): Promise<T> {
    return promise;
  }

  yieldNow(): Promise<void> {
    return new Promise((resolve) => setTimeout(resolve, 0));
  }

  /** Disposes of every host state, as the runtime does when a process ends. */
  dispose(): void {
    for (const state of this.#states.values()) {
      (state as Partial<DisposableHostState>).dispose?.();
    }
    this.#states.clear();
  }
}

/** Links `module` against the WASI namespace only; any other import is a test error. */
function wasiImports(module: WebAssembly.Module, process: HostContext): WebAssembly.Imports {
  const functions: Record<string, unknown> = {};
  for (const entry of WebAssembly.Module.imports(module)) {
    const definition = wasiNamespace.functions[entry.name];
    if (entry.module !== wasiNamespace.module || entry.kind !== "function" || !definition) {
      throw new Error(`the WASI harness cannot provide ${entry.module}::${entry.name}`);
    }
    const bound = (...args: unknown[]) => definition.call(...args, process);
    functions[entry.name] = definition.suspending ? new jspi.Suspending(bound) : bound;
  }
  return { [wasiNamespace.module]: functions as WebAssembly.ModuleImports };
}

/** Runs test guest `name` to completion. */
export async function runWasiGuest(name: string, options: WasiRunOptions = {}): Promise<WasiRun> {
  const module = await loadGuest(name);
  const config = new ProcessConfig({
    args: options.args ?? [name],
    env: options.env,
    preopenedDirs: options.preopenedDirs,
  });
  wasiNamespace.prepare?.(config);
  const stdout = new CaptureSink();
  const stderr = new CaptureSink();
  const stdin = options.stdin === undefined ? EMPTY_INPUT : new BufferInput(options.stdin);
  const process = new WasiTestProcess(config, { stdin, stdout, stderr });
  const instance = await WebAssembly.instantiate(module, wasiImports(module, process));
  process.attach(instance.exports.memory as WebAssembly.Memory);

  const run = { exitCode: null as number | null, trap: null as string | null };
  try {
    await jspi.promising(instance.exports._start)();
    run.exitCode = 0;
  } catch (error) {
    if (error instanceof ProcessExit) run.exitCode = error.code;
    else if (error instanceof HostTrap || error instanceof WebAssembly.RuntimeError) {
      run.trap = error.message;
    } else throw error;
  } finally {
    process.dispose();
  }
  return { ...run, stdout: stdout.text(), stderr: stderr.text() };
}
