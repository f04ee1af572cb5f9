/**
 * `lunatic::distributed` (spec §1.16). On its own (`lunatic run`) the runtime is node 0: the
 * module ID of every process is 0, there are no other nodes, and spawns and sends addressed
 * to node 0 behave as their local twins; any other node is unknown ("node not found").
 * As a node of a cluster (`lunatic node`) the calls go to the nodes control lists (this one
 * included) through runtime/distributed/node.ts; they never hang: an unknown node answers at
 * once, an unreachable one within the connect timeout.
 */
import { trap } from "../runtime/errors.ts";
import { hostFn, type HostNamespace, suspendingFn } from "../runtime/host_api.ts";
import type { Process } from "../runtime/process.ts";
import type { Message } from "../runtime/message.ts";
import type { ClusterNode, Failure } from "../runtime/distributed/node.ts";
import type { Val } from "../runtime/distributed/wire.ts";
import {
  type CertificateAuthority,
  createCertificateAuthority,
  generateKeyPair,
  issueCertificate,
  loadCertificateAuthority,
  parseCertificateRequest,
  X509Error,
} from "../runtime/distributed/x509.ts";
import { logger } from "../runtime/log.ts";
import { TIMEOUT } from "../runtime/message.ts";
import { guestTimeout } from "../runtime/timers.ts";
import { errorId } from "./error.ts";
import { scratchData, sendAndAwaitReply, sendTo, takeScratch } from "./message.ts";
import {
  linkLocal,
  monitorLocal,
  PARAM_RECORD,
  requireSpawnPermission,
  spawnConfig,
  spawnReportingTo,
  TYPE_I32,
  TYPE_I64,
  TYPE_V128,
  unlinkLocal,
} from "./process.ts";
import { bincodeString, bincodeTuple, writeToGuest } from "./guest_alloc.ts";

/** This node's ID while the runtime is not part of a cluster. */
export const LOCAL_NODE_ID = 0n;
/** The control-assigned module ID of local modules. */
export const LOCAL_MODULE_ID = 0n;

const SPAWN_NODE_NOT_FOUND = 1;
const SPAWN_MODULE_NOT_FOUND = 2;
const SEND_PROCESS_NOT_FOUND = 1;
const SEND_NODE_NOT_FOUND = 2;

function isLocal(nodeId: bigint): boolean {
  return BigInt.asUintN(64, nodeId) === LOCAL_NODE_ID;
}

/**
 * Takes the scratch message for a send to `processId` on `nodeId` (a send takes it even when
 * it cannot be delivered), or returns the status that says why it cannot be.
 */
function takeForNode(process: Process, nodeId: bigint, processId: bigint): Message | number {
  checkSendable(process);
  const message = takeScratch(process);
  if (!isLocal(nodeId)) return SEND_NODE_NOT_FOUND;
  if (process.environment.get(processId) === undefined) return SEND_PROCESS_NOT_FOUND;
  return message;
}

/** A distributed send takes data messages without resources only (spec §1.16). */
function checkSendable(process: Process): void {
  const message = scratchData(process);
  if (message.resources?.some((r) => r !== null)) {
    trap("a message sent to another node cannot carry resources");
  }
}

/** Spawn parameters for another node: 17-byte records; a trailing partial one is ignored. */
function remoteParams(process: Process, ptr: number, len: number): Val[] {
  const bytes = process.memory.bytes(ptr, len);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const params: Val[] = [];
  for (let at = 0; at + PARAM_RECORD <= bytes.byteLength; at += PARAM_RECORD) {
    const type = bytes[at];
    if (type === TYPE_I32) params.push({ I32: view.getInt32(at + 1, true) });
    else if (type === TYPE_I64) params.push({ I64: view.getBigInt64(at + 1, true) });
    else if (type === TYPE_V128) {
      params.push({
        V128: view.getBigUint64(at + 1, true) | view.getBigUint64(at + 9, true) << 64n,
      });
    } else trap(`unknown spawn parameter type 0x${type.toString(16).padStart(2, "0")}`);
  }
  return params;
}

async function remoteSpawn(
  p: Process,
  node: ClusterNode,
  nodeId: bigint,
  configId: bigint,
  moduleId: bigint,
  funcPtr: number,
  funcLen: number,
  paramsPtr: number,
  paramsLen: number,
  idPtr: number,
): Promise<number> {
  const config = spawnConfig(p, configId);
  const entry = p.memory.readString(funcPtr, funcLen, "function name");
  const params = remoteParams(p, paramsPtr, paramsLen);
  const result = await p.suspend(
    node.spawn(BigInt(p.environment.id), nodeId, config, moduleId, entry, params),
  );
  if ("processId" in result) {
    p.memory.writeU64(idPtr, result.processId);
    return 0;
  }
  p.memory.writeU64(idPtr, errorId(p, result.error));
  return result.status;
}

