/**
 * What the preemption/fuel instrumentation (runtime/wasm/instrument.ts) costs a compute-heavy
 * guest: `bench/guests/compute.c` (hashing, a sieve, a matrix product, an n-body simulation,
 * recursion, quicksort through function pointers), built here with clang-14 -O2, and the same
 * export timed in the original and in the instrumented module, whose out_of_fuel import refills
 * the counter with 100,000 units per call (`deno task bench`).
 */
import { buildComputeGuest } from "./compute_guest.ts";
import { parseModule } from "../runtime/wasm/module_info.ts";
import { instrument, YIELD_IMPORT } from "../runtime/wasm/instrument.ts";

const REFILL = 100_000n;
const ROUNDS = 4;

const original = await buildComputeGuest();
const instrumented = instrument(original, parseModule(original)).bytes;

type Run = (rounds: number) => bigint;

const plain = new WebAssembly.Instance(new WebAssembly.Module(original)).exports.run as Run;

let refills = 0;
const fueled = new WebAssembly.Instance(new WebAssembly.Module(instrumented), {
  [YIELD_IMPORT.module]: {
    [YIELD_IMPORT.name]: () => {
      refills++;
      return REFILL;
    },
  },
});
const withFuel = fueled.exports.run as Run;

if (withFuel(1) !== plain(1)) throw new Error("the instrumented guest computed something else");
if (refills === 0) throw new Error("the instrumented guest never ran out of fuel");

Deno.bench({
  name: "compute.c -O2, original",
  group: "instrumentation overhead",
  baseline: true,
  fn: () => {
    plain(ROUNDS);
  },
});

Deno.bench({
  name: "compute.c -O2, instrumented (refill 100,000 per out_of_fuel)",
  group: "instrumentation overhead",
  fn: () => {
    withFuel(ROUNDS);
  },
});
