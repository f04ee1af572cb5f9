/**
 * The platform's own cost, without the runtime: plain `WebAssembly.Instance`s and bare JSPI,
 * two ways.
 *
 * - Minimal (`spawn`, `ring`, `roundtrip`): a spawn is an instance of a tiny module with one
 *   import and a one-page memory whose export runs through `WebAssembly.promising`; a message
 *   hop is one instance resuming another suspended in a `Suspending` import (2 calls per hop).
 * - Same guest (`spawn-guest`, `ring-guest`): our benchmark guests themselves
 *   (`tests/guests/bench_spawn.wat`, `bench_ring.wat`, uninstrumented), linked to the least
 *   JavaScript that runs them: a spawn instantiates the guest (memory limited to 2 pages, as
 *   our children are) and runs its `child` export; a hop is the guest's own 5 lunatic calls
 *   (create_data, write_data, send, receive, read_data, with their i64 arguments), each doing
 *   only what the hop needs. This is what V8 costs for these guests: the floor under any
 *   runtime of this ABI on this platform. `spawn-guest-reused` is the same spawn with each
 *   instance importing a memory that an ended one used (zeroed), as our runtime does for
 *   small memories.
 */
import { fileURLToPath } from "node:url";
import { promising, Suspending } from "../runtime/jspi.ts";
import { bareCLiveSpawn, bareCRing, bareRustSpawn } from "./bare_c_guest.ts";
import { rustGuest } from "./rust_guest.ts";
import { parseModule } from "../runtime/wasm/module_info.ts";
import { limitAndImportMemory, limitMemory, MEMORY_IMPORT } from "../runtime/wasm/rewrite.ts";

const guest = (name: string) =>
  Deno.readFileSync(fileURLToPath(new URL(`../tests/guests/build/${name}.wasm`, import.meta.url)));

/** A one-page memory and an export that calls its one import once. */
const SPAWNED = guest("bare_spawned");
/** `run()`: receive (0 = stop), send on, repeat. */
const RING_NODE = guest("bare_ring_node");
const SPAWN_GUEST = guest("bench_spawn");
const RING_GUEST = guest("bench_ring");
/** The C ring's hop as its seven lunatic calls alone (tests/guests/bare_c_ring_calls.wat). */
const C_RING_CALLS = guest("bare_c_ring_calls");

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
    return { processes: n, ns_per_process: await msAfterWarmUp(run, n) * 1e6 / n };
  }
  if (name === "spawn-guest") {
    const [n] = numbers;
    return { processes: n, ns_per_process: await guestSpawnMs(n) * 1e6 / n };
  }
  if (name === "spawn-guest-reused") {
    const [n] = numbers;
    return { processes: n, ns_per_process: await guestSpawnReusedMs(n) * 1e6 / n };
  }
  if (name === "ring-guest") {
    const [n, m] = numbers;
    return { processes: n, messages: m, ns_per_message: await guestRingMs(n, m) * 1e6 / m };
  }
  if (name === "ring") {
    const [n, m] = numbers;
    return { processes: n, messages: m, ns_per_message: await ringMs(n, m) * 1e6 / m };
  }
  if (name === "c-ring-calls") {
    const [n, m] = numbers;
    return { processes: n, messages: m, ns_per_message: await cRingCallsMs(n, m) * 1e6 / m };
  }
  if (name === "rust-spawn") {
    const [n] = numbers;
    const bytes = await rustGuest();
    if (bytes === null) {
      throw new Error("no rustc for wasm32-wasi (Debian: rustc, libstd-rust-dev-wasm32)");
    }
    return await bareRustSpawn(bytes, n);
  }
  if (name === "c-live-spawn") {
    const [n] = numbers;
    return await bareCLiveSpawn(n);
  }
  if (name === "c-ring") {
    const [n, m] = numbers;
    return await bareCRing(n, m);
  }
  if (name === "roundtrip") {
    // A request and its reply are two hops around a ring of two.
    const [k] = numbers;
    return { round_trips: k, ns_per_round_trip: await ringMs(2, 2 * k) * 1e6 / k };
  }
  throw new Error(`no bare-V8 baseline for ${name}`);
}

/**
 * Passes a token `m` hops around `n` instances of `module` (by default the minimal ring node;
 * any module importing `h.send()` and `h.receive() -> i32` with a `run` export will do): node
 * i waits in a suspending `receive`, then `send` resumes node (i+1) % n directly. Returns the
 * milliseconds the hops took.
 */
