import assert from "node:assert/strict";
import { compileC, compileWat } from "./helpers/compile.ts";
import { ByteReader, ByteWriter, encodeU32Leb, WasmFormatError } from "../runtime/wasm/bytes.ts";
import {
  exportedFunctionType,
  functionName,
  functionType,
  type ModuleInfo,
  parseModule,
  SectionId,
} from "../runtime/wasm/module_info.ts";

// --- helpers ------------------------------------------------------------------------------

/** Compiles WAT (names kept); `flags` are wat2wasm's. */
const wat = (source: string, ...flags: string[]) => compileWat(source, flags);

/** Compiles C for wasm32-wasi with clang-14 -O2, linking wasi-libc. */
const clang = (source: string, ...flags: string[]) =>
  compileC(source, ["--target=wasm32-wasi", "-O2", ...flags]);

const HEADER = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];

/** A module from the header and hand-encoded sections ([id, ...content]). */
function moduleOf(...sections: [number, number[]][]): Uint8Array<ArrayBuffer> {
  const writer = new ByteWriter().bytes(Uint8Array.from(HEADER));
  for (const [id, content] of sections) {
    writer.u8(id).u32(content.length).bytes(Uint8Array.from(content));
  }
  return writer.finish();
}

/** A name as encoded in the binary format. */
function nameBytes(name: string): number[] {
  return [...new ByteWriter().name(name).finish()];
}

function assertFormatError(bytes: Uint8Array, message: string | RegExp): WasmFormatError {
  let caught: unknown;
  try {
    parseModule(bytes);
  } catch (error) {
    caught = error;
  }
  assert.ok(caught instanceof WasmFormatError, `expected a WasmFormatError, got ${caught}`);
  if (typeof message === "string") assert.equal(caught.message, message);
  else assert.match(caught.message, message);
  return caught;
}

function sectionOf(info: ModuleInfo, id: number) {
  const section = info.sections.find((s) => s.id === id);
  assert.ok(section, `no section ${id}`);
  return section;
}

// --- ByteReader / ByteWriter --------------------------------------------------------------

Deno.test("LEB128: unsigned and signed values round-trip at their edges", () => {
  const unsigned = [0, 1, 63, 64, 127, 128, 16383, 16384, 2 ** 31, 2 ** 32 - 1];
  for (const value of unsigned) {
    const encoded = encodeU32Leb(value);
    const reader = new ByteReader(encoded);
    assert.equal(reader.u32(), value);
    assert.ok(reader.atEnd());
  }
  const signed = [0, 1, -1, 63, 64, -64, -65, 127, -128, 2 ** 31 - 1, -(2 ** 31)];
  for (const value of signed) {
    const encoded = new ByteWriter().s32(value).finish();
    assert.equal(new ByteReader(encoded).s32(), value, `s32 ${value}`);
    assert.equal(new ByteReader(encoded).s33(), value, `s33 ${value}`);
    assert.equal(new ByteReader(encoded).s64(), BigInt(value), `s64 ${value}`);
  }
  for (const value of [2 ** 32 - 1, -(2 ** 32), 2 ** 32]) {
    const encoded = new ByteWriter().signed(value).finish();
    if (value === 2 ** 32) assert.throws(() => new ByteReader(encoded).s33(), WasmFormatError);
    else assert.equal(new ByteReader(encoded).s33(), value, `s33 ${value}`);
  }
  const big = [0n, -1n, 2n ** 63n - 1n, -(2n ** 63n), 0x123456789abcdefn, -0x123456789abcdefn];
  for (const value of big) {
    const encoded = new ByteWriter().s64(value).finish();
    assert.equal(new ByteReader(encoded).s64(), value, `s64 ${value}`);
  }
  // Block types: -64 (0x40) is the empty block type, as a single byte.
  assert.deepEqual([...new ByteWriter().signed(-64).finish()], [0x40]);
  assert.equal(new ByteReader(Uint8Array.of(0x40)).s33(), -64);
  // Non-minimal encodings are allowed within the byte limit.
  assert.equal(new ByteReader(Uint8Array.of(0x80, 0x80, 0x80, 0x80, 0x00)).u32(), 0);
  assert.equal(new ByteReader(Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0x7f)).s32(), -1);
});

