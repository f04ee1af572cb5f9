/**
 * Links and monitors between processes on different nodes (beyond lunatic, whose links stop
 * at the node). Each side of a link records the other as (node, process); when a process
 * ends, its node tells every node holding a link to it or a monitor on it (`Exited`), and the
 * processes there hear of it as they would of a local process: a failed link kills them (or
 * gives a LinkDied message, with `die_when_link_dies` off), a monitor gives ProcessDied.
 *
 * A node that is lost (control stops listing it, or its connection drops and cannot be made
 * again) counts as the failure of every process of it that something here is linked to or
 * monitors: "node N lost".
 */
import type { Environment, ProcessEndpoint } from "../environment.ts";
import { ProcessDiedMessage } from "../message.ts";
import type { ProcessOutcome } from "../process.ts";
import type { Request, Response } from "./wire.ts";

/** A process on another node. */
interface RemoteProcess {
  nodeId: bigint;
  processId: bigint;
}

const key = (nodeId: bigint, processId: bigint) => `${nodeId}/${processId}`;

/** How a node sends a request (to itself too); a failure is `{ status, error }`. */
export type SendRequest = (
  nodeId: bigint,
  request: Request,
) => Promise<Response | { status: number; error: string }>;

export class RemoteSignals {
  /** Links of local processes to remote ones, with the tag both sides store. */
  readonly #links = new Map<ProcessEndpoint, Map<string, RemoteProcess & { tag: bigint }>>();
  /** Remote processes each local process monitors. */
  readonly #monitoring = new Map<ProcessEndpoint, Map<string, RemoteProcess>>();
  /** Remote processes that monitor each local process. */
  readonly #watchers = new Map<ProcessEndpoint, Map<string, RemoteProcess>>();

  constructor(
    readonly send: SendRequest,
    readonly localNodeId: () => bigint,
    readonly environment: (id: bigint) => Environment | undefined,
  ) {}

  /** `process` links to `processId` on `nodeId`: 0, or the ABI status of why not. */
  async link(
    process: ProcessEndpoint,
    nodeId: bigint,
    processId: bigint,
    tag: bigint,
  ): Promise<number> {
    // Recorded before the answer: the other process may end at once, and its Exited can be
    // read in the same chunk as the Linked answer, or arrive on another connection, before
    // this continues.
    const entryKey = key(nodeId, processId);
    const entry = { nodeId, processId, tag };
    if (process.alive) this.#entry(this.#links, process).set(entryKey, entry);
    const response = await this.send(nodeId, {
      kind: "Link",
      ...this.#end(process, processId),
      tag,
    });
    if (!("status" in response) && response.kind === "Linked") return 0;
    this.#forget(this.#links, process, entryKey, entry);
    if ("status" in response) return response.status;
    // As with a local process that does not exist: an immediate link death.
    process.linkDied(-1, tag, "no_process", `${processId} on node ${nodeId}`);
    return 1;
  }

