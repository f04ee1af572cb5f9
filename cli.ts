/**
 * The `lunatic` command line: `lunatic run [--dir DIR]... <PATH> [ARGS]...`, the implied form
 * `lunatic <PATH.wasm> [ARGS]...`, and test mode: `lunatic test <PATH.wasm> [FILTER] ...`, or a
 * `run` that cargo makes as the test runner (spec §7.1). Only parses arguments and wires the
 * runtime.
 */
import { parseArgs } from "node:util";
import { basename, dirname, resolve } from "node:path";
import {
  discoverTests,
  exitCodeOf,
  listTests,
  Lunatic,
  LunaticError,
  type LunaticModule,
  type PreopenSpec,
  ProcessConfig,
  type ProcessOutcome,
  readModuleFile,
  rootFailureMessage,
  runTests,
  selectTests,
  workerLanes,
} from "./lunatic.ts";
import { hostEnvironment } from "./runtime/host_env.ts";
import { ControlServer } from "./runtime/distributed/control_server.ts";
import { ClusterNode } from "./runtime/distributed/node.ts";
import { DEFAULT_PROMETHEUS_ADDRESS, serveMetrics } from "./runtime/metrics_http.ts";
import { serveObserver } from "./runtime/observer/server.ts";
import { ControlStore, defaultStateDir } from "./runtime/distributed/control_store.ts";
import { parseLevel, setupLogging } from "./runtime/log.ts";
import { rootView } from "./runtime/config.ts";
import { hostStdio } from "./runtime/stdio.ts";
import { checkPortSharing, MAX_INSTANCES, runInstances } from "./runtime/instances.ts";

const USAGE = "usage: lunatic run [OPTIONS] <PATH.wasm> [-- ARGS...]";
const TEST_USAGE = "usage: lunatic test <PATH.wasm> [FILTER] [OPTIONS] [-- ARGS...]";
const CONTROL_USAGE = "usage: lunatic control [--bind-socket ADDR] [--state DIR]";
const NODE_USAGE =
  "usage: lunatic node [CONTROL_URL] [--bind-socket ADDR] [--wasm PATH] [--tag KEY=VALUE]... [OPTIONS]";
const NODE_HELP = `lunatic node: join a cluster as a node

${NODE_USAGE}

Registers with the control server at CONTROL_URL (default http://127.0.0.1:3030/), which
signs this node's certificate, and serves the other nodes (mutual TLS over TCP): they spawn
processes here and send messages to them.

Options:
  --bind-socket ADDR    accept other nodes on ADDR (IP:PORT; default 127.0.0.1, any port)
  --wasm PATH           run PATH as a root process (environment 1), its module shared with
                        the cluster through control
  --tag KEY=VALUE       an attribute of this node, for lookup_nodes queries (repeatable)
  --dir, --no-default-dir, --env, --no-inherit-env, --allow
                        what the root sees and may call (as for run); also the most that a
                        process spawned here by another node may see and call
  --prometheus [--prometheus-http ADDR], --observe ADDR [--observe-token TOKEN]
                        metrics and the observer (as for run)
  -h, --help            show this help

Runs until SIGINT or SIGTERM, then tells control it stopped and exits 0.`;
const CONTROL_HELP = `lunatic control: the control server of a cluster of lunatic nodes

${CONTROL_USAGE}

Nodes register with it (it signs their certificates with its own CA), announce their
addresses, find each other and share modules through it (lunatic 0.13.2's HTTP API).

Options:
  --bind-socket ADDR    listen on ADDR (IP:PORT); default 127.0.0.1 and the first free
                        port of 3030-3998, then 1025-65534
  --state DIR           keep the CA and the uploaded modules in DIR (default
                        ${defaultStateDir().replace(Deno.env.get("HOME") ?? "\0", "~")})
  -h, --help            show this help`;