Deno.test("LEB128: overlong and out-of-range encodings are WasmFormatErrors", () => {
  const cases: [() => unknown, RegExp][] = [
    [
      () => new ByteReader(Uint8Array.of(0x80, 0x80, 0x80, 0x80, 0x80, 0x00)).u32(),
      /^integer representation too long while reading the module at offset 0x0$/,
    ],
    [() => new ByteReader(Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0x1f)).u32(), /integer too large/],
    [() => new ByteReader(Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0x0f)).s32(), /integer too large/],
    [() => new ByteReader(Uint8Array.of(0x80, 0x80, 0x80, 0x80, 0x70)).s32(), /integer too large/],
    [
      () =>
        new ByteReader(Uint8Array.of(0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x02))
          .s64(),
      /integer too large/,
    ],
    [
      () => new ByteReader(Uint8Array.of(0x80, 0x80), 0, 2, "the code section").u32(),
      /^unexpected end of module while reading the code section at offset 0x2$/,
    ],
  ];
  for (const [read, message] of cases) {
    assert.throws(read, (error: unknown) => {
      assert.ok(error instanceof WasmFormatError);
      assert.match(error.message, message);
      return true;
    });
  }
});

Deno.test("ByteReader: names are UTF-8 with fatal decoding; sub-readers are bounded", () => {
  const bytes = new ByteWriter().name("héllo 🦕").name("plain").finish();
  const reader = new ByteReader(bytes);
  assert.equal(reader.name(), "héllo 🦕");
  assert.equal(reader.name(), "plain");
  assert.ok(reader.atEnd());

  const invalid = Uint8Array.of(2, 0xc3, 0x28);
  assert.throws(() => new ByteReader(invalid, 0, 3, "the export section").name(), {
    name: "WasmFormatError",
    message: "malformed UTF-8 in a name while reading the export section at offset 0x1",
  });

  const outer = new ByteReader(Uint8Array.of(1, 2, 3, 4, 5), 1);
  const sub = outer.sub(2, "a part");
  assert.equal(outer.pos, 3);
  assert.equal(sub.u8(), 2);
  assert.equal(sub.u8(), 3);
  assert.throws(() => sub.u8(), {
    message: "unexpected end of section while reading a part at offset 0x3",
  });
  const raw = outer.bytesView(2);
  assert.deepEqual([...raw], [4, 5]);
  assert.throws(() => outer.skipF32(), { message: /unexpected end of module.*offset 0x5/ });
});

Deno.test("ByteWriter: grows past its initial capacity; finish() starts over", () => {
  const writer = new ByteWriter(16);
  for (let i = 0; i < 1000; i++) writer.u32(i * 1000);
  const first = writer.finish();
  const reader = new ByteReader(first);
  for (let i = 0; i < 1000; i++) assert.equal(reader.u32(), i * 1000);
  assert.ok(reader.atEnd());
  assert.equal(writer.length, 0);
  writer.u8(7);
  assert.deepEqual([...writer.finish()], [7]);
  assert.deepEqual([...first.subarray(0, 2)], [0, 0xe8]); // not overwritten
  assert.throws(() => writer.u32(2 ** 32), RangeError);
  assert.throws(() => writer.unsigned(-1), RangeError);
});

// --- parseModule: well-formed modules -----------------------------------------------------

