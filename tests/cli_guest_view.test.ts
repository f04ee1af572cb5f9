/**
 * What a guest sees of the host, as the command line sets it: preopens (`--dir DIR`,
 * `--dir HOST::GUEST`, `--no-default-dir`), environment (`--env`, `--no-inherit-env`), and
 * that nothing of Deno's own (its node shim, `deno task`'s variables) leaks into it.
 */
import assert from "node:assert/strict";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { V8_FLAGS_ARGUMENT } from "../runtime/v8_flags.ts";
import { guestPath, outputLines, runCli, runGuest } from "./helpers/run_guest.ts";

const REPO = dirname(dirname(fileURLToPath(import.meta.url)));

/** Runs `body` with a temporary directory holding `marker.txt` of `size` bytes. */
async function withMarkedDir(size: number, body: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.realPath(await Deno.makeTempDir({ prefix: "cli_guest_view_" }));
  try {
    await Deno.writeTextFile(join(dir, "marker.txt"), "x".repeat(size));
    await body(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** The preopens wasi_preopens printed: "fd name marker-size". */
function preopens(stdout: string): string[] {
  const lines = stdout.split("\n");
  const found: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    const preopen = lines[i].match(/^preopen fd=(\d+) .* name=\[(.*)\] err=0$/);
    if (preopen === null) continue;
    const marker = lines.slice(i).find((line) => line.startsWith("marker "))!;
    found.push(`${preopen[1]} ${preopen[2]} ${marker.replace(/^marker err=\d+ size=/, "")}`);
  }
  return found;
}

Deno.test('by default "." is preopened first, then each --dir under its own name', async () => {
  await withMarkedDir(7, async (dir) => {
    const result = await runCli(["run", "--dir", dir, guestPath("wasi_preopens")], { cwd: dir });
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(preopens(result.stdout), ["3 . 7", `4 ${dir} 7`]);
  });
});

Deno.test('--dir HOST::GUEST preopens HOST under GUEST; --no-default-dir drops "."', async () => {
  await withMarkedDir(3, async (first) => {
    await withMarkedDir(5, async (second) => {
      const result = await runCli([
        "run",
        "--no-default-dir",
        "--dir",
        `${first}::/`,
        "--dir",
        `${second}::data/inner`,
        guestPath("wasi_preopens"),
      ]);
      assert.equal(result.code, 0, result.stderr);
      assert.deepEqual(preopens(result.stdout), ["3 / 3", "4 data/inner 5"]);
      // The implied `run` form takes the same flags.
      const implied = await runCli([
        "--no-default-dir",
        "--dir",
        `${first}::/`,
        guestPath("wasi_preopens"),
      ]);
      assert.equal(implied.code, 0, implied.stderr);
      assert.deepEqual(preopens(implied.stdout), ["3 / 3"]);
    });
  });
});

Deno.test("malformed --dir and --env values are usage errors naming the value", async () => {
  for (const flag of [["--dir", "::/"], ["--dir", "/tmp::"], ["--env", "=x"]]) {
    const result = await runCli(["run", ...flag, guestPath("wasi_preopens")]);
    assert.equal(result.code, 2, flag.join(" "));
    assert.ok(result.stderr.includes(`(was ${flag[1]})`), result.stderr);
  }
  const missing = await runCli(["run", "--dir", "/no/such/dir::/", guestPath("wasi_preopens")]);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /\/no\/such\/dir/);
});

Deno.test("--env adds to the host's environment, or is all of it with --no-inherit-env", async () => {
  const env = { GREETING: "from the host", OTHER: "also" };
  const inherited = await runCli(
    ["run", "--env", "ADDED=1", "--env", "OTHER=overridden", guestPath("wasi_args_env")],
    { env },
  );
  assert.equal(inherited.code, 0, inherited.stderr);
  const vars = outputLines(inherited.stdout, "env [");
  assert.ok(vars.includes("env [GREETING=from the host]"), inherited.stdout);
  assert.ok(vars.includes("env [ADDED=1]"));
  assert.ok(vars.includes("env [OTHER=overridden]"));
  assert.ok(!vars.includes("env [OTHER=also]"));

  // Exactly the --env variables, in order; `--env NAME` passes the host's value (none: unset).
  const only = await runCli([
    "run",
    "--no-inherit-env",
    "--env",
    "A=x=y",
    "--env",
    "GREETING",
    "--env",
    "NOT_ON_THE_HOST",
    "--env",
    "EMPTY=",
    guestPath("wasi_args_env"),
  ], { env });
  assert.equal(only.code, 0, only.stderr);
  assert.deepEqual(outputLines(only.stdout, "env ["), [
    "env [A=x=y]",
    "env [GREETING=from the host]",
    "env [EMPTY=]",
  ]);
});

Deno.test("lunatic test takes the same flags for every test's root", async () => {
  await withMarkedDir(1, async (dir) => {
    const result = await runCli([
      "test",
      guestPath("testmode_suite"),
      "prints_args",
      "--show-output",
      "--no-default-dir",
      "--dir",
      `${dir}::/sandbox`,
      "--no-inherit-env",
      "--env",
      "TESTMODE_GREETING=only this",
    ]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /TESTMODE_GREETING=only this\npreopen \/sandbox\nenvironment 0/);
  });
});

/** Runs `args` with exactly `env` (no PATH, so Deno installs its node shim). */
async function runWithExactly(args: string[], env: Record<string, string>) {
  const output = await new Deno.Command(Deno.execPath(), {
    args,
    cwd: REPO,
    env,
    clearEnv: true,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decoder = new TextDecoder();
  return {
    code: output.code,
    stdout: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr),
  };
}

Deno.test("the guest inherits the user's environment, nothing Deno or deno task adds", async () => {
  const env = { HOME: Deno.env.get("HOME") ?? "/", GREETING: "only mine" };
  const expected = ["env [GREETING=only mine]", `env [HOME=${env.HOME}]`];
  const direct = await runWithExactly(
    ["run", "--allow-all", V8_FLAGS_ARGUMENT, "cli.ts", "run", guestPath("wasi_args_env")],
    env,
  );
  assert.equal(direct.code, 0, direct.stderr);
  assert.deepEqual(outputLines(direct.stdout, "env [").sort(), expected);
  // `deno task run` is the README's way: it adds INIT_CWD, PWD and npm_config_user_agent.
  const task = await runWithExactly(["task", "run", guestPath("wasi_args_env")], env);
  assert.equal(task.code, 0, task.stderr);
  assert.deepEqual(outputLines(task.stdout, "env [").sort(), expected);
});

Deno.test("the embedding API's root options give the same view: dirs, defaultDir, env", async () => {
  await withMarkedDir(4, async (dir) => {
    const view = await runGuest("wasi_preopens", {
      dirs: [{ host: dir, guest: "/" }, dir],
      defaultDir: false,
    });
    assert.equal(view.exitCode, 0, view.stderr);
    assert.deepEqual(preopens(view.stdout), ["3 / 4", `4 ${dir} 4`]);
  });
  const env = await runGuest("wasi_args_env", { env: { ONLY: "this" } });
  assert.deepEqual(outputLines(env.stdout, "env ["), ["env [ONLY=this]"]);
});