const HELP = `lunatic for Deno: an Erlang-inspired runtime for WebAssembly

${USAGE}
       lunatic <PATH.wasm> [ARGS]...        (same as run)
${TEST_USAGE}
${CONTROL_USAGE}
${NODE_USAGE.replace("usage: ", "       ")}

Options:
  --dir DIR             preopen DIR for the guest under the same name (repeatable)
  --dir HOST::GUEST     preopen the host directory HOST under the name GUEST (e.g. data::/)
  --no-default-dir      do not preopen "." (by default it is, first, as lunatic does)
  --env NAME=VALUE      set a guest environment variable (repeatable); --env NAME passes the
                        host's NAME
  --no-inherit-env      the guest sees only --env variables (by default it sees the host's
                        environment, as lunatic does, and --env adds to it)
  --allow NS            allow only host functions whose "module::function" starts with NS
                        (repeatable, e.g. --allow wasi_snapshot_preview1:: --allow lunatic::message::);
                        without it everything is allowed
  --prometheus          serve the guests' lunatic::metrics and the runtime's own in the
                        Prometheus format at http://0.0.0.0:9927/metrics (also on node)
  --prometheus-http ADDR
                        ... at http://ADDR/metrics instead (IP:PORT)
  --watch               load the module again when its file changes: processes that asked
                        for it (lunatic::hot) move to the new version (hot code upgrade)
  --parallel N          run N instances of the application, each on a thread of its own,
                        sharing only their TCP listening ports (SO_REUSEPORT): for servers
                        that keep no state between connections; they see LUNATIC_INSTANCE
  --observe ADDR        serve a live page of the processes at http://ADDR/ (IP:PORT; also on node)
  --observe-token TOKEN let clients not on loopback kill processes from it (with ?token=TOKEN)
  -h, --help            show this help (lunatic test --help: the test options)
  -V, --version         show the version

Guest arguments that start with "-" go after "--".
Environment: LUNATIC_LOG=trace|debug|info|warning|error|fatal (default warning)`;
const TEST_HELP = `lunatic test: run the #[lunatic::test] functions of a module, as cargo test does

${TEST_USAGE}

Runs every test whose name contains FILTER; ARGS become the tests' argv (without argv[0]).
With CARGO_MANIFEST_DIR set, \`lunatic run <target/wasm32-wasi/(debug|release)/deps/*.wasm>\`
(what cargo runs) is test mode too, so \`cargo test\` works with lunatic as the runner.

Options:
  --exact               FILTER must equal the test name
  --ignored             run only the ignored tests
  --include-ignored     run the ignored tests as well
  --nocapture           show the tests' output as it is written
  --show-output         show the output of successful tests too
  --list --format terse list the tests ("<name>: test") instead of running them
  --test-timeout SECS   fail a test still running after SECS seconds and kill its processes
  --test-threads N      run N tests at a time, each on a thread of its own (default 1)
  --dir, --no-default-dir, --env, --no-inherit-env, --allow
                        what the tests' processes see and may call (as for run)
  -h, --help            show this help

Environment: LUNATIC_LOG (default error in test mode). Exit code: 0, or 1 if a test failed.`;

export const VERSION = "0.1.0 (lunatic ABI 0.13.2)";

class UsageError extends Error {
  constructor(message: string, readonly usage = USAGE, readonly helpCommand = "lunatic --help") {
    super(message);
  }
}

/** parseArgs's first line, without its advice about `--` (the usage line shows that). */
function parseArgsProblem(error: unknown): string {
  return (error as Error).message.split("\n")[0].replace(/\. To specify a positional .*$/, "");
}

/** Where `--prometheus` serves metrics (lunatic's flags), if it does. */
interface MetricsFlags {
  prometheus?: { hostname: string; port: number };
  /** Where `--observe` serves the observer, with its `--observe-token`. */
  observe?: { hostname: string; port: number; token?: string };
}

/** What the root (or each test's root) sees of the host, from the command line. */
interface GuestFlags {
  dirs: PreopenSpec[];
  defaultDir: boolean;
  env: Record<string, string>;
  allow?: string[];
}

interface RunCommand extends GuestFlags, MetricsFlags {
  kind: "run";
  path: string;
  args: string[];
  /** Load new versions of the module when its file changes (hot code upgrade). */
  watch: boolean;
  /** How many instances run (`--parallel`, runtime/instances.ts); 1: the usual run. */
  instances: number;
}

