/**
 * Hot code loading, Erlang's way but without patching anything live: a module loaded from a
 * path has a lineage of versions (1, 2, ...). Loading new bytes into it makes a new current
 * version; running processes keep theirs until they move to the new one themselves
 * (`lunatic::hot::upgrade`, host/hot.ts): their state travels as a message to a fresh instance
 * of the new version, which keeps the process's ID, mailbox, links, monitors, registry names
 * and config. At most two versions run at once: loading a third purges the oldest, killing
 * the processes still on it (`code purged`), as Erlang does.
 */
import { LunaticError } from "./errors.ts";
import { DataMessage } from "./message.ts";
import type { LunaticModule } from "./module.ts";
import type { Runtime } from "./runtime.ts";
import type { ProcessEndpoint } from "./environment.ts";

/** What the runtime needs of a wasm process here (runtime/process.ts). */
export interface Versioned extends ProcessEndpoint {
  module: LunaticModule;
  /** The export it started with, or moved to with its last upgrade. */
  entry: string;
  /** The tag of its subscription to new versions, or null. */
  hotSubscription: bigint | null;
}

/** The kill reason of a purged process. */
export const PURGED = "code purged";

export class ModuleLineage {
  readonly versions: LunaticModule[] = [];

  constructor(first: LunaticModule) {
    this.#add(first);
  }

  get current(): LunaticModule {
    return this.versions[this.versions.length - 1];
  }

  #add(module: LunaticModule): void {
    module.lineage = this;
    module.version = this.versions.length + 1;
    this.versions.push(module);
  }

  /** The newest version after `module`'s, or null. */
  newerThan(module: LunaticModule): LunaticModule | null {
    const current = this.current;
    return current.version > module.version ? current : null;
  }

  /** Processes of the runtime on a version of this lineage. */
  processes(runtime: Runtime): Versioned[] {
    const found: Versioned[] = [];
    for (const process of runtime.live) {
      const module = (process as Partial<Versioned>).module;
      if (module?.lineage === this) found.push(process as Versioned);
    }
    return found;
  }

  /**
   * Makes `module` (compiled from new bytes) the current version. Refused (a LunaticError
   * naming it) when it lacks an export a running process of the lineage started from, since
   * that process could not move to it. Processes on versions older than the previous current
   * one are killed (`code purged`) after `onPurge` is told of them; subscribers are sent the
   * new version number. Returns the new version.
   */
  addVersion(
    runtime: Runtime,
    module: LunaticModule,
    onPurge: (victims: Versioned[]) => void = () => {},
  ): number {
    if (this.versions.includes(module)) return module.version; // the same bytes again
    const running = this.processes(runtime);
    const exports = new Set(module.info.exports.map((entry) => entry.name));
    const missing = [...new Set(running.map((p) => p.entry))].filter((name) => !exports.has(name));
    if (missing.length > 0) {
      throw new LunaticError(
        `refused: the new version lacks ${missing.map((name) => `\`${name}\``).join(", ")}, ` +
          `which running processes started from`,
      );
    }
    const previous = this.current.version;
    this.#add(module);
    const victims = running.filter((p) => p.module.version < previous);
    if (victims.length > 0) {
      onPurge(victims);
      for (const victim of victims) victim.kill(PURGED);
    }
    for (const process of running) {
      if (process.hotSubscription === null || !process.alive) continue;
      const message = new DataMessage(process.hotSubscription, 8);
      const version = new Uint8Array(8);
      new DataView(version.buffer).setBigUint64(0, BigInt(module.version), true);
      message.write(version);
      process.deliver(message);
    }
    return module.version;
  }
}
