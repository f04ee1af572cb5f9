/**
 * The preemption and fuel instrumentation pass (design notes, decisions 2 and 3).
 *
 * Every guest module is rewritten so that a counter, a mutable i64 global of its own, is
 * decremented at every function entry and at every loop header, by the static number of
 * instructions up to the next such check point. When the counter goes negative the guest calls
 * the host import `lunatic::internal::out_of_fuel` with it, which accounts the slice, enforces
 * the fuel limit, yields to the scheduler when others wait and returns the counter's next
 * value. One unit of fuel is about one wasm instruction.
 *
 * The check inserted at each check point (stack-neutral):
 *
 *     global.get $fuel  i64.const COST  i64.sub  global.set $fuel
 *     global.get $fuel  i64.const 0  i64.lt_s
 *     if  global.get $fuel  call $out_of_fuel  global.set $fuel  end
 *
 * (with `processHandle`, `global.get $handle` before the call: see below), and every such `if` is marked unlikely in a `metadata.code.branch_hint` section (merged with
 * the guest's own hints, whose offsets move with their code), which V8's optimizing tier uses
 * to keep the call out of the hot path: measured on a compute-heavy C guest, the hints halve
 * the overhead (from ~25% to ~12%).
 *
 * COST counts the instructions from the check point to the next one along the straight line:
 * at function entry the body's instructions outside any loop, at a loop header the loop's
 * instructions outside its nested loops (both arms of an `if` are counted), at least 1. As in
 * wasmtime, `nop`, `drop`, `block`, `loop`, `unreachable`, `return`, `else` and `end` are free.
 *
 * Two changes keep the checks off the hottest paths (BENCHMARKS.md has what each gained):
 * - **Unrolling.** A loop whose iteration costs at most UNROLL_MAX_COST outside its nested loops
 *   is emitted as 4 (or 2) copies of its body under one check of 4 (or 2) × COST, so a tight
 *   loop pays for the counter a quarter as often. A check's subtract, compare and branch in a
 *   5-instruction loop otherwise cost 50%.
 * - **Small leaves.** A function with no loop and no call of a defined function (host imports
 *   may be called), of at most LEAF_MAX_COST instructions, has no entry check (it cannot run
 *   long); a direct call to it adds its cost to the caller's check point, and every indirect
 *   call adds the costliest such leaf's cost.
 * Fuel stays an upper bound of the work done: unrolled checks and indirect calls charge the
 * most an iteration or a small callee can cost.

 * The added import is the last function import, so every defined function's index grows by
 * one; every reference to one (calls, `ref.func` in code, globals, table initializers and
 * element segments, function indices in element segments, exports, the start function, and the
 * function, local and label names of the name section) is renumbered. The fuel global is the
 * last global. Only the sections that change are re-encoded ({@link rewriteSections}); in
 * function bodies local declarations are copied as they are.
 *
 * With {@link InstrumentOptions.processHandle} (which the runtime always uses), every call of a
 * host import also passes the calling process: an imported externref global, the last imported
 * global, so every defined global's index grows by one and every reference to one is renumbered
 * too (`global.get`/`global.set`, constant expressions, data and element offsets, exports, the
 * global names of the name section).
 *
 * The walker decodes every instruction V8 accepts by default: MVP, sign extension, saturating
 * conversions, bulk memory, reference types, typed function references, GC, multi-value,
 * multi-memory, memory64, SIMD and relaxed SIMD, threads (atomics), exception handling (legacy
 * and exnref), tail calls and extended constant expressions. Anything else is a
 * {@link WasmFormatError} naming the opcode and its offset.
 */
import { ByteReader, ByteWriter, hexOffset, WasmFormatError } from "./bytes.ts";
import { type ModuleInfo, SectionId, type SectionInfo, type TypeEncoding } from "./module_info.ts";
import { rewriteSections } from "./rewrite.ts";

/**
 * The name under which the instrumented module exports its fuel counter (a mutable i64
 * global), with {@link InstrumentOptions.exportFuelCounter}.
 */
export const FUEL_GLOBAL_EXPORT = "__lunatic_fuel";

/**
 * The function the instrumented module calls when its fuel counter goes negative:
 * `(i64 counter) -> (i64 counter)` (with the process handle: `(i64 counter, externref) -> (i64
 * counter)`). It gets what is left (zero or less: the overshoot) and returns the counter's new
 * value, so the host never needs to reach the counter itself.
 */
export const YIELD_IMPORT = { module: "lunatic::internal", name: "out_of_fuel" } as const;

export interface InstrumentResult {
  bytes: Uint8Array<ArrayBuffer>;
  /** Function index of the added import (= the original imported-function count). */
  yieldFunctionIndex: number;
  /** For each ORIGINAL defined function i: its body's byte range in the NEW module. */
  codeBodies: { start: number; end: number }[];
}

export interface InstrumentOptions {
  /**
   * The fuel counter's initial value. By default 0: the first check point calls `out_of_fuel`,
   * which sets the budget before any other guest code runs (also in a start function, during
   * instantiation, where `out_of_fuel` must not suspend).
   */
  initialFuel?: bigint;
  /**
   * Export the counter as {@link FUEL_GLOBAL_EXPORT}, for tests and benchmarks that read or set
   * it (default false). The runtime does not: V8 gives an exported mutable global a backing
   * store of its own, which costs ~6 µs per instance.
   */
  exportFuelCounter?: boolean;
  /**
   * Unroll small loops so that one check covers several iterations (default true). Off, every
   * loop iteration is checked: the plain form, against which tests compare the walker's edits.
   */
  unrollLoops?: boolean;
  /**
   * Leave out the entry check of small leaf functions and charge their cost at their call
   * sites (default true). Off, every function has an entry check.
   */
  chargeLeavesAtCallSites?: boolean;
  /**
   * Pass the calling process to every host function (default false): an imported immutable
   * externref global {@link HANDLE_IMPORT} (the host links the process object) is appended as
   * the last argument of every call of a function import (`out_of_fuel` included), whose
   * types gain that parameter. A function import used other than by a direct call (in a
   * table, by `ref.func`, exported, or as the start function) is replaced there by an
   * adapter, a defined function with the original signature that calls the import with the
   * handle. So one set of host functions serves every instance of the module.
   */
  processHandle?: boolean;
}

/** The process handle's import: an immutable externref global (see {@link InstrumentOptions}). */
export const HANDLE_IMPORT = { module: "lunatic::internal", name: "handle" } as const;

/**
 * Adds the fuel counter, the `out_of_fuel` import and a check at every function entry and loop
 * header to the module `bytes`, parsed as `info`. Throws {@link WasmFormatError} for an
 * instruction it does not know or a malformed body, and if the counter is to be exported and
 * the module already exports {@link FUEL_GLOBAL_EXPORT}.
 */
