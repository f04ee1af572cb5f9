/**
 * The four preview1 clocks, in nanoseconds:
 * - REALTIME: wall-clock time since the Unix epoch.
 * - MONOTONIC: `performance.now()`, i.e. time since the runtime started.
 * - PROCESS_CPUTIME and THREAD_CPUTIME: the host cannot measure one process's CPU time (all
 *   processes share a JS thread), so both report the time elapsed since the process's WASI
 *   state was created, which is at its first WASI call (before `main` for a C or Rust guest).
 */
import type { GuestMemory } from "../../runtime/guest_memory.ts";
import { ClockId, Errno, type ErrnoCode } from "./constants.ts";
import type { WasiState } from "./state.ts";

/** `performance.now()`'s timer resolution as Deno provides it: 1 µs. */
const RESOLUTION_NS = 1000n;

/** Converts milliseconds (a double) to whole nanoseconds without losing precision. */
export function millisToNanos(ms: number): bigint {
  const whole = Math.floor(ms);
  return BigInt(whole) * 1_000_000n + BigInt(Math.round((ms - whole) * 1e6));
}

/** Converts nanoseconds to milliseconds (a double). */
export function nanosToMillis(ns: bigint): number {
  return Number(ns / 1_000_000n) + Number(ns % 1_000_000n) / 1e6;
}

/** Reads `clock` now, in nanoseconds, or null when the id is not a preview1 clock. */
export function readClock(state: WasiState, clock: number): bigint | null {
  switch (clock >>> 0) {
    case ClockId.REALTIME:
      return millisToNanos(performance.timeOrigin + performance.now());
    case ClockId.MONOTONIC:
      return millisToNanos(performance.now());
    case ClockId.PROCESS_CPUTIME:
    case ClockId.THREAD_CPUTIME:
      return millisToNanos(performance.now() - state.createdAt);
    default:
      return null;
  }
}

export function clockResGet(memory: GuestMemory, clock: number, resOut: number): ErrnoCode {
  if ((clock >>> 0) > ClockId.THREAD_CPUTIME) return Errno.INVAL;
  memory.writeU64(resOut, RESOLUTION_NS);
  return Errno.SUCCESS;
}

export function clockTimeGet(
  memory: GuestMemory,
  state: WasiState,
  clock: number,
  timeOut: number,
): ErrnoCode {
  const now = readClock(state, clock);
  if (now === null) return Errno.INVAL;
  memory.writeU64(timeOut, now);
  return Errno.SUCCESS;
}
