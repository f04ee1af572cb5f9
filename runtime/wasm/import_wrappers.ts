/**
 * Compiles V8's import wrappers ahead of a module's first process.
 *
 * With `--wasm-wrapper-tiering-budget=1` (runtime/v8_flags.ts) V8 compiles the wrapper of a
 * wasm-to-JS call on its first call, on the main thread: ~0.2 ms for each new signature. A
 * lunatic-rs module imports ~20 signatures, so its first processes stalled for ~4 ms in all,
 * in the middle of whatever they were doing (a supervisor's restart within a 10 ms budget).
 * Wrappers are kept per signature and kind of callee for the whole OS process, so calling an
 * import of each signature once, from a throwaway module, when the module is loaded, compiles
 * them where it costs nothing.
 *
 * The throwaway module imports one function per signature; its callees are JavaScript
 * functions of the same arity as the host functions (the arity is part of the wrapper's kind),
 * wrapped in `WebAssembly.Suspending` for the imports that are.
 */
import { promising, Suspending } from "../jspi.ts";
import type { ValType } from "../host_api.ts";
import { ByteWriter } from "./bytes.ts";
import type { FuncType } from "./module_info.ts";

/** One kind of import call: its signature, and whether it goes through `Suspending`. */
export interface ImportCallKind {
  readonly type: FuncType;
  readonly suspending: boolean;
}

const VALTYPE_CODES: Partial<Record<ValType, number>> = {
  i32: 0x7f,
  i64: 0x7e,
  f32: 0x7d,
  f64: 0x7c,
  funcref: 0x70,
  externref: 0x6f,
};

/** Kinds already warmed in this OS process. */
const warmed = new Set<string>();

function keyOf(kind: ImportCallKind): string {
  return `${kind.suspending ? "s" : "p"}(${kind.type.params.join(",")})->(${
    kind.type.results.join(",")
  })`;
}

/**
 * Calls an import of every kind in `kinds` not yet warmed, once, so that V8 compiles and keeps
 * their wrappers. Kinds JavaScript cannot call (v128) are left out. Never throws: warming is
 * an optimisation.
 */
export async function warmImportWrappers(kinds: readonly ImportCallKind[]): Promise<void> {
  const fresh = new Map<string, ImportCallKind>();
  for (const kind of kinds) {
    const key = keyOf(kind);
    const callable = [...kind.type.params, ...kind.type.results].every((t) =>
      VALTYPE_CODES[t] !== undefined
    );
    if (callable && !warmed.has(key)) fresh.set(key, kind);
  }
  if (fresh.size === 0) return;
  const list = [...fresh.values()];
  try {
    const module = new WebAssembly.Module(warmupModule(list));
    const imports: Record<string, unknown> = {};
    list.forEach((kind, i) => {
      const callee = noOp(kind.type);
      imports[`i${i}`] = kind.suspending ? new Suspending(callee) : callee;
    });
    const instance = new WebAssembly.Instance(module, { w: imports } as WebAssembly.Imports);
    for (let i = 0; i < list.length; i++) {
      const call = instance.exports[`c${i}`] as () => void;
      if (list[i].suspending) await promising(call)();
      else call();
    }
  } catch {
    return; // an engine that cannot: the first calls compile them, as without warming
  }
  for (const key of fresh.keys()) warmed.add(key);
}

/** A JavaScript function of the signature's arity that returns zeros of its result types. */
function noOp(type: FuncType): (...args: never[]) => unknown {
  const params = type.params.map((_, i) => `a${i}`);
  const zero = (t: ValType) =>
    t === "i64" ? "0n" : t === "funcref" || t === "externref" ? "null" : "0";
  const result = type.results.length === 0
    ? "undefined"
    : type.results.length === 1
    ? zero(type.results[0])
    : `[${type.results.map(zero).join(", ")}]`;
  return new Function(...params, `return ${result};`) as (...args: never[]) => unknown;
}

/** The throwaway module: import `w.i<k>` of each kind, export `c<k>` calling it with zeros. */
export function warmupModule(kinds: readonly ImportCallKind[]): Uint8Array<ArrayBuffer> {
  const section = (id: number, content: Uint8Array) =>
    new ByteWriter(content.length + 6).u8(id).u32(content.length).bytes(content).finish();
  const types = new ByteWriter().u32(kinds.length + 1);
  for (const { type } of kinds) {
    types.u8(0x60).u32(type.params.length);
    for (const t of type.params) types.u8(VALTYPE_CODES[t]!);
    types.u32(type.results.length);
    for (const t of type.results) types.u8(VALTYPE_CODES[t]!);
  }
  types.u8(0x60).u32(0).u32(0); // the callers: () -> ()
  const callerType = kinds.length;
  const imports = new ByteWriter().u32(kinds.length);
  kinds.forEach((_, i) => imports.name("w").name(`i${i}`).u8(0x00).u32(i));
  const functions = new ByteWriter().u32(kinds.length);
  kinds.forEach(() => functions.u32(callerType));
  const exports = new ByteWriter().u32(kinds.length);
  kinds.forEach((_, i) => exports.name(`c${i}`).u8(0x00).u32(kinds.length + i));
  const code = new ByteWriter().u32(kinds.length);
  kinds.forEach(({ type }, i) => {
    const body = new ByteWriter().u32(0); // no locals
    for (const t of type.params) pushZero(body, t);
    body.u8(0x10).u32(i); // call import i
    for (let r = 0; r < type.results.length; r++) body.u8(0x1a); // drop
    body.u8(0x0b);
    const bytes = body.finish();
    code.u32(bytes.length).bytes(bytes);
  });
  return new ByteWriter()
    .bytes(Uint8Array.of(0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00))
    .bytes(section(1, types.finish()))
    .bytes(section(2, imports.finish()))
    .bytes(section(3, functions.finish()))
    .bytes(section(7, exports.finish()))
    .bytes(section(10, code.finish()))
    .finish();
}

function pushZero(body: ByteWriter, type: ValType): void {
  switch (type) {
    case "i32":
      body.u8(0x41).u8(0x00);
      break;
    case "i64":
      body.u8(0x42).u8(0x00);
      break;
    case "f32":
      body.u8(0x43).bytes(new Uint8Array(4));
      break;
    case "f64":
      body.u8(0x44).bytes(new Uint8Array(8));
      break;
    case "funcref":
      body.u8(0xd0).u8(0x70);
      break;
    case "externref":
      body.u8(0xd0).u8(0x6f);
      break;
    default:
      throw new RangeError(`no zero for ${type}`);
  }
}