const HOST_WAT = `
(module $guest
  (type $log (func (param i32 i32)))
  (import "lunatic::message" "send" (func $send (param i64 i32) (result i64)))
  (import "env" "log" (func $log (type $log)))
  (import "env" "table" (table 1 funcref))
  (import "env" "flag" (global $flag i32))
  (import "env" "counter" (global $counter (mut i64)))
  (memory (export "memory") 2 100)
  (global $g (mut i32) (i32.add (i32.const 1) (global.get $flag)))
  (global $f f64 (f64.const 1.5))
  (global $v v128 (v128.const i32x4 1 2 3 4))
  (global $r funcref (ref.func $add))
  (global $n externref (ref.null extern))
  (global $big i64 (i64.const -9223372036854775808))
  (func $add (export "add") (param $a i32) (param $b i32) (result i32)
    (i32.add (local.get $a) (local.get $b)))
  (func $main (export "_start")
    (loop $l (br_if $l (i32.const 0)))
    (call $log (i32.const 0) (i32.const 0)))
  (func $f64s (export "mix") (param f32 f64 i64 v128) (result externref funcref)
    (ref.null extern) (ref.func $add))
  (export "send_again" (func $send))
  (export "g" (global $g))
  (export "tab" (table 0))
  (elem declare func $add)
  (data (memory 0) (i32.const 16) "hello")
  (data $passive "later")
  (func (export "init") (memory.init $passive (i32.const 0) (i32.const 0) (i32.const 5)))
  (start $main)
)`;

Deno.test("parseModule: imports with resolved types, exports, memory, globals, start, names", async () => {
  const bytes = await wat(HOST_WAT, "--enable-extended-const");
  assert.ok(WebAssembly.validate(bytes));
  const info = parseModule(bytes);

  assert.deepEqual(info.imports, [
    {
      module: "lunatic::message",
      name: "send",
      kind: "func",
      type: { params: ["i64", "i32"], results: ["i64"] },
    },
    { module: "env", name: "log", kind: "func", type: { params: ["i32", "i32"], results: [] } },
    { module: "env", name: "table", kind: "table" },
    { module: "env", name: "flag", kind: "global" },
    { module: "env", name: "counter", kind: "global" },
  ]);
  assert.equal(info.importedFunctionCount, 2);
  assert.equal(info.functionTypes.length, 4);
  // Where rewriters find the function imports' type indices and the types' vectors: each
  // range holds exactly that encoding.
  const typeOfSend = info.types.findIndex((t) => t.params.length === 2 && t.params[0] === "i64");
  assert.deepEqual(info.functionImportTypes.map((t) => t.index), [typeOfSend, 0]);
  for (const { index, start, end } of info.functionImportTypes) {
    assert.deepEqual([...bytes.subarray(start, end)], [index]); // one-byte LEB128
  }
  assert.equal(info.typeEncodings.length, info.types.length);
  const send = info.typeEncodings[typeOfSend];
  assert.deepEqual([...bytes.subarray(send.paramsAt, send.resultsAt)], [2, 0x7e, 0x7f]);
  assert.deepEqual([...bytes.subarray(send.resultsAt, send.end)], [1, 0x7e]);
  assert.deepEqual(info.memories, [{ min: 2, max: 100, shared: false, memory64: false }]);
  assert.deepEqual(info.importedMemories, []);
  assert.deepEqual(info.exports.map((e) => [e.name, e.kind, e.index]), [
    ["memory", "memory", 0],
    ["add", "func", 2],
    ["_start", "func", 3],
    ["mix", "func", 4],
    ["send_again", "func", 0],
    ["g", "global", 2],
    ["tab", "table", 0],
    ["init", "func", 5],
  ]);
  assert.equal(info.start, 3);

  assert.deepEqual(exportedFunctionType(info, "add"), {
    params: ["i32", "i32"],
    results: ["i32"],
  });
  assert.deepEqual(exportedFunctionType(info, "_start"), { params: [], results: [] });
  assert.deepEqual(exportedFunctionType(info, "mix"), {
    params: ["f32", "f64", "i64", "v128"],
    results: ["externref", "funcref"],
  });
  assert.deepEqual(exportedFunctionType(info, "send_again"), {
    params: ["i64", "i32"],
    results: ["i64"],
  });
  assert.equal(exportedFunctionType(info, "g"), null); // a global, not a function
  assert.equal(exportedFunctionType(info, "missing"), null);
  assert.equal(functionType(info, 99), null);

  assert.equal(info.moduleName, "guest");
  assert.equal(functionName(info, 0), "send");
  assert.equal(functionName(info, 1), "log");
  assert.equal(functionName(info, 2), "add");
  assert.equal(functionName(info, 3), "main");
  assert.equal(functionName(info, 99), null);

  // Sections: known ids in order, the name section last, contiguous from the header to the end.
  assert.deepEqual(info.sections.map((s) => s.name ?? s.id), [
    1,
    2,
    3,
    5,
    6,
    7,
    8,
    9,
    12,
    10,
    11,
    "name",
  ]);
  let expectedStart = 8;
  for (const section of info.sections) {
    assert.equal(section.start, expectedStart);
    assert.ok(section.contentStart > section.start && section.contentStart <= section.end);
    expectedStart = section.end;
  }
  assert.equal(expectedStart, bytes.length);

  // Code bodies: inside the code section, in order, each ending with `end` (0x0b).
  const code = sectionOf(info, SectionId.code);
  assert.equal(info.codeBodies.length, 4);
  let previousEnd = code.contentStart;
  for (const body of info.codeBodies) {
    assert.ok(body.start > previousEnd && body.end > body.start);
    assert.equal(bytes[body.end - 1], 0x0b);
    previousEnd = body.end;
  }
  assert.equal(previousEnd, code.end);
});

