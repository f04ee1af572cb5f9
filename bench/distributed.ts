/**
 * Two nodes on one machine, side by side with two Erlang nodes: `deno task bench:distributed`.
 *
 * Ours: `lunatic control`, a plain `lunatic node`, and a node running
 * tests/guests/bench_distributed.c as its root, which spawns an echo process on the other
 * node and measures round trips (one message there and its answer back at a time) and one-way
 * throughput (each `send` waits for the other node's acknowledgement, as lunatic's does).
 * Erlang: bench/erlang/dist_echo.erl on `erl -sname` nodes (distribution over TCP, no TLS).
 * Rounds alternate between the two, a fresh cluster each; figures are medians over rounds.
 *
 * Needs Debian's `erlang-base` (erl, erlc, epmd) and the built guests (`deno task
 * build:guests`). Options: --runs N (default 5), --round-trips N (5000), --messages N (20000).
 */
import { parseArgs } from "node:util";
import { fileURLToPath } from "node:url";
import { hostname } from "node:os";
import { V8_FLAGS_ARGUMENT } from "../runtime/v8_flags.ts";
import { machineDescription } from "./machine.ts";

const here = (path: string) => fileURLToPath(new URL(path, import.meta.url));
const { values: options } = parseArgs({
  args: Deno.args,
  options: {
    runs: { type: "string", default: "5" },
    "round-trips": { type: "string", default: "5000" },
    messages: { type: "string", default: "20000" },
  },
});
const RUNS = Number(options.runs);
const ROUND_TRIPS = options["round-trips"];
const MESSAGES = options.messages;

interface Figures {
  roundTripNs: number;
  throughput: number;
}

/** A child whose stdout we can wait on. */
class Child {
  readonly process: Deno.ChildProcess;
  output = "";
  readonly #done: Promise<void>;

  constructor(command: string, args: string[], env: Record<string, string> = {}) {
    const process = new Deno.Command(command, {
      args,
      env,
      stdin: "null",
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    this.process = process;
    this.#done = (async () => {
      for await (const text of process.stdout.pipeThrough(new TextDecoderStream())) {
        this.output += text;
      }
    })();
  }

  async waitFor(pattern: RegExp, what: string): Promise<RegExpMatchArray> {
    const deadline = Date.now() + 120_000;
    for (;;) {
      const match = this.output.match(pattern);
      if (match !== null) return match;
      if (Date.now() > deadline) throw new Error(`${what}: no ${pattern} in ${this.output}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  async stop(): Promise<void> {
    try {
      this.process.kill("SIGTERM");
    } catch { /* ended */ }
    await this.process.status;
    await this.#done;
  }
}

function figures(output: string, what: string): Figures {
  const rtt = output.match(/round_trip_ns (\d+)/);
  const throughput = output.match(/throughput_per_s (\d+)/);
  if (rtt === null || throughput === null) throw new Error(`${what} printed no figures: ${output}`);
  return { roundTripNs: Number(rtt[1]), throughput: Number(throughput[1]) };
}

const lunaticArgs = (
  args: string[],
) => ["run", "--allow-all", V8_FLAGS_ARGUMENT, here("../cli.ts"), ...args];

async function runOurs(): Promise<Figures> {
  const state = await Deno.makeTempDir({ prefix: "bench-distributed-" });
  const control = new Child(
    Deno.execPath(),
    lunaticArgs(["control", "--bind-socket", "127.0.0.1:0", "--state", state]),
  );
  const [, url] = await control.waitFor(/control listening on (http:\/\/\S+)/, "control");
  const echoNode = new Child(Deno.execPath(), lunaticArgs(["node", url]));
  await echoNode.waitFor(/listening on/, "echo node");
  const root = new Child(
    Deno.execPath(),
    lunaticArgs([
      "node",
      url,
      "--env",
      `ROUND_TRIPS=${ROUND_TRIPS}`,
      "--env",
      `MESSAGES=${MESSAGES}`,
      "--wasm",
      here("../tests/guests/build/bench_distributed.wasm"),
    ]),
  );
  try {
    await root.waitFor(/^done$/m, "lunatic root");
    return figures(root.output, "lunatic");
  } finally {
    await Promise.all([root.stop(), echoNode.stop()]);
    await control.stop();
    await Deno.remove(state, { recursive: true });
  }
}

const erlangDir = await Deno.makeTempDir({ prefix: "bench-distributed-erlang-" });
const compiled = await new Deno.Command("erlc", {
  args: ["-o", erlangDir, here("./erlang/dist_echo.erl")],
}).output();
if (!compiled.success) throw new Error(new TextDecoder().decode(compiled.stderr));

async function runErlang(round: number): Promise<Figures> {
  const cookie = `bench${Date.now()}`;
  const b = `dist_echo_b${round}`;
  const common = ["-setcookie", cookie, "-noshell", "-pa", erlangDir];
  const server = new Child("erl", ["-sname", b, ...common, "-s", "dist_echo", "serve"]);
  try {
    await server.waitFor(/serving/, "erlang node b");
    const host = hostname().split(".")[0];
    const client = new Child("erl", [
      "-sname",
      `dist_echo_a${round}`,
      ...common,
      "-s",
      "dist_echo",
      "measure",
      `${b}@${host}`,
      ROUND_TRIPS,
      MESSAGES,
    ]);
    await client.waitFor(/^done$/m, "erlang node a");
    await client.stop();
    return figures(client.output, "erlang");
  } finally {
    await server.stop();
  }
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
};

const ours: Figures[] = [];
const erlang: Figures[] = [];
for (let round = 0; round < RUNS; round++) {
  // Alternate which goes first, so a drift of the machine falls on both.
  if (round % 2 === 0) {
    ours.push(await runOurs());
    erlang.push(await runErlang(round));
  } else {
    erlang.push(await runErlang(round));
    ours.push(await runOurs());
  }
  const [o, e] = [ours.at(-1)!, erlang.at(-1)!];
  console.log(
    `round ${round + 1}: round trip ${(o.roundTripNs / 1000).toFixed(1)} µs vs ${
      (e.roundTripNs / 1000).toFixed(1)
    } µs ` +
      `(${
        (o.roundTripNs / e.roundTripNs).toFixed(2)
      }×); one-way ${o.throughput}/s vs ${e.throughput}/s`,
  );
}
await Deno.remove(erlangDir, { recursive: true });

const cpu = Deno.readTextFileSync("/proc/cpuinfo").match(/model name\s*:\s*(.*)/)?.[1] ??
  "unknown CPU";
const ratio = median(ours.map((o, i) => o.roundTripNs / erlang[i].roundTripNs));
console.log(`\n${cpu}, ${navigator.hardwareConcurrency} cores; ${RUNS} rounds, medians\n`);
console.log(`machine: ${await machineDescription()}; ${new Date().toISOString().slice(0, 10)}\n`);
console.log("| two nodes, one machine | lunatic for Deno | Erlang/OTP | ratio |");
console.log("| --- | --- | --- | --- |");
console.log(
  `| round trip (≤ 2× Erlang) | ${
    (median(ours.map((o) => o.roundTripNs)) / 1000).toFixed(1)
  } µs | ` +
    `${(median(erlang.map((e) => e.roundTripNs)) / 1000).toFixed(1)} µs | **${
      ratio.toFixed(2)
    }×** |`,
);
console.log(
  `| one-way messages/s | ${median(ours.map((o) => o.throughput))} | ${
    median(erlang.map((e) => e.throughput))
  } | ` +
    `${median(ours.map((o, i) => o.throughput / erlang[i].throughput)).toFixed(2)}× |`,
);
