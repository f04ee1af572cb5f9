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
  /** argv entries, each NUL-terminated. */
  readonly args: readonly Uint8Array[];
  /** `KEY=VALUE` environment entries, each NUL-terminated. */
  readonly environ: readonly Uint8Array[];

  constructor(config: ProcessConfig) {
    this.args = config.args.map((arg) => encoder.encode(`${arg}\0`));
    this.environ = config.env.map(([key, value]) => encoder.encode(`${key}=${value}\0`));
    this.fds.add(new StdioEntry("stdin"));
    this.fds.add(new StdioEntry("stdout"));
    this.fds.add(new StdioEntry("stderr"));
    // Preopens take fds 3, 4, ... in config order; the guest sees each under its guest name.
    for (const { host, guest } of config.preopenedDirs) {
      this.fds.add(new DirEntry(hostDirectory(host), [], guest));
    }
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
