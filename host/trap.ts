/**
 * `lunatic::trap::catch` (spec §1.8): re-enters the guest through its export
 * `_lunatic_catch_trap(function, pointer)` and turns a trap inside it into a 0 result.
 * Kills and `proc_exit` are not traps: they still end the process.
 */
import { ProcessExit, ProcessKilled, ProcessUpgrade, trap } from "../runtime/errors.ts";
import { type HostNamespace, suspendingFn } from "../runtime/host_api.ts";
import { promising } from "../runtime/jspi.ts";
import type { Process } from "../runtime/process.ts";

const CATCH_EXPORT = "_lunatic_catch_trap";
/** Per process: its catch export, wrapped to run on a stack of its own (made on first use). */
const REENTER = Symbol("lunatic::trap reentry");

export const trapNamespace: HostNamespace<Process> = {
  module: "lunatic::trap",
  functions: {
    // Suspending, because the guest code it runs may itself block (receive, sleep): the
    // nested call runs on its own stack and this call waits for it.
    catch: suspendingFn(["i32", "i32"], ["i32"], (fn: number, pointer: number, p: Process) => {
      // Made for the current instance (an upgrade brings another).
      const cached = p.hostState(REENTER, () => ({
        instance: null as WebAssembly.Instance | null,
        reenter: null as ((f: number, ptr: number) => Promise<unknown>) | null,
      }));
      if (cached.instance !== p.instance || cached.reenter === null) {
        const exported = p.instance?.exports[CATCH_EXPORT];
        if (typeof exported !== "function") {
          trap(`lunatic::trap::catch needs the export \`${CATCH_EXPORT}\`, a function`);
        }
        cached.instance = p.instance;
        cached.reenter = promising(exported as (f: number, ptr: number) => number);
      }
      return cached.reenter(fn, pointer).then(
        (result) => result as number,
        (error) => {
          if (
            error instanceof ProcessKilled || error instanceof ProcessExit ||
            error instanceof ProcessUpgrade
          ) throw error;
          return 0;
        },
      );
    }),
  },
};
