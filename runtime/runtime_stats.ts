/**
 * The runtime's own metrics, after lunatic's `lunatic.process.*` ones: processes alive and
 * spawned by environment (and, for modules loaded from a path, by the version they run), messages sent and waiting, memory and fuel used, failures and
 * failed spawns by reason. Counting happens as things happen (a few increments); the rest is
 * read off the live processes when metrics are scraped.
 */
import type { ProcessEndpoint } from "./environment.ts";
import { MetricsRegistry } from "./metrics.ts";
import type { ProcessOutcome } from "./process.ts";

/** A failure's reason without the numbers that would make a series per process. */
export function reasonClass(reason: string): string {
  return reason.split("\n")[0].replace(/\d+/g, "N").slice(0, 120);
}

/** What wasm processes tell beyond {@link ProcessEndpoint}. */
interface Measured {
  module?: { displayName: string; version: number; lineage: object | null };
  queuedMessages?: number;
  memorySize?: number;
  fuelUsed?: number;
}

export class RuntimeStats {
  /** Local messages sent (lunatic::message::send and request/reply). */
  messagesSent = 0;
  readonly #spawned = new Map<number, number>();
  readonly #failures = new Map<string, number>();
  readonly #spawnFailures = new Map<string, number>();
  #fuelOfEnded = 0;

  /** Processes spawned in all, every environment. */
  spawnedTotal = 0;

  spawned(environmentId: number): void {
    this.spawnedTotal++;
    this.#spawned.set(environmentId, (this.#spawned.get(environmentId) ?? 0) + 1);
  }

  spawnFailed(reason: string): void {
    const key = reasonClass(reason);
    this.#spawnFailures.set(key, (this.#spawnFailures.get(key) ?? 0) + 1);
  }

  ended(process: ProcessEndpoint, outcome: ProcessOutcome): void {
    this.#fuelOfEnded += (process as Measured).fuelUsed ?? 0;
    if (outcome.kind === "normal") return;
    const key = reasonClass(outcome.reason);
    this.#failures.set(key, (this.#failures.get(key) ?? 0) + 1);
  }

  /** The runtime's metrics now, for the processes in `live`. */
  snapshot(live: Iterable<ProcessEndpoint>): MetricsRegistry {
    const metrics = new MetricsRegistry();
    const alive = new Map<number, number>();
    // Processes of modules loaded from a path (those that can have versions), by version.
    const byVersion = new Map<string, { module: string; version: string; count: number }>();
    let queued = 0;
    let memory = 0;
    let fuel = this.#fuelOfEnded;
    for (const process of live) {
      const environmentId = process.environment.id;
      alive.set(environmentId, (alive.get(environmentId) ?? 0) + 1);
      const measured = process as Measured;
      queued += measured.queuedMessages ?? 0;
      memory += measured.memorySize ?? 0;
      fuel += measured.fuelUsed ?? 0;
      const module = measured.module;
      if (module?.lineage) {
        const key = `${module.displayName}\0${module.version}`;
        const entry = byVersion.get(key);
        if (entry) entry.count++;
        else {
          byVersion.set(key, {
            module: module.displayName,
            version: String(module.version),
            count: 1,
          });
        }
      }
    }
    metrics.set("lunatic.process.environment.count", alive.size);
    for (const [id, count] of alive) {
      metrics.set("lunatic.process.alive", count, { environment_id: String(id) });
    }
    for (const [id, count] of this.#spawned) {
      metrics.increment("lunatic.process.spawned", count, { environment_id: String(id) });
    }
    for (const { module, version, count } of byVersion.values()) {
      metrics.set("lunatic.process.alive.by_version", count, { module, version });
    }
    metrics.increment("lunatic.process.messages.send", this.messagesSent);
    metrics.set("lunatic.process.messages.outstanding", queued);
    metrics.set("lunatic.process.memory.bytes", memory);
    metrics.increment("lunatic.process.fuel.used", fuel);
    for (const [reason, count] of this.#failures) {
      metrics.increment("lunatic.process.failures", count, { reason });
    }
    for (const [reason, count] of this.#spawnFailures) {
      metrics.increment("lunatic.process.spawn.failures", count, { reason });
    }
    return metrics;
  }
}
