/**
 * Node-to-node messages (spec §8.3): frames of `[u32 LE length][MessagePack payload]`, the
 * payload `(msg_id, Request)` or `(msg_id, Response)` laid out as lunatic's `rmp_serde` lays
 * them out (structs as arrays; enums externally tagged, unit variants as their name).
 *
 * Two differences from lunatic's bytes: `Vec<u8>` fields (message data, configs) travel as
 * MessagePack `bin` (rmp_serde writes an array of numbers, ~1.5 bytes a byte; both forms are
 * read), and there are requests lunatic does not have, for links and monitors across nodes:
 *
 *   Link {environment_id, process_id, from_node, from_process, tag}   -> Linked | Error
 *   Unlink {environment_id, process_id, from_node, from_process}     -> Sent
 *   Monitor {environment_id, process_id, from_node, from_process}    -> Linked | Error
 *   Demonitor {environment_id, process_id, from_node, from_process}  -> Sent
 *   Exited {environment_id, process_id, from_node, from_process, failed, reason} -> Sent
 *     (process `from_process` of `from_node`, linked to or monitored by `process_id`, ended)
 *   Exists {environment_id, process_id}                              -> Exists(bool)
 */
import { Decoder, Encoder } from "@msgpack/msgpack";

// One of each, reused: `encode`/`decode` make a new one (and its buffers and key cache) per
// call, which was most of a frame's cost.
const encoder = new Encoder({ useBigInt64: true });
const decoder = new Decoder({ useBigInt64: true });

/** A spawn argument (lunatic's `Val`). */
export type Val = { I32: number } | { I64: bigint } | { V128: bigint };

/** Who a link or monitor request is from: a process on a node. */
export interface RemoteEnd {
  environmentId: bigint;
  processId: bigint;
  fromNode: bigint;
  fromProcess: bigint;
}

export type Request =
  | {
    kind: "Spawn";
    environmentId: bigint;
    moduleId: bigint;
    function: string;
    params: Val[];
    config: Uint8Array;
  }
  | {
    kind: "Message";
    environmentId: bigint;
    processId: bigint;
    tag: bigint | null;
    data: Uint8Array;
  }
  | ({ kind: "Link"; tag: bigint } & RemoteEnd)
  | ({ kind: "Unlink" } & RemoteEnd)
  | ({ kind: "Monitor" } & RemoteEnd)
  | ({ kind: "Demonitor" } & RemoteEnd)
  | ({ kind: "Exited"; failed: boolean; reason: string } & RemoteEnd)
  | { kind: "Exists"; environmentId: bigint; processId: bigint };

export type ClientError =
  | { kind: "Unexpected"; message: string }
  | { kind: "Connection"; message: string }
  | { kind: "NodeNotFound" }
  | { kind: "ModuleNotFound" }
  | { kind: "ProcessNotFound" };

export type Response =
  | { kind: "Spawned"; processId: bigint }
  | { kind: "Sent" }
  | { kind: "Linked" }
  | { kind: "Exists"; exists: boolean }
  | { kind: "Error"; error: ClientError };

/** A payload that is not a valid request or response; the connection that sent it closes. */
export class WireError extends Error {
  constructor(message: string) {
    super(`bad frame: ${message}`);
  }
}

/** Frames larger than this are refused (a module travels through control, not here). */
export const MAX_FRAME_BYTES = 64 * 1024 * 1024;

const REQUEST_KINDS = new Set([
  "Spawn",
  "Message",
  "Link",
  "Unlink",
  "Monitor",
  "Demonitor",
  "Exited",
  "Exists",
]);

/** A u64 as MessagePack writes it: a plain integer while one fits a double. */
function u64(value: bigint): number | bigint {
  const unsigned = BigInt.asUintN(64, value);
  return unsigned <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(unsigned) : unsigned;
}

function i64(value: bigint): number | bigint {
  const signed = BigInt.asIntN(64, value);
  return signed >= BigInt(Number.MIN_SAFE_INTEGER) && signed <= BigInt(Number.MAX_SAFE_INTEGER)
    ? Number(signed)
    : signed;
}

function frame(payload: Uint8Array): Uint8Array<ArrayBuffer> {
  const bytes = new Uint8Array(4 + payload.length);
  new DataView(bytes.buffer).setUint32(0, payload.length, true);
  bytes.set(payload, 4);
  return bytes;
}

function endFields(end: RemoteEnd): (number | bigint)[] {
  return [u64(end.environmentId), u64(end.processId), u64(end.fromNode), u64(end.fromProcess)];
}

function requestBody(request: Request): unknown {
  switch (request.kind) {
    case "Spawn":
      return {
        Spawn: [
          u64(request.environmentId),
          u64(request.moduleId),
          request.function,
          request.params.map((val) =>
            "I32" in val ? val : "I64" in val ? { I64: i64(val.I64) } : { V128: val.V128 }
          ),
          request.config,
        ],
      };
    case "Message":
      return {
        Message: [
          u64(request.environmentId),
          u64(request.processId),
          request.tag === null ? null : i64(request.tag),
          request.data,
        ],
      };
    case "Link":
      return { Link: [...endFields(request), i64(request.tag)] };
    case "Unlink":
    case "Monitor":
    case "Demonitor":
      return { [request.kind]: endFields(request) };
    case "Exited":
      return { Exited: [...endFields(request), request.failed, request.reason] };
    case "Exists":
      return { Exists: [u64(request.environmentId), u64(request.processId)] };
  }
}

