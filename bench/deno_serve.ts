/**
 * The reference HTTP server for bench/net.ts: what this platform serves at most, with
 * `Deno.serve` answering "Hello, world!" to every request on 127.0.0.1:PORT.
 */
const port = Number(Deno.args[0] ?? "8080");
Deno.serve({
  hostname: "127.0.0.1",
  port,
  onListen: ({ port }) => console.log(`listening on 127.0.0.1:${port}`),
}, () => new Response("Hello, world!", { headers: { "content-type": "text/plain" } }));
