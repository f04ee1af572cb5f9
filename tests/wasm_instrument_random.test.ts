/**
 * Differential tests of the instrumentation on random programs: nested blocks, loops and ifs
 * with branches to every enclosing label (`br`, `br_if`, `br_table`), early returns, and
 * direct and indirect calls of small leaves and of each other. Every program terminates (each
 * loop counts down a counter of its own), and must compute the same with and without
 * instrumentation — plain, and with loops unrolled and leaves charged at their call sites.
 */
import assert from "node:assert/strict";
import { compileWat } from "./helpers/compile.ts";
import { parseModule } from "../runtime/wasm/module_info.ts";
import { instrument, YIELD_IMPORT } from "../runtime/wasm/instrument.ts";

/** A small deterministic generator (mulberry32), so that a failure can be replayed. */
function random(seed: number): (n: number) => number {
  let state = seed >>> 0;
  return (n: number) => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (((t ^ (t >>> 14)) >>> 0) % n);
  };
}

const LEAVES = 3;
const FUNCTIONS = 40;
const LOOP_LIMIT = 6;

/**
 * One random function body. Labels are named so the generator can pick any enclosing one; each
 * loop has its own counter local (`$c<k>`), set before the loop and counted down at its top, so
 * that every loop, also one continued from an inner branch, ends.
 */
function randomFunction(index: number, next: (n: number) => number): string {
  const labels: string[] = [];
  let loops = 0;
  let label = 0;
  const mix = (value: number) =>
    `(global.set $acc (i32.add (i32.mul (global.get $acc) (i32.const 31)) (i32.const ${value})))`;
  const condition = () =>
    `(i32.eq (i32.and (global.get $acc) (i32.const ${1 + next(7)})) (i32.const ${next(3)}))`;
  const call = () => {
    switch (next(3)) {
      case 0:
        return `(global.set $acc (call $leaf${next(LEAVES)} (global.get $acc)))`;
      case 1:
        return `(global.set $acc (call_indirect (type $unary) (global.get $acc) (i32.const ${
          next(LEAVES)
        })))`;
      default:
        // Calls only go to functions defined earlier, so recursion is bounded.
        return index > LEAVES ? `(call $f${LEAVES + next(index - LEAVES)})` : mix(7);
    }
  };
  const statements = (depth: number): string => {
    const count = 1 + next(3);
    let out = "";
    for (let i = 0; i < count; i++) out += statement(depth) + "\n";
    return out;
  };
  const statement = (depth: number): string => {
    const choice = next(depth > 4 ? 4 : 9);
    switch (choice) {
      case 0:
      case 1:
        return mix(next(1000));
      case 2:
        return call();
      case 3: {
        if (labels.length === 0) return mix(3);
        const target = labels[next(labels.length)];
        return next(2) === 0
          ? `(br_if ${target} ${condition()})`
          : `(if ${condition()} (then (br ${target})))`;
      }
      case 4:
        return `(if ${condition()} (then (return)))`;
      case 5: {
        const name = `$b${label++}`;
        labels.push(name);
        const body = statements(depth + 1);
        labels.pop();
        return `(block ${name}\n${body})`;
      }
      case 6: {
        const name = `$l${label++}`;
        const exit = `$x${label++}`;
        const counter = `$c${loops++}`;
        labels.push(exit);
        labels.push(name);
        const body = statements(depth + 1);
        labels.pop();
        labels.pop();
        return `(block ${exit}
          (local.set ${counter} (i32.const ${1 + next(LOOP_LIMIT)}))
          (loop ${name}
            (local.set ${counter} (i32.sub (local.get ${counter}) (i32.const 1)))
            (br_if ${exit} (i32.lt_s (local.get ${counter}) (i32.const 0)))
            ${body}
            (br_if ${name} ${condition()})))`;
      }
      case 7: {
        if (labels.length === 0) return mix(5);
        const targets = Array.from({ length: 1 + next(3) }, () => labels[next(labels.length)]);
        const inner = `$t${label++}`;
        return `(block ${inner} (br_table ${inner} ${targets.join(" ")}
          (i32.rem_u (global.get $acc) (i32.const ${targets.length + 1}))))`;
      }
      default:
        return `(if ${condition()} (then ${statements(depth + 1)}) (else ${mix(next(100))}))`;
    }
  };
  const body = statements(0);
  const locals = Array.from({ length: loops }, (_, k) => `(local $c${k} i32)`).join(" ");
  return `(func $f${index} ${locals}\n${body})`;
}

function randomModule(seed: number): string {
  const next = random(seed);
  const leaves = Array.from(
    { length: LEAVES },
    (_, k) =>
      `(func $leaf${k} (type $unary) (i32.add (i32.mul (local.get 0) (i32.const ${
        3 + 2 * k
      })) (i32.const ${k + 1})))`,
  );
  const functions: string[] = [];
  for (let i = LEAVES; i < LEAVES + FUNCTIONS; i++) functions.push(randomFunction(i, next));
  const exports = functions.map((_, i) => `(export "f${LEAVES + i}" (func $f${LEAVES + i}))`);
  return `(module
    (type $unary (func (param i32) (result i32)))
    (global $acc (export "acc") (mut i32) (i32.const 0))
    (table 3 funcref)
    (elem (i32.const 0) ${leaves.map((_, k) => `$leaf${k}`).join(" ")})
    ${leaves.join("\n")}
    ${functions.join("\n")}
    ${exports.join("\n")})`;
}

/** Runs every exported function from a few starting values; returns what each left in $acc. */
function outcomes(bytes: Uint8Array<ArrayBuffer>, fueled: boolean): number[] {
  const imports: WebAssembly.Imports = {};
  if (fueled) {
    imports[YIELD_IMPORT.module] = {
      // A small refill, so that the checks call out often.
      [YIELD_IMPORT.name]: () => 37n,
    };
  }
  const instance = new WebAssembly.Instance(new WebAssembly.Module(bytes), imports);
  const acc = instance.exports.acc as WebAssembly.Global;
  const results: number[] = [];
  for (let i = LEAVES; i < LEAVES + FUNCTIONS; i++) {
    for (const start of [0, 1, 2, 5, 12345]) {
      acc.value = start;
      (instance.exports[`f${i}`] as () => void)();
      results.push(acc.value as number);
    }
  }
  return results;
}

for (const seed of [1, 2, 3, 4, 5, 6, 7, 8]) {
  Deno.test(`random programs (seed ${seed}) compute the same instrumented, plain and unrolled`, async () => {
    const bytes = await compileWat(randomModule(seed));
    const info = parseModule(bytes);
    const expected = outcomes(bytes, false);
    const plain = instrument(bytes, info, { unrollLoops: false, chargeLeavesAtCallSites: false });
    const unrolled = instrument(bytes, info);
    assert.ok(WebAssembly.validate(unrolled.bytes), "the unrolled module validates");
    assert.deepEqual(outcomes(plain.bytes, true), expected, "plain instrumentation");
    assert.deepEqual(outcomes(unrolled.bytes, true), expected, "unrolled loops, leaves charged");
    assert.ok(
      unrolled.bytes.length > plain.bytes.length,
      "loops were unrolled (the module grew past the plain one)",
    );
  });
}
