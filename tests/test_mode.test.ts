/**
 * Test mode (spec §7.3): `lunatic test <wasm>` and `lunatic run <target/.../deps/x.wasm>` as
 * cargo's test runner. Discovery of `#lunatic_test_` exports, filters, `--list`, the outcome
 * rules (both Rust panic formats), capture per process, libtest's report, exit codes, the time
 * limit, deadlocks and usage errors.
 *
 * Guests: tests/guests/testmode_suite.c (tests shaped like lunatic-rs's, see its header) and
 * tests/guests/testmode_exports.wat (discovery counts only function exports).
 * Completion order is not fixed, so reports are compared after sorting the runs of status
 * lines, output blocks and name lists; every line must still match exactly.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { isCargoTestInvocation } from "../cli.ts";
import {
  CaptureSink,
  EMPTY_INPUT,
  findPanicMessage,
  Lunatic,
  parseTestExport,
  runTests,
} from "../lunatic.ts";
import { guestPath, runCli } from "./helpers/run_guest.ts";

const SUITE = guestPath("testmode_suite");
const TESTS = 15;

/** Runs `lunatic test <suite> ...args`. */
function test(args: string[], options: { env?: Record<string, string> } = {}) {
  return runCli(["test", SUITE, ...args], options);
}

/**
 * The report with the time blanked and every run of status lines, `---- name stdout ----`
 * blocks and indented name lists sorted (libtest prints them in completion order).
 */
function canonical(report: string): string {
  const lines = report.replace(/finished in \d+\.\d\ds/, "finished in X.XXs").split("\n");
  const out: string[] = [];
  let i = 0;
  const run = (matches: (line: string) => boolean) => {
    const start = i;
    while (i < lines.length && matches(lines[i])) i++;
    return lines.slice(start, i);
  };
  while (i < lines.length) {
    const line = lines[i];
    if (/^test .* \.\.\. /.test(line)) {
      out.push(...run((l) => /^test .* \.\.\. /.test(l)).sort());
    } else if (line.startsWith("    ")) {
      out.push(...run((l) => l.startsWith("    ")).sort());
    } else if (line.startsWith("---- ")) {
      // Blocks are separated by a blank line; the section's closing title follows the last.
      const blocks: string[] = [];
      while (i < lines.length && lines[i].startsWith("---- ")) {
        blocks.push(run((l) => l !== "").join("\n"));
        if (lines[i + 1]?.startsWith("---- ")) i++;
      }
      out.push(blocks.sort().join("\n\n"));
    } else {
      out.push(line);
      i++;
    }
  }
  return out.join("\n");
}

function assertReport(actual: string, expected: string) {
  assert.equal(canonical(actual), canonical(expected));
}

function resultLine(result: string, counts: string): string {
  return `\ntest result: ${result}. ${counts}; finished in X.XXs\n\n`;
}

const DEADLOCK_NOTE = "note: deadlock: every process of this test is blocked and nothing can " +
  "wake one; its processes were killed";
const PANIC_NOTE = "note: run with `RUST_BACKTRACE=1` environment variable to display a backtrace";

Deno.test("--list --format terse prints every test in export order and runs nothing", async () => {
  const all = await test(["--list", "--format", "terse"]);
  assert.equal(all.code, 0);
  assert.equal(
    all.stdout,
    [
      "passes",
      "exits_with_failure",
      "traps",
      "panics",
      "should_panic_old_format",
      "should_panic_new_format",
      "should_panic_wrong_message",
      "should_panic_any",
      "should_panic_but_returns",
      "should_panic_trap_without_message",
      "ignored",
      "ignored_should_panic",
      "prints_args",
      "spawns_child",
      "blocked_in_receive",
    ].map((name) => `mycrate::tests::${name}: test\n`).join(""),
  );
  const filtered = await test(["--format", "terse", "blocked", "--list"]);
  assert.equal(filtered.stdout, "mycrate::tests::blocked_in_receive: test\n");
  const ignored = await test(["--list", "--format", "terse", "--ignored"]);
  assert.equal(
    ignored.stdout,
    "mycrate::tests::ignored: test\nmycrate::tests::ignored_should_panic: test\n",
  );
});

