/** `lunatic::error`: error messages handed to guests as per-process IDs (spec §1.1). */
import { trap } from "../runtime/errors.ts";
import { GuestMemory } from "../runtime/guest_memory.ts";
import { hostFn, type HostNamespace } from "../runtime/host_api.ts";
import type { Process } from "../runtime/process.ts";

/** Stores `message` in the process's error table and returns its ID (for an out-pointer). */
export function errorId(process: Process, message: string): bigint {
  return BigInt(process.errors.add(message));
}

function lookup(process: Process, id: bigint): Uint8Array {
  const message = process.errors.get(id);
  if (message === undefined) trap(`unknown error id ${BigInt.asUintN(64, id)}`);
  return GuestMemory.encode(message);
}

export const errorNamespace: HostNamespace<Process> = {
  module: "lunatic::error",
  functions: {
    string_size: hostFn(["i64"], ["i32"], (id: bigint, p: Process) => lookup(p, id).byteLength),
    to_string: hostFn(["i64", "i32"], [], (id: bigint, ptr: number, p: Process) => {
      p.memory.write(ptr, lookup(p, id));
    }),
    drop: hostFn(["i64"], [], (id: bigint, p: Process) => {
      if (p.errors.take(id) === undefined) trap(`unknown error id ${BigInt.asUintN(64, id)}`);
    }),
  },
};
