import { createHash } from "node:crypto";
import type { ModuleLineage } from "./hot.ts";
import type { BacktraceSource } from "./backtrace.ts";
import { LunaticError, trap } from "./errors.ts";
import {
  formatSignature,
  type HostContext,
  type HostFunction,
  type HostNamespace,
} from "./host_api.ts";
import type { ProcessConfig } from "./config.ts";
import type { EntryArgument } from "./process.ts";
import { WasmFormatError } from "./wasm/bytes.ts";
import {
  exportedFunctionType,
  functionName,
  type FuncType,
  MAX_MEMORY32_PAGES,
  type ModuleInfo,
  parseModule,
} from "./wasm/module_info.ts";
import {
  canImportMemory,
  importMemory,
  limitMemory,
  MEMORY_IMPORT,
  stripDebugSections,
} from "./wasm/rewrite.ts";
import {
  HANDLE_IMPORT,
  instrument,
  type InstrumentResult,
  YIELD_IMPORT,
} from "./wasm/instrument.ts";
import { Suspending } from "./jspi.ts";
import { type ImportCallKind, warmImportWrappers } from "./wasm/import_wrappers.ts";

/** What the instance of a process needs of it: its config, and its fuel slices. */
export interface HostedProcess extends HostContext {
  /** `lunatic::internal::out_of_fuel`: the counter ran out (see the instrumentation). */
  outOfFuel(counter: bigint): bigint | Promise<bigint>;
}

/** `out_of_fuel (counter, process) -> counter`, which may suspend; shared by every instance. */
const OUT_OF_FUEL = new Suspending((counter: bigint, process: HostedProcess) =>
  process.outOfFuel(counter)
);

/** What an instance links for `fn`: `fn` itself, or one shared Suspending wrapper of it. */
const suspendingWrappers = new WeakMap<HostFunction<HostContext>, unknown>();
function linkable(fn: HostFunction<HostContext>): unknown {
  if (!fn.suspending) return fn.call;
  let wrapper = suspendingWrappers.get(fn);
  if (wrapper === undefined) {
    wrapper = new Suspending(fn.call);
    suspendingWrappers.set(fn, wrapper);
  }
  return wrapper;
}

/** The stub linked for `module::name` where the process's config does not allow it. */
const deniedStubs = new Map<string, () => never>();
function deniedStub(module: string, name: string): () => never {
  const where = `${module}::${name}`;
  let stub = deniedStubs.get(where);
  if (stub === undefined) {
    stub = () => trap(`permission denied: ${where}`);
    deniedStubs.set(where, stub);
  }
  return stub;
}

/** Limits of an imported memory, in pages. */
export interface MemoryLimits {
  readonly initial: number;
  readonly maximum: number;
}

/** One function import of a module, resolved to the host function that serves it. */
interface LinkedImport {
  readonly module: string;
  readonly name: string;
  readonly hostFunction: HostFunction<HostContext>;
}

/** A module compiled once with its memory imported (see {@link LunaticModule}). */
interface SharedCompilation {
  readonly bytes: Uint8Array<ArrayBuffer>;
  /** How far the rewrite moved the code section. */
  readonly offsetShift: number;
  compiled: WebAssembly.Module | null;
}

/** The host functions a runtime offers, by import module and name. */
export class HostRegistry {
  readonly #namespaces = new Map<string, HostNamespace<HostContext>>();

  constructor(namespaces: readonly HostNamespace<never>[]) {
    for (const namespace of namespaces) {
      this.#namespaces.set(namespace.module, namespace as unknown as HostNamespace<HostContext>);
    }
  }

  namespace(module: string): HostNamespace<HostContext> | undefined {
    return this.#namespaces.get(module);
  }

  /** Every registered `module::name`, for listings and tests. */
  *functionNames(): IterableIterator<string> {
    for (const [module, namespace] of this.#namespaces) {
      for (const name of Object.keys(namespace.functions)) yield `${module}::${name}`;
    }
  }
}

