/**
 * The preemption and fuel instrumentation pass: instrumented modules validate, behave as the
 * originals (C programs at -O0 and -O2, WAT for every feature family, hand-assembled modules
 * for what wat2wasm 1.0.32 cannot write), call out_of_fuel as often as their work says, and
 * keep their names, exports, start function and custom sections.
 */
import assert from "node:assert/strict";
import { compileC, compileWat } from "./helpers/compile.ts";
import { fileURLToPath } from "node:url";
import { ByteReader, ByteWriter, WasmFormatError } from "../runtime/wasm/bytes.ts";
import { type ModuleInfo, parseModule } from "../runtime/wasm/module_info.ts";
import {
  FUEL_GLOBAL_EXPORT,
  HANDLE_IMPORT,
  instrument,
  type InstrumentOptions,
  type InstrumentResult,
  YIELD_IMPORT,
} from "../runtime/wasm/instrument.ts";

// --- building guests --------------------------------------------------------------------------

/**
 * wat2wasm 1.0.32's features: all of `--enable-all` but typed function references, with which
 * it wrongly rejects `ref.func` where a funcref is expected (in globals, tables, elements).
 */
const WAT_FEATURES = [
  "--enable-exceptions",
  "--enable-threads",
  "--enable-tail-call",
  "--enable-multi-memory",
  "--enable-extended-const",
  "--enable-relaxed-simd",
  "--enable-memory64",
  "--enable-annotations",
  "--enable-code-metadata",
];

/** Compiles WAT with the features above (names kept in the name section). */
const wat = (source: string) => compileWat(source, WAT_FEATURES);

/** Compiles C with clang-14 (`flags` choose the target, optimization and libraries). */
const clang = (source: string, flags: string[]) => compileC(source, flags);

/** The text of `wasm2wat` for a module (names from the name section). */
async function wasm2wat(bytes: Uint8Array): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "wasm_instrument_" });
  try {
    await Deno.writeFile(`${dir}/m.wasm`, bytes);
    const { success, stdout, stderr } = await new Deno.Command("wasm2wat", {
      args: [...WAT_FEATURES.filter((f) => f !== "--enable-code-metadata"), "m.wasm"],
      cwd: dir,
    }).output();
    if (!success) throw new Error(`wasm2wat failed: ${new TextDecoder().decode(stderr)}`);
    return new TextDecoder().decode(stdout);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

// --- a tiny assembler, for what wat2wasm 1.0.32 cannot write ---------------------------------

const leb = (n: number): number[] => [...new ByteWriter(8).u32(n).finish()];
const sleb = (n: number): number[] => [...new ByteWriter(8).signed(n).finish()];
const str = (s: string): number[] => [...new ByteWriter().name(s).finish()];
const vec = (items: number[][]): number[] => [...leb(items.length), ...items.flat()];
const section = (
  id: number,
  content: number[],
): number[] => [id, ...leb(content.length), ...content];

interface Assembly {
  types?: number[][];
  imports?: number[][];
  functions?: { type: number; locals?: number[][]; code: number[] }[];
  tables?: number[][];
  memories?: number[][];
  tags?: number[];
  globals?: number[][];
  exports?: [string, number, number][];
  start?: number;
  elements?: number[][];
  customBeforeCode?: [string, number[]][];
}

function assemble(m: Assembly): Uint8Array<ArrayBuffer> {
  const out = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];
  if (m.types) out.push(...section(1, vec(m.types)));
  if (m.imports) out.push(...section(2, vec(m.imports)));
  const functions = m.functions ?? [];
  if (functions.length > 0) out.push(...section(3, vec(functions.map((f) => leb(f.type)))));
  if (m.tables) out.push(...section(4, vec(m.tables)));
  if (m.memories) out.push(...section(5, vec(m.memories)));
  if (m.tags) out.push(...section(13, vec(m.tags.map((t) => [0x00, ...leb(t)]))));
  if (m.globals) out.push(...section(6, vec(m.globals)));
  if (m.exports) {
    out.push(...section(7, vec(m.exports.map(([n, kind, i]) => [...str(n), kind, ...leb(i)]))));
  }
  if (m.start !== undefined) out.push(...section(8, leb(m.start)));
  if (m.elements) out.push(...section(9, vec(m.elements)));
  for (const [name, content] of m.customBeforeCode ?? []) {
    out.push(...section(0, [...str(name), ...content]));
  }
  if (functions.length > 0) {
    out.push(...section(
      10,
      vec(functions.map((f) => {
        const body = [...vec(f.locals ?? []), ...f.code];
        return [...leb(body.length), ...body];
      })),
    ));
  }
  return new Uint8Array(out);
}

/** Appends a custom section (a name and a payload) to a module. */
function withCustomSection(bytes: Uint8Array, name: string, payload: number[]): Uint8Array {
  return new Uint8Array([...bytes, ...section(0, [...str(name), ...payload])]);
}

// --- running guests ---------------------------------------------------------------------------

class OutOfFuelStop extends Error {}

/**
 * The host side of out_of_fuel: gets what is left of the counter, refills it and counts the
 * calls, and measures the fuel consumed (each call adds what was spent since the last refill).
 * With `stopAfter`, the call that many times throws instead (to end an infinite loop).
 * `global` and `measure` need the counter exported ({@link EXPORTED}).
 */
class FuelMeter {
  calls = 0;
  consumed = 0n;
  instance: WebAssembly.Instance | null = null;
  #lastSet = 0n;

  constructor(readonly refill: bigint, readonly stopAfter = Infinity) {}

  get global(): WebAssembly.Global {
    return this.instance!.exports[FUEL_GLOBAL_EXPORT] as WebAssembly.Global;
  }

  readonly outOfFuel = (counter: bigint): bigint => {
    this.calls++;
    if (this.calls >= this.stopAfter) throw new OutOfFuelStop(`stopped after ${this.calls} calls`);
    this.consumed += this.#lastSet - counter;
    this.#lastSet = this.refill;
    return this.refill;
  };

  /** Fuel consumed by `run`, starting from a full counter. */
  measure<T>(run: () => T): { result: T; consumed: bigint; calls: number } {
    this.global.value = this.#lastSet = this.refill;
    this.consumed = 0n;
    const calls = this.calls;
    const result = run();
    this.consumed += this.#lastSet - (this.global.value as bigint);
    return { result, consumed: this.consumed, calls: this.calls - calls };
  }
}

interface Both {
  original: WebAssembly.Instance;
  instrumented: WebAssembly.Instance;
  /** Instrumented with `processHandle` too, its imports checking the handle they get. */
  handled: WebAssembly.Instance;
  meter: FuelMeter;
  result: InstrumentResult;
  info: ModuleInfo;
}

/**
 * Instruments `bytes` (checking that the result validates and parses) and instantiates the
 * original and the instrumented module, each with the imports `makeImports` gives it.
 */
function instantiateBoth(
  bytes: Uint8Array,
  makeImports: () => WebAssembly.Imports = () => ({}),
  options: { refill?: bigint; stopAfter?: number; instrument?: InstrumentOptions } = {},
): Both {
  const info = parseModule(bytes);
  const result = instrument(bytes, info, { ...options.instrument, ...EXPORTED });
  assert.ok(WebAssembly.validate(result.bytes), "the instrumented module validates");
  parseModule(result.bytes);
  const original = new WebAssembly.Instance(
    new WebAssembly.Module(bytes as Uint8Array<ArrayBuffer>),
    makeImports(),
  );
  const meter = new FuelMeter(options.refill ?? 10_000n, options.stopAfter);
  const imports = makeImports();
  imports[YIELD_IMPORT.module] = { [YIELD_IMPORT.name]: meter.outOfFuel };
  meter.instance = new WebAssembly.Instance(new WebAssembly.Module(result.bytes), imports);
  return {
    original,
    instrumented: meter.instance,
    handled: handledInstance(bytes, info, makeImports, options),
    meter,
    result,
    info,
  };
}

/** The handle {@link handledInstance} passes: any JS value, as the host gives its process. */
const HANDLE = { process: "a handle" };

/**
 * `bytes` instrumented with `processHandle`, linked to `makeImports()` through wrappers that
 * check and drop the handle each host call gets last.
 */
function handledInstance(
  bytes: Uint8Array,
  info: ModuleInfo,
  makeImports: () => WebAssembly.Imports,
  options: { refill?: bigint; stopAfter?: number; instrument?: InstrumentOptions },
): WebAssembly.Instance {
  const result = instrument(bytes, info, { ...options.instrument, processHandle: true });
  assert.ok(WebAssembly.validate(result.bytes), "the module with a process handle validates");
  const given = makeImports();
  const module = new WebAssembly.Module(result.bytes);
  const imports: WebAssembly.Imports = {};
  for (const { module: from, name, kind } of WebAssembly.Module.imports(module)) {
    if (from === YIELD_IMPORT.module) continue;
    const value = given[from][name];
    imports[from] ??= {};
    imports[from][name] = kind !== "function" ? value : (...args: unknown[]) => {
      const handle = args.pop();
      assert.equal(handle, HANDLE, `${from}::${name} gets the handle last`);
      return (value as (...a: unknown[]) => unknown)(...args);
    };
  }
  const meter = new FuelMeter(options.refill ?? 10_000n, options.stopAfter);
  imports[YIELD_IMPORT.module] = {
    [YIELD_IMPORT.name]: (counter: bigint, handle: unknown) => {
      assert.equal(handle, HANDLE, "out_of_fuel gets the handle");
      return meter.outOfFuel(counter);
    },
    [HANDLE_IMPORT.name]: HANDLE as unknown as WebAssembly.ImportValue,
  };
  return new WebAssembly.Instance(module, imports);
}

/** The counter exported, so that tests can read and set it. */
const EXPORTED: InstrumentOptions = { exportFuelCounter: true };

/** Instrumentation without unrolling and without leaving leaf checks out (counter exported). */
const PLAIN: InstrumentOptions = {
  unrollLoops: false,
  chargeLeavesAtCallSites: false,
  exportFuelCounter: true,
};

/**
 * {@link instantiateBoth}, after {@link assertOnlyChecksAdded} on the plain instrumentation
 * (the default one differs from it only by unrolled loops and leaves without checks, which the
 * same calls on both instances cover).
 */
async function checkedBoth(
  bytes: Uint8Array,
  makeImports?: () => WebAssembly.Imports,
  options?: Parameters<typeof instantiateBoth>[2],
): Promise<Both> {
  const both = instantiateBoth(bytes, makeImports, options);
  await assertOnlyChecksAdded(bytes, instrument(bytes, parseModule(bytes), PLAIN));
  return both;
}

type Outcome = { value: unknown } | { error: string };

