/**
 * The public embedding API (mod.ts), through a real guest (tests/guests/embedding_api.c):
 * environments, wasm and native processes, messages both ways, links and monitors both ways,
 * the registry from both sides, kill, a native body that throws.
 */
import assert from "node:assert/strict";
import {
  EnvConfig,
  lunatic,
  LunaticError,
  type Module,
  type NativeProcess,
  NativeProcessKilled,
  type Signal,
  type WasmProcess,
} from "../mod.ts";
import { guestPath } from "./helpers/run_guest.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const text = (signal: Signal) => signal.kind === "data" ? decoder.decode(signal.data) : signal.kind;

let cached: Module | undefined;
async function guest(): Promise<Module> {
  return cached ??= await lunatic.load(guestPath("embedding_api"));
}

/** Output of guests, collected instead of printed. */
function capture() {
  const chunks: string[] = [];
  return {
    stdio: { stdout: (bytes: Uint8Array) => chunks.push(decoder.decode(bytes)) },
    text: () => chunks.join(""),
  };
}

Deno.test("mod: each environment has its own ID, process IDs from 1 and registry", async () => {
  const a = lunatic.createEnvironment();
  const b = lunatic.createEnvironment();
  assert.notEqual(a.id, b.id);
  const out = capture();
  const first = a.spawn(await guest(), { stdio: out.stdio });
  const native = b.spawnNative(async () => {});
  assert.equal(first.id, 1n);
  assert.equal(native.id, 1n);
  assert.equal(first.environmentId, a.id);
  assert.deepEqual(await first.exited, { kind: "normal" });
  assert.equal(out.text(), "guest: main with 1 arguments, first embedding_api.wasm\n");
  a.registry.put("x", first);
  assert.equal(a.registry.get("x"), 1n);
  assert.equal(b.registry.get("x"), undefined);
  a.registry.remove("x");
  assert.equal(a.registry.get("x"), undefined);
  // A process of another environment has no place in this one's registry.
  assert.throws(
    () => a.registry.put("y", native),
    (error: unknown) =>
      error instanceof LunaticError &&
      /process 1 is in environment \d+, not in this registry's \(\d+\)/.test(error.message),
  );
  assert.equal(a.registry.get("y"), undefined);
});

Deno.test("mod: a native receive with a timeout past setTimeout's range waits; Infinity is forever, NaN an error", async () => {
  const environment = lunatic.createEnvironment();
  const results: string[] = [];
  const waiter = environment.spawnNative(async (self) => {
    // 2^31 ms and more made setTimeout fire at once: the message sent after must still arrive.
    const long = await self.receive({ timeoutMs: 2 ** 31 + 5 });
    results.push(long.kind);
    const forever = await self.receive({ timeoutMs: Infinity });
    results.push(forever.kind);
    await assert.rejects(self.receive({ timeoutMs: NaN }), RangeError);
  });
  environment.spawnNative(async (self) => {
    await self.receive({ timeoutMs: 20 }); // gives the waiter time to block
    waiter.send(new Uint8Array([1]));
    await self.receive({ timeoutMs: 20 });
    waiter.send(new Uint8Array([2]));
  });
  assert.deepEqual(await waiter.exited, { kind: "normal" });
  assert.deepEqual(results, ["data", "data"]);
});

Deno.test("mod: a native process and a guest exchange messages both ways, with tags", async () => {
  const environment = lunatic.createEnvironment();
  const module = await guest();
  const replies: string[] = [];
  const handles: { echo?: WasmProcess } = {};
  const native = environment.spawnNative(async (self) => {
    // The body starts after the spawner's synchronous code: `echo` is there by then.
    for (const word of ["one", "two"]) {
      handles.echo!.send(encoder.encode(word), { tag: 10n });
      const reply = await self.receive({ tags: [11n] });
      assert.equal(reply.kind === "data" && reply.tag, 11n);
      replies.push(text(reply));
    }
    assert.deepEqual(await self.receive({ timeoutMs: 10 }), { kind: "timeout" });
    handles.echo!.send(encoder.encode("bye"));
  });
  const echo = handles.echo = environment.spawn(module, { entry: "echo", entryArgs: [native.id] });
  assert.deepEqual(await native.exited, { kind: "normal" });
  assert.deepEqual(await echo.exited, { kind: "normal" });
  assert.deepEqual(replies, ["echo: one", "echo: two"]);
});

Deno.test("mod: messages to a guest through its Process handle; kill ends it as a failure", async () => {
  const environment = lunatic.createEnvironment();
  const got: string[] = [];
  const native = environment.spawnNative(async (self) => {
    got.push(text(await self.receive()));
  });
  const echo = environment.spawn(await guest(), { entry: "echo", entryArgs: [native.id] });
  echo.send(encoder.encode("direct"), { tag: 5n });
  await native.exited;
  assert.deepEqual(got, ["echo: direct"]);
  echo.kill();
  assert.deepEqual(await echo.exited, { kind: "failure", reason: "killed" });
});

