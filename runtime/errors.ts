/**
 * The ways a process can stop abnormally. Host functions throw these; they unwind through the
 * guest's wasm frames and are classified when the process's entry call settles.
 */

/** A host function refused the call: the process fails with this message (a wasm trap). */
export class HostTrap extends Error {
  override name = "HostTrap";
}

/** Throws a {@link HostTrap}. Host functions call this for bad input from the guest. */
export function trap(message: string): never {
  throw new HostTrap(message);
}

/** WASI `proc_exit`: ends only the calling process. Code 0 is a normal end. */
/**
 * Thrown by `lunatic::hot::upgrade` to unwind the old instance's stack: the process goes on
 * in `module`'s `entry`, with `state` first in its mailbox (runtime/process.ts).
 */
export class ProcessUpgrade extends Error {
  override name = "ProcessUpgrade";
  constructor(
    /** The version to continue on. */
    readonly module: unknown,
    /** Its export to run. */
    readonly entry: string,
    /** The state message (a data message) for the new instance. */
    readonly state: unknown,
  ) {
    super(`process upgrading to ${entry}`);
  }
}

export class ProcessExit extends Error {
  override name = "ProcessExit";
  constructor(readonly code: number) {
    super(`process exited with code ${code}`);
  }
}

/**
 * The process was killed (a `kill` signal, or a linked process failed while
 * die-when-link-dies is set). Never catchable by `lunatic::trap::catch`.
 */
export class ProcessKilled extends Error {
  override name = "ProcessKilled";
}

/**
 * A runtime-level failure that is not caused by a guest (bad module, capacity, usage).
 *
 * @example
 * ```ts
 * try {
 *   await lunatic.load("missing.wasm");
 * } catch (error) {
 *   if (error instanceof LunaticError) console.error(error.message); // Module 'missing.wasm' not found
 * }
 * ```
 */
export class LunaticError extends Error {
  /** `"LunaticError"`. */
  override name = "LunaticError";
}
