/**
 * Test mode (spec §7.3): runs the `#[lunatic::test]` functions of a module the way `lunatic`
 * does as cargo's test runner, and reports them in libtest's format.
 *
 * Tests run in lanes, as libtest runs them on threads: each lane runs one test at a time, and
 * the lanes take the tests in export order. A lane is this thread ({@link InProcessLane}) or a
 * worker thread with a runtime of its own (runtime/test_worker_lane.ts), so that a test has a
 * whole thread to itself: lunatic-rs's tests expect a restart or a reply within milliseconds,
 * which tests sharing one thread cannot promise each other. Each test is the root process
 * (PID 1) of its own fresh environment (ID 0) with its own registry. Its stdout and stderr go
 * into one captured stream; each process it spawns gets another stream in the same capture
 * set. A test's result is decided when its root process ends, from how it ended and, for
 * `#[should_panic]` tests, from the panic message Rust printed into the root's stream.
 */
import { type GuestView, ProcessConfig, rootView } from "./config.ts";
import type { Environment } from "./environment.ts";
import { LunaticError } from "./errors.ts";
import type { LunaticModule } from "./module.ts";
import type { Process, ProcessOutcome } from "./process.ts";
import type { Runtime } from "./runtime.ts";
import { CaptureSink, hostStdio, type InputSource, type OutputSink, type Stdio } from "./stdio.ts";
import {
  discoverTests,
  selectTests,
  type TestFunction,
  type TestSelection,
} from "./test_discovery.ts";

/** What a test's guests get and where its output goes: what every lane needs to know. */
export interface TestGuestOptions extends GuestView {
  /** The guests' argv (test mode gives no argv[0]). */
  args?: string[];
  /** Allowed host namespaces as `module::function` prefixes; default everything. */
  allow?: string[];
  /** Every test root's memory limit in bytes; default lunatic's (4 GiB less one byte). */
  maxMemory?: bigint;
  /** `--nocapture`: echo the tests' output to the report as it is written. */
  nocapture?: boolean;
  /** Fail a test that has not ended after this many milliseconds and kill its processes. */
  timeLimitMs?: number;
  /** Where the report (and under `nocapture`, the tests' output) goes; default host stdout. */
  report?: OutputSink;
  /** The tests' stdin; default the host's. */
  stdin?: InputSource;
}

/** How to run the tests: which ones, what the guests get, where they run, how to report. */
export interface TestRunOptions extends TestSelection, TestGuestOptions {
  /** `--show-output`: print the output of successful tests too. */
  showOutput?: boolean;
  /** Colour ok/FAILED/ignored. Default: when the report goes to a terminal stdout. */
  colour?: boolean;
  /**
   * Where the tests run: lanes that each run one test at a time. Default: one lane on this
   * thread, in `runtime`. The lanes are closed when the run ends.
   */
  lanes?: TestLane[];
}

/** Runs tests one at a time (see the module's comment). */
export interface TestLane {
  /** Runs `test` and resolves with its result once its root process has ended. */
  run(test: TestFunction): Promise<TestResult>;
  /** Ends every process the lane's tests left running, and the lane. */
  close(): void;
}

/** How one test ended, as the report shows it. */
export interface TestResult {
  readonly name: string;
  readonly shouldPanic: boolean;
  readonly status: "ok" | "failed" | "ignored";
  /** The captured output with the runner's notes, as printed under `---- name stdout ----`. */
  readonly output: string;
}

/** The outcome of a whole run. */
export interface TestRunSummary {
  /** In completion order (ignored tests first). */
  readonly results: readonly TestResult[];
  readonly passed: number;
  readonly failed: number;
  readonly ignored: number;
  readonly filteredOut: number;
  /** 0 when no test failed, else 1 (what `lunatic` exits with). */
  readonly exitCode: 0 | 1;
}

const GREEN = 92;
const RED = 91;
const YELLOW = 93;

const NOTE_NO_PANIC = "note: test did not panic as expected\n";
const NOTE_TRAPPED = "note: Process trapped or received kill signal\n";
const NOTE_DEADLOCK = "note: deadlock: every process of this test is blocked and nothing " +
  "can wake one; its processes were killed\n";

