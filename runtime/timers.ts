/**
 * Timers for guest-supplied delays. Guest timeouts are u64 milliseconds, far past what
 * `setTimeout` accepts (2^31-1 ms; larger values fire at once), so long delays re-arm.
 */

const MAX_TIMEOUT_MS = 0x7FFF_FFFF;

/** u64::MAX means "no timeout" (spec §0.6). */
export const NO_TIMEOUT = 0xFFFF_FFFF_FFFF_FFFFn;

/** Runs `callback` after `ms` milliseconds; returns a function that cancels it. */
export function after(ms: bigint | number, callback: () => void): () => void {
  let remaining = typeof ms === "bigint" ? ms : BigInt(Math.max(0, Math.ceil(ms)));
  let handle: ReturnType<typeof setTimeout>;
  const arm = () => {
    const step = remaining > BigInt(MAX_TIMEOUT_MS) ? MAX_TIMEOUT_MS : Number(remaining);
    remaining -= BigInt(step);
    handle = setTimeout(remaining > 0n ? arm : callback, step);
  };
  arm();
  return () => clearTimeout(handle);
}

/** Normalises a guest i64 timeout to u64 milliseconds, or null for "no timeout". */
export function guestTimeout(value: bigint): bigint | null {
  if (value === -1n) return null; // u64::MAX read as signed: the common "no timeout"
  const ms = BigInt.asUintN(64, value);
  return ms === NO_TIMEOUT ? null : ms;
}
