/**
 * `lunatic::message`: the scratch slot, send and selective receive (spec §1.2, §3).
 */
import { trap } from "../runtime/errors.ts";
import { hostFn, type HostNamespace, suspendingFn } from "../runtime/host_api.ts";
import { DataMessage, type Message, receiveStatus, TIMEOUT } from "../runtime/message.ts";
import type { LunaticModule } from "../runtime/module.ts";
import type { Process } from "../runtime/process.ts";
import { guestTimeout } from "../runtime/timers.ts";
import {
  addHandle,
  handleForMessage,
  type OpenSocket,
  type Shared,
  type SocketKind,
} from "./networking/resources.ts";

/** The data message in the scratch slot, or a trap naming what is there instead. */
export function scratchData(process: Process): DataMessage {
  const message = process.scratch;
  if (message === null) trap("no message in the scratch slot");
  if (message.kind !== "data") {
    process.takeScratch();
    trap(`the message in the scratch slot is a ${message.kind} signal, not data`);
  }
  return message;
}

/** Takes the message out of the scratch slot for sending. */
export function takeScratch(process: Process): Message {
  const message = process.takeScratch();
  if (message === null) trap("no message in the scratch slot to send");
  return message;
}

/** Capacity hints past this are ignored (the buffer grows as it is written anyway). */
const LARGEST_CAPACITY_HINT = 1 << 20;

/** Delivers to `processId` in the sender's environment; unknown IDs drop the message. */
export function sendTo(process: Process, processId: bigint, message: Message): void {
  process.runtime.stats.messagesSent++;
  const target = process.sendTarget(processId);
  if (target !== undefined) target.deliver(message);
  else if (message.kind === "data") message.dropResources();
}

function readTags(process: Process, ptr: number, count: number): bigint[] | null {
  if (count === 0) return null;
  const memory = process.memory;
  memory.check(ptr, count * 8);
  const tags = new Array<bigint>(count);
  for (let i = 0; i < count; i++) tags[i] = memory.readI64(ptr + i * 8);
  return tags;
}

/**
 * The request/reply step of `send_receive_skip_search` (spec §3.6): sends, then waits only for
 * a message arriving after the send with tag `waitOnTag`; 9027 on timeout.
 */
export function sendAndAwaitReply(
  process: Process,
  processId: bigint,
  message: Message,
  waitOnTag: bigint,
  timeout: bigint,
): number | Promise<number> {
  process.checkSignals();
  sendTo(process, processId, message);
  const deadline = guestTimeout(timeout);
  if (deadline === 0n) return TIMEOUT;
  return process.waitForMessage([waitOnTag], deadline);
}

/**
 * Takes resource `index` of the received message for the caller, checking its kind. A wrong
 * kind leaves the resource in place (spec §3.4).
 */
export function takeResource(process: Process, index: bigint, kind: string): unknown {
  const message = scratchData(process);
  const resources = message.resources ?? [];
  const i = index >= 0n && index < BigInt(resources.length) ? Number(index) : -1;
  const resource = i >= 0 ? resources[i] : undefined;
  if (resource === undefined) {
    trap(`no resource at index ${BigInt.asUintN(64, index)} in the message`);
  }
  if (resource === null) trap(`the resource at index ${i} was already taken`);
  if (resource.kind !== kind) {
    trap(`the resource at index ${i} is a ${resource.kind}, not a ${kind}`);
  }
  resources[i] = null;
  return resource.value;
}

/**
 * `push_tcp_stream` and its kin (spec §3.4): moves the socket handle out of the caller's table
 * into the message; it is released if the message is dropped before anyone takes it.
 */
function pushSocket(kind: SocketKind) {
  return hostFn(["i64"], ["i64"], (id: bigint, p: Process) => {
    const message = scratchData(p);
    const index = message.pushResource(handleForMessage(p, kind, id));
    p.scratchGainedResource();
    return BigInt(index);
  });
}

/** `take_tcp_stream` and its kin: moves the handle into the caller's table under a new ID. */
function takeSocket(kind: SocketKind) {
  return hostFn(["i64"], ["i64"], (index: bigint, p: Process) => {
    return addHandle(p, kind, takeResource(p, index, kind) as Shared<OpenSocket>);
  });
}

