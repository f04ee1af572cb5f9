/**
 * Socket addresses between the guest and Deno (spec §1.9): the five-parameter input
 * convention `(addr_type, addr_ptr, port, flow_info, scope_id)`, IP octets to and from the
 * strings Deno and `node:dgram` take, and `"host:port"` strings as tokio's `lookup_host`
 * parses them.
 */
import { trap } from "../../runtime/errors.ts";
import type { GuestMemory } from "../../runtime/guest_memory.ts";

/** A socket address as a DNS iterator yields it. */
export interface SocketAddress {
  readonly family: 4 | 6;
  /** 4 or 16 octets, network order. */
  readonly octets: Uint8Array;
  readonly port: number;
  /** IPv6 only (Deno does not report them: 0). */
  readonly flowInfo: number;
  readonly scopeId: number;
}

/** Reads a socket address passed in the five-parameter convention; traps on a bad type. */
export function readSocketAddress(
  memory: GuestMemory,
  addrType: number,
  addrPtr: number,
  port: number,
  flowInfo: number,
  scopeId: number,
): SocketAddress {
  if (addrType === 4) {
    return {
      family: 4,
      octets: memory.copy(addrPtr, 4),
      port: port & 0xffff,
      flowInfo: 0,
      scopeId: 0,
    };
  }
  if (addrType === 6) {
    return {
      family: 6,
      octets: memory.copy(addrPtr, 16),
      port: port & 0xffff,
      flowInfo: flowInfo >>> 0,
      scopeId: scopeId >>> 0,
    };
  }
  trap(`Unsupported address type ${addrType} (4 or 6)`);
}

/** The address's IP as text: `127.0.0.1`, `::1`, `fe80::1%2` (a scope ID as a number). */
export function ipText(address: SocketAddress): string {
  if (address.family === 4) return address.octets.join(".");
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((address.octets[i] << 8) | address.octets[i + 1]);
  // The longest run of two or more zero groups becomes "::" (RFC 5952).
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  const hex = (list: number[]) => list.map((g) => g.toString(16)).join(":");
  const text = bestStart < 0
    ? hex(groups)
    : `${hex(groups.slice(0, bestStart))}::${hex(groups.slice(bestStart + bestLength))}`;
  return address.scopeId !== 0 ? `${text}%${address.scopeId}` : text;
}

/** Parses an IPv4 or IPv6 literal (IPv6 may carry `%scope` and an embedded IPv4); null if not. */
export function parseIp(
  text: string,
): { family: 4 | 6; octets: Uint8Array; scopeId: number } | null {
  const v4 = parseIpv4(text);
  if (v4 !== null) return { family: 4, octets: v4, scopeId: 0 };
  const percent = text.indexOf("%");
  const body = percent < 0 ? text : text.slice(0, percent);
  const scope = percent < 0 ? "" : text.slice(percent + 1);
  const scopeId = scope === "" ? 0 : /^\d+$/.test(scope) ? Number(scope) : NaN;
  if (!(scopeId >= 0 && scopeId <= 0xffffffff)) return null;
  const v6 = parseIpv6(body);
  return v6 === null ? null : { family: 6, octets: v6, scopeId };
}

/**
 * Dotted-quad IPv4: four decimal parts of 0–255 without leading zeros. Read character by
 * character: every accepted connection's peer address comes through here.
 */
function parseIpv4(text: string): Uint8Array | null {
  const octets = new Uint8Array(4);
  let part = 0;
  let value = 0;
  let digits = 0;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code === 0x2e) { // "."
      if (digits === 0 || part === 3) return null;
      octets[part++] = value;
      value = 0;
      digits = 0;
    } else if (code >= 0x30 && code <= 0x39) {
      if (digits > 0 && value === 0) return null; // a leading zero
      value = value * 10 + code - 0x30;
      if (++digits > 3 || value > 255) return null;
    } else {
      return null;
    }
  }
  if (digits === 0 || part !== 3) return null;
  octets[3] = value;
  return octets;
}

function parseIpv6(text: string): Uint8Array | null {
  const halves = text.split("::");
  if (halves.length > 2) return null;
  const groupsOf = (part: string): number[] | null => {
    if (part === "") return [];
    const groups: number[] = [];
    const pieces = part.split(":");
    for (let i = 0; i < pieces.length; i++) {
      const piece = pieces[i];
      if (i === pieces.length - 1 && piece.includes(".")) {
        const v4 = parseIpv4(piece);
        if (v4 === null) return null;
        groups.push((v4[0] << 8) | v4[1], (v4[2] << 8) | v4[3]);
      } else if (/^[0-9a-fA-F]{1,4}$/.test(piece)) {
        groups.push(parseInt(piece, 16));
      } else {
        return null;
      }
    }
    return groups;
  };
  const head = groupsOf(halves[0]);
  const tail = halves.length === 2 ? groupsOf(halves[1]) : [];
  if (head === null || tail === null) return null;
  const missing = 8 - head.length - tail.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) return null;
  const groups = [...head, ...new Array(halves.length === 2 ? missing : 0).fill(0), ...tail];
  const octets = new Uint8Array(16);
  groups.forEach((g, i) => {
    octets[2 * i] = g >> 8;
    octets[2 * i + 1] = g & 0xff;
  });
  return octets;
}

/** A socket address from the IP text and port a Deno, `node:net` or `node:dgram` socket reports. */
export function fromHostPort(hostname: string, port: number): SocketAddress {
  let text = hostname.startsWith("[") ? hostname.slice(1, -1) : hostname;
  // A zone given as an interface name (`fe80::1%eth0`) has no number to report: scope ID 0.
  if (text.includes("%")) text = text.replace(/%\D.*$/, "");
  const ip = parseIp(text);
  if (ip === null) throw new Error(`not an IP address: ${hostname}`);
  return { family: ip.family, octets: ip.octets, port, flowInfo: 0, scopeId: ip.scopeId };
}

/**
 * Splits `"host:port"` as tokio's `lookup_host` does: an IP literal with its port
 * (`127.0.0.1:80`, `[::1]:80`, `[fe80::1%2]:80`), or a name with its port. Returns null when
 * the string is not of that form (a bare name, a missing or bad port).
 */
export function splitHostPort(text: string): { host: string; port: number } | null {
  let host: string;
  let portText: string;
  if (text.startsWith("[")) {
    const close = text.indexOf("]");
    if (close < 0 || text[close + 1] !== ":") return null;
    host = text.slice(1, close);
    portText = text.slice(close + 2);
    if (parseIp(host)?.family !== 6) return null;
  } else {
    const colon = text.lastIndexOf(":");
    if (colon <= 0) return null;
    host = text.slice(0, colon);
    portText = text.slice(colon + 1);
    if (host.includes(":")) return null; // an IPv6 literal needs brackets
  }
  if (!/^\d{1,5}$/.test(portText) || Number(portText) > 65535) return null;
  return { host, port: Number(portText) };
}
