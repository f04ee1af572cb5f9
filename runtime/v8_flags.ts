/**
 * The V8 settings the runtime is meant to run with: `deno task run`, `test`, `bench`,
 * `compile` and the benchmarks pass them as `--v8-flags=...` (V8 reads them at start-up, so
 * an embedder passes them too). tests/v8_flags.test.ts checks that every task does.
 *
 * - `--wasm-wrapper-tiering-budget=1`: imports are called through compiled wrappers from the
 *   first call, not a generic one for each instance's first 1,000 calls (a lunatic program is
 *   thousands of instances; a ring hop costs ~25% more without it).
 * - `--no-wasm-lazy-compilation`: a module is compiled whole, on background threads, when it
 *   is loaded; lazily, each function's first call compiled it on the spot and a debug build's
 *   processes stalled for milliseconds at a time (a supervisor's restart took 16–25 ms
 *   instead of 3–6 ms).
 * - `--min-semi-space-size=32`: a 32 MB young generation, so that the short-lived objects of
 *   spawns and messages die there instead of filling the old generation, whose collections
 *   pause every process for 3–9 ms (a timing-sensitive supervisor test failed 11 of 30 runs
 *   with the default, 3 of 30 with this; it costs ~30 MB of memory).
 * - `--no-wasm-inlining`: without speculative inlining, an instance needs no feedback array of
 *   its own (68 of the 175 KB of V8 heap each instance of a lunatic-rs debug build takes), and
 *   the optimizing compiler's background jobs are smaller; the supervisor tests' failures went
 *   from ~24 in 90 runs to 3 in 110. It costs compute: 10–35% on code that calls through
 *   function pointers (bench:overhead's sort kernel), like a wasmtime without inlining.
 */
export const V8_FLAGS = [
  "--wasm-wrapper-tiering-budget=1",
  "--no-wasm-lazy-compilation",
  "--min-semi-space-size=32",
  "--no-wasm-inlining",
] as const;

/** The flags as one `deno` argument. */
export const V8_FLAGS_ARGUMENT = `--v8-flags=${V8_FLAGS.join(",")}`;
