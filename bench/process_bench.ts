/**
 * Spawn and message-passing costs through the whole runtime (`deno task bench`).
 * Figures and how to read them: BENCHMARKS.md.
 */
import { fileURLToPath } from "node:url";
import { Lunatic } from "../lunatic.ts";

const guest = (name: string) =>
  fileURLToPath(new URL(`../tests/guests/build/${name}.wasm`, import.meta.url));

const lunatic = new Lunatic();
const spawnModule = await lunatic.load(guest("bench_spawn"));
const pingPongModule = await lunatic.load(guest("bench_ping_pong"));

async function runRoot(
  module: typeof spawnModule,
  entry: string,
  args: (number | bigint)[],
): Promise<void> {
  const root = lunatic.spawnRoot(module, { entry, entryArgs: args, environmentId: 0 });
  const outcome = await root.exited;
  if (outcome.kind !== "normal") throw new Error(`benchmark guest failed: ${outcome.reason}`);
}

Deno.bench({
  name: "spawn 1,000 processes that each send one message and exit",
  group: "spawn",
  n: 20,
  fn: async () => await runRoot(spawnModule, "spawn_many", [1_000, 0n]),
});

Deno.bench({
  name: "10,000 request/reply round trips between two processes",
  group: "messages",
  n: 20,
  fn: async () => await runRoot(pingPongModule, "ping", [10_000]),
});
