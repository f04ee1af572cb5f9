/**
 * The subset of ASN.1 DER that certificates and certificate requests need: building values
 * (definite lengths, minimal integers) and reading them back as a tree of tagged values.
 * Reading is strict: a length that runs past its parent, or bytes left after a value, is an
 * error naming the offset, so a malformed request from the network never reads garbage.
 */

/** Universal tags used here. */
export const Tag = {
  BOOLEAN: 0x01,
  INTEGER: 0x02,
  BIT_STRING: 0x03,
  OCTET_STRING: 0x04,
  NULL: 0x05,
  OID: 0x06,
  UTF8_STRING: 0x0c,
  PRINTABLE_STRING: 0x13,
  IA5_STRING: 0x16,
  UTC_TIME: 0x17,
  GENERALIZED_TIME: 0x18,
  SEQUENCE: 0x30,
  SET: 0x31,
} as const;

/** A DER value as read: its tag byte, its contents, and the whole encoding. */
export interface DerValue {
  tag: number;
  contents: Uint8Array;
  encoded: Uint8Array;
}

export class DerError extends Error {
  /** `prefix` says which layer is wrong: the DER inside, or (empty) the PEM around it. */
  constructor(message: string, prefix = "malformed DER: ") {
    super(`${prefix}${message}`);
  }
}

function lengthBytes(length: number): number[] {
  if (length < 0x80) return [length];
  const bytes: number[] = [];
  for (let rest = length; rest > 0; rest = Math.floor(rest / 256)) bytes.unshift(rest & 0xff);
  return [0x80 | bytes.length, ...bytes];
}

function concat(parts: Uint8Array[]): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

/** A value with tag `tag` and the given contents (several parts are concatenated). */
export function tlv(tag: number, ...contents: Uint8Array[]): Uint8Array<ArrayBuffer> {
  const body = concat(contents);
  return concat([new Uint8Array([tag, ...lengthBytes(body.length)]), body]);
}

export const sequence = (...items: Uint8Array[]) => tlv(Tag.SEQUENCE, ...items);
export const set = (...items: Uint8Array[]) => tlv(Tag.SET, ...items);
export const nullValue = () => tlv(Tag.NULL);
export const octetString = (bytes: Uint8Array) => tlv(Tag.OCTET_STRING, bytes);
export const utf8String = (text: string) => tlv(Tag.UTF8_STRING, new TextEncoder().encode(text));
export const boolean = (value: boolean) => tlv(Tag.BOOLEAN, new Uint8Array([value ? 0xff : 0]));
/** A BIT STRING of whole bytes (no unused bits). */
export const bitString = (bytes: Uint8Array) => tlv(Tag.BIT_STRING, new Uint8Array([0]), bytes);
/** `[n]` EXPLICIT: a constructed context tag around a whole value. */
export const explicit = (n: number, value: Uint8Array) => tlv(0xa0 | n, value);
/** `[n]` IMPLICIT on a primitive value: the contents under a context tag. */
export const implicitPrimitive = (n: number, contents: Uint8Array) => tlv(0x80 | n, contents);

/** An INTEGER from a non-negative bigint or the unsigned big-endian bytes of one. */
export function integer(value: bigint | Uint8Array): Uint8Array<ArrayBuffer> {
  let bytes: number[];
  if (typeof value === "bigint") {
    if (value < 0n) throw new RangeError("negative INTEGERs are not needed here");
    bytes = [];
    for (let rest = value; rest > 0n; rest >>= 8n) bytes.unshift(Number(rest & 0xffn));
  } else {
    bytes = [...value];
  }
  while (bytes.length > 1 && bytes[0] === 0 && bytes[1] < 0x80) bytes.shift();
  if (bytes.length === 0) bytes = [0];
  if (bytes[0] >= 0x80) bytes.unshift(0);
  return tlv(Tag.INTEGER, new Uint8Array(bytes));
}

/** An OBJECT IDENTIFIER from its dotted form. */
export function oid(dotted: string): Uint8Array<ArrayBuffer> {
  const arcs = dotted.split(".").map((arc) => BigInt(arc));
  const bytes: number[] = [];
  const put = (arc: bigint) => {
    const group: number[] = [Number(arc & 0x7fn)];
    for (let rest = arc >> 7n; rest > 0n; rest >>= 7n) group.unshift(Number(rest & 0x7fn) | 0x80);
    bytes.push(...group);
  };
  put(arcs[0] * 40n + arcs[1]);
  for (const arc of arcs.slice(2)) put(arc);
  return tlv(Tag.OID, new Uint8Array(bytes));
}