/** The root config lunatic gives every test (spec §4.1): argv without argv[0]. */
export function testRootConfig(options: TestGuestOptions = {}): ProcessConfig {
  return new ProcessConfig({
    canCompileModules: true,
    canCreateConfigs: true,
    canSpawnProcesses: true,
    args: options.args ?? [],
    ...rootView(options),
    allowedNamespaces: options.allow ?? null,
    maxMemory: options.maxMemory,
  });
}

/** `--list --format terse`: one `<name>: test` line per selected test, in export order. */
export function listTests(module: LunaticModule, selection: TestSelection = {}): string[] {
  return selectTests(discoverTests(module.info.exports), selection).tests
    .map((test) => `${test.name}: test`);
}

/**
 * Runs the selected tests of `module` and prints the report; resolves once every test's root
 * process has ended. Throws a LunaticError when a test process cannot be created.
 */
export async function runTests(
  runtime: Runtime,
  module: LunaticModule,
  options: TestRunOptions = {},
): Promise<TestRunSummary> {
  const started = performance.now();
  const { tests, filteredOut } = selectTests(discoverTests(module.info.exports), options);
  const report = new Report(
    options.report ?? hostStdio().stdout,
    options.colour ?? (options.report === undefined && Deno.stdout.isTerminal()),
  );
  report.line(`\nrunning ${tests.length} ${tests.length === 1 ? "test" : "tests"}`);

  const results: TestResult[] = [];
  const record = (result: TestResult) => {
    results.push(result);
    report.status(result);
  };
  for (const test of tests) {
    if (test.ignored) {
      record({ name: test.name, shouldPanic: false, status: "ignored", output: "" });
    }
  }

  const lanes = options.lanes ?? [new InProcessLane(runtime, module, options)];
  const queue = tests.filter((test) => !test.ignored);
  try {
    await Promise.all(lanes.map(async (lane) => {
      for (let test = queue.shift(); test !== undefined; test = queue.shift()) {
        record(await lane.run(test));
      }
    }));
  } finally {
    // lunatic exits when the report is done, ending every process the tests left running.
    for (const lane of lanes) lane.close();
  }

  const summary = summarise(results, filteredOut);
  report.summary(summary, options.showOutput ?? false, performance.now() - started);
  return summary;
}

/** A lane on this thread: its tests run in `runtime`. */
export class InProcessLane implements TestLane {
  readonly #config: ProcessConfig;
  readonly #running = new Set<RunningTest>();

  constructor(
    readonly runtime: Runtime,
    readonly module: LunaticModule,
    readonly options: TestGuestOptions,
  ) {
    this.#config = testRootConfig(options);
  }

