/**
 * The `lunatic` command line: `lunatic run [--dir DIR]... <PATH> [ARGS]...`, and the implied
 * form `lunatic <PATH.wasm> [ARGS]...`. Only parses arguments and wires the runtime.
 */
import { parseArgs } from "node:util";
import { exitCodeOf, Lunatic, LunaticError } from "./mod.ts";

const USAGE = "usage: lunatic run [--dir DIR]... [--allow NAMESPACE]... <PATH.wasm> [-- ARGS...]";
const HELP = `lunatic for Deno: an Erlang-inspired runtime for WebAssembly

${USAGE}
       lunatic <PATH.wasm> [ARGS]...        (same as run)

Options:
  --dir DIR       preopen DIR for the guest (repeatable; "." is always preopened)
  --allow NS      allow only host functions whose "module::function" starts with NS
                  (repeatable, e.g. --allow wasi_snapshot_preview1:: --allow lunatic::message::);
                  without it everything is allowed
  -h, --help      show this help
  -V, --version   show the version

Guest arguments that start with "-" go after "--".
Environment: LUNATIC_LOG=trace|debug|info|warning|error (default warning)`;

export const VERSION = "0.1.0 (lunatic ABI 0.13.2)";

class UsageError extends Error {}

interface RunCommand {
  path: string;
  args: string[];
  dirs: string[];
  allow?: string[];
}

/** Parses the command line; returns null when help or version was printed. */
export function parseCommandLine(argv: string[]): RunCommand | null {
  // lunatic <= 0.12 syntax: an implied `run` (spec §7.1).
  if (argv.length > 0 && /^(--bench|--dir|.+\.wasm)/.test(argv[0])) argv = ["run", ...argv];
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        dir: { type: "string", multiple: true },
        allow: { type: "string", multiple: true },
        bench: { type: "boolean" },
        help: { type: "boolean", short: "h" },
        version: { type: "boolean", short: "V" },
      },
    });
  } catch (error) {
    throw new UsageError((error as Error).message.split("\n")[0]);
  }
  const { values, positionals } = parsed;
  if (values.help) {
    console.log(HELP);
    return null;
  }
  if (values.version) {
    console.log(`lunatic ${VERSION}`);
    return null;
  }
  const [command, path, ...args] = positionals;
  if (command === undefined) throw new UsageError("no command given");
  if (command !== "run") throw new UsageError(`unknown command '${command}'`);
  if (path === undefined) throw new UsageError("missing the path of the .wasm module to run");
  if (values.bench) args.push("--bench");
  return { path, args, dirs: values.dir ?? [], allow: values.allow };
}

async function main(argv: string[]): Promise<number> {
  let command: RunCommand | null;
  try {
    command = parseCommandLine(argv);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    console.error(`error: ${error.message}\n${USAGE}\n(see lunatic --help)`);
    return 2;
  }
  if (command === null) return 0;
  const lunatic = new Lunatic();
  try {
    const module = await lunatic.load(command.path);
    const root = lunatic.spawnRoot(module, {
      args: command.args,
      dirs: command.dirs,
      allow: command.allow,
    });
    reportDeadlock(root.exited);
    return exitCodeOf(await root.exited);
  } catch (error) {
    if (error instanceof LunaticError) {
      console.error(`Error: ${error.message}`);
      return 1;
    }
    throw error;
  }
}

/**
 * When every process is blocked and nothing (timer, socket, stdin) can wake one, the event
 * loop empties. lunatic would hang forever; we say so and exit.
 */
function reportDeadlock(rootExited: Promise<unknown>): void {
  let ended = false;
  rootExited.then(() => ended = true);
  globalThis.addEventListener("beforeunload", (event) => {
    if (ended) return;
    event.preventDefault();
    console.error(
      "Error: deadlock: the root process is waiting for a message that nothing can send " +
        "(every process is blocked and no timer or I/O is pending)",
    );
    Deno.exit(1);
  });
}

if (import.meta.main) {
  main(Deno.args).then((code) => Deno.exit(code), (error) => {
    console.error(`internal error: ${error instanceof Error ? error.stack : error}`);
    Deno.exit(70);
  });
}
