/**
 * The `lunatic` command line: exit codes, usage errors, load errors that name the problem,
 * failure reports with backtraces, log levels and deadlock detection.
 */
import assert from "node:assert/strict";
import { compileWat } from "./helpers/compile.ts";
import { examplePath, guestPath, runCli } from "./helpers/run_guest.ts";

Deno.test("run passes argv (file name first) and exits with the guest's exit code", async () => {
  const result = await runCli(["run", guestPath("cli_exit"), "7", "second"]);
  assert.equal(result.code, 7);
  assert.equal(result.stdout, "argv[0]=cli_exit.wasm\nargv[1]=7\nargv[2]=second\n");
});

Deno.test("a normal end exits 0", async () => {
  const result = await runCli(["run", guestPath("cli_exit")]);
  assert.equal(result.code, 0);
});

Deno.test("the implied run form: lunatic app.wasm args", async () => {
  const result = await runCli([guestPath("cli_exit"), "3"]);
  assert.equal(result.code, 3);
  assert.match(result.stdout, /argv\[1\]=3/);
});

Deno.test("guest arguments starting with - go after --", async () => {
  const result = await runCli(["run", guestPath("cli_exit"), "--", "-x", "--flag"]);
  assert.equal(result.code, 0);
  assert.match(result.stdout, /argv\[1\]=-x\nargv\[2\]=--flag\n/);
});

Deno.test("a trap exits 134 and reports the reason with a named wasm backtrace", async () => {
  const result = await runCli(["run", guestPath("cli_trap")]);
  assert.equal(result.code, 134);
  assert.equal(result.stdout, "about to trap\n");
  assert.match(
    result.stderr,
    /^Error: the root process \(1\) failed: unreachable\nwasm backtrace:\n/,
  );
  assert.match(result.stderr, /cli_trap\.wasm!explode_here/);
  assert.match(result.stderr, /cli_trap\.wasm!main|cli_trap\.wasm!__original_main/);
});

Deno.test("the root's failure is shown whatever LUNATIC_LOG says", async () => {
  for (const level of ["error", "fatal"]) {
    const result = await runCli(["run", guestPath("cli_trap")], { env: { LUNATIC_LOG: level } });
    assert.equal(result.code, 134);
    assert.match(result.stderr, /^Error: the root process \(1\) failed: unreachable\n/, level);
  }
});

Deno.test("an invalid LUNATIC_LOG level is a usage error naming the accepted values", async () => {
  for (const args of [["run", guestPath("cli_exit")], ["test", guestPath("testmode_suite")]]) {
    const result = await runCli(args, { env: { LUNATIC_LOG: "loud" } });
    assert.equal(result.code, 2);
    assert.match(
      result.stderr,
      /^error: invalid LUNATIC_LOG level "loud" \(use trace, debug, info, warning, error or fatal\)\n/,
    );
    assert.doesNotMatch(result.stderr, /internal error|at /);
  }
});

Deno.test("a module without _start or without an exported memory is a load error (exit 1)", async () => {
  const noStart = await runCli(["run", guestPath("testmode_exports")]);
  assert.equal(noStart.code, 1);
  assert.equal(
    noStart.stderr,
    "Error: cannot run testmode_exports.wasm: Function '_start' not found\n",
  );
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/no_memory.wasm`;
    await Deno.writeFile(path, await compileWat(`(module (func (export "_start")))`));
    const noMemory = await runCli(["run", path]);
    assert.equal(noMemory.code, 1);
    assert.equal(
      noMemory.stderr,
      'Error: cannot run no_memory.wasm: it does not export its memory as "memory"\n',
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("usage errors exit 2 with a usage line", async () => {
  for (
    const args of [[], ["run"], ["frobnicate", "x.wasm"], ["run", "--no-such-flag", "x.wasm"]]
  ) {
    const result = await runCli(args);
    assert.equal(result.code, 2, `args ${JSON.stringify(args)}`);
    assert.match(result.stderr, /usage: lunatic run/);
  }
});

Deno.test("--help and --version exit 0", async () => {
  const help = await runCli(["--help"]);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /usage: lunatic run/);
  const version = await runCli(["--version"]);
  assert.equal(version.code, 0);
  assert.match(version.stdout, /lunatic ABI 0\.13\.2/);
});

Deno.test("a missing module exits 1 naming the path", async () => {
  const result = await runCli(["run", "no/such/module.wasm"]);
  assert.equal(result.code, 1);
  assert.match(result.stderr, /Error: Module 'no\/such\/module\.wasm' not found/);
});

Deno.test("a file that is not wasm exits 1 saying so", async () => {
  const path = await Deno.makeTempFile({ suffix: ".wasm" });
  try {
    await Deno.writeTextFile(path, "this is not a wasm module");
    const result = await runCli(["run", path]);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /invalid WebAssembly module .*bad magic number/);
  } finally {
    await Deno.remove(path);
  }
});

Deno.test("an unknown import exits 1 naming its module and function", async () => {
  const result = await runCli(["run", guestPath("unknown_import")]);
  assert.equal(result.code, 1);
  assert.match(
    result.stderr,
    /imports unknown host function "lunatic::nonexistent::frobnicate" \(module "lunatic::nonexistent", name "frobnicate"\)/,
  );
});

Deno.test("an import with the wrong signature exits 1 showing both signatures", async () => {
  const result = await runCli(["run", guestPath("wrong_signature")]);
  assert.equal(result.code, 1);
  assert.match(
    result.stderr,
    /imports "lunatic::process::process_id" with type \(i32\) -> \(i64\), but the host function has type \(\) -> \(i64\)/,
  );
});

Deno.test("a deadlocked root is reported instead of hanging", async () => {
  const result = await runCli(["run", guestPath("deadlock")]);
  assert.equal(result.code, 1);
  assert.equal(
    result.stderr,
    "Error: deadlock: every process is waiting for a message that nothing can send " +
      "(no timer or I/O is pending)\n",
  );
});

Deno.test("--dir preopens a directory under its own name", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const result = await runCli(["run", "--dir", dir, examplePath("hello")]);
    assert.equal(result.code, 0);
    const missing = await runCli(["run", "--dir", `${dir}/missing`, examplePath("hello")]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /missing/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
