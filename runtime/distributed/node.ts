/**
 * This runtime as a node of a cluster (`lunatic node`): registered with a control server,
 * serving other nodes' requests (spawn a process here, deliver a message to one) and making
 * its own processes' requests to them. Spec §8.3 describes what each request does; this file
 * keeps to it, except where lunatic hangs (see `spawn` and `send`).
 *
 * Environments: a spawn from another node runs in the environment with the sender's ID here
 * (created on first use, with its own registry); messages find their process the same way.
 * A remote spawn runs with the config the caller sent, cut down to this node's own limits
 * (`ceiling`): memory and fuel no higher, permissions and namespaces no wider, preopens only
 * inside this node's.
 */
import { getLogger } from "@logtape/logtape";
import type { ProcessConfig } from "../config.ts";
import { insideDirectories } from "../directories.ts";
import type { Environment } from "../environment.ts";
import { LunaticError } from "../errors.ts";
import type { LunaticModule } from "../module.ts";
import type { EntryArgument, Process } from "../process.ts";
import type { Runtime } from "../runtime.ts";
import type { Stdio } from "../stdio.ts";
import { ControlClient, type NodeInfo } from "./control_client.ts";
import { decodeConfig, encodeConfig } from "./config_wire.ts";
import { ConnectionError, NodeTransport } from "./transport.ts";
import { DataMessage } from "../message.ts";
import type { Request, Response, Val } from "./wire.ts";
import { RemoteSignals } from "./remote_signals.ts";

const log = getLogger(["lunatic", "distributed"]);

/** Results of spawn and send as the host ABI numbers them (spec §1.16). */
export const SPAWN_NODE_NOT_FOUND = 1;
export const SPAWN_MODULE_NOT_FOUND = 2;
export const SEND_PROCESS_NOT_FOUND = 1;
export const SEND_NODE_NOT_FOUND = 2;
export const CONNECTION_ERROR = 9027;

/** A call that did not get through: the ABI's status and an error text naming the node. */
export interface Failure {
  status: number;
  error: string;
}
export type SpawnResult = { processId: bigint } | Failure;
export type SendResult = { status: 0 } | Failure;

export interface NodeOptions {
  runtime: Runtime;
  controlUrl: string;
  /** Where other nodes connect (default 127.0.0.1 and any free port). */
  hostname?: string;
  port?: number;
  attributes?: Record<string, string>;
  /** The most a process spawned here from another node may have. */
  ceiling: ProcessConfig;
  /** Where processes spawned from other nodes write. */
  stdio: () => Stdio;
  connectTimeoutMs?: number;
}

export class ClusterNode {
  readonly #runtime: Runtime;
  readonly #control: ControlClient;
  readonly #transport: NodeTransport;
  readonly #ceiling: ProcessConfig;
  readonly #stdio: () => Stdio;
  readonly #environments = new Map<bigint, Environment>();
  /** Modules by control module ID, compiled once (concurrent spawns share the compile). */
  readonly #modules = new Map<bigint, Promise<LunaticModule | null>>();
  readonly #lookups = new Map<bigint, bigint[]>();
  #nextLookupId = 1n;
  /** Where other nodes connect to this one, `ip:port`. */
  address = "";
  readonly #signals: RemoteSignals;

