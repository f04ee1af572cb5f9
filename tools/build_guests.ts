/**
 * Builds the WebAssembly guests.
 *
 *   deno run --allow-all tools/build_guests.ts           build what is out of date
 *   deno run --allow-all tools/build_guests.ts --check   check the committed examples
 *
 * Sources and outputs:
 *   tests/guests/<name>.c|.wat  ->  tests/guests/build/<name>.wasm   (not committed)
 *   examples/<name>.c|.wat      ->  examples/<name>.wasm             (committed, so that
 *                                   `deno task run examples/hello.wasm` works on a fresh clone)
 *
 * C is compiled with `clang-14 --target=wasm32-wasi -O2 -Wall -Iexamples -Wl,--strip-debug`
 * (the DWARF that wasi-libc carries is dropped; the name section stays), WAT with
 * `wat2wasm --enable-all`. A source's first line may add flags:
 *   `// build: -O0 -Wl,--export=foo`   (C)        `;; build: --disable-simd`   (WAT)
 *
 * A target is rebuilt unless it is newer than its source, the files the source includes from
 * its own directory, examples/lunatic.h (for C) and this script. Builds run with the repository root as the working directory and relative paths,
 * so their bytes do not depend on where the repository lives; the same inputs always give the
 * same bytes. `--check` builds the examples into a temporary directory and exits 1, listing
 * every committed example .wasm that is missing or differs from the fresh build.
 */
import { join, resolve } from "node:path";

const ROOT = resolve(import.meta.dirname!, "..");
/** A path relative to the repository root (or an absolute one) as an absolute path. */
const abs = (path: string) => resolve(ROOT, path);
const HEADER = "examples/lunatic.h";
const SELF = "tools/build_guests.ts";
const CC = ["clang-14", "--target=wasm32-wasi", "-O2", "-Wall", "-Iexamples", "-Wl,--strip-debug"];
const WAT2WASM = ["wat2wasm", "--enable-all"];

/** A source file and the .wasm built from it, both relative to the repository root. */
interface Target {
  source: string;
  output: string;
}

/** The .c and .wat files directly inside `dir`, each with its output in `outDir`. */
function targetsIn(dir: string, outDir: string): Target[] {
  const targets: Target[] = [];
  let entries: Deno.DirEntry[];
  try {
    entries = [...Deno.readDirSync(abs(dir))];
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return [];
    throw e;
  }
  for (const entry of entries) {
    const match = entry.isFile ? entry.name.match(/^(.+)\.(c|wat)$/) : null;
    if (match) {
      targets.push({ source: `${dir}/${entry.name}`, output: `${outDir}/${match[1]}.wasm` });
    }
  }
  targets.sort((a, b) => a.source < b.source ? -1 : 1);
  for (let i = 1; i < targets.length; i++) {
    if (targets[i].output === targets[i - 1].output) {
      throw new Error(`${targets[i - 1].source} and ${targets[i].source} build the same file`);
    }
  }
  return targets;
}

function mtime(path: string): number | null {
  try {
    return Deno.statSync(abs(path)).mtime?.getTime() ?? null;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return null;
    throw e;
  }
}