export function instrument(
  bytes: Uint8Array,
  info: ModuleInfo,
  options: InstrumentOptions = {},
): InstrumentResult {
  const exportCounter = options.exportFuelCounter ?? false;
  const taken = info.exports.find((entry) => entry.name === FUEL_GLOBAL_EXPORT);
  if (exportCounter && taken !== undefined) {
    throw new WasmFormatError(
      `the module already exports "${FUEL_GLOBAL_EXPORT}" (a ${taken.kind}), a name reserved ` +
        "for the runtime's fuel counter",
      sectionOf(info, SectionId.export)?.contentStart ?? 0,
    );
  }
  const imported = info.importedFunctionCount;
  const handle = options.processHandle ?? false;
  const imports = sectionOf(info, SectionId.import);
  const functionImports = handle ? info.functionImportTypes : [];

  // out_of_fuel's type, (i64) -> (i64) (with the handle: (i64, externref) -> (i64)): an existing
  // one, or a new one at the end of the type section. With the handle, each function import's
  // type gets a variant with an externref parameter more, also at the end.
  const newTypes: Uint8Array[] = [];
  const typeSection = sectionOf(info, SectionId.type);
  const handleTypes = new Map<number, number>();
  for (const entry of functionImports) {
    if (handleTypes.has(entry.index)) continue;
    handleTypes.set(entry.index, info.types.length + newTypes.length);
    newTypes.push(withHandleParam(bytes, info.typeEncodings[entry.index]));
  }
  let yieldType = handle
    ? -1
    : info.types.findIndex((t) =>
      t.params.length === 1 && t.params[0] === "i64" && t.results.length === 1 &&
      t.results[0] === "i64"
    );
  if (yieldType < 0) {
    yieldType = info.types.length + newTypes.length;
    newTypes.push(
      handle
        ? Uint8Array.of(0x60, 0x02, 0x7e, 0x6f, 0x01, 0x7e) // (i64, externref) -> (i64)
        : Uint8Array.of(0x60, 0x01, 0x7e, 0x01, 0x7e), // (i64) -> (i64)
    );
  }

  // The handle is the last imported global; the fuel global goes after every other global.
  let importedGlobals = 0;
  for (const entry of info.imports) if (entry.kind === "global") importedGlobals++;
  let fuelGlobal = importedGlobals + (handle ? 1 : 0);
  const globalSection = sectionOf(info, SectionId.global);
  if (globalSection !== undefined) {
    fuelGlobal += new ByteReader(bytes, globalSection.contentStart, globalSection.end).u32();
  }

  const ctx = new Context(bytes, imported, fuelGlobal, imported);
  ctx.unroll = options.unrollLoops ?? true;
  ctx.chargeLeaves = options.chargeLeavesAtCallSites ?? true;
  if (handle) {
    ctx.handleGlobal = importedGlobals;
    ctx.importedGlobals = importedGlobals;
    // Adapter k (for function import k) follows the defined functions.
    ctx.adapterBase = imported + 1 + info.functionTypes.length;
  }
  const newImport = new ByteWriter(40).name(YIELD_IMPORT.module).name(YIELD_IMPORT.name)
    .u8(0x00).u32(yieldType).finish();
  const handleImport = new ByteWriter(40).name(HANDLE_IMPORT.module).name(HANDLE_IMPORT.name)
    .u8(0x03).u8(0x6f).u8(0x00).finish(); // global, externref, immutable
  const newGlobal = new ByteWriter(16).u8(0x7e).u8(0x01).u8(0x42)
    .s64(options.initialFuel ?? 0n).u8(0x0b).finish();
  const newExport = new ByteWriter(24).name(FUEL_GLOBAL_EXPORT).u8(0x03).u32(fuelGlobal)
    .finish();
  const addedImports = handle ? [newImport, handleImport] : [newImport];
  const adapters = functionImports.map((entry, k) =>
    adapterBody(info.types[entry.index].params.length, importedGlobals, k)
  );

  // Sections the module lacks.
  const additions: Partial<Record<number, Uint8Array>> = {};
  if (newTypes.length > 0 && typeSection === undefined) {
    additions[SectionId.type] = vectorOfAll(newTypes);
  }
  if (imports === undefined) additions[SectionId.import] = vectorOfAll(addedImports);
  if (globalSection === undefined) additions[SectionId.global] = vectorOf(newGlobal);
  if (exportCounter && sectionOf(info, SectionId.export) === undefined) {
    additions[SectionId.export] = vectorOf(newExport);
  }
  const functionSection = sectionOf(info, SectionId.function);
  if (adapters.length > 0 && functionSection === undefined) {
    additions[SectionId.function] = vectorOfAll(
      functionImports.map((entry) => new ByteWriter(6).u32(entry.index).finish()),
    );
  }
  const codeSection = sectionOf(info, SectionId.code);
  if (adapters.length > 0 && codeSection === undefined) {
    additions[SectionId.code] = vectorOfAll(adapters);
  }

  // New contents of the sections that change (null: unchanged), computed in section order.
  const replacements = new Map<SectionInfo, Uint8Array | null>();
  const nameSection = info.sections.find((s) => s.id === SectionId.custom && s.name === "name");
  const hintSection = info.sections.find((s) =>
    s.id === SectionId.custom && s.name === BRANCH_HINT_SECTION
  );
  let code: CodeRewrite | null = null;
  if (codeSection !== undefined) {
    const guestHints = hintSection === undefined ? null : readBranchHints(bytes, hintSection);
    code = rewriteCode(ctx, info, codeSection.contentStart, codeSection.end, guestHints, adapters);
  }
  let hintsReplaced = false;
  for (const section of info.sections) {
    const { contentStart: start, end } = section;
    let content: Uint8Array | null = null;
    switch (section.id) {
      case SectionId.type:
        if (newTypes.length > 0) content = appendToVector(bytes.subarray(start, end), newTypes);
        break;
      case SectionId.import:
        content = appendToVector(
          handle
            ? rewriteImportTypes(bytes, start, end, functionImports, handleTypes)
            : bytes.subarray(start, end),
          addedImports,
        );
        break;
      case SectionId.function:
        if (adapters.length > 0) {
          content = appendToVector(
            bytes.subarray(start, end),
            functionImports.map((entry) => new ByteWriter(6).u32(entry.index).finish()),
          );
        }
        break;
      case SectionId.data:
        content = handle ? rewriteData(ctx, start, end) : null;
        break;
      case SectionId.table:
        content = rewriteTables(ctx, start, end);
        break;
      case SectionId.global:
        content = rewriteGlobals(ctx, start, end, newGlobal);
        break;
      case SectionId.export:
        content = rewriteExports(ctx, start, end, exportCounter ? newExport : null);
        break;
      case SectionId.start:
        content = new ByteWriter(8).u32(
          info.start! < imported && handle
            ? ctx.adapterBase + info.start!
            : renumber(info.start!, imported),
        ).finish();
        break;
      case SectionId.element:
        content = rewriteElements(ctx, start, end);
        break;
      case SectionId.code:
        content = code!.content;
        break;
      case SectionId.custom:
        if (section === nameSection) {
          content = rewriteNameSection(
            bytes.subarray(start, end),
            imported,
            handle ? importedGlobals : -1,
          );
        } else if (
          section === hintSection && codeSection !== undefined && section.start < codeSection.start
        ) {
          // The engine reads the first hint section only: it becomes the merged one.
          content = code!.hints;
          hintsReplaced = true;
        }
        break;
    }
    replacements.set(section, content);
  }
  const replace = (_content: Uint8Array, section: SectionInfo) => replacements.get(section) ?? null;
  let output = rewriteSections(bytes, info, {
    [SectionId.type]: replace,
    [SectionId.import]: replace,
    [SectionId.function]: replace,
    [SectionId.data]: replace,
    [SectionId.table]: replace,
    [SectionId.global]: replace,
    [SectionId.export]: replace,
    [SectionId.start]: replace,
    [SectionId.element]: replace,
    [SectionId.code]: replace,
    [SectionId.custom]: replace,
  }, additions) as Uint8Array<ArrayBuffer>;
  if (output === bytes) throw new Error("instrumentation changed nothing"); // cannot happen

  const codeBodies: { start: number; end: number }[] = [];
  if (code !== null) {
    let codeAt = sectionStart(output, SectionId.code);
    if (!hintsReplaced && code.hintedFunctions > 0) {
      // No hint section before the code: the merged one goes right before it.
      output = insertCustomSection(output, codeAt.start, code.hints);
      codeAt = sectionStart(output, SectionId.code);
    }
    const offsets = code.offsets;
    for (let i = 0; i < info.codeBodies.length; i++) {
      const base = codeAt.contentStart;
      codeBodies.push({ start: base + offsets[2 * i], end: base + offsets[2 * i + 1] });
    }
  }
  return { bytes: output, yieldFunctionIndex: imported, codeBodies };
}

// --- small helpers --------------------------------------------------------------------------

function sectionOf(info: ModuleInfo, id: number) {
  return info.sections.find((s) => s.id === id);
}

/** A function index after the insertion of the import at index `imported`. */
function renumber(index: number, imported: number): number {
  return index >= imported ? index + 1 : index;
}

/** A vector of one item. */
function vectorOf(item: Uint8Array): Uint8Array {
  return new ByteWriter(item.length + 1).u32(1).bytes(item).finish();
}

/** A vector of `items`. */
function vectorOfAll(items: readonly Uint8Array[]): Uint8Array {
  const writer = new ByteWriter(items.reduce((n, item) => n + item.length, 5)).u32(items.length);
  for (const item of items) writer.bytes(item);
  return writer.finish();
}

/** A vector's encoding (count, items) with `items` added at the end. */
function appendToVector(content: Uint8Array, items: readonly Uint8Array[]): Uint8Array {
  const reader = new ByteReader(content, 0, content.length, "a vector");
  const count = reader.u32();
  const writer = new ByteWriter(items.reduce((n, item) => n + item.length, content.length + 5))
    .u32(count + items.length).bytes(content.subarray(reader.pos));
  for (const item of items) writer.bytes(item);
  return writer.finish();
}

/** Where section `id` starts in a module (only section headers are read). */
function sectionStart(module: Uint8Array, id: number): { start: number; contentStart: number } {
  const reader = new ByteReader(module, 8, module.length, "the instrumented module");
  while (!reader.atEnd()) {
    const start = reader.pos;
    const sectionId = reader.u8();
    const size = reader.u32();
    if (sectionId === id) return { start, contentStart: reader.pos };
    reader.skip(size);
  }
  throw new Error(`the instrumented module has no section ${id}`); // cannot happen
}

/** `module` with a custom section of `content` (its name included) inserted at offset `at`. */
function insertCustomSection(
  module: Uint8Array<ArrayBuffer>,
  at: number,
  content: Uint8Array,
): Uint8Array<ArrayBuffer> {
  const header = new ByteWriter(8).u8(SectionId.custom).u32(content.length).finish();
  const output = new Uint8Array(module.length + header.length + content.length);
  output.set(module.subarray(0, at));
  output.set(header, at);
  output.set(content, at + header.length);
  output.set(module.subarray(at), at + header.length + content.length);
  return output;
}

/** Bytes of the unsigned LEB128 encoding of `n` (n < 2^32). */
function u32Size(n: number): number {
  return n < 0x80 ? 1 : n < 0x4000 ? 2 : n < 0x200000 ? 3 : n < 0x10000000 ? 4 : 5;
}

// --- the output buffer ----------------------------------------------------------------------

