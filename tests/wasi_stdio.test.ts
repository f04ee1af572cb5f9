/**
 * fd 0, 1 and 2: the process's stdin source and stdout/stderr sinks, as a C guest sees them.
 */
import assert from "node:assert/strict";
import { runWasiGuest } from "./helpers/wasi_harness.ts";

/** The lines wasi_stdio prints before and after the stdin part, which do not depend on it. */
const PREAMBLE = [
  "isatty: 1 1 1",
  "fdstat(0): err=0 filetype=2",
  "fdstat(1): err=0 filetype=2",
  "fdstat(2): err=0 filetype=2",
  "seek stdout: 70",
  "tell stdin: 70",
];
const EPILOGUE = [
  "write stdin: 8",
  "read stdout: 8",
  "read after eof: 0",
  "nread after eof: 0",
  "",
];

Deno.test("wasi: stdin is read through scattered iovecs until end of input", async () => {
  const input = "hello world, this is the standard input of a wasi guest. " +
    "it is longer than one read.\n";
  const run = await runWasiGuest("wasi_stdio", { stdin: input });
  assert.equal(run.exitCode, 0);
  // Each readv offers 64 bytes (4 + 60), so 85 bytes take two reads.
  assert.equal(
    run.stdout,
    [
      ...PREAMBLE,
      "read 85 bytes in 2 reads",
      `<${input.toUpperCase()}>`,
      ...EPILOGUE,
    ].join("\n"),
  );
  assert.equal(run.stderr, "wrote 88 bytes\n");
});

Deno.test("wasi: an empty stdin is end of file at once", async () => {
  const run = await runWasiGuest("wasi_stdio");
  assert.equal(run.exitCode, 0);
  assert.equal(
    run.stdout,
    [...PREAMBLE, "read 0 bytes in 0 reads", "<>", ...EPILOGUE].join("\n"),
  );
  assert.equal(run.stderr, "wrote 3 bytes\n");
});

Deno.test("wasi: binary stdin passes through unchanged", async () => {
  const input = new Uint8Array([0x61, 0x00, 0xff, 0x62, 0x0a]);
  const run = await runWasiGuest("wasi_stdio", { stdin: input });
  assert.equal(run.exitCode, 0);
  assert.ok(run.stdout.includes("read 5 bytes in 1 reads"));
  // Upper-cased by the guest; the NUL survives, 0xff shows as U+FFFD once decoded as text.
  assert.ok(run.stdout.includes("<A\u0000\ufffdB\n>\n"));
  assert.equal(run.stderr, "wrote 8 bytes\n");
});
