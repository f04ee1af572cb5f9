/**
 * The WASI namespace as a whole: every preview1 function with its witx signature, which ones
 * suspend, the spawn-time preopen check, and calls made directly from the host.
 */
import assert from "node:assert/strict";
import { wasiNamespace } from "../host/wasi.ts";
import { ProcessConfig } from "../runtime/config.ts";
import { LunaticError, ProcessExit } from "../runtime/errors.ts";
import { BufferInput, CaptureSink } from "../runtime/stdio.ts";
import { WasiTestProcess } from "./helpers/wasi_harness.ts";

/** `wasi_snapshot_preview1.witx` lowered to core wasm: name -> [params, results]. */
const PREVIEW1_SIGNATURES: Record<string, [string, string]> = {
  args_get: ["i32 i32", "i32"],
  args_sizes_get: ["i32 i32", "i32"],
  environ_get: ["i32 i32", "i32"],
  environ_sizes_get: ["i32 i32", "i32"],
  clock_res_get: ["i32 i32", "i32"],
  clock_time_get: ["i32 i64 i32", "i32"],
  fd_advise: ["i32 i64 i64 i32", "i32"],
  fd_allocate: ["i32 i64 i64", "i32"],
  fd_close: ["i32", "i32"],
  fd_datasync: ["i32", "i32"],
  fd_fdstat_get: ["i32 i32", "i32"],
  fd_fdstat_set_flags: ["i32 i32", "i32"],
  fd_fdstat_set_rights: ["i32 i64 i64", "i32"],
  fd_filestat_get: ["i32 i32", "i32"],
  fd_filestat_set_size: ["i32 i64", "i32"],
  fd_filestat_set_times: ["i32 i64 i64 i32", "i32"],
  fd_pread: ["i32 i32 i32 i64 i32", "i32"],
  fd_prestat_get: ["i32 i32", "i32"],
  fd_prestat_dir_name: ["i32 i32 i32", "i32"],
  fd_pwrite: ["i32 i32 i32 i64 i32", "i32"],
  fd_read: ["i32 i32 i32 i32", "i32"],
  fd_readdir: ["i32 i32 i32 i64 i32", "i32"],
  fd_renumber: ["i32 i32", "i32"],
  fd_seek: ["i32 i64 i32 i32", "i32"],
  fd_sync: ["i32", "i32"],
  fd_tell: ["i32 i32", "i32"],
  fd_write: ["i32 i32 i32 i32", "i32"],
  path_create_directory: ["i32 i32 i32", "i32"],
  path_filestat_get: ["i32 i32 i32 i32 i32", "i32"],
  path_filestat_set_times: ["i32 i32 i32 i32 i64 i64 i32", "i32"],
  path_link: ["i32 i32 i32 i32 i32 i32 i32", "i32"],
  path_open: ["i32 i32 i32 i32 i32 i64 i64 i32 i32", "i32"],
  path_readlink: ["i32 i32 i32 i32 i32 i32", "i32"],
  path_remove_directory: ["i32 i32 i32", "i32"],
  path_rename: ["i32 i32 i32 i32 i32 i32", "i32"],
  path_symlink: ["i32 i32 i32 i32 i32", "i32"],
  path_unlink_file: ["i32 i32 i32", "i32"],
  poll_oneoff: ["i32 i32 i32 i32", "i32"],
  proc_exit: ["i32", ""],
  proc_raise: ["i32", "i32"],
  random_get: ["i32 i32", "i32"],
  sched_yield: ["", "i32"],
  sock_accept: ["i32 i32 i32", "i32"],
  sock_recv: ["i32 i32 i32 i32 i32 i32", "i32"],
  sock_send: ["i32 i32 i32 i32 i32", "i32"],
  sock_shutdown: ["i32 i32", "i32"],
};

Deno.test("wasi: provides all 46 preview1 functions with their exact signatures", () => {
  assert.equal(wasiNamespace.module, "wasi_snapshot_preview1");
  assert.equal(Object.keys(PREVIEW1_SIGNATURES).length, 46);
  assert.deepEqual(
    Object.keys(wasiNamespace.functions).sort(),
    Object.keys(PREVIEW1_SIGNATURES).sort(),
  );
  for (const [name, [params, results]] of Object.entries(PREVIEW1_SIGNATURES)) {
    const fn = wasiNamespace.functions[name];
    assert.equal(fn.params.join(" "), params, `${name} params`);
    assert.equal(fn.results.join(" "), results, `${name} results`);
  }
});

Deno.test("wasi: only the functions that can block are suspending", () => {
  const suspending = Object.entries(wasiNamespace.functions)
    .filter(([, fn]) => fn.suspending)
    .map(([name]) => name)
    .sort();
  assert.deepEqual(suspending, ["fd_read", "poll_oneoff", "sched_yield"]);
});

