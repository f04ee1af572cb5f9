/**
 * `lunatic run --parallel N`: N instances, each with a runtime of its own on a thread, sharing
 * a TCP listening port; the run ends as one program (the first failure decides, else 0); only
 * the first instance reads stdin; bad counts and flags that need one runtime are refused.
 */
import assert from "node:assert/strict";
import * as net from "node:net";
import { CliProcess } from "./helpers/cli_process.ts";
import { guestPath, runCli } from "./helpers/run_guest.ts";

const UNSTABLE_NET = ["--unstable-net"];

/** A port nothing listens on now (bound by the OS, then released). */
function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr;
  listener.close();
  return port;
}

/** What a server that answers and closes sends back on a new connection. */
function answerOf(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: "127.0.0.1", port });
    let text = "";
    socket.setEncoding("utf8");
    socket.on("data", (chunk: string) => text += chunk);
    socket.on("end", () => resolve(text));
    socket.on("error", reject);
  });
}

Deno.test("instances share a listening port: the kernel spreads connections over all of them", async () => {
  const port = freePort();
  const server = new CliProcess(
    ["run", "--parallel", "3", guestPath("parallel_instance"), "serve", String(port)],
    UNSTABLE_NET,
  );
  try {
    for (const instance of [1, 2, 3]) {
      await server.waitFor(
        new RegExp(`instance ${instance} of 3 listening on 127\\.0\\.0\\.1:${port}\\n`),
      );
      // Sharing the port with the other instances does not let one instance bind it twice.
      assert.match(
        server.stdout,
        new RegExp(`instance ${instance}: second bind: Address already in use \\(os error 98\\)`),
      );
    }
    const seen = new Map<string, number>();
    for (let i = 0; i < 60; i++) {
      const answer = await answerOf(port);
      assert.match(answer, /^instance [123]\n$/);
      seen.set(answer, (seen.get(answer) ?? 0) + 1);
    }
    // SO_REUSEPORT hashes each connection's addresses: 60 connections all missing one of
    // three instances has a chance of about 3 * (2/3)^60, below 1e-10.
    assert.deepEqual([...seen.keys()].sort(), ["instance 1\n", "instance 2\n", "instance 3\n"]);
  } finally {
    await server.stop();
  }
});

Deno.test("the first instance to fail ends the run with its exit code, stopping the others", async () => {
  const result = await runCli(
    ["run", "--parallel", "2", guestPath("parallel_instance"), "exit"],
    { denoFlags: UNSTABLE_NET },
  );
  assert.equal(result.code, 3);
  assert.match(result.stdout, /^instance 1 exits with 3$/m);
});

Deno.test("a run whose instances all end normally exits 0; only instance 1 reads stdin", async () => {
  const result = await runCli(
    ["run", "--parallel", "3", guestPath("parallel_instance"), "stdin"],
    { denoFlags: UNSTABLE_NET, stdin: "hello\n" },
  );
  assert.equal(result.code, 0, result.stderr);
  const lines = result.stdout.trim().split("\n").sort();
  assert.deepEqual(lines, [
    "instance 1 of 3 read hello",
    "instance 2 of 3 read EOF",
    "instance 3 of 3 read EOF",
  ]);
});

Deno.test("an instance that cannot run its module ends the run with one clear error", async () => {
  const result = await runCli(
    ["run", "--parallel", "2", guestPath("parallel_instance").replace(".wasm", "_missing.wasm")],
    { denoFlags: UNSTABLE_NET },
  );
  assert.equal(result.code, 1);
  assert.match(result.stderr, /^Error: Module '.*parallel_instance_missing\.wasm' not found\n$/);

  const bad = await Deno.makeTempFile({ suffix: ".wasm" });
  try {
    await Deno.writeFile(bad, new Uint8Array([0, 0x61, 0x73, 0x6d, 9, 9]));
    const malformed = await runCli(["run", "--parallel", "2", bad], { denoFlags: UNSTABLE_NET });
    assert.equal(malformed.code, 1);
    // One instance's report; the other is stopped before it can add its own.
    assert.equal(malformed.stderr.match(/^Error: /gm)?.length, 1, malformed.stderr);
  } finally {
    await Deno.remove(bad);
  }
});

Deno.test("--parallel refuses a bad count, and flags that need a single runtime", async () => {
  for (const count of ["0", "two", "1.5", "257"]) {
    const result = await runCli(["run", "--parallel", count, guestPath("parallel_instance")], {
      denoFlags: UNSTABLE_NET,
    });
    assert.equal(result.code, 2, count);
    assert.match(
      result.stderr,
      new RegExp(
        `--parallel takes a number of instances from 1 to 256 \\(was ${
          count.replace(".", "\\.")
        }\\)`,
      ),
    );
  }
  for (const flag of [["--watch"], ["--prometheus"], ["--observe", "127.0.0.1:0"]]) {
    const result = await runCli([
      "run",
      "--parallel",
      "2",
      ...flag,
      guestPath("parallel_instance"),
    ]);
    assert.equal(result.code, 2, flag[0]);
    assert.match(result.stderr, new RegExp(`--parallel cannot be combined with ${flag[0]}`));
  }
});

Deno.test("--parallel without Deno's --unstable-net says what is missing", async () => {
  const result = await runCli(["run", "--parallel", "2", guestPath("parallel_instance"), "stdin"]);
  assert.equal(result.code, 1);
  assert.match(
    result.stderr,
    /^Error: --parallel shares listening ports \(SO_REUSEPORT\), which needs Deno's --unstable-net flag/,
  );
});

Deno.test("--parallel 1 is the usual run: the guest is not told it is an instance", async () => {
  const result = await runCli(["run", "--parallel", "1", guestPath("parallel_instance"), "stdin"]);
  assert.equal(result.code, 1);
  assert.equal(result.stdout, "not an instance of a parallel run\n");
});