type Command = RunCommand | TestCommand | ControlCommand | NodeCommand;

interface ControlCommand {
  kind: "control";
  hostname?: string;
  port?: number;
  stateDir: string;
}

interface NodeCommand extends GuestFlags, MetricsFlags {
  kind: "node";
  controlUrl: string;
  hostname: string;
  port: number;
  wasm?: string;
  attributes: Record<string, string>;
}

interface TestCommand extends GuestFlags {
  kind: "test";
  path: string;
  filter?: string;
  args: string[];
  exact: boolean;
  onlyIgnored: boolean;
  includeIgnored: boolean;
  nocapture: boolean;
  showOutput: boolean;
  /** `--list --format terse`. */
  list: boolean;
  timeLimitMs?: number;
  /** How many tests run at a time, each on a thread of its own. */
  threads: number;
}

/** lunatic's metrics flags, on `run` and `node`. */
const METRICS_OPTIONS = {
  prometheus: { type: "boolean" },
  "prometheus-http": { type: "string" },
  observe: { type: "string" },
  "observe-token": { type: "string" },
} as const;

/** `--prometheus [--prometheus-http ADDR]` (the address needs the switch, as in lunatic). */
function metricsFlags(
  values: {
    prometheus?: boolean;
    "prometheus-http"?: string;
    observe?: string;
    "observe-token"?: string;
  },
  fail: (message: string) => never,
): MetricsFlags {
  const flags: MetricsFlags = {};
  const address = values["prometheus-http"];
  if (address !== undefined && !values.prometheus) {
    fail("--prometheus-http needs --prometheus");
  }
  if (values.prometheus) {
    flags.prometheus = address === undefined
      ? { ...DEFAULT_PROMETHEUS_ADDRESS }
      : parseSocket(address, fail, "--prometheus-http");
  }
  const token = values["observe-token"];
  if (token !== undefined && values.observe === undefined) fail("--observe-token needs --observe");
  if (token === "") fail("--observe-token must not be empty");
  if (values.observe !== undefined) {
    flags.observe = { ...parseSocket(values.observe, fail, "--observe"), token };
  }
  return flags;
}

/** The options every command takes that say what the guest sees. */
const GUEST_OPTIONS = {
  dir: { type: "string", multiple: true },
  "no-default-dir": { type: "boolean" },
  env: { type: "string", multiple: true },
  "no-inherit-env": { type: "boolean" },
  allow: { type: "string", multiple: true },
} as const;

interface GuestValues {
  dir?: string[];
  "no-default-dir"?: boolean;
  env?: string[];
  "no-inherit-env"?: boolean;
  allow?: string[];
}

/** The guest's view from the flags; throws `fail`'s error on a malformed one. */
function guestFlags(values: GuestValues, fail: (message: string) => never): GuestFlags {
  const dirs = (values.dir ?? []).map((dir): PreopenSpec => {
    const at = dir.indexOf("::");
    if (at === -1) return dir;
    const host = dir.slice(0, at);
    const guest = dir.slice(at + 2);
    if (host === "" || guest === "") fail(`--dir takes DIR or HOST::GUEST (was ${dir})`);
    return { host, guest };
  });
  const env = values["no-inherit-env"] ? {} : hostEnvironment();
  for (const entry of values.env ?? []) {
    const at = entry.indexOf("=");
    const name = at === -1 ? entry : entry.slice(0, at);
    if (name === "" || name.includes("\0")) fail(`--env takes NAME=VALUE (was ${entry})`);
    if (at !== -1) env[name] = entry.slice(at + 1);
    else {
      // wasmtime's `--env NAME`: the host's value, if it has one.
      const value = hostEnvironment()[name];
      if (value !== undefined) env[name] = value;
    }
  }
  return { dirs, defaultDir: !values["no-default-dir"], env, allow: values.allow };
}

/** What cargo passes as the runner's test binary (spec §7.1), for this platform's separator. */
const CARGO_TEST_BINARY = (() => {
  const sep = Deno.build.os === "windows" ? "\\\\" : "/";
  return new RegExp(
    `${sep}target${sep}wasm32-(wasi|unknown-unknown)${sep}(debug|release)${sep}deps${sep}` +
      `.*\\.wasm$`,
  );
})();

