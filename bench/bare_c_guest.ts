/**
 * Bare V8 running a real C guest (wasi-libc) of the lunatic ABI, as `bench/bare_v8.ts` does for
 * the hand-written ones: `examples/ring.wasm` with the least JavaScript that runs it. Each
 * process is a `WebAssembly.Instance` of the uninstrumented module with its own memory, its
 * export run through `WebAssembly.promising`; the imports (shared by all instances) do only
 * what the ring needs: the message calls (a mailbox, selective receive by tag through a
 * `Suspending` import), spawn, process_id, and the WASI calls wasi-libc makes (arguments,
 * stdout, exit). No preemption, no limits, no links, no bookkeeping: the floor for this guest
 * on this platform. It is kept as lean as the runtime on what V8 charges for: message bytes go
 * into pieces of a shared slab (a fresh ArrayBuffer per message is a malloc and a free, which
 * were a third of its time), memory views are made again only after a grow (not from
 * `memory.buffer` on every call), and a one-tag receive allocates nothing.
 */
import { fileURLToPath } from "node:url";
import { hostEnvironment } from "../runtime/host_env.ts";
import { promising, Suspending } from "../runtime/jspi.ts";

interface Message {
  tag: bigint;
  data: Uint8Array;
  /** The receive status: 0 data, 2 ProcessDied. */
  status?: number;
}

/** Whether a receive for `tags` (null: any; one tag; several) takes a message with `tag`. */
function matches(tags: bigint[] | bigint | null, tag: bigint): boolean {
  if (tags === null) return true;
  if (typeof tags === "bigint") return tags === tag;
  return tags.includes(tag);
}

class BareProcess {
  readonly mailbox: Message[] = [];
  waiting: { tags: bigint[] | bigint | null; resolve: (status: number) => void } | null = null;
  scratch: Message | null = null;
  cursor = 0;
  /** The status the receive that `deliver` satisfied returns. */
  status = 0;
  /** Settles when its export returns. */
  done: Promise<unknown> = Promise.resolve();
  /** Processes monitoring it. */
  readonly watchers: BareProcess[] = [];
  /** The message being written: its tag, and its bytes so far in `staging`. */
  outgoingTag: bigint | null = null;
  outgoingSize = 0;
  staging = new Uint8Array(64);
  memory!: WebAssembly.Memory;
  #buffer: ArrayBuffer | null = null;
  #bytes = new Uint8Array(0);
  #view = new DataView(new ArrayBuffer(0));

  constructor(readonly id: number) {}

  /** Views of its memory, made again only when it grew (a grow detaches the old buffer). */
  bytes(): Uint8Array {
    this.#refresh();
    return this.#bytes;
  }

  view(): DataView {
    this.#refresh();
    return this.#view;
  }

  #refresh(): void {
    // A grow detaches the old buffer (its views read 0 bytes); reading `memory.buffer` on
    // every call would cost more than the call.
    if (this.#bytes.byteLength === 0) {
      this.#buffer = this.memory.buffer as ArrayBuffer;
      this.#bytes = new Uint8Array(this.#buffer);
      this.#view = new DataView(this.#buffer);
    }
  }

  /** Puts `message` in the mailbox, or hands it to a receive waiting for it (then ready). */
  deliver(message: Message, ready: BareProcess[]): void {
    const waiting = this.waiting;
    if (waiting !== null && matches(waiting.tags, message.tag)) {
      this.scratch = message;
      this.cursor = 0;
      this.status = message.status ?? 0;
      ready.push(this);
    } else {
      this.mailbox.push(message);
    }
  }
}

/**
 * Message bytes are copied out of the sender's memory into pieces of a shared slab (a fresh
 * ArrayBuffer per message would be a malloc and a free each: a third of the time).
 */
const SLAB_SIZE = 1 << 20;
let slab = new Uint8Array(SLAB_SIZE);
let slabUsed = 0;
function copyOut(memory: Uint8Array, ptr: number, len: number): Uint8Array {
  if (len > SLAB_SIZE / 16) return memory.slice(ptr, ptr + len);
  if (slabUsed + len > SLAB_SIZE) {
    slab = new Uint8Array(SLAB_SIZE);
    slabUsed = 0;
  }
  const piece = slab.subarray(slabUsed, slabUsed + len);
  if (len <= 16) { for (let i = 0; i < len; i++) piece[i] = memory[ptr + i]; }
  else piece.set(memory.subarray(ptr, ptr + len));
  slabUsed += (len + 7) & ~7;
  return piece;
}

/**
 * Runs `module` as `argv`, spawning what it spawns; resolves when the root ends. The imports
 * are one set of functions shared by every instance (as the runtime's host functions are: an
 * instance's own closures would each need import wrappers of their own); they act on
 * `current`, the process whose code is running. So that `current` is always right, one process
 * runs at a time: a message only marks its receiver ready, and the next ready one is resumed
 * when the running one suspends or ends (the least scheduler there can be).
 */
