/**
 * The WASI filesystem against a real temporary directory: preopen discovery, file and
 * directory operations through wasi-libc, and fd_readdir paging. Each test checks both what
 * the guest printed and what ended up on the host's disk.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { runWasiGuest } from "./helpers/wasi_harness.ts";

/** Runs `body` with a fresh temporary directory (symlinks resolved), removed afterwards. */
async function withTempDir(body: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.realPath(await Deno.makeTempDir({ prefix: "wasi_fs_" }));
  try {
    await body(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("wasi: without preopens, fd 3 is EBADF", async () => {
  const run = await runWasiGuest("wasi_preopens");
  assert.equal(run.exitCode, 0);
  assert.equal(run.stdout, "end fd=3 err=8\nprestat stdin: 8\nprestat unknown: 8\n");
});

Deno.test("wasi: preopens take fds 3, 4, ... under the config's strings", async () => {
  await withTempDir(async (dir) => {
    await Deno.writeTextFile(join(dir, "marker.txt"), "twelve bytes");
    await Deno.mkdir(join(dir, "cwd"));
    await Deno.writeTextFile(join(dir, "cwd", "marker.txt"), "five!");
    // "." is the runtime's working directory, and stays "." for the guest.
    const savedCwd = Deno.cwd();
    Deno.chdir(join(dir, "cwd"));
    let run;
    try {
      run = await runWasiGuest("wasi_preopens", { preopenedDirs: [dir, "."] });
    } finally {
      Deno.chdir(savedCwd);
    }
    assert.equal(run.exitCode, 0);
    assert.equal(
      run.stdout,
      [
        `preopen fd=3 tag=0 len=${dir.length} name=[${dir}] err=0`,
        "short buffer: 37",
        "fdstat: 0",
        "filetype=3",
        "marker err=0 size=12",
        "close preopen: 0",
        "prestat after close: 8",
        "preopen fd=4 tag=0 len=1 name=[.] err=0",
        "short buffer: 37",
        "fdstat: 0",
        "filetype=3",
        "marker err=0 size=5",
        "close preopen: 0",
        "prestat after close: 8",
        "end fd=5 err=8",
        "prestat stdin: 8",
        "prestat unknown: 8",
        "",
      ].join("\n"),
    );
  });
});

/** What wasi_fs prints; errno values are WASI's (20 EEXIST, 44 ENOENT, 31 EISDIR, ...). */
const FS_TRANSCRIPT = `mkdir: 0
mkdir again: 20
stat: 0
size=13 regular=1
content: [hello, world
]
read at 7: 5 [world]
tell: 12
end: 13
fstat size=18
pread at 7: 5 [world]
tell after pread/pwrite: 18
seek before start: 28
fsync: 0
fdatasync: 0
ftruncate: 0
size after truncate=5
fallocate: 0
size after fallocate=10
ftruncate back: 0
fadvise: 0
after append: [HELLO!]
write to read-only fd: 8
fdstat: 0
read right=1
drop read right: 0
read without right: 8
regain read right: 76
rename: 0
stat old name: 44
link: 0
nlink=2
symlink: 0
readlink: [b.txt]
readlink short: 2 [b.]
lstat is link=1
stat through link size=6
through link: [HELLO!]
create excl: 0
create excl again: 20
create read-only: 0
open missing: 44
open dir for writing: 31
open file as dir: 54
open through file: 54
rmdir non-empty: 55
utimensat: 0
atime=1000000000 mtime=1234567890
atime=1000000000 mtime=1500000000
unlink dir: 31
unlink b: 0
unlink c: 0
unlink l: 0
unlink new: 0
unlink ro: 0
unlink missing: 44
rmdir: 0
stat removed dir: 44
set append: 0
append flag=1
tell: 0
position after append=6
clear append: 0
futimens: 0
mtime=2000000001
renumber: 0
close renumbered-away fd: 8
read via new number: [Xbcdef]
renumber unknown: 8
size after O_TRUNC=0
left open: 1
`;

Deno.test("wasi: files and directories under a preopen behave as on POSIX", async () => {
  await withTempDir(async (dir) => {
    const run = await runWasiGuest("wasi_fs", {
      args: ["wasi_fs", dir],
      preopenedDirs: [dir],
    });
    assert.equal(run.exitCode, 0, run.stderr);
    assert.equal(run.stdout, FS_TRANSCRIPT);
    // The guest cleaned up after itself and left exactly one file behind, on the real disk.
    const left = [...Deno.readDirSync(dir)].map((entry) => entry.name);
    assert.deepEqual(left, ["result.txt"]);
    assert.equal(await Deno.readTextFile(join(dir, "result.txt")), "done\n");
  });
});

Deno.test("wasi: fd_readdir lists every entry with types and resumes from cookies", async () => {
  await withTempDir(async (dir) => {
    const many = join(dir, "many");
    await Deno.mkdir(many);
    // About 10 KiB of dirents: more than wasi-libc's 4 KiB buffer, so it must resume.
    const files = Array.from(
      { length: 150 },
      (_, i) => `file-${i}-with-a-fairly-long-name-to-fill-buffers`,
    );
    for (const name of files) await Deno.writeTextFile(join(many, name), name);
    await Deno.mkdir(join(many, "sub"));
    await Deno.symlink(files[0], join(many, "link"));

    const run = await runWasiGuest("wasi_readdir", {
      args: ["wasi_readdir", dir],
      preopenedDirs: [dir],
    });
    assert.equal(run.exitCode, 0, run.stderr);
    const listing = ["d .", "d ..", "d sub", "l link", ...files.map((name) => `f ${name}`)]
      .sort();
    assert.equal(
      run.stdout,
      [
        `libc entries=${files.length + 4}`,
        ...listing,
        "small: 0",
        "small used=30 next=1 namlen=1 type=3 name=. ino_set=1",
        "from cookie 2: 0",
        "cookie 2 first next=3 name_is_dot=0",
        `paged entries=${files.length + 4} calls>1=1`,
        "past end: 0",
        "past end used=0",
        "readdir on file: 54",
        "",
      ].join("\n"),
    );
  });
});