/** The report of a run of the whole suite (every outcome rule and captured output). */
const FULL_REPORT = () => `
running ${TESTS} tests
test mycrate::tests::ignored ... ignored
test mycrate::tests::ignored_should_panic ... ignored
test mycrate::tests::passes ... ok
test mycrate::tests::exits_with_failure ... FAILED
test mycrate::tests::traps ... FAILED
test mycrate::tests::panics ... FAILED
test mycrate::tests::should_panic_old_format - should panic ... ok
test mycrate::tests::should_panic_new_format - should panic ... ok
test mycrate::tests::should_panic_wrong_message - should panic ... FAILED
test mycrate::tests::should_panic_any - should panic ... ok
test mycrate::tests::should_panic_but_returns - should panic ... FAILED
test mycrate::tests::should_panic_trap_without_message - should panic ... FAILED
test mycrate::tests::prints_args ... ok
test mycrate::tests::spawns_child ... FAILED
test mycrate::tests::blocked_in_receive ... FAILED

failures:

---- mycrate::tests::exits_with_failure stdout ----
about to exit(1)
note: Process trapped or received kill signal

---- mycrate::tests::traps stdout ----
about to trap
note: Process trapped or received kill signal

---- mycrate::tests::panics stdout ----
thread '<unnamed>' panicked at src/lib.rs:30:9:
assertion failed: 1 + 1 == 3
${PANIC_NOTE}

---- mycrate::tests::should_panic_wrong_message stdout ----
thread '<unnamed>' panicked at src/lib.rs:60:9:
division by zero
${PANIC_NOTE}
note: panic did not contain expected string
      panic message: \`"division by zero"\`,
 expected substring: \`"out of range"\`

---- mycrate::tests::should_panic_but_returns stdout ----
returning normally
note: test did not panic as expected

---- mycrate::tests::should_panic_trap_without_message stdout ----
note: Process received kill signal, but expected a panic that contains \`overflow\`

---- mycrate::tests::spawns_child stdout ----
 --- process 0 stdout ---
parent: spawning
parent: child 2 ended
note: Process trapped or received kill signal
 --- process 1 stdout ---
child: hello from process 2

---- mycrate::tests::blocked_in_receive stdout ----
waiting for a message that never comes
${DEADLOCK_NOTE}

failures:
    mycrate::tests::exits_with_failure
    mycrate::tests::traps
    mycrate::tests::panics
    mycrate::tests::should_panic_wrong_message
    mycrate::tests::should_panic_but_returns
    mycrate::tests::should_panic_trap_without_message
    mycrate::tests::spawns_child
    mycrate::tests::blocked_in_receive
${resultLine("FAILED", "5 passed; 8 failed; 2 ignored; 0 measured; 0 filtered out")}`;

Deno.test("a full run: every outcome rule, captured output and libtest's report", async () => {
  const result = await test([]);
  assert.equal(result.code, 1);
  assert.equal(result.stderr, "");
  assertReport(result.stdout, FULL_REPORT());
});

Deno.test("--test-threads 3: the tests run on worker threads, with the same report", async () => {
  const result = await test(["--test-threads", "3"]);
  assert.equal(result.code, 1);
  assert.equal(result.stderr, "");
  assertReport(result.stdout, FULL_REPORT());
});

Deno.test("a passing run exits 0; no colours when stdout is not a terminal", async () => {
  const result = await test(["passes"]);
  assert.equal(result.code, 0);
  assert.equal(
    canonical(result.stdout),
    canonical(`
running 1 test
test mycrate::tests::passes ... ok
${resultLine("ok", "1 passed; 0 failed; 0 ignored; 0 measured; 14 filtered out")}`),
  );
  assert.ok(!result.stdout.includes("\x1b"), "no ANSI escapes");
});

Deno.test("the filter is a substring; --exact wants the whole name", async () => {
  const substring = await test(["should_panic_old"]);
  assertReport(
    substring.stdout,
    `
running 1 test
test mycrate::tests::should_panic_old_format - should panic ... ok
${resultLine("ok", "1 passed; 0 failed; 0 ignored; 0 measured; 14 filtered out")}`,
  );
  const partName = await test(["--exact", "passes"]);
  assert.equal(partName.code, 0);
  assertReport(
    partName.stdout,
    `
running 0 tests
${resultLine("ok", "0 passed; 0 failed; 0 ignored; 0 measured; 15 filtered out")}`,
  );
  const wholeName = await test(["mycrate::tests::passes", "--exact"]);
  assert.match(wholeName.stdout, /^test mycrate::tests::passes \.\.\. ok$/m);
  assert.match(wholeName.stdout, /1 passed; .* 14 filtered out/);
});

