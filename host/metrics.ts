/**
 * `lunatic::metrics` (spec §1.13): lunatic forwards these to a metrics facade that does
 * nothing unless a Prometheus exporter is built in. We keep the same contract — names must
 * be valid UTF-8 inside memory (a bad one traps) — and record the values in the runtime's
 * log at trace level.
 */
import { hostFn, type HostNamespace } from "../runtime/host_api.ts";
import { logger } from "../runtime/log.ts";
import type { Process } from "../runtime/process.ts";

const trace = logger("metrics");

function log(p: Process, kind: string, ptr: number, len: number, value?: number | bigint) {
  const name = p.memory.readString(ptr, len, "metric name");
  trace.trace(`process ${p.id}: ${kind} ${name}${value === undefined ? "" : ` ${value}`}`);
}

/** A metric call with a value: (name pointer, name length, value). */
function record(kind: string) {
  return (ptr: number, len: number, value: number | bigint, p: Process) =>
    log(p, kind, ptr, len, value);
}

export const metricsNamespace: HostNamespace<Process> = {
  module: "lunatic::metrics",
  functions: {
    counter: hostFn(["i32", "i32", "i64"], [], record("counter")),
    increment_counter: hostFn(
      ["i32", "i32"],
      [],
      (ptr: number, len: number, p: Process) => log(p, "increment_counter", ptr, len),
    ),
    gauge: hostFn(["i32", "i32", "f64"], [], record("gauge")),
    increment_gauge: hostFn(["i32", "i32", "f64"], [], record("increment_gauge")),
    decrement_gauge: hostFn(["i32", "i32", "f64"], [], record("decrement_gauge")),
    histogram: hostFn(["i32", "i32", "f64"], [], record("histogram")),
  },
};