/** `source` and the files it includes with `#include "..."` from its own directory, in turn. */
function localIncludes(source: string, found = new Set<string>()): Set<string> {
  if (found.has(source)) return found;
  found.add(source);
  const dir = source.replace(/[^/]*$/, "");
  for (
    const match of Deno.readTextFileSync(abs(source)).matchAll(/^\s*#\s*include\s+"([^"]+)"/gm)
  ) {
    const included = `${dir}${match[1]}`;
    if (mtime(included) !== null) localIncludes(included, found);
  }
  return found;
}

function isCurrent(target: Target): boolean {
  const built = mtime(target.output);
  if (built === null) return false;
  const sources = target.source.endsWith(".c") ? [...localIncludes(target.source), HEADER] : [
    target.source,
  ];
  return [SELF, ...sources].every((input) => (mtime(input) ?? Infinity) < built);
}

/** The compiler command for `target`, writing to `output` (relative to the root, or absolute). */
function command(target: Target, output: string): string[] {
  const firstLine = Deno.readTextFileSync(abs(target.source)).split("\n", 1)[0];
  const extra = firstLine.match(/^\s*(?:\/\/|;;)\s*build:(.*)$/)?.[1].trim().split(/\s+/) ?? [];
  const base = target.source.endsWith(".c") ? CC : WAT2WASM;
  return [...base, ...extra.filter((flag) => flag !== ""), target.source, "-o", output];
}

/** Builds `target` into `output` (default: its own output path); returns the error text on
 * failure. The file is written under a temporary name and renamed, so an interrupted build
 * never leaves a fresh-looking target behind. */
async function build(target: Target, output = target.output): Promise<string | null> {
  const temporary = output.replace(/([^/]+)$/, ".$1.tmp");
  const [program, ...args] = command(target, temporary);
  let result: Deno.CommandOutput;
  try {
    result = await new Deno.Command(program, { args, cwd: ROOT, stdout: "piped", stderr: "piped" })
      .output();
  } catch (e) {
    return `${target.source}: cannot run ${program}: ${e instanceof Error ? e.message : e}`;
  }
  const text = new TextDecoder().decode(result.stdout) + new TextDecoder().decode(result.stderr);
  if (result.code !== 0) {
    try {
      Deno.removeSync(abs(temporary));
    } catch { /* nothing was written */ }
    return `${target.source}: ${program} failed (exit ${result.code})\n${text}`;
  }
  Deno.renameSync(abs(temporary), abs(output));
  Deno.chmodSync(abs(output), 0o644); // clang marks its output executable
  if (text.trim() !== "") console.error(text.trimEnd()); // warnings
  return null;
}

/** Runs `job` over `items`, a few at a time; returns the errors. */
async function runAll<T>(items: T[], job: (item: T) => Promise<string | null>): Promise<string[]> {
  const errors: string[] = [];
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const error = await job(items[next++]);
      if (error !== null) errors.push(error);
    }
  };
  const workers = Math.min(items.length, navigator.hardwareConcurrency || 2);
  await Promise.all(Array.from({ length: workers }, worker));
  return errors;
}

function fail(errors: string[]): never {
  for (const error of errors) console.error(error.trimEnd());
  Deno.exit(1);
}

/** Builds the examples into `dir`; returns the errors, or the committed outputs that differ. */
async function check(examples: Target[], dir: string): Promise<string[]> {
  const fresh = (t: Target) => join(dir, t.output.replace(/^.*\//, ""));
  const errors = await runAll(examples, (t) => build(t, fresh(t)));
  if (errors.length > 0) return errors;
  const stale = examples.filter((t) => {
    let committed: Uint8Array;
    try {
      committed = Deno.readFileSync(abs(t.output));
    } catch {
      return true;
    }
    const built = Deno.readFileSync(fresh(t));
    return committed.length !== built.length || committed.some((byte, i) => byte !== built[i]);
  });
  if (stale.length === 0) return [];
  return [
    "These committed examples are missing or differ from a fresh build of their source:",
    ...stale.map((t) => `  ${t.output} (from ${t.source})`),
    "Run `deno task build:guests` and commit the .wasm files.",
  ];
}

if (Deno.args.some((arg) => arg !== "--check")) {
  console.error("usage: deno run --allow-all tools/build_guests.ts [--check]");
  Deno.exit(2);
}

const examples = targetsIn("examples", "examples");

if (Deno.args.includes("--check")) {
  const dir = Deno.makeTempDirSync({ prefix: "build_guests_check_" });
  let errors: string[];
  try {
    errors = await check(examples, dir);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
  if (errors.length > 0) fail(errors);
  console.log(`${examples.length} examples are up to date`);
} else {
  Deno.mkdirSync(abs("tests/guests/build"), { recursive: true });
  const targets = [...examples, ...targetsIn("tests/guests", "tests/guests/build")];
  const errors = await runAll(targets.filter((t) => !isCurrent(t)), async (t) => {
    const error = await build(t);
    if (error === null) console.log(`built ${t.output}`);
    return error;
  });
  if (errors.length > 0) fail(errors);
}