function outcome(run: () => unknown): Outcome {
  try {
    return { value: run() };
  } catch (error) {
    const e = error as Error;
    return { error: `${e.constructor.name}: ${e.message}` };
  }
}

/** Calls each export with its arguments on both instances and expects the same outcomes. */
function sameCalls(both: Both, calls: [string, ...unknown[]][]): Outcome[] {
  const results: Outcome[] = [];
  for (const [name, ...args] of calls) {
    const call = (instance: WebAssembly.Instance) => () =>
      (instance.exports[name] as (...a: unknown[]) => unknown)(...args);
    const expected = outcome(call(both.original));
    const actual = outcome(call(both.instrumented));
    assert.deepEqual(actual, expected, `${name}(${args.join(", ")})`);
    const handled = outcome(call(both.handled));
    assert.deepEqual(handled, expected, `${name}(${args.join(", ")}) with a process handle`);
    results.push(actual);
  }
  return results;
}

/** The lines of wasm2wat's output that belong to function definitions, trimmed. */
function functionLines(text: string): string[] {
  const lines = text.split("\n");
  const first = lines.findIndex((line) => line.startsWith("  (func "));
  if (first < 0) return [];
  let end = first + 1;
  while (
    end < lines.length && !(/^ {2}\(/.test(lines[end]) && !lines[end].startsWith("  (func "))
  ) {
    end++;
  }
  const result = lines.slice(first, end).map((line) => line.trim()).filter((line) => line !== ")");
  // A function's closing parenthesis ends its last line: drop it, so that code can be compared.
  return result.map((line, i) =>
    i + 1 === result.length || result[i + 1].startsWith("(func ") ? line.replace(/\)$/, "") : line
  );
}

/**
 * Disassembles both modules and checks that the instrumented functions are the original ones
 * with exactly one check at every function entry and loop header, and nothing else changed
 * (with names in the name section, a wrongly renumbered call would show a wrong name).
 */
