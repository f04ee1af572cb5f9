/**
 * TLS over TCP (spec §1.11) on `node:tls`, over `node:net` sockets (./node_listener.ts).
 * Streams are shared connections as TCP's are (./stream.ts).
 *
 * Differences from lunatic 0.13.2 (README): a failed handshake, in `tls_accept` or
 * `tls_connect`, returns 1 with an error ID instead of trapping (a misbehaving client would
 * otherwise kill the accepting process); extra CA certificates are read whichever way round
 * an entry holds its pointer and length, so lunatic-rs's `(len, ptr)` tuples work.
 */
import type net from "node:net";
import tls from "node:tls";
import { trap } from "../../runtime/errors.ts";
import { hostFn, type HostFunction, suspendingFn } from "../../runtime/host_api.ts";
import { TIMEOUT } from "../../runtime/message.ts";
import type { Process } from "../../runtime/process.ts";
import { fromHostPort, parseIp, readSocketAddress, type SocketAddress } from "./addresses.ts";
import { resolveHost } from "./dns.ts";
import { isUnwinding, reportError, TIMED_OUT, writeAddress } from "./io.ts";
import { addressIterator, networking } from "./resources.ts";
import {
  bindListener,
  type BoundAddress,
  connectTo,
  Listener,
  peerAddress,
} from "./node_listener.ts";
import { StreamConnection } from "./stream.ts";
import { addStream, streamFunctions, timeoutFunctions } from "./tcp.ts";

const ADDRESS = ["i32", "i32", "i32", "i32", "i32"] as const;
const decoder = new TextDecoder();

function pemBlocks(pem: string, label: string): number {
  return pem.split(`-----BEGIN ${label}-----`).length - 1;
}

/** The PEM at `[ptr, ptr+len)`; traps unless it holds exactly one block of `label`. */
function readPem(process: Process, ptr: number, len: number, label: string, what: string) {
  const pem = decoder.decode(process.memory.bytes(ptr, len));
  const count = pemBlocks(pem, label);
  if (count !== 1) trap(`the TLS ${what} must be one PEM "${label}" block; it has ${count}`);
  return pem;
}

/**
 * The extra CA certificates of `tls_connect`: `count` 8-byte entries at `entriesPtr`, each a
 * pointer and a length, in either order (see the module's comment). Null: use the usual root
 * store (no entries, or an entry that points outside memory, as lunatic does). Entries that
 * are not one PEM certificate are skipped.
 */
function extraCaCerts(process: Process, entriesPtr: number, count: number): string[] | null {
  if (count === 0) return null;
  const entries = process.memory.bytes(entriesPtr, (count >>> 0) * 8);
  const view = new DataView(entries.buffer, entries.byteOffset, entries.byteLength);
  const size = process.memory.u8.byteLength;
  const certs: string[] = [];
  for (let i = 0; i < entries.byteLength; i += 8) {
    const a = view.getUint32(i, true);
    const b = view.getUint32(i + 4, true);
    const candidates = [[a, b], [b, a]].filter(([ptr, len]) => ptr + len <= size);
    if (candidates.length === 0) return null;
    const pem = candidates.map(([ptr, len]) => decoder.decode(process.memory.bytes(ptr, len)))
      .find((text) => text.trimStart().startsWith("-----BEGIN CERTIFICATE-----"));
    if (pem !== undefined && pemBlocks(pem, "CERTIFICATE") === 1) certs.push(pem);
  }
  return certs;
}

const readTimeout = timeoutFunctions("tls_stream", "readTimeout");
const writeTimeout = timeoutFunctions("tls_stream", "writeTimeout");

/** A TCP listener whose connections are made TLS with its certificate and key. */
class TlsListener extends Listener {
  constructor(bound: BoundAddress, readonly context: tls.SecureContext) {
    super(bound);
  }
}

function tlsListenerOf(process: Process, id: bigint): TlsListener {
  const listener = networking(process).tlsListeners.get(id);
  if (listener === undefined) trap(`unknown tls listener id ${BigInt.asUintN(64, id)}`);
  return listener as TlsListener;
}

/** Resolves with `socket` once its handshake is done; rejects with the handshake's error. */
function handshake(
  socket: tls.TLSSocket,
  done: "secure" | "secureConnect",
): Promise<tls.TLSSocket> {
  return new Promise((resolve, reject) => {
    const failed = (error: Error) => {
      socket.destroy();
      reject(error);
    };
    socket.once("error", failed);
    socket.once(done, () => {
      socket.off("error", failed);
      resolve(socket);
    });
  });
}

