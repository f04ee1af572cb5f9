/**
 * `lunatic::hot` (an addition to lunatic's ABI): hot code upgrade, runtime/hot.ts.
 *
 *   version() -> i64                 the version this process runs (1 for a first version)
 *   subscribe(tag: i64)              when a newer version of this process's module is loaded,
 *                                    send this process a data message with `tag` whose data is
 *                                    the new version (u64 LE)
 *   upgrade(entry_ptr, entry_len) -> i32
 *                                    takes the data message in the scratch slot (the state) and
 *                                    continues the process on the newest version's export
 *                                    `entry`, the state first in its mailbox; does not return.
 *                                    1 (the process goes on in its old code): no newer version,
 *                                    or it has no such export.
 */
import { ProcessUpgrade, trap } from "../runtime/errors.ts";
import { hostFn, type HostNamespace } from "../runtime/host_api.ts";
import type { Process } from "../runtime/process.ts";
import { takeScratch } from "./message.ts";

export const hotNamespace: HostNamespace<Process> = {
  module: "lunatic::hot",
  functions: {
    version: hostFn([], ["i64"], (p: Process) => BigInt(p.module.version)),
    subscribe: hostFn(["i64"], [], (tag: bigint, p: Process) => {
      p.hotSubscription = tag;
    }),
    upgrade: hostFn(["i32", "i32"], ["i32"], (ptr: number, len: number, p: Process) => {
      const entry = p.memory.readString(ptr, len, "entry name");
      const newer = p.module.lineage?.newerThan(p.module) ?? null;
      if (newer === null || newer.checkEntry(entry, []) !== null) return 1;
      const state = takeScratch(p);
      if (state.kind !== "data") trap("lunatic::hot::upgrade needs a data message with the state");
      throw new ProcessUpgrade(newer, entry, state);
    }),
  },
};
