/**
 * `lunatic::metrics` (spec §1.13): lunatic forwards these to a metrics facade that does
 * nothing unless a Prometheus exporter is built in. We keep the same contract — names must
 * be valid UTF-8 inside memory (a bad one traps) — and record the values in the runtime's
 * log at trace level.
 */
import { hostFn, type HostNamespace } from "../runtime/host_api.ts";
import { logger } from "../runtime/log.ts";
import type { Process } from "../runtime/process.ts";

const log = logger("metrics");

function record(kind: string) {
  return (p: Process, ptr: number, len: number, value?: number | bigint) => {
    const name = p.memory.readString(ptr, len, "metric name");
    log.trace(`process ${p.id}: ${kind} ${name}${value === undefined ? "" : ` ${value}`}`);
  };
}

export const metricsNamespace: HostNamespace<Process> = {
  module: "lunatic::metrics",
  functions: {
    counter: hostFn(["i32", "i32", "i64"], [], record("counter")),
    increment_counter: hostFn(["i32", "i32"], [], record("increment_counter")),
    gauge: hostFn(["i32", "i32", "f64"], [], record("gauge")),
    increment_gauge: hostFn(["i32", "i32", "f64"], [], record("increment_gauge")),
    decrement_gauge: hostFn(["i32", "i32", "f64"], [], record("decrement_gauge")),
    histogram: hostFn(["i32", "i32", "f64"], [], record("histogram")),
  },
};
