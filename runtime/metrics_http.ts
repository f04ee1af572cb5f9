/**
 * The Prometheus endpoint of `--prometheus` / `--prometheus-http ADDR`: `GET /metrics` gives
 * the guests' metrics and the runtime's own in the text format, every series labelled with
 * `node_id` (0 outside a cluster), as lunatic's exporter labels them.
 */
import type { Runtime } from "./runtime.ts";

/** lunatic's default listener address. */
export const DEFAULT_PROMETHEUS_ADDRESS = { hostname: "0.0.0.0", port: 9927 };

export interface MetricsServer {
  /** `http://host:port/metrics`. */
  readonly url: string;
  close(): Promise<void>;
}

/** Serves `runtime`'s metrics on `hostname:port` (0: any free port). */
export function serveMetrics(runtime: Runtime, hostname: string, port: number): MetricsServer {
  const server = Deno.serve({ hostname, port, onListen: () => {} }, (request) => {
    const path = new URL(request.url).pathname;
    if (request.method !== "GET" || (path !== "/metrics" && path !== "/")) {
      return new Response("not found: the metrics are at /metrics\n", { status: 404 });
    }
    const labels = { node_id: String(runtime.node?.nodeId ?? 0n) };
    const body = runtime.metrics.render(labels) +
      runtime.stats.snapshot(runtime.live).render(labels);
    return new Response(body, { headers: { "content-type": "text/plain; version=0.0.4" } });
  });
  // The endpoint must not keep a runtime alive whose processes have all ended.
  server.unref();
  const { hostname: bound, port: boundPort } = server.addr;
  const host = bound.includes(":") ? `[${bound}]` : bound;
  return { url: `http://${host}:${boundPort}/metrics`, close: () => server.shutdown() };
}
