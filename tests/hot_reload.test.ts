/**
 * Hot code upgrade (lunatic::hot, runtime/hot.ts) through the public API and a C guest
 * (tests/guests/hot_counter.c, built as versions 1, 2 and 3): a counter server moves from v1
 * to v2 while requests arrive, keeping its count, PID and registry name; a reload that lacks
 * an export is refused and nothing changes; a third version purges a process still on the
 * first; --allow without lunatic::hot denies it.
 */
import assert from "node:assert/strict";
import { EnvConfig, lunatic, LunaticError, type NativeProcess } from "../mod.ts";
import { Lunatic } from "../lunatic.ts";
import { compileWat } from "./helpers/compile.ts";
import { CliProcess } from "./helpers/cli_process.ts";
import { examplePath, guestPath } from "./helpers/run_guest.ts";

const TAG_INC = 1n;
const TAG_REPLY = 2n;
const TAG_STOP = 3n;

const decoder = new TextDecoder();
const v2 = () => Deno.readFile(guestPath("hot_counter_v2"));
const v3 = () => Deno.readFile(guestPath("hot_counter_v3"));

/** Asks `server` to add 1 and returns its reply. */
function increment(
  self: NativeProcess,
  server: { send(data: Uint8Array, o?: { tag?: bigint }): void },
) {
  const replyTo = new Uint8Array(8);
  new DataView(replyTo.buffer).setBigUint64(0, self.id, true);
  server.send(replyTo, { tag: TAG_INC });
}

async function reply(self: NativeProcess): Promise<string> {
  const signal = await self.receive({ tags: [TAG_REPLY], timeoutMs: 10_000 });
  return signal.kind === "data" ? decoder.decode(signal.data) : signal.kind;
}

Deno.test("hot: a counter moves from v1 to v2 while it serves: count, PID and name kept, nothing lost", async () => {
  const v1 = await lunatic.load(guestPath("hot_counter"));
  assert.equal(v1.version, 1);
  const environment = lunatic.createEnvironment();
  const server = environment.spawn(v1, { entry: "serve" });
  const replies: string[] = [];
  const client = environment.spawnNative(async (self) => {
    for (let i = 0; i < 3; i++) {
      increment(self, server);
      replies.push(await reply(self));
    }
    const next = await lunatic.reload(v1, await v2());
    assert.equal(next.version, 2);
    // Sent right after the reload, while the server moves to the new code: none is lost.
    for (let i = 0; i < 3; i++) increment(self, server);
    for (let i = 0; i < 3; i++) replies.push(await reply(self));
    server.send(new Uint8Array(), { tag: TAG_STOP });
  });
  assert.deepEqual(await client.exited, { kind: "normal" });
  assert.deepEqual(await server.exited, { kind: "normal" });
  assert.deepEqual(replies, [
    "v1 count=1",
    "v1 count=2",
    "v1 count=3",
    "v2 count=4",
    "v2 count=5",
    "v2 count=6",
  ]);
  assert.equal(server.id, 1n);
  assert.equal(environment.registry.get("counter"), server.id);
});

Deno.test("hot: a reload that lacks an export a process runs is refused; the old code serves on", async () => {
  const v1 = await lunatic.load(guestPath("hot_counter"));
  const environment = lunatic.createEnvironment();
  const server = environment.spawn(v1, { entry: "serve" });
  const lacking = await compileWat(`(module (memory (export "memory") 1) (func (export "other")))`);
  await assert.rejects(
    lunatic.reload(v1, lacking),
    (error: unknown) =>
      error instanceof LunaticError && /refused: the new version lacks `serve`/.test(error.message),
  );
  await assert.rejects(lunatic.reload(v1, new Uint8Array([0, 97, 115, 109, 9])), LunaticError);
  const client = environment.spawnNative(async (self) => {
    increment(self, server);
    assert.match(await reply(self), /^v\d count=1$/);
    server.send(new Uint8Array(), { tag: TAG_STOP });
  });
  assert.deepEqual(await client.exited, { kind: "normal" });
  assert.deepEqual(await server.exited, { kind: "normal" });
});

Deno.test("hot: a third version purges the processes still on the first", async () => {
  // A runtime of its own: its module cache, so this lineage starts at version 1 whatever the
  // other tests loaded.
  const runtime = new Lunatic();
  const v1 = await runtime.load(guestPath("hot_counter"));
  const stuck = runtime.spawnRoot(v1, { entry: "idle", environmentId: 1 });
  stuck.environment.onDeadlock = null; // it waits on purpose
  const purged: number[] = [];
  await runtime.reload(v1, await v2(), (victims) => purged.push(...victims.map((p) => p.id)));
  assert.equal(purged.length, 0); // two versions may run at once
  assert.ok(stuck.alive);
  await runtime.reload(v1, await v3(), (victims) => purged.push(...victims.map((p) => p.id)));
  assert.deepEqual(purged, [stuck.id]); // told before they are killed
  assert.deepEqual(await stuck.exited, { kind: "failure", reason: "code purged" });
});