Deno.test("should_panic: both panic formats, '\\#' in the expected text, mismatches", async () => {
  const result = await test(["should_panic_"]);
  assert.equal(result.code, 1);
  assertReport(
    result.stdout,
    `
running 6 tests
test mycrate::tests::should_panic_old_format - should panic ... ok
test mycrate::tests::should_panic_new_format - should panic ... ok
test mycrate::tests::should_panic_wrong_message - should panic ... FAILED
test mycrate::tests::should_panic_any - should panic ... ok
test mycrate::tests::should_panic_but_returns - should panic ... FAILED
test mycrate::tests::should_panic_trap_without_message - should panic ... FAILED

failures:

---- mycrate::tests::should_panic_wrong_message stdout ----
thread '<unnamed>' panicked at src/lib.rs:60:9:
division by zero
${PANIC_NOTE}
note: panic did not contain expected string
      panic message: \`"division by zero"\`,
 expected substring: \`"out of range"\`

---- mycrate::tests::should_panic_but_returns stdout ----
returning normally
note: test did not panic as expected

---- mycrate::tests::should_panic_trap_without_message stdout ----
note: Process received kill signal, but expected a panic that contains \`overflow\`

failures:
    mycrate::tests::should_panic_wrong_message
    mycrate::tests::should_panic_but_returns
    mycrate::tests::should_panic_trap_without_message
${resultLine("FAILED", "3 passed; 3 failed; 0 ignored; 0 measured; 9 filtered out")}`,
  );
});

Deno.test("--ignored runs only the ignored tests; --include-ignored runs them too", async () => {
  const expected = (filteredOut: number) => `
running 2 tests
test mycrate::tests::ignored ... ok
test mycrate::tests::ignored_should_panic - should panic ... ok
${resultLine("ok", `2 passed; 0 failed; 0 ignored; 0 measured; ${filteredOut} filtered out`)}`;
  const only = await test(["--ignored"]);
  assert.equal(only.code, 0);
  assertReport(only.stdout, expected(13));
  const included = await test(["ignored", "--include-ignored"]);
  assert.equal(included.code, 0);
  assertReport(included.stdout, expected(13));
  const includedPassing = await test(["--include-ignored", "pass"]);
  assertReport(
    includedPassing.stdout,
    `
running 1 test
test mycrate::tests::passes ... ok
${resultLine("ok", "1 passed; 0 failed; 0 ignored; 0 measured; 14 filtered out")}`,
  );
});

Deno.test("a child's output is captured in its own stream of the test's capture set", async () => {
  const result = await test(["spawns_child"]);
  assert.equal(result.code, 1);
  assertReport(
    result.stdout,
    `
running 1 test
test mycrate::tests::spawns_child ... FAILED

failures:

---- mycrate::tests::spawns_child stdout ----
 --- process 0 stdout ---
parent: spawning
parent: child 2 ended
note: Process trapped or received kill signal
 --- process 1 stdout ---
child: hello from process 2

failures:
    mycrate::tests::spawns_child
${resultLine("FAILED", "0 passed; 1 failed; 0 ignored; 0 measured; 14 filtered out")}`,
  );
});