/**
 * A loaded module: validated, its imports linked against the host, compiled once and
 * instantiated per process. A module whose memory 0 can be imported (a private 32-bit memory,
 * the usual case) is compiled with that memory imported, and each process gives its instance
 * a memory whose maximum is the process's limit; other modules are compiled once per memory
 * limit, with the limit written into the module.
 */
export class LunaticModule {
  /** Compiled variants by memory limit in pages (modules whose memory is not imported). */
  readonly #variants = new Map<number, WebAssembly.Module>();
  readonly #namespaces: HostNamespace<HostContext>[];
  readonly #prepared = new WeakSet<ProcessConfig>();
  /** How far the memory rewrite moved the code section, per variant. */
  readonly #variantShifts = new Map<number, number>();
  /** The ID control gave this module in a cluster (`lunatic::distributed::module_id`), or 0. */
  clusterModuleId = 0n;
  /** The versions of the module it is one of (runtime/hot.ts), when loaded from a path. */
  lineage: ModuleLineage | null = null;
  /** Its version in its lineage (1 for the first, and for a module without one). */
  version = 1;

  constructor(
    readonly bytes: Uint8Array,
    readonly info: ModuleInfo,
    /** SHA-256 of the bytes, hex. */
    readonly hash: string,
    readonly displayName: string,
    readonly imports: readonly LinkedImport[],
    namespaces: HostNamespace<HostContext>[],
  ) {
    this.#namespaces = namespaces;
  }

  #instrumentation: (InstrumentResult & { info: ModuleInfo }) | null = null;

