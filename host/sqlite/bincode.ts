/**
 * The bincode (1.x, default options: little-endian, u64 lengths, u32 enum tags) of
 * lunatic-sqlite-api's wire types (spec §1.15):
 *
 *   BindList(Vec<BindPair(BindKey, BindValue)>)
 *   BindKey   = None | Numeric(usize) | String(String)
 *   BindValue = Null | Blob(Vec<u8>) | Text(String) | Double(f64) | Int(i32) | Int64(i64)
 *   SqliteValue = Null | Blob | Text | Double(f64) | Integer(i64) | I64(i64)
 *   SqliteRow(Vec<SqliteValue>), Vec<String>
 *   SqliteError { code: Option<u32>, message: Option<String> }
 */

/** A value SQLite stores or binds, as JavaScript holds it. */
export type SqlValue = null | Uint8Array | string | number | bigint;

export type BindKey = { kind: "none" } | { kind: "index"; index: number } | {
  kind: "name";
  name: string;
};

export interface BindPair {
  key: BindKey;
  value: SqlValue;
}

/** Bytes that are not a BindList; the message says where and why. */
export class BincodeError extends Error {}

class Reader {
  #at = 0;
  readonly #view: DataView;

  constructor(readonly bytes: Uint8Array) {
    this.#view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  #need(count: number, what: string): number {
    const at = this.#at;
    if (at + count > this.bytes.length) {
      throw new BincodeError(
        `${what} at byte ${at} runs past the end (${this.bytes.length} bytes)`,
      );
    }
    this.#at += count;
    return at;
  }

  u32(what: string): number {
    return this.#view.getUint32(this.#need(4, what), true);
  }

  u64(what: string): bigint {
    return this.#view.getBigUint64(this.#need(8, what), true);
  }

  length(what: string): number {
    const length = this.u64(what);
    if (length > BigInt(this.bytes.length)) {
      throw new BincodeError(`${what} claims ${length} items, more than the payload holds`);
    }
    return Number(length);
  }

  bytesOf(what: string): Uint8Array {
    const length = this.length(`${what} length`);
    const at = this.#need(length, what);
    return this.bytes.slice(at, at + length);
  }

  text(what: string): string {
    try {
      return new TextDecoder("utf-8", { fatal: true }).decode(this.bytesOf(what));
    } catch (error) {
      if (error instanceof BincodeError) throw error;
      throw new BincodeError(`${what} is not UTF-8`);
    }
  }

  f64(what: string): number {
    return this.#view.getFloat64(this.#need(8, what), true);
  }

  i32(what: string): number {
    return this.#view.getInt32(this.#need(4, what), true);
  }

  i64(what: string): bigint {
    return this.#view.getBigInt64(this.#need(8, what), true);
  }

  get done(): boolean {
    return this.#at === this.bytes.length;
  }
}

/** Decodes a BindList. */
export function decodeBindList(bytes: Uint8Array): BindPair[] {
  const reader = new Reader(bytes);
  const count = reader.length("bind list length");
  const pairs: BindPair[] = [];
  for (let i = 0; i < count; i++) {
    const keyTag = reader.u32("bind key");
    let key: BindKey;
    if (keyTag === 0) key = { kind: "none" };
    else if (keyTag === 1) {
      const index = reader.u64("bind index");
      if (index > 32_766n) throw new BincodeError(`bind index ${index} is past SQLite's limit`);
      key = { kind: "index", index: Number(index) };
    } else if (keyTag === 2) key = { kind: "name", name: reader.text("bind name") };
    else throw new BincodeError(`unknown bind key variant ${keyTag}`);
    const valueTag = reader.u32("bind value");
    let value: SqlValue;
    switch (valueTag) {
      case 0:
        value = null;
        break;
      case 1:
        value = reader.bytesOf("blob");
        break;
      case 2:
        value = reader.text("text");
        break;
      case 3:
        value = reader.f64("double");
        break;
      case 4:
        value = BigInt(reader.i32("int"));
        break;
      case 5:
        value = reader.i64("int64");
        break;
      default:
        throw new BincodeError(`unknown bind value variant ${valueTag}`);
    }
    pairs.push({ key, value });
  }
  if (!reader.done) throw new BincodeError("bytes left after the bind list");
  return pairs;
}

class Writer {
  readonly #parts: Uint8Array[] = [];

  u8(value: number): void {
    this.#parts.push(new Uint8Array([value]));
  }

  u32(value: number): void {
    const bytes = new Uint8Array(4);
    new DataView(bytes.buffer).setUint32(0, value, true);
    this.#parts.push(bytes);
  }

  u64(value: number | bigint): void {
    const bytes = new Uint8Array(8);
    new DataView(bytes.buffer).setBigUint64(0, BigInt(value), true);
    this.#parts.push(bytes);
  }

  i64(value: bigint): void {
    const bytes = new Uint8Array(8);
    new DataView(bytes.buffer).setBigInt64(0, BigInt.asIntN(64, value), true);
    this.#parts.push(bytes);
  }

  f64(value: number): void {
    const bytes = new Uint8Array(8);
    new DataView(bytes.buffer).setFloat64(0, value, true);
    this.#parts.push(bytes);
  }

  bytes(value: Uint8Array): void {
    this.u64(value.length);
    this.#parts.push(value);
  }

  text(value: string): void {
    this.bytes(new TextEncoder().encode(value));
  }

  finish(): Uint8Array {
    const out = new Uint8Array(this.#parts.reduce((sum, part) => sum + part.length, 0));
    let at = 0;
    for (const part of this.#parts) {
      out.set(part, at);
      at += part.length;
    }
    return out;
  }
}

function writeValue(writer: Writer, value: SqlValue): void {
  if (value === null) writer.u32(0);
  else if (value instanceof Uint8Array) {
    writer.u32(1);
    writer.bytes(value);
  } else if (typeof value === "string") {
    writer.u32(2);
    writer.text(value);
  } else if (typeof value === "number") {
    writer.u32(3);
    writer.f64(value);
  } else {
    // SQLite's INTEGER is read as SqliteValue::Integer (lunatic never produces I64).
    writer.u32(4);
    writer.i64(value);
  }
}

/** A SqliteValue. */
export function encodeValue(value: SqlValue): Uint8Array {
  const writer = new Writer();
  writeValue(writer, value);
  return writer.finish();
}

/** A SqliteRow. */
export function encodeRow(values: readonly SqlValue[]): Uint8Array {
  const writer = new Writer();
  writer.u64(values.length);
  for (const value of values) writeValue(writer, value);
  return writer.finish();
}

/** A Vec<String>. */
export function encodeStrings(values: readonly string[]): Uint8Array {
  const writer = new Writer();
  writer.u64(values.length);
  for (const value of values) writer.text(value);
  return writer.finish();
}

/** A SqliteError. */
export function encodeError(code: number | null, message: string | null): Uint8Array {
  const writer = new Writer();
  if (code === null) writer.u8(0);
  else {
    writer.u8(1);
    writer.u32(code);
  }
  if (message === null) writer.u8(0);
  else {
    writer.u8(1);
    writer.text(message);
  }
  return writer.finish();
}
