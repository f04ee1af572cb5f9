/**
 * `resolve`, `resolve_next`, `drop_dns_iterator` (spec §1.9). `resolve` takes `"host:port"`
 * as tokio's `lookup_host` does: IP literals are parsed without a lookup, names go to the
 * system's resolver (`node:dns` `lookup` is getaddrinfo, so `/etc/hosts` and `localhost`
 * count; `Deno.resolveDns` would skip them), and a name without a port is an error.
 */
import { lookup } from "node:dns";
import { trap } from "../../runtime/errors.ts";
import { hostFn, type HostFunction, suspendingFn } from "../../runtime/host_api.ts";
import type { Process } from "../../runtime/process.ts";
import { TIMEOUT } from "../../runtime/message.ts";
import { parseIp, type SocketAddress, splitHostPort } from "./addresses.ts";
import { isUnwinding, reportError, TIMED_OUT, withDeadline } from "./io.ts";
import { DnsIterator, networking } from "./resources.ts";

/** The addresses a name resolves to, in the resolver's order. */
function lookupAll(host: string): Promise<{ address: string; family: number }[]> {
  return new Promise((resolve, reject) => {
    lookup(host, { all: true, verbatim: true }, (error, addresses) => {
      if (error) reject(error);
      else resolve(addresses as { address: string; family: number }[]);
    });
  });
}

/** getaddrinfo's failures as Rust prints them (`failed to lookup address information: ...`). */
function lookupError(error: unknown): Error {
  const code = (error as { code?: string }).code;
  const reason = code === "ENOTFOUND" || code === "EAI_NONAME"
    ? "Name or service not known"
    : code === "EAI_AGAIN"
    ? "Temporary failure in name resolution"
    : code === "ENODATA" || code === "EAI_NODATA"
    ? "No address associated with hostname"
    : (error as Error).message;
  return new Error(`failed to lookup address information: ${reason}`);
}

/** The addresses of `host` (a name or an IP literal) with `port`; throws Rust-like errors. */
export async function resolveHost(
  p: Process,
  host: string,
  port: number,
): Promise<SocketAddress[]> {
  const found = await resolveAddresses(
    p,
    host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`,
    -1n,
  );
  if (found === TIMED_OUT) throw new Error("timed out"); // no deadline: cannot happen
  return found;
}

async function resolveAddresses(
  p: Process,
  text: string,
  timeout: bigint,
): Promise<SocketAddress[] | typeof TIMED_OUT> {
  const split = splitHostPort(text);
  if (split === null) throw new Error("invalid socket address");
  const literal = parseIp(split.host);
  if (literal !== null) {
    return [{ ...literal, port: split.port, flowInfo: 0 }];
  }
  let found;
  try {
    found = await withDeadline(p, lookupAll(split.host), timeout);
  } catch (error) {
    if (isUnwinding(error)) throw error;
    throw lookupError(error);
  }
  if (found === TIMED_OUT) return TIMED_OUT;
  return found.map(({ address }) => {
    const ip = parseIp(address);
    if (ip === null) throw new Error(`the resolver returned a bad address: ${address}`);
    return {
      family: ip.family,
      octets: ip.octets,
      port: split.port,
      flowInfo: 0,
      scopeId: ip.scopeId,
    };
  });
}

export const dnsFunctions: Record<string, HostFunction<Process>> = {
  resolve: suspendingFn(
    ["i32", "i32", "i64", "i32"],
    ["i32"],
    async (namePtr: number, nameLen: number, timeout: bigint, idPtr: number, p: Process) => {
      const text = p.memory.readString(namePtr, nameLen, "the name to resolve");
      p.memory.check(idPtr, 8);
      let addresses;
      try {
        addresses = await resolveAddresses(p, text, timeout);
      } catch (error) {
        if (isUnwinding(error)) throw error;
        return reportError(p, idPtr, error);
      }
      if (addresses === TIMED_OUT) {
        p.memory.writeU64(idPtr, 0); // lunatic writes 0 on a timeout
        return TIMEOUT;
      }
      p.memory.writeU64(idPtr, networking(p).dnsIterators.add(new DnsIterator(addresses)));
      return 0;
    },
  ),
  resolve_next: hostFn(
    ["i64", "i32", "i32", "i32", "i32", "i32"],
    ["i32"],
    (
      iteratorId: bigint,
      typePtr: number,
      addrPtr: number,
      portPtr: number,
      flowInfoPtr: number,
      scopeIdPtr: number,
      p: Process,
    ) => {
      const iterator = networking(p).dnsIterators.get(iteratorId);
      if (iterator === undefined) {
        trap(`unknown dns iterator id ${BigInt.asUintN(64, iteratorId)}`);
      }
      const address = iterator.next();
      if (address === undefined) return 1;
      p.memory.writeU32(typePtr, address.family);
      p.memory.write(addrPtr, address.octets);
      p.memory.writeU16(portPtr, address.port);
      if (address.family === 6) {
        p.memory.writeU32(flowInfoPtr, address.flowInfo);
        p.memory.writeU32(scopeIdPtr, address.scopeId);
      }
      return 0;
    },
  ),
  drop_dns_iterator: hostFn(["i64"], [], (iteratorId: bigint, p: Process) => {
    if (networking(p).dnsIterators.take(iteratorId) === undefined) {
      trap(`unknown dns iterator id ${BigInt.asUintN(64, iteratorId)}`);
    }
  }),
};
