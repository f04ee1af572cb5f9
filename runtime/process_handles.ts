/**
 * Small integer handles for live processes. Host functions are shared by every instance of a
 * module; each instance passes its process's handle with every host call (an imported global
 * the rewriter appends to the arguments), and the host looks the process up here. One set of
 * functions instead of a closure per import per process makes a spawn ~3 µs cheaper (V8
 * links shared functions faster, and there is less to allocate and collect).
 */
import { trap } from "./errors.ts";
import type { HostContext, HostFunction } from "./host_api.ts";
import { Suspending } from "./jspi.ts";

/** What the host functions need of a process: its context, its handle and its fuel slices. */
export interface HandledProcess extends HostContext {
  readonly handle: number;
  /** `lunatic::internal::out_of_fuel`: the counter ran out (see the instrumentation). */
  outOfFuel(counter: bigint): bigint | Promise<bigint>;
}

export class ProcessHandles<P extends HandledProcess> {
  /** The process holding each handle (undefined: free). */
  readonly slots: (P | undefined)[] = [];
  readonly #free: number[] = [];
  readonly #dispatchers = new Map<HostFunction<HostContext>, unknown>();
  readonly #denied = new Map<string, () => never>();

  /** A handle for `process`, until {@link release}. */
  allocate(process: P): number {
    const handle = this.#free.pop() ?? this.slots.length;
    this.slots[handle] = process;
    return handle;
  }

  /**
   * The process ended, or never got an instance: its handle may go to a new process. Only an
   * instance that can no longer run may have passed it.
   */
  release(handle: number): void {
    this.slots[handle] = undefined;
    this.#free.push(handle);
  }

  /**
   * What every instance links for `fn`: a function that takes the guest's arguments and the
   * handle after them and calls `fn` with the process first (through `WebAssembly.Suspending`
   * if `fn` may block). One per host function, shared by all modules and processes.
   */
  dispatcher(fn: HostFunction<HostContext>): unknown {
    let dispatcher = this.#dispatchers.get(fn);
    if (dispatcher === undefined) {
      const plain = dispatch(fn.call, fn.params.length, this.slots);
      dispatcher = fn.suspending ? new Suspending(plain) : plain;
      this.#dispatchers.set(fn, dispatcher);
    }
    return dispatcher;
  }

  /** The stub linked for `module::name` when the process's config does not allow it. */
  denied(module: string, name: string): () => never {
    const where = `${module}::${name}`;
    let stub = this.#denied.get(where);
    if (stub === undefined) {
      stub = () => trap(`permission denied: ${where}`);
      this.#denied.set(where, stub);
    }
    return stub;
  }

  /** `lunatic::internal::out_of_fuel (counter, handle) -> counter`, which may suspend. */
  readonly outOfFuel: unknown = new Suspending((counter: bigint, handle: number) =>
    this.slots[handle]!.outOfFuel(counter)
  );

  /** Handles in use. */
  get size(): number {
    return this.slots.length - this.#free.length;
  }
}

// deno-lint-ignore no-explicit-any
type Call = (process: any, ...args: any[]) => unknown;

/**
 * `(a0, …, a(n-1), handle) => call(slots[handle], a0, …)`, written out for the usual arities
 * so that no call collects its arguments into an array.
 */
function dispatch(
  call: Call,
  arity: number,
  slots: readonly unknown[],
): (...args: never[]) => unknown {
  switch (arity) {
    case 0:
      return (h: number) => call(slots[h]);
    case 1:
      return (a: unknown, h: number) => call(slots[h], a);
    case 2:
      return (a: unknown, b: unknown, h: number) => call(slots[h], a, b);
    case 3:
      return (a: unknown, b: unknown, c: unknown, h: number) => call(slots[h], a, b, c);
    case 4:
      return (a: unknown, b: unknown, c: unknown, d: unknown, h: number) =>
        call(slots[h], a, b, c, d);
    case 5:
      return (a: unknown, b: unknown, c: unknown, d: unknown, e: unknown, h: number) =>
        call(slots[h], a, b, c, d, e);
    case 6:
      return (a: unknown, b: unknown, c: unknown, d: unknown, e: unknown, f: unknown, h: number) =>
        call(slots[h], a, b, c, d, e, f);
    default:
      return (...args: unknown[]) => {
        const h = args.pop() as number;
        return call(slots[h], ...args);
      };
  }
}