/** Takes the scratch data message for another node (no resources: spec §1.16). */
function takeForRemote(p: Process): { tag: bigint; data: Uint8Array } {
  checkSendable(p);
  const message = takeScratch(p);
  if (message.kind !== "data") trap("only data messages can be sent to another node");
  return { tag: message.tag, data: message.data.slice() };
}

const log = logger("distributed");

/** The guest gets the status alone (`send` has no error ID); the log says why. */
function reportFailure(failure: Failure): number {
  log.info("process send failed: {error}", { error: failure.error });
  return failure.status;
}

export const distributedNamespace: HostNamespace<Process> = {
  module: "lunatic::distributed",
  functions: {
    nodes_count: hostFn([], ["i32"], (p: Process) => p.runtime.node?.nodeIds().length ?? 0),
    get_nodes: hostFn(["i32", "i32"], ["i32"], (ptr: number, cap: number, p: Process) => {
      const ids = p.runtime.node?.nodeIds() ?? [];
      const count = Math.min(ids.length, cap >>> 0);
      p.memory.check(ptr, count * 8);
      for (let i = 0; i < count; i++) p.memory.writeU64(ptr + i * 8, ids[i]);
      return count;
    }),
    node_id: hostFn([], ["i64"], (p: Process) => p.runtime.node?.nodeId ?? LOCAL_NODE_ID),
    module_id: hostFn([], ["i64"], (p: Process) => p.module.clusterModuleId),
    spawn: suspendingFn(
      ["i64", "i64", "i64", "i32", "i32", "i32", "i32", "i32"],
      ["i32"],
      (
        nodeId: bigint,
        configId: bigint,
        moduleId: bigint,
        funcPtr: number,
        funcLen: number,
        paramsPtr: number,
        paramsLen: number,
        idPtr: number,
        p: Process,
      ) => {
        requireSpawnPermission(p);
        p.memory.check(idPtr, 8);
        const node = p.runtime.node;
        if (node !== null) {
          return remoteSpawn(
            p,
            node,
            BigInt.asUintN(64, nodeId),
            configId,
            BigInt.asUintN(64, moduleId),
            funcPtr,
            funcLen,
            paramsPtr,
            paramsLen,
            idPtr,
          );
        }
        if (!isLocal(nodeId)) {
          p.memory.writeU64(idPtr, errorId(p, `node ${BigInt.asUintN(64, nodeId)} not found`));
          return SPAWN_NODE_NOT_FOUND;
        }
        if (BigInt.asUintN(64, moduleId) !== LOCAL_MODULE_ID) {
          p.memory.writeU64(
            idPtr,
            errorId(p, `module ${BigInt.asUintN(64, moduleId)} not found`),
          );
          return SPAWN_MODULE_NOT_FOUND;
        }
        // Remote spawns are never linked (spec §1.16).
        const call = { link: 0n, configId, moduleId: -1n, funcPtr, funcLen, paramsPtr, paramsLen };
        return spawnReportingTo(p, call, idPtr) === null ? SPAWN_NODE_NOT_FOUND : 0;
      },
    ),
    send: suspendingFn(["i64", "i64"], ["i32"], (nodeId: bigint, processId: bigint, p: Process) => {
      const node = p.runtime.node;
      if (node !== null && BigInt.asUintN(64, nodeId) !== node.nodeId) {
        const { tag, data } = takeForRemote(p);
        const environmentId = BigInt(p.environment.id);
        const target = BigInt.asUintN(64, nodeId);
        return p.suspend(node.send(environmentId, target, BigInt.asUintN(64, processId), tag, data))
          .then((result) => "error" in result ? reportFailure(result) : 0);
      }
      const message = takeForNode(p, node === null ? nodeId : LOCAL_NODE_ID, processId);
      if (typeof message === "number") return message;
      sendTo(p, processId, message);
      return 0;
    }),
    send_receive_skip_search: suspendingFn(
      ["i64", "i64", "i64", "i64"],
      ["i32"],
      (nodeId: bigint, processId: bigint, waitOnTag: bigint, timeout: bigint, p: Process) => {
        const node = p.runtime.node;
        if (node !== null && BigInt.asUintN(64, nodeId) !== node.nodeId) {
          return remoteRequest(p, node, BigInt.asUintN(64, nodeId), processId, waitOnTag, timeout);
        }
        const message = takeForNode(p, node === null ? nodeId : LOCAL_NODE_ID, processId);
        if (typeof message === "number") return message;
        return sendAndAwaitReply(p, processId, message, waitOnTag, timeout);
      },
    ),
    exec_lookup_nodes: suspendingFn(
      ["i32", "i32", "i32", "i32", "i32"],
      ["i32"],
      async (
        queryPtr: number,
        queryLen: number,
        queryIdPtr: number,
        nodesLenPtr: number,
        errorPtr: number,
        p: Process,
      ) => {
        const node = requireNode(p);
        const query = p.memory.readString(queryPtr, queryLen, "query");
        p.memory.check(queryIdPtr, 8);
        p.memory.check(nodesLenPtr, 4);
        p.memory.check(errorPtr, 8);
        try {
          const { queryId, count } = await p.suspend(node.lookup(query));
          p.memory.writeU64(queryIdPtr, queryId);
          // lunatic writes a host usize (8 bytes) where lunatic-rs reserves a u32 (§9.1):
          // 4 bytes are what every reader reads, and nothing after them is clobbered.
          p.memory.writeU32(nodesLenPtr, count);
          return 0;
        } catch (error) {
          p.memory.writeU64(errorPtr, errorId(p, `lookup failed: ${(error as Error).message}`));
          return 1;
        }
      },
    ),
    copy_lookup_nodes_results: hostFn(
      ["i64", "i32", "i32", "i32"],
      ["i32"],
      (queryId: bigint, ptr: number, cap: number, errorPtr: number, p: Process) => {
        const ids = requireNode(p).takeLookup(BigInt.asUintN(64, queryId));
        if (ids === undefined) {
          p.memory.writeU64(errorPtr, errorId(p, `unknown lookup query ${queryId}`));
          return -1;
        }
        const count = Math.min(ids.length, cap >>> 0);
        p.memory.check(ptr, count * 8);
        for (let i = 0; i < count; i++) p.memory.writeU64(ptr + i * 8, ids[i]);
        return count;
      },
    ),
    // Beyond lunatic: whether a process of any node is alive (1, 0; -1: the node is unknown
    // or cannot be reached), links and monitors with it (README: Running a cluster).
    exists: suspendingFn(
      ["i64", "i64"],
      ["i32"],
      (nodeId: bigint, processId: bigint, p: Process) => {
        const node = p.runtime.node;
        const target = BigInt.asUintN(64, nodeId);
        if (node === null ? target === LOCAL_NODE_ID : target === node.nodeId) {
          return p.environment.get(processId) === undefined ? 0 : 1;
        }
        if (node === null) return -1;
        return p.suspend(
          node.exists(BigInt(p.environment.id), target, BigInt.asUintN(64, processId)),
        )
          .then((result) => typeof result === "boolean" ? (result ? 1 : 0) : -1);
      },
    ),
    link: suspendingFn(
      ["i64", "i64", "i64"],
      ["i32"],
      (nodeId: bigint, processId: bigint, tag: bigint, p: Process) =>
        signal(p, nodeId, processId, {
          local: () => linkLocal(p, tag, processId) ? 0 : SEND_PROCESS_NOT_FOUND,
          remote: (node, target, pid) => node.link(p, target, pid, tag),
        }),
    ),
    unlink: suspendingFn(
      ["i64", "i64"],
      ["i32"],
      (nodeId: bigint, processId: bigint, p: Process) =>
        signal(p, nodeId, processId, {
          local: () => (unlinkLocal(p, processId), 0),
          remote: (node, target, pid) => node.unlink(p, target, pid),
        }),
    ),
    monitor: suspendingFn(
      ["i64", "i64"],
      ["i32"],
      (nodeId: bigint, processId: bigint, p: Process) =>
        signal(p, nodeId, processId, {
          local: () => monitorLocal(p, processId) ? 0 : SEND_PROCESS_NOT_FOUND,
          remote: (node, target, pid) => node.monitor(p, target, pid),
        }),
    ),
    stop_monitoring: suspendingFn(
      ["i64", "i64"],
      ["i32"],
      (nodeId: bigint, processId: bigint, p: Process) =>
        signal(p, nodeId, processId, {
          local: () => (p.environment.get(processId)?.removeMonitor(p.id), 0),
          remote: (node, target, pid) => node.stopMonitoring(p, target, pid),
        }),
    ),
    // Certificates, as lunatic's control and nodes make them (README: Running a cluster).
    test_root_cert: suspendingFn(["i32"], ["i32"], (lenPtr: number, p: Process) => {
      const ca = testCertificateAuthority();
      const pair = bincodeTuple(bincodeString(ca.certPem), bincodeString(ca.key.keyPem));
      return writeToGuest(p, pair, lenPtr);
    }),
    default_server_certificates: suspendingFn(
      ["i32", "i32", "i32", "i32", "i32"],
      ["i32"],
      (
        certPtr: number,
        certLen: number,
        keyPtr: number,
        keyLen: number,
        lenPtr: number,
        p: Process,
      ) => {
        const ca = guestCertificateAuthority(p, certPtr, certLen, keyPtr, keyLen);
        const key = generateKeyPair();
        const cert = issueCertificate(ca, { publicKey: key.publicKey, dnsNames: [CONTROL_NAME] });
        return writeToGuest(
          p,
          bincodeTuple(bincodeString(cert), bincodeString(key.keyPem)),
          lenPtr,
        );
      },
    ),
    sign_node: suspendingFn(
      ["i32", "i32", "i32", "i32", "i32", "i32", "i32"],
      ["i32"],
      (
        certPtr: number,
        certLen: number,
        keyPtr: number,
        keyLen: number,
        csrPtr: number,
        csrLen: number,
        lenPtr: number,
        p: Process,
      ) => {
        const ca = guestCertificateAuthority(p, certPtr, certLen, keyPtr, keyLen);
        const csrPem = p.memory.readString(csrPtr, csrLen, "certificate request");
        let cert: string;
        try {
          const request = parseCertificateRequest(csrPem);
          cert = issueCertificate(ca, { publicKey: request.publicKey, dnsNames: request.dnsNames });
        } catch (error) {
          if (error instanceof X509Error) return 0; // lunatic 0.13.2: a null pointer
          throw error;
        }
        return writeToGuest(p, bincodeString(cert), lenPtr);
      },
    ),
  },
};