/**
 * Whether `argv` (with the implied `run` already inserted) is cargo running a test binary:
 * CARGO_MANIFEST_DIR is set, the path is a wasm32 build in `target/.../deps`, and no later
 * argument is `--bench` (cargo bench uses the same path).
 */
export function isCargoTestInvocation(argv: string[], manifestDirSet: boolean): boolean {
  const [, path, ...rest] = argv;
  return manifestDirSet && path !== undefined && CARGO_TEST_BINARY.test(path) &&
    !rest.includes("--bench");
}

/** A first argument that makes `run` implied: a module, or a flag only `run` takes. */
const IMPLIED_RUN =
  /^(--bench|--dir|--env|--no-default-dir|--no-inherit-env|--allow|--prometheus|--observe|--watch|--parallel|.+\.wasm)/;

/** Parses the command line; returns null when help or version was printed. */
export function parseCommandLine(
  argv: string[],
  manifestDirSet: boolean = Deno.env.get("CARGO_MANIFEST_DIR") !== undefined,
): Command | null {
  // lunatic <= 0.12 syntax: an implied `run` (spec §7.1).
  if (argv.length > 0 && IMPLIED_RUN.test(argv[0])) argv = ["run", ...argv];
  if (argv[0] === "test" || isCargoTestInvocation(argv, manifestDirSet)) {
    return parseTestCommand(argv);
  }
  if (argv[0] === "control") return parseControlCommand(argv.slice(1));
  if (argv[0] === "node") return parseNodeCommand(argv.slice(1));
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        ...GUEST_OPTIONS,
        ...METRICS_OPTIONS,
        watch: { type: "boolean" },
        parallel: { type: "string" },
        bench: { type: "boolean" },
        help: { type: "boolean", short: "h" },
        version: { type: "boolean", short: "V" },
      },
    });
  } catch (error) {
    throw new UsageError(parseArgsProblem(error));
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
  const flags = guestFlags(values, (message) => {
    throw new UsageError(message);
  });
  const metrics = metricsFlags(values, (message) => {
    throw new UsageError(message);
  });
  const instances = parseInstances(values.parallel);
  if (instances > 1) {
    const alone = values.watch
      ? "--watch"
      : metrics.prometheus
      ? "--prometheus"
      : metrics.observe
      ? "--observe"
      : null;
    if (alone !== null) {
      throw new UsageError(
        `--parallel cannot be combined with ${alone}: each instance is a runtime of its own`,
      );
    }
  }
  return {
    kind: "run",
    path,
    args,
    watch: values.watch ?? false,
    instances,
    ...flags,
    ...metrics,
  };
}

/** `--parallel N`: a whole number of instances, 1 to {@link MAX_INSTANCES}. */
function parseInstances(value: string | undefined): number {
  if (value === undefined) return 1;
  const count = /^\d+$/.test(value) ? Number(value) : NaN;
  if (!(count >= 1 && count <= MAX_INSTANCES)) {
    throw new UsageError(
      `--parallel takes a number of instances from 1 to ${MAX_INSTANCES} (was ${value})`,
    );
  }
  return count;
}

/** `lunatic control [--bind-socket ADDR] [--state DIR]`. */
function parseControlCommand(argv: string[]): ControlCommand | null {
  const fail = (message: string): never => {
    throw new UsageError(message, CONTROL_USAGE, "lunatic control --help");
  };
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      options: {
        "bind-socket": { type: "string" },
        state: { type: "string" },
        help: { type: "boolean", short: "h" },
      },
    }));
  } catch (error) {
    return fail(parseArgsProblem(error));
  }
  if (values.help) {
    console.log(CONTROL_HELP);
    return null;
  }
  const command: ControlCommand = { kind: "control", stateDir: values.state ?? defaultStateDir() };
  const bind = values["bind-socket"];
  if (bind !== undefined) Object.assign(command, parseSocket(bind, fail));
  return command;
}