function responseBody(response: Response): unknown {
  switch (response.kind) {
    case "Spawned":
      return { Spawned: u64(response.processId) };
    case "Sent":
    case "Linked":
      return response.kind;
    case "Exists":
      return { Exists: response.exists };
    case "Error": {
      const error = response.error;
      const body = error.kind === "Unexpected" || error.kind === "Connection"
        ? { [error.kind]: error.message }
        : error.kind;
      return { Error: body };
    }
  }
}

/**
 * A request's payload (a frame without its length), as a view of the encoder's own buffer:
 * valid until the next encode, so the caller copies it out at once (into its output).
 */
export function requestPayload(msgId: bigint, request: Request): Uint8Array {
  return encoder.encodeSharedRef([u64(msgId), requestBody(request)]);
}

/** A response's payload, as {@link requestPayload} gives a request's. */
export function responsePayload(msgId: bigint, response: Response): Uint8Array {
  return encoder.encodeSharedRef([u64(msgId), responseBody(response)]);
}

export function encodeRequest(msgId: bigint, request: Request): Uint8Array<ArrayBuffer> {
  return frame(requestPayload(msgId, request));
}

export function encodeResponse(msgId: bigint, response: Response): Uint8Array<ArrayBuffer> {
  return frame(responsePayload(msgId, response));
}

/** A decoded payload: a request to answer or a response to a request of ours. */
export type Incoming =
  | { msgId: bigint; request: Request }
  | { msgId: bigint; response: Response };

/** Decodes one frame's payload (the bytes after its length). */
export function decodePayload(payload: Uint8Array): Incoming {
  let value: unknown;
  try {
    value = decoder.decode(payload);
  } catch (error) {
    throw new WireError(`not MessagePack (${(error as Error).message})`);
  }
  if (!Array.isArray(value) || value.length !== 2) throw new WireError("not a (msg_id, body) pair");
  const msgId = toU64(value[0], "msg_id");
  const [name, body] = variant(value[1]);
  if (REQUEST_KINDS.has(name) && !(name === "Exists" && !Array.isArray(body))) {
    return { msgId, request: decodeRequest(name, body) };
  }
  return { msgId, response: decodeResponse(name, body) };
}

/** An externally tagged enum value: its variant name and contents. */
function variant(value: unknown): [string, unknown] {
  if (typeof value === "string") return [value, undefined];
  if (typeof value === "object" && value !== null && !Array.isArray(value)) {
    const entries = Object.entries(value);
    if (entries.length === 1) return entries[0];
  }
  throw new WireError("an enum value is neither a name nor a one-entry map");
}

function fields(body: unknown, count: number, what: string): unknown[] {
  if (!Array.isArray(body) || body.length < count) {
    throw new WireError(`${what} needs ${count} fields`);
  }
  return body;
}

function decodeRequest(name: string, body: unknown): Request {
  if (name === "Spawn") {
    const [environmentId, moduleId, fn, params, config] = fields(body, 5, "Spawn");
    if (typeof fn !== "string") throw new WireError("Spawn.function is not a string");
    if (!Array.isArray(params)) throw new WireError("Spawn.params is not a list");
    return {
      kind: "Spawn",
      environmentId: toU64(environmentId, "environment_id"),
      moduleId: toU64(moduleId, "module_id"),
      function: fn,
      params: params.map(decodeVal),
      config: toBytes(config, "Spawn.config"),
    };
  }
  if (name === "Message") {
    const [environmentId, processId, tag, data] = fields(body, 4, "Message");
    return {
      kind: "Message",
      environmentId: toU64(environmentId, "environment_id"),
      processId: toU64(processId, "process_id"),
      tag: tag === null || tag === undefined ? null : toI64(tag, "tag"),
      data: toBytes(data, "Message.data"),
    };
  }
  if (name === "Exists") {
    const [environmentId, processId] = fields(body, 2, "Exists");
    return {
      kind: "Exists",
      environmentId: toU64(environmentId, "environment_id"),
      processId: toU64(processId, "process_id"),
    };
  }
  const list = fields(body, 4, name);
  const end: RemoteEnd = {
    environmentId: toU64(list[0], "environment_id"),
    processId: toU64(list[1], "process_id"),
    fromNode: toU64(list[2], "from_node"),
    fromProcess: toU64(list[3], "from_process"),
  };
  switch (name) {
    case "Link":
      return { kind: "Link", ...end, tag: toI64(fields(body, 5, name)[4], "tag") };
    case "Exited": {
      const [, , , , failed, reason] = fields(body, 6, name);
      if (typeof failed !== "boolean" || typeof reason !== "string") {
        throw new WireError("Exited needs failed: bool and reason: string");
      }
      return { kind: "Exited", ...end, failed, reason };
    }
    default:
      return { kind: name as "Unlink" | "Monitor" | "Demonitor", ...end };
  }
}

