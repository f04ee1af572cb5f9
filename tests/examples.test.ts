/**
 * The examples the README shows run as documented, through the command line.
 */
import assert from "node:assert/strict";
import { examplePath, runCli } from "./helpers/run_guest.ts";

Deno.test("hello prints its arguments and process id", async () => {
  const result = await runCli(["run", examplePath("hello"), "a", "b"]);
  assert.equal(result.code, 0);
  assert.match(
    result.stdout,
    /^Hello from lunatic process 1 \(environment 1, host ABI 0\.13\.2\)!$/m,
  );
  assert.match(result.stdout, /^argv\[2\] = "b"$/m);
});

Deno.test("ping_pong exchanges the requested number of messages", async () => {
  const result = await runCli(["run", examplePath("ping_pong"), "5"]);
  assert.equal(result.code, 0);
  assert.equal(result.stdout.match(/^ping: got pong \d+$/gm)?.length, 5);
  assert.match(result.stdout, /^ping_pong: 5 exchanges done, pong exited$/m);
});

Deno.test("ring passes the token 1,000 processes x 100 rounds and counts every hop", async () => {
  const result = await runCli(["run", examplePath("ring"), "1000", "100"]);
  assert.equal(result.code, 0);
  assert.equal(result.stdout, "ring: 1000 processes, 100 rounds, 100000 messages\n");
});

Deno.test("a guest's output is all that reaches stdout, also with thousands of processes", async () => {
  // 4,000 processes alive at once: the runtime writes nothing of its own to stdout.
  const result = await runCli(["run", examplePath("ring"), "4000", "1"]);
  assert.equal(result.code, 0);
  assert.equal(result.stdout, "ring: 4000 processes, 1 rounds, 4000 messages\n");
});

Deno.test("supervisor restarts its crashing worker and finishes the jobs", async () => {
  const result = await runCli(["run", examplePath("supervisor")]);
  assert.equal(result.code, 0);
  assert.equal(
    result.stdout.match(/^supervisor: worker \d+ crashed \(restart \d\/3\)$/gm)?.length,
    3,
  );
  assert.match(result.stdout, /^supervisor: 8\/8 jobs done by 4 workers, 3 restarts/m);
  // Each crash is reported with its reason and a named backtrace.
  assert.equal(result.stderr.match(/failed, notifying: 1 links: unreachable/g)?.length, 3);
});

Deno.test("sqlite_counter: processes increment one counter in a database file", async () => {
  const dir = await Deno.realPath(await Deno.makeTempDir({ prefix: "sqlite_counter_" }));
  try {
    // As the README runs it: the database in the working directory, "." preopened.
    const result = await runCli(["run", examplePath("sqlite_counter"), "6", "40"], { cwd: dir });
    assert.equal(result.code, 0, result.stderr);
    assert.equal(
      result.stdout,
      "sqlite_counter: 6 processes x 40 increments: counter = 240 (counter.db)\n",
    );
    assert.ok(Deno.statSync(`${dir}/counter.db`).isFile);
    // A database outside every preopen is refused, with lunatic's error.
    const outside = await runCli(
      ["run", "--no-default-dir", examplePath("sqlite_counter"), "1", "1", `${dir}/x.db`],
      { cwd: dir },
    );
    assert.equal(outside.code, 1);
    assert.match(outside.stderr, new RegExp(`sqlite_counter: Failed to access '${dir}/x.db'`));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
