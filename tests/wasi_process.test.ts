/**
 * WASI seen from C guests: argv and environment, exit codes, traps on bad pointers, clocks,
 * randomness and poll_oneoff. Guests are built from tests/guests/wasi_*.c.
 */
import assert from "node:assert/strict";
import { runWasiGuest } from "./helpers/wasi_harness.ts";

Deno.test("wasi: the guest sees the config's args and environment", async () => {
  const run = await runWasiGuest("wasi_args_env", {
    args: ["prog", "hello", "wörld", ""],
    env: [["GREETING", "hi there"], ["EQ", "a=b"], ["EMPTY", ""]],
  });
  assert.equal(run.exitCode, 0);
  assert.equal(
    run.stdout,
    [
      "argc=4",
      "argv[0]=[prog]",
      "argv[1]=[hello]",
      "argv[2]=[wörld]",
      "argv[3]=[]",
      "env [GREETING=hi there]",
      "env [EQ=a=b]",
      "env [EMPTY=]",
      "GREETING=hi there",
      "",
    ].join("\n"),
  );
});

Deno.test("wasi: no args and no environment", async () => {
  const run = await runWasiGuest("wasi_args_env", { args: [] });
  assert.equal(run.exitCode, 0);
  assert.equal(run.stdout, "argc=0\nGREETING=(unset)\n");
});

Deno.test("wasi: exit, return from main and proc_exit give the process's exit code", async () => {
  for (
    const [how, code, expected] of [
      ["exit", "3", 3],
      ["exit", "0", 0],
      ["return", "7", 7],
      ["proc_exit", "9", 9],
      ["return", "0", 0],
    ] as const
  ) {
    const run = await runWasiGuest("wasi_exit", { args: ["wasi_exit", how, code] });
    assert.equal(run.exitCode, expected, `${how} ${code}`);
    assert.equal(run.trap, null);
    assert.equal(run.stdout, "before exit\n");
  }
});

Deno.test("wasi: an out-of-bounds pointer traps the guest instead of returning an errno", async () => {
  for (const pointer of ["iovec_array", "iovec_buffer", "random", "result_pointer"]) {
    const run = await runWasiGuest("wasi_oob", { args: ["wasi_oob", pointer] });
    assert.equal(run.exitCode, null, pointer);
    assert.match(run.trap ?? "", /out of bounds memory access/, pointer);
    // The guest got no further than the call: its report line never appears.
    assert.equal(run.stdout, "about to trap\n", pointer);
  }
});

Deno.test("wasi: clocks and random bytes", async () => {
  const run = await runWasiGuest("wasi_clock_random");
  assert.equal(run.exitCode, 0);
  const [realtimeLine, ...rest] = run.stdout.trimEnd().split("\n");
  const realtime = Number(realtimeLine.replace("realtime_s=", ""));
  assert.ok(Math.abs(realtime - Date.now() / 1000) < 5, `realtime ${realtime}`);
  assert.deepEqual(rest, [
    "monotonic: 0",
    "monotonic: 0",
    "monotonic_nondecreasing=1",
    "res realtime: 0",
    "res_ns=1000",
    "res monotonic: 0",
    "res bad clock: 28",
    "time bad clock: 28",
    "process cputime: 0",
    "thread cputime: 0",
    "cputime_below_10s=1",
    "random_get: 0",
    "distinct=256",
    "tail_all_zero=0",
    "entropy_differs=1",
  ]);
});

Deno.test("wasi: poll_oneoff sleeps until the earliest clock and reports ready fds at once", async () => {
  const started = performance.now();
  const run = await runWasiGuest("wasi_poll");
  const elapsed = performance.now() - started;
  assert.equal(run.exitCode, 0, run.stderr);
  const lines = run.stdout.trimEnd().split("\n");
  const byLabel = new Map(lines.map((line) => {
    const colon = line.indexOf(":");
    return [line.slice(0, colon), line.slice(colon + 2)];
  }));
  const elapsedOf = (label: string) => Number(byLabel.get(label)!.match(/elapsed_ms=(\d+)/)![1]);
  const eventsOf = (label: string) => byLabel.get(label)!.replace(/ elapsed_ms=\d+$/, "");

  assert.equal(byLabel.get("usleep(100ms) slept>=100ms"), "1");
  // Only the 30 ms clock fires; the 5 s one is still pending.
  assert.equal(eventsOf("two clocks"), "err=0 nevents=1 [userdata=11 error=0 type=0]");
  assert.ok(elapsedOf("two clocks") >= 30 && elapsedOf("two clocks") < 1000);
  assert.equal(eventsOf("absolute"), "err=0 nevents=1 [userdata=33 error=0 type=0]");
  assert.ok(elapsedOf("absolute") >= 39);
  assert.equal(eventsOf("absolute realtime"), "err=0 nevents=1 [userdata=34 error=0 type=0]");
  assert.ok(elapsedOf("absolute realtime") >= 30);
  assert.equal(eventsOf("past deadline"), "err=0 nevents=1 [userdata=35 error=0 type=0]");
  assert.ok(elapsedOf("past deadline") < 20);
  // A ready fd answers immediately, without waiting for the clock next to it.
  assert.equal(eventsOf("stdout writable"), "err=0 nevents=1 [userdata=44 error=0 type=2]");
  assert.ok(elapsedOf("stdout writable") < 1000);
  assert.equal(
    eventsOf("stdin and unknown fd"),
    "err=0 nevents=2 [userdata=66 error=0 type=1] [userdata=77 error=8 type=1]",
  );
  assert.equal(eventsOf("unknown clock"), "err=0 nevents=1 [userdata=88 error=28 type=0]");
  assert.equal(byLabel.get("no subscriptions"), "28");
  assert.equal(byLabel.get("sched_yield"), "0");
  // 100 + 30 + 40 + 40 ms of sleeps, and none of the 5 s clocks waited out.
  assert.ok(elapsed >= 200 && elapsed < 4000, `guest ran ${elapsed} ms`);
});
