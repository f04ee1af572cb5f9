/**
 * Runs the official WebAssembly wasi-testsuite's preview1 tests through our command line, the
 * way the suite's own runner runs a runtime: the test's root directory preopened as the
 * guest's `/` and nothing else, the environment exactly the test's, its arguments; a test
 * passes when the exit code (and the stdout it names, if any) is what its JSON says.
 *
 *   deno run --allow-all tools/wasi_testsuite.ts SUITE_DIR [FILTER]
 *
 * SUITE_DIR is a checkout of the suite's `prod/testsuite-base` branch (which holds the
 * prebuilt tests under `tests/<language>/testsuite/wasm32-wasip1/`); nothing of it is kept
 * here. Each test runs on a fresh copy of its root directory, so tests cannot see what an
 * earlier one left. Prints a line per test and `N passed, M failed`.
 */
import { fileURLToPath } from "node:url";
import { basename, dirname, join } from "node:path";
import { V8_FLAGS_ARGUMENT } from "../runtime/v8_flags.ts";

interface TestSpec {
  args?: string[];
  env?: Record<string, string>;
  root?: string;
  exit_code?: number;
  stdout?: string;
  stderr?: string;
}

const [suiteDir, filter] = Deno.args;
if (suiteDir === undefined) {
  console.error("usage: deno run --allow-all tools/wasi_testsuite.ts SUITE_DIR [FILTER]");
  Deno.exit(2);
}
const cli = fileURLToPath(new URL("../cli.ts", import.meta.url));

/** Every `*.wasm` of every `wasm32-wasip1` test directory under `dir`. */
async function findTests(dir: string): Promise<string[]> {
  const found: string[] = [];
  for await (const entry of Deno.readDir(dir)) {
    const path = join(dir, entry.name);
    if (entry.isDirectory && !entry.name.endsWith(".dir")) found.push(...await findTests(path));
    else if (entry.isFile && entry.name.endsWith(".wasm") && dir.endsWith("wasm32-wasip1")) {
      found.push(path);
    }
  }
  return found.sort();
}

async function copyTree(from: string, to: string): Promise<void> {
  await Deno.mkdir(to, { recursive: true });
  for await (const entry of Deno.readDir(from)) {
    const source = join(from, entry.name);
    const target = join(to, entry.name);
    if (entry.isSymlink) await Deno.symlink(await Deno.readLink(source), target);
    else if (entry.isDirectory) await copyTree(source, target);
    else await Deno.copyFile(source, target);
  }
}

async function runTest(wasm: string): Promise<string | null> {
  const specPath = wasm.replace(/\.wasm$/, ".json");
  let spec: TestSpec = {};
  try {
    spec = JSON.parse(await Deno.readTextFile(specPath));
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  const flags = ["--no-inherit-env", "--no-default-dir"];
  for (const [name, value] of Object.entries(spec.env ?? {})) {
    flags.push("--env", `${name}=${value}`);
  }
  let scratch: string | null = null;
  if (spec.root !== undefined) {
    scratch = await Deno.makeTempDir({ prefix: "wasi-testsuite-" });
    const root = join(scratch, basename(spec.root));
    await copyTree(join(dirname(wasm), spec.root), root);
    flags.push("--dir", `${root}::/`);
  }
  try {
    const output = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--allow-all",
        V8_FLAGS_ARGUMENT,
        cli,
        "run",
        ...flags,
        wasm,
        "--",
        ...(spec.args ?? []),
      ],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      env: {},
      clearEnv: false,
    }).output();
    const stdout = new TextDecoder().decode(output.stdout);
    const stderr = new TextDecoder().decode(output.stderr);
    const expected = spec.exit_code ?? 0;
    if (output.code !== expected) {
      return `exit code ${output.code}, expected ${expected}\n${(stdout + stderr).trim()}`;
    }
    if (spec.stdout !== undefined && !stdout.startsWith(spec.stdout)) {
      return `stdout ${JSON.stringify(stdout)}, expected ${JSON.stringify(spec.stdout)}`;
    }
    if (spec.stderr !== undefined && !stderr.startsWith(spec.stderr)) {
      return `stderr ${JSON.stringify(stderr)}, expected ${JSON.stringify(spec.stderr)}`;
    }
    return null;
  } finally {
    if (scratch !== null) await Deno.remove(scratch, { recursive: true });
  }
}

let passed = 0;
let failed = 0;
for (const wasm of await findTests(join(suiteDir, "tests"))) {
  const name = wasm.slice(join(suiteDir, "tests").length + 1);
  if (filter !== undefined && !name.includes(filter)) continue;
  const problem = await runTest(wasm);
  if (problem === null) {
    passed++;
    console.log(`ok     ${name}`);
  } else {
    failed++;
    console.log(`FAILED ${name}: ${problem.split("\n").slice(0, 6).join("\n         ")}`);
  }
}
console.log(`${passed} passed, ${failed} failed`);
