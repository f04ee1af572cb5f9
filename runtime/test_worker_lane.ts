/**
 * Test lanes on worker threads (see runtime/test_runner.ts): each worker has a runtime of its
 * own, loads the module (V8 shares the compiled code between threads) and runs the tests it
 * is given one at a time, reporting each result back. Output under `--nocapture` goes to the
 * host's stdout from the worker; the tests' stdin is the host's.
 *
 * The worker's entry point (`test_worker.ts`, beside lunatic.ts) makes the runtime with the
 * default host namespaces and calls {@link serveTestLane}.
 */
import { LunaticError } from "./errors.ts";
import type { LunaticModule } from "./module.ts";
import type { Runtime } from "./runtime.ts";
import { parseTestExport, type TestFunction } from "./test_discovery.ts";
import {
  InProcessLane,
  type TestGuestOptions,
  type TestLane,
  type TestResult,
} from "./test_runner.ts";

/** The guest options a worker can be given (no sinks or sources: those are the host's). */
export type WorkerGuestOptions = Omit<TestGuestOptions, "report" | "stdin">;

/** What a worker is started with. */
export interface TestWorkerInit {
  readonly bytes: Uint8Array;
  readonly displayName: string;
  readonly options: WorkerGuestOptions;
  /** The log level test mode runs with (LUNATIC_LOG, or `error`). */
  readonly logLevel?: string;
}

type ToWorker = { kind: "init"; init: TestWorkerInit } | { kind: "run"; exportName: string };
type FromWorker =
  | { kind: "ready" }
  | { kind: "result"; result: TestResult }
  | { kind: "error"; message: string };

/** A lane on a worker thread. */
export class WorkerLane implements TestLane {
  readonly #worker: Worker;
  #pending: { resolve: (reply: FromWorker) => void } | null = null;

  private constructor(worker: Worker) {
    this.#worker = worker;
    worker.onmessage = (event: MessageEvent<FromWorker>) => {
      const pending = this.#pending;
      this.#pending = null;
      pending?.resolve(event.data);
    };
    worker.onerror = (event: ErrorEvent) => {
      event.preventDefault();
      const pending = this.#pending;
      this.#pending = null;
      pending?.resolve({ kind: "error", message: `test worker failed: ${event.message}` });
    };
  }

  /**
   * Starts a worker from `entry` (a module that calls {@link serveTestLane}) and waits until it
   * has loaded the module. Throws a LunaticError when it cannot.
   */
  static async start(entry: URL, init: TestWorkerInit): Promise<WorkerLane> {
    const lane = new WorkerLane(new Worker(entry, { type: "module" }));
    const reply = await lane.#request({ kind: "init", init });
    if (reply.kind !== "ready") {
      lane.close();
      throw new LunaticError(reply.kind === "error" ? reply.message : "test worker failed");
    }
    return lane;
  }

  #request(message: ToWorker): Promise<FromWorker> {
    return new Promise((resolve) => {
      this.#pending = { resolve };
      this.#worker.postMessage(message);
    });
  }

  async run(test: TestFunction): Promise<TestResult> {
    const reply = await this.#request({ kind: "run", exportName: test.exportName });
    if (reply.kind === "result") return reply.result;
    throw new LunaticError(reply.kind === "error" ? reply.message : "test worker failed");
  }

  close(): void {
    // The worker's processes end with it.
    this.#worker.terminate();
  }
}

/** What a worker needs of its runtime. */
export interface WorkerRuntime {
  readonly runtime: Runtime;
  load(bytes: Uint8Array, displayName: string): Promise<LunaticModule>;
}

/**
 * The worker's side: answers `init` by making a runtime with `makeRuntime` and loading the
 * module, then runs each test it is sent on an {@link InProcessLane}.
 */
export function serveTestLane(makeRuntime: (init: TestWorkerInit) => WorkerRuntime): void {
  const scope = globalThis as unknown as {
    onmessage: ((event: MessageEvent<ToWorker>) => void) | null;
    postMessage(message: FromWorker): void;
  };
  let lane: InProcessLane | null = null;
  let initialising: Promise<void> | null = null;
  scope.onmessage = async (event) => {
    const message = event.data;
    try {
      if (message.kind === "init") {
        initialising = (async () => {
          const { runtime, load } = makeRuntime(message.init);
          const module = await load(message.init.bytes, message.init.displayName);
          lane = new InProcessLane(runtime, module, message.init.options);
        })();
        await initialising;
        scope.postMessage({ kind: "ready" });
        return;
      }
      await initialising;
      const test = parseTestExport(message.exportName);
      if (lane === null || test === null) throw new LunaticError("test worker not ready");
      const result = await lane.run(test);
      lane.runtime.failures.flush();
      scope.postMessage({ kind: "result", result });
    } catch (error) {
      const text = error instanceof LunaticError
        ? error.message
        : `internal error in a test worker: ${error instanceof Error ? error.stack : error}`;
      scope.postMessage({ kind: "error", message: text });
    }
  };
}
