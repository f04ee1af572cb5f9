/**
 * The addresses this isolate's listeners hold while they share their port with SO_REUSEPORT
 * (a TLS listener always does, for its several accepting sockets; a TCP listener does under
 * `lunatic run --parallel`). That option would let a second bind of the same address succeed
 * and split its connections; this refuses it with EADDRINUSE, as the kernel refuses a socket
 * without the option. Other isolates (the other instances of a parallel run) have their own.
 */
import { ipText, type SocketAddress } from "./addresses.ts";

const boundAddresses = new Set<string>();

/** Whether binding `address` would overlap one held here (the same port on it or a wildcard). */
export function overlapsBound(address: SocketAddress): boolean {
  if (address.port === 0) return false;
  const ip = ipText(address);
  const wildcards = ["0.0.0.0", "::"];
  for (const key of boundAddresses) {
    const [boundIp, boundPort] = key.split("|");
    if (Number(boundPort) !== address.port) continue;
    if (boundIp === ip || wildcards.includes(boundIp) || wildcards.includes(ip)) return true;
  }
  return false;
}

/** The error a bind gets for an address held here. */
export function addressInUse(): Error {
  return Object.assign(new Error("address in use"), { code: "EADDRINUSE" });
}

/** Holds `address` (as bound, with its real port) until the returned function is called. */
export function holdAddress(address: SocketAddress): () => void {
  const key = `${ipText(address)}|${address.port}`;
  boundAddresses.add(key);
  return () => boundAddresses.delete(key);
}