  async unlink(process: ProcessEndpoint, nodeId: bigint, processId: bigint): Promise<number> {
    this.#links.get(process)?.delete(key(nodeId, processId));
    const response = await this.send(nodeId, { kind: "Unlink", ...this.#end(process, processId) });
    return "status" in response ? response.status : 0;
  }

  async monitor(process: ProcessEndpoint, nodeId: bigint, processId: bigint): Promise<number> {
    // Recorded before the answer, as link's entries are.
    const entryKey = key(nodeId, processId);
    const entry = { nodeId, processId };
    if (process.alive) this.#entry(this.#monitoring, process).set(entryKey, entry);
    const response = await this.send(nodeId, { kind: "Monitor", ...this.#end(process, processId) });
    if (!("status" in response) && response.kind === "Linked") return 0;
    this.#forget(this.#monitoring, process, entryKey, entry);
    if ("status" in response) return response.status;
    // Monitoring a process that does not exist: ProcessDied at once, as locally.
    process.deliver(new ProcessDiedMessage(processId));
    return 1;
  }

  async stopMonitoring(
    process: ProcessEndpoint,
    nodeId: bigint,
    processId: bigint,
  ): Promise<number> {
    this.#monitoring.get(process)?.delete(key(nodeId, processId));
    const response = await this.send(nodeId, {
      kind: "Demonitor",
      ...this.#end(process, processId),
    });
    return "status" in response ? response.status : 0;
  }

  /** Answers another node's Link, Unlink, Monitor, Demonitor or Exited. */
  handle(request: Request): Response | null {
    if (
      request.kind !== "Link" && request.kind !== "Unlink" && request.kind !== "Monitor" &&
      request.kind !== "Demonitor" && request.kind !== "Exited"
    ) {
      return null;
    }
    const process = this.environment(request.environmentId)?.get(request.processId);
    const other = { nodeId: request.fromNode, processId: request.fromProcess };
    const otherKey = key(other.nodeId, other.processId);
    switch (request.kind) {
      case "Link":
        if (process === undefined) return { kind: "Error", error: { kind: "ProcessNotFound" } };
        this.#entry(this.#links, process).set(otherKey, { ...other, tag: request.tag });
        return { kind: "Linked" };
      case "Monitor":
        if (process === undefined) return { kind: "Error", error: { kind: "ProcessNotFound" } };
        this.#entry(this.#watchers, process).set(otherKey, other);
        return { kind: "Linked" };
      case "Unlink":
        if (process !== undefined) this.#links.get(process)?.delete(otherKey);
        return { kind: "Sent" };
      case "Demonitor":
        if (process !== undefined) this.#watchers.get(process)?.delete(otherKey);
        return { kind: "Sent" };
      case "Exited":
        if (process !== undefined) {
          this.#remoteEnded(
            process,
            otherKey,
            request.failed,
            `${other.processId} on node ${other.nodeId}`,
          );
        }
        return { kind: "Sent" };
    }
  }

  /** A local process ended: the nodes linked to it or watching it hear of it. */
  processEnded(process: ProcessEndpoint, outcome: ProcessOutcome): void {
    const links = this.#links.get(process);
    const watchers = this.#watchers.get(process);
    const monitoring = this.#monitoring.get(process);
    this.#links.delete(process);
    this.#watchers.delete(process);
    this.#monitoring.delete(process);
    const failed = outcome.kind === "failure";
    const reason = outcome.kind === "failure" ? outcome.reason : "normal";
    const told = new Set<string>();
    for (const other of [...(links?.values() ?? []), ...(watchers?.values() ?? [])]) {
      const otherKey = key(other.nodeId, other.processId);
      if (told.has(otherKey)) continue;
      told.add(otherKey);
      this.#tell(other, {
        kind: "Exited",
        environmentId: BigInt(process.environment.id),
        processId: other.processId,
        fromNode: this.localNodeId(),
        fromProcess: BigInt(process.id),
        failed,
        reason,
      });
    }
    for (const watched of monitoring?.values() ?? []) {
      this.#tell(watched, { kind: "Demonitor", ...this.#end(process, watched.processId) });
    }
  }

  /** Every process of `nodeId` that local processes link to or monitor is gone. */
  nodeLost(nodeId: bigint): void {
    const prefix = `${nodeId}/`;
    for (const table of [this.#links, this.#monitoring, this.#watchers]) {
      for (const [process, entries] of table) {
        for (const [entryKey, entry] of entries) {
          if (!entryKey.startsWith(prefix)) continue;
          if (table === this.#watchers) {
            entries.delete(entryKey);
          } else {
            this.#remoteEnded(
              process,
              entryKey,
              true,
              `${entry.processId} on node ${nodeId} (node lost)`,
            );
          }
        }
      }
    }
  }

  /** The nodes local processes have links or monitors into. */
  nodesReferenced(): Set<bigint> {
    const nodes = new Set<bigint>();
    for (const table of [this.#links, this.#monitoring, this.#watchers]) {
      for (const entries of table.values()) {
        for (const entry of entries.values()) nodes.add(entry.nodeId);
      }
    }
    return nodes;
  }

  #remoteEnded(process: ProcessEndpoint, otherKey: string, failed: boolean, name: string): void {
    const link = this.#links.get(process)?.get(otherKey);
    if (link !== undefined) {
      this.#links.get(process)!.delete(otherKey);
      process.linkDied(
        -1,
        link.tag,
        failed ? { kind: "failure", reason: "remote" } : { kind: "normal" },
        name,
      );
    }
    const watched = this.#monitoring.get(process)?.get(otherKey);
    if (watched !== undefined) {
      this.#monitoring.get(process)!.delete(otherKey);
      process.deliver(new ProcessDiedMessage(watched.processId));
    }
  }

  #tell(other: RemoteProcess, request: Request): void {
    this.send(other.nodeId, request).catch(() => {});
  }

  #end(process: ProcessEndpoint, processId: bigint) {
    return {
      environmentId: BigInt(process.environment.id),
      processId,
      fromNode: this.localNodeId(),
      fromProcess: BigInt(process.id),
    };
  }

  /** Removes `entry` from `process`'s table, unless something replaced it meanwhile. */
  #forget<V>(
    table: Map<ProcessEndpoint, Map<string, V>>,
    process: ProcessEndpoint,
    entryKey: string,
    entry: V,
  ): void {
    const entries = table.get(process);
    if (entries?.get(entryKey) === entry) entries.delete(entryKey);
  }

  #entry<V>(table: Map<ProcessEndpoint, Map<string, V>>, process: ProcessEndpoint): Map<string, V> {
    let entries = table.get(process);
    if (entries === undefined) table.set(process, entries = new Map());
    return entries;
  }
}
