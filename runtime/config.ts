/**
 * A process configuration: limits, permissions and the WASI view a process gets.
 * Configs are values: `spawn` snapshots a config, so later edits never reach running processes.
 */

import { hostEnvironment } from "./host_env.ts";

/** lunatic's default memory limit: u32::MAX bytes (just under 4 GiB, 65,535 pages). */
export const DEFAULT_MAX_MEMORY = 0xFFFF_FFFFn;

/** One wasm page. */
export const WASM_PAGE = 65_536;

/** A directory a process sees: the host directory, and the name the guest knows it by. */
export interface Preopen {
  readonly host: string;
  readonly guest: string;
}

/** A preopen, or a directory seen under the same name on both sides (lunatic's `--dir`). */
export type PreopenSpec = string | Preopen;

/** The preopen a spec names. */
export function toPreopen(spec: PreopenSpec): Preopen {
  return typeof spec === "string"
    ? { host: spec, guest: spec }
    : { host: spec.host, guest: spec.guest };
}

export interface ProcessConfigInit {
  maxMemory?: bigint;
  maxFuel?: bigint;
  canCompileModules?: boolean;
  canCreateConfigs?: boolean;
  canSpawnProcesses?: boolean;
  preopenedDirs?: PreopenSpec[];
  args?: string[];
  env?: [string, string][];
  allowedNamespaces?: string[] | null;
  namespaceCeiling?: string[][];
}

export class ProcessConfig {
  /** Maximum linear-memory size in bytes. */
  maxMemory: bigint;
  /** Fuel limit in units of 100,000 instructions; 0 means unlimited. */
  maxFuel: bigint;
  canCompileModules: boolean;
  canCreateConfigs: boolean;
  canSpawnProcesses: boolean;
  /** Preopened directories, in fd order (3, 4, ...). */
  preopenedDirs: Preopen[];
  /** The guest's argv (argv[0] included when the creator added one). */
  args: string[];
  env: [string, string][];
  /**
   * Allowed host namespaces as prefixes of `module::function`, or null for "everything"
   * (within {@link namespaceCeiling}).
   */
  allowedNamespaces: string[] | null;
  /**
   * The namespace lists of every config this one was derived from: a function must match
   * each of them too, so a config never allows more than its creator.
   */
  namespaceCeiling: string[][];

  constructor(init: ProcessConfigInit = {}) {
    this.maxMemory = init.maxMemory ?? DEFAULT_MAX_MEMORY;
    this.maxFuel = init.maxFuel ?? 0n;
    this.canCompileModules = init.canCompileModules ?? false;
    this.canCreateConfigs = init.canCreateConfigs ?? false;
    this.canSpawnProcesses = init.canSpawnProcesses ?? false;
    this.preopenedDirs = (init.preopenedDirs ?? []).map(toPreopen);
    this.args = [...(init.args ?? [])];
    this.env = (init.env ?? []).map(([k, v]) => [k, v]);
    this.allowedNamespaces = init.allowedNamespaces ? [...init.allowedNamespaces] : null;
    this.namespaceCeiling = (init.namespaceCeiling ?? []).map((list) => [...list]);
  }

  /**
   * A new config made by a process running with this one (`create_config`): lunatic's
   * defaults (no permissions, no args, env or preopens), but never more than this config
   * allows: the same memory and fuel limits and the same namespaces.
   */
  derive(): ProcessConfig {
    return new ProcessConfig({
      maxMemory: this.maxMemory,
      maxFuel: this.maxFuel,
      namespaceCeiling: this.allowedNamespaces === null
        ? this.namespaceCeiling
        : [...this.namespaceCeiling, this.allowedNamespaces],
    });
  }

  /** True when every namespace list in force is the "allow all" list. */
  get allowsEverything(): boolean {
    return this.allowedNamespaces === null && this.namespaceCeiling.length === 0;
  }

  /** The memory limit in whole wasm pages (at most 65,536). */
  get maxMemoryPages(): number {
    const pages = this.maxMemory / BigInt(WASM_PAGE);
    return pages > 65_536n ? 65_536 : Number(pages);
  }

  clone(): ProcessConfig {
    return new ProcessConfig(this);
  }

  /** True when `module::name` is inside this config's allowed namespaces. */
  allows(module: string, name: string): boolean {
    if (this.allowsEverything) return true;
    const full = `${module}::${name}`;
    const inList = (list: string[]) => list.some((prefix) => full.startsWith(prefix));
    return (this.allowedNamespaces === null || inList(this.allowedNamespaces)) &&
      this.namespaceCeiling.every(inList);
  }

  /** Adds an allowed namespace; the first one narrows "everything" to the listed ones. */
  allowNamespace(prefix: string): void {
    (this.allowedNamespaces ??= []).push(prefix);
  }
}

/** What a root process (`lunatic run`, a test) sees of the host. */
export interface GuestView {
  /** Environment variables; default the host's, as lunatic does (less what Deno adds: host_env.ts). */
  env?: Record<string, string>;
  /** Preopened directories besides `"."`; a string is seen under its own name. */
  dirs?: PreopenSpec[];
  /** Whether `"."` is preopened first (fd 3), as lunatic always does; default true. */
  defaultDir?: boolean;
}

/** The environment and preopens of a root config for `view`. */
export function rootView(view: GuestView): Pick<ProcessConfigInit, "env" | "preopenedDirs"> {
  return {
    env: Object.entries(view.env ?? hostEnvironment()),
    preopenedDirs: [...(view.defaultDir === false ? [] : ["."]), ...(view.dirs ?? [])],
  };
}
