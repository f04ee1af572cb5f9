/**
 * Configs, permissions and limits (spec §1.3, §1.6, §4): create_config defaults, setters and
 * getters, unknown IDs, what spawning with a config allows, `-1`, snapshots at spawn, the
 * ceiling a process's own config puts on the configs it creates, and the lunatic::wasi
 * config calls (args, env vars, preopens).
 *
 * Guest: tests/guests/configs_permissions.c (one export per scenario, run as the root).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import {
  type GuestOptions,
  outputLines,
  reasonOf,
  type RecordedRun,
  runRecorded,
} from "./helpers/run_guest.ts";

const GUEST = "configs_permissions";

/** Runs one scenario export as the root and records every process's end. */
function scenario(entry: string, options: GuestOptions = {}): Promise<RecordedRun> {
  return runRecorded(GUEST, { ...options, entry });
}

const SPAWN_DENIED = "Process doesn't have permissions to spawn sub-processes";

Deno.test("create_config from the root: max memory u32::MAX, no fuel limit, no permissions; setters and getters; IDs never reused", async () => {
  const { stdout, outcome } = await scenario("defaults");
  assert.deepEqual(outcome, { kind: "normal" });
  assert.deepEqual(outputLines(stdout), [
    "root: config 0: max_memory=4294967295 max_fuel=0 compile=0 create=0 spawn=0",
    "root: config 0: max_memory=2097152 max_fuel=7 compile=1 create=1 spawn=1",
    // set to 0 again, then compile set with 42: any non-zero value means true
    "root: config 0: max_memory=2097152 max_fuel=7 compile=1 create=0 spawn=0",
    "root: ids 0 1 2", // config 0 dropped: the next one is 2, not 0
    "root: config 1: max_memory=4294967295 max_fuel=0 compile=0 create=0 spawn=0",
  ]);
});

Deno.test("drop_config of a dropped config, and getters/setters of unknown IDs, trap", async () => {
  const cases: [string, string, string][] = [
    ["drop_twice", "root: dropped 0", "unknown config id 0"],
    ["get_unknown", "root: reading config 5", "unknown config id 5"],
    ["set_unknown", "root: writing config 3", "unknown config id 3"],
    ["set_memory_unknown", "root: writing config -1", "unknown config id 18446744073709551615"],
  ];
  for (const [entry, printed, reason] of cases) {
    const { stdout, outcome } = await scenario(entry);
    assert.deepEqual(outputLines(stdout), [printed], entry);
    assert.equal(reasonOf(outcome), reason, entry);
  }
});

Deno.test("spawning with a config applies its permissions; -1 gives the child the parent's", async () => {
  const { stdout, outcome, exits } = await scenario("permissions");
  assert.deepEqual(outcome, { kind: "normal" });
  assert.deepEqual(outputLines(stdout), [
    // 1: a fresh config: compile_module and create_config return -1, spawn traps
    "probe 1: compile_module=-1 create_config=-1",
    "root: process 2 ended",
    // 2: config -1: the root's own permissions
    "probe 2: compile_module=0 create_config=0",
    "probe 2: spawn=0",
    "root: process 3 ended",
    // 3: can_create_configs only
    "probe 3: compile_module=-1 create_config=0",
    "root: process 5 ended",
    // 4: can_compile_modules only
    "probe 4: compile_module=0 create_config=-1",
    "root: process 6 ended",
    // 5: can_spawn_processes only (its own child inherits that with -1)
    "probe 5: compile_module=-1 create_config=-1",
    "probe 5: spawn=0",
    "root: process 7 ended",
  ]);
  assert.equal(reasonOf(exits.get(2)), SPAWN_DENIED);
  assert.equal(reasonOf(exits.get(3)), "(normal)");
  assert.equal(reasonOf(exits.get(4)), "(normal)"); // the noop probe 2 spawned
  assert.equal(reasonOf(exits.get(5)), SPAWN_DENIED);
  assert.equal(reasonOf(exits.get(6)), SPAWN_DENIED);
  assert.equal(reasonOf(exits.get(7)), "(normal)");
  assert.equal(reasonOf(exits.get(8)), "(normal)"); // the noop probe 5 spawned
});

