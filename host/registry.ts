/**
 * `lunatic::registry`: names for processes, shared by an environment's processes
 * (spec §1.5). Entries are not removed when a process dies.
 */
import { hostFn, type HostNamespace } from "../runtime/host_api.ts";
import type { Process } from "../runtime/process.ts";

function readName(process: Process, ptr: number, len: number): string {
  return process.memory.readString(ptr, len, "registry name");
}

export const registryNamespace: HostNamespace<Process> = {
  module: "lunatic::registry",
  functions: {
    put: hostFn(
      ["i32", "i32", "i64", "i64"],
      [],
      (namePtr: number, nameLen: number, nodeId: bigint, processId: bigint, p: Process) => {
        p.environment.registry.set(readName(p, namePtr, nameLen), {
          nodeId: BigInt.asUintN(64, nodeId),
          processId: BigInt.asUintN(64, processId),
        });
      },
    ),
    get: hostFn(
      ["i32", "i32", "i32", "i32"],
      ["i32"],
      (namePtr: number, nameLen: number, nodeIdPtr: number, processIdPtr: number, p: Process) => {
        const entry = p.environment.registry.get(readName(p, namePtr, nameLen));
        if (entry === undefined) return 1;
        p.memory.check(nodeIdPtr, 8);
        p.memory.check(processIdPtr, 8);
        p.memory.writeU64(nodeIdPtr, entry.nodeId);
        p.memory.writeU64(processIdPtr, entry.processId);
        return 0;
      },
    ),
    remove: hostFn(["i32", "i32"], [], (namePtr: number, nameLen: number, p: Process) => {
      p.environment.registry.delete(readName(p, namePtr, nameLen));
    }),
  },
};
