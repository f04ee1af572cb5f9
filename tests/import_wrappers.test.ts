/**
 * Import wrappers are compiled when a module is loaded (runtime/wasm/import_wrappers.ts): the
 * throwaway module that calls one import of each signature is valid for every value type
 * JavaScript can pass, multiple results and suspending imports, and calls each import once.
 */
import assert from "node:assert/strict";
import { promising, Suspending } from "../runtime/jspi.ts";
import {
  type ImportCallKind,
  warmImportWrappers,
  warmupModule,
} from "../runtime/wasm/import_wrappers.ts";
import { parseModule } from "../runtime/wasm/module_info.ts";

const KINDS: ImportCallKind[] = [
  { type: { params: ["i32", "i64", "externref"], results: ["i32"] }, suspending: false },
  { type: { params: ["i64", "externref"], results: ["i64"] }, suspending: true },
  { type: { params: ["f32", "f64", "funcref"], results: [] }, suspending: false },
  { type: { params: [], results: ["i32", "i64", "f64"] }, suspending: false },
];

Deno.test("the warm-up module imports each kind once and calls it with zeros", async () => {
  const bytes = warmupModule(KINDS);
  assert.ok(WebAssembly.validate(bytes));
  const info = parseModule(bytes);
  assert.deepEqual(
    info.imports.map((i) => [i.module, i.name, i.type]),
    KINDS.map((k, i) => [
      "w",
      `i${i}`,
      k.type,
    ]),
  );
  const calls: unknown[][] = [];
  const record = (results: unknown) => (...args: unknown[]) => (calls.push(args), results);
  const instance = new WebAssembly.Instance(new WebAssembly.Module(bytes), {
    w: {
      i0: record(7),
      i1: new Suspending(record(7n)),
      i2: record(undefined),
      i3: record([1, 2n, 3]),
    },
  } as WebAssembly.Imports);
  (instance.exports.c0 as () => void)();
  await promising(instance.exports.c1 as () => void)();
  (instance.exports.c2 as () => void)();
  (instance.exports.c3 as () => void)();
  assert.deepEqual(calls, [[0, 0n, null], [0n, null], [0, 0, null], []]);
});

Deno.test("warming never throws: v128 signatures are left out, repeats are no-ops", async () => {
  await warmImportWrappers([
    ...KINDS,
    { type: { params: ["v128"], results: [] }, suspending: false },
  ]);
  await warmImportWrappers(KINDS);
});