Deno.test("parseModule: memory limits (no max, shared, memory64, imported, multiple)", async () => {
  const noMax = parseModule(await wat(`(module (memory 3))`));
  assert.deepEqual(noMax.memories, [{ min: 3, max: null, shared: false, memory64: false }]);

  const shared = parseModule(await wat(`(module (memory 1 16 shared))`, "--enable-threads"));
  assert.deepEqual(shared.memories, [{ min: 1, max: 16, shared: true, memory64: false }]);

  const memory64 = await wat(`(module (memory i64 2 70000))`, "--enable-memory64");
  assert.ok(WebAssembly.validate(memory64));
  assert.deepEqual(parseModule(memory64).memories, [
    { min: 2, max: 70000, shared: false, memory64: true },
  ]);

  const imported = parseModule(await wat(`(module (import "env" "memory" (memory 1 5)))`));
  assert.deepEqual(imported.memories, []);
  assert.deepEqual(imported.importedMemories, [{ min: 1, max: 5, shared: false, memory64: false }]);
  assert.deepEqual(imported.imports[0].limits, imported.importedMemories[0]);

  const multi = parseModule(
    await wat(
      `(module (memory 1) (memory 2 3) (memory i64 4 5))`,
      "--enable-multi-memory",
      "--enable-memory64",
    ),
  );
  assert.deepEqual(multi.memories.map((m) => [m.min, m.max, m.memory64]), [
    [1, null, false],
    [2, 3, false],
    [4, 5, true],
  ]);

  const none = parseModule(await wat(`(module)`));
  assert.deepEqual(none.memories, []);
  assert.deepEqual(none.sections.map((s) => s.name ?? s.id), ["name"]);
});

Deno.test("parseModule: tags (exception handling) in their place between memory and global", async () => {
  const bytes = await wat(
    `(module
      (import "env" "exn" (tag $imported (param i64)))
      (tag $e (export "e") (param i32 f32))
      (memory 1)
      (global i32 (i32.const 0))
      (func (export "throws") (throw $e (i32.const 1) (f32.const 2))))`,
    "--enable-exceptions",
  );
  assert.ok(WebAssembly.validate(bytes));
  const info = parseModule(bytes);
  assert.deepEqual(info.imports, [
    { module: "env", name: "exn", kind: "tag", type: { params: ["i64"], results: [] } },
  ]);
  assert.deepEqual(info.sections.filter((s) => s.id !== 0).map((s) => s.id), [
    1,
    2,
    3,
    5,
    13,
    6,
    7,
    10,
  ]);
  assert.deepEqual(info.exports.find((e) => e.name === "e"), { name: "e", kind: "tag", index: 1 });
});

