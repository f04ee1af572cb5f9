/**
 * The instrumentation's cost as a robust figure: the compute guest (`bench/guests/compute.c`,
 * clang-14 -O2) run uninstrumented and instrumented alternately, 60 times each after a warm-up,
 * and the ratio of the medians (`deno task bench:overhead`; target: at most 1.15).
 * `bench/instrumentation_bench.ts` shows the same pair under `deno bench`, which is noisier.
 */
import { fileURLToPath } from "node:url";
import { FUEL_GLOBAL_EXPORT, instrument, YIELD_IMPORT } from "../runtime/wasm/instrument.ts";
import { parseModule } from "../runtime/wasm/module_info.ts";

const RUNS = 60;
const ROUNDS = 4;
const REFILL = 100_000n;

async function buildCompute(): Promise<Uint8Array<ArrayBuffer>> {
  const dir = await Deno.makeTempDir({ prefix: "instrumentation_overhead_" });
  try {
    const output = `${dir}/compute.wasm`;
    const source = fileURLToPath(new URL("./guests/compute.c", import.meta.url));
    const flags = ["--target=wasm32", "-O2", "-mbulk-memory", "-nostdlib", "-Wl,--no-entry"];
    const { success, stderr } = await new Deno.Command("clang-14", {
      args: [...flags, source, "-o", output],
    }).output();
    if (!success) throw new Error(`clang-14 failed: ${new TextDecoder().decode(stderr)}`);
    return await Deno.readFile(output);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[sorted.length >> 1];
}

const original = await buildCompute();
const instrumented = instrument(original, parseModule(original)).bytes;
type Kernel = (rounds: number) => bigint;
const plain = new WebAssembly.Instance(new WebAssembly.Module(original)).exports;
const fueled: WebAssembly.Instance = new WebAssembly.Instance(
  new WebAssembly.Module(instrumented),
  {
    [YIELD_IMPORT.module]: {
      [YIELD_IMPORT.name]: () => {
        (fueled.exports[FUEL_GLOBAL_EXPORT] as WebAssembly.Global).value = REFILL;
      },
    },
  },
);

/** Median time of `rounds` rounds of `name` in each module, run alternately. */
function measure(name: string, rounds: number): { original: number; instrumented: number } {
  const a = plain[name] as Kernel;
  const b = fueled.exports[name] as Kernel;
  if (a(1) !== b(1)) throw new Error(`the instrumented ${name} computed something else`);
  for (let i = 0; i < 10; i++) {
    a(rounds);
    b(rounds);
  }
  const originalTimes: number[] = [];
  const instrumentedTimes: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    let started = performance.now();
    a(rounds);
    originalTimes.push(performance.now() - started);
    started = performance.now();
    b(rounds);
    instrumentedTimes.push(performance.now() - started);
  }
  return { original: median(originalTimes), instrumented: median(instrumentedTimes) };
}

// The whole mix first (the figure the target applies to), then each kind of code alone.
const kernels: [string, string, number][] = [
  ["run", "all kernels (the benchmark guest)", ROUNDS],
  ["hash", "hashing (xorshift + FNV-1a over 64 KiB)", 20],
  ["nbody_kernel", "n-body, 2,000 steps", 20],
  ["matmul_kernel", "matrix product", 20],
  ["fib_kernel", "recursive fib(22)", 20],
  ["sort_kernel", "sort through function pointers", 10],
  ["sieve_kernel", "sieve of Eratosthenes", 20],
];
console.log(`median of ${RUNS} alternating runs each, compute.c -O2 (target: at most 1.150)`);
for (const [name, what, rounds] of kernels) {
  const { original: a, instrumented: b } = measure(name, rounds);
  console.log(
    `${what.padEnd(42)} original ${a.toFixed(2).padStart(7)} ms  instrumented ${
      b.toFixed(2).padStart(7)
    } ms  ratio ${(b / a).toFixed(3)}`,
  );
}
