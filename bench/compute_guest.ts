/**
 * The compute-heavy guest of the instrumentation benchmarks, `bench/guests/compute.c`, built
 * freestanding with clang-14 -O2 (the flags its header names).
 */
import { compileC } from "../tests/helpers/compile.ts";

export const COMPUTE_FLAGS = [
  "--target=wasm32",
  "-O2",
  "-mbulk-memory",
  "-nostdlib",
  "-Wl,--no-entry",
];

export async function buildComputeGuest(): Promise<Uint8Array<ArrayBuffer>> {
  const source = await Deno.readTextFile(new URL("./guests/compute.c", import.meta.url));
  return compileC(source, COMPUTE_FLAGS);
}