/** A growable output buffer with the few encodings the code rewriter needs. */
class Out {
  buf: Uint8Array<ArrayBuffer>;
  len = 0;

  constructor(capacity: number) {
    this.buf = new Uint8Array(Math.max(64, capacity));
  }

  reserve(extra: number): void {
    const needed = this.len + extra;
    if (needed <= this.buf.length) return;
    let capacity = this.buf.length * 2;
    while (capacity < needed) capacity *= 2;
    const grown = new Uint8Array(capacity);
    grown.set(this.buf.subarray(0, this.len));
    this.buf = grown;
  }

  /** Unsigned LEB128 (space must be reserved). */
  u32(value: number): void {
    const buf = this.buf;
    let len = this.len;
    while (value >= 0x80) {
      buf[len++] = (value & 0x7f) | 0x80;
      value >>>= 7;
    }
    buf[len++] = value;
    this.len = len;
  }

  /** One byte (space must be reserved). */
  u8(value: number): void {
    this.buf[this.len++] = value;
  }

  /** Signed LEB128 of a non-negative `value` below 2^31 (space must be reserved). */
  positiveS64(value: number): void {
    const buf = this.buf;
    let len = this.len;
    while (value >= 0x40) {
      buf[len++] = (value & 0x7f) | 0x80;
      value >>>= 7;
    }
    buf[len++] = value;
    this.len = len;
  }

  /** `src[start, end)` (space must be reserved). */
  copy(src: Uint8Array, start: number, end: number): void {
    const n = end - start;
    if (n > 24) {
      this.buf.set(src.subarray(start, end), this.len);
    } else {
      const buf = this.buf;
      let len = this.len;
      for (let i = start; i < end; i++) buf[len++] = src[i];
    }
    this.len += n;
  }

  finish(): Uint8Array<ArrayBuffer> {
    return this.buf.subarray(0, this.len);
  }
}

// --- the walker -----------------------------------------------------------------------------

/**
 * Shared state of one instrumentation. The walker records edits, in increasing offset order,
 * as triples in `edits`: [offset, end, value]. A value >= 0 replaces the LEB128 function index
 * at [offset, end) with `value`. Negative values: `-1 - id` inserts check point `id` at `offset`
 * (end = offset), whose cost is `costs[id]`; `LABEL_EDIT - id` rewrites the label at
 * [offset, end) (`labels`) for the unrolled loops around it; `UNROLL_EDIT - id` replaces the
 * loop at [offset, end) by its unrolled form (`unrolls`); `NO_EDIT` is a loop left as it is.
 */
class Context {
  edits = new Int32Array(3 * 256);
  editCount = 0;
  costs = new Int32Array(64);
  checkpointCount = 0;
  /** Per open block: the check point to return to at its `end` if it is a loop, else -1. */
  control = new Int32Array(64);
  /** Branch hints of the body being emitted: [offset, value] pairs. */
  hints = new Int32Array(2 * 64);
  hintCount = 0;
  /** The LEB128 `u32At` read ends here. */
  next = 0;
  /** {@link InstrumentOptions.unrollLoops} */
  unroll = true;
  /** {@link InstrumentOptions.chargeLeavesAtCallSites} */
  chargeLeaves = true;
  /**
   * The open loops, innermost last, as [edit reserved for unrolling (-1: cannot be unrolled),
   * body offset, block index, bytes its unrolled nested loops add, offset] quintuples.
   */
  loops = new Int32Array(5 * 16);
  loopCount = 0;
  /** Loops to unroll: [body offset, offset of its end, check point, block index, copies]. */
  unrolls = new Int32Array(5 * 16);
  unrollCount = 0;
  /** Labels inside loops: [label, depth of the branch] pairs. */
  labels = new Int32Array(2 * 64);
  labelCount = 0;
  /** The function index `funcIndexAt` read last (before renumbering). */
  lastIndex = 0;
  /** Whether the walked body calls a defined function (directly, by table or by reference). */
  sawCall = false;
  /**
   * Per defined function: the cost charged at its call sites if it runs without an entry check
   * (a small leaf), else -1. All -1 while bodies are first classified.
   */
  leafCost: Int32Array = new Int32Array(0);
  /** What every call through a table or a reference is charged: the costliest small leaf. */
  indirectCharge = 0;
  /** The process handle's global (-1: no handle is passed). */
  handleGlobal = -1;
  /** Imported globals in the original module: globals from here on move past the handle. */
  importedGlobals = 0;
  /** The function index of the adapter of function import 0 (with a handle). */
  adapterBase = 0;
  /** What is being walked, for error messages: a section, or (if >= 0) a function's body. */
  where = "";
  whereFunction = -1;

  constructor(
    readonly bytes: Uint8Array,
    readonly imported: number,
    readonly fuelGlobal: number,
    readonly yieldFunction: number,
  ) {}

  reset(): void {
    this.editCount = 0;
    this.checkpointCount = 0;
    this.sawCall = false;
    this.loopCount = 0;
    this.labelCount = 0;
    this.unrollCount = 0;
  }

  /**
   * A loop opens at `at`, its body at `bodyAt`, as block number `index` (its depth): reserves
   * the edit that unrolls it, if its block type lets it be unrolled (no parameters).
   */
  openLoop(at: number, bodyAt: number, index: number): void {
    const blockType = this.bytes[at + 1];
    // Empty, or one result written as a value type's one-byte shorthand; a type index (which
    // may declare parameters) is left alone.
    const unrollable = this.unroll &&
      (blockType === 0x40 || (blockType >= 0x6f && blockType <= 0x7f));
    let loops = this.loops;
    const top = 5 * this.loopCount++;
    if (top + 5 > loops.length) {
      const grown = new Int32Array(loops.length * 2);
      grown.set(loops);
      this.loops = loops = grown;
    }
    loops[top] = unrollable ? this.editCount : -1;
    loops[top + 1] = bodyAt;
    loops[top + 2] = index;
    loops[top + 3] = 0;
    loops[top + 4] = at;
    if (unrollable) this.addEdit(at, at, NO_EDIT);
  }

  /**
   * The innermost open loop ends with the `end` at `endAt`, having cost `cost` per iteration
   * outside its nested loops: unrolls it if it is cheap and small.
   */
  closeLoop(endAt: number, checkpoint: number, cost: number): void {
    const loops = this.loops;
    const top = 5 * --this.loopCount;
    const loopAt = loops[top + 4];
    const edit = loops[top];
    const bodyAt = loops[top + 1];
    let growth = loops[top + 3];
    if (edit >= 0 && cost <= UNROLL_MAX_COST) {
      const copies = unrollFactor(cost);
      const unrolled = copies * (endAt - bodyAt + growth + 3) + CHECK_BYTES +
        2 * (bodyAt - loopAt) + 2;
      if (unrolled <= UNROLL_MAX_BYTES) {
        const id = this.unrollCount++;
        if (5 * id + 5 > this.unrolls.length) {
          const grown = new Int32Array(this.unrolls.length * 2);
          grown.set(this.unrolls);
          this.unrolls = grown;
        }
        this.unrolls.set([bodyAt, endAt, checkpoint, loops[top + 2], copies], 5 * id);
        this.edits[3 * edit + 1] = endAt + 1;
        this.edits[3 * edit + 2] = UNROLL_EDIT - id;
        growth = unrolled - (endAt + 1 - loopAt);
      }
    }
    if (this.loopCount > 0) loops[top - 5 + 3] += growth;
  }

  /** None of the open loops can be unrolled (they hold an instruction it cannot renumber). */
  blockUnrolling(): void {
    for (let i = 0; i < this.loopCount; i++) this.loops[5 * i] = -1;
  }

  /** The label at [offset, end): `label` as it is, in a branch `depth` blocks deep. */
  addLabelEdit(offset: number, end: number, label: number, depth: number): void {
    const id = this.labelCount++;
    if (2 * id + 2 > this.labels.length) {
      const grown = new Int32Array(this.labels.length * 2);
      grown.set(this.labels);
      this.labels = grown;
    }
    this.labels[2 * id] = label;
    this.labels[2 * id + 1] = depth;
    this.addEdit(offset, end, LABEL_EDIT - id);
  }

  addEdit(offset: number, end: number, value: number): void {
    let edits = this.edits;
    const at = this.editCount * 3;
    if (at + 3 > edits.length) {
      const grown = new Int32Array(edits.length * 2);
      grown.set(edits);
      this.edits = edits = grown;
    }
    edits[at] = offset;
    edits[at + 1] = end;
    edits[at + 2] = value;
    this.editCount++;
  }

  addHint(offset: number, value: number): void {
    let hints = this.hints;
    const at = this.hintCount * 2;
    if (at + 2 > hints.length) {
      const grown = new Int32Array(hints.length * 2);
      grown.set(hints);
      this.hints = hints = grown;
    }
    hints[at] = offset;
    hints[at + 1] = value;
    this.hintCount++;
  }

  /** A new check point at `offset`; returns its number. */
  addCheckpoint(offset: number): number {
    const id = this.checkpointCount++;
    if (id >= this.costs.length) {
      const grown = new Int32Array(this.costs.length * 2);
      grown.set(this.costs);
      this.costs = grown;
    }
    this.costs[id] = 0;
    this.addEdit(offset, offset, -id - 1);
    return id;
  }