  /**
   * The module as every variant starts from, made once: without its DWARF (engines ignore it),
   * with its preemption checks.
   */
  #instrumented(): InstrumentResult & { info: ModuleInfo } {
    if (this.#instrumentation === null) {
      try {
        const stripped = stripDebugSections(this.bytes, this.info);
        const info = stripped === this.bytes ? this.info : parseModule(stripped);
        // The counter starts empty: the first check (in a start function too) gets a slice.
        const result = instrument(stripped, info, { processHandle: true });
        this.#instrumentation = { ...result, info: parseModule(result.bytes) };
      } catch (error) {
        if (!(error instanceof WasmFormatError)) throw error;
        throw new LunaticError(`cannot instrument ${this.displayName}: ${error.message}`);
      }
    }
    return this.#instrumentation;
  }

  /**
   * The name of the function whose body contains byte `offset` of a compiled variant's code
   * (`bodies`: the variant's body ranges for each defined function, in order).
   */
  #functionNameIn(bodies: readonly { start: number; end: number }[], offset: number) {
    let low = 0;
    let high = bodies.length - 1;
    while (low <= high) {
      const mid = (low + high) >> 1;
      if (offset < bodies[mid].start) high = mid - 1;
      else if (offset >= bodies[mid].end) low = mid + 1;
      else return functionName(this.info, this.info.importedFunctionCount + mid);
    }
    return null;
  }

  /**
   * A backtrace source for the module as compiled for `maxPages`. Its code moved:
   * instrumented bodies are longer, and the memory rewrite shifts everything after the memory
   * section. Offsets are shown as they are in the compiled module.
   */
  backtraceSource(maxPages: number): BacktraceSource {
    const shift =
      (this.#importsMemory ? this.#shared?.offsetShift : this.#variantShifts.get(maxPages)) ?? 0;
    const bodies = this.#instrumented().codeBodies;
    return {
      displayName: this.displayName,
      functionNameAt: (offset) => this.#functionNameIn(bodies, offset - shift),
      originalOffset: (offset) => offset,
    };
  }

  /** Whether the module exports a memory named `memory`, which every host call that reads or
   * writes guest memory needs (lunatic: "No export `memory` found"). */
  get exportsMemory(): boolean {
    return this.info.exports.some((e) => e.kind === "memory" && e.name === "memory");
  }

  /** The first memory's minimum size in pages, or null when the module has no memory. */
  get memoryMinimumPages(): number | null {
    const memory = this.info.memories[0] ?? this.info.importedMemories[0];
    return memory === undefined ? null : memory.min;
  }

  /**
   * Runs every imported namespace's spawn-time check (e.g. preopened directories exist) once
   * per config: children spawned with the parent's config (`-1`) share it, so spawning many
   * costs one check.
   */
  prepare(config: ProcessConfig): void {
    if (this.#prepared.has(config)) return;
    for (const namespace of this.#namespaces) namespace.prepare?.(config);
    this.#prepared.add(config);
  }

  /** Whether memory 0 is imported, so that one compiled module serves every memory limit. */
  get #importsMemory(): boolean {
    return canImportMemory(this.info);
  }

  /** The module with its memory imported: its bytes, code shift and compilation. */
  #shared: SharedCompilation | null = null;

  #sharedBytes(): SharedCompilation {
    if (this.#shared === null) {
      const source = this.#instrumented();
      const bytes = importMemory(source.bytes, source.info);
      // Only the import and memory sections (before the code) change size.
      this.#shared = {
        bytes,
        offsetShift: bytes.byteLength - source.bytes.byteLength,
        compiled: null,
      };
    }
    return this.#shared;
  }

  /** Throws a LunaticError when the module's initial memory exceeds `maxPages`. */
  #checkMinimum(maxPages: number): void {
    const minimum = this.memoryMinimumPages;
    if (minimum !== null && minimum > maxPages) {
      throw new LunaticError(
        `memory minimum size of ${minimum} pages exceeds memory limits (${maxPages} pages allowed)`,
      );
    }
  }

  /**
   * The compiled module a process with a memory limit of `maxPages` instantiates (compiled on
   * first use and kept). Throws a LunaticError when the module's initial memory exceeds the
   * limit.
   */
  compiled(maxPages: number): WebAssembly.Module {
    this.#checkMinimum(maxPages);
    if (this.#importsMemory) {
      const shared = this.#sharedBytes();
      return shared.compiled ??= new WebAssembly.Module(shared.bytes);
    }
    let compiled = this.#variants.get(maxPages);
    if (compiled === undefined) {
      compiled = new WebAssembly.Module(this.#limited(maxPages));
      this.#variants.set(maxPages, compiled);
    }
    return compiled;
  }

  /**
   * Compiles what processes with a memory limit of `maxPages` instantiate, off the main thread
   * (engines compile big modules on background threads): used when loading, so that spawning
   * never waits for a compilation.
   */
  async compileAsync(maxPages: number): Promise<void> {
    this.#checkMinimum(maxPages);
    if (this.#importsMemory) {
      const shared = this.#sharedBytes();
      if (shared.compiled === null) {
        const compiled = await WebAssembly.compile(shared.bytes);
        shared.compiled ??= compiled;
      }
    } else if (!this.#variants.has(maxPages)) {
      const compiled = await WebAssembly.compile(this.#limited(maxPages));
      if (!this.#variants.has(maxPages)) this.#variants.set(maxPages, compiled);
    }
    await warmImportWrappers(this.#importCallKinds());
  }

  /** How the compiled module calls its imports: each signature, and whether it suspends. */
  #importCallKinds(): ImportCallKind[] {
    const suspending = new Map<string, boolean>();
    for (const { module, name, hostFunction } of this.imports) {
      suspending.set(`${module}::${name}`, hostFunction.suspending ?? false);
    }
    suspending.set(`${YIELD_IMPORT.module}::${YIELD_IMPORT.name}`, true);
    const kinds: ImportCallKind[] = [];
    for (const entry of this.#instrumented().info.imports) {
      if (entry.kind !== "func" || entry.type === undefined) continue;
      const where = `${entry.module}::${entry.name}`;
      kinds.push({ type: entry.type, suspending: suspending.get(where) ?? false });
    }
    return kinds;
  }

  /** The instrumented module with every memory's maximum set to at most `maxPages`. */
  #limited(maxPages: number): Uint8Array<ArrayBuffer> {
    const source = this.#instrumented();
    const limited = limitMemory(source.bytes, source.info, maxPages) as Uint8Array<ArrayBuffer>;
    // Only the memory section (before the code) changes size.
    this.#variantShifts.set(maxPages, limited.byteLength - source.bytes.byteLength);
    return limited;
  }

  /**
   * The limits of the memory a process with a memory limit of `maxPages` gives its instance:
   * the module's initial size, and a maximum of the limit (or the module's own maximum, if
   * lower). Null when the module defines its memory itself (or has none).
   */
  importedMemory(maxPages: number): MemoryLimits | null {
    if (!this.#importsMemory) return null;
    const memory = this.info.memories[0];
    return {
      initial: memory.min,
      maximum: Math.min(maxPages, memory.max ?? MAX_MEMORY32_PAGES, MAX_MEMORY32_PAGES),
    };
  }

  /** The host functions as every process with everything allowed links them. */
  #sharedImports: Record<string, Record<string, unknown>> | null = null;
  /** ...and as the processes whose configs restrict namespaces link them, by allow-lists. */
  readonly #filteredImports = new Map<string, Record<string, Record<string, unknown>>>();

  /**
   * The imports object for one process: the host functions (shared by all processes whose
   * config allows the same; a function outside the allowed namespaces is a stub that traps,
   * so the check costs nothing per call), `out_of_fuel`, the process itself as the handle its
   * instance passes to them, and its `memory` when the variant imports it.
   */
  importsFor(
    process: HostedProcess,
    memory: WebAssembly.Memory | null = null,
  ): WebAssembly.Imports {
    const config = process.config;
    // Children spawned with a config ID get a copy of it: the lists, not the object, say
    // which stubs they link.
    const filter = config.allowsEverything
      ? ""
      : JSON.stringify([config.allowedNamespaces, config.namespaceCeiling]);
    let shared = config.allowsEverything ? this.#sharedImports : this.#filteredImports.get(filter);
    if (shared === null || shared === undefined) {
      shared = {};
      for (const { module, name, hostFunction } of this.imports) {
        (shared[module] ??= {})[name] = config.allowsEverything || config.allows(module, name)
          ? linkable(hostFunction)
          : deniedStub(module, name);
      }
      if (config.allowsEverything) this.#sharedImports = shared;
      else this.#filteredImports.set(filter, shared);
    }
    const imports: Record<string, Record<string, unknown>> = { ...shared };
    const internal: Record<string, unknown> = {
      [YIELD_IMPORT.name]: OUT_OF_FUEL,
      [HANDLE_IMPORT.name]: process,
    };
    if (memory !== null) internal[MEMORY_IMPORT.name] = memory;
    imports[YIELD_IMPORT.module] = internal;
    return imports as WebAssembly.Imports;
  }

  readonly #entryTypes = new Map<string, FuncType | null>();

  /**
   * Checks that `entry` is an exported function taking `args` and returning nothing.
   * Returns the reason it cannot be called, or null.
   */
  checkEntry(entry: string, args: readonly EntryArgument[]): string | null {
    // Every spawn checks its entry: look each name up in the exports once.
    let type = this.#entryTypes.get(entry);
    if (type === undefined) {
      type = exportedFunctionType(this.info, entry);
      this.#entryTypes.set(entry, type);
    }
    if (type === null) return `Function '${entry}' not found`;
    const given = args.map((a) => typeof a === "bigint" ? "i64" : "i32");
    const matches = type.params.length === given.length &&
      type.params.every((p, i) => p === given[i]) && type.results.length === 0;
    if (!matches) {
      return `Function '${entry}' has type ${
        formatSignature(type.params, type.results)
      }, but was called with (${given.join(", ")}) and no results`;
    }
    return null;
  }
}

/** Loads modules: parse, validate, link against the host, and cache by content. */
export class ModuleLoader {
  readonly #cache = new Map<string, WeakRef<LunaticModule>>();
  readonly #forget = new FinalizationRegistry<string>((hash) => {
    if (this.#cache.get(hash)?.deref() === undefined) this.#cache.delete(hash);
  });

  constructor(readonly host: HostRegistry) {}

  /**
   * Parses and links `bytes` (synchronously). Throws a LunaticError naming the problem:
   * a malformed module, a non-function import, an unknown host function or a signature
   * that does not match.
   */
  load(bytes: Uint8Array, displayName: string): LunaticModule {
    const hash = createHash("sha256").update(bytes).digest("hex");
    const cached = this.#cache.get(hash)?.deref();
    if (cached !== undefined) return cached;
    let info: ModuleInfo;
    try {
      info = parseModule(bytes);
    } catch (error) {
      if (error instanceof WasmFormatError) {
        throw new LunaticError(`invalid WebAssembly module ${displayName}: ${error.message}`);
      }
      throw error;
    }
    const { imports, namespaces } = this.#link(info, displayName);
    validate(bytes, displayName);
    const module = new LunaticModule(
      bytes.slice(),
      info,
      hash,
      displayName,
      imports,
      namespaces,
    );
    this.#cache.set(hash, new WeakRef(module));
    this.#forget.register(module, hash);
    return module;
  }

  /**
   * Loads and fully validates a module by compiling it (asynchronously) for `maxPages`, so
   * errors in function bodies surface here with the engine's message.
   */
  async loadAndCompile(
    bytes: Uint8Array,
    displayName: string,
    maxPages: number,
  ): Promise<LunaticModule> {
    const module = this.load(bytes, displayName);
    try {
      await module.compileAsync(maxPages);
    } catch (error) {
      if (error instanceof WebAssembly.CompileError) {
        throw new LunaticError(`invalid WebAssembly module ${displayName}: ${cleanV8(error)}`);
      }
      throw error;
    }
    return module;
  }

  #link(info: ModuleInfo, displayName: string) {
    const imports: LinkedImport[] = [];
    const namespaces = new Set<HostNamespace<HostContext>>();
    for (const entry of info.imports) {
      const where = `${entry.module}::${entry.name}`;
      if (entry.kind !== "func") {
        throw new LunaticError(
          `${displayName} imports a ${entry.kind} "${where}", but the host provides only ` +
            `functions (a lunatic process must define its own memory)`,
        );
      }
      const namespace = this.host.namespace(entry.module);
      const hostFunction = namespace?.functions[entry.name];
      if (namespace === undefined || hostFunction === undefined) {
        throw new LunaticError(
          `${displayName} imports unknown host function "${where}" ` +
            `(module "${entry.module}", name "${entry.name}")`,
        );
      }
      const type = entry.type as FuncType;
      if (!sameSignature(type, hostFunction)) {
        throw new LunaticError(
          `${displayName} imports "${where}" with type ${
            formatSignature(type.params, type.results)
          }, but the host function has type ${
            formatSignature(hostFunction.params, hostFunction.results)
          }`,
        );
      }
      namespaces.add(namespace);
      imports.push({ module: entry.module, name: entry.name, hostFunction });
    }
    return { imports, namespaces: [...namespaces] };
  }
}

function sameSignature(type: FuncType, host: HostFunction<HostContext>): boolean {
  return type.params.length === host.params.length &&
    type.results.length === host.results.length &&
    type.params.every((p, i) => p === host.params[i]) &&
    type.results.every((r, i) => r === host.results[i]);
}

/**
 * Validates the module as the guest wrote it, so errors name its own function indices and
 * offsets (the compiled variants are rewritten).
 */
function validate(bytes: Uint8Array, displayName: string): void {
  if (WebAssembly.validate(bytes as Uint8Array<ArrayBuffer>)) return;
  try {
    new WebAssembly.Module(bytes as Uint8Array<ArrayBuffer>);
  } catch (error) {
    throw new LunaticError(`invalid WebAssembly module ${displayName}: ${cleanV8(error as Error)}`);
  }
  throw new LunaticError(`invalid WebAssembly module ${displayName}`);
}

/** V8 prefixes compile errors with the API name; keep only the reason. */
function cleanV8(error: Error): string {
  return error.message.replace(/^WebAssembly\.(Module|compile|instantiate)\(\): /, "");
}