Deno.test("parseModule: clang wasm32-wasi output (imports, exports, name section)", async () => {
  const bytes = await clang(`
    #include <stdio.h>
    __attribute__((noinline, export_name("triple"))) int triple(int x) { return x * 3; }
    int main(void) { printf("%d\\n", triple(14)); return 0; }
  `);
  const info = parseModule(bytes);
  const wasiImports = info.imports.filter((i) => i.module === "wasi_snapshot_preview1");
  assert.ok(wasiImports.length > 0);
  assert.deepEqual(wasiImports.find((i) => i.name === "fd_write"), {
    module: "wasi_snapshot_preview1",
    name: "fd_write",
    kind: "func",
    type: { params: ["i32", "i32", "i32", "i32"], results: ["i32"] },
  });
  assert.deepEqual(info.imports.find((i) => i.name === "proc_exit")?.type, {
    params: ["i32"],
    results: [],
  });
  assert.equal(info.importedFunctionCount, info.imports.length);
  assert.equal(info.memories.length, 1);
  assert.ok(info.memories[0].min >= 1 && info.memories[0].max === null);
  assert.deepEqual(exportedFunctionType(info, "_start"), { params: [], results: [] });
  assert.deepEqual(exportedFunctionType(info, "triple"), { params: ["i32"], results: ["i32"] });
  assert.ok(info.exports.some((e) => e.name === "memory" && e.kind === "memory"));
  assert.equal(info.codeBodies.length, info.functionTypes.length);

  // The name section names the entry points by their link names.
  const names = new Set(info.functionNames.values());
  assert.ok(names.has("_start"), "_start is named");
  assert.ok(names.has("__original_main") || names.has("main"), "main is named");
  assert.ok(names.has("printf"));
  const startIndex = info.exports.find((e) => e.name === "_start")!.index;
  assert.match(functionName(info, startIndex)!, /^_start/);
  const tripleIndex = info.exports.find((e) => e.name === "triple")!.index;
  // Exports of a command module are wrappers, named after the function they wrap.
  assert.match(functionName(info, tripleIndex)!, /^triple/);
  // clang keeps DWARF and a producers section as custom sections.
  assert.ok(info.sections.some((s) => s.name === "producers"));
});

Deno.test("parseModule: GC rec/sub function types are unwrapped; struct types are refused", () => {
  const funcI32ToI32 = [0x60, 1, 0x7f, 1, 0x7f];
  // type section: (rec (sub final (func (param i32) (result i32))) (func)), (sub (func))
  const types = [2, 0x4e, 2, 0x4f, 0, ...funcI32ToI32, 0x60, 0, 0, 0x50, 0, 0x60, 0, 0];
  const funcs = [1, 0]; // one function of type 0
  const exports = [1, ...nameBytes("id"), 0x00, 0];
  const code = [1, 4, 0, 0x20, 0, 0x0b]; // local.get 0
  const bytes = moduleOf([1, types], [3, funcs], [7, exports], [10, code]);
  const info = parseModule(bytes);
  assert.equal(info.types.length, 3);
  assert.deepEqual(exportedFunctionType(info, "id"), { params: ["i32"], results: ["i32"] });
  assert.deepEqual(info.types[1], { params: [], results: [] });
  assert.ok(WebAssembly.validate(bytes), "the engine agrees the module is valid");

  const struct = moduleOf([1, [1, 0x4e, 1, 0x5f, 1, 0x7f, 0x01]]);
  assertFormatError(
    struct,
    "struct types (the GC proposal) are not supported while reading the type section at offset 0xd",
  );
  assertFormatError(moduleOf([1, [1, 0x5e, 0x7f, 0x00]]), /^array types \(the GC proposal\)/);
});

Deno.test("parseModule: typed function references map to funcref/externref", () => {
  // (func (param (ref null 0) (ref extern) (ref null func)) (result (ref null noextern)))
  const types = [1, 0x60, 3, 0x63, 0x00, 0x64, 0x6f, 0x63, 0x70, 1, 0x63, 0x72];
  const info = parseModule(moduleOf([1, types]));
  assert.deepEqual(info.types[0], {
    params: ["funcref", "externref", "funcref"],
    results: ["externref"],
  });
  assertFormatError(moduleOf([1, [1, 0x60, 1, 0x6e, 0]]), /^unsupported reference type anyref/);
  assertFormatError(moduleOf([1, [1, 0x60, 1, 0x55, 0]]), /^invalid value type 0x55/);
});