async function assertOnlyChecksAdded(original: Uint8Array, result: InstrumentResult) {
  const before = functionLines(await wasm2wat(original));
  // Unnamed functions appear as indices: put the original ones back for the comparison.
  const yieldIndex = result.yieldFunctionIndex;
  const after = functionLines(await wasm2wat(result.bytes)).map((line) =>
    line.replace(
      /^(\(func \(;|call |return_call |ref\.func )(\d+)/,
      (all, head: string, index: string) =>
        Number(index) > yieldIndex ? `${head}${Number(index) - 1}` : all,
    )
  );
  const fuel = parseModule(result.bytes).exports.find((e) => e.name === FUEL_GLOBAL_EXPORT)!.index;
  const check: (string | RegExp)[] = [
    `global.get ${fuel}`,
    /^i64\.const [1-9]\d*$/,
    "i64.sub",
    `global.set ${fuel}`,
    `global.get ${fuel}`,
    "i64.const 0",
    "i64.lt_s",
    /^if {2};; label = @\d+$/,
    `global.get ${fuel}`,
    `call ${result.yieldFunctionIndex}`,
    `global.set ${fuel}`,
    "end",
  ];
  const matches = (at: number) =>
    check.every((want, k) =>
      typeof want === "string" ? after[at + k] === want : want.test(after[at + k] ?? "")
    );
  const stripped: string[] = [];
  let checks = 0;
  for (let i = 0; i < after.length; i++) {
    if (matches(i)) {
      checks++;
      i += check.length - 1;
    } else {
      stripped.push(after[i]);
    }
  }
  assert.deepEqual(stripped, before, "only the checks were added");
  const functions = before.filter((line) => line.startsWith("(func ")).length;
  const loops = before.filter((line) => /^loop\b/.test(line)).length;
  assert.equal(checks, functions + loops, "one check per function entry and per loop header");
}

/** Function names of a parsed module, as [index, name] pairs. */
const namesOf = (info: ModuleInfo) => [...info.functionNames.entries()];

/** The original function index `i` after instrumentation. */
const shifted = (info: ModuleInfo, i: number) => i >= info.importedFunctionCount ? i + 1 : i;

// --- structure --------------------------------------------------------------------------------

Deno.test("instrument adds the out_of_fuel import and the fuel global, exported only if asked", async () => {
  const bytes = await wat(`(module
    (import "env" "f" (func $f))
    (import "env" "g" (global $g i32))
    (import "env" "h" (func $h (param i32)))
    (global $mine (mut i32) (i32.const 3))
    (memory (export "memory") 1)
    (func $a (export "a") (result i32) (call $f) (call $b))
    (func $b (result i32) (global.get $g)))`);
  const info = parseModule(bytes);
  const unexported = parseModule(instrument(bytes, info).bytes);
  assert.deepEqual(unexported.exports, [
    { name: "memory", kind: "memory", index: 0 },
    { name: "a", kind: "func", index: 3 },
  ], "by default the counter is not exported");
  const result = instrument(bytes, info, EXPORTED);
  assert.equal(result.yieldFunctionIndex, 2, "the yield import follows the two function imports");
  const out = parseModule(result.bytes);
  assert.equal(out.importedFunctionCount, 3);
  assert.deepEqual(out.imports.at(-1), {
    module: "lunatic::internal",
    name: "out_of_fuel",
    kind: "func",
    type: { params: ["i64"], results: ["i64"] },
  });
  assert.equal(out.types.length, info.types.length + 1, "an (i64) -> (i64) type is added");
  assert.deepEqual(out.exports.find((e) => e.name === FUEL_GLOBAL_EXPORT), {
    name: FUEL_GLOBAL_EXPORT,
    kind: "global",
    index: 2, // after the imported $g and the defined $mine
  });
  assert.deepEqual(
    out.exports.filter((e) => e.name !== FUEL_GLOBAL_EXPORT),
    info.exports.map((e) => e.kind === "func" ? { ...e, index: shifted(info, e.index) } : e),
  );
  assert.deepEqual(out.codeBodies, result.codeBodies, "codeBodies are the new bodies' ranges");

  const module = new WebAssembly.Module(result.bytes);
  const fuelImport = WebAssembly.Module.imports(module).at(-1);
  assert.deepEqual(fuelImport, {
    module: "lunatic::internal",
    name: "out_of_fuel",
    kind: "function",
  });
  let fCalls = 0;
  const fuel = new FuelMeter(100n);
  fuel.instance = new WebAssembly.Instance(module, {
    env: { f: () => fCalls++, g: 42, h: () => {} },
    "lunatic::internal": { out_of_fuel: fuel.outOfFuel },
  });
  const global = fuel.global;
  assert.equal(global.value, 0n, "the counter starts at 0 by default");
  assert.equal((fuel.instance.exports.a as () => number)(), 42);
  assert.equal(fCalls, 1);
  assert.equal(fuel.calls, 1, "the first check point found the counter empty");
  assert.equal(
    global.value,
    100n,
    "a's entry check paid for the small leaf $b: no check of its own",
  );
  global.value = -5n; // the counter is mutable from the host
  assert.equal(global.value, -5n);
});

Deno.test("instrument handles a module without type, import, global or export section", async () => {
  for (const source of ["(module)", "(module (memory 1))", "(module (func (nop)))"]) {
    const bytes = await wat(source);
    const info = parseModule(bytes);
    const plain = instrument(bytes, info);
    assert.ok(WebAssembly.validate(plain.bytes), source);
    assert.deepEqual(parseModule(plain.bytes).exports, [], "no export section is added");
    const result = instrument(bytes, info, EXPORTED);
    assert.ok(WebAssembly.validate(result.bytes), source);
    const out = parseModule(result.bytes);
    const yieldTypes = out.types.filter((t) =>
      t.params.join() === "i64" && t.results.join() === "i64"
    );
    assert.equal(yieldTypes.length, 1);
    assert.equal(out.importedFunctionCount, 1);
    assert.deepEqual(out.exports, [{ name: FUEL_GLOBAL_EXPORT, kind: "global", index: 0 }]);
    const meter = new FuelMeter(5n);
    meter.instance = new WebAssembly.Instance(new WebAssembly.Module(result.bytes), {
      "lunatic::internal": { out_of_fuel: meter.outOfFuel },
    });
    assert.equal(meter.global.value, 0n);
  }
});

Deno.test("instrument adds an (i64) -> (i64) type only when the module has none", async () => {
  const without = await wat(`(module (func (export "f") (param i32) (result i32) (local.get 0)))`);
  const info = parseModule(without);
  const out = parseModule(instrument(without, info).bytes);
  assert.equal(out.types.length, info.types.length + 1);
  assert.deepEqual(out.types.at(-1), { params: ["i64"], results: ["i64"] });
  const withIt = await wat(`(module (func (export "f") (param i64) (result i64) (local.get 0)))`);
  const reused = parseModule(instrument(withIt, parseModule(withIt)).bytes);
  assert.equal(reused.types.length, 1, "the module's own (i64) -> (i64) type is used");
});

Deno.test("exporting the counter is refused where the module already uses its name", async () => {
  const bytes = await wat(`(module (global (export "${FUEL_GLOBAL_EXPORT}") i64 (i64.const 1)))`);
  assert.ok(WebAssembly.validate(instrument(bytes, parseModule(bytes)).bytes), "not exported");
  assert.throws(
    () => instrument(bytes, parseModule(bytes), EXPORTED),
    (error: unknown) =>
      error instanceof WasmFormatError &&
      error.message.includes(`already exports "${FUEL_GLOBAL_EXPORT}"`),
  );
});

Deno.test("initialFuel sets the counter's starting value", async () => {
  const bytes = await wat(`(module (func $leaf) (func (export "f") (call $leaf)))`);
  const result = instrument(bytes, parseModule(bytes), { initialFuel: 1234n, ...EXPORTED });
  const meter = new FuelMeter(1n);
  meter.instance = new WebAssembly.Instance(new WebAssembly.Module(result.bytes), {
    "lunatic::internal": { out_of_fuel: meter.outOfFuel },
  });
  assert.equal(meter.global.value, 1234n);
  (meter.instance.exports.f as () => void)();
  assert.equal(meter.global.value, 1232n, "the call costs 1, and the empty leaf 1 more");
  assert.equal(meter.calls, 0);
});

// --- feature families -------------------------------------------------------------------------

Deno.test("sign extension and saturating conversions behave the same", async () => {
  const both = await checkedBoth(
    await wat(`(module
      (func (export "ext32") (param i32) (result i32)
        (i32.add (i32.extend8_s (local.get 0)) (i32.extend16_s (local.get 0))))
      (func (export "ext64") (param i64) (result i64)
        (i64.add (i64.add (i64.extend8_s (local.get 0)) (i64.extend16_s (local.get 0)))
                 (i64.extend32_s (local.get 0))))
      (func (export "sat") (param f64) (result i64)
        (local $f f32)
        (local.set $f (f32.demote_f64 (local.get 0)))
        (i64.add
          (i64.add
            (i64.add (i64.extend_i32_s (i32.trunc_sat_f32_s (local.get $f)))
                     (i64.extend_i32_u (i32.trunc_sat_f32_u (local.get $f))))
            (i64.add (i64.extend_i32_s (i32.trunc_sat_f64_s (local.get 0)))
                     (i64.extend_i32_u (i32.trunc_sat_f64_u (local.get 0)))))
          (i64.add
            (i64.add (i64.trunc_sat_f32_s (local.get $f)) (i64.trunc_sat_f32_u (local.get $f)))
            (i64.add (i64.trunc_sat_f64_s (local.get 0)) (i64.trunc_sat_f64_u (local.get 0)))))))`),
  );
  const values = [0, 1, -1, 127, 128, 255, 0x7fff, 0x8000, 0x12345678, -0x80000000];
  sameCalls(both, values.map((v) => ["ext32", v]));
  sameCalls(both, values.map((v) => ["ext64", BigInt(v) * 0x1_0000_0001n]));
  const floats = [0, 1.5, -1.5, 3e9, -3e9, 1e19, -1e19, 1e30, NaN, Infinity, -Infinity];
  const results = sameCalls(both, floats.map((v) => ["sat", v]));
  assert.deepEqual(results[1], { value: 8n }, "1.5 truncates to 1, eight times");
});

Deno.test("bulk memory and table instructions behave the same", async () => {
  const both = await checkedBoth(
    await wat(`(module
      (memory 1)
      (data $d "hello, bulk memory!")
      (type $r (func (result i32)))
      (table $t 4 funcref)
      (elem $e func $one $two $three)
      (func $one (result i32) (i32.const 1))
      (func $two (result i32) (i32.const 2))
      (func $three (result i32) (i32.const 3))
      (func $sum (param $from i32) (param $to i32) (result i32) (local $s i32)
        (block $done
          (loop $l
            (br_if $done (i32.ge_u (local.get $from) (local.get $to)))
            (local.set $s (i32.add (i32.mul (local.get $s) (i32.const 31))
                                   (i32.load8_u (local.get $from))))
            (local.set $from (i32.add (local.get $from) (i32.const 1)))
            (br $l)))
        (local.get $s))
      (func (export "bulk") (result i32)
        (memory.init $d (i32.const 100) (i32.const 0) (i32.const 19))
        (data.drop $d)
        (memory.copy (i32.const 200) (i32.const 100) (i32.const 19))
        (memory.fill (i32.const 100) (i32.const 0x41) (i32.const 5))
        (call $sum (i32.const 100) (i32.const 219)))
      (func (export "dropped") (memory.init $d (i32.const 0) (i32.const 0) (i32.const 1)))
      (func (export "tables") (result i32)
        (table.init $t $e (i32.const 0) (i32.const 0) (i32.const 3))
        (elem.drop $e)
        (table.copy $t $t (i32.const 3) (i32.const 1) (i32.const 1))
        (drop (table.grow $t (ref.null func) (i32.const 2)))
        (table.fill $t (i32.const 4) (ref.func $three) (i32.const 2))
        (i32.add
          (i32.add (i32.mul (table.size $t) (i32.const 10000))
                   (i32.mul (call_indirect $t (type $r) (i32.const 0)) (i32.const 1000)))
          (i32.add (i32.mul (call_indirect $t (type $r) (i32.const 3)) (i32.const 100))
                   (i32.add (i32.mul (call_indirect $t (type $r) (i32.const 5)) (i32.const 10))
                            (call_indirect $t (type $r) (i32.const 1)))))))`),
  );
  const results = sameCalls(both, [["bulk"], ["dropped"], ["tables"]]);
  assert.deepEqual(results[2], { value: 61232 });
  assert.ok("error" in results[1], "memory.init of a dropped segment traps");
});

/** The flags (encodings 0-7) of a module's element segments. */
function elementFlags(bytes: Uint8Array): number[] {
  const info = parseModule(bytes);
  const sec = info.sections.find((s) => s.id === 9)!;
  const r = new ByteReader(bytes, sec.contentStart, sec.end);
  const skipExpr = () => {
    for (;;) {
      const op = r.u8();
      if (op === 0x0b) return;
      if (op === 0x41) r.s32();
      else if (op === 0xd2 || op === 0x23 || op === 0xd0) r.u32();
      else throw new Error(`unexpected opcode ${op}`);
    }
  };
  const flags: number[] = [];
  const count = r.u32();
  for (let i = 0; i < count; i++) {
    const f = r.u32();
    flags.push(f);
    if ((f & 1) === 0 && (f & 2) !== 0) r.u32();
    if ((f & 1) === 0) skipExpr();
    if ((f & 1) !== 0 || (f & 2) !== 0) r.u8();
    const n = r.u32();
    for (let j = 0; j < n; j++) (f & 4) !== 0 ? skipExpr() : r.u32();
  }
  return flags;
}

Deno.test("reference types: ref.func in globals and all eight element encodings are renumbered", async () => {
  const bytes = await wat(`(module
    (type $r (func (result i32)))
    (import "env" "forty" (func $imported (result i32)))
    (table $t0 8 funcref)
    (table $t1 8 funcref)
    (table $ext 2 externref)
    (func $a (result i32) (i32.const 10))
    (func $b (result i32) (i32.const 20))
    (func $c (result i32) (i32.const 30))
    (func $d (result i32) (i32.const 50))
    (global $g (export "g") funcref (ref.func $d))
    (global $gi funcref (ref.func $imported))
    (global $gn funcref (ref.null func))
    (elem (i32.const 0) $a $b)                                       ;; 0
    (elem $p1 func $c $d $imported)                                  ;; 1
    (elem (table $t1) (i32.const 0) func $b $a)                      ;; 2
    (elem declare func $c)                                           ;; 3
    (elem (i32.const 2) funcref (ref.func $c) (ref.null func))       ;; 4
    (elem $p5 funcref (ref.func $d) (ref.func $a) (ref.func $imported) (ref.null func)) ;; 5
    (elem (table $t1) (i32.const 2) funcref (ref.func $d) (ref.null func)) ;; 6
    (elem declare funcref (ref.func $b) (ref.null func))             ;; 7
    (func (export "call0") (param i32) (result i32) (call_indirect $t0 (type $r) (local.get 0)))
    (func (export "call1") (param i32) (result i32) (call_indirect $t1 (type $r) (local.get 0)))
    (func (export "init") (param i32)
      (table.init $t0 $p1 (i32.const 4) (i32.const 0) (i32.const 3))
      (table.init $t1 $p5 (i32.const 4) (i32.const 0) (i32.const 3)))
    (func (export "fromGlobals") (result i32)
      (table.set $t0 (i32.const 7) (global.get $g))
      (table.set $t1 (i32.const 7) (global.get $gi))
      (i32.add (call_indirect $t0 (type $r) (i32.const 7))
               (call_indirect $t1 (type $r) (i32.const 7))))
    (func (export "isNull") (param i32) (result i32)
      (i32.add (i32.mul (ref.is_null (global.get $gn)) (i32.const 10))
               (ref.is_null (table.get $t0 (local.get 0)))))
    (func (export "select") (param i32) (result i32)
      (table.set $t0 (i32.const 7)
        (select (result funcref) (ref.func $b) (ref.func $c) (local.get 0)))
      (call_indirect $t0 (type $r) (i32.const 7)))
    (func (export "externs") (param externref) (result i32)
      (table.set $ext (i32.const 0) (local.get 0))
      (i32.add (i32.mul (ref.is_null (table.get $ext (i32.const 0))) (i32.const 10))
               (ref.is_null (table.get $ext (i32.const 1))))))`);
  assert.deepEqual(elementFlags(bytes), [0, 1, 2, 3, 4, 5, 6, 7], "every encoding is present");
  const both = await checkedBoth(bytes, () => ({ env: { forty: () => 40 } }));
  const results = sameCalls(both, [
    ...[0, 1, 2, 3, 4].map((i): [string, number] => ["call0", i]),
    ...[0, 1, 2, 3, 4].map((i): [string, number] => ["call1", i]),
    ["init", 0],
    ...[4, 5, 6].map((i): [string, number] => ["call0", i]),
    ...[4, 5, 6].map((i): [string, number] => ["call1", i]),
    ["fromGlobals"],
    ["isNull", 3],
    ["isNull", 0],
    ["select", 1],
    ["select", 0],
    ["externs", "x"],
    ["externs", null],
  ]);
  assert.deepEqual(results.slice(0, 5).map((r) => "value" in r ? r.value : r.error).slice(0, 3), [
    10,
    20,
    30,
  ]);
  assert.deepEqual(results.slice(11, 17).map((r) => "value" in r && r.value), [
    30,
    50,
    40,
    50,
    10,
    40,
  ]);
  assert.deepEqual(results[17], { value: 90 });
  // The exported funcref global is the renumbered $d.
  const g = both.instrumented.exports.g as WebAssembly.Global;
  assert.equal((g.value as () => number)(), 50);
  assert.equal(elementFlags(both.result.bytes).join(), "0,1,2,3,4,5,6,7");
});

Deno.test("extended constant expressions in globals, element and data offsets are kept", async () => {
  const both = await checkedBoth(
    await wat(`(module
      (import "env" "base" (global $base i32))
      (type $r (func (result i32)))
      (memory 1)
      (table 8 funcref)
      (global $sum i32 (i32.add (global.get $base) (i32.mul (i32.const 2) (i32.const 3))))
      (global $wide i64 (i64.sub (i64.const 1000) (i64.mul (i64.const 7) (i64.const 9))))
      (elem (offset (i32.sub (global.get $base) (i32.const 98))) $x $y)
      (data (offset (i32.add (global.get $base) (i32.const 8))) "\\2a")
      (func $x (result i32) (i32.const 1))
      (func $y (result i32) (i32.const 2))
      (func (export "read") (result i64)
        (i64.add
          (i64.add (i64.extend_i32_u (global.get $sum)) (global.get $wide))
          (i64.extend_i32_u
            (i32.add (i32.load8_u (i32.const 108))
                     (i32.add (call_indirect (type $r) (i32.const 2))
                              (i32.mul (call_indirect (type $r) (i32.const 3)) (i32.const 10))))))))`),
    () => ({ env: { base: 100 } }),
  );
  const results = sameCalls(both, [["read"]]);
  assert.deepEqual(results[0], { value: 106n + 937n + 42n + 21n });
});

Deno.test("multi-value blocks, loops with parameters and multiple results behave the same", async () => {
  const both = await checkedBoth(
    await wat(`(module
      (type $pair (func (param i32 i32) (result i32 i32)))
      (func $swap (type $pair) (local.get 1) (local.get 0))
      (func (export "swapSub") (param i32 i32) (result i32)
        (local.get 0) (local.get 1)
        (block (type $pair) (call $swap))
        (i32.sub))
      (func (export "fib") (param $n i32) (result i64)
        (i64.const 0) (i64.const 1)
        (loop $l (param i64 i64) (result i64 i64)
          (local.set $n (i32.sub (local.get $n) (i32.const 1)))
          (call $step)
          (br_if $l (i32.gt_s (local.get $n) (i32.const 0))))
        (drop))
      (func $step (param i64 i64) (result i64 i64)
        (local.get 1) (i64.add (local.get 0) (local.get 1)))
      (func (export "three") (param i32) (result i32 i64 f64)
        (if (result i32 i64 f64) (local.get 0)
          (then (i32.const 1) (i64.const 2) (f64.const 3.5))
          (else (i32.const -1) (i64.const -2) (f64.const -3.5)))))`),
  );
  const results = sameCalls(both, [["swapSub", 10, 3], ["fib", 90], ["three", 1], ["three", 0]]);
  assert.deepEqual(results[0], { value: -7 });
  assert.deepEqual(results[1], { value: 2880067194370816120n });
  assert.deepEqual(results[2], { value: [1, 2n, 3.5] });
});

Deno.test("SIMD (memargs, lanes, v128.const, shuffles, load/store lane, relaxed) behaves the same", async () => {
  const both = await checkedBoth(
    await wat(`(module
      (memory 1)
      (func (export "simd") (param i32) (result i64) (local $v v128) (local $w v128)
        (v128.store (i32.const 0) (v128.const i32x4 1 2 3 4))
        (v128.store offset=16 align=8 (i32.const 0) (v128.const i64x2 0x0102030405060708 -9))
        (local.set $v (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23
                        (v128.load (i32.const 0)) (i32x4.splat (local.get 0))))
        (local.set $v (i32x4.replace_lane 3 (local.get $v) (i32.const 99)))
        (local.set $v (v128.load32_lane 2 (i32.const 8) (local.get $v)))
        (v128.store64_lane 1 (i32.const 64) (local.get $v))
        (local.set $w (v128.load8x8_s (i32.const 16)))
        (local.set $w (i16x8.add (local.get $w) (v128.load16_splat (i32.const 2))))
        (local.set $v (i32x4.add (local.get $v) (v128.load32_zero (i32.const 4))))
        (local.set $v (v128.bitselect (local.get $v) (local.get $w)
                        (v128.const i8x16 -1 0 -1 0 -1 0 -1 0 -1 0 -1 0 -1 0 -1 0)))
        (local.set $w (f64x2.mul (f64x2.convert_low_i32x4_s (local.get $v)) (f64x2.splat (f64.const 1.5))))
        (i64.add
          (i64.add (i64x2.extract_lane 0 (local.get $v)) (i64.load (i32.const 64)))
          (i64.add
            (i64.extend_i32_s (i8x16.extract_lane_s 9 (local.get $v)))
            (i64.add (i64.extend_i32_u (i16x8.extract_lane_u 7 (local.get $v)))
                     (i64.trunc_f64_s (f64x2.extract_lane 1 (local.get $w)))))))
      (func (export "relaxed") (param f32) (result i32)
        (i32x4.extract_lane 0
          (i32x4.add
            (i32x4.relaxed_trunc_f32x4_s (f32x4.relaxed_madd (f32x4.splat (local.get 0))
                                            (f32x4.splat (f32.const 2)) (f32x4.splat (f32.const 1))))
            (i32x4.relaxed_laneselect (v128.const i32x4 1 2 3 4) (v128.const i32x4 5 6 7 8)
                                      (v128.const i32x4 -1 0 -1 0)))))
      (func (export "dot") (param $n i32) (result i32) (local $i i32) (local $acc v128)
        (loop $l
          (i32.store (i32.shl (local.get $i) (i32.const 2)) (local.get $i))
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br_if $l (i32.lt_u (local.get $i) (local.get $n))))
        (local.set $i (i32.const 0))
        (loop $l
          (local.set $acc (i32x4.add (local.get $acc)
            (i32x4.dot_i16x8_s (v128.load (local.get $i)) (v128.load offset=16 (local.get $i)))))
          (local.set $i (i32.add (local.get $i) (i32.const 16)))
          (br_if $l (i32.lt_u (local.get $i) (i32.shl (local.get $n) (i32.const 2)))))
        (i32.add (i32x4.extract_lane 0 (local.get $acc)) (i32x4.extract_lane 3 (local.get $acc)))))`),
  );
  sameCalls(both, [["simd", 7], ["simd", -1], ["relaxed", 2.5], ["dot", 256]]);
});

Deno.test("exception handling (try, catch, catch_all, rethrow, delegate) behaves the same", async () => {
  const both = await checkedBoth(
    await wat(`(module
      (tag $e (param i32))
      (tag $other)
      (func $thrower (param i32)
        (if (i32.eq (local.get 0) (i32.const 1)) (then (throw $e (i32.const 11))))
        (if (i32.eq (local.get 0) (i32.const 2)) (then (throw $other))))
      (func (export "tryCatch") (param i32) (result i32)
        (try (result i32)
          (do (call $thrower (local.get 0)) (i32.const -1))
          (catch $e (i32.add (i32.const 100)))
          (catch_all (i32.const -2))))
      (func (export "rethrow") (param i32) (result i32)
        (try (result i32)
          (do
            (try (do (call $thrower (local.get 0))) (catch_all (rethrow 0)))
            (i32.const 0))
          (catch $e)
          (catch $other (i32.const 22))))
      (func (export "delegate") (param i32) (result i32)
        (try (result i32)
          (do
            (try (do (call $thrower (local.get 0))) (delegate 0))
            (i32.const 7))
          (catch $e (i32.add (i32.const 1000)))))
      (func (export "loopThrow") (param $n i32) (result i32) (local $i i32)
        (try (result i32)
          (do
            (loop $l
              (local.set $i (i32.add (local.get $i) (i32.const 1)))
              (if (i32.eq (local.get $i) (local.get $n)) (then (throw $e (local.get $i))))
              (br $l))
            (unreachable))
          (catch $e))))`),
  );
  const results = sameCalls(both, [
    ...[0, 1, 2].map((i): [string, number] => ["tryCatch", i]),
    ...[0, 1, 2].map((i): [string, number] => ["rethrow", i]),
    ...[0, 1, 2].map((i): [string, number] => ["delegate", i]),
    ["loopThrow", 50_000],
  ]);
  assert.deepEqual(results.map((r) => "value" in r ? r.value : "error"), [
    -1,
    111,
    -2,
    0,
    11,
    22,
    7,
    1011,
    "error",
    50_000,
  ]);
  assert.ok(both.meter.calls > 0);
});

Deno.test("tail calls (return_call, return_call_indirect) still do not grow the stack", async () => {
  const both = await checkedBoth(
    await wat(`(module
      (type $t (func (param i64 i64) (result i64)))
      (table 1 funcref)
      (elem (i32.const 0) $sumIndirect)
      (func $sum (export "sum") (type $t)
        (if (result i64) (i64.eqz (local.get 0))
          (then (local.get 1))
          (else (return_call $sum (i64.sub (local.get 0) (i64.const 1))
                                  (i64.add (local.get 1) (local.get 0))))))
      (func $sumIndirect (export "sumIndirect") (type $t)
        (if (result i64) (i64.eqz (local.get 0))
          (then (local.get 1))
          (else (return_call_indirect (type $t) (i64.sub (local.get 0) (i64.const 1))
                                      (i64.add (local.get 1) (local.get 0)) (i32.const 0))))))`),
  );
  const results = sameCalls(both, [["sum", 3_000_000n, 0n], ["sumIndirect", 3_000_000n, 0n]]);
  assert.deepEqual(results[0], { value: 4_500_001_500_000n });
  assert.deepEqual(results[1], { value: 4_500_001_500_000n });
});

Deno.test("multi-memory and memory64 behave the same", async () => {
  const both = await checkedBoth(
    await wat(`(module
      (memory $m0 1)
      (memory $m1 2 4)
      (memory $m64 i64 1)
      (func (export "memories") (result i64)
        (i32.store $m1 offset=8 (i32.const 0) (i32.const 42))
        (memory.copy $m0 $m1 (i32.const 0) (i32.const 8) (i32.const 4))
        (drop (memory.grow $m1 (i32.const 1)))
        (i64.store $m64 offset=8 (i64.const 8) (i64.const 0x1234))
        (memory.fill $m1 (i32.const 100) (i32.const 7) (i32.const 10))
        (i64.add
          (i64.add (i64.load32_u $m0 (i32.const 0)) (i64.extend_i32_u (memory.size $m1)))
          (i64.add (i64.load $m64 (i64.const 16))
                   (i64.add (i64.extend_i32_u (i32.load8_u $m1 (i32.const 105)))
                            (memory.size $m64))))))`),
  );
  const results = sameCalls(both, [["memories"], ["memories"]]);
  assert.deepEqual(results[0], { value: 42n + 3n + 0x1234n + 7n + 1n });
});

Deno.test("atomics behave the same", async () => {
  const both = await checkedBoth(
    await wat(`(module
      (memory $shared 1 1 shared)
      (func (export "atomics") (param i32) (result i64)
        (drop (i32.atomic.rmw.add (i32.const 0) (local.get 0)))
        (drop (i32.atomic.rmw8.sub_u (i32.const 0) (i32.const 1)))
        (atomic.fence)
        (i64.atomic.store offset=8 (i32.const 0) (i64.const 5))
        (drop (i64.atomic.rmw.cmpxchg (i32.const 8) (i64.const 5) (i64.const 9)))
        (i64.add
          (i64.add (i64.extend_i32_u (i32.atomic.load (i32.const 0)))
                   (i64.atomic.load (i32.const 8)))
          (i64.add (i64.extend_i32_u (memory.atomic.notify (i32.const 0) (i32.const 1)))
                   (i64.extend_i32_u
                     (memory.atomic.wait32 (i32.const 0) (i32.const -1) (i64.const 0)))))))`),
  );
  const results = sameCalls(both, [["atomics", 3]]);
  assert.deepEqual(results[0], { value: 2n + 9n + 0n + 1n });
});

Deno.test("try_table, throw_ref, typed function references, GC i31 and table initializers behave the same", () => {
  // Types: 0 (i32) -> i32, 1 () -> (), 2 (i32) -> (), 3 () -> i32.
  const I32 = 0x7f;
  const bytes = assemble({
    types: [[0x60, 1, I32, 1, I32], [0x60, 0, 0], [0x60, 1, I32, 0], [0x60, 0, 1, I32]],
    functions: [
      { // 0 thrower: p == 1 throws tag 0 (11), p == 2 throws tag 1
        type: 2,
        code: [
          0x20,
          0,
          0x41,
          1,
          0x46,
          0x04,
          0x40,
          0x41,
          11,
          0x08,
          0,
          0x0b,
          0x20,
          0,
          0x41,
          2,
          0x46,
          0x04,
          0x40,
          0x08,
          1,
          0x0b,
          0x0b,
        ],
      },
      { // 1 tryTable: (catch tag0 -> $h), the payload + 100
        type: 0,
        code: [
          0x02,
          I32, // block $outer (result i32)
          0x02,
          I32, // block $h (result i32)
          0x1f,
          I32,
          1,
          0x00,
          0,
          0, // try_table (result i32) (catch 0 0)
          0x20,
          0,
          0x10,
          0,
          0x41,
          0x7f, // call thrower(p); i32.const -1
          0x0b,
          0x0c,
          1, // br $outer
          0x0b,
          0x41,
          ...sleb(100),
          0x6a,
          0x0b,
          0x0b,
        ],
      },
      { // 2 exn: catch_ref tag1 -> throw_ref -> catch_all_ref
        type: 0,
        code: [
          0x02,
          I32, // block $done (result i32)
          0x02,
          0x69, // block $all (result exnref)
          0x1f,
          0x40,
          1,
          0x03,
          0, // try_table (catch_all_ref 0)
          0x02,
          0x69, // block $h1 (result exnref)
          0x1f,
          0x40,
          1,
          0x01,
          1,
          0, // try_table (catch_ref 1 0)
          0x20,
          0,
          0x10,
          0,
          0x0b,
          0x41,
          0,
          0x0c,
          3, // br $done with 0
          0x0b,
          0x0a, // throw_ref
          0x0b,
          0x00,
          0x0b,
          0x1a,
          0x41,
          ...sleb(77),
          0x0b,
          0x0b,
        ],
      },
      { type: 3, code: [0x41, 7, 0x0b] }, // 3 seven
      { // 4 typedRefs: call_ref, br_on_null, ref.as_non_null, ref.i31, i31.get_s, ref.eq
        type: 0,
        code: [
          0xd2,
          3,
          0x14,
          3, // call_ref $seven -> 7
          0x41,
          5,
          0xfb,
          28,
          0xfb,
          29,
          0x6a, // + i31.get_s(ref.i31 5) -> 12
          0x02,
          0x40,
          0xd2,
          3,
          0xd5,
          0,
          0x14,
          3,
          0x20,
          0,
          0x6a,
          0x21,
          0,
          0x0b, // p += 7
          0xd2,
          3,
          0xd4,
          0x14,
          3,
          0x6a, // + 7 -> 19
          0x41,
          1,
          0xfb,
          28,
          0x41,
          1,
          0xfb,
          28,
          0xd3,
          0x6a, // + ref.eq -> 20
          0x20,
          0,
          0x6a, // + p
          0x0b,
        ],
      },
      { type: 0, code: [0x20, 0, 0x11, 3, 0, 0x20, 0, 0x6a, 0x0b] }, // 5 call_indirect + p
      { type: 3, code: [0xd2, 3, 0x15, 3, 0x0b] }, // 6 return_call_ref $seven
      { // 7 loopInTry: a loop that throws tag0 (i * 10) when i reaches p
        type: 0,
        locals: [[1, I32]],
        code: [
          0x02,
          I32,
          0x1f,
          0x40,
          1,
          0x00,
          0,
          0,
          0x03,
          0x40,
          0x20,
          1,
          0x41,
          1,
          0x6a,
          0x21,
          1,
          0x20,
          1,
          0x20,
          0,
          0x4e,
          0x04,
          0x40,
          0x20,
          1,
          0x41,
          10,
          0x6c,
          0x08,
          0,
          0x0b,
          0x0c,
          0,
          0x0b,
          0x0b,
          0x41,
          0x7f,
          0x0b,
          0x0b,
        ],
      },
    ],
    tables: [[0x40, 0x00, 0x70, 0x00, 2, 0xd2, 3, 0x0b]], // (table 2 funcref (ref.func $seven))
    tags: [2, 1],
    exports: [
      ["tryTable", 0, 1],
      ["exn", 0, 2],
      ["typedRefs", 0, 4],
      ["viaTable", 0, 5],
      ["tailRef", 0, 6],
      ["loopInTry", 0, 7],
    ],
    elements: [[0x03, 0x00, 1, 3]], // (elem declare func $seven)
  });
  assert.ok(WebAssembly.validate(bytes), "the hand-assembled module is valid");
  const both = instantiateBoth(bytes, () => ({}), { refill: 100n });
  const results = sameCalls(both, [
    ["tryTable", 0],
    ["tryTable", 1],
    ["tryTable", 2],
    ["exn", 0],
    ["exn", 1],
    ["exn", 2],
    ["typedRefs", 5],
    ["viaTable", 0],
    ["viaTable", 1],
    ["viaTable", 2],
    ["tailRef"],
    ["loopInTry", 1000],
  ]);
  assert.deepEqual(results.map((r) => "value" in r ? r.value : "error"), [
    -1,
    111,
    "error",
    0,
    77,
    77,
    32,
    7,
    8,
    "error",
    7,
    10_000,
  ]);
  assert.ok(both.meter.calls >= 100, "the loop in try_table ran its checks");
});

// --- indices, names, start, custom sections ----------------------------------------------

Deno.test("processHandle: every host call gets the handle, by call, tail call, table, reference, export or start", async () => {
  const bytes = await wat(`(module $handled
    (import "env" "base" (global $base i32))
    (import "env" "f" (func $f (param i32) (result i32)))
    (import "env" "note" (func $note (param i64)))
    (import "env" "started" (func $started))
    (global $count (mut i32) (i32.const 5))
    (global $fromBase i32 (global.get $base))
    (table 3 funcref)
    (elem (i32.const 0) $f $double)
    (elem declare func $f)
    (memory (export "memory") 1)
    (data (global.get $base) "x")
    (export "f" (func $f))
    (export "count" (global $count))
    (start $started)
    (type $unary (func (param i32) (result i32)))
    (func $double (param i32) (result i32) (i32.mul (local.get 0) (i32.const 2)))
    (func (export "run") (param $x i32) (result i32)
      (global.set $count (i32.add (global.get $count) (global.get $fromBase)))
      (call $note (i64.const -7))
      (i32.add (call $f (local.get $x))
        (i32.add (call_indirect (type $unary) (local.get $x) (i32.const 0))
          (i32.add (global.get $count)
            (call_indirect (type $unary) (local.get $x) (i32.const 1))))))
    (func (export "tail") (param i32) (result i32) (return_call $f (local.get 0)))
    (func (export "viaRef") (param i32) (result i32)
      (table.set 0 (i32.const 2) (ref.func $f))
      (call_indirect (type $unary) (local.get 0) (i32.const 2))))`);
  const calls: unknown[][] = [];
  const both = instantiateBoth(bytes, () => ({
    env: {
      base: 3,
      f: (x: number) => (calls.push(["f", x]), x + 100),
      note: (v: bigint) => calls.push(["note", v]),
      started: () => calls.push(["started"]),
    },
  }));
  sameCalls(both, [["run", 1], ["tail", 5], ["viaRef", 6], ["f", 9]]);
  // Each of the three instances made the same calls, in turn (the handled one's wrappers
  // checked that every call got the handle, last): the start function at instantiation...
  assert.deepEqual(calls.splice(0, 3), [["started"], ["started"], ["started"]]);
  // ...then each export: run calls note, f directly and f through the table; tail, viaRef
  // (through a reference stored in the table) and the exported import call f once.
  const perInstance = [[["note", -7n], ["f", 1], ["f", 1]], [["f", 5]], [["f", 6]], [["f", 9]]];
  assert.deepEqual(calls, perInstance.flatMap((made) => [...made, ...made, ...made]));
  assert.equal((both.handled.exports.count as WebAssembly.Global).value, 8);

  const handled = instrument(bytes, parseModule(bytes), { processHandle: true });
  const info = parseModule(handled.bytes);
  // The imports gained an externref parameter; the handle is the last import.
  assert.deepEqual(info.imports.map((i) => [i.name, i.kind, i.type?.params]), [
    ["base", "global", undefined],
    ["f", "func", ["i32", "externref"]],
    ["note", "func", ["i64", "externref"]],
    ["started", "func", ["externref"]],
    [YIELD_IMPORT.name, "func", ["i64", "externref"]],
    [HANDLE_IMPORT.name, "global", undefined],
  ]);
  // The global names moved with their globals: the disassembly still reads and writes $count.
  const text = await wasm2wat(handled.bytes);
  assert.match(text, /global\.set \$count\b/);
  assert.match(text, /global\.get \$fromBase\b/);
});

Deno.test("the start function, exports and names (function and local) are renumbered", async () => {
  const bytes = withCustomSection(
    await wat(`(module $named
      (import "env" "log" (func $log (param i32)))
      (import "env" "logTwice" (func $logTwice (param i32)))
      (global $started (export "started") (mut i32) (i32.const 0))
      (func $init (local $tmp i32)
        (local.set $tmp (i32.const 5))
        ;; a loop, so that $init is no leaf and has checks of its own
        (loop $once (br_if $once (i32.eqz (local.get $tmp))))
        (global.set $started (local.get $tmp))
        (call $log (i32.const 1)))
      (start $init)
      (func $first (export "first") (param $x i32) (result i32) (local $y i32)
        (local.set $y (i32.mul (local.get $x) (i32.const 3)))
        (call $second (local.get $y)))
      (func $second (export "second") (param $z i32) (result i32)
        (call $logTwice (local.get $z))
        (i32.add (local.get $z) (global.get $started)))
      (export "alias" (func $first))
      (export "log" (func $log)))`),
    "my.custom",
    [1, 2, 3, 0xff],
  );
  const logged: number[] = [];
  const both = await checkedBoth(bytes, () => ({
    env: { log: (v: number) => logged.push(v), logTwice: (v: number) => logged.push(v, v) },
  }));
  assert.deepEqual(logged, [1, 1, 1], "the start function ran in all three");
  assert.ok(both.meter.calls >= 1, "with an empty counter, the start function called out_of_fuel");
  assert.equal((both.instrumented.exports.started as WebAssembly.Global).value, 5);
  sameCalls(both, [["first", 4], ["second", 10], ["alias", 2]]);
  const exports = both.instrumented.exports;
  assert.equal(exports.alias, exports.first, "both names export the same function");
  assert.equal(exports.log, exports.log);

  const { info } = both;
  const out = parseModule(both.result.bytes);
  assert.equal(out.start, shifted(info, info.start!));
  assert.equal(out.moduleName, "named");
  assert.deepEqual(namesOf(out), namesOf(info).map(([i, name]) => [shifted(info, i), name]));
  assert.equal(out.functionNames.get(3), "init");
  const text = await wasm2wat(both.result.bytes);
  assert.match(text, /\(func \$init \(type \d+\)\s*\n?\s*\(local \$tmp i32\)/);
  assert.match(
    text,
    /\(func \$first \(type \d+\) \(param \$x i32\) \(result i32\)\s*\n?\s*\(local \$y i32\)/,
  );
  assert.match(text, /\(func \$second \(type \d+\) \(param \$z i32\)/);
  assert.match(text, /\(start \$init\)/);
  assert.match(text, /call \$second/);
  assert.match(text, /\(export "alias" \(func \$first\)\)/);

  const custom = WebAssembly.Module.customSections(
    new WebAssembly.Module(both.result.bytes),
    "my.custom",
  );
  assert.deepEqual(custom.map((b) => [...new Uint8Array(b)]), [[1, 2, 3, 0xff]]);
});

/** The branch hints of a module: function index -> [offset, value] pairs. */
function branchHints(bytes: Uint8Array): Map<number, number[]> {
  const info = parseModule(bytes);
  const sections = info.sections.filter((s) => s.name === "metadata.code.branch_hint");
  assert.equal(sections.length, 1, "one branch hint section");
  const code = info.sections.find((s) => s.id === 10)!;
  assert.ok(sections[0].end <= code.start, "the hint section comes before the code");
  const r = new ByteReader(bytes, sections[0].contentStart, sections[0].end);
  r.name();
  const hints = new Map<number, number[]>();
  const count = r.u32();
  for (let i = 0; i < count; i++) {
    const index = r.u32();
    const pairs: number[] = [];
    const n = r.u32();
    for (let j = 0; j < n; j++) {
      const offset = r.u32();
      assert.equal(r.u32(), 1);
      pairs.push(offset, r.u8());
    }
    hints.set(index, pairs);
  }
  assert.ok(r.atEnd());
  return hints;
}

Deno.test("every check's if is hinted unlikely, and the guest's own branch hints move with their code", async () => {
  const source = `(module
    (func $f (export "f") (param i32) (result i32) (local $i i32)
      (loop $l
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (local.get $i) (local.get 0) (i32.lt_u)
        (@metadata.code.branch_hint "\\01") (br_if $l))
      (local.get 0)
      (@metadata.code.branch_hint "\\00")
      (if (result i32) (then (call $g)) (else (i32.const 2))))
    (func $g (result i32) (i32.const 1)))`;
  for (const guestHints of [true, false]) {
    const bytes = await wat(guestHints ? source : source.replace(/\(@metadata[^)]*\)/g, ""));
    const info = parseModule(bytes);
    const result = instrument(bytes, info, PLAIN);
    const hints = branchHints(result.bytes);
    const originalHints = guestHints ? branchHints(bytes) : new Map<number, number[]>();
    assert.deepEqual([...hints.keys()], [1, 2]);
    for (let i = 0; i < info.codeBodies.length; i++) {
      const newBody = result.codeBodies[i];
      const pairs = hints.get(i + 1)!;
      const ours = pairs.filter((_, j) => j % 2 === 0).filter((off) =>
        result.bytes[newBody.start + off - 1] === 0x53 // i64.lt_s; if
      );
      assert.equal(ours.length, i === 0 ? 2 : 1, "entry and loop header checks");
      for (let j = 0; j < pairs.length; j += 2) {
        const op = result.bytes[newBody.start + pairs[j]];
        assert.ok(op === 0x04 || op === 0x0d, "hints point at if or br_if");
      }
      // The guest's hints: same instruction, same value, shifted by the inserted code.
      const old = originalHints.get(i) ?? [];
      const moved = pairs.filter((_, j) => j % 2 === 0 && !ours.includes(pairs[j]));
      assert.equal(moved.length * 2, old.length);
      for (let j = 0; j < old.length; j += 2) {
        const oldOp = bytes[info.codeBodies[i].start + old[j]];
        assert.equal(result.bytes[newBody.start + moved[j / 2]], oldOp);
        assert.equal(pairs[pairs.indexOf(moved[j / 2]) + 1], old[j + 1]);
      }
    }
    const both = await checkedBoth(bytes);
    sameCalls(both, [["f", 0], ["f", 10]]);
  }
});

// --- unrolled loops and small leaves ----------------------------------------------------------

/** A module of loops that leave, continue and return in every way a loop can. */
const LOOPS_WAT = `(module
  (tag $oops (param i32))
  (memory 1)
  ;; A plain counted loop.
  (func (export "sum") (param $n i32) (result i32) (local $i i32) (local $acc i32)
    (loop $l
      (local.set $acc (i32.add (local.get $acc) (local.get $i)))
      (br_if $l (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 1))) (local.get $n))))
    (local.get $acc))
  ;; Leaves by a branch to an outer block, to the function, by return, or falls through.
  (func (export "exits") (param $n i32) (param $how i32) (result i32) (local $i i32)
    (block $out
      (loop $l
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br_if $out (i32.and (i32.eq (local.get $how) (i32.const 0)) (i32.eq (local.get $i) (local.get $n))))
        (if (i32.and (i32.eq (local.get $how) (i32.const 1)) (i32.eq (local.get $i) (local.get $n)))
          (then (return (i32.const -1))))
        (if (i32.and (i32.eq (local.get $how) (i32.const 2)) (i32.eq (local.get $i) (local.get $n)))
          (then (br 3 (i32.const 7)))) ;; to the function's label
        (br_if $l (i32.ne (local.get $i) (local.get $n)))))
    (i32.add (local.get $i) (i32.const 1000)))
  ;; br_table to a block inside the loop, the loop and a block outside.
  (func (export "table") (param $n i32) (result i32) (local $i i32) (local $acc i32)
    (block $done
      (loop $l
        (block $skip
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br_table $skip $l $done $skip
            (select (i32.rem_u (local.get $i) (i32.const 3)) (i32.const 2)
              (i32.lt_u (local.get $i) (local.get $n)))))
        (local.set $acc (i32.add (local.get $acc) (local.get $i)))
        (br_if $l (i32.lt_u (local.get $i) (local.get $n)))))
    (i32.add (local.get $acc) (i32.const 100000)))
  ;; A loop with a result that falls through with it.
  (func (export "result") (param $n i32) (result i32) (local $i i32)
    (loop $l (result i32)
      (local.set $i (i32.add (local.get $i) (i32.const 3)))
      (br_if $l (i32.lt_u (local.get $i) (local.get $n)))
      (i32.mul (local.get $i) (i32.const 2))))
  ;; Nested small loops, with a branch from the inner one to the outer one.
  (func (export "nested") (param $n i32) (result i32) (local $i i32) (local $j i32) (local $acc i32)
    (loop $outer
      (local.set $j (i32.const 0))
      (loop $inner
        (local.set $acc (i32.add (local.get $acc) (i32.mul (local.get $i) (local.get $j))))
        (local.set $j (i32.add (local.get $j) (i32.const 1)))
        (br_if $outer (i32.and (i32.eq (local.get $j) (i32.const 5))
          (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 1))) (local.get $n))))
        (br_if $inner (i32.lt_u (local.get $j) (local.get $i)))))
    (local.get $acc))
  ;; A loop with parameters (a type index block type) is left as it is.
  (func (export "params") (param $n i32) (result i32)
    (i32.const 0)
    (loop $l (param i32) (result i32)
      (i32.add (i32.const 1))
      (local.set $n (i32.sub (local.get $n) (i32.const 1)))
      (br_if $l (i32.gt_s (local.get $n) (i32.const 0)))))
  ;; A loop that catches (exception handling keeps it from being unrolled).
  (func (export "catching") (param $n i32) (result i32) (local $i i32) (local $caught i32)
    (loop $l
      (try (do (if (i32.eq (i32.rem_u (local.get $i) (i32.const 4)) (i32.const 0))
                 (then (throw $oops (local.get $i)))))
           (catch $oops (local.set $caught (i32.add (local.get $caught) (i32.const 1))) (drop)))
      (br_if $l (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 1))) (local.get $n))))
    (local.get $caught))
  ;; Memory traffic, to check the copies store and load in the same order.
  (func (export "bytes") (param $n i32) (result i32) (local $i i32) (local $h i32)
    (loop $l
      (i32.store8 (local.get $i) (i32.mul (local.get $i) (i32.const 31)))
      (local.set $h (i32.add (i32.mul (local.get $h) (i32.const 33)) (i32.load8_u (local.get $i))))
      (br_if $l (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 1))) (local.get $n))))
    (local.get $h)))`;

Deno.test("unrolled loops leave, continue, return and branch past as the original ones do", async () => {
  const bytes = await wat(LOOPS_WAT);
  const both = await checkedBoth(bytes, () => ({}), { refill: 50n });
  const calls: [string, ...unknown[]][] = [];
  for (const n of [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 13, 100, 1001]) {
    for (const name of ["sum", "table", "result", "nested", "params", "catching", "bytes"]) {
      calls.push([name, n]);
    }
    // (n = 0 would count through all 2^32 values of i.)
    if (n > 0) { for (const how of [0, 1, 2, 3]) calls.push(["exits", n, how]); }
  }
  const results = sameCalls(both, calls);
  assert.ok(results.every((r) => "value" in r), "no call traps");
  assert.ok(both.meter.calls > 100, "the small refill made the checks call out_of_fuel");
});

Deno.test("a small loop becomes 4 copies under one check, and fuel still counts its work", async () => {
  const source = `(module
    (func (export "count") (param $n i32) (result i32) (local $i i32)
      (loop $l
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (@metadata.code.branch_hint "\\01")
        (br_if $l (i32.lt_u (local.get $i) (local.get $n))))
      (local.get $i)))`;
  const bytes = await wat(source);
  const result = instrument(bytes, parseModule(bytes));
  const lines = functionLines(await wasm2wat(result.bytes));
  const count = (text: string) => lines.filter((line) => line === text).length;
  assert.equal(count("loop  ;; label = @2"), 1, "one loop");
  assert.equal(count("i32.lt_u"), 4, "four copies of its body");
  assert.equal(count("i64.lt_s"), 2, "two checks: the function entry and the loop header");
  const hints = branchHints(result.bytes).get(1)!;
  const values = hints.filter((_, j) => j % 2 === 1);
  assert.deepEqual(values.sort(), [0, 0, 1, 1, 1, 1], "the guest's hint is in every copy");

  const { instrumented, original, meter } = instantiateBoth(bytes, () => ({}), { refill: 1000n });
  const run = instrumented.exports.count as (n: number) => number;
  for (const n of [1, 2, 3, 4, 5, 1000, 100_001]) {
    assert.equal(run(n), (original.exports.count as (n: number) => number)(n));
  }
  // 8 instructions per iteration; the check charges 4 iterations at a time.
  const { consumed } = meter.measure(() => run(1_000_000));
  const perIteration = Number(consumed) / 1_000_000;
  assert.ok(perIteration >= 8 && perIteration < 8.01, `${perIteration} per iteration`);
});

Deno.test("small leaves have no entry check; their callers pay for them, directly or through a table", async () => {
  const bytes = await wat(`(module
    (type $unary (func (param i32) (result i32)))
    (import "env" "twice" (func $twice (param i32) (result i32)))
    (table 2 funcref)
    (elem (i32.const 0) $inc $dec)
    (func $inc (type $unary) (i32.add (local.get 0) (i32.const 1)))
    (func $dec (type $unary) (i32.sub (local.get 0) (i32.const 1)))
    ;; calls only the host: still a leaf
    (func $viaHost (param i32) (result i32) (call $twice (local.get 0)))
    (func $big (param i32) (result i32)
      ${"(local.set 0 (i32.add (local.get 0) (i32.const 1)))".repeat(10)}
      (local.get 0))
    (func (export "direct") (param $n i32) (result i32) (local $acc i32)
      (loop $l
        (local.set $acc (call $inc (local.get $acc)))
        (br_if $l (i32.lt_u (local.get $acc) (local.get $n))))
      (local.get $acc))
    (func (export "indirect") (param $n i32) (result i32) (local $acc i32)
      (loop $l
        (local.set $acc (call_indirect (type $unary) (local.get $acc) (i32.const 0)))
        (br_if $l (i32.lt_u (local.get $acc) (local.get $n))))
      (local.get $acc))
    (func (export "big") (param i32) (result i32) (call $big (local.get 0)))
    (func (export "host") (param $n i32) (result i32) (local $acc i32)
      (local.set $acc (i32.const 1))
      (loop $l
        (local.set $acc (i32.and (call $viaHost (local.get $acc)) (i32.const 0xffff)))
        (br_if $l (i32.gt_u (local.tee $n (i32.sub (local.get $n) (i32.const 1))) (i32.const 0))))
      (local.get $acc)))`);
  const env = () => ({ env: { twice: (x: number) => 2 * x + 1 } });
  const result = instrument(bytes, parseModule(bytes));
  const lines = functionLines(await wasm2wat(result.bytes));
  const checksIn = (name: string) => {
    const start = lines.findIndex((line) => line.startsWith(`(func ${name}`));
    let end = start + 1;
    while (end < lines.length && !lines[end].startsWith("(func ")) end++;
    return lines.slice(start, end).filter((line) => line === "i64.lt_s").length;
  };
  assert.equal(checksIn("$inc"), 0, "a 3-instruction leaf");
  assert.equal(checksIn("$dec"), 0);
  assert.equal(checksIn("$viaHost"), 0, "a leaf that calls the host");
  assert.equal(checksIn("$big"), 1, "a 31-instruction leaf keeps its check");

  const plain = instrument(bytes, parseModule(bytes), PLAIN).bytes;
  const both = instantiateBoth(bytes, env, { refill: 100_000n });
  const reference = new FuelMeter(100_000n);
  reference.instance = new WebAssembly.Instance(new WebAssembly.Module(plain), {
    ...env(),
    [YIELD_IMPORT.module]: { [YIELD_IMPORT.name]: reference.outOfFuel },
  });
  for (const name of ["direct", "indirect", "big", "host"]) {
    const call = (meter: FuelMeter) =>
      meter.measure(() => (meter.instance!.exports[name] as (n: number) => number)(100_000));
    const optimized = call(both.meter);
    const checked = call(reference);
    assert.equal(optimized.result, checked.result);
    const ratio = Number(optimized.consumed) / Number(checked.consumed);
    // Calls charge the same as the leaf's own check did; unrolling charges whole copies.
    assert.ok(ratio >= 1 && ratio < 1.01, `${name}: ${optimized.consumed} vs ${checked.consumed}`);
  }
});

// --- fuel -------------------------------------------------------------------------------------

Deno.test("an infinite loop keeps calling out_of_fuel until the host stops it", async () => {
  const bytes = await wat(`(module
    (func $nothing)
    (func (export "spin") (loop $l (br $l)))
    (func (export "spinCalling") (loop $l (call $nothing) (br $l)))
    (func (export "spinNested") (loop $outer (loop $inner (br $inner)) (br $outer)))
    (func $recurse (export "recurse") (call $recurse)))`);
  for (const name of ["spin", "spinCalling", "spinNested"]) {
    const { instrumented, meter } = instantiateBoth(bytes, () => ({}), {
      refill: 1000n,
      stopAfter: 25,
    });
    assert.throws(() => (instrumented.exports[name] as () => void)(), OutOfFuelStop);
    assert.equal(meter.calls, 25, name);
  }
  const { instrumented, meter } = instantiateBoth(bytes, () => ({}), { refill: 1000n });
  assert.throws(() => (instrumented.exports.recurse as () => void)(), RangeError);
  assert.ok(meter.calls > 1, "unbounded recursion is charged too");
});

Deno.test("the counter goes down in proportion to the work done", async () => {
  const both = await checkedBoth(
    await wat(`(module
      (func (export "count") (param $n i32) (result i32) (local $i i32) (local $acc i32)
        (loop $l
          ;; 11 instructions per iteration
          (local.set $acc (i32.add (local.get $acc) (local.get $i)))
          (local.tee $i (i32.add (local.get $i) (i32.const 1)))
          (br_if $l (i32.lt_u (local.get $n))))
        (local.get $acc))
      (func $leaf (param i32) (result i32) (i32.add (local.get 0) (i32.const 1)))
      (func (export "calls") (param $n i32) (result i32) (local $acc i32)
        (loop $l
          ;; 8 instructions per iteration, plus 4 in the callee
          (local.set $acc (call $leaf (local.get $acc)))
          (br_if $l (i32.lt_u (local.get $acc) (local.get $n))))
        (local.get $acc)))`),
    () => ({}),
    { refill: 10_000n },
  );
  const count = both.instrumented.exports.count as (n: number) => number;
  const loop = both.meter.measure(() => count(1_000_000));
  assert.equal(loop.result, (both.original.exports.count as (n: number) => number)(1_000_000));
  const expected = 11_000_000;
  const ratio = Number(loop.consumed) / expected;
  assert.ok(ratio > 0.7 && ratio < 1.3, `consumed ${loop.consumed} for ~${expected} instructions`);
  assert.ok(loop.calls >= 1000 && loop.calls <= 1200, `${loop.calls} out_of_fuel calls`);

  const calls = both.instrumented.exports.calls as (n: number) => number;
  const callLoop = both.meter.measure(() => calls(1_000_000));
  const callRatio = Number(callLoop.consumed) / 12_000_000;
  assert.ok(callRatio > 0.7 && callRatio < 1.3, `consumed ${callLoop.consumed} for ~12M`);
});

// --- real programs ----------------------------------------------------------------------------

const C_PROGRAM = String.raw`
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef int (*binop)(int, int);
static int add(int a, int b) { return a + b; }
static int sub(int a, int b) { return a - b; }
static int mul(int a, int b) { return a * b; }
static int xor_(int a, int b) { return a ^ b; }
static binop ops[] = {add, sub, mul, xor_};

static uint32_t fnv(const char *s, size_t n) {
  uint32_t h = 2166136261u;
  for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 16777619u;
  return h;
}

static long fib(int n) { return n < 2 ? n : fib(n - 1) + fib(n - 2); }

static int compare(const void *a, const void *b) {
  int x = *(const int *)a, y = *(const int *)b;
  return (x > y) - (x < y);
}

/* A small stack machine: its switch becomes a br_table. */
static long run(const unsigned char *code, int n, long x) {
  long stack[16];
  int sp = 0;
  for (int pc = 0; pc < n; pc++) {
    switch (code[pc]) {
      case 0: stack[sp++] = x; break;
      case 1: stack[sp++] = code[++pc]; break;
      case 2: sp--; stack[sp - 1] += stack[sp]; break;
      case 3: sp--; stack[sp - 1] *= stack[sp]; break;
      case 4: sp--; stack[sp - 1] -= stack[sp]; break;
      case 5: stack[sp - 1] = -stack[sp - 1]; break;
      case 6: if (stack[sp - 1] > 1000) pc++; break;
      default: return -1;
    }
  }
  return stack[sp - 1];
}

struct body { double x, y, z, vx, vy, vz, m; };

static double nbody(int steps) {
  struct body b[4];
  for (int i = 0; i < 4; i++) b[i] = (struct body){i, -i * 0.5, i * 0.25, 0.01 * i, 0, -0.01, 1 + i};
  for (int s = 0; s < steps; s++) {
    for (int i = 0; i < 4; i++)
      for (int j = i + 1; j < 4; j++) {
        double dx = b[i].x - b[j].x, dy = b[i].y - b[j].y, dz = b[i].z - b[j].z;
        double d2 = dx * dx + dy * dy + dz * dz + 0.01, mag = 0.01 / (d2 * sqrt(d2));
        b[i].vx -= dx * b[j].m * mag; b[i].vy -= dy * b[j].m * mag; b[i].vz -= dz * b[j].m * mag;
        b[j].vx += dx * b[i].m * mag; b[j].vy += dy * b[i].m * mag; b[j].vz += dz * b[i].m * mag;
      }
    for (int i = 0; i < 4; i++) { b[i].x += 0.01 * b[i].vx; b[i].y += 0.01 * b[i].vy; b[i].z += 0.01 * b[i].vz; }
  }
  double e = 0;
  for (int i = 0; i < 4; i++) e += b[i].m * (b[i].vx * b[i].vx + b[i].vy * b[i].vy + b[i].vz * b[i].vz);
  return e;
}

int main(void) {
  char text[200];
  int len = snprintf(text, sizeof text, "the quick brown fox %d %s", 42, "jumps");
  printf("hash %08x\n", fnv(text, (size_t)len));
  int acc = 1;
  for (int i = 0; i < 5000; i++) acc = ops[(i * 7) % 4](acc, i) & 0xfffff;
  printf("ops %d\n", acc);
  printf("fib %ld\n", fib(22));
  int *v = malloc(3000 * sizeof(int));
  srand(7);
  for (int i = 0; i < 3000; i++) v[i] = rand() % 100000;
  qsort(v, 3000, sizeof(int), compare);
  printf("sorted %d %d %d\n", v[0], v[1500], v[2999]);
  free(v);
  static const unsigned char prog[] = {0, 1, 3, 3, 0, 2, 1, 7, 4, 6, 5, 1, 2, 3};
  long total = 0;
  for (long x = 0; x < 2000; x++) total += run(prog, sizeof prog, x);
  printf("vm %ld\n", total);
  printf("nbody %.9f\n", nbody(3000));
  printf("math %.6f %.6f\n", sin(1.0) * exp(0.5), pow(2.0, 0.5));
  return 3;
}
`;

class WasiExit {
  constructor(readonly code: number) {}
}

/** Just enough WASI for printf and exit: stdout is captured, everything else fails. */
function tinyWasi(module: () => WebAssembly.Instance, output: string[]): WebAssembly.Imports {
  const ENOSYS = 52;
  const wasi: Record<string, (...args: never[]) => unknown> = {
    fd_write: (fd: number, iovs: number, count: number, written: number) => {
      const memory = module().exports.memory as WebAssembly.Memory;
      const view = new DataView(memory.buffer);
      let total = 0;
      for (let i = 0; i < count; i++) {
        const ptr = view.getUint32(iovs + 8 * i, true);
        const len = view.getUint32(iovs + 8 * i + 4, true);
        if (fd === 1) {
          output.push(new TextDecoder().decode(new Uint8Array(memory.buffer, ptr, len)));
        }
        total += len;
      }
      view.setUint32(written, total, true);
      return 0;
    },
    proc_exit: (code: number) => {
      throw new WasiExit(code);
    },
  };
  return {
    wasi_snapshot_preview1: new Proxy(wasi, {
      get: (target, name: string) => target[name] ?? (() => ENOSYS),
    }),
  };
}

/** Runs `_start`: the exit code and the output. */
function runCommand(instance: WebAssembly.Instance, output: string[]) {
  try {
    (instance.exports._start as () => void)();
    return { code: 0, output: output.join("") };
  } catch (error) {
    if (error instanceof WasiExit) return { code: error.code, output: output.join("") };
    throw error;
  }
}

for (const level of ["-O0", "-O2"]) {
  Deno.test(`a C program (wasi-libc, ${level}) prints the same output instrumented`, async () => {
    const bytes = await clang(C_PROGRAM, ["--target=wasm32-wasi", level, "-Wl,--strip-debug"]);
    const outputs: string[][] = [[], [], []];
    const instances: WebAssembly.Instance[] = [];
    let made = 0;
    const both = instantiateBoth(bytes, () => {
      const which = made++;
      return tinyWasi(() => instances[which], outputs[which]);
    });
    instances.push(both.original, both.instrumented, both.handled);
    const expected = runCommand(both.original, outputs[0]);
    const actual = runCommand(both.instrumented, outputs[1]);
    assert.match(expected.output, /hash [0-9a-f]{8}\nops \d+\nfib 17711\nsorted /);
    assert.deepEqual(actual, expected);
    assert.deepEqual(runCommand(both.handled, outputs[2]), expected, "with a process handle");
    assert.equal(expected.code, 3);
    assert.ok(both.meter.calls > 10, `${both.meter.calls} out_of_fuel calls`);
    await assertOnlyChecksAdded(bytes, instrument(bytes, parseModule(bytes), PLAIN));
  });
}

const computeSource = fileURLToPath(new URL("../bench/guests/compute.c", import.meta.url));

for (const level of ["-O0", "-O2"]) {
  Deno.test(`the freestanding compute benchmark (${level}) returns the same checksum`, async () => {
    const bytes = await clang(await Deno.readTextFile(computeSource), [
      "--target=wasm32",
      level,
      "-mbulk-memory",
      "-nostdlib",
      "-Wl,--no-entry",
    ]);
    const both = instantiateBoth(bytes, () => ({}), { refill: 100_000n });
    const results = sameCalls(both, [["run", 1]]);
    assert.equal(typeof (results[0] as { value: unknown }).value, "bigint");
    assert.ok(both.meter.calls > 20);
    await assertOnlyChecksAdded(bytes, instrument(bytes, parseModule(bytes), PLAIN));
  });
}

// --- a large module ---------------------------------------------------------------------------

/**
 * A module of `count` functions of about 1.3 KB each: loops, blocks, br_table, memory
 * accesses, 64-bit constants and a call to the previous function.
 */
function largeModule(count: number): Uint8Array<ArrayBuffer> {
  const body: number[] = [];
  const bodies: number[][] = [];
  for (let f = 0; f < count; f++) {
    body.length = 0;
    body.push(1, 2, 0x7f); // locals: 2 x i32
    body.push(0x03, 0x40); // loop
    for (let k = 0; k < 40; k++) {
      body.push(0x20, 0, 0x41, ...sleb((f * 131 + k * 7) % 5000), 0x6a, 0x21, 0); // p += c
      body.push(0x02, 0x40, 0x20, 0, 0x41, 0x03, 0x71, 0x0e, 3, 0, 0, 0, 0, 0x0b); // br_table
      body.push(0x42, ...sleb(f * 1_000_003 + k), 0x1a); // i64.const; drop
      body.push(0x41, 16, 0x28, 2, 0, 0x20, 1, 0x6a, 0x21, 1); // acc += mem[16]
    }
    body.push(0x20, 1, 0x41, 1, 0x6a, 0x22, 1, 0x41, 2, 0x49, 0x0d, 0, 0x0b); // loop twice
    body.push(0x20, 0);
    if (f > 0) body.push(0x10, ...leb(f - 1)); // call the previous function
    body.push(0x20, 1, 0x6a, 0x0b);
    bodies.push([...leb(body.length), ...body]);
  }
  const I32 = 0x7f;
  const codeContent = [...leb(count), ...bodies.flat()];
  const out = [
    ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00],
    ...section(1, vec([[0x60, 1, I32, 1, I32]])),
    ...section(3, [...leb(count), ...new Array(count).fill(0)]),
    ...section(5, vec([[0x00, 1]])),
    ...section(7, vec([[...str("last"), 0, ...leb(count - 1)], [...str("memory"), 2, 0]])),
    ...section(10, codeContent),
  ];
  return new Uint8Array(out);
}

Deno.test("a 5 MB module of thousands of functions instruments in well under a second", () => {
  const bytes = largeModule(4000);
  assert.ok(bytes.length > 5_000_000, `${bytes.length} bytes`);
  const info = parseModule(bytes);
  instrument(bytes, info); // warm up
  const times: number[] = [];
  let result: InstrumentResult | null = null;
  for (let i = 0; i < 3; i++) {
    const start = performance.now();
    result = instrument(bytes, info);
    times.push(performance.now() - start);
  }
  const best = Math.min(...times);
  console.log(
    `instrumented ${(bytes.length / 1e6).toFixed(1)} MB (4000 functions) in ` +
      `${best.toFixed(0)} ms (best of 3; ${times.map((t) => t.toFixed(0)).join(", ")} ms)`,
  );
  assert.ok(best < 1000, `took ${best} ms`);
  assert.ok(WebAssembly.validate(result!.bytes));
  assert.deepEqual(parseModule(result!.bytes).codeBodies, result!.codeBodies);
  const both = instantiateBoth(bytes);
  sameCalls(both, [["last", 1], ["last", -5]]);
});

// --- errors and coverage ----------------------------------------------------------------------

/** A module with one `() -> ()` function whose code (without the final end) is `code`. */
const oneFunction = (code: number[]) =>
  assemble({
    types: [[0x60, 0, 0]],
    functions: [{ type: 0, code: [...code, 0x0b] }],
    memories: [[0x00, 1]],
  });

Deno.test("unknown opcodes and malformed bodies are WasmFormatErrors that say where", () => {
  const cases: [number[], RegExp][] = [
    [[0x01, 0xff], /unknown opcode 0xff while reading the body of function 0 at offset 0x1d/],
    [[0xfc, 0x12], /unknown opcode 0xfc 18 \(0xfc 0x12\)/],
    [[0xfd, 0x9a, 0x01], /unknown opcode 0xfd 154 \(0xfd 0x9a\)/],
    [[0xfe, 0x04], /unknown opcode 0xfe 4/],
    [[0xfb, 0x1f], /unknown opcode 0xfb 31/],
    [[0x02, 0x40], /unexpected end of the expression/],
    [[0x0b, 0x01], /2 bytes after the end of the function body/],
    [[0x41, 0x80], /unexpected end of the expression/],
  ];
  for (const [code, message] of cases) {
    const bytes = oneFunction(code);
    assert.throws(
      () => instrument(bytes, parseModule(bytes)),
      (error: unknown) => error instanceof WasmFormatError && message.test(error.message),
      `${code.map((b) => b.toString(16)).join(" ")} should fail with ${message}`,
    );
  }
});

Deno.test("the walker knows exactly the opcodes V8 accepts", () => {
  // For every opcode and prefixed sub-opcode, V8 (15.0, Deno 2.9.6) says "invalid ... opcode"
  // exactly when the walker says "unknown opcode"; this catches an opcode the walker misses or
  // one V8 newly accepts. Garbage immediates fail both in other ways, which is fine.
  const padding = new Array(24).fill(0);
  const mismatches: string[] = [];
  const check = (code: number[]) => {
    const bytes = oneFunction([...code, ...padding]);
    let v8Unknown = false;
    try {
      new WebAssembly.Module(bytes);
    } catch (error) {
      v8Unknown = /invalid (numeric |simd |atomic |gc )?opcode/i.test((error as Error).message);
    }
    let ours = false;
    try {
      instrument(bytes, parseModule(bytes));
    } catch (error) {
      if (!(error instanceof WasmFormatError)) throw error;
      ours = error.message.includes("unknown opcode");
    }
    if (v8Unknown !== ours) {
      mismatches.push(
        `${code.map((b) => b.toString(16)).join(" ")}: V8 ${v8Unknown}, ours ${ours}`,
      );
    }
  };
  for (let op = 0; op < 256; op++) if (op < 0xfb || op > 0xfe) check([op]);
  const limits: Record<number, number> = { 0xfb: 0x40, 0xfc: 0x40, 0xfd: 0x140, 0xfe: 0x80 };
  for (const [prefix, limit] of Object.entries(limits)) {
    for (let sub = 0; sub < limit; sub++) check([Number(prefix), ...leb(sub)]);
  }
  assert.deepEqual(mismatches, []);
});