/** A certificate validity time: UTCTime through 2049, GeneralizedTime after (RFC 5280). */
export function time(date: Date): Uint8Array<ArrayBuffer> {
  const iso = date.toISOString(); // YYYY-MM-DDTHH:MM:SS.sssZ
  const digits = iso.slice(0, 19).replace(/[-T:]/g, "") + "Z";
  const year = date.getUTCFullYear();
  if (year >= 1950 && year < 2050) {
    return tlv(Tag.UTC_TIME, new TextEncoder().encode(digits.slice(2)));
  }
  return tlv(Tag.GENERALIZED_TIME, new TextEncoder().encode(digits));
}

/** Reads the one value that `bytes` must hold entirely. */
export function readDer(bytes: Uint8Array): DerValue {
  const [value, end] = readAt(bytes, 0, bytes.length);
  if (end !== bytes.length) throw new DerError(`${bytes.length - end} bytes after the value`);
  return value;
}

/** The values inside a constructed value (a SEQUENCE, a SET, an explicit tag). */
export function children(value: DerValue): DerValue[] {
  if ((value.tag & 0x20) === 0) {
    throw new DerError(`tag 0x${value.tag.toString(16)} is not constructed`);
  }
  const items: DerValue[] = [];
  for (let at = 0; at < value.contents.length;) {
    const [item, end] = readAt(value.contents, at, value.contents.length);
    items.push(item);
    at = end;
  }
  return items;
}

/** Checks `value`'s tag, naming `what` when it is another. */
export function expect(value: DerValue | undefined, tag: number, what: string): DerValue {
  if (value === undefined) throw new DerError(`${what} is missing`);
  if (value.tag !== tag) {
    throw new DerError(
      `${what} has tag 0x${value.tag.toString(16)}, expected 0x${tag.toString(16)}`,
    );
  }
  return value;
}

/** The dotted form of an OBJECT IDENTIFIER. */
export function readOid(value: DerValue): string {
  expect(value, Tag.OID, "object identifier");
  const arcs: bigint[] = [];
  let arc = 0n;
  for (const byte of value.contents) {
    arc = (arc << 7n) | BigInt(byte & 0x7f);
    if ((byte & 0x80) === 0) {
      arcs.push(arc);
      arc = 0n;
    }
  }
  if (arcs.length === 0) throw new DerError("empty object identifier");
  const first = arcs[0] < 80n ? arcs[0] / 40n : 2n;
  return [first, arcs[0] - first * 40n, ...arcs.slice(1)].join(".");
}

/** The bytes of a BIT STRING with no unused bits. */
export function readBitString(value: DerValue): Uint8Array {
  expect(value, Tag.BIT_STRING, "bit string");
  if (value.contents[0] !== 0) throw new DerError("bit string with unused bits");
  return value.contents.subarray(1);
}

function readAt(bytes: Uint8Array, at: number, limit: number): [DerValue, number] {
  const start = at;
  if (at + 2 > limit) throw new DerError(`value at offset ${at} is cut short`);
  const tag = bytes[at++];
  if ((tag & 0x1f) === 0x1f) throw new DerError(`multi-byte tag at offset ${start}`);
  let length = bytes[at++];
  if (length & 0x80) {
    const count = length & 0x7f;
    if (count === 0 || count > 4) throw new DerError(`length of ${count} bytes at offset ${start}`);
    if (at + count > limit) throw new DerError(`length at offset ${start} is cut short`);
    length = 0;
    for (let i = 0; i < count; i++) length = length * 256 + bytes[at++];
  }
  if (at + length > limit) {
    throw new DerError(`value at offset ${start} claims ${length} bytes, ${limit - at} are left`);
  }
  const end = at + length;
  return [{ tag, contents: bytes.subarray(at, end), encoded: bytes.subarray(start, end) }, end];
}

/** PEM armour around DER bytes. */
export function toPem(label: string, der: Uint8Array): string {
  let base64 = "";
  const chunk = 0x8000;
  let binary = "";
  for (let i = 0; i < der.length; i += chunk) {
    binary += String.fromCharCode(...der.subarray(i, i + chunk));
  }
  base64 = btoa(binary);
  const lines = base64.match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join("\n")}\n-----END ${label}-----\n`;
}

/** The DER bytes of the first PEM block labelled `label` in `pem`. */
export function fromPem(label: string, pem: string): Uint8Array<ArrayBuffer> {
  const match = pem.match(
    new RegExp(`-----BEGIN ${label}-----([A-Za-z0-9+/=\\s]*)-----END ${label}-----`),
  );
  if (match === null) throw new DerError(`no PEM block "${label}"`, "");
  let binary: string;
  try {
    binary = atob(match[1].replace(/\s+/g, ""));
  } catch {
    throw new DerError(`the PEM block "${label}" is not base64`, "");
  }
  return Uint8Array.from(binary, (char) => char.charCodeAt(0));
}