/** `IP:PORT` or `[IPv6]:PORT`. */
function parseSocket(text: string, fail: (message: string) => never, flag = "--bind-socket") {
  const match = text.match(/^(?:\[([0-9a-fA-F:.]+)\]|(\d{1,3}(?:\.\d{1,3}){3})):(\d{1,5})$/);
  const port = Number(match?.[3]);
  if (match === null || port > 65535) fail(`${flag} takes IP:PORT (was ${text})`);
  return { hostname: match![1] ?? match![2], port };
}

/** `lunatic node [CONTROL_URL] [--bind-socket ADDR] [--wasm PATH] [--tag k=v]... [guest flags]`. */
function parseNodeCommand(argv: string[]): NodeCommand | null {
  const fail = (message: string): never => {
    throw new UsageError(message, NODE_USAGE, "lunatic node --help");
  };
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        ...GUEST_OPTIONS,
        ...METRICS_OPTIONS,
        "bind-socket": { type: "string" },
        wasm: { type: "string" },
        tag: { type: "string", multiple: true },
        help: { type: "boolean", short: "h" },
      },
    });
  } catch (error) {
    return fail(parseArgsProblem(error));
  }
  const { values, positionals } = parsed;
  if (values.help) {
    console.log(NODE_HELP);
    return null;
  }
  if (positionals.length > 1) fail(`unexpected argument '${positionals[1]}'`);
  const controlUrl = positionals[0] ?? "http://127.0.0.1:3030/";
  if (!URL.canParse(controlUrl) || !/^https?:$/.test(new URL(controlUrl).protocol)) {
    fail(`CONTROL_URL must be an http:// URL (was ${controlUrl})`);
  }
  const attributes: Record<string, string> = {};
  for (const tag of values.tag ?? []) {
    const at = tag.indexOf("=");
    if (at <= 0) fail(`--tag takes KEY=VALUE (was ${tag})`);
    attributes[tag.slice(0, at)] = tag.slice(at + 1);
  }
  const socket = values["bind-socket"] === undefined
    ? { hostname: "127.0.0.1", port: 0 }
    : parseSocket(values["bind-socket"], fail);
  return {
    kind: "node",
    controlUrl,
    ...socket,
    wasm: values.wasm,
    attributes,
    ...guestFlags(values, fail),
    ...metricsFlags(values, fail),
  };
}

/**
 * Test mode's arguments, as lunatic's clap parser takes them (spec §7.3): the command word,
 * the module, an optional filter, then the guests' arguments; any flag libtest has that
 * lunatic does not (--test-threads, -q, ...) is a usage error.
 */
function parseTestCommand(argv: string[]): TestCommand | null {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        ...GUEST_OPTIONS,
        exact: { type: "boolean" },
        ignored: { type: "boolean" },
        "include-ignored": { type: "boolean" },
        nocapture: { type: "boolean" },
        "show-output": { type: "boolean" },
        list: { type: "boolean" },
        format: { type: "string" },
        "test-timeout": { type: "string" },
        "test-threads": { type: "string" },
        help: { type: "boolean", short: "h" },
      },
    });
  } catch (error) {
    throw new UsageError(parseArgsProblem(error), TEST_USAGE, "lunatic test --help");
  }
  const { values, positionals } = parsed;
  if (values.help) {
    console.log(TEST_HELP);
    return null;
  }
  const fail = (message: string): never => {
    throw new UsageError(message, TEST_USAGE, "lunatic test --help");
  };
  const [, path, filter, ...args] = positionals;
  if (path === undefined) fail("missing the path of the .wasm module to test");
  // clap's `requires` in both directions, then lunatic's own check of the value.
  if (values.list && values.format === undefined) fail("--list requires --format terse");
  if (values.format !== undefined && !values.list) fail("--format requires --list");
  if (values.format !== undefined && values.format !== "terse") {
    fail(`argument for --format must be terse (was ${values.format})`);
  }
  if (values.ignored && values["include-ignored"]) {
    fail("the options --include-ignored and --ignored are mutually exclusive");
  }
  let timeLimitMs: number | undefined;
  const timeout = values["test-timeout"];
  if (timeout !== undefined) {
    const seconds = Number(timeout);
    if (timeout.trim() === "" || !Number.isFinite(seconds) || seconds <= 0) {
      fail(`--test-timeout takes a positive number of seconds (was ${timeout})`);
    }
    timeLimitMs = seconds * 1000;
  }
  // One at a time unless asked: timing-sensitive tests (a restart expected within 10 ms) pass
  // reliably only with the machine to themselves (BENCHMARKS.md).
  let threads = 1;
  const threadsFlag = values["test-threads"];
  if (threadsFlag !== undefined) {
    threads = Number(threadsFlag);
    if (!/^\d+$/.test(threadsFlag) || threads < 1) {
      fail(`--test-threads takes a whole number of threads, at least 1 (was ${threadsFlag})`);
    }
  }
  return {
    kind: "test",
    threads,
    path: path!,
    filter,
    args,
    ...guestFlags(values, fail),
    exact: values.exact ?? false,
    onlyIgnored: values.ignored ?? false,
    includeIgnored: values["include-ignored"] ?? false,
    nocapture: values.nocapture ?? false,
    showOutput: values["show-output"] ?? false,
    list: values.list ?? false,
    timeLimitMs,
  };
}