export async function runBare(
  bytes: Uint8Array,
  argv: string[],
  env: Record<string, string> = {},
): Promise<{ output: string }> {
  const module = new WebAssembly.Module(bytes as Uint8Array<ArrayBuffer>);
  const processes = new Map<number, BareProcess>();
  let nextId = 1;
  let output = "";
  const encoder = new TextEncoder();
  const decoder = new TextDecoder();
  const argBytes = argv.map((arg) => encoder.encode(`${arg}\0`));
  const envBytes = Object.entries(env).map(([k, v]) => encoder.encode(`${k}=${v}\0`));
  let current!: BareProcess;
  const ready: BareProcess[] = [];
  let spawning = 0;
  /** The running process stopped (suspended or ended): resume the next ready one. */
  const resumeNext = () => {
    if (spawning > 0) return; // the spawner is still running
    const next = ready.shift();
    if (next === undefined) return;
    current = next;
    const waiting = next.waiting!;
    next.waiting = null;
    waiting.resolve(next.status);
  };
  const u8 = () => current.bytes();
  const view = () => current.view();

  const imports = {
    "lunatic::message": {
      create_data: (tag: bigint, _capacity: bigint) => {
        current.outgoingTag = tag;
        current.outgoingSize = 0;
      },
      write_data: (ptr: number, len: number) => {
        const process = current;
        const size = process.outgoingSize;
        if (size + len > process.staging.length) {
          const grown = new Uint8Array(Math.max(2 * process.staging.length, size + len));
          grown.set(process.staging.subarray(0, size));
          process.staging = grown;
        }
        const memory = u8();
        const staging = process.staging;
        if (len <= 16) { for (let i = 0; i < len; i++) staging[size + i] = memory[ptr + i]; }
        else staging.set(memory.subarray(ptr, ptr + len), size);
        process.outgoingSize = size + len;
        return len;
      },
      read_data: (ptr: number, len: number) => {
        const process = current;
        const data = process.scratch!.data;
        const n = Math.min(len, data.length - process.cursor);
        u8().set(data.subarray(process.cursor, process.cursor + n), ptr);
        process.cursor += n;
        return n;
      },
      send: (to: bigint) => {
        const process = current;
        const tag = process.outgoingTag!;
        process.outgoingTag = null;
        const data = copyOut(process.staging, 0, process.outgoingSize);
        processes.get(Number(to))?.deliver({ tag, data }, ready);
      },
      receive: new Suspending((tagsPtr: number, tagsLen: number, _timeout: bigint) => {
        const process = current;
        let tags: bigint[] | bigint | null = null;
        if (tagsLen === 1) tags = view().getBigInt64(tagsPtr, true);
        else if (tagsLen > 1) {
          tags = [];
          for (let i = 0; i < tagsLen; i++) tags.push(view().getBigInt64(tagsPtr + i * 8, true));
        }
        const mailbox = process.mailbox;
        let index = -1;
        for (let i = 0; i < mailbox.length; i++) {
          if (matches(tags, mailbox[i].tag)) {
            index = i;
            break;
          }
        }
        if (index !== -1) {
          process.scratch = process.mailbox.splice(index, 1)[0];
          process.cursor = 0;
          return process.scratch.status ?? 0;
        }
        const resumed = new Promise<number>((resolve) => process.waiting = { tags, resolve });
        resumeNext();
        return resumed;
      }),
    },
    "lunatic::process": {
      process_id: () => BigInt(current.id),
      monitor: (id: bigint) => {
        const target = processes.get(Number(id));
        if (target !== undefined) target.watchers.push(current);
        else current.deliver({ tag: 0n, data: new Uint8Array(), status: 2 }, ready);
      },
      spawn: (
        _link: bigint,
        _config: bigint,
        _module: bigint,
        funcPtr: number,
        funcLen: number,
        paramsPtr: number,
        paramsLen: number,
        idPtr: number,
      ) => {
        const parent = current;
        const name = decoder.decode(u8().slice(funcPtr, funcPtr + funcLen));
        const params: (number | bigint)[] = [];
        for (let at = paramsPtr; at < paramsPtr + paramsLen; at += 17) {
          params.push(
            u8()[at] === 0x7f ? view().getInt32(at + 1, true) : view().getBigInt64(at + 1, true),
          );
        }
        spawning++;
        const child = start(name, params);
        spawning--;
        current = parent;
        view().setBigUint64(idPtr, BigInt(child.id), true);
        return 0;
      },
    },
    "lunatic::error": {
      string_size: () => 0,
      drop: () => {},
      to_string: () => {},
    },
    wasi_snapshot_preview1: {
      args_sizes_get: (countPtr: number, sizePtr: number) => {
        view().setUint32(countPtr, argBytes.length, true);
        view().setUint32(sizePtr, argBytes.reduce((sum, arg) => sum + arg.length, 0), true);
        return 0;
      },
      args_get: (argvPtr: number, bufPtr: number) => {
        let at = bufPtr;
        argBytes.forEach((arg, i) => {
          view().setUint32(argvPtr + i * 4, at, true);
          u8().set(arg, at);
          at += arg.length;
        });
        return 0;
      },
      fd_write: (_fd: number, iovs: number, count: number, writtenPtr: number) => {
        let written = 0;
        for (let i = 0; i < count; i++) {
          const ptr = view().getUint32(iovs + i * 8, true);
          const len = view().getUint32(iovs + i * 8 + 4, true);
          output += decoder.decode(u8().slice(ptr, ptr + len));
          written += len;
        }
        view().setUint32(writtenPtr, written, true);
        return 0;
      },
      environ_sizes_get: (countPtr: number, sizePtr: number) => {
        view().setUint32(countPtr, envBytes.length, true);
        view().setUint32(sizePtr, envBytes.reduce((sum, entry) => sum + entry.length, 0), true);
        return 0;
      },
      environ_get: (environPtr: number, bufPtr: number) => {
        let at = bufPtr;
        envBytes.forEach((entry, i) => {
          view().setUint32(environPtr + i * 4, at, true);
          u8().set(entry, at);
          at += entry.length;
        });
        return 0;
      },
      clock_time_get: (_id: number, _precision: bigint, out: number) => {
        view().setBigUint64(out, BigInt(Math.round(performance.now() * 1e6)), true);
        return 0;
      },
      fd_close: () => 0,
      fd_fdstat_get: (_fd: number, ptr: number) => {
        u8().fill(0, ptr, ptr + 24);
        u8()[ptr] = 2; // character device
        return 0;
      },
      fd_seek: () => 70, // ESPIPE
      proc_exit: (code: number) => {
        throw new Error(`proc_exit(${code})`);
      },
    },
  } as unknown as WebAssembly.Imports;

  const start = (entry: string, args: (number | bigint)[]): BareProcess => {
    const process = new BareProcess(nextId++);
    processes.set(process.id, process);
    const instance = new WebAssembly.Instance(module, imports);
    process.memory = instance.exports.memory as WebAssembly.Memory;
    const run = promising(instance.exports[entry] as (...args: unknown[]) => unknown);
    current = process;
    process.done = run(...args).finally(() => {
      processes.delete(process.id);
      for (const watcher of process.watchers) {
        watcher.deliver({ tag: 0n, data: new Uint8Array(), status: 2 }, ready);
      }
      resumeNext();
    });
    return process;
  };

  const root = start("_start", []);
  // The root's end is the program's (processes it leaves waiting are dropped with it).
  await root.done;
  return { output };
}

