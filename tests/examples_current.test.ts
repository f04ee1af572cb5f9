// The committed examples/*.wasm must be what their sources build to today, so that
// `deno task run examples/<name>.wasm` on a fresh clone runs the code that is in the repository.
import assert from "node:assert/strict";
import { resolve } from "node:path";

Deno.test("committed examples/*.wasm match a fresh build (build_guests.ts --check)", async () => {
  const root = resolve(import.meta.dirname!, "..");
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", "tools/build_guests.ts", "--check"],
    cwd: root,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const output = new TextDecoder().decode(stdout) + new TextDecoder().decode(stderr);
  assert.equal(code, 0, `tools/build_guests.ts --check failed:\n${output}`);
});