export const messageNamespace: HostNamespace<Process> = {
  module: "lunatic::message",
  functions: {
    push_tcp_stream: pushSocket("tcp_stream"),
    take_tcp_stream: takeSocket("tcp_stream"),
    push_tls_stream: pushSocket("tls_stream"),
    take_tls_stream: takeSocket("tls_stream"),
    push_udp_socket: pushSocket("udp_socket"),
    take_udp_socket: takeSocket("udp_socket"),
    create_data: hostFn(["i64", "i64"], [], (tag: bigint, capacity: bigint, p: Process) => {
      // One conversion instead of BigInt comparisons: a negative or huge hint is ignored.
      const requested = Number(capacity);
      const hint = requested > 0 && requested < LARGEST_CAPACITY_HINT ? requested : 0;
      p.setScratch(new DataMessage(tag, hint));
    }),
    write_data: hostFn(["i32", "i32"], ["i32"], (ptr: number, len: number, p: Process) => {
      const message = scratchData(p);
      const bytes = p.memoryBytes;
      const start = ptr >>> 0;
      if (start + (len >>> 0) > bytes.length) p.memory.check(ptr, len); // traps
      message.writeFrom(bytes, start, len >>> 0);
      return len;
    }),
    read_data: hostFn(["i32", "i32"], ["i32"], (ptr: number, len: number, p: Process) => {
      const message = scratchData(p);
      const bytes = p.memoryBytes;
      const start = ptr >>> 0;
      if (start + (len >>> 0) > bytes.length) p.memory.check(ptr, len); // traps
      if (message.cursor > message.size) {
        trap(
          `read cursor ${message.cursor} is past the end of the message (${message.size} bytes)`,
        );
      }
      const count = Math.min(len >>> 0, message.size - message.cursor);
      message.readInto(message.cursor, count, bytes, start);
      message.cursor += count;
      return count;
    }),
    seek_data: hostFn(["i64"], [], (index: bigint, p: Process) => {
      const message = scratchData(p);
      const offset = BigInt.asUintN(64, index);
      message.cursor = offset > BigInt(Number.MAX_SAFE_INTEGER)
        ? Number.MAX_SAFE_INTEGER
        : Number(offset);
    }),
    get_tag: hostFn([], ["i64"], (p: Process) => {
      if (p.scratch === null) trap("no message in the scratch slot");
      return p.scratch.tag;
    }),
    get_process_id: hostFn([], ["i64"], (p: Process) => {
      const message = p.scratch;
      if (message === null) trap("no message in the scratch slot");
      return message.kind === "process_died" ? message.processId : 0n;
    }),
    data_size: hostFn([], ["i64"], (p: Process) => BigInt(scratchData(p).size)),
    push_module: hostFn(["i64"], ["i64"], (moduleId: bigint, p: Process) => {
      const module = p.modules.get(moduleId);
      if (module === undefined) trap(`unknown module id ${BigInt.asUintN(64, moduleId)}`);
      const index = scratchData(p).pushResource({ kind: "module", value: module });
      p.scratchGainedResource();
      return BigInt(index);
    }),
    take_module: hostFn(["i64"], ["i64"], (index: bigint, p: Process) => {
      const module = takeResource(p, index, "module") as LunaticModule;
      return BigInt(p.modules.add(module));
    }),
    send: hostFn(["i64"], ["i32"], (processId: bigint, p: Process) => {
      sendTo(p, processId, takeScratch(p));
      return 0;
    }),
    send_receive_skip_search: suspendingFn(
      ["i64", "i64", "i64"],
      ["i32"],
      (processId: bigint, waitOnTag: bigint, timeout: bigint, p: Process) =>
        sendAndAwaitReply(p, processId, takeScratch(p), waitOnTag, timeout),
    ),
    receive: suspendingFn(
      ["i32", "i32", "i64"],
      ["i32"],
      (tagsPtr: number, tagsLen: number, timeout: bigint, p: Process) => {
        p.checkSignals();
        const tags = readTags(p, tagsPtr, tagsLen >>> 0);
        const queued = p.takeQueuedMessage(tags);
        if (queued !== null) {
          p.setScratch(queued);
          return receiveStatus(queued);
        }
        const deadline = guestTimeout(timeout);
        if (deadline === 0n) return TIMEOUT;
        return p.waitForMessage(tags, deadline);
      },
    ),
  },
};