  /**
   * The function index at `pos` (a u32 LEB128): an edit if it changes; returns the end. With
   * a handle, a direct call of an import (its opcode at `callAt`) passes the handle, and any
   * other use of an import becomes a use of its adapter.
   */
  funcIndexAt(pos: number, callAt = -1): number {
    const index = this.u32At(pos);
    const end = this.next;
    this.lastIndex = index;
    if (index >= this.imported) {
      this.addEdit(pos, end, index + 1);
    } else if (this.handleGlobal >= 0) {
      if (callAt >= 0) {
        this.addEdit(
          callAt,
          end,
          HOST_CALL_EDIT + 2 * index + (this.bytes[callAt] === 0x12 ? 1 : 0),
        );
      } else {
        this.addEdit(pos, end, this.adapterBase + index);
      }
    }
    return end;
  }

  /** The global index at `pos`: an edit if the handle moved it; returns the end. */
  globalIndexAt(pos: number): number {
    const index = this.u32At(pos);
    if (this.handleGlobal >= 0 && index >= this.importedGlobals) {
      this.addEdit(pos, this.next, index + 1);
    }
    return this.next;
  }

  /** Decodes the u32 LEB128 at `pos`; its end goes to `next`. */
  u32At(pos: number): number {
    const bytes = this.bytes;
    let byte = bytes[pos++];
    if (byte < 0x80) {
      this.next = pos;
      return byte;
    }
    let result = byte & 0x7f;
    let shift = 7;
    for (;;) {
      byte = bytes[pos++];
      if (byte === undefined || shift > 28) {
        return this.fail("malformed LEB128 integer", pos - 1);
      }
      result += (byte & 0x7f) * 2 ** shift;
      if (byte < 0x80) break;
      shift += 7;
    }
    if (result > 0xffffffff) this.fail("integer too large (more than 32 bits)", pos - 1);
    this.next = pos;
    return result;
  }

  fail(problem: string, at: number): never {
    const where = this.whereFunction >= 0
      ? `the body of function ${this.whereFunction}`
      : this.where;
    throw new WasmFormatError(`${problem} while reading ${where} at offset ${hexOffset(at)}`, at);
  }

  failOpcode(at: number, prefix: number, sub: number): never {
    const name = prefix < 0
      ? `0x${sub.toString(16)}`
      : `0x${prefix.toString(16)} ${sub} (0x${prefix.toString(16)} 0x${sub.toString(16)})`;
    return this.fail(`unknown opcode ${name}`, at);
  }
}

// Instruction classes of the single-byte opcodes. Each class has a cost and its immediates.
// 0: not an instruction.
/** No immediates, cost 1. */
const PLAIN = 1;
/** No immediates, free (nop, drop, unreachable, return, else). */
const FREE = 2;
const END = 3;
/** `block`: a block type, free. */
const BLOCK = 4;
/** `if`, `try`: a block type, cost 1. */
const IF = 5;
const LOOP = 6;
const TRY_TABLE = 7;
/** One LEB128 immediate, cost 1. */
const LEB = 8;
/** Two LEB128 immediates, cost 1. */
const LEB2 = 9;
/** `call`, `return_call`, `ref.func`: a function index. */
const FUNC = 10;
const BR_TABLE = 11;
const SELECT_TYPED = 12;
const MEMARG = 13;
const BYTES4 = 14;
const BYTES8 = 15;
/** `delegate l`: closes a `try`. */
const DELEGATE = 16;
const PREFIX_GC = 17;
const PREFIX_MISC = 18;
const PREFIX_SIMD = 19;
const PREFIX_ATOMIC = 20;
/** `br`, `br_if`, `br_on_null`, `br_on_non_null`: a label, cost 1. */
const BRANCH = 21;
/** `call_ref`, `return_call_ref`: a type index, cost 1. */
const CALL_REF = 22;
/** `global.get`, `global.set`: a global index, cost 1. */
const GLOBAL = 23;

const OPCODE_CLASS = new Uint8Array(256);
{
  const set = (cls: number, ...ops: number[]) => {
    for (const op of ops) OPCODE_CLASS[op] = cls;
  };
  const range = (cls: number, from: number, to: number) => {
    for (let op = from; op <= to; op++) OPCODE_CLASS[op] = cls;
  };
  set(FREE, 0x00, 0x01, 0x05, 0x0f, 0x1a); // unreachable nop else return drop
  set(BLOCK, 0x02);
  set(LOOP, 0x03);
  set(IF, 0x04, 0x06); // if try
  set(LEB, 0x07, 0x08, 0x09); // catch throw rethrow
  set(PLAIN, 0x0a, 0x19, 0x1b); // throw_ref catch_all select
  set(END, 0x0b);
  set(BRANCH, 0x0c, 0x0d); // br br_if
  set(BR_TABLE, 0x0e);
  set(FUNC, 0x10, 0x12, 0xd2); // call return_call ref.func
  set(LEB2, 0x11, 0x13); // call_indirect return_call_indirect
  set(CALL_REF, 0x14, 0x15); // call_ref return_call_ref
  set(DELEGATE, 0x18);
  set(SELECT_TYPED, 0x1c);
  set(TRY_TABLE, 0x1f);
  range(LEB, 0x20, 0x26); // local.get/set/tee global.get/set table.get/set
  set(GLOBAL, 0x23, 0x24); // global.get global.set
  range(MEMARG, 0x28, 0x3e); // loads and stores
  set(LEB, 0x3f, 0x40); // memory.size memory.grow (memory index)
  set(LEB, 0x41, 0x42); // i32.const i64.const
  set(BYTES4, 0x43);
  set(BYTES8, 0x44);
  range(PLAIN, 0x45, 0xc4); // numeric instructions and sign extension
  set(LEB, 0xd0); // ref.null heap type
  set(PLAIN, 0xd1, 0xd3, 0xd4); // ref.is_null ref.eq ref.as_non_null
  set(BRANCH, 0xd5, 0xd6); // br_on_null br_on_non_null
  set(PREFIX_GC, 0xfb);
  set(PREFIX_MISC, 0xfc);
  set(PREFIX_SIMD, 0xfd);
  set(PREFIX_ATOMIC, 0xfe);
}

/**
 * Opcodes that keep a loop from being unrolled: exception handling, whose labels and catch
 * depths the unrolling does not renumber.
 */
const NOT_UNROLLED = new Uint8Array(256);
for (const op of [0x06, 0x07, 0x09, 0x18, 0x19, 0x1f]) NOT_UNROLLED[op] = 1;

// SIMD (0xfd) sub-opcodes: their immediates.
const SIMD_INVALID = 0;
const SIMD_PLAIN = 1;
const SIMD_MEMARG = 2;
const SIMD_BYTES16 = 3; // v128.const, i8x16.shuffle
const SIMD_LANE = 4; // extract_lane, replace_lane
const SIMD_MEMARG_LANE = 5; // load/store lane
const SIMD_COUNT = 0x114; // relaxed SIMD ends at 0x113

const SIMD_CLASS = new Uint8Array(SIMD_COUNT).fill(SIMD_PLAIN);
{
  for (let op = 0x00; op <= 0x0b; op++) SIMD_CLASS[op] = SIMD_MEMARG;
  SIMD_CLASS[0x0c] = SIMD_BYTES16;
  SIMD_CLASS[0x0d] = SIMD_BYTES16;
  for (let op = 0x15; op <= 0x22; op++) SIMD_CLASS[op] = SIMD_LANE;
  for (let op = 0x54; op <= 0x5b; op++) SIMD_CLASS[op] = SIMD_MEMARG_LANE;
  SIMD_CLASS[0x5c] = SIMD_MEMARG;
  SIMD_CLASS[0x5d] = SIMD_MEMARG;
  // Unassigned opcodes in the SIMD range.
  const reserved = "9a a2 a5 a6 af b0 b2 b3 b4 bb c2 c5 c6 cf d0 d2 d3 d4 e2 ee";
  for (const op of reserved.split(" ")) SIMD_CLASS[parseInt(op, 16)] = SIMD_INVALID;
}

/** Skips an LEB128 integer at `pos` (of any width; the engine checks its range). */
function skipLeb(bytes: Uint8Array, pos: number): number {
  while ((bytes[pos++] & 0x80) !== 0) {
    // continuation bytes
  }
  return pos;
}

/** Skips a value type (a reference type may carry a heap type). */
function skipValType(bytes: Uint8Array, pos: number): number {
  const byte = bytes[pos++];
  return byte === 0x63 || byte === 0x64 ? skipLeb(bytes, pos) : pos;
}

/** Skips a block type: empty, a value type, or a type index (s33). */
function skipBlockType(bytes: Uint8Array, pos: number): number {
  const byte = bytes[pos];
  return byte === 0x63 || byte === 0x64 ? skipLeb(bytes, pos + 1) : skipLeb(bytes, pos);
}

/** Skips a memarg: alignment (bit 6: a memory index follows), then the offset. */
function skipMemarg(ctx: Context, pos: number): number {
  const bytes = ctx.bytes;
  let align = bytes[pos];
  if (align < 0x80) {
    pos++;
  } else {
    align = ctx.u32At(pos);
    pos = ctx.next;
  }
  if ((align & 0x40) !== 0) pos = skipLeb(bytes, pos);
  return skipLeb(bytes, pos);
}

