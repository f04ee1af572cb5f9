/**
 * The entry point of an instance of `lunatic run --parallel` (runtime/instances.ts): a runtime
 * whose TCP listeners share their ports with the other instances', and whose capacity is its
 * part of the OS process's, running the root. Only the
 * first instance reads the host's stdin. Only wiring, like cli.ts.
 */
import { exitCodeOf, Lunatic, rootFailureMessage } from "./lunatic.ts";
import { serveInstance } from "./runtime/instances.ts";
import { EMPTY_INPUT } from "./runtime/stdio.ts";

serveInstance(async (init) => {
  // The instances share this OS process's memory maps and address space.
  const lunatic = new Lunatic({
    shareListeningPorts: true,
    capacity: { sharedBy: init.instances },
  });
  const module = await lunatic.load(init.bytes, init.displayName);
  const root = lunatic.spawnRoot(module, {
    ...init.root,
    stdio: init.instance === 1 ? undefined : { stdin: EMPTY_INPUT },
  });
  const outcome = await root.exited;
  lunatic.runtime.failures.flush();
  return { exitCode: exitCodeOf(outcome), message: rootFailureMessage(outcome) };
});
