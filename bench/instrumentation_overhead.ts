/**
 * The instrumentation's cost as a robust figure: the compute guest (`bench/guests/compute.c`,
 * clang-14 -O2) run uninstrumented, with plain checks (every function entry and loop iteration)
 * instrumented (small loops unrolled, small leaves charged at their call sites) and as the
 * runtime compiles it (also with the process passed to host calls and its memory imported), in turn, 60 times each after a warm-up; the ratios of the medians to the
 * original (`deno task bench:overhead`; target: at most 1.15). Each kernel is also timed alone
 * through its own export. `bench/instrumentation_bench.ts` shows the pair under `deno bench`.
 */
import { buildComputeGuest } from "./compute_guest.ts";
import {
  HANDLE_IMPORT,
  instrument,
  type InstrumentOptions,
  YIELD_IMPORT,
} from "../runtime/wasm/instrument.ts";
import { parseModule } from "../runtime/wasm/module_info.ts";
import {
  canImportMemory,
  limitAndImportMemory,
  limitMemory,
  MEMORY_IMPORT,
} from "../runtime/wasm/rewrite.ts";
import { POOLED_MEMORY_MAX_PAGES } from "../runtime/memory_pool.ts";

const RUNS = 60;
const ROUNDS = 4;
const REFILL = 100_000n;

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[sorted.length >> 1];
}

const original = await buildComputeGuest();
type Kernel = (rounds: number) => bigint;
type Exports = WebAssembly.Exports;

/** The compute guest instrumented with `options`, its counter refilled whenever it runs out. */
function fueled(options: InstrumentOptions): Exports {
  const bytes = instrument(original, parseModule(original), options).bytes;
  const instance = new WebAssembly.Instance(new WebAssembly.Module(bytes), {
    [YIELD_IMPORT.module]: { [YIELD_IMPORT.name]: () => REFILL },
  });
  return instance.exports;
}

/**
 * The compute guest as the runtime compiles it: instrumented with the process handle passed
 * to host calls, its memory limited (to 4 GiB) and, when small enough to come from the pool
 * of zeroed memories, imported.
 */
function asTheRuntimeRunsIt(): Exports {
  const instrumented = instrument(original, parseModule(original), { processHandle: true }).bytes;
  const info = parseModule(instrumented);
  const internal: Record<string, unknown> = {
    [YIELD_IMPORT.name]: () => REFILL,
    [HANDLE_IMPORT.name]: { process: "the handle" },
  };
  let bytes: Uint8Array<ArrayBuffer>;
  if (canImportMemory(info) && info.memories[0].min <= POOLED_MEMORY_MAX_PAGES) {
    const imported = limitAndImportMemory(instrumented, info, 65536);
    bytes = imported.bytes;
    internal[MEMORY_IMPORT.name] = new WebAssembly.Memory({
      initial: imported.initial,
      maximum: imported.maximum,
    });
  } else {
    bytes = limitMemory(instrumented, info, 65536) as Uint8Array<ArrayBuffer>;
  }
  const instance = new WebAssembly.Instance(new WebAssembly.Module(bytes), {
    [YIELD_IMPORT.module]: internal as Record<string, WebAssembly.ImportValue>,
  });
  return instance.exports;
}

const variants: Exports[] = [
  new WebAssembly.Instance(new WebAssembly.Module(original)).exports,
  // Every function entry and every loop iteration checked.
  fueled({ unrollLoops: false, chargeLeavesAtCallSites: false }),
  // Small loops unrolled, small leaves charged at their call sites.
  fueled({}),
  // And the rest of what the runtime does to a module.
  asTheRuntimeRunsIt(),
];

/** Median time of `rounds` rounds of `name` in each variant, run in turn. */
function measure(name: string, rounds: number): number[] {
  const kernels = variants.map((exports) => exports[name] as Kernel);
  const expected = kernels[0](1);
  for (const kernel of kernels) {
    if (kernel(1) !== expected) throw new Error(`an instrumented ${name} computed something else`);
  }
  for (let i = 0; i < 10; i++) for (const kernel of kernels) kernel(rounds);
  const times: number[][] = kernels.map(() => []);
  for (let i = 0; i < RUNS; i++) {
    kernels.forEach((kernel, k) => {
      const started = performance.now();
      kernel(rounds);
      times[k].push(performance.now() - started);
    });
  }
  return times.map(median);
}

// The whole mix first (the figure the target applies to), then each kind of code alone.
const kernels: [string, string, number][] = [
  ["run", "all kernels (the benchmark guest)", ROUNDS],
  ["hash", "hashing (xorshift + FNV-1a over 64 KiB)", 20],
  ["nbody_kernel", "n-body, 2,000 steps", 20],
  ["matmul_kernel", "matrix product", 20],
  ["fib_kernel", "recursive fib(20..22)", 20],
  ["sort_kernel", "sort through function pointers", 10],
  ["sieve_kernel", "sieve of Eratosthenes", 20],
];
console.log(
  `median of ${RUNS} runs of each variant in turn, compute.c -O2; ratio to the original ` +
    "(target: at most 1.150)",
);
console.log(
  `${"".padEnd(42)} ${"original".padStart(10)}  ${"plain checks".padStart(12)}  ${
    "instrumented".padStart(12)
  }  ${"as run".padStart(8)}`,
);
for (const [name, what, rounds] of kernels) {
  const [a, plain, optimized, asRun] = measure(name, rounds);
  console.log(
    `${what.padEnd(42)} ${(a.toFixed(2) + " ms").padStart(10)}  ${
      (plain / a).toFixed(3).padStart(12)
    }  ${(optimized / a).toFixed(3).padStart(12)}  ${(asRun / a).toFixed(3).padStart(8)}`,
  );
}
