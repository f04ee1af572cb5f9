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

/** A guest's u64 process ID as a number, or -1 for one no process can have. */
function toPid(id: bigint): number {
  // One conversion instead of BigInt comparisons; past 2^53 it rounds, but stays unsafe.
  const pid = Number(id);
  return pid > 0 && pid <= Number.MAX_SAFE_INTEGER ? pid : -1;
}
