import type { Process } from "./process.ts";

/** A registry entry: where a named process lives. */
export interface RegistryEntry {
  nodeId: bigint;
  processId: bigint;
}

/**
 * A namespace of processes (spec §2.1): its own process-ID counter (from 1, never reused),
 * the live processes, and the registry of names that its processes share.
 */
export class Environment {
  #nextProcessId = 1;
  readonly processes = new Map<number, Process>();
  readonly registry = new Map<string, RegistryEntry>();

  constructor(readonly id: number) {}

  /** Takes the next process ID. A spawn that fails after this still consumes it. */
  allocateProcessId(): number {
    return this.#nextProcessId++;
  }

  get(processId: bigint | number): Process | undefined {
    return this.processes.get(typeof processId === "number" ? processId : toPid(processId));
  }

  /** Number of processes alive in this environment. */
  get size(): number {
    return this.processes.size;
  }
}

function toPid(id: bigint): number {
  return id > 0n && id <= MAX_SAFE_ID ? Number(id) : -1;
}

const MAX_SAFE_ID = BigInt(Number.MAX_SAFE_INTEGER);