Deno.test("--nocapture echoes output live and leaves only the runner's notes", async () => {
  const passing = await test(["--nocapture", "passes"]);
  assert.equal(passing.code, 0);
  assertReport(
    passing.stdout,
    `
running 1 test
passes: all good
test mycrate::tests::passes ... ok
${resultLine("ok", "1 passed; 0 failed; 0 ignored; 0 measured; 14 filtered out")}`,
  );
  // lunatic adds no "Process trapped" note under --nocapture.
  const failing = await test(["exits_with_failure", "--nocapture"]);
  assert.equal(failing.code, 1);
  assertReport(
    failing.stdout,
    `
running 1 test
about to exit(1)
test mycrate::tests::exits_with_failure ... FAILED

failures:

failures:
    mycrate::tests::exits_with_failure
${resultLine("FAILED", "0 passed; 1 failed; 0 ignored; 0 measured; 14 filtered out")}`,
  );
  const noted = await test(["should_panic_but_returns", "--nocapture"]);
  assertReport(
    noted.stdout,
    `
running 1 test
returning normally
test mycrate::tests::should_panic_but_returns - should panic ... FAILED

failures:

---- mycrate::tests::should_panic_but_returns stdout ----
note: test did not panic as expected

failures:
    mycrate::tests::should_panic_but_returns
${resultLine("FAILED", "0 passed; 1 failed; 0 ignored; 0 measured; 14 filtered out")}`,
  );
});

Deno.test("--show-output prints the output of successes", async () => {
  const result = await test(["--show-output", "pass"]);
  assert.equal(result.code, 0);
  assertReport(
    result.stdout,
    `
running 1 test
test mycrate::tests::passes ... ok

successes:

---- mycrate::tests::passes stdout ----
passes: all good

successes:
    mycrate::tests::passes
${resultLine("ok", "1 passed; 0 failed; 0 ignored; 0 measured; 14 filtered out")}`,
  );
});

Deno.test("guest args after the filter, host env, preopens, environment 0 and PID 1", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const result = await test(
      ["prints_args", "alpha", "--show-output", "--dir", dir, "--", "--beta"],
      { env: { TESTMODE_GREETING: "hello" } },
    );
    assert.equal(result.code, 0);
    assertReport(
      result.stdout,
      `
running 1 test
test mycrate::tests::prints_args ... ok

successes:

---- mycrate::tests::prints_args stdout ----
argc 2
argv[0]=alpha
argv[1]=--beta
TESTMODE_GREETING=hello
preopen .
preopen ${dir}
environment 0, process 1

successes:
    mycrate::tests::prints_args
${resultLine("ok", "1 passed; 0 failed; 0 ignored; 0 measured; 14 filtered out")}`,
    );
  } finally {
    await Deno.remove(dir);
  }
});

Deno.test("--test-timeout fails a test blocked in receive and kills its processes", async () => {
  const started = performance.now();
  // The child sleeps: not a deadlock, so only the time limit ends the test.
  const result = await test(["blocked_in_receive", "--test-timeout", "0.2"], {
    env: { TESTMODE_CHILD_SLEEPS: "1" },
  });
  assert.ok(performance.now() - started < 10_000);
  assert.equal(result.code, 1);
  assertReport(
    result.stdout,
    `
running 1 test
test mycrate::tests::blocked_in_receive ... FAILED

failures:

---- mycrate::tests::blocked_in_receive stdout ----
waiting for a message that never comes
note: test did not finish within the time limit of 0.2s (--test-timeout); its processes were killed

failures:
    mycrate::tests::blocked_in_receive
${resultLine("FAILED", "0 passed; 1 failed; 0 ignored; 0 measured; 14 filtered out")}`,
  );
  const seconds = Number(result.stdout.match(/finished in (\d+\.\d\d)s/)![1]);
  assert.ok(seconds >= 0.2, `finished in ${seconds}s`);
});

Deno.test("a deadlocked test fails instead of cutting the run short", async () => {
  const result = await test(["blocked_in_receive"]);
  assert.equal(result.code, 1);
  assert.ok(result.stdout.includes(`\nwaiting for a message that never comes\n${DEADLOCK_NOTE}\n`));
  assert.match(result.stdout, /test result: FAILED\. 0 passed; 1 failed;/);
});

Deno.test("usage errors exit 2 with the test usage line", async () => {
  for (
    const args of [
      ["test"],
      ["test", SUITE, "--test-threads=0"],
      ["test", SUITE, "--test-threads", "two"],
      ["test", SUITE, "-q"],
      ["test", SUITE, "--list"],
      ["test", SUITE, "--format", "terse"],
      ["test", SUITE, "--list", "--format", "json"],
      ["test", SUITE, "--ignored", "--include-ignored"],
      ["test", SUITE, "--test-timeout", "soon"],
    ]
  ) {
    const result = await runCli(args);
    assert.equal(result.code, 2, `args ${JSON.stringify(args.slice(2))}`);
    assert.equal(result.stdout, "");
    assert.match(result.stderr, /^error: .*\nusage: lunatic test <PATH\.wasm> \[FILTER\]/);
  }
});