async function main(argv: string[]): Promise<number> {
  let command: Command | null;
  try {
    command = parseCommandLine(argv);
    if (command !== null) checkLogLevel(command.kind);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    console.error(`error: ${error.message}\n${error.usage}\n(see ${error.helpCommand})`);
    return 2;
  }
  if (command === null) return 0;
  if (command.kind === "test") return await test(command);
  if (command.kind === "control") return await control(command);
  if (command.kind === "node") return await node(command);
  if (command.instances > 1) return await runParallel(command);
  const lunatic = new Lunatic();
  const servers: { close(): Promise<void> }[] = [];
  try {
    startMetrics(lunatic, command, servers);
    startObserver(lunatic, command, servers);
    const module = await lunatic.load(command.path);
    const root = lunatic.spawnRoot(module, {
      args: command.args,
      dirs: command.dirs,
      defaultDir: command.defaultDir,
      env: command.env,
      allow: command.allow,
    });
    reportHang(root.exited);
    const watching = command.watch ? watchModule(lunatic, module, command.path) : null;
    const outcome = await root.exited;
    watching?.close();
    lunatic.runtime.failures.flush();
    reportRootFailure(outcome);
    return exitCodeOf(outcome);
  } catch (error) {
    if (error instanceof LunaticError) {
      console.error(`Error: ${error.message}`);
      return 1;
    }
    throw error;
  } finally {
    // Answers in flight (the observer's kill that ended the root) are sent before the exit.
    await Promise.all(servers.map((server) => server.close()));
  }
}

/** `run --parallel N`: N instances on threads of their own (runtime/instances.ts). */
async function runParallel(command: RunCommand): Promise<number> {
  try {
    checkPortSharing();
    const bytes = await readModuleFile(command.path);
    const end = await runInstances(
      new URL("./instance_worker.ts", import.meta.url),
      command.instances,
      {
        bytes,
        displayName: basename(command.path),
        root: {
          args: command.args,
          dirs: command.dirs,
          defaultDir: command.defaultDir,
          env: command.env,
          allow: command.allow,
        },
      },
    );
    if (end.message !== null) console.error(end.message);
    return end.exitCode;
  } catch (error) {
    if (!(error instanceof LunaticError)) throw error;
    console.error(`Error: ${error.message}`);
    return 1;
  }
}

/** `LUNATIC_LOG` must name a level: a bad one is a usage error, like a bad flag. */
function checkLogLevel(kind: Command["kind"]): void {
  try {
    parseLevel(Deno.env.get("LUNATIC_LOG"));
  } catch (error) {
    const message = (error as Error).message;
    throw kind === "run"
      ? new UsageError(message)
      : kind === "test"
      ? new UsageError(message, TEST_USAGE, "lunatic test --help")
      : kind === "node"
      ? new UsageError(message, NODE_USAGE, "lunatic node --help")
      : new UsageError(message, CONTROL_USAGE, "lunatic control --help");
  }
}

