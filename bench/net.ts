/**
 * Networking side by side, in one run on one machine: `deno task bench:net`.
 *
 * - HTTP: examples/http_hello.wasm on our runtime, the same server on BEAM
 *   (bench/erlang/http_hello.erl: gen_tcp, a process per connection) and `Deno.serve`
 *   (bench/deno_serve.ts, this platform's ceiling), each under `wrk` with 100 and 1,000
 *   keep-alive connections: requests/s and p99 latency. The servers run side by side and take
 *   turns under the same load, RUNS rounds; figures are medians over rounds, ratios the median
 *   of each round's ratio.
 * - Echo: examples/echo_server.wasm against bench/erlang/echo_server.erl, 8 connections
 *   streaming 1 KiB lines: MB/s echoed.
 * - Idle connections: 10,000 keep-alive connections that each made one request and then wait,
 *   held open against each server: its resident memory growth per connection (the slope from
 *   1,000 to 11,000 connections, after a warm-up).
 *
 * - HTTP on every core: `lunatic run --parallel N` (N instances sharing the port) against the
 *   same BEAM server, which uses every core by itself, and N `Deno.serve` workers sharing the
 *   port (the ceiling for N isolates), in the same rounds.
 *
 * Needs Debian's `wrk` and `erlang-base`. Options: --duration S (wrk seconds, default 5),
 * --runs N (default 5), --idle N (connections, default 10000; needs `ulimit -n` above it),
 * --parallel N (instances for the every-core rows, default the number of cores; 1: none),
 * --only http,echo,idle (the parts to run).
 */
import { parseArgs } from "node:util";
import { fileURLToPath } from "node:url";
import * as net from "node:net";
import { Buffer } from "node:buffer";
import { V8_FLAGS_ARGUMENT } from "../runtime/v8_flags.ts";
import { machineDescription } from "./machine.ts";

const here = (path: string) => fileURLToPath(new URL(path, import.meta.url));

const { values: options } = parseArgs({
  args: Deno.args,
  options: {
    duration: { type: "string", default: "5" },
    runs: { type: "string", default: "5" },
    idle: { type: "string", default: "10000" },
    only: { type: "string", default: "http,echo,idle" },
    parallel: { type: "string", default: String(navigator.hardwareConcurrency) },
  },
});
const DURATION = Number(options.duration);
const RUNS = Number(options.runs);
const IDLE_CONNECTIONS = Number(options.idle);
const PARTS = new Set(options.only.split(","));
const PARALLEL = Number(options.parallel);

/** The servers; the `×N` ones run PARALLEL instances or workers on one shared port. */
type ServerKind = "lunatic" | "BEAM" | "Deno.serve" | "lunatic ×N" | "Deno.serve ×N";

/** A kind as the output names it. */
function label(kind: ServerKind): string {
  return kind.replace("×N", `×${PARALLEL}`);
}
type App = "http_hello" | "echo_server";

interface Server {
  port: number;
  pid: number;
  stop(): Promise<void>;
}

const erlangDir = await Deno.makeTempDir({ prefix: "bench-net-erlang-" });
for (const source of ["http_hello.erl", "echo_server.erl"]) {
  const compiled = await new Deno.Command("erlc", {
    args: ["-o", erlangDir, here(`./erlang/${source}`)],
  }).output();
  if (!compiled.success) {
    throw new Error(`erlc ${source}: ${new TextDecoder().decode(compiled.stderr)}`);
  }
}

/** A port nothing listens on now, for servers whose instances must all bind the same one. */
function freePort(): number {
  const probe = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = probe.addr;
  probe.close();
  return port;
}

function serverCommand(kind: ServerKind, app: App): [string, string[]] {
  switch (kind) {
    case "lunatic":
    case "lunatic ×N":
      return [Deno.execPath(), [
        "run",
        "--allow-all",
        "--unstable-net",
        V8_FLAGS_ARGUMENT,
        here("../cli.ts"),
        "run",
        ...(kind === "lunatic" ? [] : ["--parallel", String(PARALLEL)]),
        here(`../examples/${app}.wasm`),
        kind === "lunatic" ? "0" : String(freePort()),
      ]];
    case "BEAM":
      // +sbwt none: schedulers do not spin when idle, which would take the load generator's CPU.
      return ["erl", ["+sbwt", "none", "-noshell", "-pa", erlangDir, "-s", app, "main", "0"]];
    case "Deno.serve":
      return [Deno.execPath(), ["run", "--allow-net", here("./deno_serve.ts"), "0"]];
    case "Deno.serve ×N":
      return [Deno.execPath(), [
        "run",
        "--allow-net",
        "--allow-read",
        "--unstable-net",
        here("./deno_serve.ts"),
        "0",
        String(PARALLEL),
      ]];
  }
}

