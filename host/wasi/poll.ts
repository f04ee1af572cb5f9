/**
 * `poll_oneoff`: waits until at least one subscription is ready and reports the ready ones.
 *
 * - Clock subscriptions (any of the four clocks, relative or ABSTIME) become ready at their
 *   deadline. The process sleeps on a timer, through `process.suspend`, so a kill ends the wait.
 * - fd_read / fd_write subscriptions are ready at once: files never block, stdout and stderr
 *   are synchronous sinks, and stdin is reported ready with `nbytes` 0 because an InputSource
 *   cannot be asked whether data is waiting (a following `fd_read` suspends until it is).
 *   A file's read readiness carries the bytes left before end of file, as wasi-common reports.
 * - A subscription that cannot be served (unknown fd, unknown clock) is reported at once as an
 *   event carrying its error.
 */
import type { GuestMemory } from "../../runtime/guest_memory.ts";
import type { HostContext } from "../../runtime/host_api.ts";
import { ClockId, Errno, type ErrnoCode, EventType, Size, SubclockFlags } from "./constants.ts";
import { errnoOrRethrow } from "./errno.ts";
import { nanosToMillis } from "./clocks.ts";
import { type WasiState, wasiState } from "./state.ts";

/** setTimeout's largest delay; longer sleeps are taken in steps. */
const MAX_TIMER_MS = 2 ** 31 - 1;

interface Event {
  userdata: bigint;
  error: ErrnoCode;
  type: number;
  nbytes: bigint;
}

interface ClockWait {
  userdata: bigint;
  /** Deadline on the `performance.now()` timeline, in milliseconds. */
  deadline: number;
}

export function pollOneoff(
  process: HostContext,
  inPtr: number,
  outPtr: number,
  nsubscriptions: number,
  neventsOut: number,
): ErrnoCode | Promise<ErrnoCode> {
  const count = nsubscriptions >>> 0;
  if (count === 0) return Errno.INVAL;
  const memory = process.memory;
  memory.check(inPtr, count * Size.SUBSCRIPTION);
  memory.check(outPtr, count * Size.EVENT);
  memory.check(neventsOut, 4);
  const state = wasiState(process);

  const immediate: Event[] = [];
  const clocks: ClockWait[] = [];
  for (let i = 0; i < count; i++) {
    const at = (inPtr >>> 0) + i * Size.SUBSCRIPTION;
    const userdata = memory.readU64(at);
    const tag = memory.readU8(at + 8);
    if (tag === EventType.CLOCK) {
      const deadline = clockDeadline(state, memory, at + 16);
      if (deadline === null) immediate.push(errorEvent(userdata, tag, Errno.INVAL));
      else clocks.push({ userdata, deadline });
    } else if (tag === EventType.FD_READ || tag === EventType.FD_WRITE) {
      immediate.push(fdEvent(state, userdata, tag, memory.readU32(at + 16)));
    } else {
      return Errno.INVAL;
    }
  }

  const expired = (now: number) =>
    clocks.filter((clock) => clock.deadline <= now).map((clock) => clockEvent(clock.userdata));
  const ready = [...immediate, ...expired(performance.now())];
  if (ready.length > 0) return report(memory, outPtr, neventsOut, ready);

  const earliest = clocks.reduce((soonest, clock) => Math.min(soonest, clock.deadline), Infinity);
  return sleepUntil(process, earliest).then(
    () => report(process.memory, outPtr, neventsOut, expired(performance.now())),
    errnoOrRethrow,
  );
}

/** The deadline of the `subscription_clock` at `at`, or null for an unknown clock. */
function clockDeadline(state: WasiState, memory: GuestMemory, at: number): number | null {
  const clock = memory.readU32(at);
  const timeoutMs = nanosToMillis(memory.readU64(at + 8));
  const absolute = (memory.readU16(at + 24) & SubclockFlags.ABSTIME) !== 0;
  if (!absolute) {
    return clock <= ClockId.THREAD_CPUTIME ? performance.now() + timeoutMs : null;
  }
  switch (clock) {
    case ClockId.REALTIME:
      return timeoutMs - performance.timeOrigin;
    case ClockId.MONOTONIC:
      return timeoutMs;
    case ClockId.PROCESS_CPUTIME:
    case ClockId.THREAD_CPUTIME:
      return state.createdAt + timeoutMs;
    default:
      return null;
  }
}

function fdEvent(state: WasiState, userdata: bigint, type: number, fd: number): Event {
  try {
    const entry = state.fds.stream(fd);
    if (entry.kind === "stdio") {
      const readable = entry.stream === "stdin";
      if (readable !== (type === EventType.FD_READ)) return errorEvent(userdata, type, Errno.BADF);
      return { userdata, error: Errno.SUCCESS, type, nbytes: 0n };
    }
    if (type === EventType.FD_WRITE) return { userdata, error: Errno.SUCCESS, type, nbytes: 0n };
    const position = entry.file.seekSync(0, Deno.SeekMode.Current);
    const remaining = entry.file.statSync().size - position;
    return { userdata, error: Errno.SUCCESS, type, nbytes: BigInt(Math.max(0, remaining)) };
  } catch (error) {
    return errorEvent(userdata, type, errnoOrRethrow(error));
  }
}

function errorEvent(userdata: bigint, type: number, error: ErrnoCode): Event {
  return { userdata, error, type, nbytes: 0n };
}

function clockEvent(userdata: bigint): Event {
  return { userdata, error: Errno.SUCCESS, type: EventType.CLOCK, nbytes: 0n };
}

/** Sleeps until `deadline` (performance.now() ms); timers may fire early, so it re-checks. */
async function sleepUntil(process: HostContext, deadline: number): Promise<void> {
  for (let now = performance.now(); now < deadline; now = performance.now()) {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const elapsed = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, Math.min(Math.ceil(deadline - now), MAX_TIMER_MS));
    });
    try {
      await process.suspend(elapsed);
    } finally {
      // A kill abandons the wait; the timer must not outlive it.
      clearTimeout(timer);
    }
  }
}

function report(
  memory: GuestMemory,
  outPtr: number,
  neventsOut: number,
  events: Event[],
): ErrnoCode {
  events.forEach((event, i) => {
    const bytes = new Uint8Array(Size.EVENT);
    const view = new DataView(bytes.buffer);
    view.setBigUint64(0, event.userdata, true);
    view.setUint16(8, event.error, true);
    view.setUint8(10, event.type);
    view.setBigUint64(16, event.nbytes, true);
    // fd_readwrite.flags (offset 24) stays 0: no hangup is ever reported.
    memory.write((outPtr >>> 0) + i * Size.EVENT, bytes);
  });
  memory.writeU32(neventsOut, events.length);
  return Errno.SUCCESS;
}