/**
 * Says why the root failed, whatever the log level (the runtime's log leaves roots to their
 * spawner). A deliberate `exit(n)` says it with its exit code alone.
 */
function reportRootFailure(outcome: ProcessOutcome): void {
  const message = rootFailureMessage(outcome);
  if (message !== null) console.error(message);
}

/**
 * `--watch`: when the module's file is written or replaced, loads it as the module's next
 * version (runtime/hot.ts), saying so on stderr; bytes that are refused leave the system on
 * what it has. Returns the watcher, to be closed when the root ends.
 */
function watchModule(
  lunatic: Lunatic,
  module: LunaticModule,
  path: string,
): { close(): void } {
  const target = resolve(path);
  const watcher = Deno.watchFs(dirname(target));
  let timer: ReturnType<typeof setTimeout> | undefined;
  let reloading = Promise.resolve();
  const reload = () => {
    reloading = reloading.then(async () => {
      let bytes: Uint8Array;
      try {
        bytes = await Deno.readFile(target);
      } catch {
        return; // between a removal and the rename that replaces it
      }
      try {
        const next = await lunatic.reload(module, bytes, (victims) => {
          console.error(
            // The oldest version running, which is not the watched module's first once a
            // fourth version comes.
            `warning: purging version ${victims[0].module.version}'s last processes: ` +
              victims.map((process) => process.id).join(", "),
          );
        });
        console.error(`reloaded ${path}: version ${next.version}`);
      } catch (error) {
        if (!(error instanceof LunaticError)) throw error;
        console.error(`reload of ${path} refused: ${error.message}; still running what it had`);
      }
    });
  };
  (async () => {
    try {
      for await (const event of watcher) {
        if (!event.paths.some((changed) => resolve(changed) === target)) continue;
        if (event.kind !== "modify" && event.kind !== "create" && event.kind !== "rename") continue;
        // A copy is several writes: load once they have settled.
        clearTimeout(timer);
        timer = setTimeout(reload, 150);
      }
    } catch {
      // closed
    }
  })();
  return {
    close() {
      clearTimeout(timer);
      watcher.close();
    },
  };
}

/** Serves the Prometheus endpoint when `--prometheus` asks for it; says where on stderr. */
function startMetrics(
  lunatic: Lunatic,
  command: MetricsFlags,
  servers: { close(): Promise<void> }[],
): void {
  if (command.prometheus === undefined) return;
  const { hostname, port } = command.prometheus;
  let server;
  try {
    server = serveMetrics(lunatic.runtime, hostname, port);
  } catch (error) {
    throw new LunaticError(
      `cannot serve metrics on ${hostname}:${port}: ${(error as Error).message}`,
    );
  }
  servers.push(server);
  console.error(`prometheus metrics on ${server.url}`);
}

/** Serves the observer when `--observe` asks for it; says where on stderr. */
function startObserver(
  lunatic: Lunatic,
  command: MetricsFlags,
  servers: { close(): Promise<void> }[],
): void {
  if (command.observe === undefined) return;
  const { hostname, port, token } = command.observe;
  let server;
  try {
    server = serveObserver(lunatic.runtime, { hostname, port, token });
  } catch (error) {
    throw new LunaticError(
      `cannot serve the observer on ${hostname}:${port}: ${(error as Error).message}`,
    );
  }
  servers.push(server);
  console.error(`observer on ${server.url}`);
}