Deno.test("mod: a guest's crash reaches a native link (as a signal) and a native monitor", async () => {
  const environment = lunatic.createEnvironment();
  const signals: Signal[] = [];
  const echo = environment.spawn(await guest(), { entry: "echo", entryArgs: [0n] });
  const linked = environment.spawnNative(async (self) => {
    self.dieWhenLinkDies(false);
    self.link(echo, 77n);
    self.monitor(echo);
    echo.send(encoder.encode("crash"));
    signals.push(await self.receive());
    signals.push(await self.receive());
  });
  await linked.exited;
  const outcome = await echo.exited;
  assert.equal(outcome.kind, "failure");
  assert.deepEqual(signals.map((s) => s.kind).sort(), ["link_died", "process_died"]);
  assert.deepEqual(signals.find((s) => s.kind === "link_died"), {
    kind: "link_died",
    tag: 77n,
    processId: echo.id,
  });
  assert.deepEqual(signals.find((s) => s.kind === "process_died"), {
    kind: "process_died",
    processId: echo.id,
  });
});

Deno.test("mod: a native body that throws is a failure its guest link hears of; a killed native's receive rejects", async () => {
  const environment = lunatic.createEnvironment();
  const out = capture();
  let release!: () => void;
  const linkedUp = new Promise<void>((resolve) => release = resolve);
  const thrower: NativeProcess = environment.spawnNative(async (self) => {
    const signal = await self.receive();
    assert.equal(text(signal), "linked");
    release();
    throw new Error("native trouble");
  });
  const watcher = environment.spawn(await guest(), {
    entry: "watch",
    entryArgs: [thrower.id],
    stdio: out.stdio,
  });
  await linkedUp;
  assert.deepEqual(await thrower.exited, { kind: "failure", reason: "Error: native trouble" });
  assert.deepEqual(await watcher.exited, { kind: "normal" });
  assert.equal(out.text(), "guest: receive kind 1, tag 9\n");

  // A native process killed while it waits: its receive rejects, its outcome says killed.
  let rejection: unknown;
  const waiting = environment.spawnNative(async (self) => {
    try {
      await self.receive();
    } catch (error) {
      rejection = error;
      throw error;
    }
  });
  await Promise.resolve();
  waiting.kill();
  assert.deepEqual(await waiting.exited, { kind: "failure", reason: "killed" });
  await new Promise((resolve) => setTimeout(resolve, 0));
  assert.ok(rejection instanceof NativeProcessKilled);
});

Deno.test("mod: a native link to a guest that fails kills the native process by default", async () => {
  const environment = lunatic.createEnvironment();
  const echo = environment.spawn(await guest(), { entry: "echo", entryArgs: [0n] });
  const native = environment.spawnNative(async (self) => {
    self.link(echo);
    echo.send(encoder.encode("crash"));
    await self.receive();
  });
  const outcome = await native.exited;
  assert.equal(outcome.kind, "failure");
  assert.match(outcome.kind === "failure" ? outcome.reason : "", /linked process 1 failed/);
});

Deno.test("mod: the registry is shared: a guest finds a native process and registers itself", async () => {
  const environment = lunatic.createEnvironment();
  let greeting = "";
  const native = environment.spawnNative(async (self) => {
    greeting = text(await self.receive({ tags: [3n] }));
  });
  environment.registry.put("ts-native", native);
  const user = environment.spawn(await guest(), { entry: "registry_user" });
  await native.exited;
  assert.equal(greeting, "hi from the guest");
  assert.equal(environment.registry.get("guest"), user.id);
  user.send(encoder.encode("bye"));
  assert.deepEqual(await user.exited, { kind: "normal" });
});

Deno.test("mod: configs limit what a guest may do; bad spawns and cross-environment links are LunaticErrors", async () => {
  const module = await guest();
  const environment = lunatic.createEnvironment(
    new EnvConfig({ allow: ["wasi_snapshot_preview1::"] }),
  );
  const denied = environment.spawn(module, { entry: "idle" });
  const outcome = await denied.exited;
  assert.equal(outcome.kind, "failure");
  assert.match(
    outcome.kind === "failure" ? outcome.reason : "",
    /permission denied: lunatic::message::/,
  );
  assert.throws(() => environment.spawn(module, { entry: "nope" }), LunaticError);
  assert.throws(() => new EnvConfig({ maxMemory: -1 }), LunaticError);
  const other = lunatic.createEnvironment();
  const a = environment.spawnNative(() => new Promise(() => {}));
  const b = other.spawnNative(async () => {});
  assert.throws(() => a.link(b), /different environments/);
  a.kill();
  await a.exited;
  await b.exited;
});

Deno.test("mod: a guest monitoring a native process hears of its end", async () => {
  const environment = lunatic.createEnvironment();
  const module = await guest();
  const out = capture();
  const native = environment.spawnNative(async (self) => {
    assert.equal(text(await self.receive()), "monitoring");
  });
  const watcher = environment.spawn(module, {
    entry: "monitor_peer",
    entryArgs: [native.id],
    stdio: out.stdio,
  });
  assert.deepEqual(await native.exited, { kind: "normal" });
  assert.deepEqual(await watcher.exited, { kind: "normal" });
  assert.equal(out.text(), `guest: receive kind 2, process ${native.id}\n`);
});
