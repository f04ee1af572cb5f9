/**
 * The platform's own cost, without the runtime: plain `WebAssembly.Instance`s and bare JSPI.
 * A process spawn here is an instance of a tiny module with a one-page memory whose export
 * runs through `WebAssembly.promising`; a message hop is one instance resuming another
 * suspended in a `Suspending` import.
 */
import { promising, Suspending } from "../runtime/jspi.ts";

// (module (import "h" "send" (func)) (memory 1 2) (func (export "run") (call 0)))
const SPAWNED = new Uint8Array([
  0,
  97,
  115,
  109,
  1,
  0,
  0,
  0,
  1,
  4,
  1,
  96,
  0,
  0,
  2,
  10,
  1,
  1,
  104,
  4,
  115,
  101,
  110,
  100,
  0,
  0,
  3,
  2,
  1,
  0,
  5,
  4,
  1,
  1,
  1,
  2,
  7,
  7,
  1,
  3,
  114,
  117,
  110,
  0,
  1,
  10,
  6,
  1,
  4,
  0,
  16,
  0,
  11,
]);

// (module (import "h" "send" (func)) (import "h" "receive" (func))
//   (memory 1 2) (func (export "run") (param i32)
//     (loop (call 0) (call 1) (br_if 0 (local.tee 0 (i32.sub (local.get 0) (i32.const 1)))))))
const PINGER = new Uint8Array([
  0,
  97,
  115,
  109,
  1,
  0,
  0,
  0,
  1,
  8,
  2,
  96,
  0,
  0,
  96,
  1,
  127,
  0,
  2,
  22,
  2,
  1,
  104,
  4,
  115,
  101,
  110,
  100,
  0,
  0,
  1,
  104,
  7,
  114,
  101,
  99,
  101,
  105,
  118,
  101,
  0,
  0,
  3,
  2,
  1,
  1,
  5,
  4,
  1,
  1,
  1,
  2,
  7,
  7,
  1,
  3,
  114,
  117,
  110,
  0,
  2,
  10,
  20,
  1,
  18,
  0,
  3,
  64,
  16,
  0,
  16,
  1,
  32,
  0,
  65,
  1,
  107,
  34,
  0,
  13,
  0,
  11,
  11,
]);

// (module (import "h" "send" (func)) (import "h" "receive" (func (result i32)))
//   (memory 1 2) (func (export "run") (loop (br_if 1 (i32.eqz (call 1))) (call 0) (br 0))))
const RING_NODE = new Uint8Array([
  0,
  97,
  115,
  109,
  1,
  0,
  0,
  0,
  1,
  8,
  2,
  96,
  0,
  0,
  96,
  0,
  1,
  127,
  2,
  22,
  2,
  1,
  104,
  4,
  115,
  101,
  110,
  100,
  0,
  0,
  1,
  104,
  7,
  114,
  101,
  99,
  101,
  105,
  118,
  101,
  0,
  1,
  3,
  2,
  1,
  0,
  5,
  4,
  1,
  1,
  1,
  2,
  7,
  7,
  1,
  3,
  114,
  117,
  110,
  0,
  2,
  10,
  16,
  1,
  14,
  0,
  3,
  64,
  16,
  1,
  69,
  13,
  1,
  16,
  0,
  12,
  0,
  11,
  11,
]);

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
  if (name === "roundtrip") {
    const [k] = numbers;
    const module = new WebAssembly.Module(PINGER);
    // Two instances; each "send" resolves the other's pending receive.
    const waiting: ((v: unknown) => void)[] = [null!, null!];
    const pending = [0, 0];
    const make = (self: number) => {
      const other = 1 - self;
      return new WebAssembly.Instance(module, {
        h: <Record<string, WebAssembly.ImportValue>> {
          send: () => {
            const resume = waiting[other];
            if (resume !== null) {
              waiting[other] = null!;
              resume(undefined);
            } else pending[other]++;
          },
          receive: new Suspending(() => {
            if (pending[self] > 0) {
              pending[self]--;
              return undefined;
            }
            return new Promise((resolve) => waiting[self] = resolve);
          }),
        },
      });
    };
    const a = make(0);
    const b = make(1);
    const started = performance.now();
    await Promise.all([
      promising(a.exports.run as (n: number) => void)(k),
      promising(b.exports.run as (n: number) => void)(k),
    ]);
    return { round_trips: k, ns_per_round_trip: (performance.now() - started) * 1e6 / k };
  }
  if (name === "ring") {
    const [n, m] = numbers;
    const module = new WebAssembly.Module(RING_NODE);
    // Node i receives, then sends to node (i+1) % n; node 0 starts with the token.
    const waiting: (((v: number) => void) | null)[] = new Array(n).fill(null);
    const pending = new Array<number>(n).fill(0);
    pending[0] = 1;
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
    return { processes: n, messages: hops, ns_per_message: elapsed * 1e6 / hops };
  }
  throw new Error(`no bare-V8 baseline for ${name}`);
}