/** Joins the cluster, runs the `--wasm` root, serves until SIGINT or SIGTERM. */
async function node(command: NodeCommand): Promise<number> {
  const lunatic = new Lunatic();
  try {
    startMetrics(lunatic, command, []);
    startObserver(lunatic, command, []);
  } catch (error) {
    console.error(`Error: ${(error as Error).message}`);
    return 1;
  }
  const view = { dirs: command.dirs, defaultDir: command.defaultDir, env: command.env };
  let cluster: ClusterNode;
  let module: LunaticModule | null = null;
  try {
    if (command.wasm !== undefined) module = await lunatic.load(command.wasm);
    cluster = await ClusterNode.start({
      runtime: lunatic.runtime,
      controlUrl: command.controlUrl,
      hostname: command.hostname,
      port: command.port,
      attributes: command.attributes,
      // What lunatic's node gives a root process is the most a remote spawn gets here.
      ceiling: new ProcessConfig({
        canCompileModules: true,
        canCreateConfigs: true,
        canSpawnProcesses: true,
        ...rootView(view),
        allowedNamespaces: command.allow ?? null,
      }),
      stdio: hostStdio,
    });
  } catch (error) {
    console.error(`Error: cannot start the node: ${(error as Error).message}`);
    return 1;
  }
  console.log(`node ${cluster.nodeId} (${cluster.nodeName}) listening on ${cluster.address}`);
  if (module !== null) {
    try {
      await cluster.publish(module);
      // The root runs as in lunatic's node: environment 1, no guest arguments.
      const root = lunatic.spawnRoot(module, { ...view, allow: command.allow });
      root.environment.onDeadlock = null; // other nodes may yet send it something
      cluster.adoptEnvironment(root.environment);
      root.exited.then((outcome) => {
        lunatic.runtime.failures.flush();
        reportRootFailure(outcome);
      });
    } catch (error) {
      console.error(`Error: ${(error as Error).message}`);
      await cluster.stop();
      return 1;
    }
  }
  await new Promise<void>((resolve) => {
    for (const signal of ["SIGINT", "SIGTERM"] as const) Deno.addSignalListener(signal, resolve);
  });
  await cluster.stop();
  return 0;
}

/** Serves until SIGINT or SIGTERM, then exits 0. */
async function control(command: ControlCommand): Promise<number> {
  // Registrations and node starts and stops are what an operator watches for.
  setupLogging(Deno.env.get("LUNATIC_LOG") ? undefined : "info");
  let server: ControlServer;
  try {
    const store = ControlStore.open(command.stateDir);
    server = await ControlServer.startOnFreePort({
      store,
      hostname: command.hostname,
      port: command.port,
    });
  } catch (error) {
    console.error(`Error: cannot start the control server: ${(error as Error).message}`);
    return 1;
  }
  console.log(`control listening on ${server.url}`);
  await new Promise<void>((resolve) => {
    for (const signal of ["SIGINT", "SIGTERM"] as const) Deno.addSignalListener(signal, resolve);
  });
  await server.close();
  return 0;
}

async function test(command: TestCommand): Promise<number> {
  // Test mode logs only errors unless told otherwise: failing tests are expected (spec §7.1).
  const logLevel = Deno.env.get("LUNATIC_LOG") ? undefined : "error";
  setupLogging(logLevel);
  const lunatic = new Lunatic();
  try {
    const module = await lunatic.load(command.path);
    if (command.list) {
      for (const line of listTests(module, command)) console.log(line);
      return 0;
    }
    // Each test gets a thread of its own (the main thread itself when there is one).
    const tests = selectTests(discoverTests(module.info.exports), command).tests;
    const threads = Math.min(command.threads, tests.filter((test) => !test.ignored).length);
    const lanes = threads > 1 ? await workerLanes(threads, module, command, logLevel) : undefined;
    const summary = await runTests(lunatic.runtime, module, { ...command, lanes });
    lunatic.runtime.failures.flush();
    return summary.exitCode;
  } catch (error) {
    if (error instanceof LunaticError) {
      console.error(`Error: ${error.message}`);
      return 1;
    }
    throw error;
  }
}

/**
 * The runtime ends a root whose processes all wait for messages nothing can send. Should the
 * event loop still empty while the root waits (for something no timer or I/O will bring),
 * lunatic would hang forever; we say so and exit.
 */
function reportHang(rootExited: Promise<unknown>): void {
  let ended = false;
  rootExited.then(() => ended = true);
  globalThis.addEventListener("beforeunload", (event) => {
    if (ended) return;
    event.preventDefault();
    console.error(
      "Error: deadlock: the root process waits for something that nothing can bring " +
        "(no process can run, and no timer or I/O is pending)",
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
