/**
 * How many processes fit in this OS process (design notes: the platform's limits).
 *
 * Every process costs kernel memory maps (its wasm memory and, while suspended, a JSPI stack
 * with a guard page) and address space (V8 reserves a memory's whole declared maximum).
 * Linux allows `vm.max_map_count` maps (65530 by default) and 128 TiB of address space;
 * past either, V8 aborts instead of throwing. So the runtime counts what live processes hold,
 * refuses a spawn that would not fit with an error saying which limit and how to raise it,
 * and makes V8 collect ended processes early: their maps and reservations are only released
 * when their instances are garbage-collected.
 */
import v8 from "node:v8";
import vm from "node:vm";
import { LunaticError } from "./errors.ts";
import { WASM_PAGE } from "./config.ts";

/** Kernel maps a process holds at most: memory (with its guard) and a suspended stack. */
const MAPS_PER_PROCESS = 4;
/** JSPI stack reservation per suspended process (~1 MB plus a guard page). */
const STACK_BYTES = 1 << 20;
/** x86-64 user address space (47 bits). */
const ADDRESS_SPACE = 128 * 2 ** 40;
/** What the runtime leaves for V8's heap, code and everything else (the memory pool too). */
const ADDRESS_SPACE_RESERVE = 8 * 2 ** 40;
/** Maps left for V8, Deno and the host (and the pool of zeroed memories: at most 512). */
const MAP_RESERVE = 4096;

function readMaxMapCount(): number {
  try {
    const value = Number(Deno.readTextFileSync("/proc/sys/vm/max_map_count").trim());
    return Number.isFinite(value) && value > 0 ? value : 65_530;
  } catch {
    return 65_530;
  }
}

/** A synchronous full GC, when V8 lets us have one. */
function findGc(): (() => void) | null {
  try {
    v8.setFlagsFromString("--expose-gc");
    const gc = vm.runInNewContext("gc");
    return typeof gc === "function" ? gc as () => void : null;
  } catch {
    return null;
  }
}

/** The cost a process was charged, returned when it ends. */
export interface ProcessCharge {
  readonly maps: number;
  readonly bytes: number;
}

/** Overrides for the platform limits (tests, embedders that know better). */
export interface CapacityLimits {
  /** `vm.max_map_count`; read from /proc by default. */
  maxMapCount?: number;
  /** Maps kept free for V8 and the host (default 4096). */
  mapReserve?: number;
  /**
   * How many runtimes share this OS process's limits (the instances of `run --parallel`):
   * each gets an equal part of the maps and address space (default 1).
   */
  sharedBy?: number;
}

export class Capacity {
  readonly maxMapCount: number;
  readonly #mapBudget: number;
  readonly #byteBudget: number;
  /** The runtimes this OS process's limits are divided among. */
  readonly #sharedBy: number;
  readonly #gc = findGc();
  /** Held by live processes. */
  #liveMaps = 0;
  #liveBytes = 0;
  /** Held by ended processes whose instances may not be collected yet. */
  #deadMaps = 0;
  #deadBytes = 0;
  #collecting = false;
  /** One charge object per memory limit, shared by the processes with that limit. */
  readonly #charges = new Map<number, ProcessCharge>();

  constructor(limits: CapacityLimits = {}) {
    this.maxMapCount = limits.maxMapCount ?? readMaxMapCount();
    this.#sharedBy = Math.max(1, Math.floor(limits.sharedBy ?? 1));
    this.#mapBudget = Math.max(
      Math.floor((this.maxMapCount - (limits.mapReserve ?? MAP_RESERVE)) / this.#sharedBy),
      MAPS_PER_PROCESS,
    );
    this.#byteBudget = (ADDRESS_SPACE - ADDRESS_SPACE_RESERVE) / this.#sharedBy;
  }

  /**
   * Charges a new process with a memory of `maxPages` pages, or throws a LunaticError naming
   * the limit that stops it and how to raise it.
   */
  charge(maxPages: number): ProcessCharge {
    let charge = this.#charges.get(maxPages);
    if (charge === undefined) {
      charge = { maps: MAPS_PER_PROCESS, bytes: maxPages * WASM_PAGE + STACK_BYTES };
      this.#charges.set(maxPages, charge);
    }
    if (!this.#fits(charge)) {
      this.#collectNow();
      if (!this.#fits(charge)) this.#refuse(charge);
    }
    this.#liveMaps += charge.maps;
    this.#liveBytes += charge.bytes;
    return charge;
  }

  /** The process ended: what it held is released once V8 collects it. */
  release(charge: ProcessCharge): void {
    this.#liveMaps -= charge.maps;
    this.#liveBytes -= charge.bytes;
    this.#deadMaps += charge.maps;
    this.#deadBytes += charge.bytes;
    // V8 collects ended processes on its own schedule; force it only when what they may
    // still hold brings a limit within reach (a full GC costs milliseconds).
    if (
      this.#liveMaps + this.#deadMaps > this.#mapBudget * 0.75 ||
      this.#liveBytes + this.#deadBytes > this.#byteBudget * 0.75
    ) {
      this.#scheduleCollection();
    }
  }

  #fits(charge: ProcessCharge): boolean {
    return this.#liveMaps + this.#deadMaps + charge.maps <= this.#mapBudget &&
      this.#liveBytes + this.#deadBytes + charge.bytes <= this.#byteBudget;
  }

  #scheduleCollection(): void {
    if (this.#collecting) return;
    this.#collecting = true;
    setTimeout(() => {
      this.#collecting = false;
      this.#collectNow();
    }, 0);
  }

  #collectNow(): void {
    if (this.#gc === null) return;
    this.#gc();
    this.#deadMaps = 0;
    this.#deadBytes = 0;
  }

  /** How the limit is divided, for the error text. */
  #share(): string {
    return this.#sharedBy > 1 ? ` (divided among ${this.#sharedBy} instances)` : "";
  }

  #refuse(charge: ProcessCharge): never {
    const processes = this.#liveMaps / MAPS_PER_PROCESS;
    if (this.#liveMaps + charge.maps > this.#mapBudget) {
      throw new LunaticError(
        `too many processes: ${processes} are alive and each needs up to ${MAPS_PER_PROCESS} ` +
          `kernel memory maps, which vm.max_map_count=${this.maxMapCount}${this.#share()} ` +
          `does not allow; raise it (as root: sysctl -w vm.max_map_count=1048576)`,
      );
    }
    throw new LunaticError(
      `too many processes: ${processes} are alive and their memory limits reserve ` +
        `${Math.round(this.#liveBytes / 2 ** 40)} TiB of the 128 TiB address space` +
        `${this.#share()}; spawn ` +
        `processes with a smaller max memory (config_set_max_memory) to fit more`,
    );
  }
}