Deno.test("parseModule: a malformed name section is ignored, like engines do", () => {
  const funcs: [number, number[]][] = [[1, [1, 0x60, 0, 0]], [3, [1, 0]], [10, [1, 2, 0, 0x0b]]];
  const moduleNameSub = [0, nameBytes("mod").length, ...nameBytes("mod")];
  const functionNamesSub = [1, 1 + 1 + nameBytes("f").length, 1, 0, ...nameBytes("f")];
  const valid = moduleOf(...funcs, [0, [
    ...nameBytes("name"),
    ...moduleNameSub,
    ...functionNamesSub,
  ]]);
  const info = parseModule(valid);
  assert.equal(info.moduleName, "mod");
  assert.equal(functionName(info, 0), "f");

  const broken = [
    [...nameBytes("name"), 1, 50, 1, 0], // subsection size runs past the section
    [...nameBytes("name"), 1, 4, 1, 0, 5, 0x41], // name length runs past the subsection
    [...nameBytes("name"), 0, 3, 2, 0xc3, 0x28], // invalid UTF-8
    [...nameBytes("name"), 1, 3, 1, 0, 0, 0xff], // bytes left over in a subsection
  ];
  for (const content of broken) {
    const bytes = moduleOf(...funcs, [0, content]);
    assert.ok(WebAssembly.validate(bytes), "engines accept a broken name section");
    const parsed = parseModule(bytes);
    assert.equal(parsed.moduleName, null);
    assert.equal(parsed.functionNames.size, 0);
    assert.equal(parsed.sections.at(-1)?.name, "name");
  }
});

// --- parseModule: malformed modules -------------------------------------------------------

