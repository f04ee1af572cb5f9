/**
 * The server examples run as the README shows, through the command line: a listener process
 * that hands each accepted connection to a new process inside a message (lunatic-rs's
 * `TcpListener::accept` + `Process::spawn(stream, handler)` pattern), answering many clients at
 * once.
 */
import assert from "node:assert/strict";
import * as net from "node:net";
import { examplePath, startCliServer } from "./helpers/run_guest.ts";

const LISTENING = /^listening on 127\.0\.0\.1:(\d+)$/m;

/** Connects to 127.0.0.1:`port`; resolves once connected. */
function connect(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, "127.0.0.1", () => resolve(socket));
    socket.once("error", reject);
  });
}

/** Collects what a socket receives; `until(text)` waits for the text to satisfy a predicate. */
function collector(socket: net.Socket) {
  let text = "";
  let closed = false;
  let wake = () => {};
  socket.on("data", (chunk: Buffer) => {
    text += chunk.toString("latin1");
    wake();
  });
  socket.on("close", () => {
    closed = true;
    wake();
  });
  return {
    get text() {
      return text;
    },
    get closed() {
      return closed;
    },
    async until(done: (text: string) => boolean): Promise<string> {
      while (!done(text)) {
        if (closed) throw new Error(`the server closed the connection; received ${text}`);
        await new Promise<void>((resolve) => wake = resolve);
      }
      return text;
    },
    async closing(): Promise<void> {
      while (!closed) await new Promise<void>((resolve) => wake = resolve);
    },
  };
}

const HELLO_RESPONSE =
  "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\nHello, world!";

Deno.test("http_hello answers keep-alive HTTP/1.1 requests, many connections at once", async () => {
  const server = await startCliServer(["run", examplePath("http_hello"), "0"], LISTENING);
  try {
    // One connection, five requests one after another: keep-alive.
    const socket = await connect(server.port);
    const received = collector(socket);
    for (let i = 1; i <= 5; i++) {
      socket.write(`GET /${i} HTTP/1.1\r\nHost: localhost\r\n\r\n`);
      await received.until((text) => text.length >= HELLO_RESPONSE.length * i);
    }
    assert.equal(received.text, HELLO_RESPONSE.repeat(5));
    // Pipelined requests in one write are each answered.
    socket.write("GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n");
    await received.until((text) => text.length >= HELLO_RESPONSE.length * 7);
    assert.equal(received.text, HELLO_RESPONSE.repeat(7));
    // "Connection: close" is honoured: the answer says so and the server closes.
    socket.write("GET /bye HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    await received.closing();
    assert.match(received.text.slice(HELLO_RESPONSE.length * 7), /^HTTP\/1\.1 200 OK\r\n/);
    assert.match(received.text, /Connection: close\r\n\r\nHello, world!$/);

    // 100 connections open at once, each served by its own process.
    const sockets = await Promise.all(Array.from({ length: 100 }, () => connect(server.port)));
    const answers = sockets.map((each) => {
      const got = collector(each);
      each.write("GET / HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n");
      return got.until((text) => text.length >= HELLO_RESPONSE.length * 2);
    });
    for (const text of await Promise.all(answers)) assert.equal(text, HELLO_RESPONSE.repeat(2));
    for (const each of sockets) each.destroy();
  } finally {
    assert.equal(await server.stop(), "");
  }
});

Deno.test("http_hello under run --parallel 2: both instances listen on one port, 100 clients are answered", async () => {
  const probe = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = probe.addr.port;
  probe.close();
  // Each instance says where it listens; both must before clients come.
  const server = await startCliServer(
    ["run", "--parallel", "2", examplePath("http_hello"), String(port)],
    /^listening on 127\.0\.0\.1:(\d+)\n(?:.*\n)*listening on 127\.0\.0\.1:\d+$/m,
    ["--unstable-net"],
  );
  try {
    assert.equal(server.port, port);
    const sockets = await Promise.all(Array.from({ length: 100 }, () => connect(port)));
    const answers = sockets.map((each) => {
      const got = collector(each);
      each.write("GET / HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n");
      return got.until((text) => text.length >= HELLO_RESPONSE.length * 2);
    });
    for (const text of await Promise.all(answers)) assert.equal(text, HELLO_RESPONSE.repeat(2));
    for (const each of sockets) each.destroy();
  } finally {
    assert.equal(await server.stop(), "");
  }
});

Deno.test("echo_server echoes every line to 200 concurrent clients, a process each", async () => {
  const server = await startCliServer(["run", examplePath("echo_server"), "0"], LISTENING);
  try {
    const clients = await Promise.all(Array.from({ length: 200 }, () => connect(server.port)));
    const echoes = clients.map(async (socket, client) => {
      const received = collector(socket);
      const lines = Array.from({ length: 10 }, (_, line) => `client ${client} line ${line}\n`);
      // Lines split across writes, and several lines in one write.
      socket.write(lines[0].slice(0, 4));
      socket.write(lines[0].slice(4) + lines[1] + lines[2].slice(0, 3));
      socket.write(lines.slice(2).join("").slice(3));
      const text = await received.until((got) => got.length >= lines.join("").length);
      socket.end();
      await received.closing();
      return [text, lines.join("")];
    });
    for (const [got, expected] of await Promise.all(echoes)) assert.equal(got, expected);
    // The listener still accepts after 200 handlers have come and gone.
    const late = await connect(server.port);
    const received = collector(late);
    late.write("still here\n");
    assert.equal(await received.until((text) => text.endsWith("\n")), "still here\n");
    late.destroy();
  } finally {
    assert.equal(await server.stop(), "");
  }
});
