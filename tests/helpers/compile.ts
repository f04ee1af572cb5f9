/**
 * Builds small guests inside tests: WAT with Debian's wat2wasm, C with clang-14, each in a
 * temporary directory that is removed afterwards.
 */

async function run(command: string, args: string[], cwd: string): Promise<void> {
  const { success, stderr } = await new Deno.Command(command, { args, cwd }).output();
  if (!success) throw new Error(`${command} failed: ${new TextDecoder().decode(stderr)}`);
}

async function build(
  sourceName: string,
  source: string,
  command: string,
  args: string[],
): Promise<Uint8Array<ArrayBuffer>> {
  const dir = await Deno.makeTempDir({ prefix: "lunatic_test_build_" });
  try {
    await Deno.writeTextFile(`${dir}/${sourceName}`, source);
    await run(command, [...args, sourceName, "-o", "out.wasm"], dir);
    return await Deno.readFile(`${dir}/out.wasm`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Compiles WAT (function names kept in the name section); `flags` are wat2wasm's. */
export function compileWat(source: string, flags: string[] = []): Promise<Uint8Array<ArrayBuffer>> {
  return build("module.wat", source, "wat2wasm", ["--debug-names", ...flags]);
}

/** Compiles C with clang-14; `flags` choose the target, optimization and libraries. */
export function compileC(source: string, flags: string[]): Promise<Uint8Array<ArrayBuffer>> {
  return build("guest.c", source, "clang-14", flags);
}
