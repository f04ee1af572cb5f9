/**
 * Side by side with Erlang's BEAM and with bare V8, in one run on one machine:
 * `deno task bench:compare`. Each workload runs in its own process (bench/workloads.ts for
 * us and bare V8; bench/erlang/lunatic_compare.erl on BEAM), three times for the timed ones
 * (the machines are noisy: each figure is the median), and the table shows our figure, the
 * reference's and the ratio against the issue's targets.
 *
 * Two bare-V8 baselines (bench/bare_v8.ts): the minimal one (a one-import module; a hop of 2
 * calls without i64 arguments) shows what the platform costs at the least, and the same-guest
 * one (our benchmark guests with the least JavaScript that runs them) what it costs for these
 * guests; our overhead over the platform — the target — is measured against the latter.
 */
import { fileURLToPath } from "node:url";
import { V8_FLAGS_ARGUMENT } from "../runtime/v8_flags.ts";
import { machineDescription } from "./machine.ts";

const here = (path: string) => fileURLToPath(new URL(path, import.meta.url));
const IDLE_MAPS_PER_PROCESS = 4;

interface Row {
  workload: string;
  unit: string;
  ours: number;
  reference: number;
  referenceName: string;
  target: number;
  note?: string;
}

async function run(command: string, args: string[], cwd?: string): Promise<string> {
  const output = await new Deno.Command(command, { args, cwd, stderr: "inherit" }).output();
  if (!output.success) throw new Error(`${command} ${args.join(" ")} failed`);
  return new TextDecoder().decode(output.stdout);
}

const RUNS = 3;

type Result = Record<string, number>;

/**
 * Runs each measurement RUNS times, taking turns (so that the machine's drift weighs on all
 * alike), and returns for each the run whose `key` is the median.
 */
async function medians(key: string, measures: (() => Promise<Result>)[]): Promise<Result[]> {
  const results: Result[][] = measures.map(() => []);
  for (let run = 0; run < RUNS; run++) {
    for (let i = 0; i < measures.length; i++) results[i].push(await measures[i]());
  }
  return results.map((runs) => runs.sort((a, b) => a[key] - b[key])[runs.length >> 1]);
}

/**
 * The V8 settings the runtime is run with (runtime/v8_flags.ts). The bare-V8 baselines get
 * them too, so that their ratios measure the runtime, not a flag.
 */
const V8_FLAGS = V8_FLAGS_ARGUMENT;

async function ours(side: "lunatic" | "bare-v8", workload: string, ...numbers: number[]) {
  const text = await run(Deno.execPath(), [
    "run",
    "--allow-all",
    V8_FLAGS,
    here("./workloads.ts"),
    side,
    workload,
    ...numbers.map(String),
  ]);
  return JSON.parse(text.trim().split("\n").pop()!) as Record<string, number>;
}

