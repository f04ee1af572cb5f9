/**
 * `lunatic run --parallel N`: N instances of one application, each on a worker thread with a
 * runtime of its own, as `deno serve --parallel` runs N copies of a server. An isolate runs
 * on one thread, so one runtime uses one core; instances use more. They share nothing but
 * their TCP listening ports: a TCP listener bound by every instance on the same address takes
 * SO_REUSEPORT (Runtime.sharesListeningPorts), and the kernel spreads new connections among
 * them. Processes, registries and messages stay within an instance.
 *
 * The run behaves as one program: it ends when every instance's root has ended, with exit code
 * 0, or as soon as one fails (a non-zero exit code, a trap, a module that cannot run): the
 * other instances are stopped and the run takes that instance's exit code.
 *
 * The worker's entry point (`instance_worker.ts`, beside lunatic.ts) runs the root and calls
 * {@link serveInstance}.
 */
import type { GuestView } from "./config.ts";
import { LunaticError } from "./errors.ts";
import { hostEnvironment } from "./host_env.ts";

/** The root's arguments and view of the host, as the command line gave them. */
export interface InstanceRootOptions extends GuestView {
  args?: string[];
  /** Host namespaces the root may call (prefixes of `module::function`); default all. */
  allow?: string[];
}

/** What an instance's worker is started with. */
export interface InstanceInit {
  readonly bytes: Uint8Array;
  readonly displayName: string;
  readonly root: InstanceRootOptions;
  /** This instance's number, from 1 (the guest sees it as `LUNATIC_INSTANCE`). */
  readonly instance: number;
  readonly instances: number;
}

/** How an instance's root ended. */
export interface InstanceEnd {
  readonly exitCode: number;
  /** What to say on stderr about it (a trap, a module that could not run), or null. */
  readonly message: string | null;
}

/** How the run ended: the instance that decided it (the first to fail, or the last to end). */
export interface ParallelRunEnd extends InstanceEnd {
  readonly instance: number;
}

type FromInstance = { kind: "ended"; end: InstanceEnd };

/** The exit code of an instance whose worker failed outside its guest. */
const INTERNAL_ERROR_EXIT_CODE = 70;

/** The most instances a run may have. */
export const MAX_INSTANCES = 256;

/**
 * Throws a {@link LunaticError} if this Deno cannot share a listening port, before any
 * instance starts: SO_REUSEPORT takes `--unstable-net`, and without it Deno ends the whole
 * program at the first such bind. The flag is seen by what it adds (`Deno.listenDatagram`).
 */
export function checkPortSharing(): void {
  if (typeof (Deno as { listenDatagram?: unknown }).listenDatagram === "function") return;
  throw new LunaticError(
    "--parallel shares listening ports (SO_REUSEPORT), which needs Deno's --unstable-net " +
      "flag (the run and compile tasks pass it)",
  );
}

/**
 * Runs `count` instances from the worker module `entry` (one that calls
 * {@link serveInstance}) and waits for the run to end. Each instance's guest environment gets
 * `LUNATIC_INSTANCE` (1 to `count`) and `LUNATIC_INSTANCES`.
 */
export function runInstances(
  entry: URL,
  count: number,
  init: Omit<InstanceInit, "instance" | "instances">,
): Promise<ParallelRunEnd> {
  if (!Number.isInteger(count) || count < 1 || count > MAX_INSTANCES) {
    throw new LunaticError(`the number of instances must be 1 to ${MAX_INSTANCES} (was ${count})`);
  }
  const workers: (Worker | null)[] = [];
  let running = count;
  let last: ParallelRunEnd | null = null;
  return new Promise<ParallelRunEnd>((resolve) => {
    const stopAll = () => {
      for (const [index, worker] of workers.entries()) {
        worker?.terminate();
        workers[index] = null;
      }
    };
    const ended = (index: number, end: InstanceEnd) => {
      if (workers[index] === null) return; // stopped already, or a second report
      workers[index]!.terminate(); // processes the root left behind end with it, as in a run
      workers[index] = null;
      running--;
      last = { instance: index + 1, ...end };
      if (end.exitCode !== 0) {
        stopAll();
        resolve(last);
      } else if (running === 0) {
        resolve(last);
      }
    };
    for (let index = 0; index < count; index++) {
      const worker = new Worker(entry, { type: "module" });
      workers.push(worker);
      worker.onmessage = (event: MessageEvent<FromInstance>) => ended(index, event.data.end);
      worker.onerror = (event: ErrorEvent) => {
        event.preventDefault();
        ended(index, {
          exitCode: INTERNAL_ERROR_EXIT_CODE,
          message: `internal error in instance ${index + 1}: ${event.message}`,
        });
      };
      const env = {
        ...(init.root.env ?? hostEnvironment()), // as a root without `env` sees it
        LUNATIC_INSTANCE: String(index + 1),
        LUNATIC_INSTANCES: String(count),
      };
      const message: InstanceInit = {
        ...init,
        root: { ...init.root, env },
        instance: index + 1,
        instances: count,
      };
      worker.postMessage(message);
    }
  });
}

/**
 * The worker's side: runs the instance `run` makes of the init it is sent and reports how its
 * root ended. A {@link LunaticError} (a module that cannot run) ends it with exit code 1.
 */
export function serveInstance(run: (init: InstanceInit) => Promise<InstanceEnd>): void {
  const scope = globalThis as unknown as {
    onmessage: ((event: MessageEvent<InstanceInit>) => void) | null;
    postMessage(message: FromInstance): void;
  };
  scope.onmessage = async (event) => {
    scope.onmessage = null;
    let end: InstanceEnd;
    try {
      end = await run(event.data);
    } catch (error) {
      end = error instanceof LunaticError ? { exitCode: 1, message: `Error: ${error.message}` } : {
        exitCode: INTERNAL_ERROR_EXIT_CODE,
        message: `internal error: ${error instanceof Error ? error.stack : error}`,
      };
    }
    scope.postMessage({ kind: "ended", end });
  };
}