/**
 * Walks an expression from `pos` up to and including the `end` that closes it, recording the
 * function-index edits and, if `instrumented`, the check points (function entry at `pos`, and
 * every loop header) with their costs. Returns the offset after the closing `end`; fails if the
 * expression does not close before `limit`.
 */
function walk(ctx: Context, pos: number, limit: number, instrumented: boolean): number {
  const bytes = ctx.bytes;
  let depth = 0;
  let checkpoint = instrumented ? ctx.addCheckpoint(pos) : -1;
  let cost = 0;
  for (;;) {
    if (pos >= limit) {
      return ctx.fail("unexpected end of the expression (no closing end)", Math.min(pos, limit));
    }
    const at = pos;
    const opcode = bytes[pos++];
    if (NOT_UNROLLED[opcode] !== 0) ctx.blockUnrolling();
    switch (OPCODE_CLASS[opcode]) {
      case PLAIN:
        cost++;
        break;
      case LEB:
        cost++;
        pos = skipLeb(bytes, pos);
        break;
      case MEMARG:
        cost++;
        pos = skipMemarg(ctx, pos);
        break;
      case GLOBAL:
        cost++;
        pos = ctx.globalIndexAt(pos);
        break;
      case END: {
        if (depth === 0) {
          if (checkpoint >= 0) ctx.costs[checkpoint] += cost;
          return pos;
        }
        const outer = ctx.control[--depth];
        if (outer >= 0) {
          // The end of a loop: back to the enclosing check point.
          ctx.closeLoop(at, checkpoint, ctx.costs[checkpoint] + cost);
          ctx.costs[checkpoint] += cost;
          cost = 0;
          checkpoint = outer;
        }
        break;
      }
      case FREE:
        break;
      case FUNC:
        cost++;
        if (opcode === 0xd2 || checkpoint < 0) {
          pos = ctx.funcIndexAt(pos); // ref.func, or a constant expression
          break;
        }
        pos = ctx.funcIndexAt(pos, at);
        // A host function returns to its caller without running guest code of its own (a
        // guest function it calls back has its own checks): only calls of defined functions
        // keep a function from being a leaf.
        if (ctx.lastIndex >= ctx.imported) {
          ctx.sawCall = true;
          const leaf = ctx.leafCost[ctx.lastIndex - ctx.imported] ?? -1;
          if (leaf > 0) cost += leaf;
        }
        break;
      case BRANCH: {
        cost++;
        const label = ctx.u32At(pos);
        if (ctx.loopCount > 0) {
          if (opcode >= 0xd5) {
            ctx.blockUnrolling(); // br_on_null, br_on_non_null: not renumbered
          } else {
            ctx.addLabelEdit(pos, ctx.next, label, depth);
          }
        }
        pos = ctx.next;
        break;
      }
      case CALL_REF:
        cost++;
        pos = skipLeb(bytes, pos);
        if (checkpoint >= 0) {
          ctx.sawCall = true;
          cost += ctx.indirectCharge;
        }
        break;
      case BLOCK:
        pos = skipBlockType(bytes, pos);
        depth = pushControl(ctx, depth, -1);
        break;
      case IF:
        cost++;
        pos = skipBlockType(bytes, pos);
        depth = pushControl(ctx, depth, -1);
        break;
      case LOOP:
        pos = skipBlockType(bytes, pos);
        if (instrumented) {
          ctx.costs[checkpoint] += cost;
          cost = 0;
          ctx.openLoop(at, pos, depth);
          depth = pushControl(ctx, depth, checkpoint);
          checkpoint = ctx.addCheckpoint(pos);
        } else {
          depth = pushControl(ctx, depth, -1);
        }
        break;
      case LEB2: // call_indirect, return_call_indirect
        cost++;
        pos = skipLeb(bytes, skipLeb(bytes, pos));
        if (checkpoint >= 0) {
          ctx.sawCall = true;
          cost += ctx.indirectCharge;
        }
        break;
      case BYTES4:
        cost++;
        pos += 4;
        break;
      case BYTES8:
        cost++;
        pos += 8;
        break;
      case BR_TABLE: {
        cost++;
        const count = ctx.u32At(pos);
        pos = ctx.next;
        for (let i = 0; i <= count && pos < limit; i++) {
          const label = ctx.u32At(pos);
          if (ctx.loopCount > 0) ctx.addLabelEdit(pos, ctx.next, label, depth);
          pos = ctx.next;
        }
        break;
      }
      case SELECT_TYPED: {
        cost++;
        const count = ctx.u32At(pos);
        pos = ctx.next;
        for (let i = 0; i < count && pos < limit; i++) pos = skipValType(bytes, pos);
        break;
      }
      case TRY_TABLE: {
        cost++;
        pos = skipBlockType(bytes, pos);
        const count = ctx.u32At(pos);
        pos = ctx.next;
        for (let i = 0; i < count && pos < limit; i++) {
          const kind = bytes[pos++];
          if (kind > 3) ctx.fail(`invalid catch clause kind ${kind}`, pos - 1);
          // catch / catch_ref: a tag and a label; catch_all / catch_all_ref: a label.
          if (kind < 2) pos = skipLeb(bytes, pos);
          pos = skipLeb(bytes, pos);
        }
        depth = pushControl(ctx, depth, -1);
        break;
      }
      case DELEGATE:
        cost++;
        pos = skipLeb(bytes, pos);
        if (depth === 0) ctx.fail("delegate outside a try block", at);
        depth--; // closes a try: never a loop
        break;
      case PREFIX_GC:
        cost++;
        // br_on_cast, br_on_cast_fail: labels not renumbered, so no unrolling.
        if (bytes[pos] === 24 || bytes[pos] === 25) ctx.blockUnrolling();
        pos = skipGcInstruction(ctx, pos, at);
        break;
      case PREFIX_MISC:
        cost++;
        pos = skipMiscInstruction(ctx, pos, at);
        break;
      case PREFIX_SIMD:
        cost++;
        pos = skipSimdInstruction(ctx, pos, at);
        break;
      case PREFIX_ATOMIC:
        cost++;
        pos = skipAtomicInstruction(ctx, pos, at);
        break;
      default:
        ctx.failOpcode(at, -1, opcode);
    }
  }
}

/** Opens a block; returns the new depth. */
function pushControl(ctx: Context, depth: number, outerCheckpoint: number): number {
  if (depth >= ctx.control.length) {
    const grown = new Int32Array(ctx.control.length * 2);
    grown.set(ctx.control);
    ctx.control = grown;
  }
  ctx.control[depth] = outerCheckpoint;
  return depth + 1;
}

/** 0xfb: the GC proposal's instructions. */
function skipGcInstruction(ctx: Context, pos: number, at: number): number {
  const bytes = ctx.bytes;
  const sub = ctx.u32At(pos);
  pos = ctx.next;
  switch (sub) {
    case 15: // array.len
    case 26: // any.convert_extern
    case 27: // extern.convert_any
    case 28: // ref.i31
    case 29: // i31.get_s
    case 30: // i31.get_u
      return pos;
    case 0: // struct.new t
    case 1: // struct.new_default t
    case 6: // array.new t
    case 7: // array.new_default t
    case 11: // array.get t
    case 12: // array.get_s t
    case 13: // array.get_u t
    case 14: // array.set t
    case 16: // array.fill t
    case 20: // ref.test ht
    case 21: // ref.test null ht
    case 22: // ref.cast ht
    case 23: // ref.cast null ht
    case 32: // struct.new_desc t (custom descriptors: V8 decodes it, its types need a flag)
    case 33: // struct.new_default_desc t
      return skipLeb(bytes, pos);
    case 2: // struct.get t f
    case 3: // struct.get_s t f
    case 4: // struct.get_u t f
    case 5: // struct.set t f
    case 8: // array.new_fixed t n
    case 9: // array.new_data t d
    case 10: // array.new_elem t e
    case 17: // array.copy t t
    case 18: // array.init_data t d
    case 19: // array.init_elem t e
      return skipLeb(bytes, skipLeb(bytes, pos));
    case 24: // br_on_cast flags l ht ht
    case 25: // br_on_cast_fail flags l ht ht
      return skipLeb(bytes, skipLeb(bytes, skipLeb(bytes, pos + 1)));
  }
  return ctx.failOpcode(at, 0xfb, sub);
}

/** 0xfc: saturating conversions, bulk memory and table instructions. */
function skipMiscInstruction(ctx: Context, pos: number, at: number): number {
  const bytes = ctx.bytes;
  const sub = ctx.u32At(pos);
  pos = ctx.next;
  if (sub <= 7) return pos; // trunc_sat
  switch (sub) {
    case 9: // data.drop d
    case 11: // memory.fill m
    case 13: // elem.drop e
    case 15: // table.grow t
    case 16: // table.size t
    case 17: // table.fill t
      return skipLeb(bytes, pos);
    case 8: // memory.init d m
    case 10: // memory.copy m m
    case 12: // table.init e t
    case 14: // table.copy t t
      return skipLeb(bytes, skipLeb(bytes, pos));
  }
  return ctx.failOpcode(at, 0xfc, sub);
}