Deno.test("a config is snapshotted at spawn: edits and drop_config afterwards do not reach the child", async () => {
  const { stdout, outcome, exits } = await scenario("snapshot");
  assert.deepEqual(outcome, { kind: "normal" });
  assert.deepEqual(outputLines(stdout), [
    "root: edited and dropped config 0",
    // spawned with create only; the config then changed to compile + spawn before it ran
    "probe 1: compile_module=-1 create_config=0",
    "root: process 2 ended",
    // spawned after the edit: compile + spawn, no create
    "probe 2: compile_module=0 create_config=-1",
    "probe 2: spawn=0",
    "root: process 3 ended",
  ]);
  assert.equal(reasonOf(exits.get(2)), SPAWN_DENIED);
  assert.equal(reasonOf(exits.get(3)), "(normal)");
});

Deno.test("max_memory bounds memory.grow (-1, not a trap); below the initial memory spawn returns 1", async () => {
  const { stdout, outcome, exits } = await scenario("memory_limit");
  assert.deepEqual(outcome, { kind: "normal" });
  const output = outputLines(stdout);
  assert.deepEqual(output.slice(0, 2), [
    "grow: to the limit ok, size 16 pages, one more page -> -1",
    "root: process 2 ended",
  ]);
  assert.equal(output.length, 3);
  assert.match(
    output[2],
    /^root: spawn with 1 page -> 1: memory minimum size of 2 pages exceeds memory limits/,
  );
  assert.equal(reasonOf(exits.get(2)), "(normal)");
});

Deno.test("a process cannot grant permissions it lacks nor raise max memory or fuel above its own", async () => {
  const { stdout, outcome, exits } = await scenario("escalate_all");
  assert.deepEqual(outcome, { kind: "normal" });
  assert.deepEqual(outputLines(stdout), [
    // its configs start at its own limits (4 MiB, fuel 5), with no permissions
    "escalate 0: config 0: max_memory=4194304 max_fuel=5 compile=0 create=0 spawn=0",
    // what it has may be granted; lowering limits and refusing permissions is always fine
    "escalate 0: config 0: max_memory=4194304 max_fuel=5 compile=0 create=1 spawn=0",
    "escalate 0: done",
    "root: process 2 ended",
    "escalate 1: granting can_spawn_processes",
    "root: process 3 ended",
    "escalate 2: granting can_compile_modules",
    "root: process 4 ended",
    "escalate 3: raising max memory",
    "root: process 5 ended",
    "escalate 4: raising max fuel",
    "root: process 6 ended",
    "escalate 5: removing the fuel limit",
    "root: process 7 ended",
  ]);
  assert.equal(reasonOf(exits.get(2)), "(normal)");
  assert.equal(
    reasonOf(exits.get(3)),
    "permission denied: cannot grant can_spawn_processes, which this process does not have",
  );
  assert.equal(
    reasonOf(exits.get(4)),
    "permission denied: cannot grant can_compile_modules, which this process does not have",
  );
  assert.equal(
    reasonOf(exits.get(5)),
    "permission denied: cannot raise max memory to 4194305 bytes, above this process's limit of 4194304",
  );
  assert.equal(
    reasonOf(exits.get(6)),
    "permission denied: cannot raise max fuel to 6, above this process's limit of 5",
  );
  assert.equal(
    reasonOf(exits.get(7)),
    "permission denied: cannot raise max fuel to unlimited, above this process's limit of 5",
  );
});

