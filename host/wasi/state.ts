/**
 * A process's WASI state: its fd table (standard streams, preopens, open files), its argv and
 * environment as NUL-terminated strings, and its start time. Created on the process's first
 * WASI call and disposed of (closing its files) when the process ends.
 */
import { resolve } from "node:path";
import type { ProcessConfig } from "../../runtime/config.ts";
import { LunaticError } from "../../runtime/errors.ts";
import type { DisposableHostState, HostContext } from "../../runtime/host_api.ts";
import { DirEntry, FdTable, StdioEntry } from "./fd_table.ts";

const WASI_STATE = Symbol("wasi_snapshot_preview1");

const encoder = new TextEncoder();

export class WasiState implements DisposableHostState {
  readonly fds = new FdTable();
  /** `performance.now()` when the state was made: the origin of the CPU-time clocks. */
  readonly createdAt = performance.now();
  readonly #config: ProcessConfig;
  #args: readonly Uint8Array[] | null = null;
  #environ: readonly Uint8Array[] | null = null;

  constructor(config: ProcessConfig) {
    this.#config = config;
    this.fds.add(new StdioEntry("stdin"));
    this.fds.add(new StdioEntry("stdout"));
    this.fds.add(new StdioEntry("stderr"));
    // Preopens take fds 3, 4, ... in config order; the guest sees each under its guest name.
    const roots = preopenRoots(config);
    config.preopenedDirs.forEach(({ guest }, i) => {
      this.fds.add(new DirEntry(roots[i], [], guest));
    });
  }

  /**
   * argv entries, each NUL-terminated: encoded when first asked for, once per config (children
   * spawned with their parent's config share it; the guest only ever reads them).
   */
  get args(): readonly Uint8Array[] {
    return this.#args ??= encodedOnce(
      argsByConfig,
      this.#config,
      (config) => config.args.map((arg) => encoder.encode(`${arg}\0`)),
    );
  }

  /** `KEY=VALUE` environment entries, each NUL-terminated (as `args`). */
  get environ(): readonly Uint8Array[] {
    return this.#environ ??= encodedOnce(
      environByConfig,
      this.#config,
      (config) => config.env.map(([key, value]) => encoder.encode(`${key}=${value}\0`)),
    );
  }

  dispose(): void {
    this.fds.closeAll();
  }
}

/** The calling process's WASI state, created on first use. */
export function wasiState(process: HostContext): WasiState {
  return process.hostState(WASI_STATE, () => new WasiState(process.config));
}

/**
 * The host directories behind a config's preopens, resolved once per config: processes spawned
 * with their parent's config share it, and each would otherwise pay a realpath per preopen.
 */
const rootsByConfig = new WeakMap<ProcessConfig, string[]>();
const argsByConfig = new WeakMap<ProcessConfig, Uint8Array[]>();
const environByConfig = new WeakMap<ProcessConfig, Uint8Array[]>();

function encodedOnce(
  cache: WeakMap<ProcessConfig, Uint8Array[]>,
  config: ProcessConfig,
  encode: (config: ProcessConfig) => Uint8Array[],
): Uint8Array[] {
  let entries = cache.get(config);
  if (entries === undefined) cache.set(config, entries = encode(config));
  return entries;
}

function preopenRoots(config: ProcessConfig): string[] {
  let roots = rootsByConfig.get(config);
  if (roots === undefined) {
    roots = config.preopenedDirs.map(({ host }) => hostDirectory(host));
    rootsByConfig.set(config, roots);
  }
  return roots;
}

/**
 * The host directory behind a preopen: the config string resolved against the runtime's CWD,
 * with symlinks resolved so the sandbox root is a real directory. If it vanished after the
 * spawn-time check, lookups under it simply fail with ENOENT.
 */
function hostDirectory(dir: string): string {
  try {
    return Deno.realPathSync(dir);
  } catch {
    return resolve(dir);
  }
}

/**
 * Spawn-time check (HostNamespace.prepare): every preopened directory must exist and be a
 * directory, otherwise the spawn is refused. (lunatic itself panics on a missing `--dir`.)
 */
export function checkPreopenedDirs(config: ProcessConfig): void {
  for (const { host: dir } of config.preopenedDirs) {
    let info: Deno.FileInfo;
    try {
      info = Deno.statSync(dir);
    } catch (error) {
      const reason = error instanceof Deno.errors.NotFound
        ? "does not exist"
        : `cannot be opened (${error instanceof Error ? error.message : String(error)})`;
      throw new LunaticError(`preopened directory "${dir}" ${reason}`);
    }
    if (!info.isDirectory) {
      throw new LunaticError(`preopened directory "${dir}" is not a directory`);
    }
  }
}