/** Starts a server and waits until it prints where it listens. */
async function startServer(kind: ServerKind, app: App): Promise<Server> {
  const [command, args] = serverCommand(kind, app);
  const child = new Deno.Command(command, {
    args,
    stdin: "null",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  // Every instance of a parallel run says where it listens.
  const lines = kind === "lunatic ×N" ? PARALLEL : 1;
  let text = "";
  let port = 0;
  while (port === 0) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`${kind} ${app} exited before listening: ${text}`);
    text += value;
    const matches = [...text.matchAll(/listening on 127\.0\.0\.1:(\d+)/g)];
    if (matches.length >= lines) port = Number(matches[0][1]);
  }
  const drained = (async () => {
    while (!(await reader.read()).done) { /* discard */ }
  })();
  return {
    port,
    pid: child.pid,
    async stop() {
      child.kill("SIGKILL");
      await child.status;
      await drained;
    },
  };
}

interface WrkResult {
  requestsPerSecond: number;
  p99Ms: number;
  errors: string;
}

const LATENCY_UNITS: Record<string, number> = { us: 0.001, ms: 1, s: 1000 };

async function wrk(port: number, connections: number, seconds: number): Promise<WrkResult> {
  const output = await new Deno.Command("wrk", {
    args: [
      "-t2",
      `-c${connections}`,
      `-d${seconds}s`,
      "--latency",
      `http://127.0.0.1:${port}/`,
    ],
  }).output();
  const text = new TextDecoder().decode(output.stdout);
  if (!output.success) {
    throw new Error(`wrk failed: ${text}${new TextDecoder().decode(output.stderr)}`);
  }
  const rps = text.match(/Requests\/sec:\s+([\d.]+)/);
  const p99 = text.match(/^\s+99%\s+([\d.]+)(us|ms|s)\s*$/m);
  if (!rps || !p99) throw new Error(`cannot read wrk's output:\n${text}`);
  const errors = [text.match(/Socket errors:.*$/m)?.[0], text.match(/Non-2xx.*$/m)?.[0]]
    .filter((line) => line !== undefined).join("; ");
  return {
    requestsPerSecond: Number(rps[1]),
    p99Ms: Number(p99[1]) * LATENCY_UNITS[p99[2]],
    errors,
  };
}

function connect(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: "127.0.0.1", port, noDelay: true }, () => resolve(socket));
    socket.once("error", reject);
  });
}

const ECHO_CONNECTIONS = 8;
const ECHO_BYTES_PER_CONNECTION = 32 * 1024 * 1024;
const LINE = Buffer.from("x".repeat(1023) + "\n");
const CHUNK = Buffer.concat(Array.from({ length: 64 }, () => LINE)); // 64 KiB of lines

/** MB/s echoed by `port`'s line echo server, ECHO_CONNECTIONS streams at once. */
async function echoThroughput(port: number): Promise<number> {
  const sockets = await Promise.all(Array.from({ length: ECHO_CONNECTIONS }, () => connect(port)));
  const started = performance.now();
  await Promise.all(sockets.map((socket) =>
    new Promise<void>((resolve, reject) => {
      let sent = 0;
      let received = 0;
      // At most 1 MiB in flight, so that the figure is the server's pace, not buffering.
      const write = () => {
        while (sent < ECHO_BYTES_PER_CONNECTION && sent - received < 1024 * 1024) {
          sent += CHUNK.length;
          socket.write(CHUNK);
        }
      };
      socket.on("data", (data: Buffer) => {
        received += data.length;
        if (received >= ECHO_BYTES_PER_CONNECTION) {
          socket.destroy();
          resolve();
        } else write();
      });
      socket.on("error", reject);
      write();
    })
  ));
  const seconds = (performance.now() - started) / 1000;
  return ECHO_CONNECTIONS * ECHO_BYTES_PER_CONNECTION / 1e6 / seconds;
}

function residentKb(pid: number): number {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  return Number(status.match(/^VmRSS:\s+(\d+) kB$/m)![1]);
}

const REQUEST = Buffer.from("GET / HTTP/1.1\r\nHost: localhost\r\n\r\n");

