/**
 * Standard streams as the runtime hands them to processes. Processes share the host's streams
 * by default; test mode gives each test its own captured streams.
 */

/** A synchronous byte sink (stdout, stderr, a capture buffer). */
export interface OutputSink {
  write(bytes: Uint8Array): void;
}

/** An asynchronous byte source; `null` means end of input. */
export interface InputSource {
  read(max: number): Promise<Uint8Array | null>;
}

export interface Stdio {
  stdin: InputSource;
  stdout: OutputSink;
  stderr: OutputSink;
  /**
   * The streams a process spawned by this one gets. Absent: the child shares these. Test mode
   * uses it to give every child its own captured stream in the test's capture set.
   */
  forChild?(): Stdio;
}

/** The streams for a child of a process that has `stdio`. */
export function childStdio(stdio: Stdio): Stdio {
  return stdio.forChild?.() ?? stdio;
}

/** Writes every byte, looping over partial writes. */
export function writeAllSync(target: { writeSync(p: Uint8Array): number }, bytes: Uint8Array) {
  let offset = 0;
  while (offset < bytes.byteLength) {
    offset += target.writeSync(bytes.subarray(offset));
  }
}

class HostOutput implements OutputSink {
  constructor(private readonly target: { writeSync(p: Uint8Array): number }) {}
  write(bytes: Uint8Array): void {
    writeAllSync(this.target, bytes);
  }
}

/**
 * The host's stdin, shared by every process: reads are serialised so two processes never
 * interleave within one read, and bytes read past what a caller asked for are kept for the next.
 */
class HostInput implements InputSource {
  #tail: Promise<unknown> = Promise.resolve();
  #pending: Uint8Array | null = null;

  read(max: number): Promise<Uint8Array | null> {
    const result = this.#tail.then(() => this.#readNow(max));
    this.#tail = result.catch(() => {});
    return result;
  }

  async #readNow(max: number): Promise<Uint8Array | null> {
    if (max === 0) return new Uint8Array(0);
    if (this.#pending === null) {
      const buffer = new Uint8Array(Math.max(max, 4096));
      const n = await Deno.stdin.read(buffer);
      if (n === null) return null;
      this.#pending = buffer.subarray(0, n);
    }
    const chunk = this.#pending.subarray(0, max);
    const rest = this.#pending.subarray(chunk.byteLength);
    this.#pending = rest.byteLength > 0 ? rest : null;
    return chunk;
  }
}

let sharedHostStdio: Stdio | null = null;

/** The runtime's own stdin, stdout and stderr. */
export function hostStdio(): Stdio {
  sharedHostStdio ??= {
    stdin: new HostInput(),
    stdout: new HostOutput(Deno.stdout),
    stderr: new HostOutput(Deno.stderr),
  };
  return sharedHostStdio;
}

/** Collects output in memory (used for tests and captured processes). */
export class CaptureSink implements OutputSink {
  #chunks: Uint8Array[] = [];
  #echo: OutputSink | null;

  constructor(echo: OutputSink | null = null) {
    this.#echo = echo;
  }

  write(bytes: Uint8Array): void {
    this.#chunks.push(bytes.slice());
    this.#echo?.write(bytes);
  }

  bytes(): Uint8Array {
    const total = this.#chunks.reduce((n, c) => n + c.byteLength, 0);
    const out = new Uint8Array(total);
    let offset = 0;
    for (const chunk of this.#chunks) {
      out.set(chunk, offset);
      offset += chunk.byteLength;
    }
    return out;
  }

  text(): string {
    return new TextDecoder().decode(this.bytes());
  }
}

/** An input that is always at end of file. */
export const EMPTY_INPUT: InputSource = { read: () => Promise.resolve(null) };

/** An input that yields the given bytes, then end of file. */
export class BufferInput implements InputSource {
  #data: Uint8Array;
  constructor(data: Uint8Array | string) {
    this.#data = typeof data === "string" ? new TextEncoder().encode(data) : data;
  }
  read(max: number): Promise<Uint8Array | null> {
    if (this.#data.byteLength === 0) return Promise.resolve(max === 0 ? new Uint8Array(0) : null);
    const chunk = this.#data.subarray(0, max);
    this.#data = this.#data.subarray(chunk.byteLength);
    return Promise.resolve(chunk);
  }
}