/** Lookups go to control: a runtime on its own has none (spec §1.16: a trap). */
function requireNode(p: Process): ClusterNode {
  const node = p.runtime.node;
  if (node === null) trap("Distributed is not initialized");
  return node;
}

/**
 * `send_receive_skip_search` to another node: the message goes there, then the caller waits
 * for a reply with `waitOnTag` that arrived after it was sent (one may come before the
 * acknowledgement does: it is taken from the queue).
 */
async function remoteRequest(
  p: Process,
  node: ClusterNode,
  nodeId: bigint,
  processId: bigint,
  waitOnTag: bigint,
  timeout: bigint,
): Promise<number> {
  p.checkSignals();
  const { tag, data } = takeForRemote(p);
  const started = Date.now();
  const mark = p.queueMark();
  const result = await p.suspend(
    node.send(BigInt(p.environment.id), nodeId, BigInt.asUintN(64, processId), tag, data),
  );
  if (result.status !== 0) {
    // lunatic traps on a connection error ("unreachable"): the reason names the node.
    if (result.status === 9027) trap(`${result.error}`);
    return result.status;
  }
  const early = p.takeQueuedSince(mark, [waitOnTag]);
  if (early !== null) {
    p.setScratch(early);
    return 0;
  }
  const limit = guestTimeout(timeout);
  const remaining = limit === null ? null : limit - BigInt(Date.now() - started);
  if (remaining !== null && remaining <= 0n) return TIMEOUT;
  return await p.waitForMessage([waitOnTag], remaining);
}

