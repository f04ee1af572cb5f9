/**
 * Corners of WASI preview1 that the official wasi-testsuite checks, through a C guest run by
 * the CLI with one directory preopened as `/` and nothing else: ENOTSOCK for sockets calls
 * on files, EISDIR for a directory opened to write, ENOENT for new names ending in `/`,
 * times to the nanosecond (milliseconds without FFI), a symlink's own times, rights that
 * only shrink, and renumbering onto a preopen.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { guestPath, runCli } from "./helpers/run_guest.ts";

const FILE_TIME = 1600000000123456789n;
const LINK_TIME = 1500000000987654321n;

/** The guest's transcript, given the times the host can store. */
function transcript(fileTime: bigint, belowTime: bigint, linkTime: bigint): string {
  return `create file.txt: 0
sock_shutdown file: 57
sock_recv file: 57
sock_send file: 57
sock_accept file: 57
sock_shutdown bad fd: 8
sock_recv bad fd: 8
sock_send bad fd: 8
sock_accept bad fd: 8
open . O_DIRECTORY read+write: 31
open . O_DIRECTORY read: 0
link file.txt link/: 44
symlink file.txt target/: 44
symlink file.txt target: 0
fd_filestat_set_times mtim: 0
fd_filestat_get: 0
fd mtim=${fileTime}
path_filestat_set_times mtim-100: 0
file.txt: err=0 mtim=${belowTime}
set atim now: 0
file.txt after atim: err=0 mtim=${belowTime}
set target's own mtim: 0
target nofollow: err=0 mtim=${linkTime}
target follow: err=0 mtim=${belowTime}
contradictory flags: 28
open . without PATH_FILESTAT_SET_SIZE: 0
O_TRUNC through it: 76
O_CREAT through it: 76
open with more rights than it passes on: 0
fdstat: 0
rights read=1 write=1 seek=0
grow rights: 76
shrink rights: 0
grow back: 76
renumber file onto preopen: 0
prestat of the renumbered fd: 8
fdstat of the renumbered fd: 0
filetype=4
close the old number: 8
close the directory fd: 0
close it again: 8
`;
}

async function runInFreshRoot(denoFlags: string[]) {
  const root = await Deno.realPath(await Deno.makeTempDir({ prefix: "wasi_conformance_" }));
  try {
    const result = await runCli(
      ["run", "--no-default-dir", "--dir", `${root}::/`, guestPath("wasi_conformance")],
      { denoFlags },
    );
    const names = [...Deno.readDirSync(root)].map((entry) => entry.name).sort();
    const file = Deno.statSync(join(root, "file.txt"));
    const link = Deno.lstatSync(join(root, "target"));
    return { ...result, names, file, link };
  } finally {
    await Deno.remove(root, { recursive: true });
  }
}

const millis = (ns: bigint) => Number(ns / 1_000_000n);

Deno.test("wasi-testsuite corners: sockets, directories, trailing slashes, ns times, rights, renumbering", async () => {
  const run = await runInFreshRoot([]);
  assert.equal(run.stderr, "");
  assert.equal(run.code, 0);
  if (Deno.build.os === "linux") {
    // Through libc's utimensat and statx: what the guest set is what it reads back.
    assert.equal(run.stdout, transcript(FILE_TIME, FILE_TIME - 100n, LINK_TIME));
  }
  assert.deepEqual(run.names, ["file.txt", "target"]);
  assert.equal(run.file.mtime?.getTime(), millis(FILE_TIME - 100n));
  // The link itself has the time the guest gave it; the file it points to does not.
  assert.ok(run.link.isSymlink);
  assert.equal(run.link.mtime?.getTime(), millis(LINK_TIME));
});

Deno.test("without the FFI permission, times are set and read in milliseconds", async () => {
  const run = await runInFreshRoot(["--deny-ffi"]);
  assert.equal(run.code, 0, run.stderr);
  const ms = (ns: bigint) => ns / 1_000_000n * 1_000_000n;
  // The guest's mtim - 100 ns lands in the millisecond before.
  const below = ms(ms(FILE_TIME) - 100n);
  assert.equal(run.stdout, transcript(ms(FILE_TIME), below, ms(LINK_TIME)));
  assert.equal(run.link.mtime?.getTime(), millis(LINK_TIME));
});
