/**
 * The module pipeline's compilation: a module whose memory can be imported is compiled once
 * and serves processes of every memory limit (a config with another limit never compiles
 * again); DWARF is left out of what the engine compiles, and backtraces still name the
 * functions of a debug build.
 */
import assert from "node:assert/strict";
import { CaptureSink, EMPTY_INPUT, Lunatic } from "../lunatic.ts";
import { compileC, compileWat } from "./helpers/compile.ts";
import { guestPath, quietLunatic, runGuest } from "./helpers/run_guest.ts";

Deno.test("one compiled module serves every memory limit; each process's memory has its own maximum", async () => {
  const lunatic = new Lunatic();
  const module = await lunatic.load(guestPath("memory_limit"));
  const compiled = module.compiled(64);
  assert.equal(module.compiled(128), compiled);
  assert.equal(module.compiled(65_535), compiled);
  const initial = module.memoryMinimumPages!;
  assert.deepEqual(module.importedMemory(64), { initial, maximum: 64 });
  assert.deepEqual(module.importedMemory(128), { initial, maximum: 128 });
  // Processes with the 4 MiB config of the guest still stop at their limit.
  const { stdout } = await runGuest(guestPath("memory_limit"), { entry: "via_spawn", lunatic });
  assert.match(stdout, /^spawn: blocks=\d pages=64 grow=-1\n$/);
});

Deno.test("a module whose memory cannot be imported (shared) is compiled once per limit, with the limit in it", async () => {
  const bytes = await compileWat(
    `(module (memory (export "memory") 1 100 shared) (func (export "_start")))`,
    ["--enable-threads"],
  );
  const lunatic = new Lunatic();
  const module = await lunatic.load(bytes);
  assert.equal(module.importedMemory(10), null);
  assert.notEqual(module.compiled(10), module.compiled(20));
  assert.equal(module.compiled(10), module.compiled(10));
});

Deno.test("a debug build: DWARF is not compiled, and a trap's backtrace still names its functions", async () => {
  const bytes = await compileC(
    `#include <stdio.h>
     __attribute__((noinline)) void explode_in_debug_build(void) { __builtin_trap(); }
     int main(void) { puts("about to trap"); explode_in_debug_build(); return 0; }`,
    ["--target=wasm32-wasi", "-O0", "-g"],
  );
  const lunatic = quietLunatic();
  const module = await lunatic.load(bytes, "debug_build.wasm");
  assert.ok(module.info.sections.some((s) => s.name === ".debug_info"), "the build has DWARF");
  const compiled = module.compiled(65_535);
  for (const name of [".debug_info", ".debug_line", ".debug_str"]) {
    assert.equal(WebAssembly.Module.customSections(compiled, name).length, 0, name);
  }
  // The module is cached by content: the run finds it under the name it was loaded with.
  const stdout = new CaptureSink();
  const { outcome } = await lunatic.run(bytes, {
    stdio: { stdin: EMPTY_INPUT, stdout, stderr: new CaptureSink() },
  });
  assert.equal(stdout.text(), "about to trap\n");
  assert.ok(outcome.kind === "failure");
  assert.match(outcome.backtrace ?? "", /0x[0-9a-f]+ - debug_build\.wasm!explode_in_debug_build\n/);
});