/**
 * A link or monitor call: with a process of this node it is the local call; with one of
 * another node it goes there (0, 1 no such process, 2 no such node, 9027 unreachable).
 */
function signal(
  p: Process,
  nodeId: bigint,
  processId: bigint,
  calls: {
    local: () => number;
    remote: (node: ClusterNode, nodeId: bigint, processId: bigint) => Promise<number>;
  },
): number | Promise<number> {
  const node = p.runtime.node;
  const target = BigInt.asUintN(64, nodeId);
  if (node === null ? target === LOCAL_NODE_ID : target === node.nodeId) return calls.local();
  if (node === null) return SEND_NODE_NOT_FOUND;
  return p.suspend(calls.remote(node, target, BigInt.asUintN(64, processId)));
}

/** The name lunatic's control server certificate carries. */
const CONTROL_NAME = "ctrl.lunatic.cloud";

let testCa: CertificateAuthority | null = null;

/**
 * `test_root_cert`'s CA: made once per runtime process. lunatic returns one fixed CA whose key
 * is in its source code, which anybody can use to join or impersonate a cluster built on it.
 */
function testCertificateAuthority(): CertificateAuthority {
  return testCa ??= createCertificateAuthority("lunatic test CA");
}

/** A CA from PEM the guest passed; one that cannot be used traps with the reason. */
function guestCertificateAuthority(
  p: Process,
  certPtr: number,
  certLen: number,
  keyPtr: number,
  keyLen: number,
): CertificateAuthority {
  const certPem = p.memory.readString(certPtr, certLen, "CA certificate");
  const keyPem = p.memory.readString(keyPtr, keyLen, "CA key");
  try {
    return loadCertificateAuthority(certPem, keyPem);
  } catch (error) {
    if (error instanceof X509Error) trap(`bad CA: ${error.message}`);
    throw error;
  }
}
