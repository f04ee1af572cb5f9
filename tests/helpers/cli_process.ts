/**
 * A long-running CLI subprocess (a control server, a node) whose output a test reads as it
 * comes: wait for a line to appear, read everything so far, stop it.
 */
import { fileURLToPath } from "node:url";
import { V8_FLAGS_ARGUMENT } from "../../runtime/v8_flags.ts";

const CLI = fileURLToPath(new URL("../../cli.ts", import.meta.url));

export class CliProcess {
  readonly #child: Deno.ChildProcess;
  #stdout = "";
  #stderr = "";
  #waiters: (() => void)[] = [];
  #ended = false;
  readonly done: Promise<Deno.CommandStatus>;

  /** `denoFlags` go to `deno run` before the script (`--unstable-net`, say). */
  constructor(args: string[], denoFlags: string[] = []) {
    this.#child = new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-all", ...denoFlags, V8_FLAGS_ARGUMENT, CLI, ...args],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const pump = async (stream: ReadableStream<Uint8Array>, append: (text: string) => void) => {
      for await (const text of stream.pipeThrough(new TextDecoderStream())) {
        append(text);
        for (const wake of this.#waiters.splice(0)) wake();
      }
    };
    const out = pump(this.#child.stdout, (text) => this.#stdout += text);
    const err = pump(this.#child.stderr, (text) => this.#stderr += text);
    this.done = Promise.all([out, err]).then(() => this.#child.status).finally(() => {
      this.#ended = true;
      for (const wake of this.#waiters.splice(0)) wake();
    });
  }

  get stdout(): string {
    return this.#stdout;
  }

  get stderr(): string {
    return this.#stderr;
  }

  /** Waits until stdout (or stderr) matches `pattern` (failing if the process ends first). */
  async waitFor(
    pattern: RegExp,
    stream: "stdout" | "stderr" = "stdout",
  ): Promise<RegExpMatchArray> {
    for (;;) {
      const match = (stream === "stdout" ? this.#stdout : this.#stderr).match(pattern);
      if (match !== null) return match;
      if (this.#ended) {
        throw new Error(
          `the process ended before printing ${pattern}:\n${this.#stdout}\n${this.#stderr}`,
        );
      }
      await new Promise<void>((resolve) => this.#waiters.push(resolve));
    }
  }

  /** Sends `signal` and waits for the end. */
  async stop(signal: Deno.Signal = "SIGTERM"): Promise<Deno.CommandStatus> {
    try {
      this.#child.kill(signal);
    } catch {
      // already ended
    }
    return await this.done;
  }
}
