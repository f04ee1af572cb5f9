/**
 * One benchmark workload per run, printed as a JSON line; `bench/compare.ts` runs each in its
 * own Deno process so that one's garbage never weighs on the next.
 *
 *   deno run --allow-all bench/workloads.ts lunatic spawn 100000
 *   deno run --allow-all bench/workloads.ts bare-v8 spawn 100000
 *
 * Workloads: spawn N (processes that send one message and exit), idle N (processes blocked in
 * receive: spawn time and RSS per process), ring N M (N processes, M messages), roundtrip K.
 */
import { fileURLToPath } from "node:url";
import { CaptureSink, Lunatic } from "../lunatic.ts";
import type { Environment } from "../runtime/environment.ts";
import type { LunaticModule } from "../runtime/module.ts";
import { bareV8 } from "./bare_v8.ts";
import { rustGuest } from "./rust_guest.ts";

const guest = (name: string) =>
  fileURLToPath(new URL(`../tests/guests/build/${name}.wasm`, import.meta.url));

/** Children's memory limit in the spawn workload: 2 pages, as small as BEAM's processes are. */
const SMALL_MEMORY = 131_072;

function rssBytes(): number {
  const status = Deno.readTextFileSync("/proc/self/status");
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)![1]) * 1024;
}

async function runRoot(
  lunatic: Lunatic,
  module: LunaticModule,
  entry: string,
  args: (number | bigint)[],
): Promise<{ ms: number; environment: Environment }> {
  const started = performance.now();
  const root = lunatic.spawnRoot(module, { entry, entryArgs: args, environmentId: 0 });
  const outcome = await root.exited;
  if (outcome.kind !== "normal") throw new Error(`${entry} failed: ${outcome.reason}`);
  return { ms: performance.now() - started, environment: root.environment };
}

async function lunaticWorkload(name: string, numbers: number[]): Promise<Record<string, unknown>> {
  const lunatic = new Lunatic();
  const load = (file: string) => lunatic.load(guest(file));
  switch (name) {
    case "spawn": {
      const [n] = numbers;
      const module = await load("bench_spawn");
      const [, maxMemory = SMALL_MEMORY] = numbers;
      await runRoot(lunatic, module, "spawn_many", [1000, BigInt(maxMemory)]); // warm up
      const { ms } = await runRoot(lunatic, module, "spawn_many", [n, BigInt(maxMemory)]);
      return { processes: n, max_memory: maxMemory, ns_per_process: ms * 1e6 / n };
    }
    case "idle": {
      const [n] = numbers;
      const module = await load("bench_idle");
      killAll((await runRoot(lunatic, module, "spawn_idle", [100])).environment);
      await new Promise((resolve) => setTimeout(resolve, 10));
      const before = rssBytes();
      const { ms, environment } = await runRoot(lunatic, module, "spawn_idle", [n]);
      // Let every child start and block in receive before measuring.
      await new Promise((resolve) => setTimeout(resolve, 100));
      const alive = environment.size;
      const after = rssBytes();
      killAll(environment);
      return {
        processes: n,
        alive,
        ns_per_spawn: ms * 1e6 / n,
        rss_bytes_per_process: (after - before) / n,
      };
    }
    case "ring": {
      const [n, m] = numbers;
      const module = await load("bench_ring");
      killAll((await runRoot(lunatic, module, "ring", [100, 10_000n])).environment);
      const { ms, environment } = await runRoot(lunatic, module, "ring", [n, BigInt(m)]);
      killAll(environment);
      return { processes: n, messages: m, ns_per_message: ms * 1e6 / m };
    }
    case "rust-spawn": {
      // bench/guests/rust_spawn.rs: N processes spawned one after another, each to its end.
      const [n] = numbers;
      const bytes = await rustGuest();
      if (bytes === null) {
        throw new Error("no rustc for wasm32-wasi (Debian: rustc, libstd-rust-dev-wasm32)");
      }
      const module = await lunatic.load(bytes, "rust_spawn.wasm");
      const run = async (count: number) => {
        const stdout = new CaptureSink();
        const root = lunatic.spawnRoot(module, {
          args: [String(count)],
          stdio: { stdout },
          environmentId: 0,
        });
        const outcome = await root.exited;
        if (outcome.kind !== "normal") throw new Error(`rust_spawn failed: ${outcome.reason}`);
        return Number(stdout.text().match(/spawned \d+ in (\d+) ns/)?.[1]);
      };
      await run(100); // warm up
      return { processes: n, ns_per_process: await run(n) / n };
    }
    case "c-live-spawn": {
      // N processes spawned from a C guest that all stay alive, waiting in receive: the time
      // until every one of them waits there, per process.
      const [n] = numbers;
      const module = await load("bench_live_spawn");
      const run = async (count: number) => {
        const stdout = new CaptureSink();
        const started = performance.now();
        const root = lunatic.spawnRoot(module, {
          args: [String(count)],
          stdio: { stdout },
          environmentId: 0,
        });
        const outcome = await root.exited;
        if (outcome.kind !== "normal") throw new Error(`live spawn failed: ${outcome.reason}`);
        const children = [...root.environment.processes.values()] as { state?: string }[];
        while (children.some((child) => child.state !== "waiting")) {
          await new Promise((resolve) => setTimeout(resolve, 0));
        }
        const ms = performance.now() - started;
        killAll(root.environment);
        return ms;
      };
      await run(1000); // warm up
      const ms = await run(n);
      return { processes: n, ns_per_process: ms * 1e6 / n };
    }
    case "c-ring": {
      // examples/ring.wasm (C, wasi-libc), run as the README runs it: N processes, M rounds.
      const [n, m] = numbers;
      const module = await lunatic.load(
        fileURLToPath(new URL("../examples/ring.wasm", import.meta.url)),
      );
      const run = async (processes: number, rounds: number) => {
        const stdout = new CaptureSink();
        const started = performance.now();
        const root = lunatic.spawnRoot(module, {
          args: [String(processes), String(rounds)],
          stdio: { stdout },
          environmentId: 0,
        });
        const outcome = await root.exited;
        if (outcome.kind !== "normal") throw new Error(`ring.wasm failed: ${outcome.reason}`);
        return performance.now() - started;
      };
      await run(100, 100); // warm up
      const ms = await run(n, m);
      return { processes: n, rounds: m, messages: n * m, ns_per_message: ms * 1e6 / (n * m) };
    }
    case "roundtrip": {
      const [k] = numbers;
      const module = await load("bench_ping_pong");
      await runRoot(lunatic, module, "ping", [1000]);
      const { ms } = await runRoot(lunatic, module, "ping", [k]);
      return { round_trips: k, ns_per_round_trip: ms * 1e6 / k };
    }
  }
  throw new Error(`unknown workload ${name}`);
}

function killAll(environment: Environment): void {
  for (const process of [...environment.processes.values()]) process.kill();
}

if (import.meta.main) {
  const [side, name, ...rest] = Deno.args;
  const numbers = rest.map(Number);
  const result = side === "bare-v8"
    ? await bareV8(name, numbers)
    : await lunaticWorkload(name, numbers);
  console.log(JSON.stringify({ side, workload: name, ...result }));
  Deno.exit(0);
}