Deno.test("a missing module exits 1", async () => {
  const result = await runCli(["test", "no/such/tests.wasm"]);
  assert.equal(result.code, 1);
  assert.match(result.stderr, /Error: Module 'no\/such\/tests\.wasm' not found/);
});

Deno.test("as cargo's runner: `run` of a target/wasm32-wasi/*/deps binary tests", async () => {
  const root = await Deno.makeTempDir();
  try {
    const deps = join(root, "target", "wasm32-wasi", "debug", "deps");
    await Deno.mkdir(deps, { recursive: true });
    const binary = join(deps, "mycrate-1234.wasm");
    await Deno.copyFile(SUITE, binary);
    const env = { CARGO_MANIFEST_DIR: root };
    const expected = `
running 1 test
test mycrate::tests::passes ... ok
${resultLine("ok", "1 passed; 0 failed; 0 ignored; 0 measured; 14 filtered out")}`;

    const explicit = await runCli(["run", binary, "passes"], { env });
    assert.equal(explicit.code, 0);
    assertReport(explicit.stdout, expected);
    // `cargo test -- --exact mycrate::tests::passes` through the implied `run`.
    const implied = await runCli([binary, "--exact", "mycrate::tests::passes"], { env });
    assert.equal(implied.code, 0);
    assertReport(implied.stdout, expected);
    const failing = await runCli([binary, "traps"], { env });
    assert.equal(failing.code, 1);

    // cargo bench uses the same path: that is an ordinary run (main returns, prints nothing).
    const bench = await runCli([binary, "--bench"], { env });
    assert.deepEqual([bench.code, bench.stdout], [0, ""]);
    // Without CARGO_MANIFEST_DIR, or outside deps/, it is an ordinary run too.
    if (Deno.env.get("CARGO_MANIFEST_DIR") === undefined) {
      const plain = await runCli(["run", binary, "passes"]);
      assert.deepEqual([plain.code, plain.stdout], [0, ""]);
    }
    const elsewhere = join(root, "target", "wasm32-wasi", "debug", "mycrate.wasm");
    await Deno.copyFile(SUITE, elsewhere);
    const outside = await runCli(["run", elsewhere, "passes"], { env });
    assert.deepEqual([outside.code, outside.stdout], [0, ""]);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("test-mode detection follows lunatic's path pattern", () => {
  const detect = (argv: string[], manifestDirSet = true) =>
    isCargoTestInvocation(argv, manifestDirSet);
  assert.ok(detect(["run", "/w/target/wasm32-wasi/debug/deps/a-1.wasm"]));
  assert.ok(detect(["run", "/w/target/wasm32-wasi/release/deps/a-1.wasm", "f", "--nocapture"]));
  assert.ok(detect(["run", "../ws/target/wasm32-unknown-unknown/debug/deps/a.wasm"]));
  assert.ok(!detect(["run", "/w/target/wasm32-wasi/debug/deps/a-1.wasm"], false));
  assert.ok(!detect(["run", "/w/target/wasm32-wasi/debug/deps/a-1.wasm", "x", "--bench"]));
  assert.ok(!detect(["run", "target/wasm32-wasi/debug/deps/a-1.wasm"])); // needs a leading /
  assert.ok(!detect(["run", "/w/target/wasm32-wasi/debug/a.wasm"]));
  assert.ok(!detect(["run", "/w/target/wasm32-wasi/debug/deps/a.wasm.map"]));
  assert.ok(!detect(["run", "--dir", "/w/target/wasm32-wasi/debug/deps/a.wasm"]));
});

Deno.test("discovery counts only function exports; a test taking parameters fails", async () => {
  const result = await runCli(["test", guestPath("testmode_exports")]);
  assert.equal(result.code, 1);
  assertReport(
    result.stdout,
    `
running 2 tests
test wat::returns ... ok
test wat::takes_a_parameter ... FAILED

failures:

---- wat::takes_a_parameter stdout ----
note: Process trapped or received kill signal

failures:
    wat::takes_a_parameter
${resultLine("FAILED", "1 passed; 1 failed; 0 ignored; 0 measured; 0 filtered out")}`,
  );
});

Deno.test("export names: #ignore_, #panic_<expected># with \\# escapes", () => {
  assert.equal(parseTestExport("main"), null);
  assert.deepEqual(parseTestExport("#lunatic_test_c::m::t"), {
    exportName: "#lunatic_test_c::m::t",
    name: "c::m::t",
    ignored: false,
    expectedPanic: null,
  });
  assert.deepEqual(parseTestExport("#lunatic_test_#ignore_#panic_a \\#1 \\#2#c::t"), {
    exportName: "#lunatic_test_#ignore_#panic_a \\#1 \\#2#c::t",
    name: "c::t",
    ignored: true,
    expectedPanic: "a #1 #2",
  });
  assert.equal(parseTestExport("#lunatic_test_#panic_#c::t")?.expectedPanic, "");
});

Deno.test("panic messages in both formats of Rust's panic hook", () => {
  assert.equal(
    findPanicMessage("out\nthread '<unnamed>' panicked at 'it broke', src/lib.rs:3:5\nnote: x\n"),
    "it broke",
  );
  assert.equal(
    findPanicMessage(
      "thread 'main' panicked at src/lib.rs:3:5:\nassertion `left == right` failed\n  left: 1\n" +
        ` right: 2\n${PANIC_NOTE}\n`,
    ),
    "assertion `left == right` failed\n  left: 1\n right: 2",
  );
  assert.equal(findPanicMessage("thread 'main' panicked at src/lib.rs:3:5:\nlast"), "last");
  // Rust 1.91 adds the thread's ID.
  assert.equal(
    findPanicMessage(
      `thread '<unnamed>' (1) panicked at src/lib.rs:3:5:\nwith id\n${PANIC_NOTE}\n`,
    ),
    "with id",
  );
  assert.equal(findPanicMessage("no panic here\n"), null);
});

const GREEN_OK = "\x1b[92mok\x1b[0m";
const RED_FAILED = "\x1b[91mFAILED\x1b[0m";

Deno.test("embedding: runTests reports to a sink, coloured on request", async () => {
  const lunatic = new Lunatic();
  const module = await lunatic.load(SUITE);
  const report = new CaptureSink();
  const summary = await runTests(lunatic.runtime, module, {
    filter: "passes",
    report,
    colour: true,
    stdin: EMPTY_INPUT,
  });
  assert.deepEqual(
    { passed: summary.passed, failed: summary.failed, exitCode: summary.exitCode },
    { passed: 1, failed: 0, exitCode: 0 },
  );
  assert.ok(report.text().includes(`\ntest mycrate::tests::passes ... ${GREEN_OK}\n`));
  assert.ok(report.text().includes(`\ntest result: ${GREEN_OK}. 1 passed;`));

  const failing = new CaptureSink();
  const failed = await runTests(lunatic.runtime, module, {
    filter: "should_panic_but_returns",
    report: failing,
    colour: true,
    stdin: EMPTY_INPUT,
  });
  assert.equal(failed.exitCode, 1);
  assert.deepEqual(failed.results.map((r) => [r.name, r.status, r.output]), [
    [
      "mycrate::tests::should_panic_but_returns",
      "failed",
      "returning normally\nnote: test did not panic as expected\n",
    ],
  ]);
  assert.ok(failing.text().includes(` - should panic ... ${RED_FAILED}\n`));
  assert.ok(failing.text().includes(`\ntest result: ${RED_FAILED}. 0 passed;`));
});

Deno.test("--test-timeout stops a test spinning in a loop; the other tests still pass", async () => {
  const result = await runCli(["test", guestPath("testmode_spin"), "--test-timeout", "0.2"]);
  assert.equal(result.code, 1);
  assert.match(result.stdout, /^test spinner::tests::passes \.\.\. ok$/m);
  assert.match(result.stdout, /^test spinner::tests::spins_forever \.\.\. FAILED$/m);
  assert.match(
    result.stdout,
    /note: test did not finish within the time limit of 0\.2s \(--test-timeout\); its processes were killed/,
  );
  assert.match(result.stdout, /test result: FAILED\. 1 passed; 1 failed; 0 ignored/);
});
