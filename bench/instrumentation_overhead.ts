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
type Run = (rounds: number) => bigint;
const plain = new WebAssembly.Instance(new WebAssembly.Module(original)).exports.run as Run;
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
const withFuel = fueled.exports.run as Run;
if (withFuel(1) !== plain(1)) throw new Error("the instrumented guest computed something else");

for (let i = 0; i < 10; i++) {
  plain(ROUNDS);
  withFuel(ROUNDS);
}
const originalTimes: number[] = [];
const instrumentedTimes: number[] = [];
for (let i = 0; i < RUNS; i++) {
  let started = performance.now();
  plain(ROUNDS);
  originalTimes.push(performance.now() - started);
  started = performance.now();
  withFuel(ROUNDS);
  instrumentedTimes.push(performance.now() - started);
}
const ratio = median(instrumentedTimes) / median(originalTimes);
console.log(
  `compute.c -O2, median of ${RUNS}: original ${median(originalTimes).toFixed(2)} ms, ` +
    `instrumented ${median(instrumentedTimes).toFixed(2)} ms, ratio ${ratio.toFixed(3)} ` +
    `(target ≤ 1.150: ${ratio <= 1.15 ? "met" : "not met"})`,
);