export async function ringMs(
  n: number,
  m: number,
  module = new WebAssembly.Module(RING_NODE),
): Promise<number> {
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

/**
 * {@link ringMs} with the C ring's calls per hop (receive, read_data twice, create_data,
 * write_data twice, send, with their i64 arguments), each doing nothing but what passes the
 * token on: the part of a C ring hop that is V8's calls alone.
 */
async function cRingCallsMs(n: number, m: number): Promise<number> {
  const module = new WebAssembly.Module(C_RING_CALLS);
  const waiting: (((v: number) => void) | null)[] = new Array(n).fill(null);
  const pending = new Array<number>(n).fill(0);
  pending[0] = 1;
  let hops = 0;
  let tags = 0n;
  let finished!: () => void;
  const done = new Promise<void>((resolve) => finished = resolve);
  const imports = (self: number) => ({
    h: <Record<string, WebAssembly.ImportValue>> {
      read_data: (_ptr: number, len: number) => len,
      write_data: (_ptr: number, len: number) => len,
      create_data: (tag: bigint, _capacity: bigint) => {
        tags += tag;
      },
      send: (to: bigint) => {
        if (++hops === m) {
          finished();
          return 0;
        }
        const next = Number(to);
        const resume = waiting[next];
        if (resume !== null) {
          waiting[next] = null;
          resume(1);
        } else pending[next]++;
        return 0;
      },
      receive: new Suspending((_tags: number, _count: number, _timeout: bigint) => {
        if (pending[self] > 0) {
          pending[self]--;
          return 1;
        }
        return new Promise<number>((resolve) => waiting[self] = resolve);
      }),
    },
  });
  const nodes = Array.from(
    { length: n },
    (_, self) => new WebAssembly.Instance(module, imports(self)),
  );
  const started = performance.now();
  const runs = nodes.map((node, i) =>
    promising(node.exports.run as (next: bigint) => void)(BigInt((i + 1) % n))
  );
  await done;
  const elapsed = performance.now() - started;
  for (const resume of waiting) resume?.(0);
  await Promise.all(runs);
  if (tags !== 2n * BigInt(m)) throw new Error(`c-ring-calls: ${tags} tags`);
  return elapsed;
}

/** Spawns run before the timed ones. */
const WARM_UP = 1000;

/** Milliseconds `run(n)` takes, after a `run(WARM_UP)` that is not timed. */
async function msAfterWarmUp(run: (count: number) => Promise<unknown>, n: number) {
  await run(WARM_UP);
  const started = performance.now();
  await run(n);
  return performance.now() - started;
}

/** Imports for every function import of `module`: `given` ones, the rest throw if called. */
function importsOf(
  module: WebAssembly.Module,
  given: Record<string, unknown>,
): WebAssembly.Imports {
  const imports: Record<string, Record<string, unknown>> = {};
  for (const { module: from, name, kind } of WebAssembly.Module.imports(module)) {
    if (kind !== "function") continue;
    (imports[from] ??= {})[name] = given[name] ?? (() => {
      throw new Error(`${from}::${name} is not part of the baseline`);
    });
  }
  return imports as WebAssembly.Imports;
}

/**
 * Spawns `n` instances of the spawn guest, each running `child(parent)` (create_data, send)
 * through `promising`, and waits for all to report; returns the milliseconds (after a warm-up
 * of 1,000). `receive` is a `Suspending` import, as it must be for any host of this guest.
 */
async function guestSpawnMs(n: number): Promise<number> {
  const module = new WebAssembly.Module(limitMemory(SPAWN_GUEST, parseModule(SPAWN_GUEST), 2));
  const children = spawnGuestImports(module);
  const imports = children.imports;
  const run = (count: number) => {
    const done: Promise<unknown>[] = [];
    for (let i = 0; i < count; i++) {
      const instance = new WebAssembly.Instance(module, imports);
      done.push(promising(instance.exports.child as (parent: bigint) => void)(1n));
    }
    return Promise.all(done);
  };
  const elapsed = await msAfterWarmUp(run, n);
  children.check(WARM_UP + n);
  return elapsed;
}

/**
 * The spawn guest's function imports (create_data and send as a child needs them, receive a
 * `Suspending` import as it must be for any host of this guest), and a check that `expected`
 * children reported.
 */
function spawnGuestImports(module: WebAssembly.Module) {
  let reported = 0;
  const imports = importsOf(module, {
    create_data: (_tag: bigint, _capacity: bigint) => {},
    send: (_process: bigint) => {
      reported++;
      return 0;
    },
    receive: new Suspending(() => 0),
  });
  const check = (expected: number) => {
    if (reported !== expected) throw new Error(`${reported} children reported, not ${expected}`);
  };
  return { imports, check };
}

/**
 * {@link guestSpawnMs} with the memories reused as the runtime reuses them: the guest imports
 * its memory, the instances are made 64 at a time, and each batch's memories are zeroed and
 * given to the next batch once its children have reported. The platform's floor for a spawn
 * when no fresh memory mapping is needed.
 */
async function guestSpawnReusedMs(n: number): Promise<number> {
  const imported = limitAndImportMemory(SPAWN_GUEST, parseModule(SPAWN_GUEST), 2);
  const module = new WebAssembly.Module(imported.bytes);
  const children = spawnGuestImports(module);
  const functions = children.imports;
  const free: WebAssembly.Memory[] = [];
  const run = async (count: number) => {
    for (let done = 0; done < count; done += 64) {
      const batch: Promise<unknown>[] = [];
      const memories: WebAssembly.Memory[] = [];
      for (let i = 0; i < 64 && done + i < count; i++) {
        const memory = free.pop() ??
          new WebAssembly.Memory({ initial: imported.initial, maximum: imported.maximum });
        memories.push(memory);
        const instance = new WebAssembly.Instance(module, {
          ...functions,
          [MEMORY_IMPORT.module]: { [MEMORY_IMPORT.name]: memory },
        });
        batch.push(promising(instance.exports.child as (parent: bigint) => void)(1n));
      }
      await Promise.all(batch);
      for (const memory of memories) {
        new Uint8Array(memory.buffer).fill(0);
        free.push(memory);
      }
    }
  };
  const elapsed = await msAfterWarmUp(run, n);
  children.check(WARM_UP + n);
  return elapsed;
}

/**
 * Runs the ring guest's `node(next)` in `n` instances and passes a token `m` hops around them
 * (then the 0 that stops each node); returns the milliseconds the `m` hops took. Node i's
 * imports: `write_data` keeps the 8 bytes written, `send` hands them to the next node (resuming
 * it if it waits in `receive`), `read_data` copies the received 8 bytes into its memory.
 */
async function guestRingMs(n: number, m: number): Promise<number> {
  const module = new WebAssembly.Module(RING_GUEST);
  const inboxes: number[][] = Array.from({ length: n }, () => []); // [lo, hi] pairs
  const waiting: (((status: number) => void) | null)[] = new Array(n).fill(null);
  const memories: Uint32Array[] = new Array(n);
  let hops = 0;
  let started = 0;
  let elapsed = 0;
  const nodes = Array.from({ length: n }, (_, self) => {
    let lo = 0;
    let hi = 0;
    let received = 0;
    const instance = new WebAssembly.Instance(
      module,
      importsOf(module, {
        create_data: (_tag: bigint, _capacity: bigint) => {},
        write_data: (ptr: number, len: number) => {
          const words = memories[self];
          lo = words[ptr >>> 2];
          hi = words[(ptr >>> 2) + 1];
          return len;
        },
        send: (next: bigint) => {
          if (++hops === m) elapsed = performance.now() - started;
          const target = Number(next);
          inboxes[target].push(lo, hi);
          const resume = waiting[target];
          if (resume !== null) {
            waiting[target] = null;
            resume(0);
          }
          return 0;
        },
        receive: new Suspending((_tags: number, _count: number, _timeout: bigint) => {
          if (inboxes[self].length > received) return 0;
          return new Promise<number>((resolve) => waiting[self] = resolve);
        }),
        read_data: (ptr: number, len: number) => {
          const words = memories[self];
          const inbox = inboxes[self];
          words[ptr >>> 2] = inbox[received++];
          words[(ptr >>> 2) + 1] = inbox[received++];
          if (received === inbox.length) {
            inbox.length = 0;
            received = 0;
          }
          return len;
        },
      }),
    );
    memories[self] = new Uint32Array((instance.exports.memory as WebAssembly.Memory).buffer);
    return instance;
  });
  // Node i sends to node i + 1; node 0 starts with m - 1 hops to go (our ring's root does).
  inboxes[0].push(m - 1, 0);
  started = performance.now();
  await Promise.all(
    nodes.map((node, i) =>
      promising(node.exports.node as (next: bigint) => void)(BigInt((i + 1) % n))
    ),
  );
  if (hops < m) throw new Error(`the token made ${hops} hops, not ${m}`);
  return elapsed;
}