/** 0xfd: SIMD and relaxed SIMD. */
function skipSimdInstruction(ctx: Context, pos: number, at: number): number {
  const sub = ctx.u32At(pos);
  pos = ctx.next;
  switch (sub < SIMD_COUNT ? SIMD_CLASS[sub] : SIMD_INVALID) {
    case SIMD_PLAIN:
      return pos;
    case SIMD_MEMARG:
      return skipMemarg(ctx, pos);
    case SIMD_BYTES16:
      return pos + 16;
    case SIMD_LANE:
      return pos + 1;
    case SIMD_MEMARG_LANE:
      return skipMemarg(ctx, pos) + 1;
  }
  return ctx.failOpcode(at, 0xfd, sub);
}

/** 0xfe: threads (atomic memory accesses, wait/notify, fence). */
function skipAtomicInstruction(ctx: Context, pos: number, at: number): number {
  const sub = ctx.u32At(pos);
  pos = ctx.next;
  if (sub === 3) return pos + 1; // atomic.fence: one reserved byte
  if (sub <= 2 || (sub >= 0x10 && sub <= 0x4e)) return skipMemarg(ctx, pos);
  return ctx.failOpcode(at, 0xfe, sub);
}

// --- applying edits -------------------------------------------------------------------------

// Edit values below 0 that are not check points (those are -1 - id, id < 2^28).
/**
 * `HOST_CALL_EDIT + 2 × import + (1 for return_call)`: a direct call of a function import,
 * emitted with the process handle pushed before it (its edit spans the whole instruction).
 */
const HOST_CALL_EDIT = 0x40000000;
/** A reserved edit that does nothing (a loop that was not unrolled). */
const NO_EDIT = -0x7fffffff;
/** `LABEL_EDIT - id`: the label `id` of `Context.labels`, renumbered in unrolled copies. */
const LABEL_EDIT = -0x10000000;
/** `UNROLL_EDIT - id`: the loop `id` of `Context.unrolls`, replaced by its unrolled form. */
const UNROLL_EDIT = -0x20000000;

/**
 * A leaf function (no loop, no call of a defined function) of at most this many instructions
 * runs without an entry check; its callers pay for it: a direct call adds its cost to the
 * caller's check point, and every call through a table or a reference adds the costliest such
 * leaf's cost.
 */
const LEAF_MAX_COST = 16;

/** A body longer than this many bytes is not looked at as a leaf (16 instructions fit). */
const LEAF_MAX_BYTES = 256;

/** Loops of at most this cost per iteration (outside their nested loops) are unrolled. */
const UNROLL_MAX_COST = 80;

/** ...if their unrolled form (nested loops unrolled too) takes at most this many bytes. */
const UNROLL_MAX_BYTES = 1024;

/**
 * The bytes of a check (with a cost and indices of up to 2 bytes each, and the handle). An
 * estimate for the unrolling's size limit, which also leaves out the 2–3 bytes the handle adds
 * to each host call.
 */
const CHECK_BYTES = 31;

/**
 * How many copies of an innermost loop's body of cost `cost` one check covers: enough that
 * the check's ~5 instructions stay under ~8% of what they cover.
 */
function unrollFactor(cost: number): number {
  return cost <= 20 ? 4 : 2;
}

/** The size change that the recorded function-index edits make (no check points). */
function indexEditsGrowth(ctx: Context): number {
  const edits = ctx.edits;
  let growth = 0;
  for (let i = 0, n = ctx.editCount * 3; i < n; i += 3) {
    growth += u32Size(edits[i + 2]) - (edits[i + 1] - edits[i]);
  }
  return growth;
}

/** Copies `bytes[start, end)` to `out` with the recorded index edits applied (no checks). */
function applyIndexEdits(ctx: Context, out: Out, start: number, end: number): void {
  const { bytes, edits } = ctx;
  let from = start;
  for (let i = 0, n = ctx.editCount * 3; i < n; i += 3) {
    out.copy(bytes, from, edits[i]);
    out.u32(edits[i + 2]);
    from = edits[i + 1];
  }
  out.copy(bytes, from, end);
}

// --- the code section -----------------------------------------------------------------------

/** The custom section of branch hints (the branch hinting proposal), which V8 implements. */
const BRANCH_HINT_SECTION = "metadata.code.branch_hint";

interface CodeRewrite {
  /** The new code section. */
  content: Uint8Array;
  /** Each body's [start, end) in `content`. */
  offsets: Int32Array;
  /** The new branch hint section (its name included). */
  hints: Uint8Array;
  /** How many functions it has hints for. */
  hintedFunctions: number;
}

/**
 * The instrumented code section, and a branch hint section that marks every check's `if` as
 * unlikely (which lets V8 move the call out of the hot path: measured, it halves the
 * overhead) merged with the guest's own hints (`guestHints`, by function index, with offsets
 * from the start of the body), moved to where their instructions now are.
 *
 * Two passes: the first finds the small leaf functions (their callers pay for them), the
 * second walks each body again with those charges and emits it.
 */
function rewriteCode(
  ctx: Context,
  info: ModuleInfo,
  start: number,
  end: number,
  guestHints: Map<number, number[]> | null,
  adapters: readonly Uint8Array[],
): CodeRewrite {
  const bodies = info.codeBodies;
  const imported = info.importedFunctionCount;
  const leafCost = new Int32Array(bodies.length).fill(-1);
  let indirectCharge = 0;
  for (let i = 0; i < bodies.length && ctx.chargeLeaves; i++) {
    // Only small bodies can be small leaves: the others are not walked twice. (A leaf padded
    // past this with free instructions just keeps its check.)
    if (bodies[i].end - bodies[i].start > LEAF_MAX_BYTES) continue;
    ctx.reset();
    ctx.whereFunction = imported + i;
    walkBody(ctx, bodies[i]);
    if (ctx.checkpointCount === 1 && !ctx.sawCall && ctx.costs[0] <= LEAF_MAX_COST) {
      leafCost[i] = Math.max(1, ctx.costs[0]);
      indirectCharge = Math.max(indirectCharge, leafCost[i]);
    }
  }
  ctx.leafCost = leafCost;
  ctx.indirectCharge = indirectCharge;

  const offsets = new Int32Array(bodies.length * 2);
  const out = new Out(Math.ceil((end - start) * 1.3) + 64);
  const emitter = new BodyEmitter(ctx);
  out.reserve(5);
  out.u32(bodies.length + adapters.length);
  const hints = new Out(bodies.length * 8 + 64);
  let hintedFunctions = 0;
  for (let i = 0; i < bodies.length; i++) {
    const index = imported + i;
    ctx.reset();
    ctx.whereFunction = index;
    const codeStart = walkBody(ctx, bodies[i]);
    const body = emitter.emit(bodies[i], codeStart, leafCost[i] >= 0, guestHints?.get(index));
    out.reserve(body.len + 5);
    out.u32(body.len);
    offsets[2 * i] = out.len;
    out.copy(body.buf, 0, body.len);
    offsets[2 * i + 1] = out.len;
    const pairs = ctx.hintCount;
    if (pairs > 0) {
      hintedFunctions++;
      hints.reserve(10 + pairs * 8);
      hints.u32(index + 1);
      hints.u32(pairs);
      const found = ctx.hints;
      for (let j = 0; j < 2 * pairs; j += 2) {
        hints.u32(found[j]);
        hints.u32(1); // size of the hint
        hints.buf[hints.len++] = found[j + 1];
      }
    }
  }
  for (const adapter of adapters) {
    out.reserve(adapter.length);
    out.copy(adapter, 0, adapter.length);
  }
  ctx.whereFunction = -1;
  ctx.reset();
  const hintSection = new ByteWriter(hints.len + 40).name(BRANCH_HINT_SECTION)
    .u32(hintedFunctions).bytes(hints.finish()).finish();
  return { content: out.finish(), offsets, hints: hintSection, hintedFunctions };
}

/** Walks one function body, recording its edits and check points; returns where code starts. */
function walkBody(ctx: Context, body: { start: number; end: number }): number {
  const codeStart = skipLocals(ctx, body.start, body.end);
  const codeEnd = walk(ctx, codeStart, body.end, true);
  if (codeEnd !== body.end) {
    ctx.fail(`${body.end - codeEnd} bytes after the end of the function body`, codeEnd);
  }
  return codeStart;
}

/**
 * Emits a walked function body with the recorded edits applied, into a reused buffer, and
 * collects its branch hints in `ctx.hints`: each check's `if` (unlikely), and the guest's own
 * hints at their new offsets (repeated in every copy of an unrolled loop).
 *
 * Each check point becomes a check (the function entry's is left out for a small leaf).
 * An innermost loop of cost C at most UNROLL_MAX_COST is unrolled: one check of
 * UNROLL_FACTOR × C covers that many copies of its body, so a tight loop pays for the counter
 * a quarter as often:
 *
 *     block (result…) $exit
 *       loop (result…) $L
 *         check
 *         block $c0  copy 0, branches to $L go to the end of $c0  br $exit  end
 *         … copies 1 and 2 the same way …
 *         copy 3 (branches to $L stay)
 *       end
 *     end
 *
 * A copy's fall-through leaves the loop as the original's does; labels further out than the
 * loop are renumbered past the added blocks.
 */