async function beam(workload: string, ...numbers: number[]) {
  const dir = await Deno.makeTempDir();
  try {
    await run("erlc", ["-o", dir, here("./erlang/lunatic_compare.erl")]);
    const text = await run("erl", [
      "-noshell",
      "-pa",
      dir,
      "-s",
      "lunatic_compare",
      "main",
      workload,
      ...numbers.map(String),
      "-s",
      "init",
      "stop",
    ]);
    return JSON.parse(text.trim()) as Record<string, number>;
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function maxMapCount(): number {
  return Number(Deno.readTextFileSync("/proc/sys/vm/max_map_count").trim());
}

/** Raises vm.max_map_count for the idle workload when we may (root); says what it did. */
async function ensureMapCount(processes: number): Promise<string> {
  const needed = processes * IDLE_MAPS_PER_PROCESS + 8192;
  const current = maxMapCount();
  if (current >= needed) return `vm.max_map_count=${current}`;
  const raised = await new Deno.Command("sysctl", { args: ["-w", "vm.max_map_count=1048576"] })
    .output().then((o) => o.success, () => false);
  return raised
    ? `vm.max_map_count raised from ${current} to ${maxMapCount()} (the default stops at ~15,000 processes)`
    : `vm.max_map_count=${current} allows only ~${
      Math.floor((current - 4096) / IDLE_MAPS_PER_PROCESS)
    } processes; raise it as root: sysctl -w vm.max_map_count=1048576`;
}

const rows: Row[] = [];
const spawnN = 100_000;
const ringN = 1_000;
const ringM = 1_000_000;
const roundTrips = 100_000;

const [spawnOurs, spawnBeam, spawnBare, spawnBareGuest, spawnBareReused] = await medians(
  "ns_per_process",
  [
    () => ours("lunatic", "spawn", spawnN),
    () => beam("spawn", spawnN),
    () => ours("bare-v8", "spawn", spawnN),
    () => ours("bare-v8", "spawn-guest", spawnN),
    () => ours("bare-v8", "spawn-guest-reused", spawnN),
  ],
);
rows.push({
  workload: `spawn ${spawnN} processes that exit at once`,
  unit: "µs/process",
  ours: spawnOurs.ns_per_process / 1000,
  reference: spawnBeam.ns_per_process / 1000,
  referenceName: "BEAM",
  target: 10,
});
rows.push({
  workload: "spawn, against bare V8 running the same guest",
  unit: "µs/process",
  ours: spawnOurs.ns_per_process / 1000,
  reference: spawnBareGuest.ns_per_process / 1000,
  referenceName: "bare V8, same guest",
  target: 1.5,
});
rows.push({
  workload: "spawn, against bare V8 running the same guest in reused memories",
  unit: "µs/process",
  ours: spawnOurs.ns_per_process / 1000,
  reference: spawnBareReused.ns_per_process / 1000,
  referenceName: "bare V8, same guest, memories reused",
  target: NaN,
});
rows.push({
  workload: "spawn, against a minimal module (1 import)",
  unit: "µs/process",
  ours: spawnOurs.ns_per_process / 1000,
  reference: spawnBare.ns_per_process / 1000,
  referenceName: "bare V8, minimal",
  target: NaN,
});

const mapNote = await ensureMapCount(spawnN);
const idleOurs = await ours("lunatic", "idle", spawnN).catch((error) => ({ error }));
const idleBeam = await beam("idle", spawnN);
if ("error" in idleOurs) {
  rows.push({
    workload: `${spawnN} idle processes`,
    unit: "KB/process",
    ours: NaN,
    reference: idleBeam.rss_bytes_per_process / 1024,
    referenceName: "BEAM",
    target: NaN,
    note: `did not fit: ${mapNote}`,
  });
} else {
  rows.push({
    workload: `${spawnN} idle processes (alive: ${idleOurs.alive})`,
    unit: "KB RSS/process",
    ours: idleOurs.rss_bytes_per_process / 1024,
    reference: idleBeam.rss_bytes_per_process / 1024,
    referenceName: "BEAM",
    target: 16 / (idleBeam.rss_bytes_per_process / 1024),
    note: `target: at most 16 KB per process; ${mapNote}`,
  });
  rows.push({
    workload: `spawning ${spawnN} idle processes`,
    unit: "µs/process",
    ours: idleOurs.ns_per_spawn / 1000,
    reference: idleBeam.ns_per_spawn / 1000,
    referenceName: "BEAM",
    target: NaN, // no target: each of these holds a suspended stack
  });
}

const [ringOurs, ringBeam, ringBare, ringBareGuest] = await medians("ns_per_message", [
  () => ours("lunatic", "ring", ringN, ringM),
  () => beam("ring", ringN, ringM),
  () => ours("bare-v8", "ring", ringN, ringM),
  () => ours("bare-v8", "ring-guest", ringN, ringM),
]);
rows.push({
  workload: `ring of ${ringN} processes, ${ringM} messages`,
  unit: "ns/message",
  ours: ringOurs.ns_per_message,
  reference: ringBeam.ns_per_message,
  referenceName: "BEAM",
  target: 3,
});
rows.push({
  workload: "ring, against bare V8 running the same guest (its 5 calls per hop)",
  unit: "ns/message",
  ours: ringOurs.ns_per_message,
  reference: ringBareGuest.ns_per_message,
  referenceName: "bare V8, same guest",
  target: 1.5,
});
rows.push({
  workload: "ring, against a minimal ring (2 calls per hop)",
  unit: "ns/message",
  ours: ringOurs.ns_per_message,
  reference: ringBare.ns_per_message,
  referenceName: "bare V8, minimal",
  target: NaN,
});

// A real guest spawning processes that stay alive (tests/guests/bench_live_spawn.c), against
// bare V8 instantiating the same guest and BEAM's spawn of idle processes.
const liveN = 10_000;
const [liveOurs, liveBare] = await medians("ns_per_process", [
  () => ours("lunatic", "c-live-spawn", liveN),
  () => ours("bare-v8", "c-live-spawn", liveN),
]);
rows.push({
  workload: `spawning ${liveN} live processes from a C guest, against bare V8 with the same guest`,
  unit: "µs/process",
  ours: liveOurs.ns_per_process / 1000,
  reference: liveBare.ns_per_process / 1000,
  referenceName: "bare V8, same C guest",
  target: 1.3,
});
rows.push({
  workload: "spawning live processes from a C guest, against BEAM's idle spawn",
  unit: "µs/process",
  ours: liveOurs.ns_per_process / 1000,
  reference: idleBeam.ns_per_spawn / 1000,
  referenceName: "BEAM",
  target: 10,
});

// A Rust guest of ours (bench/guests/rust_spawn.rs: std, 17 pages), spawning processes one
// after another that exit at once, against bare V8 instantiating the same guest.
const rustN = 2_000;
const [rustOurs, rustBare] = await medians("ns_per_process", [
  () => ours("lunatic", "rust-spawn", rustN),
  () => ours("bare-v8", "rust-spawn", rustN),
]);
rows.push({
  workload:
    `Rust guest (17 pages) spawning ${rustN} processes, against bare V8 with the same guest`,
  unit: "µs/process",
  ours: rustOurs.ns_per_process / 1000,
  reference: rustBare.ns_per_process / 1000,
  referenceName: "bare V8, same Rust guest",
  target: 1.5,
});

// A real guest: the C ring example (wasi-libc), 1,000 processes, 1,000 rounds (the whole run,
// its 1,000 spawns included, per message), beside BEAM's ring and two bare-V8 baselines.
const [cRingOurs, cRingBare, cRingCalls] = await medians("ns_per_message", [
  () => ours("lunatic", "c-ring", ringN, ringM / ringN),
  () => ours("bare-v8", "c-ring", ringN, ringM / ringN),
  () => ours("bare-v8", "c-ring-calls", ringN, ringM),
]);
rows.push({
  workload: `C ring (examples/ring.wasm ${ringN} ${ringM / ringN}), against BEAM's ring`,
  unit: "ns/message",
  ours: cRingOurs.ns_per_message,
  reference: ringBeam.ns_per_message,
  referenceName: "BEAM",
  target: 3,
});
rows.push({
  workload: "C ring, against a minimal ring (2 calls per hop)",
  unit: "ns/message",
  ours: cRingOurs.ns_per_message,
  reference: ringBare.ns_per_message,
  referenceName: "bare V8, minimal",
  target: 1.5,
});
rows.push({
  workload: "C ring, against bare V8 running the same C guest (bench/bare_c_guest.ts)",
  unit: "ns/message",
  ours: cRingOurs.ns_per_message,
  reference: cRingBare.ns_per_message,
  referenceName: "bare V8, same C guest",
  target: NaN,
});
// The floor under the 1.5× target: the C ring hop's seven calls alone, doing nothing.
rows.push({
  workload: "(the C ring's 7 calls a hop doing nothing, against the minimal ring)",
  unit: "ns/message",
  ours: cRingCalls.ns_per_message,
  reference: ringBare.ns_per_message,
  referenceName: "bare V8, minimal",
  target: NaN,
});

const [rtOurs, rtBeam, rtBare] = await medians("ns_per_round_trip", [
  () => ours("lunatic", "roundtrip", roundTrips),
  () => beam("roundtrip", roundTrips),
  () => ours("bare-v8", "roundtrip", roundTrips),
]);
rows.push({
  workload: "request/reply round trip",
  unit: "ns/round trip",
  ours: rtOurs.ns_per_round_trip,
  reference: rtBeam.ns_per_round_trip,
  referenceName: "BEAM",
  target: NaN,
});
rows.push({
  workload: "request/reply, against a minimal ping-pong (2 calls per hop)",
  unit: "ns/round trip",
  ours: rtOurs.ns_per_round_trip,
  reference: rtBare.ns_per_round_trip,
  referenceName: "bare V8, minimal",
  target: NaN,
});

const format = (n: number) => Number.isNaN(n) ? "—" : n >= 100 ? n.toFixed(0) : n.toFixed(2);
console.log(`machine: ${await machineDescription()}; ${new Date().toISOString().slice(0, 10)}\n`);
console.log(
  "| workload | unit | lunatic for Deno | reference | ratio | target ratio | met |\n" +
    "|---|---|---|---|---|---|---|",
);
for (const row of rows) {
  const ratio = row.ours / row.reference;
  const met = Number.isNaN(row.target) ? "—" : ratio <= row.target ? "yes" : "no";
  console.log(
    `| ${row.workload} | ${row.unit} | ${format(row.ours)} | ${
      format(row.reference)
    } (${row.referenceName}) | ${format(ratio)}× | ${
      Number.isNaN(row.target) ? "—" : `≤ ${format(row.target)}×`
    } | ${met} |`,
  );
}
for (const row of rows) if (row.note) console.log(`\n${row.workload}: ${row.note}`);