  private constructor(options: NodeOptions, control: ControlClient) {
    this.#runtime = options.runtime;
    this.#control = control;
    this.#ceiling = options.ceiling;
    this.#stdio = options.stdio;
    const registration = control.registration;
    this.#transport = new NodeTransport({
      key: registration.key,
      certPem: registration.certPem,
      caPem: registration.rootCertPem,
      connectTimeoutMs: options.connectTimeoutMs,
      name: registration.nodeName,
      handle: (request, peer) => this.#handleFrom(request, peer),
      onDisconnect: (peer) => this.#disconnected(peer),
    });
    this.#signals = new RemoteSignals(
      // Link and monitor calls number an unknown node as send does: 2.
      async (nodeId, request) => {
        const response = await this.#request(nodeId, request);
        return "status" in response && response.status === SPAWN_NODE_NOT_FOUND
          ? { ...response, status: SEND_NODE_NOT_FOUND }
          : response;
      },
      () => this.nodeId,
      (id) => this.#environments.get(id),
    );
    options.runtime.onProcessExit((process, outcome) => {
      this.#signals.processEnded(process, outcome);
    });
    control.onNodesLeft = (left) => {
      for (const node of left) this.#signals.nodeLost(node.id);
    };
  }

  /**
   * A connection closed: if processes here are linked into that node, it is lost unless a
   * new connection can be made at once.
   */
  async #disconnected(peer: string): Promise<void> {
    const node = this.#control.nodeNamed(peer);
    if (node === undefined || !this.#signals.nodesReferenced().has(node.id)) return;
    const probe = await this.#request(node.id, {
      kind: "Exists",
      environmentId: 0n,
      processId: 0n,
    });
    if ("status" in probe) this.#signals.nodeLost(node.id);
  }

  /** Links `process` with `processId` on `nodeId` (0, or the status of why not). */
  link(process: Process, nodeId: bigint, processId: bigint, tag: bigint): Promise<number> {
    return this.#signals.link(process, nodeId, processId, tag);
  }

  unlink(process: Process, nodeId: bigint, processId: bigint): Promise<number> {
    return this.#signals.unlink(process, nodeId, processId);
  }

  /** `process` monitors `processId` on `nodeId`: ProcessDied when it ends, or its node is lost. */
  monitor(process: Process, nodeId: bigint, processId: bigint): Promise<number> {
    return this.#signals.monitor(process, nodeId, processId);
  }

  stopMonitoring(process: Process, nodeId: bigint, processId: bigint): Promise<number> {
    return this.#signals.stopMonitoring(process, nodeId, processId);
  }

  /** Registers with control, starts serving other nodes, announces the address. */
  static async start(options: NodeOptions): Promise<ClusterNode> {
    const control = await ControlClient.register(options.controlUrl);
    const node = new ClusterNode(options, control);
    const hostname = options.hostname ?? "127.0.0.1";
    const port = await node.#transport.listen(hostname, options.port ?? 0);
    const address = hostname.includes(":") ? `[${hostname}]:${port}` : `${hostname}:${port}`;
    node.address = address;
    await control.start(address, options.attributes ?? {});
    options.runtime.node = node;
    log.info("node {id} ({name}) serving at {address}", {
      id: control.nodeId,
      name: control.registration.nodeName,
      address,
    });
    return node;
  }

  get nodeId(): bigint {
    return this.#control.nodeId;
  }

  get nodeName(): string {
    return this.#control.registration.nodeName;
  }

  /** The cluster's node IDs at control's last refresh, this node's included. */
  nodeIds(): bigint[] {
    return this.#control.nodeIds();
  }

  /** Makes `environment` the one with its ID here (the root's, under `--wasm`). */
  adoptEnvironment(environment: Environment): void {
    this.#environments.set(BigInt(environment.id), environment);
  }

  /** Uploads `module` to control so other nodes can spawn from it; sets its cluster ID. */
  async publish(module: LunaticModule): Promise<bigint> {
    const id = await this.#control.addModule(new Uint8Array(module.bytes));
    module.clusterModuleId = id;
    this.#modules.set(id, Promise.resolve(module));
    return id;
  }

  /**
   * Spawns `entry(args)` on node `nodeId` from the module control knows as `moduleId`, in the
   * caller's environment there. An unknown node is status 1 at once (lunatic asks control
   * again and again, forever); a known one that cannot be reached, 9027 within the connect
   * timeout.
   */
  async spawn(
    environmentId: bigint,
    nodeId: bigint,
    config: ProcessConfig,
    moduleId: bigint,
    entry: string,
    params: Val[],
  ): Promise<SpawnResult> {
    const request: Request = {
      kind: "Spawn",
      environmentId,
      moduleId,
      function: entry,
      params,
      config: encodeConfig(config),
    };
    const response = await this.#request(nodeId, request);
    if ("status" in response) return response;
    if (response.kind === "Spawned") return { processId: response.processId };
    if (response.kind === "Error") {
      const error = response.error;
      if (error.kind === "ModuleNotFound") {
        return { status: SPAWN_MODULE_NOT_FOUND, error: `module ${moduleId} not found` };
      }
      if (error.kind === "NodeNotFound") {
        return { status: SPAWN_NODE_NOT_FOUND, error: `node ${nodeId} not found` };
      }
      const message = "message" in error ? error.message : error.kind;
      return { status: CONNECTION_ERROR, error: `spawn on node ${nodeId} failed: ${message}` };
    }
    return {
      status: CONNECTION_ERROR,
      error: `node ${nodeId} answered a spawn with ${response.kind}`,
    };
  }

  /** Delivers a data message to process `processId` of `environmentId` on node `nodeId`. */
  async send(
    environmentId: bigint,
    nodeId: bigint,
    processId: bigint,
    tag: bigint,
    data: Uint8Array,
  ): Promise<SendResult> {
    const request: Request = {
      kind: "Message",
      environmentId,
      processId,
      tag: tag === 0n ? null : tag,
      data,
    };
    const response = await this.#request(nodeId, request);
    if ("status" in response) {
      return response.status === SPAWN_NODE_NOT_FOUND
        ? { status: SEND_NODE_NOT_FOUND, error: response.error }
        : response;
    }
    if (response.kind === "Sent") return { status: 0 };
    if (response.kind === "Error" && response.error.kind === "ProcessNotFound") {
      return {
        status: SEND_PROCESS_NOT_FOUND,
        error: `process ${processId} not found on node ${nodeId}`,
      };
    }
    const detail = response.kind === "Error" && "message" in response.error
      ? response.error.message
      : response.kind;
    return { status: CONNECTION_ERROR, error: `send to node ${nodeId} failed: ${detail}` };
  }

  /** Whether process `processId` of `environmentId` is alive on node `nodeId`. */
  async exists(
    environmentId: bigint,
    nodeId: bigint,
    processId: bigint,
  ): Promise<boolean | Failure> {
    const response = await this.#request(nodeId, { kind: "Exists", environmentId, processId });
    if ("status" in response) return response;
    if (response.kind === "Exists") return response.exists;
    return {
      status: CONNECTION_ERROR,
      error: `node ${nodeId} answered Exists with ${response.kind}`,
    };
  }

  /** Asks control for the nodes matching `query`; the result waits under a query ID. */
  async lookup(query: string): Promise<{ queryId: bigint; count: number }> {
    const ids = await this.#control.lookup(query);
    const queryId = this.#nextLookupId++;
    this.#lookups.set(queryId, ids);
    return { queryId, count: ids.length };
  }

  /** A lookup's node IDs, once (spec §1.16: the result is consumed). */
  takeLookup(queryId: bigint): bigint[] | undefined {
    const ids = this.#lookups.get(queryId);
    this.#lookups.delete(queryId);
    return ids;
  }

  /** A request to a node: to this one it is answered here, without the network. */
  async #request(
    nodeId: bigint,
    request: Request,
  ): Promise<Response | Failure> {
    if (nodeId === this.nodeId) return await this.#handle(request);
    // A node control listed at its last refresh needs no wait (one send, one lookup).
    let peer: NodeInfo | null | undefined = this.#control.knownNode(nodeId);
    if (peer === undefined) {
      try {
        peer = await this.#control.node(nodeId);
      } catch (error) {
        return { status: CONNECTION_ERROR, error: (error as Error).message };
      }
    }
    if (peer === null) return { status: SPAWN_NODE_NOT_FOUND, error: `node ${nodeId} not found` };
    try {
      return await this.#transport.request(peer, request);
    } catch (error) {
      if (!(error instanceof ConnectionError)) throw error;
      return { status: CONNECTION_ERROR, error: `node ${nodeId}: ${error.message}` };
    }
  }

  /**
   * Answers a request that came over the network from the node whose certificate names it
   * `peer`. Signals name the node they come from (`fromNode`): it must be that node, or one
   * node could cut or fake the links of another's processes.
   */
  async #handleFrom(request: Request, peer: string): Promise<Response> {
    if ("fromNode" in request) {
      let claimed: NodeInfo | null = null;
      try {
        claimed = await this.#control.node(request.fromNode);
      } catch {
        // control unreachable: the claim cannot be checked, so it is refused below
      }
      if (claimed?.name.toLowerCase() !== peer.toLowerCase()) {
        log.warn("node {peer} sent a {kind} that claims to come from node {claimed}", {
          peer,
          kind: request.kind,
          claimed: String(request.fromNode),
        });
        return {
          kind: "Error",
          error: {
            kind: "Unexpected",
            message: `${request.kind} names node ${request.fromNode} as its sender, ` +
              `but came from node ${peer}`,
          },
        };
      }
    }
    return await this.#handle(request);
  }

  /** Answers another node's request (or this node's own, short-circuited). */
  async #handle(request: Request): Promise<Response> {
    switch (request.kind) {
      case "Spawn":
        return await this.#spawnHere(request);
      case "Message": {
        const environment = this.#environments.get(request.environmentId);
        // lunatic: a message for an environment this node does not have is dropped as sent.
        if (environment === undefined) return { kind: "Sent" };
        const process = environment.get(request.processId);
        if (process === undefined) return { kind: "Error", error: { kind: "ProcessNotFound" } };
        const message = new DataMessage(request.tag ?? 0n, request.data.length);
        message.write(request.data);
        process.deliver(message);
        return { kind: "Sent" };
      }
      case "Exists": {
        const environment = this.#environments.get(request.environmentId);
        return { kind: "Exists", exists: environment?.get(request.processId) !== undefined };
      }
      default:
        return this.#signals.handle(request) ?? {
          kind: "Error",
          error: { kind: "Unexpected", message: `${request.kind} is not supported by this node` },
        };
    }
  }

  async #spawnHere(request: Request & { kind: "Spawn" }): Promise<Response> {
    const unexpected = (message: string): Response => ({
      kind: "Error",
      error: { kind: "Unexpected", message },
    });
    let config: ProcessConfig;
    try {
      config = this.#withinCeiling(decodeConfig(request.config));
    } catch (error) {
      return unexpected((error as Error).message);
    }
    let module: LunaticModule | null;
    try {
      module = await this.#module(request.moduleId, request.environmentId);
    } catch (error) {
      return unexpected(`module ${request.moduleId}: ${(error as Error).message}`);
    }
    if (module === null) return { kind: "Error", error: { kind: "ModuleNotFound" } };
    const args: EntryArgument[] = [];
    for (const param of request.params) {
      if ("I32" in param) args.push(param.I32);
      else if ("I64" in param) args.push(param.I64);
      else return unexpected("v128 spawn parameters are not supported by this runtime");
    }
    const problem = module.checkEntry(request.function, args);
    if (problem !== null) return unexpected(problem);
    try {
      module.prepare(config);
      const process = this.#runtime.spawn({
        environment: this.#environment(request.environmentId),
        module,
        config,
        entry: request.function,
        args,
        stdio: this.#stdio(),
      });
      return { kind: "Spawned", processId: BigInt(process.id) };
    } catch (error) {
      if (error instanceof LunaticError) return unexpected(error.message);
      throw error;
    }
  }

  #environment(id: bigint): Environment {
    let environment = this.#environments.get(id);
    if (environment === undefined) {
      environment = this.#runtime.newEnvironment(Number(id));
      this.#environments.set(id, environment);
    }
    return environment;
  }

  /**
   * The module control knows as `id`, fetched and compiled once; null if control has none.
   * Throws (naming why) when control cannot be asked or the bytes do not compile. Only a
   * compiled module stays cached: a module that control lacks now may be uploaded later, and
   * control may be back for the next spawn.
   */
  #module(id: bigint, environmentId: bigint): Promise<LunaticModule | null> {
    let module = this.#modules.get(id);
    if (module === undefined) {
      module = (async () => {
        const bytes = await this.#control.module(id, environmentId);
        if (bytes === null) return null;
        const compiled = await this.#runtime.modules.loadAndCompile(
          bytes,
          `module ${id} from control`,
          65_535,
        );
        compiled.clusterModuleId = id;
        return compiled;
      })();
      this.#modules.set(id, module);
      module.then((found) => {
        if (found === null) this.#modules.delete(id);
      }, (error) => {
        this.#modules.delete(id);
        log.warn("cannot get module {id} from control: {error}", { id, error: String(error) });
      });
    }
    return module;
  }

  /** `config` cut down to this node's limits; throws naming a preopen outside them. */
  #withinCeiling(config: ProcessConfig): ProcessConfig {
    const ceiling = this.#ceiling;
    if (config.maxMemory > ceiling.maxMemory) config.maxMemory = ceiling.maxMemory;
    if (ceiling.maxFuel !== 0n && (config.maxFuel === 0n || config.maxFuel > ceiling.maxFuel)) {
      config.maxFuel = ceiling.maxFuel;
    }
    config.canCompileModules &&= ceiling.canCompileModules;
    config.canCreateConfigs &&= ceiling.canCreateConfigs;
    config.canSpawnProcesses &&= ceiling.canSpawnProcesses;
    const allowed = ceiling.preopenedDirs.map((preopen) => preopen.host);
    for (const preopen of config.preopenedDirs) {
      if (!insideDirectories(preopen.host, allowed)) {
        throw new LunaticError(
          `permission denied: cannot preopen "${preopen.host}", which is outside this node's directories`,
        );
      }
    }
    if (ceiling.allowedNamespaces !== null) {
      config.namespaceCeiling.push(ceiling.allowedNamespaces);
    }
    config.namespaceCeiling.push(...ceiling.namespaceCeiling);
    return config;
  }

  /** Leaves the cluster: tells control, closes every connection. */
  async stop(): Promise<void> {
    try {
      await this.#control.stop();
    } catch (error) {
      log.warn("could not tell control this node stopped: {error}", { error: String(error) });
    }
    await this.#transport.close();
  }
}