class BodyEmitter {
  readonly out = new Out(1024);
  #guest: number[] = [];
  /** The first guest hint at or after `#lastFrom`, where the last copied range began. */
  #nextHint = 0;
  #lastFrom = 0;
  #base = 0;
  /**
   * The unrolled loops being emitted, outermost first: [block index, blocks added between it
   * and its body's code] pairs (2 in a copy that continues into the next, else 1).
   */
  #unrolling = new Int32Array(2 * 16);
  #unrollingCount = 0;

  constructor(readonly ctx: Context) {}

  emit(
    body: { start: number; end: number },
    codeStart: number,
    leaf: boolean,
    guest: number[] | undefined,
  ): Out {
    const { ctx, out } = this;
    out.len = 0;
    ctx.hintCount = 0;
    this.#guest = guest ?? [];
    this.#nextHint = 0;
    this.#lastFrom = 0;
    this.#base = body.start;
    out.reserve(codeStart - body.start);
    out.copy(ctx.bytes, body.start, codeStart);
    this.#unrollingCount = 0;
    this.#range(codeStart, body.end, 0, ctx.editCount, leaf);
    return out;
  }

  /** Emits `bytes[start, end)`, whose edits are `first` up to (not including) `last`. */
  #range(start: number, end: number, first: number, last: number, leaf = false) {
    const { ctx, out } = this;
    const edits = ctx.edits;
    let from = start;
    for (let e = first; e <= last; e++) {
      const to = e < last ? edits[3 * e] : end;
      this.#copy(from, to);
      if (e === last) break;
      from = edits[3 * e + 1];
      const value = edits[3 * e + 2];
      out.reserve(40);
      if (value >= HOST_CALL_EDIT) {
        const call = value - HOST_CALL_EDIT;
        out.u8(0x23), out.u32(ctx.handleGlobal);
        out.u8(call % 2 === 1 ? 0x12 : 0x10), out.u32(Math.floor(call / 2));
      } else if (value >= 0) {
        out.u32(value);
      } else if (value > LABEL_EDIT) {
        const checkpoint = -value - 1;
        if (checkpoint > 0 || !leaf) this.#check(Math.max(1, ctx.costs[checkpoint]));
      } else if (value > UNROLL_EDIT) {
        out.u32(this.#label(LABEL_EDIT - value));
      } else if (value !== NO_EDIT) {
        e = this.#unrolled(UNROLL_EDIT - value, e, last);
      }
    }
  }

  /**
   * Emits the unrolled loop `id`, whose edit is `e`; returns the index of the last edit inside
   * it (its check point comes first, then the edits of its body).
   */
  #unrolled(id: number, e: number, last: number): number {
    const { ctx, out } = this;
    const { bytes, edits, unrolls } = ctx;
    const loopAt = edits[3 * e];
    const [bodyAt, endAt, checkpoint, index, copies] = unrolls.subarray(5 * id, 5 * id + 5);
    let inside = e + 1;
    while (inside < last && edits[3 * inside] < endAt) inside++;
    out.reserve(2 * (bodyAt - loopAt) + 2);
    out.u8(0x02); // block with the loop's type
    out.copy(bytes, loopAt + 1, bodyAt);
    out.copy(bytes, loopAt, bodyAt); // the loop
    this.#check(copies * Math.max(1, ctx.costs[checkpoint]));
    let unrolling = this.#unrolling;
    const slot = 2 * this.#unrollingCount++;
    if (slot + 2 > unrolling.length) {
      const grown = new Int32Array(unrolling.length * 2);
      grown.set(unrolling);
      this.#unrolling = unrolling = grown;
    }
    unrolling[slot] = index;
    for (let k = 0; k < copies; k++) {
      const inner = k < copies - 1;
      unrolling[slot + 1] = inner ? 2 : 1;
      if (inner) out.reserve(2), out.u8(0x02), out.u8(0x40);
      // e + 1 is the loop's check point, emitted above.
      this.#range(bodyAt, endAt, e + 2, inside);
      if (inner) out.reserve(3), out.u8(0x0c), out.u8(0x02), out.u8(0x0b); // br $exit; end
    }
    this.#unrollingCount--;
    out.reserve(2);
    out.u8(0x0b); // the loop's end
    out.u8(0x0b); // the block's end
    return inside - 1;
  }

  /**
   * The label `id` renumbered: a branch out of an unrolled loop passes the blocks added around
   * it; a branch to the loop itself goes to the end of its copy's block (the next copy), which
   * sits where the loop did, so it keeps its number.
   */
  #label(id: number): number {
    const label = this.ctx.labels[2 * id];
    const target = this.ctx.labels[2 * id + 1] - 1 - label; // block index, -1: the function
    let renumbered = label;
    const unrolling = this.#unrolling;
    for (let i = 0; i < 2 * this.#unrollingCount; i += 2) {
      if (unrolling[i] > target) renumbered += unrolling[i + 1];
    }
    return renumbered;
  }

  /** Copies `bytes[from, to)` and the guest's hints on it. */
  #copy(from: number, to: number): void {
    const { ctx, out } = this;
    const guest = this.#guest;
    // Ranges come in order, except when an unrolled loop's body is copied again.
    if (from < this.#lastFrom) this.#nextHint = 0;
    this.#lastFrom = from;
    let g = this.#nextHint;
    while (g < guest.length && this.#base + guest[g] < from) g += 2;
    this.#nextHint = g;
    for (; g < guest.length; g += 2) {
      const at = this.#base + guest[g];
      if (at >= to) break;
      ctx.addHint(out.len + (at - from), guest[g + 1]);
    }
    out.reserve(to - from);
    out.copy(ctx.bytes, from, to);
  }

  /**
   * `global.get $fuel  i64.const COST  i64.sub  global.set $fuel
   *  global.get $fuel  i64.const 0  i64.lt_s
   *  if  global.get $fuel  (global.get $handle)  call $out_of_fuel  global.set $fuel  end`,
   *  its `if` hinted unlikely.
   */
  #check(cost: number): void {
    const { ctx, out } = this;
    const fuel = ctx.fuelGlobal;
    out.reserve(40);
    out.u8(0x23), out.u32(fuel), out.u8(0x42), out.positiveS64(cost);
    out.u8(0x7d), out.u8(0x24), out.u32(fuel), out.u8(0x23), out.u32(fuel);
    out.u8(0x42), out.u8(0x00), out.u8(0x53);
    ctx.addHint(out.len, 0); // unlikely
    out.u8(0x04), out.u8(0x40), out.u8(0x23), out.u32(fuel);
    if (ctx.handleGlobal >= 0) out.u8(0x23), out.u32(ctx.handleGlobal);
    out.u8(0x10), out.u32(ctx.yieldFunction), out.u8(0x24), out.u32(fuel), out.u8(0x0b);
  }
}

/**
 * The guest's branch hints from its first hint section, by function index, as [offset,
 * value] pairs; null if the section is malformed (the engine then ignores all of them).
 */
function readBranchHints(bytes: Uint8Array, section: SectionInfo): Map<number, number[]> | null {
  const hints = new Map<number, number[]>();
  try {
    const reader = new ByteReader(bytes, section.contentStart, section.end, BRANCH_HINT_SECTION);
    reader.name();
    const count = reader.u32();
    let lastFunction = -1;
    for (let i = 0; i < count; i++) {
      const index = reader.u32();
      if (index <= lastFunction) return null;
      lastFunction = index;
      const pairs: number[] = [];
      const n = reader.u32();
      let lastOffset = -1;
      for (let j = 0; j < n; j++) {
        const offset = reader.u32();
        if (offset <= lastOffset || reader.u32() !== 1) return null;
        lastOffset = offset;
        const value = reader.u8();
        if (value > 1) return null;
        pairs.push(offset, value);
      }
      hints.set(index, pairs);
    }
    return reader.atEnd() ? hints : null;
  } catch (error) {
    if (error instanceof WasmFormatError) return null;
    throw error;
  }
}

/** Skips a function body's local declarations; returns where its code starts. */
function skipLocals(ctx: Context, pos: number, end: number): number {
  const bytes = ctx.bytes;
  const groups = ctx.u32At(pos);
  pos = ctx.next;
  for (let i = 0; i < groups && pos < end; i++) {
    ctx.u32At(pos);
    pos = skipValType(bytes, ctx.next);
  }
  if (pos > end) ctx.fail("unexpected end of the local declarations", end);
  return pos;
}

// --- other sections with function indices ---------------------------------------------------

/** `bytes[start, end)` with the recorded edits applied (no check points). */
function editedCopy(ctx: Context, start: number, end: number): Uint8Array {
  const out = new Out(end - start + indexEditsGrowth(ctx));
  applyIndexEdits(ctx, out, start, end);
  return out.finish();
}

