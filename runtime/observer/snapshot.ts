/**
 * What the observer shows, read off the runtime when asked: the live processes, one process
 * in detail, the link and monitor graph, and message and spawn rates sampled every second.
 */
import type { ProcessEndpoint } from "../environment.ts";
import type { Runtime } from "../runtime.ts";

/** A process as the observer's table lists it. */
export interface ProcessRow {
  environment: number;
  id: number;
  module: string;
  /** The version of its module it runs (runtime/hot.ts); null for a native process. */
  version: number | null;
  state: string;
  mailbox: number;
  memory: number;
  fuel: number;
  uptimeMs: number;
  links: number;
  monitors: number;
}

/** What wasm and native processes have beyond ProcessEndpoint (read where present). */
interface Observable extends ProcessEndpoint {
  module?: { displayName: string; version: number };
  state?: string;
  queuedMessages?: number;
  memorySize?: number;
  fuelUsed?: number;
  startedAt?: number;
  links: Map<number, bigint> | null;
  monitors: Set<number> | null;
  config?: {
    maxMemory: bigint;
    maxFuel: bigint;
    canSpawnProcesses: boolean;
    canCompileModules: boolean;
    canCreateConfigs: boolean;
    allowedNamespaces: string[] | null;
  };
}

function row(process: Observable, now: number): ProcessRow {
  return {
    environment: process.environment.id,
    id: process.id,
    module: process.module?.displayName ?? "(native)",
    version: process.module?.version ?? null,
    state: process.state ?? "native",
    mailbox: process.queuedMessages ?? 0,
    memory: process.memorySize ?? 0,
    fuel: process.fuelUsed ?? 0,
    uptimeMs: now - (process.startedAt ?? now),
    links: process.links?.size ?? 0,
    monitors: process.monitors?.size ?? 0,
  };
}

export function processRows(runtime: Runtime): ProcessRow[] {
  const now = Date.now();
  return [...runtime.live].map((process) => row(process as Observable, now))
    .sort((a, b) => a.environment - b.environment || a.id - b.id);
}

export function findProcess(runtime: Runtime, environment: number, id: number): Observable | null {
  for (const process of runtime.live) {
    if (process.environment.id === environment && process.id === id) return process as Observable;
  }
  return null;
}

/** One process in detail: its row, links with their tags, monitors, config, names. */
export function processDetails(runtime: Runtime, process: Observable) {
  const names = [...process.environment.registry]
    .filter(([, entry]) => entry.processId === BigInt(process.id))
    .map(([name]) => name);
  const config = process.config;
  return {
    ...row(process, Date.now()),
    linked: [...(process.links ?? new Map()).entries()].map(([id, tag]) => ({
      id,
      tag: String(tag),
    })),
    monitoredBy: [...(process.monitors ?? new Set())],
    registeredAs: names,
    config: config === undefined ? null : {
      maxMemory: String(config.maxMemory),
      maxFuel: String(config.maxFuel),
      canSpawnProcesses: config.canSpawnProcesses,
      canCompileModules: config.canCompileModules,
      canCreateConfigs: config.canCreateConfigs,
      allow: config.allowedNamespaces,
    },
    node: String(runtime.node?.nodeId ?? 0n),
  };
}

/** The link and monitor graph: a node per process, an edge per link (once) and monitor. */
export function graph(runtime: Runtime) {
  const nodes: { key: string; environment: number; id: number }[] = [];
  const edges: { from: string; to: string; kind: "link" | "monitor" }[] = [];
  for (const endpoint of runtime.live) {
    const process = endpoint as Observable;
    const key = `${process.environment.id}/${process.id}`;
    nodes.push({ key, environment: process.environment.id, id: process.id });
    for (const other of process.links?.keys() ?? []) {
      if (other > process.id || process.environment.get(other) === undefined) {
        edges.push({ from: key, to: `${process.environment.id}/${other}`, kind: "link" });
      }
    }
    for (const watcher of process.monitors ?? []) {
      edges.push({ from: `${process.environment.id}/${watcher}`, to: key, kind: "monitor" });
    }
  }
  return { nodes, edges };
}

/** Messages and spawns per second, for the last {@link Rates.WINDOW} seconds. */
export class Rates {
  static readonly WINDOW = 120;
  readonly messages: number[] = [];
  readonly spawns: number[] = [];
  #lastMessages: number;
  #lastSpawns: number;
  readonly #timer: ReturnType<typeof setInterval>;

  constructor(readonly runtime: Runtime, intervalMs = 1_000) {
    this.#lastMessages = runtime.stats.messagesSent;
    this.#lastSpawns = runtime.stats.spawnedTotal;
    this.#timer = setInterval(() => this.sample(intervalMs), intervalMs);
    Deno.unrefTimer(Number(this.#timer));
  }

  /** Takes one sample (the timer does, every interval). */
  sample(intervalMs: number): void {
    const { messagesSent, spawnedTotal } = this.runtime.stats;
    const push = (series: number[], value: number) => {
      series.push(Math.round(value * 1000 / intervalMs));
      if (series.length > Rates.WINDOW) series.shift();
    };
    push(this.messages, messagesSent - this.#lastMessages);
    push(this.spawns, spawnedTotal - this.#lastSpawns);
    this.#lastMessages = messagesSent;
    this.#lastSpawns = spawnedTotal;
  }

  stop(): void {
    clearInterval(this.#timer);
  }
}
