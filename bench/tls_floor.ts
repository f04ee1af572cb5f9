/**
 * The floor under bench/distributed.ts: two Deno processes bouncing a 40-byte message over
 * `node:tls` with mutual TLS (as nodes talk) or plain `node:net`, one at a time, no runtime.
 *
 *   deno run --allow-all bench/tls_floor.ts [tls|net] [BOUNCES]
 *
 * Prints the mean round trip. (It runs itself again as the echoing server.)
 */
import * as net from "node:net";
import * as tls from "node:tls";
import { fileURLToPath } from "node:url";
import {
  createCertificateAuthority,
  generateKeyPair,
  issueCertificate,
} from "../runtime/distributed/x509.ts";

const [mode = "tls", bouncesArg = "5000", role, credentialsPath] = Deno.args;
const BOUNCES = Number(bouncesArg);
const WARM_UP = 500;

interface Credentials {
  key: string;
  cert: string;
  ca: string;
}

if (role === "server") {
  const credentials: Credentials = JSON.parse(Deno.readTextFileSync(credentialsPath));
  const echo = (socket: net.Socket) => {
    socket.setNoDelay(true);
    socket.on("data", (data: Uint8Array) => socket.write(data));
  };
  const server = mode === "tls"
    ? tls.createServer({
      key: credentials.key,
      cert: credentials.cert,
      ca: [credentials.ca],
      requestCert: true,
      rejectUnauthorized: true,
    }, echo)
    : net.createServer(echo);
  server.listen(0, "127.0.0.1", () => {
    console.log(`port ${(server.address() as net.AddressInfo).port}`);
  });
} else {
  const ca = createCertificateAuthority("floor");
  const key = generateKeyPair();
  const cert = issueCertificate(ca, { publicKey: key.publicKey, dnsNames: ["floor"] });
  const credentials: Credentials = { key: key.keyPem, cert, ca: ca.certPem };
  const path = await Deno.makeTempFile({ suffix: ".json" });
  await Deno.writeTextFile(path, JSON.stringify(credentials));
  const server = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", fileURLToPath(import.meta.url), mode, bouncesArg, "server", path],
    stdout: "piped",
  }).spawn();
  const reader = server.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  while (!/port \d+/.test(text)) text += (await reader.read()).value ?? "";
  const port = Number(text.match(/port (\d+)/)![1]);
  const socket: net.Socket = mode === "tls"
    ? tls.connect({
      host: "127.0.0.1",
      port,
      servername: "floor",
      ca: [ca.certPem],
      key: credentials.key,
      cert: credentials.cert,
    })
    : net.connect({ host: "127.0.0.1", port });
  socket.setNoDelay(true);
  await new Promise((resolve) =>
    socket.once(mode === "tls" ? "secureConnect" : "connect", resolve)
  );
  const message = new Uint8Array(40);
  let bounces = 0;
  let start = 0;
  await new Promise<void>((resolve) => {
    socket.on("data", () => {
      bounces++;
      if (bounces === WARM_UP) start = performance.now();
      if (bounces === WARM_UP + BOUNCES) return resolve();
      socket.write(message);
    });
    socket.write(message);
  });
  const micros = (performance.now() - start) / BOUNCES * 1000;
  console.log(`${mode} round trip between two Deno processes: ${micros.toFixed(1)} µs`);
  socket.destroy();
  server.kill();
  await server.status;
  await Deno.remove(path);
}
