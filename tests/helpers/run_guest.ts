/**
 * Runs a guest module as a root process with captured output, for tests.
 */
import { fileURLToPath as fromFileUrl } from "node:url";
import { BufferInput, CaptureSink, EMPTY_INPUT, Lunatic, type RootOptions } from "../../lunatic.ts";
import type { ProcessOutcome } from "../../runtime/process.ts";
import { V8_FLAGS_ARGUMENT } from "../../runtime/v8_flags.ts";

/** Absolute path of a built test guest: `tests/guests/build/<name>.wasm`. */
export function guestPath(name: string): string {
  return fromFileUrl(new URL(`../guests/build/${name}.wasm`, import.meta.url));
}

/** Absolute path of a committed example: `examples/<name>.wasm`. */
export function examplePath(name: string): string {
  return fromFileUrl(new URL(`../../examples/${name}.wasm`, import.meta.url));
}

export interface GuestResult {
  outcome: ProcessOutcome;
  exitCode: number;
  stdout: string;
  stderr: string;
  /**
   * The runtime's reports of failed processes, when the run made its own runtime (with
   * `options.lunatic`, they go wherever that runtime sends them).
   */
  failureReports: string[];
}

/**
 * A runtime whose failure reports are kept in `reports` instead of going to the log: tests
 * that make processes fail on purpose keep the test output quiet, and can check them.
 */
export function quietLunatic(reports: string[] = []): Lunatic {
  return new Lunatic({ failureReports: (report) => reports.push(report) });
}

export interface GuestOptions extends Omit<RootOptions, "stdio"> {
  stdin?: string;
  /** Use this runtime instead of a fresh one. */
  lunatic?: Lunatic;
}

/**
 * Runs `path` (a test guest name or a path ending in `.wasm`) to the end of its root process.
 * Children share the root's captured streams.
 */
export async function runGuest(path: string, options: GuestOptions = {}): Promise<GuestResult> {
  const failureReports: string[] = [];
  const lunatic = options.lunatic ?? quietLunatic(failureReports);
  const stdout = new CaptureSink();
  const stderr = new CaptureSink();
  const stdin = options.stdin === undefined ? EMPTY_INPUT : new BufferInput(options.stdin);
  const file = path.endsWith(".wasm") ? path : guestPath(path);
  const result = await lunatic.run(file, { ...options, stdio: { stdin, stdout, stderr } });
  lunatic.runtime.failures.flush();
  return { ...result, stdout: stdout.text(), stderr: stderr.text(), failureReports };
}

/** A {@link runGuest} result with how every process ended. */
export interface RecordedRun extends GuestResult {
  /** How every process ended, by PID. */
  exits: Map<number, ProcessOutcome>;
}

/**
 * Runs `path` like {@link runGuest} and records every process's end in `exits`, on a fresh
 * runtime unless `options.lunatic` gives one.
 */
export async function runRecorded(path: string, options: GuestOptions = {}): Promise<RecordedRun> {
  const failureReports: string[] = [];
  const lunatic = options.lunatic ?? quietLunatic(failureReports);
  const exits = new Map<number, ProcessOutcome>();
  lunatic.runtime.onProcessExit((process, outcome) => exits.set(process.id, outcome));
  const result = await runGuest(path, { ...options, lunatic });
  return { ...result, exits, failureReports };
}

/** The failure reason of an outcome, "(normal)", or "(running)" when it has not ended. */
export function reasonOf(outcome: ProcessOutcome | undefined): string {
  if (outcome === undefined) return "(running)";
  return outcome.kind === "normal" ? "(normal)" : outcome.reason;
}

/** The non-empty lines of `stdout` that start with `prefix` (kept in the line), in order. */
export function outputLines(stdout: string, prefix = ""): string[] {
  return stdout.split("\n").filter((line) => line !== "" && line.startsWith(prefix));
}

export interface CliOptions {
  /** Variables for the CLI's process: added to this one's, or all it has with `clearEnv`. */
  env?: Record<string, string>;
  clearEnv?: boolean;
  stdin?: string;
  cwd?: string;
  /** Flags for `deno run` itself, e.g. `--deny-ffi`. */
  denoFlags?: string[];
}

/** Runs the CLI in a subprocess, as `deno task run` does, and returns its exit code and output. */
export async function runCli(
  args: string[],
  options: CliOptions = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const cli = fromFileUrl(new URL("../../cli.ts", import.meta.url));
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", ...(options.denoFlags ?? []), V8_FLAGS_ARGUMENT, cli, ...args],
    env: options.env,
    clearEnv: options.clearEnv,
    cwd: options.cwd,
    stdin: options.stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (options.stdin !== undefined) {
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(options.stdin));
    await writer.close();
  }
  const output = await child.output();
  const decoder = new TextDecoder();
  return {
    code: output.code,
    stdout: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr),
  };
}

/** A CLI subprocess serving on loopback: the port it printed, and how to stop it. */
export interface CliServer {
  port: number;
  /** Kills the server and returns what it wrote to stderr. */
  stop(): Promise<string>;
}

/**
 * Starts the CLI with `args` (`denoFlags` go to `deno run`) and waits for its stdout to match
 * `listening` (whose first group is the port), as a user would wait for a server to say where
 * it listens.
 */
export async function startCliServer(
  args: string[],
  listening: RegExp,
  denoFlags: string[] = [],
): Promise<CliServer> {
  const cli = fromFileUrl(new URL("../../cli.ts", import.meta.url));
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", ...denoFlags, V8_FLAGS_ARGUMENT, cli, ...args],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stderr = new Response(child.stderr).text();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let stdout = "";
  let port = 0;
  while (port === 0) {
    const { value, done } = await reader.read();
    if (done) {
      await child.status;
      throw new Error(`the server exited before listening: ${stdout}${await stderr}`);
    }
    stdout += value;
    const match = stdout.match(listening);
    if (match) port = Number(match[1]);
  }
  // Keep draining stdout so that the server never blocks on a full pipe.
  const drained = (async () => {
    while (!(await reader.read()).done) { /* discard */ }
  })();
  return {
    port,
    async stop() {
      child.kill("SIGTERM");
      await child.status;
      await drained;
      return await stderr;
    },
  };
}
