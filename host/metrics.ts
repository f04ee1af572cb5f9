/**
 * `lunatic::metrics` (spec §1.13): counters, gauges and histograms by name, kept in the
 * runtime's registry (runtime/metrics.ts) and served in the Prometheus format by
 * `--prometheus` (runtime/metrics_http.ts), as lunatic's exporter does. Names must be valid
 * UTF-8 inside memory (a bad one traps); each call is also logged at trace level.
 */
import { hostFn, type HostNamespace } from "../runtime/host_api.ts";
import { logger } from "../runtime/log.ts";
import type { Process } from "../runtime/process.ts";

const trace = logger("metrics");

function nameOf(p: Process, ptr: number, len: number, kind: string, value?: number | bigint) {
  const name = p.memory.readString(ptr, len, "metric name");
  if (trace.isEnabledFor("trace")) {
    trace.trace(`process ${p.id}: ${kind} ${name}${value === undefined ? "" : ` ${value}`}`);
  }
  return name;
}

export const metricsNamespace: HostNamespace<Process> = {
  module: "lunatic::metrics",
  functions: {
    // The facade's `counter!(name, value)` adds `value` (a u64) to the counter.
    counter: hostFn(
      ["i32", "i32", "i64"],
      [],
      (ptr: number, len: number, value: bigint, p: Process) => {
        const name = nameOf(p, ptr, len, "counter", value);
        p.runtime.metrics.increment(name, Number(BigInt.asUintN(64, value)));
      },
    ),
    increment_counter: hostFn(["i32", "i32"], [], (ptr: number, len: number, p: Process) => {
      p.runtime.metrics.increment(nameOf(p, ptr, len, "increment_counter"));
    }),
    gauge: hostFn(
      ["i32", "i32", "f64"],
      [],
      (ptr: number, len: number, value: number, p: Process) => {
        p.runtime.metrics.set(nameOf(p, ptr, len, "gauge", value), value);
      },
    ),
    increment_gauge: hostFn(
      ["i32", "i32", "f64"],
      [],
      (ptr: number, len: number, value: number, p: Process) => {
        p.runtime.metrics.add(nameOf(p, ptr, len, "increment_gauge", value), value);
      },
    ),
    decrement_gauge: hostFn(
      ["i32", "i32", "f64"],
      [],
      (ptr: number, len: number, value: number, p: Process) => {
        p.runtime.metrics.add(nameOf(p, ptr, len, "decrement_gauge", value), -value);
      },
    ),
    histogram: hostFn(
      ["i32", "i32", "f64"],
      [],
      (ptr: number, len: number, value: number, p: Process) => {
        p.runtime.metrics.observe(nameOf(p, ptr, len, "histogram", value), value);
      },
    ),
  },
};
