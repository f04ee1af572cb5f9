/**
 * `lunatic::distributed` on a single node (spec §1.16). This runtime is not (yet) a member
 * of a cluster: it is node 0, the module ID of every process is 0, and there are no other
 * nodes. Spawns and sends addressed to node 0 behave as their local twins; any other node is
 * unknown and gets the spec's "node not found" code.
 */
import { trap } from "../runtime/errors.ts";
import { hostFn, type HostNamespace, suspendingFn } from "../runtime/host_api.ts";
import type { Process } from "../runtime/process.ts";
import type { Message } from "../runtime/message.ts";
import { errorId } from "./error.ts";
import { scratchData, sendAndAwaitReply, sendTo, takeScratch } from "./message.ts";
import { requireSpawnPermission, spawnReportingTo } from "./process.ts";
import { notSupported } from "./not_supported.ts";

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

export const distributedNamespace: HostNamespace<Process> = {
  module: "lunatic::distributed",
  functions: {
    nodes_count: hostFn([], ["i32"], () => 0),
    // No other nodes: nothing to copy.
    get_nodes: hostFn(["i32", "i32"], ["i32"], () => 0),
    node_id: hostFn([], ["i64"], () => LOCAL_NODE_ID),
    module_id: hostFn([], ["i64"], () => LOCAL_MODULE_ID),
    spawn: hostFn(
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
    send: hostFn(["i64", "i64"], ["i32"], (nodeId: bigint, processId: bigint, p: Process) => {
      const message = takeForNode(p, nodeId, processId);
      if (typeof message === "number") return message;
      sendTo(p, processId, message);
      return 0;
    }),
    send_receive_skip_search: suspendingFn(
      ["i64", "i64", "i64", "i64"],
      ["i32"],
      (nodeId: bigint, processId: bigint, waitOnTag: bigint, timeout: bigint, p: Process) => {
        const message = takeForNode(p, nodeId, processId);
        if (typeof message === "number") return message;
        return sendAndAwaitReply(p, processId, message, waitOnTag, timeout);
      },
    ),
    ...notSupported("lunatic::distributed", {
      exec_lookup_nodes: "i32,i32,i32,i32,i32 -> i32",
      copy_lookup_nodes_results: "i64,i32,i32,i32 -> i32",
      test_root_cert: "i32 -> i32",
      default_server_certificates: "i32,i32,i32,i32,i32 -> i32",
      sign_node: "i32,i32,i32,i32,i32,i32,i32 -> i32",
    }),
  },
};
