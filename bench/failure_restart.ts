/**
 * Failure handling and restarts with a guest the size of a lunatic-rs debug build
 * (`deno task bench:failure`; bench/guests/big_module.ts: a 10+ MB module whose memory starts
 * at 17 pages). What a supervisor's restart waits for:
 *
 * - **panic -> LinkDied**: a linked child sends its parent the time and traps; the parent
 *   (not dying with its links) reads the time when the LinkDied message arrives. Target
 *   <= 1 ms.
 * - **respawn**: the cost of one spawn of the child (`Runtime.spawn`, which instantiates it),
 *   against V8 instantiating the same module, uninstrumented, with its own memory: the
 *   platform's floor. Target <= 1.5x. Also the time from the parent's spawn call to the
 *   child's first message (the child has started and run its first host calls).
 *
 * Each figure is the median of its rounds; the module is built once into
 * `bench/build/big_module.wasm` (rebuilt when the generator changes).
 */
import { fileURLToPath } from "node:url";
import { CaptureSink, EMPTY_INPUT, Lunatic } from "../lunatic.ts";
import { ProcessConfig } from "../runtime/config.ts";
import { bigModuleSource, buildBigModule } from "./guests/big_module.ts";

const BUILD_DIR = fileURLToPath(new URL("./build/", import.meta.url));
const ROUNDS = 200;

/** The big module, from the build cache when its source has not changed. */
async function bigModule(): Promise<Uint8Array<ArrayBuffer>> {
  const digest = await crypto.subtle.digest(
    "SHA-256",
    new TextEncoder().encode(bigModuleSource()),
  );
  const hash = Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0"))
    .join("").slice(0, 16);
  const path = `${BUILD_DIR}big_module-${hash}.wasm`;
  try {
    return await Deno.readFile(path);
  } catch {
    console.error("building bench/guests/big_module.ts (clang-14, ~15 s)...");
    const bytes = await buildBigModule();
    await Deno.mkdir(BUILD_DIR, { recursive: true });
    await Deno.writeFile(path, bytes);
    return bytes;
  }
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[sorted.length >> 1];
}

/** The guest's own measurement of LinkDied latency and start-up time, in microseconds. */
async function linkDied(lunatic: Lunatic, bytes: Uint8Array): Promise<Record<string, number>> {
  const stdout = new CaptureSink();
  const { outcome } = await lunatic.run(bytes, {
    entry: "measure_link_died",
    entryArgs: [ROUNDS],
    stdio: { stdin: EMPTY_INPUT, stdout, stderr: new CaptureSink() },
  });
  if (outcome.kind !== "normal") throw new Error(`measure_link_died failed: ${outcome.reason}`);
  return JSON.parse(stdout.text());
}

/** Microseconds per `Runtime.spawn` of the child, and per bare V8 instantiation, alternating. */
async function spawnCosts(lunatic: Lunatic, bytes: Uint8Array<ArrayBuffer>) {
  const module = await lunatic.load(bytes, "big_module.wasm");
  const bare = await WebAssembly.compile(bytes);
  const imports: Record<string, Record<string, unknown>> = {};
  for (const entry of WebAssembly.Module.imports(bare)) {
    (imports[entry.module] ??= {})[entry.name] = () => 0;
  }
  const config = new ProcessConfig();
  const environment = lunatic.runtime.newEnvironment(1);
  const stdio = { stdin: EMPTY_INPUT, stdout: new CaptureSink(), stderr: new CaptureSink() };
  const ours: number[] = [];
  const platform: number[] = [];
  for (let round = -10; round < ROUNDS; round++) {
    let start = performance.now();
    const child = lunatic.runtime.spawn({
      environment,
      module,
      config,
      entry: "child_replies",
      args: [0n],
      stdio,
    });
    const spawned = performance.now() - start;
    await child.exited;
    start = performance.now();
    new WebAssembly.Instance(bare, imports as WebAssembly.Imports);
    const instantiated = performance.now() - start;
    if (round >= 0) {
      ours.push(spawned * 1000);
      platform.push(instantiated * 1000);
    }
  }
  return { spawnUs: median(ours), instantiateUs: median(platform) };
}

if (import.meta.main) {
  const bytes = await bigModule();
  // Reports are made (backtraces named) as the log would, but not written.
  let reported = 0;
  const lunatic = new Lunatic({ failureReports: (report) => reported += report.length });
  const died = await linkDied(lunatic, bytes);
  lunatic.runtime.failures.flush();
  const spawn = await spawnCosts(lunatic, bytes);
  const rows = [
    ["panic -> LinkDied (median)", `${died.link_died_median_us.toFixed(0)} us`, "<= 1000 us"],
    [
      "panic -> LinkDied (99th percentile, worst)",
      `${died.link_died_p99_us.toFixed(0)}, ${died.link_died_max_us.toFixed(0)} us`,
      "",
    ],
    [
      "respawn: Runtime.spawn / V8 instantiate",
      `${spawn.spawnUs.toFixed(0)} / ${spawn.instantiateUs.toFixed(0)} us = ${
        (spawn.spawnUs / spawn.instantiateUs).toFixed(2)
      }x`,
      "<= 1.5x",
    ],
    ["spawn call -> child's first message (median)", `${died.start_median_us.toFixed(0)} us`, ""],
  ];
  console.log(`big module: ${(bytes.length / 1e6).toFixed(1)} MB, ${ROUNDS} rounds each`);
  for (const [what, figure, target] of rows) {
    console.log(`${what.padEnd(46)} ${figure.padStart(30)}  ${target}`);
  }
  console.log(JSON.stringify({ ...died, ...spawn, reportBytes: reported }));
}
