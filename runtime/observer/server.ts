/**
 * The observer (`--observe ADDR`), after Erlang's: a live page of the runtime's processes and
 * the JSON API that feeds it.
 *
 *   GET  /                                   the page (runtime/observer/page.ts)
 *   GET  /api/processes                      every live process: ID, environment, module,
 *                                            state, mailbox depth, memory, fuel, uptime
 *   GET  /api/process/{environment}/{id}     one, with its links, monitors, config, names
 *   GET  /api/graph                          processes and their links and monitors
 *   GET  /api/rates                          messages and spawns per second, last 2 minutes
 *   POST /api/process/{environment}/{id}/kill
 *
 * Killing needs a client on loopback sending `x-observe-kill: 1` (the page does), or the
 * `--observe-token` (header `x-observe-token`, or `?token=` on the page, which passes it on):
 * custom headers, so that a web page elsewhere cannot kill through the user's browser (a
 * cross-site request with one needs a CORS preflight, which this server never grants).
 * Without a token, a page served to another machine is read-only.
 */
import { OBSERVER_PAGE } from "./page.ts";
import { findProcess, graph, processDetails, processRows, Rates } from "./snapshot.ts";
import type { Runtime } from "../runtime.ts";

export interface ObserverOptions {
  hostname: string;
  port: number;
  /** Lets clients that are not on loopback kill processes. */
  token?: string;
}

export interface ObserverServer {
  /** `http://host:port/`. */
  readonly url: string;
  close(): Promise<void>;
}

const json = (status: number, body: unknown) =>
  new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });

function isLoopback(address: string): boolean {
  return address === "::1" || address.startsWith("127.") || address === "::ffff:127.0.0.1";
}

export function serveObserver(runtime: Runtime, options: ObserverOptions): ObserverServer {
  const rates = new Rates(runtime);
  const server = Deno.serve(
    { hostname: options.hostname, port: options.port, onListen: () => {} },
    (request, info) => {
      const url = new URL(request.url);
      const path = url.pathname;
      if (request.method === "GET" && path === "/") {
        return new Response(OBSERVER_PAGE, {
          headers: { "content-type": "text/html; charset=utf-8" },
        });
      }
      if (request.method === "GET" && path === "/api/processes") {
        const processes = processRows(runtime);
        return json(200, { count: processes.length, processes });
      }
      if (request.method === "GET" && path === "/api/graph") return json(200, graph(runtime));
      if (request.method === "GET" && path === "/api/rates") {
        return json(200, { intervalMs: 1000, messages: rates.messages, spawns: rates.spawns });
      }
      const match = path.match(/^\/api\/process\/(\d+)\/(\d+)(\/kill)?$/);
      if (match !== null) {
        const process = findProcess(runtime, Number(match[1]), Number(match[2]));
        if (process === null) {
          return json(404, { error: `no process ${match[2]} in environment ${match[1]}` });
        }
        if (match[3] === undefined && request.method === "GET") {
          return json(200, processDetails(runtime, process));
        }
        if (match[3] !== undefined && request.method === "POST") {
          const remote = (info.remoteAddr as Deno.NetAddr).hostname;
          const token = request.headers.get("x-observe-token");
          // Both ways need a header a page elsewhere cannot send without our (never given)
          // CORS consent: a plain cross-site POST from a browser on this machine is refused.
          const allowed = options.token !== undefined
            ? token === options.token
            : isLoopback(remote) && request.headers.get("x-observe-kill") === "1";
          if (!allowed) {
            return json(403, {
              error: options.token === undefined
                ? "killing needs a loopback client sending x-observe-kill: 1 (the page does), " +
                  "or --observe-token"
                : "wrong or missing observe token",
            });
          }
          process.kill("killed from the observer");
          return json(200, { killed: true });
        }
      }
      return json(404, { error: `no route ${request.method} ${path}` });
    },
  );
  server.unref();
  const { hostname, port } = server.addr;
  const host = hostname.includes(":") ? `[${hostname}]` : hostname;
  return {
    url: `http://${host}:${port}/`,
    async close() {
      rates.stop();
      await server.shutdown();
    },
  };
}
