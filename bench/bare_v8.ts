/**
 * The platform's own cost, without the runtime: plain `WebAssembly.Instance`s and bare JSPI.
 * A process spawn here is an instance of a tiny module with a one-page memory whose export
 * runs through `WebAssembly.promising`; a message hop is one instance resuming another
 * suspended in a `Suspending` import.
 */
import { fileURLToPath } from "node:url";
import { promising, Suspending } from "../runtime/jspi.ts";

const guest = (name: string) =>
  Deno.readFileSync(fileURLToPath(new URL(`../tests/guests/build/${name}.wasm`, import.meta.url)));

/** A one-page memory and an export that calls its one import once. */
const SPAWNED = guest("bare_spawned");
/** `run()`: receive (0 = stop), send on, repeat. */
const RING_NODE = guest("bare_ring_node");

export async function bareV8(name: string, numbers: number[]): Promise<Record<string, unknown>> {
  if (name === "spawn") {
    const [n] = numbers;
    const module = new WebAssembly.Module(SPAWNED);
    const run = (count: number) => {
      let sent = 0;
      const imports = { h: { send: () => sent++ } };
      const done: Promise<unknown>[] = [];
      for (let i = 0; i < count; i++) {
        const instance = new WebAssembly.Instance(module, imports);
        done.push(promising(instance.exports.run as () => void)());
      }
      return Promise.all(done);
    };
    await run(1000);
    const started = performance.now();
    await run(n);
    return { processes: n, ns_per_process: (performance.now() - started) * 1e6 / n };
  }
  if (name === "ring") {
    const [n, m] = numbers;
    return { processes: n, messages: m, ns_per_message: await ringMs(n, m) * 1e6 / m };
  }
  if (name === "roundtrip") {
    // A request and its reply are two hops around a ring of two.
    const [k] = numbers;
    return { round_trips: k, ns_per_round_trip: await ringMs(2, 2 * k) * 1e6 / k };
  }
  throw new Error(`no bare-V8 baseline for ${name}`);
}

/**
 * Passes a token `m` hops around `n` instances: node i waits in a suspending `receive`, then
 * `send` resumes node (i+1) % n directly. Returns the milliseconds the hops took.
 */
async function ringMs(n: number, m: number): Promise<number> {
  const module = new WebAssembly.Module(RING_NODE);
  const waiting: (((v: number) => void) | null)[] = new Array(n).fill(null);
  const pending = new Array<number>(n).fill(0);
  pending[0] = 1; // node 0 starts with the token
  let hops = 0;
  let finished!: () => void;
  const done = new Promise<void>((resolve) => finished = resolve);
  const nodes = Array.from({ length: n }, (_, self) => {
    const next = (self + 1) % n;
    return new WebAssembly.Instance(module, {
      h: <Record<string, WebAssembly.ImportValue>> {
        send: () => {
          if (++hops === m) return finished();
          const resume = waiting[next];
          if (resume !== null) {
            waiting[next] = null;
            resume(1);
          } else pending[next]++;
        },
        receive: new Suspending(() => {
          if (pending[self] > 0) {
            pending[self]--;
            return 1;
          }
          return new Promise<number>((resolve) => waiting[self] = resolve);
        }),
      },
    });
  });
  const started = performance.now();
  const runs = nodes.map((node) => promising(node.exports.run as () => void)());
  await done;
  const elapsed = performance.now() - started;
  for (const resume of waiting) resume?.(0);
  await Promise.all(runs);
  return elapsed;
}
