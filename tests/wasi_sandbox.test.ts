/**
 * The preopen sandbox: `..`, absolute paths and symlinks may not lead out of a preopen, nor
 * out of the directory fd a call names (EPERM = 63, as wasmtime reports), while the same
 * kinds of lookup that stay inside work; a directory fd without PATH_OPEN opens nothing
 * (ENOTCAPABLE = 76).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { runWasiGuest } from "./helpers/wasi_harness.ts";

const TRANSCRIPT = `open ../outside.txt: 63
open /etc/passwd: 63
open sub/../../outside.txt: 63
open ..: 63
open escape_link/secret.txt: 63
open escape_link: 63
open abs_link/passwd: 63
open sneaky_link: 63
create through escape_link: 63
open loop_a: 32
open non-utf8: 25
open sub/inside.txt: 0
open sub/../sub/inside.txt: 0
open inner_link: 0
open inner_link nofollow: 32
open .: 0
inner_link content: [inside]
open sub dir: 0
sub: open ../../outside.txt: 63
sub: open ../sub/inside.txt: 63
sub: open inside.txt: 0
open sub dir to list only: 0
listing sub: open inside.txt: 76
stat escape_link nofollow: 0
escape_link filetype=7
stat escape_link follow: 63
stat ..: 63
mkdir ../newdir: 63
rename out: 63
rename in: 63
symlink absolute: 63
link out: 63
unlink out: 63
rmdir out: 63
unlink escape_link itself: 0
libc fopen /etc/passwd: refused
`;

Deno.test("wasi: paths cannot leave the preopen through .., absolute paths or symlinks", async () => {
  const base = await Deno.realPath(await Deno.makeTempDir({ prefix: "wasi_sandbox_" }));
  try {
    // base/outside.txt and base/outside_dir/ are next to the preopen base/root, not in it.
    const root = join(base, "root");
    await Deno.mkdir(join(root, "sub"), { recursive: true });
    await Deno.mkdir(join(base, "outside_dir"));
    await Deno.writeTextFile(join(base, "outside.txt"), "secret");
    await Deno.writeTextFile(join(base, "outside_dir", "secret.txt"), "secret too");
    await Deno.writeTextFile(join(root, "sub", "inside.txt"), "inside");
    await Deno.symlink("../outside_dir", join(root, "escape_link"));
    await Deno.symlink("/etc", join(root, "abs_link"));
    await Deno.symlink("sub/../../outside.txt", join(root, "sneaky_link"));
    await Deno.symlink("sub/inside.txt", join(root, "inner_link"));
    await Deno.symlink("loop_b", join(root, "loop_a"));
    await Deno.symlink("loop_a", join(root, "loop_b"));

    const run = await runWasiGuest("wasi_sandbox", {
      args: ["wasi_sandbox", root],
      preopenedDirs: [root],
    });
    assert.equal(run.exitCode, 0, run.stderr);
    assert.equal(run.stdout, TRANSCRIPT);

    // Nothing outside the preopen was created, moved or removed.
    const outside = [...Deno.readDirSync(base)].map((entry) => entry.name).sort();
    assert.deepEqual(outside, ["outside.txt", "outside_dir", "root"]);
    assert.equal(await Deno.readTextFile(join(base, "outside.txt")), "secret");
    assert.deepEqual([...Deno.readDirSync(join(base, "outside_dir"))].map((e) => e.name), [
      "secret.txt",
    ]);
    // Inside, only the escape_link symlink itself was removed (unlinking a link is allowed).
    const inside = [...Deno.readDirSync(root)].map((entry) => entry.name).sort();
    assert.deepEqual(inside, ["abs_link", "inner_link", "loop_a", "loop_b", "sneaky_link", "sub"]);
    assert.equal(await Deno.readTextFile(join(root, "sub", "inside.txt")), "inside");
  } finally {
    await Deno.remove(base, { recursive: true });
  }
});