/** `examples/ring.wasm N M` in bare V8: nanoseconds per message of the whole run. */
export async function bareCRing(n: number, m: number): Promise<Record<string, unknown>> {
  const bytes = Deno.readFileSync(fileURLToPath(new URL("../examples/ring.wasm", import.meta.url)));
  await runBare(bytes, ["ring.wasm", "100", "100"]); // warm up
  const started = performance.now();
  const { output } = await runBare(bytes, ["ring.wasm", String(n), String(m)]);
  const ms = performance.now() - started;
  if (!output.includes(`${n * m} messages`)) throw new Error(`bare ring: ${output}`);
  return { processes: n, rounds: m, messages: n * m, ns_per_message: ms * 1e6 / (n * m) };
}

/**
 * `bench_live_spawn.wasm N` in bare V8: the time until N spawned processes all wait in
 * receive, per process (each child runs to its receive as it is spawned).
 */
export async function bareCLiveSpawn(n: number): Promise<Record<string, unknown>> {
  const bytes = Deno.readFileSync(
    fileURLToPath(new URL("../tests/guests/build/bench_live_spawn.wasm", import.meta.url)),
  );
  await runBare(bytes, ["bench_live_spawn.wasm", "1000"]); // warm up
  const started = performance.now();
  const { output } = await runBare(bytes, ["bench_live_spawn.wasm", String(n)]);
  const ms = performance.now() - started;
  if (!output.startsWith(`spawned ${n}`)) throw new Error(`bare live spawn: ${output}`);
  return { processes: n, ns_per_process: ms * 1e6 / n };
}

/**
 * bench/guests/rust_spawn.rs in bare V8: N processes spawned one after another, each running
 * to its end (the guest waits for it), per process.
 */
export async function bareRustSpawn(
  bytes: Uint8Array,
  n: number,
): Promise<Record<string, unknown>> {
  // The environment the runtime's processes get (the host's), so that both read the same.
  const env = hostEnvironment();
  await runBare(bytes, ["rust_spawn.wasm", "100"], env); // warm up
  const { output } = await runBare(bytes, ["rust_spawn.wasm", String(n)], env);
  const ns = Number(output.match(/spawned \d+ in (\d+) ns/)?.[1]);
  if (!Number.isFinite(ns)) throw new Error(`bare rust spawn: ${output}`);
  return { processes: n, ns_per_process: ns / n };
}