Deno.test("parseModule: header errors", () => {
  assertFormatError(new Uint8Array(0), /^not a WebAssembly module \(too short\)/);
  assertFormatError(
    new TextEncoder().encode("#!/bin/sh\necho hi\n"),
    "not a WebAssembly module (bad magic number) while reading the module header at offset 0x0",
  );
  assertFormatError(
    Uint8Array.of(0, 0x61, 0x73, 0x6d, 2, 0, 0, 0),
    "unsupported WebAssembly version 2 while reading the module header at offset 0x4",
  );
  assertFormatError(
    Uint8Array.of(0, 0x61, 0x73, 0x6d, 0x0d, 0, 1, 0),
    /version 65549 \(a component/,
  );
  assertFormatError(
    Uint8Array.of(0, 0x61, 0x73, 0x6d, 1, 0),
    "unexpected end of module while reading the module header at offset 0x6",
  );
  assert.deepEqual(parseModule(Uint8Array.from(HEADER)).sections, []);
});

Deno.test("parseModule: section structure errors", () => {
  assertFormatError(
    moduleOf([3, [0]], [1, [0]]),
    "the type section must come before the function section while reading a section header at offset 0xb",
  );
  assertFormatError(moduleOf([1, [0]], [1, [0]]), /^duplicate type section/);
  assertFormatError(moduleOf([6, [0]], [13, [0]]), /^the tag section must come before the global/);
  assertFormatError(
    moduleOf([10, [0]], [12, [0]]),
    /^the data count section must come before the code/,
  );
  assertFormatError(
    moduleOf([14, []]),
    "unknown section id 14 while reading a section header at offset 0x8",
  );
  // A type section declaring 3 bytes, of which its one (empty) vector uses 1.
  assertFormatError(
    moduleOf([1, [0, 0, 0]]),
    "2 bytes left over at the end of the section while reading the type section at offset 0xb",
  );
  // Contents running past the declared size (the count says 1 type, the section ends).
  assertFormatError(moduleOf([1, [1]]), /^count 1 exceeds the section's size/);
  assertFormatError(
    moduleOf([1, [1, 0x60, 1, 0x7f]], [3, [0]]),
    "unexpected end of section while reading the type section at offset 0xe",
  );
  // Custom sections may appear anywhere, even between known ones.
  const custom = [...nameBytes("x"), 1, 2, 3];
  const interleaved = moduleOf([0, custom], [1, [0]], [0, custom], [3, [0]], [0, custom]);
  assert.deepEqual(parseModule(interleaved).sections.map((s) => s.name ?? s.id), [
    "x",
    1,
    "x",
    3,
    "x",
  ]);
  assertFormatError(
    moduleOf([0, [5, 0x61]], [1, [0]]),
    "unexpected end of section while reading a custom section at offset 0xc",
  );
});

Deno.test("parseModule: function and code sections must agree", () => {
  const type: [number, number[]] = [1, [1, 0x60, 0, 0]];
  assertFormatError(
    moduleOf(type, [3, [2, 0, 0]], [10, [1, 2, 0, 0x0b]]),
    "function and code section have inconsistent lengths (2 functions, 1 bodies) while reading the code section at offset 0x15",
  );
  assertFormatError(
    moduleOf(type, [3, [1, 0]]),
    /^function and code section have inconsistent lengths/,
  );
  assertFormatError(
    moduleOf(type, [10, [1, 2, 0, 0x0b]]),
    /^function and code section have inconsistent/,
  );
  assertFormatError(moduleOf(type, [3, [1, 7]]), /^type index 7 out of range \(1 types\)/);
  // A body whose size runs past the code section.
  assertFormatError(
    moduleOf(type, [3, [1, 0]], [10, [1, 9, 0, 0x0b]]),
    /^unexpected end of module while reading the code section/,
  );
});

Deno.test("parseModule: import, export, limits and constant-expression errors", () => {
  const type: [number, number[]] = [1, [1, 0x60, 0, 0]];
  const importOf = (
    ...entry: number[]
  ): [number, number[]] => [2, [1, ...nameBytes("m"), ...nameBytes("n"), ...entry]];
  assertFormatError(moduleOf(type, importOf(0x00, 3)), /^type index 3 out of range/);
  assertFormatError(
    moduleOf(type, importOf(0x05)),
    /^invalid external kind 0x5 while reading the import section/,
  );
  assertFormatError(moduleOf(importOf(0x02, 0x08, 1)), /^invalid memory limits flags 0x8/);
  assertFormatError(
    moduleOf(importOf(0x02, 0x01, 5, 2)),
    /^memory maximum 2 is less than its minimum 5/,
  );
  assertFormatError(moduleOf(importOf(0x02, 0x02, 1)), /^a shared memory must declare a maximum/);
  assertFormatError(
    moduleOf([5, [1, 0x00, 0x81, 0x80, 0x04]]),
    /^memory size must be at most 65536 pages/,
  );
  assertFormatError(moduleOf(importOf(0x01, 0x70, 0x02, 1)), /^invalid table limits flags 0x2/);
  assertFormatError(moduleOf(importOf(0x03, 0x7f, 2)), /^invalid global mutability 0x2/);
  assertFormatError(
    moduleOf([6, [1, 0x7f, 0, 0x20, 0, 0x0b]]),
    "instruction 0x20 is not allowed in a constant expression while reading the global section at offset 0xd",
  );
  assertFormatError(
    moduleOf([6, [1, 0x7f, 0, 0x41, 0]]),
    /^unexpected end of module while reading the global section at offset 0xf/,
  );
  const exportOf = (name: string) => [...nameBytes(name), 0x02, 0];
  assertFormatError(
    moduleOf([5, [1, 0, 1]], [7, [2, ...exportOf("memory"), ...exportOf("memory")]]),
    /^duplicate export name "memory" while reading the export section/,
  );
});

Deno.test("parseModule: every truncation of a real module is a WasmFormatError or a section boundary", async () => {
  const bytes = await wat(HOST_WAT, "--enable-extended-const");
  const boundaries = new Set([8, ...parseModule(bytes).sections.map((s) => s.end)]);
  let errors = 0;
  for (let length = 0; length < bytes.length; length++) {
    const prefix = bytes.subarray(0, length);
    try {
      const info = parseModule(prefix);
      assert.ok(boundaries.has(length), `a module cut at ${length} should not parse`);
      assert.equal(info.sections.at(-1)?.end ?? 8, length);
    } catch (error) {
      if (!(error instanceof WasmFormatError)) throw error;
      errors++;
    }
  }
  assert.ok(errors > bytes.length / 2);

  // The example from the docs: an import section cut short.
  const info = parseModule(bytes);
  const imports = sectionOf(info, SectionId.import);
  assertFormatError(
    bytes.subarray(0, imports.contentStart + 10),
    `unexpected end of module while reading the import section at offset 0x${
      (imports.contentStart + 10).toString(16)
    }`,
  );
});

Deno.test("parseModule: random corruption never escapes as anything but WasmFormatError", async () => {
  const original = await clang(`int main(void) { return 0; }`);
  let seed = 42;
  const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  // Corrupt only the small sections before the code, where our parser decodes everything.
  const code = sectionOf(parseModule(original), SectionId.code);
  for (let round = 0; round < 2000; round++) {
    const bytes = original.slice(0, code.end);
    const flips = 1 + Math.floor(random() * 3);
    for (let i = 0; i < flips; i++) {
      bytes[8 + Math.floor(random() * (code.contentStart - 8))] = Math.floor(random() * 256);
    }
    try {
      parseModule(bytes);
    } catch (error) {
      if (!(error instanceof WasmFormatError)) throw error;
      // Anything we reject, the engine rejects too.
      assert.equal(WebAssembly.validate(bytes), false, `round ${round}: ${error.message}`);
    }
  }
});

Deno.test("parseModule: a 5 MB module parses in a few milliseconds", () => {
  // 40 000 functions of ~128 bytes each, all named.
  const count = 40_000;
  const body = new Uint8Array(128);
  body[0] = 0; // no locals
  body.fill(0x01, 1, 127); // nop
  body[127] = 0x0b;
  const writer = new ByteWriter(6_000_000).bytes(Uint8Array.from(HEADER));
  const section = (id: number, content: Uint8Array) =>
    writer.u8(id).u32(content.length).bytes(content);
  section(1, Uint8Array.of(1, 0x60, 0, 0));
  const funcs = new ByteWriter().u32(count);
  for (let i = 0; i < count; i++) funcs.u32(0);
  section(3, funcs.finish());
  section(5, Uint8Array.of(1, 0, 1));
  const code = new ByteWriter(count * 130).u32(count);
  for (let i = 0; i < count; i++) code.u32(body.length).bytes(body);
  section(10, code.finish());
  const names = new ByteWriter().u32(count);
  for (let i = 0; i < count; i++) names.u32(i).name(`module::path::function_number_${i}`);
  const functionNames = names.finish();
  const nameSection = new ByteWriter().name("name").u8(1).u32(functionNames.length).bytes(
    functionNames,
  );
  section(0, nameSection.finish());
  const bytes = writer.finish();
  assert.ok(bytes.length > 5_000_000);
  assert.ok(WebAssembly.validate(bytes));

  // The fastest of several runs: the first ones include JIT compilation, any may include a GC.
  let perParse = Infinity;
  let info: ModuleInfo | undefined;
  for (let i = 0; i < 10; i++) {
    const start = performance.now();
    info = parseModule(bytes);
    perParse = Math.min(perParse, performance.now() - start);
  }
  assert.equal(info!.codeBodies.length, count);
  assert.equal(functionName(info!, count - 1), `module::path::function_number_${count - 1}`);
  // A few ms on a normal machine; the bound leaves room for slow CI.
  assert.ok(perParse < 50, `parsing ${bytes.length} bytes took ${perParse.toFixed(1)} ms`);
  console.log(`parseModule: ${(bytes.length / 1e6).toFixed(1)} MB in ${perParse.toFixed(2)} ms`);
});
