/**
 * What a ring hop pays for the memory it touches, with no runtime at all: the minimal bare-V8
 * ring (bench/bare_v8.ts: one instance resumes the next, 2 calls a hop), where each hop also
 * reads and writes one word in each of K distinct 4 KiB pages of the process's own memory, for
 * a ring of 10 processes (everything stays in cache and TLB) and of 1,000 (it does not). A real
 * guest touches its shadow stack, data and message buffers, and the host touches its stack
 * and objects: this shows what each page costs once there are many processes.
 *
 *   deno run -A --v8-flags=... bench/ring_working_set.ts
 *   (uses Debian's wat2wasm, and the baselines of bench/bare_v8.ts: `deno task build:guests`)
 *
 * Prints one JSON line per ring size and K: {"processes", "pages", "ns_per_message"}.
 */
import { compileWat } from "../tests/helpers/compile.ts";
import { ringMs } from "./bare_v8.ts";

const MESSAGES = 1_000_000;

function nodeWat(pages: number): string {
  const touches = Array.from({ length: pages }, (_, i) => {
    const at = i * 4096 + 64;
    return `(i32.store (i32.const ${at}) (i32.add (i32.load (i32.const ${at})) (i32.const 1)))`;
  }).join("\n      ");
  return `(module
  (import "h" "send" (func $send))
  (import "h" "receive" (func $receive (result i32)))
  (memory 2 2)
  (func (export "run")
    (loop $again
      (br_if 1 (i32.eqz (call $receive)))
      ${touches}
      (call $send)
      (br $again))))`;
}

async function ringNsPerHop(processes: number, pages: number): Promise<number> {
  const module = new WebAssembly.Module(await compileWat(nodeWat(pages)));
  return await ringMs(processes, MESSAGES, module) * 1e6 / MESSAGES;
}

for (const processes of [10, 1000]) {
  for (const pages of [0, 4, 16]) {
    const ns = await ringNsPerHop(processes, pages);
    console.log(JSON.stringify({ processes, pages, ns_per_message: Math.round(ns) }));
  }
}