/** Opens `count` keep-alive connections that each made one request; resolves when all have. */
async function openIdleConnections(port: number, count: number): Promise<net.Socket[]> {
  const sockets: net.Socket[] = [];
  for (let start = 0; start < count; start += 250) {
    const batch = await Promise.all(
      Array.from({ length: Math.min(250, count - start) }, async () => {
        const socket = await connect(port);
        await new Promise<void>((resolve) => {
          socket.once("data", () => resolve());
          socket.write(REQUEST);
        });
        return socket;
      }),
    );
    sockets.push(...batch);
  }
  return sockets;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The server's resident memory growth per idle connection, in KB: the slope between 1,000
 * and 1,000 + IDLE_CONNECTIONS open connections, after a warm-up that fills what every server
 * holds however many connections it has (V8's young generation, pools), so that only what
 * each connection adds is counted.
 */
async function idleMemory(kind: ServerKind): Promise<number> {
  const server = await startServer(kind, "http_hello");
  try {
    await wrk(server.port, 100, 2);
    for (const socket of await openIdleConnections(server.port, 1000)) socket.destroy();
    const first = await openIdleConnections(server.port, 1000);
    await sleep(1000);
    const before = residentKb(server.pid);
    const more = await openIdleConnections(server.port, IDLE_CONNECTIONS);
    await sleep(2000);
    const after = residentKb(server.pid);
    for (const socket of [...first, ...more]) socket.destroy();
    return (after - before) / IDLE_CONNECTIONS;
  } finally {
    await server.stop();
  }
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[sorted.length >> 1];
}

async function cpuModel(): Promise<string> {
  const info = await Deno.readTextFile("/proc/cpuinfo");
  return info.match(/^model name\s*:\s*(.*)$/m)?.[1] ?? "unknown CPU";
}

const HTTP_SERVERS: ServerKind[] = ["lunatic", "BEAM", "Deno.serve"];
/** What the every-core rows compare: with the same BEAM, which uses every core alone. */
const PARALLEL_SERVERS: ServerKind[] = ["lunatic ×N", "BEAM", "Deno.serve ×N"];
const ROUND_SERVERS: ServerKind[] = PARALLEL > 1
  ? [...HTTP_SERVERS, "lunatic ×N", "Deno.serve ×N"]
  : HTTP_SERVERS;
const CONNECTION_COUNTS = [100, 1000];

console.log(
  `bench:net on ${await cpuModel()}, ${navigator.hardwareConcurrency} cores; ` +
    `wrk ${DURATION} s, ${RUNS} runs (medians)\n`,
);

interface HttpFigures {
  results: Map<string, WrkResult[]>;
  ratios: Map<string, number[]>;
  errors: string[];
}

/**
 * All three servers stay up; each round gives each the same load in turn (the order rotates),
 * so that the machine's drift weighs on all alike, and a ratio is taken within each round.
 */
async function httpRounds(): Promise<HttpFigures> {
  const servers = new Map<ServerKind, Server>();
  for (const kind of ROUND_SERVERS) servers.set(kind, await startServer(kind, "http_hello"));
  const figures: HttpFigures = { results: new Map(), ratios: new Map(), errors: [] };
  const add = <T>(map: Map<string, T[]>, key: string, value: T) =>
    map.set(key, [...(map.get(key) ?? []), value]);
  try {
    for (const server of servers.values()) await wrk(server.port, 100, 2); // compile, fill pools
    for (let run = 0; run < RUNS; run++) {
      for (const connections of CONNECTION_COUNTS) {
        const order = ROUND_SERVERS.map((_, i) => ROUND_SERVERS[(i + run) % ROUND_SERVERS.length]);
        const round = new Map<ServerKind, WrkResult>();
        for (const kind of order) {
          await sleep(1000); // what the last load left (closing 1,000 connections) settles
          const result = await wrk(servers.get(kind)!.port, connections, DURATION);
          round.set(kind, result);
          add(figures.results, `${kind} ${connections}`, result);
          if (result.errors) {
            figures.errors.push(`${kind} ${connections}, run ${run + 1}: ${result.errors}`);
          }
        }
        const rps = (kind: ServerKind) => round.get(kind)!.requestsPerSecond;
        for (const kind of ["BEAM", "Deno.serve"] as const) {
          add(figures.ratios, `${kind} ${connections}`, rps("lunatic") / rps(kind));
        }
        if (PARALLEL > 1) {
          add(figures.ratios, `×N BEAM ${connections}`, rps("lunatic ×N") / rps("BEAM"));
          add(
            figures.ratios,
            `×N Deno.serve ${connections}`,
            rps("lunatic ×N") / rps("Deno.serve ×N"),
          );
        }
        console.log(
          `  run ${run + 1}, ${String(connections).padStart(4)} connections: ` +
            ROUND_SERVERS.map((kind) => {
              const r = round.get(kind)!;
              return `${label(kind)} ${r.requestsPerSecond.toFixed(0)} req/s (p99 ${
                r.p99Ms.toFixed(1)
              } ms)`;
            }).join(", "),
        );
      }
    }
  } finally {
    for (const server of servers.values()) await server.stop();
  }
  return figures;
}

/** MB/s of each line echo server, the median of RUNS runs taken in turns. */
async function echoRuns(): Promise<Map<ServerKind, number>> {
  const runs = new Map<ServerKind, number[]>();
  for (let run = 0; run < RUNS; run++) {
    for (const kind of ["lunatic", "BEAM"] as const) {
      const server = await startServer(kind, "echo_server");
      try {
        await echoThroughput(server.port); // warm-up
        runs.set(kind, [...(runs.get(kind) ?? []), await echoThroughput(server.port)]);
      } finally {
        await server.stop();
      }
    }
  }
  return new Map([...runs].map(([kind, values]) => [kind, median(values)]));
}

const rows = [
  "| workload | lunatic | BEAM | Deno.serve | vs BEAM (≥ 0.8) | vs Deno.serve (≥ 0.5) |",
  "| --- | --- | --- | --- | --- | --- |",
];
let errors: string[] = [];
let http: HttpFigures | null = null;
const of = (kind: ServerKind, connections: number, field: keyof WrkResult) =>
  median(http!.results.get(`${kind} ${connections}`)!.map((r) => r[field] as number));
if (PARTS.has("http")) {
  http = await httpRounds();
  errors = http.errors;
  for (const connections of CONNECTION_COUNTS) {
    const [ours, beam, serve] = HTTP_SERVERS.map((kind) =>
      of(kind, connections, "requestsPerSecond").toFixed(0)
    );
    const vsBeam = median(http.ratios.get(`BEAM ${connections}`)!).toFixed(2);
    const vsServe = median(http.ratios.get(`Deno.serve ${connections}`)!).toFixed(2);
    rows.push(
      `| http_hello, ${connections} connections, req/s | ${ours} | ${beam} | ${serve} | ` +
        `**${vsBeam}×** | **${vsServe}×** |`,
    );
    const [oursP99, beamP99, serveP99] = HTTP_SERVERS.map((kind) =>
      of(kind, connections, "p99Ms").toFixed(2)
    );
    rows.push(
      `| http_hello, ${connections} connections, p99 ms | ${oursP99} | ${beamP99} | ` +
        `${serveP99} | | |`,
    );
  }
}
const parallelRows = [
  `| workload | lunatic ×${PARALLEL} | BEAM | Deno.serve ×${PARALLEL} | vs BEAM | ` +
  `vs Deno.serve ×${PARALLEL} |`,
  "| --- | --- | --- | --- | --- | --- |",
];
if (PARTS.has("http") && PARALLEL > 1) {
  for (const connections of CONNECTION_COUNTS) {
    const [ours, beam, serve] = PARALLEL_SERVERS.map((kind) =>
      of(kind, connections, "requestsPerSecond").toFixed(0)
    );
    const vsBeam = median(http!.ratios.get(`×N BEAM ${connections}`)!).toFixed(2);
    const vsServe = median(http!.ratios.get(`×N Deno.serve ${connections}`)!).toFixed(2);
    parallelRows.push(
      `| http_hello, ${connections} connections, req/s | ${ours} | ${beam} | ${serve} | ` +
        `**${vsBeam}×** | **${vsServe}×** |`,
    );
    const [oursP99, beamP99, serveP99] = PARALLEL_SERVERS.map((kind) =>
      of(kind, connections, "p99Ms").toFixed(2)
    );
    parallelRows.push(
      `| http_hello, ${connections} connections, p99 ms | ${oursP99} | ${beamP99} | ` +
        `${serveP99} | | |`,
    );
  }
}
if (PARTS.has("echo")) {
  const echo = await echoRuns();
  const [ours, beam] = [echo.get("lunatic")!, echo.get("BEAM")!];
  rows.push(
    `| line echo, ${ECHO_CONNECTIONS} connections, MB/s | ${ours.toFixed(0)} | ` +
      `${beam.toFixed(0)} | | ${(ours / beam).toFixed(2)}× | |`,
  );
}
if (PARTS.has("idle")) {
  const idle = new Map<ServerKind, number>();
  for (const kind of HTTP_SERVERS) idle.set(kind, await idleMemory(kind));
  const [ours, beam, serve] = HTTP_SERVERS.map((kind) => idle.get(kind)!.toFixed(1));
  rows.push(
    `| ${IDLE_CONNECTIONS} idle connections, KB each (≤ 32) | **${ours}** | ${beam} | ` +
      `${serve} | | |`,
  );
}
console.log(`\nmachine: ${await machineDescription()}; ${new Date().toISOString().slice(0, 10)}`);
console.log(`\n${rows.join("\n")}`);
if (parallelRows.length > 2) {
  console.log(
    `\nEvery core: ${PARALLEL} instances sharing the port (run --parallel ${PARALLEL})\n`,
  );
  console.log(parallelRows.join("\n"));
}
if (errors.length > 0) console.log(`\nwrk reported errors:\n  ${errors.join("\n  ")}`);
await Deno.remove(erlangDir, { recursive: true });