/** A temporary directory with `sub/hello.txt`, removed after `body`. */
async function withDirectory(body: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "configs_permissions_" });
  try {
    await Deno.mkdir(join(dir, "sub"));
    await Deno.writeTextFile(join(dir, "sub", "hello.txt"), "hi there");
    await body(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("lunatic::wasi: args (the first added is argv[0]), env vars and a preopen inside the caller's", async () => {
  await withDirectory(async (dir) => {
    const { stdout, outcome } = await scenario("wasi_config", { args: [dir], dirs: [dir] });
    assert.deepEqual(outcome, { kind: "normal" });
    assert.deepEqual(outputLines(stdout.replaceAll(dir, "<dir>")), [
      // a fresh config: no args (not even a program name), no env, no preopens
      "show_wasi: argc=0",
      "show_wasi: envc=0",
      "root: process 2 ended",
      "root: preopened <dir>/sub",
      "show_wasi: argc=2 [first] [second arg]",
      "show_wasi: envc=2 [GREETING=hello world] [EMPTY=]",
      // preopened under the very string it was given
      "show_wasi: preopen fd 3 = <dir>/sub",
      "show_wasi: <dir>/sub/hello.txt says hi there",
      "root: process 3 ended",
    ]);
  });
});

Deno.test("a config's WASI view, shared by its processes, follows edits between spawns; -1 children see their parent's", async () => {
  await withDirectory(async (dir) => {
    const { stdout, outcome } = await scenario("wasi_config_edited", { args: [dir], dirs: [dir] });
    assert.deepEqual(outcome, { kind: "normal" });
    const before = ["show_wasi: argc=1 [one]", "show_wasi: envc=1 [A=1]"];
    const after = [
      "show_wasi: argc=2 [one] [two]",
      "show_wasi: envc=2 [A=1] [B=2]",
      "show_wasi: preopen fd 3 = <dir>/sub",
      "show_wasi: <dir>/sub/hello.txt says hi there",
    ];
    assert.deepEqual(outputLines(stdout.replaceAll(dir, "<dir>")), [
      ...before,
      "root: process 2 ended",
      "root: edited the config",
      ...after,
      "root: process 3 ended",
      // the two children of process 4, spawned with its config (-1); await_death says "root"
      ...after,
      "root: process 5 ended",
      ...after,
      "root: process 6 ended",
      "root: process 4 ended",
    ]);
  });
});

Deno.test("config_preopen_dir outside the caller's preopens traps", async () => {
  const { stdout, outcome } = await scenario("preopen_outside");
  assert.deepEqual(outputLines(stdout), ["root: preopening /etc"]);
  assert.equal(
    reasonOf(outcome),
    'permission denied: cannot preopen "/etc", which is outside this process\'s preopened directories',
  );
  await withDirectory(async (dir) => {
    // `<dir>/sub/..` is <dir> itself (fine); `<dir>/..` climbs out
    const { stdout, outcome } = await scenario("preopen_parent", { args: [dir], dirs: [dir] });
    assert.deepEqual(outputLines(stdout), ["root: preopened <dir>/sub/.."]);
    assert.equal(
      reasonOf(outcome),
      `permission denied: cannot preopen "${dir}/..", which is outside this process's preopened directories`,
    );
  });
});

Deno.test("config_preopen_dir of a symlink inside the caller's preopens that points outside them traps", async () => {
  const outside = await Deno.makeTempDir({ prefix: "configs_permissions_outside_" });
  try {
    await Deno.writeTextFile(join(outside, "hello.txt"), "secret");
    await withDirectory(async (dir) => {
      await Deno.symlink(outside, join(dir, "link"));
      const { stdout, outcome } = await scenario("preopen_symlink", { args: [dir], dirs: [dir] });
      // The caller's own WASI view refuses to follow <dir>/link (an absolute link target
      // leaves the preopen: EPERM), so a config it creates must not open that directory.
      assert.doesNotMatch(stdout, /says secret/, "the child read a file outside every preopen");
      assert.deepEqual(outputLines(stdout), [
        "root: its own open of <dir>/link/hello.txt -> errno 63", // EPERM
        "root: preopening <dir>/link",
      ]);
      assert.match(reasonOf(outcome), /^permission denied: cannot preopen ".*\/link"/);
    });
  } finally {
    await Deno.remove(outside, { recursive: true });
  }
});

Deno.test("a preopened directory that does not exist makes spawn trap", async () => {
  await withDirectory(async (dir) => {
    const { stdout, outcome, exits } = await scenario("preopen_missing", {
      args: [dir],
      dirs: [dir],
    });
    assert.deepEqual(outputLines(stdout), ["root: preopened <dir>/missing; spawning"]);
    assert.equal(reasonOf(outcome), `preopened directory "${dir}/missing" does not exist`);
    assert.deepEqual([...exits.keys()], [1]); // no child ever ran
  });
});