function decodeResponse(name: string, body: unknown): Response {
  switch (name) {
    case "Spawned":
      return { kind: "Spawned", processId: toU64(body, "Spawned") };
    case "Sent":
    case "Linked":
      return { kind: name };
    case "Exists":
      if (typeof body !== "boolean") throw new WireError("Exists is not a bool");
      return { kind: "Exists", exists: body };
    case "Error": {
      const [errorName, message] = variant(body);
      if (errorName === "Unexpected" || errorName === "Connection") {
        if (typeof message !== "string") throw new WireError(`${errorName} needs a message`);
        return { kind: "Error", error: { kind: errorName, message } };
      }
      if (["NodeNotFound", "ModuleNotFound", "ProcessNotFound"].includes(errorName)) {
        const kind = errorName as "NodeNotFound" | "ModuleNotFound" | "ProcessNotFound";
        return { kind: "Error", error: { kind } };
      }
      throw new WireError(`unknown error ${errorName}`);
    }
  }
  throw new WireError(`unknown message ${name}`);
}

function decodeVal(value: unknown): Val {
  const [name, content] = variant(value);
  if (name === "I32") {
    const number = Number(toI64(content, "I32"));
    if (number < -(2 ** 31) || number >= 2 ** 31) throw new WireError("I32 out of range");
    return { I32: number };
  }
  if (name === "I64") return { I64: toI64(content, "I64") };
  if (name === "V128") {
    if (typeof content !== "bigint" && typeof content !== "number") throw new WireError("V128");
    return { V128: BigInt(content) };
  }
  throw new WireError(`unknown Val ${name}`);
}

function toU64(value: unknown, what: string): bigint {
  if (typeof value === "bigint" && value >= 0n && value < 1n << 64n) return value;
  if (typeof value === "number" && Number.isSafeInteger(value) && value >= 0) return BigInt(value);
  throw new WireError(`${what} is not a u64`);
}

function toI64(value: unknown, what: string): bigint {
  if (typeof value === "bigint") return BigInt.asIntN(64, value);
  if (typeof value === "number" && Number.isSafeInteger(value)) return BigInt(value);
  throw new WireError(`${what} is not an i64`);
}

/** `bin`, or rmp_serde's array of numbers. */
function toBytes(value: unknown, what: string): Uint8Array {
  if (value instanceof Uint8Array) return value;
  if (Array.isArray(value) && value.every((n) => typeof n === "number" && n >= 0 && n < 256)) {
    return Uint8Array.from(value);
  }
  throw new WireError(`${what} is not bytes`);
}

/**
 * Cuts a byte stream into frames: feed it what arrives, take the payloads that are whole.
 * A frame over {@link MAX_FRAME_BYTES} is a WireError.
 */
export class FrameReader {
  /** Bytes received and not yet cut, in arrival order; `#size` in all. */
  #chunks: Uint8Array[] = [];
  #size = 0;
  /** The length of the frame being received, once its 4 bytes are in. */
  #expected = -1;

  push(chunk: Uint8Array): Uint8Array[] {
    this.#chunks.push(chunk);
    this.#size += chunk.length;
    const payloads: Uint8Array[] = [];
    for (;;) {
      if (this.#expected === -1) {
        if (this.#size < 4) break;
        const length = this.#takeLength();
        if (length > MAX_FRAME_BYTES) {
          throw new WireError(`a frame of ${length} bytes (at most ${MAX_FRAME_BYTES})`);
        }
        this.#expected = length;
      }
      if (this.#size < this.#expected) break;
      payloads.push(this.#take(this.#expected));
      this.#expected = -1;
    }
    return payloads;
  }

  /** The next 4 bytes, removed, as a u32 LE (no allocation: this runs once per frame). */
  #takeLength(): number {
    let value = 0;
    for (let i = 0; i < 4; i++) {
      const head = this.#chunks[0];
      value |= head[0] << (8 * i);
      if (head.length === 1) this.#chunks.shift();
      else this.#chunks[0] = head.subarray(1);
    }
    this.#size -= 4;
    return value >>> 0;
  }

  /**
   * The next `count` received bytes, removed: a view of the chunk when it holds them all (the
   * usual case: one read, whole frames), a copy only when they span chunks.
   */
  #take(count: number): Uint8Array {
    this.#size -= count;
    const head = this.#chunks[0];
    if (head.length >= count) {
      if (head.length === count) this.#chunks.shift();
      else this.#chunks[0] = head.subarray(count);
      return head.subarray(0, count);
    }
    const out = new Uint8Array(count);
    let filled = 0;
    while (filled < count) {
      const first = this.#chunks[0];
      const used = Math.min(first.length, count - filled);
      out.set(first.subarray(0, used), filled);
      filled += used;
      if (used === first.length) this.#chunks.shift();
      else this.#chunks[0] = first.subarray(used);
    }
    return out;
  }
}
