/**
 * The entry point of a test-mode worker thread (runtime/test_worker_lane.ts): a runtime with
 * the default host namespaces, serving the tests the main thread sends. Only wiring, like
 * cli.ts.
 */
import { Lunatic } from "./lunatic.ts";
import { setupLogging } from "./runtime/log.ts";
import { serveTestLane } from "./runtime/test_worker_lane.ts";

serveTestLane((init) => {
  setupLogging(init.logLevel as Parameters<typeof setupLogging>[0]);
  const lunatic = new Lunatic();
  return { runtime: lunatic.runtime, load: (bytes, name) => lunatic.load(bytes, name) };
});