/** The global section with `ref.func` renumbered in initializers and the fuel global added. */
function rewriteGlobals(ctx: Context, start: number, end: number, fuel: Uint8Array): Uint8Array {
  ctx.reset();
  ctx.where = "the global section";
  const count = ctx.u32At(start);
  let pos = ctx.next;
  const itemsStart = pos;
  for (let i = 0; i < count; i++) {
    pos = skipValType(ctx.bytes, pos) + 1; // type, mutability
    pos = walk(ctx, pos, end, false);
  }
  const writer = new ByteWriter(end - start + fuel.length + 8).u32(count + 1);
  writer.bytes(editedCopy(ctx, itemsStart, end));
  return writer.bytes(fuel).finish();
}

/** The table section, if a table's initializer refers to a defined function; else null. */
function rewriteTables(ctx: Context, start: number, end: number): Uint8Array | null {
  ctx.reset();
  ctx.where = "the table section";
  const bytes = ctx.bytes;
  const count = ctx.u32At(start);
  let pos = ctx.next;
  for (let i = 0; i < count; i++) {
    const withInit = bytes[pos] === 0x40;
    if (withInit) pos += 2; // 0x40 0x00
    pos = skipValType(bytes, pos);
    const flags = bytes[pos++];
    pos = skipLeb(bytes, pos); // minimum
    if ((flags & 0x01) !== 0) pos = skipLeb(bytes, pos); // maximum
    if (withInit) pos = walk(ctx, pos, end, false);
  }
  return ctx.editCount === 0 ? null : editedCopy(ctx, start, end);
}

/**
 * The element section with function indices renumbered, in all eight segment encodings
 * (bit 0: passive or declarative; bit 1: explicit table index, or declarative; bit 2:
 * expressions instead of function indices). Null if no index changes.
 */
function rewriteElements(ctx: Context, start: number, end: number): Uint8Array | null {
  ctx.reset();
  ctx.where = "the element section";
  const bytes = ctx.bytes;
  const count = ctx.u32At(start);
  let pos = ctx.next;
  for (let i = 0; i < count; i++) {
    const flagsAt = pos;
    const flags = ctx.u32At(pos);
    pos = ctx.next;
    if (flags > 7) ctx.fail(`invalid element segment flags ${flags}`, flagsAt);
    const active = (flags & 0x01) === 0;
    const explicitTable = (flags & 0x02) !== 0;
    const expressions = (flags & 0x04) !== 0;
    if (active && explicitTable) pos = skipLeb(bytes, pos); // table index
    if (active) pos = walk(ctx, pos, end, false); // offset
    // The element kind (0x00, funcref) or reference type; absent in encodings 0 and 4.
    if (!active || explicitTable) pos = expressions ? skipValType(bytes, pos) : pos + 1;
    const items = ctx.u32At(pos);
    pos = ctx.next;
    for (let j = 0; j < items; j++) {
      pos = expressions ? walk(ctx, pos, end, false) : ctx.funcIndexAt(pos);
      if (pos > end) ctx.fail("unexpected end of section", end);
    }
  }
  if (pos !== end) ctx.fail(`${end - pos} bytes left over at the end of the section`, pos);
  return ctx.editCount === 0 ? null : editedCopy(ctx, start, end);
}

/**
 * The export section with function exports renumbered and the fuel global's export added (if
 * `fuel` is given). Null if nothing changes.
 */
function rewriteExports(
  ctx: Context,
  start: number,
  end: number,
  fuel: Uint8Array | null,
): Uint8Array | null {
  ctx.reset();
  ctx.where = "the export section";
  const count = ctx.u32At(start);
  let pos = ctx.next;
  const itemsStart = pos;
  for (let i = 0; i < count; i++) {
    const nameLength = ctx.u32At(pos);
    pos = ctx.next + nameLength;
    const kind = ctx.bytes[pos++];
    pos = kind === 0x00
      ? ctx.funcIndexAt(pos)
      : kind === 0x03
      ? ctx.globalIndexAt(pos)
      : skipLeb(ctx.bytes, pos);
  }
  if (fuel === null) return ctx.editCount === 0 ? null : editedCopy(ctx, start, end);
  const writer = new ByteWriter(end - start + fuel.length + 8).u32(count + 1);
  writer.bytes(editedCopy(ctx, itemsStart, end));
  return writer.bytes(fuel).finish();
}

// --- the process handle ---------------------------------------------------------------------

/** A plain function type: `type`'s parameters and an externref more, and its results. */
function withHandleParam(bytes: Uint8Array, type: TypeEncoding): Uint8Array {
  const reader = new ByteReader(bytes, type.paramsAt, type.end, "the type section");
  const params = reader.u32();
  return new ByteWriter(type.end - type.paramsAt + 8).u8(0x60).u32(params + 1)
    .bytes(bytes.subarray(reader.pos, type.resultsAt)).u8(0x6f)
    .bytes(bytes.subarray(type.resultsAt, type.end)).finish();
}

/** The import section `bytes[start, end)` with each function import's type given a handle. */
function rewriteImportTypes(
  bytes: Uint8Array,
  start: number,
  end: number,
  functionImports: ModuleInfo["functionImportTypes"],
  handleTypes: ReadonlyMap<number, number>,
): Uint8Array {
  const writer = new ByteWriter(end - start + functionImports.length * 2);
  let from = start;
  for (const entry of functionImports) {
    writer.bytes(bytes.subarray(from, entry.start)).u32(handleTypes.get(entry.index)!);
    from = entry.end;
  }
  return writer.bytes(bytes.subarray(from, end)).finish();
}

/**
 * The body of the adapter for function import `index` (of `params` parameters): calls it with
 * the parameters and the handle (global `handle`).
 */
function adapterBody(params: number, handle: number, index: number): Uint8Array {
  const code = new ByteWriter(params * 3 + 16).u8(0x00); // no locals
  for (let i = 0; i < params; i++) code.u8(0x20).u32(i);
  code.u8(0x23).u32(handle).u8(0x10).u32(index).u8(0x0b);
  const body = code.finish();
  return new ByteWriter(body.length + 5).u32(body.length).bytes(body).finish();
}

/** The data section with global indices in offset expressions moved past the handle. */
function rewriteData(ctx: Context, start: number, end: number): Uint8Array | null {
  ctx.reset();
  ctx.where = "the data section";
  const bytes = ctx.bytes;
  const count = ctx.u32At(start);
  let pos = ctx.next;
  for (let i = 0; i < count; i++) {
    const flagsAt = pos;
    const flags = ctx.u32At(pos);
    pos = ctx.next;
    if (flags > 2) ctx.fail(`invalid data segment flags ${flags}`, flagsAt);
    if (flags === 2) pos = skipLeb(bytes, pos); // memory index
    if (flags !== 1) pos = walk(ctx, pos, end, false); // offset
    const size = ctx.u32At(pos);
    pos = ctx.next + size;
    if (pos > end) ctx.fail("unexpected end of section", end);
  }
  if (pos !== end) ctx.fail(`${end - pos} bytes left over at the end of the section`, pos);
  return ctx.editCount === 0 ? null : editedCopy(ctx, start, end);
}

// --- the name section -----------------------------------------------------------------------

const NAMES_FUNCTIONS = 1;
const NAMES_LOCALS = 2;
const NAMES_LABELS = 3;
const NAMES_GLOBALS = 7;

/**
 * The "name" custom section (`content` starts with the section's name) with function indices
 * renumbered in the function names (subsection 1), and in the local and label names (2, 3),
 * which are keyed by function index, and global indices past the handle in the global names
 * (7) when `importedGlobals` is not -1. Other subsections are copied. A malformed name section
 * is kept as it is: engines ignore it.
 */
function rewriteNameSection(
  content: Uint8Array,
  imported: number,
  importedGlobals: number,
): Uint8Array | null {
  try {
    const reader = new ByteReader(content, 0, content.length, "the name section");
    reader.name();
    const writer = new ByteWriter(content.length + 64).bytes(content.subarray(0, reader.pos));
    while (!reader.atEnd()) {
      const id = reader.u8();
      const size = reader.u32();
      const sub = reader.sub(size, "the name section");
      const globals = id === NAMES_GLOBALS && importedGlobals >= 0;
      if (id !== NAMES_FUNCTIONS && id !== NAMES_LOCALS && id !== NAMES_LABELS && !globals) {
        writer.u8(id).u32(size).bytes(content.subarray(sub.pos, sub.end));
        continue;
      }
      const body = new ByteWriter(size + 16);
      const count = sub.u32();
      body.u32(count);
      for (let i = 0; i < count; i++) {
        const index = sub.u32();
        body.u32(globals ? renumber(index, importedGlobals) : renumber(index, imported));
        const from = sub.pos;
        if (id === NAMES_FUNCTIONS || globals) {
          sub.skip(sub.u32());
        } else {
          const names = sub.u32();
          for (let j = 0; j < names; j++) {
            sub.u32();
            sub.skip(sub.u32());
          }
        }
        body.bytes(content.subarray(from, sub.pos));
      }
      if (!sub.atEnd()) sub.fail("bytes left over at the end of a name subsection");
      const encoded = body.finish();
      writer.u8(id).u32(encoded.length).bytes(encoded);
    }
    return writer.finish();
  } catch (error) {
    if (error instanceof WasmFormatError) return null;
    throw error;
  }
}
