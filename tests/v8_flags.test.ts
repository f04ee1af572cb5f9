/**
 * Every deno.json task that runs guests gives V8 the runtime's flags (runtime/v8_flags.ts);
 * the CLI tests and the benchmarks start Deno with the constant itself.
 */
import assert from "node:assert/strict";
import { V8_FLAGS } from "../runtime/v8_flags.ts";

const config = JSON.parse(
  Deno.readTextFileSync(new URL("../deno.json", import.meta.url)),
) as { tasks: Record<string, string> };

Deno.test("the tasks that run guests pass exactly the runtime's V8 flags", () => {
  for (const task of ["run", "node", "test", "bench", "bench:failure", "compile"]) {
    const flags = config.tasks[task].match(/--v8-flags=(\S+)/)?.[1];
    assert.equal(flags, V8_FLAGS.join(","), `deno task ${task}`);
  }
});