Deno.test("wasi: prepare refuses a preopened directory that is missing or not a directory", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const file = `${dir}/plain.txt`;
    await Deno.writeTextFile(file, "x");
    const prepare = wasiNamespace.prepare!;
    prepare(new ProcessConfig({ preopenedDirs: [dir, "."] }));
    assert.throws(
      () => prepare(new ProcessConfig({ preopenedDirs: [dir, `${dir}/missing`] })),
      (error: unknown) =>
        error instanceof LunaticError && error.message.includes(`"${dir}/missing"`) &&
        error.message.includes("does not exist"),
    );
    assert.throws(
      () => prepare(new ProcessConfig({ preopenedDirs: [file] })),
      (error: unknown) =>
        error instanceof LunaticError && error.message.includes(file) &&
        error.message.includes("not a directory"),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** A process with one page of memory and the namespace's functions bound to it. */
function directProcess(config = new ProcessConfig()) {
  const process = new WasiTestProcess(config, {
    stdin: new BufferInput("typed"),
    stdout: new CaptureSink(),
    stderr: new CaptureSink(),
  });
  const memory = new WebAssembly.Memory({ initial: 1 });
  process.attach(memory);
  // deno-lint-ignore no-explicit-any
  const call = (name: string, ...args: any[]) =>
    wasiNamespace.functions[name].call(...args, process);
  return { process, memory, call };
}

Deno.test("wasi: sockets, signals and exit answer as documented when called directly", () => {
  const { process, call } = directProcess();
  try {
    // fd 1 exists but no fd is ever a WASI socket (ENOTSOCK); fd 50 does not exist (EBADF).
    assert.equal(call("sock_accept", 1, 0, 0), 57);
    assert.equal(call("sock_recv", 1, 0, 0, 0, 0, 0), 57);
    assert.equal(call("sock_send", 1, 0, 0, 0, 0), 57);
    assert.equal(call("sock_shutdown", 1, 0), 57);
    assert.equal(call("sock_accept", 50, 0, 0), 8);
    assert.equal(call("sock_recv", 50, 0, 0, 0, 0, 0), 8);
    assert.equal(call("sock_send", 50, 0, 0, 0, 0), 8);
    assert.equal(call("sock_shutdown", 50, 0), 8);
    assert.equal(call("proc_raise", 6), 52);
    assert.throws(
      () => call("proc_exit", 42),
      (e: unknown) => e instanceof ProcessExit && e.code === 42,
    );
    assert.equal(call("fd_close", 50), 8);
  } finally {
    process.dispose();
  }
});

Deno.test("wasi: fd_read on stdin returns a promise and fills the iovec", async () => {
  const { process, memory, call } = directProcess();
  try {
    const view = new DataView(memory.buffer);
    view.setUint32(100, 200, true); // iovec.buf
    view.setUint32(104, 16, true); // iovec.len
    const result = call("fd_read", 0, 100, 1, 300);
    assert.ok(result instanceof Promise);
    assert.equal(await result, 0);
    const count = view.getUint32(300, true);
    assert.equal(new TextDecoder().decode(new Uint8Array(memory.buffer, 200, count)), "typed");
  } finally {
    process.dispose();
  }
});

/** How many of this Deno process's open fds refer to `path` (Linux: /proc/self/fd). */
function openHandlesTo(path: string): number {
  let count = 0;
  for (const entry of Deno.readDirSync("/proc/self/fd")) {
    try {
      if (Deno.readLinkSync(`/proc/self/fd/${entry.name}`) === path) count++;
    } catch {
      // The fd closed while we looked (e.g. the directory handle of this very listing).
    }
  }
  return count;
}

Deno.test({
  name: "wasi: dispose closes files the guest left open",
  ignore: Deno.build.os !== "linux",
  async fn() {
    const dir = await Deno.realPath(await Deno.makeTempDir());
    const { process, memory, call } = directProcess(new ProcessConfig({ preopenedDirs: [dir] }));
    try {
      new Uint8Array(memory.buffer).set(new TextEncoder().encode("left-open.txt"), 0);
      const rights = (1n << 1n) | (1n << 6n); // FD_READ | FD_WRITE
      assert.equal(call("path_open", 3, 0, 0, 13, 1, /* CREAT */ rights, 0n, 0, 64), 0);
      assert.equal(new DataView(memory.buffer).getUint32(64, true), 4);
      assert.equal(openHandlesTo(`${dir}/left-open.txt`), 1);
      process.dispose();
      assert.equal(openHandlesTo(`${dir}/left-open.txt`), 0);
    } finally {
      process.dispose();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
