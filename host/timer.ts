/**
 * `lunatic::timer`: delayed sends (spec §1.4). A timer delivers to the process it named when
 * it was set, and keeps running after its creator ends.
 */
import { hostFn, type HostNamespace } from "../runtime/host_api.ts";
import type { Process } from "../runtime/process.ts";
import { ResourceTable } from "../runtime/resources.ts";
import { after } from "../runtime/timers.ts";
import { takeScratch } from "./message.ts";

const TIMERS = Symbol("lunatic::timer");

/** Pending timers by ID; a timer leaves the table when it fires or is cancelled. */
function timers(process: Process): ResourceTable<() => void> {
  return process.hostState(TIMERS, () => new ResourceTable<() => void>());
}

export const timerNamespace: HostNamespace<Process> = {
  module: "lunatic::timer",
  functions: {
    send_after: hostFn(["i64", "i64"], ["i64"], (processId: bigint, delay: bigint, p: Process) => {
      const message = takeScratch(p);
      const target = p.environment.get(processId);
      const table = timers(p);
      // A timer that will deliver keeps its environment from being deadlocked.
      const environment = target?.environment;
      environment?.timerSet();
      let id = -1;
      const cancel = after(BigInt.asUintN(64, delay), () => {
        table.take(id);
        if (target !== undefined) target.deliver(message);
        else if (message.kind === "data") message.dropResources();
        environment?.timerDone();
      });
      id = table.add(() => {
        cancel();
        if (message.kind === "data") message.dropResources();
        environment?.timerDone();
      });
      return BigInt(id);
    }),
    cancel_timer: hostFn(["i64"], ["i32"], (timerId: bigint, p: Process) => {
      const cancel = timers(p).take(timerId);
      if (cancel === undefined) return 0; // unknown, cancelled, or already fired
      cancel();
      return 1;
    }),
  },
};
