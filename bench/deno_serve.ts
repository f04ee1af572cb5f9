/**
 * The reference HTTP server for bench/net.ts: what this platform serves at most, with
 * `Deno.serve` answering "Hello, world!" to every request on 127.0.0.1:PORT.
 *
 *   deno run --allow-net --allow-read [--unstable-net] bench/deno_serve.ts PORT [WORKERS]
 *
 * With WORKERS above 1, that many workers each serve PORT with SO_REUSEPORT, as
 * `deno serve --parallel` does: the ceiling for `lunatic run --parallel`. It prints where it
 * listens once all of them do.
 */
const hello = () => new Response("Hello, world!", { headers: { "content-type": "text/plain" } });

function serve(port: number, reusePort: boolean, onListen: (port: number) => void): void {
  Deno.serve(
    { hostname: "127.0.0.1", port, reusePort, onListen: (at) => onListen(at.port) },
    hello,
  );
}

const scope = globalThis as unknown as {
  WorkerGlobalScope?: unknown;
  onmessage: ((event: MessageEvent<number>) => void) | null;
  postMessage(message: string): void;
};
if (scope.WorkerGlobalScope !== undefined) {
  scope.onmessage = (event) => serve(event.data, true, () => scope.postMessage("listening"));
} else {
  const requested = Number(Deno.args[0] ?? "8080");
  const workers = Number(Deno.args[1] ?? "1");
  if (workers <= 1) {
    serve(requested, false, (port) => console.log(`listening on 127.0.0.1:${port}`));
  } else {
    let port = requested;
    if (port === 0) {
      const probe = Deno.listen({ hostname: "127.0.0.1", port: 0 });
      port = probe.addr.port;
      probe.close();
    }
    let listening = 0;
    for (let i = 0; i < workers; i++) {
      const worker = new Worker(import.meta.url, { type: "module" });
      worker.onmessage = () => {
        if (++listening === workers) console.log(`listening on 127.0.0.1:${port}`);
      };
      worker.postMessage(port);
    }
  }
}