export const tlsFunctions: Record<string, HostFunction<Process>> = {
  tls_bind: suspendingFn(
    [...ADDRESS, "i32", "i32", "i32", "i32", "i32"],
    ["i32"],
    (
      type: number,
      ptr: number,
      port: number,
      flow: number,
      scope: number,
      idPtr: number,
      certPtr: number,
      certLen: number,
      keyPtr: number,
      keyLen: number,
      p: Process,
    ) => {
      const address = readSocketAddress(p.memory, type, ptr, port, flow, scope);
      p.memory.check(idPtr, 8);
      const cert = readPem(p, certPtr, certLen, "CERTIFICATE", "certificate");
      const key = readPem(p, keyPtr, keyLen, "PRIVATE KEY", "key (PKCS#8)");
      let context: tls.SecureContext;
      try {
        context = tls.createSecureContext({ cert, key });
      } catch (error) {
        trap(`the TLS certificate or key cannot be used: ${(error as Error).message}`);
      }
      return bindListener(p, address, idPtr, (bound) => new TlsListener(bound, context));
    },
  ),
  drop_tls_listener: hostFn(["i64"], [], (id: bigint, p: Process) => {
    tlsListenerOf(p, id);
    networking(p).tlsListeners.take(id)!.close();
  }),
  tls_local_addr: hostFn(["i64", "i32"], ["i32"], (id: bigint, idPtr: number, p: Process) => {
    const listener = tlsListenerOf(p, id);
    return writeAddress(p, idPtr, () => listener.address());
  }),
  tls_accept: suspendingFn(
    ["i64", "i32", "i32"],
    ["i32"],
    async (id: bigint, idPtr: number, peerPtr: number, p: Process) => {
      const listener = tlsListenerOf(p, id);
      p.memory.check(idPtr, 8);
      p.memory.check(peerPtr, 8);
      const socket = await listener.accept(p);
      let secured: tls.TLSSocket;
      let peer: SocketAddress;
      try {
        peer = peerAddress(socket);
        const secure = new tls.TLSSocket(socket, {
          isServer: true,
          secureContext: listener.context,
        });
        secured = await p.suspend(handshake(secure, "secure"));
      } catch (error) {
        socket.destroy();
        if (isUnwinding(error)) throw error;
        p.memory.writeU64(peerPtr, 0);
        return reportError(p, idPtr, error);
      }
      p.memory.writeU64(idPtr, addStream(p, "tls_stream", new StreamConnection(secured)));
      p.memory.writeU64(peerPtr, addressIterator(p, peer));
      return 0;
    },
  ),
  tls_connect: suspendingFn(
    ["i32", "i32", "i32", "i64", "i32", "i32", "i32"],
    ["i32"],
    async (
      hostPtr: number,
      hostLen: number,
      port: number,
      timeout: bigint,
      idPtr: number,
      certsPtr: number,
      certsCount: number,
      p: Process,
    ) => {
      const host = p.memory.readString(hostPtr, hostLen, "the TLS host name");
      p.memory.check(idPtr, 8);
      const caCerts = extraCaCerts(p, certsPtr, certsCount);
      let tcp: net.Socket | typeof TIMED_OUT | undefined;
      try {
        // The timeout covers the TCP connection only, as in lunatic.
        const ip = parseIp(host);
        const addresses = ip !== null
          ? [fromHostPort(host, port & 0xffff)]
          : await resolveHost(p, host, port & 0xffff);
        tcp = await connectFirst(p, addresses, timeout);
        if (tcp === TIMED_OUT) return TIMEOUT;
        const secure = tls.connect({
          socket: tcp,
          servername: ip === null ? host : undefined,
          host,
          ...(caCerts === null ? {} : { ca: caCerts }),
        });
        const secured = await p.suspend(handshake(secure, "secureConnect"));
        p.memory.writeU64(idPtr, addStream(p, "tls_stream", new StreamConnection(secured)));
        return 0;
      } catch (error) {
        if (tcp !== undefined && tcp !== TIMED_OUT) tcp.destroy();
        if (isUnwinding(error)) throw error;
        return reportError(p, idPtr, error);
      }
    },
  ),
  ...streamFunctions("tls_stream", "tls"),
  set_tls_read_timeout: readTimeout.set,
  get_tls_read_timeout: readTimeout.get,
  set_tls_write_timeout: writeTimeout.set,
  get_tls_write_timeout: writeTimeout.get,
};

/** Connects to the first of `addresses` that accepts, each within `timeout`. */
async function connectFirst(
  process: Process,
  addresses: SocketAddress[],
  timeout: bigint,
): Promise<net.Socket | typeof TIMED_OUT> {
  let failure: unknown = new Error("could not resolve to any address");
  for (const address of addresses) {
    try {
      return await connectTo(process, address, timeout);
    } catch (error) {
      if (isUnwinding(error)) throw error;
      failure = error;
    }
  }
  throw failure;
}