  async run(test: TestFunction): Promise<TestResult> {
    const running = new RunningTest(this.runtime, this.module, this.#config, test, this.options);
    this.#running.add(running);
    // When every process of the test is blocked on something the runtime cannot see (so its
    // deadlock detection did not end it) the event loop empties: fail the test rather than
    // let Deno exit mid-report.
    const onEmptyLoop = (event: Event) => {
      if (running.abort(NOTE_DEADLOCK)) event.preventDefault();
    };
    globalThis.addEventListener("beforeunload", onEmptyLoop);
    try {
      return await running.result();
    } finally {
      globalThis.removeEventListener("beforeunload", onEmptyLoop);
    }
  }

  close(): void {
    for (const test of this.#running) test.killAll("the test run ended");
    this.#running.clear();
  }
}

function summarise(results: TestResult[], filteredOut: number): TestRunSummary {
  const count = (status: TestResult["status"]) => results.filter((r) => r.status === status).length;
  const failed = count("failed");
  return {
    results,
    passed: count("ok"),
    failed,
    ignored: count("ignored"),
    filteredOut,
    exitCode: failed === 0 ? 0 : 1,
  };
}

/** One test's root process, its environment and its capture set. */
class RunningTest {
  readonly #test: TestFunction;
  readonly #environment: Environment;
  readonly #captures: CaptureSet;
  readonly #root: Process;
  readonly #nocapture: boolean;
  readonly #timer: ReturnType<typeof setTimeout> | undefined;
  /** Why the runner ended the test itself (time limit, deadlock), or null. */
  #abortNote: string | null = null;
  #ended = false;

  constructor(
    runtime: Runtime,
    module: LunaticModule,
    config: ProcessConfig,
    test: TestFunction,
    options: TestGuestOptions,
  ) {
    this.#test = test;
    this.#nocapture = options.nocapture ?? false;
    this.#environment = runtime.newEnvironment(0);
    this.#environment.onDeadlock = () => {
      if (this.#root.alive) this.abort(NOTE_DEADLOCK);
    };
    const echo = this.#nocapture ? options.report ?? hostStdio().stdout : null;
    this.#captures = new CaptureSet(echo, options.stdin ?? hostStdio().stdin);
    try {
      this.#root = runtime.spawn({
        environment: this.#environment,
        module,
        config,
        entry: test.exportName,
        args: [],
        stdio: this.#captures.newStdio(),
        root: true,
      });
    } catch (error) {
      if (!(error instanceof LunaticError)) throw error;
      throw new LunaticError(
        `Failed to spawn process from ${module.displayName}::${test.name}: ${error.message}`,
      );
    }
    const limit = options.timeLimitMs;
    if (limit !== undefined) {
      this.#timer = setTimeout(() => {
        this.abort(
          `note: test did not finish within the time limit of ${
            limit / 1000
          }s (--test-timeout); its processes were killed\n`,
        );
      }, limit);
    }
  }

  get ended(): boolean {
    return this.#ended;
  }

  /**
   * Fails the test with `note` and kills every process of its environment. Returns false
   * when the test had already ended or been aborted.
   */
  abort(note: string): boolean {
    if (this.#ended || this.#abortNote !== null) return false;
    this.#abortNote = note;
    this.killAll("killed by the test runner");
    return true;
  }

  killAll(reason: string): void {
    this.#root.kill(reason);
    for (const process of [...this.#environment.processes.values()]) process.kill(reason);
  }

  async result(): Promise<TestResult> {
    const outcome = await this.#root.exited;
    this.#ended = true;
    clearTimeout(this.#timer);
    const test = this.#test;
    const rootText = this.#captures.streams[0].text();
    const { passed, notes } = this.#abortNote !== null
      ? { passed: false, notes: [this.#abortNote] }
      : judge(test, outcome, rootText, this.#nocapture);
    return {
      name: test.name,
      shouldPanic: test.expectedPanic !== null,
      status: passed ? "ok" : "failed",
      output: this.#captures.render(notes.join(""), this.#nocapture),
    };
  }
}

/** The outcome rules of spec §7.3; `notes` are appended to the test's output. */
function judge(
  test: TestFunction,
  outcome: ProcessOutcome,
  rootText: string,
  nocapture: boolean,
): { passed: boolean; notes: string[] } {
  const expected = test.expectedPanic;
  if (outcome.kind === "normal") {
    return expected === null
      ? { passed: true, notes: [] }
      : { passed: false, notes: [NOTE_NO_PANIC] };
  }
  const panic = findPanicMessage(rootText);
  if (expected === null) {
    // lunatic adds no note under --nocapture (from when it did not capture output there).
    return { passed: false, notes: panic === null && !nocapture ? [NOTE_TRAPPED] : [] };
  }
  if (panic !== null) {
    if (panic.includes(expected)) return { passed: true, notes: [] };
    return {
      passed: false,
      notes: [
        "note: panic did not contain expected string\n" +
        `      panic message: \`"${panic}"\`,\n` +
        ` expected substring: \`"${expected}"\`\n`,
      ],
    };
  }
  if (expected === "") return { passed: true, notes: [] };
  return {
    passed: false,
    notes: [
      `note: Process received kill signal, but expected a panic that contains \`${expected}\`\n`,
    ],
  };
}

/** Rust before 1.73: `thread '<name>' panicked at 'msg', file:line:col` (lunatic's own regex). */
const PANIC_BEFORE_RUST_1_73 = /^thread '.*' panicked at '(.*)', /ms;
/**
 * Rust 1.73 and later: `thread '<name>' panicked at file:line:col:`, then the message lines;
 * from Rust 1.91 with the thread's ID: `thread '<name>' (<id>) panicked at ...`.
 */
const PANIC_SINCE_RUST_1_73 = /^thread '.*'(?: \(\d+\))? panicked at .*:\d+:\d+:\n/m;
/** What Rust's panic hook prints after the message. */
const AFTER_PANIC_MESSAGE = /\n(?:note: |stack backtrace:)/;

/** The message of the panic Rust's default hook printed into `text`, in either format. */
export function findPanicMessage(text: string): string | null {
  const before = PANIC_BEFORE_RUST_1_73.exec(text);
  if (before !== null) return before[1];
  const since = PANIC_SINCE_RUST_1_73.exec(text);
  if (since === null) return null;
  const rest = text.slice(since.index + since[0].length);
  const end = rest.search(AFTER_PANIC_MESSAGE);
  const message = end === -1 ? rest : rest.slice(0, end);
  return message.endsWith("\n") ? message.slice(0, -1) : message;
}

/** The captured streams of one test: the root's first, then one per process it spawned. */
class CaptureSet {
  readonly streams: CaptureSink[] = [];
  readonly #echo: OutputSink | null;
  readonly #stdin: InputSource;

  constructor(echo: OutputSink | null, stdin: InputSource) {
    this.#echo = echo;
    this.#stdin = stdin;
  }

  /** A new stream for stdout and stderr of one process; its children get further ones. */
  newStdio(): Stdio {
    const sink = new CaptureSink(this.#echo);
    this.streams.push(sink);
    return {
      stdin: this.#stdin,
      stdout: sink,
      stderr: sink,
      forChild: () => this.newStdio(),
    };
  }

  /**
   * The output as libtest shows it: verbatim when only the root wrote, otherwise every stream
   * that was written to under ` --- process <i> stdout ---`. `notes` end the root's stream.
   * Under --nocapture the output was shown live, so only the notes remain.
   */
  render(notes: string, nocapture: boolean): string {
    if (nocapture) return notes;
    const written = this.streams
      .map((sink, index) => ({ index, text: index === 0 ? sink.text() + notes : sink.text() }))
      .filter((stream) => stream.text !== "");
    if (written.length === 0) return "";
    if (written.length === 1 && written[0].index === 0) return written[0].text;
    return written.map(({ index, text }) =>
      ` --- process ${index} stdout ---\n${text.endsWith("\n") ? text : `${text}\n`}`
    ).join("");
  }
}

/** Writes the libtest-format report. */
class Report {
  readonly #sink: OutputSink;
  readonly #colour: boolean;
  readonly #encoder = new TextEncoder();

  constructor(sink: OutputSink, colour: boolean) {
    this.#sink = sink;
    this.#colour = colour;
  }

  write(text: string): void {
    this.#sink.write(this.#encoder.encode(text));
  }

  line(text: string): void {
    this.write(`${text}\n`);
  }

  #paint(code: number, text: string): string {
    return this.#colour ? `\x1b[${code}m${text}\x1b[0m` : text;
  }

  status(result: TestResult): void {
    const label = result.status === "ok"
      ? this.#paint(GREEN, "ok")
      : result.status === "failed"
      ? this.#paint(RED, "FAILED")
      : this.#paint(YELLOW, "ignored");
    const panics = result.shouldPanic ? " - should panic" : "";
    this.line(`test ${result.name}${panics} ... ${label}`);
  }

  summary(summary: TestRunSummary, showOutput: boolean, elapsedMs: number): void {
    const successes = summary.results.filter((r) => r.status === "ok");
    const failures = summary.results.filter((r) => r.status === "failed");
    if (showOutput) this.#section("successes", successes);
    if (failures.length > 0) this.#section("failures", failures);
    const verdict = summary.failed === 0 ? this.#paint(GREEN, "ok") : this.#paint(RED, "FAILED");
    this.line(
      `\ntest result: ${verdict}. ${summary.passed} passed; ${summary.failed} failed; ` +
        `${summary.ignored} ignored; 0 measured; ${summary.filteredOut} filtered out; ` +
        `finished in ${(elapsedMs / 1000).toFixed(2)}s\n`,
    );
  }

  /** `title:`, the output of each test that has some, then `title:` and the names. */
  #section(title: string, results: TestResult[]): void {
    this.line(`\n${title}:`);
    for (const result of results) {
      if (result.output === "") continue;
      this.line(`\n---- ${result.name} stdout ----`);
      this.write(result.output);
    }
    this.line(`\n${title}:`);
    for (const result of results) this.line(`    ${result.name}`);
  }
}