Deno.test("hot: --allow without lunatic::hot denies its calls", async () => {
  const v1 = await lunatic.load(guestPath("hot_counter"));
  const environment = lunatic.createEnvironment(
    new EnvConfig({
      allow: [
        "wasi_snapshot_preview1::",
        "lunatic::message::",
        "lunatic::registry::",
        "lunatic::process::",
      ],
    }),
  );
  const server = environment.spawn(v1, { entry: "serve" });
  const outcome = await server.exited;
  assert.equal(outcome.kind, "failure");
  assert.match(
    outcome.kind === "failure" ? outcome.reason : "",
    /permission denied: lunatic::hot::subscribe/,
  );
});

Deno.test("hot: lunatic run --watch moves the server to the file's next version while it serves", async () => {
  const dir = await Deno.realPath(await Deno.makeTempDir({ prefix: "hot_watch_" }));
  const app = `${dir}/app.wasm`;
  await Deno.copyFile(examplePath("hot_counter"), app);
  // 10 requests once a reply comes from version 2 (however long the reload takes), 20 ms apart.
  const run = new CliProcess(["run", "--watch", app, "10", "20", "2"]);
  try {
    await run.waitFor(/client: v1 count=3 /);
    // Replaced as a build would: written aside, renamed over it.
    await Deno.copyFile(examplePath("hot_counter_v2"), `${app}.new`);
    await Deno.rename(`${app}.new`, app);
    await run.waitFor(/hot_counter: \d+ requests answered, server 2 ended/);
    const status = await run.done;
    assert.equal(status.code, 0, run.stderr);
    const replies = run.stdout.split("\n").filter((line) => line.startsWith("client: "));
    // Every count once, in order, all from server 2; version 1 first, then version 2.
    replies.forEach((line, i) =>
      assert.match(line, new RegExp(`^client: v[12] count=${i + 1} \\(server 2\\)$`))
    );
    const firstV2 = replies.findIndex((line) => line.startsWith("client: v2"));
    assert.ok(firstV2 >= 3, run.stdout);
    assert.ok(replies.slice(0, firstV2).every((line) => line.startsWith("client: v1")));
    assert.ok(replies.slice(firstV2).every((line) => line.startsWith("client: v2")));
    assert.equal(replies.length - firstV2, 10);
    assert.match(run.stderr, /reloaded .*app\.wasm: version 2/);
  } finally {
    await run.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("hot: a supervisor upgrades itself and restarts its worker on the new code", async () => {
  const runtime = new Lunatic();
  const v1 = await runtime.load(guestPath("hot_counter"));
  // A runtime of its own (its lineage must start at version 1), driven from native processes.
  const root = runtime.spawnRoot(v1, { entry: "supervisor", environmentId: 1 });
  root.environment.onDeadlock = null;
  // Polls ask with a short timeout (a crashed worker stays registered until its restart);
  // assertions wait as long as a loaded machine may need.
  const who = async (name: string, timeout = 10_000): Promise<string> => {
    const id = root.environment.registry.get(name)?.processId;
    if (id === undefined) return `${name} not registered`;
    const { NativeProcess } = await import("../runtime/native_process.ts");
    let answer = "";
    const asker = new NativeProcess(runtime.runtime, root.environment, async (self) => {
      const replyTo = new Uint8Array(8);
      new DataView(replyTo.buffer).setBigUint64(0, BigInt(self.id), true);
      self.send(id, 8n, replyTo);
      const signal = await self.receive([2n], timeout);
      answer = signal.kind === "data" ? decoder.decode(signal.data) : signal.kind;
    });
    await asker.exited;
    return answer;
  };
  const waitFor = async (check: () => Promise<boolean>) => {
    for (let i = 0; i < 500 && !(await check()); i++) {
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  };
  await waitFor(async () => !(await who("worker", 200)).endsWith("not registered"));
  const before = await who("worker");
  assert.match(before, /^worker v1 pid \d+$/);
  assert.equal(await who("supervisor"), `supervisor v1 pid ${root.id}`);

  await runtime.reload(v1, await v2());
  await waitFor(async () => (await who("supervisor", 200)).includes("v2"));
  assert.equal(await who("supervisor"), `supervisor v2 pid ${root.id}`); // same PID, new code
  assert.equal(await who("worker"), before); // the running worker keeps its version

  // The observer's table and the Prometheus metrics say which version each process runs.
  const { processRows } = await import("../runtime/observer/snapshot.ts");
  const versionOf = (name: string) => {
    const id = Number(root.environment.registry.get(name)!.processId);
    return processRows(runtime.runtime).find((row) => row.id === id)?.version;
  };
  assert.equal(versionOf("supervisor"), 2);
  assert.equal(versionOf("worker"), 1);
  const scraped = runtime.runtime.stats.snapshot(runtime.runtime.live).render();
  assert.match(
    scraped,
    /^lunatic_process_alive_by_version\{module="hot_counter\.wasm",version="1"\} 1$/m,
  );
  assert.match(
    scraped,
    /^lunatic_process_alive_by_version\{module="hot_counter\.wasm",version="2"\} 1$/m,
  );

  // The worker crashes: the upgraded supervisor restarts it from the module it runs now.
  const workerId = root.environment.registry.get("worker")!.processId;
  root.environment.get(workerId)!.deliver(
    new (await import("../runtime/message.ts")).DataMessage(7n),
  );
  await waitFor(async () => (await who("worker", 200)).includes("v2"));
  assert.match(await who("worker"), /^worker v2 pid \d+$/);
  assert.notEqual(await who("worker"), before);
});
