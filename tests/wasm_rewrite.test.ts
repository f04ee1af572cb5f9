import assert from "node:assert/strict";
import { compileC, compileWat } from "./helpers/compile.ts";
import { ByteReader, ByteWriter } from "../runtime/wasm/bytes.ts";
import { type Limits, parseModule, SectionId } from "../runtime/wasm/module_info.ts";
import {
  canImportMemory,
  importMemory,
  limitAndImportMemory,
  limitMemory,
  MEMORY_IMPORT,
  memoryMinimumPages,
  REMOVE_SECTION,
  rewriteSections,
  stripDebugSections,
} from "../runtime/wasm/rewrite.ts";

/** Compiles WAT (names kept); `flags` are wat2wasm's. */
const wat = (source: string, ...flags: string[]) => compileWat(source, flags);

/** Compiles C for wasm32-wasi with clang-14 -O2, linking wasi-libc. */
const clang = (source: string) => compileC(source, ["--target=wasm32-wasi", "-O2"]);

/** Appends a custom section (a name and a payload) to a module. */
function withCustomSection(
  bytes: Uint8Array,
  name: string,
  payload: Uint8Array,
): Uint8Array<ArrayBuffer> {
  const content = new ByteWriter().name(name).bytes(payload).finish();
  return new ByteWriter().bytes(bytes).u8(0).u32(content.length).bytes(content).finish();
}

/** Grows the exported memory one page at a time until it refuses; returns the final size. */
function growUntilRefused(memory: WebAssembly.Memory): number {
  for (let i = 0; i < 70_000; i++) {
    if (memoryGrow(memory) === -1) break;
  }
  return memory.buffer.byteLength / 65536;
}

/** `memory.grow` as the guest sees it: -1 instead of an exception when refused. */
function memoryGrow(memory: WebAssembly.Memory): number {
  try {
    return memory.grow(1);
  } catch {
    return -1;
  }
}

/** Instantiates a module and returns its exports; every import is a do-nothing function. */
function instantiate(bytes: Uint8Array<ArrayBuffer>): WebAssembly.Exports {
  const module = new WebAssembly.Module(bytes);
  const imports: WebAssembly.Imports = {};
  for (const entry of WebAssembly.Module.imports(module)) {
    imports[entry.module] ??= {};
    imports[entry.module][entry.name] = () => 0;
  }
  return new WebAssembly.Instance(module, imports).exports;
}

const GROWER_WAT = (memory: string) => `
(module $grower
  (memory (export "memory") ${memory})
  (func $grow (export "grow") (param i32) (result i32) (memory.grow (local.get 0)))
  (func $size (export "size") (result i32) (memory.size)))`;

type Grower = { grow(pages: number): number; size(): number; memory: WebAssembly.Memory };

Deno.test("limitMemory: a memory without a maximum gets one, enforced by the engine", async () => {
  const bytes = await wat(GROWER_WAT("2"));
  const info = parseModule(bytes);
  assert.equal(info.memories[0].max, null);

  const limited = limitMemory(bytes, info, 10);
  assert.notEqual(limited, bytes);
  assert.ok(WebAssembly.validate(limited));
  const reparsed = parseModule(limited);
  assert.deepEqual(reparsed.memories, [{ min: 2, max: 10, shared: false, memory64: false }]);
  assert.deepEqual(WebAssembly.Module.exports(new WebAssembly.Module(limited)).length, 3);

  // The guest's own memory.grow returns -1 past the maximum.
  const guest = instantiate(limited) as unknown as Grower;
  assert.equal(guest.grow(8), 2); // 2 -> 10 pages: the maximum exactly
  assert.equal(guest.size(), 10);
  assert.equal(guest.grow(1), -1);
  assert.equal(guest.size(), 10);
  // And so does the host's WebAssembly.Memory.grow (a RangeError, mapped to -1).
  assert.equal(memoryGrow(guest.memory), -1);

  // The unlimited original really could grow further.
  const original = instantiate(bytes) as unknown as Grower;
  assert.equal(original.grow(20), 2);
});

Deno.test("limitMemory: a larger declared maximum is lowered; a smaller one is kept", async () => {
  const large = await wat(GROWER_WAT("1 1000"));
  const lowered = limitMemory(large, parseModule(large), 16);
  assert.equal(parseModule(lowered).memories[0].max, 16);
  const guest = instantiate(lowered) as unknown as Grower;
  assert.equal(growUntilRefused(guest.memory), 16);

  // Already below the limit: nothing to do, and the very same bytes come back (no copy).
  const small = await wat(GROWER_WAT("1 4"));
  assert.equal(limitMemory(small, parseModule(small), 16), small);
  const smallGuest = instantiate(small) as unknown as Grower;
  assert.equal(growUntilRefused(smallGuest.memory), 4);

  // Exactly at the limit: unchanged as well.
  const exact = await wat(GROWER_WAT("1 16"));
  assert.equal(limitMemory(exact, parseModule(exact), 16), exact);

  // A module with no memory, or only an imported one, is returned as is.
  const none = await wat(`(module (func (export "f")))`);
  assert.equal(limitMemory(none, parseModule(none), 16), none);
  const imported = await wat(`(module (import "env" "memory" (memory 1)))`);
  assert.equal(limitMemory(imported, parseModule(imported), 16), imported);
});

Deno.test("limitMemory: maximums are capped at the 32-bit page limit", async () => {
  const bytes = await wat(GROWER_WAT("1"));
  const limited = limitMemory(bytes, parseModule(bytes), 1_000_000);
  assert.ok(WebAssembly.validate(limited));
  assert.equal(parseModule(limited).memories[0].max, 65536);
});

Deno.test("limitMemory: the shared and memory64 flags are kept", async () => {
  const shared = await wat(`(module (memory (export "memory") 1 100 shared))`, "--enable-threads");
  const sharedLimited = limitMemory(shared, parseModule(shared), 8);
  assert.deepEqual(parseModule(sharedLimited).memories, [
    { min: 1, max: 8, shared: true, memory64: false },
  ]);
  const sharedMemory = instantiate(sharedLimited).memory as WebAssembly.Memory;
  assert.ok(sharedMemory.buffer instanceof SharedArrayBuffer);
  assert.equal(growUntilRefused(sharedMemory), 8);

  const memory64 = await wat(`(module (memory (export "memory") i64 1))`, "--enable-memory64");
  const limited64 = limitMemory(memory64, parseModule(memory64), 5);
  assert.ok(WebAssembly.validate(limited64));
  assert.deepEqual(parseModule(limited64).memories, [
    { min: 1, max: 5, shared: false, memory64: true },
  ]);
  // Above 65536 pages, memory64 keeps the requested maximum.
  const large64 = limitMemory(memory64, parseModule(memory64), 100_000);
  assert.ok(WebAssembly.validate(large64));
  assert.equal(parseModule(large64).memories[0].max, 100_000);
});

Deno.test("limitMemory: every defined memory of a multi-memory module is limited", async () => {
  const bytes = await wat(
    `(module (memory 1) (memory 2 3) (memory 4 50) (memory 5 100))`,
    "--enable-multi-memory",
  );
  const limited = limitMemory(bytes, parseModule(bytes), 40);
  assert.ok(WebAssembly.validate(limited));
  assert.deepEqual(parseModule(limited).memories.map((m: Limits) => [m.min, m.max]), [
    [1, 40],
    [2, 3],
    [4, 40],
    [5, 40],
  ]);
});

Deno.test("limitMemory: a minimum above the limit is refused; memoryMinimumPages reports it", async () => {
  const bytes = await wat(GROWER_WAT("20"));
  const info = parseModule(bytes);
  assert.equal(memoryMinimumPages(info), 20);
  assert.throws(() => limitMemory(bytes, info, 10), {
    name: "RangeError",
    message: "memory minimum 20 pages exceeds the limit of 10 pages",
  });
  assert.throws(() => limitMemory(bytes, info, -1), RangeError);
  assert.throws(() => limitMemory(bytes, info, 1.5), RangeError);

  const imported = parseModule(
    await wat(`(module (import "env" "m" (memory 7)) (memory 3))`, "--enable-multi-memory"),
  );
  assert.equal(memoryMinimumPages(imported), 7); // imported memories come first
  assert.equal(memoryMinimumPages(parseModule(await wat(`(module)`))), null);
});

Deno.test("limitAndImportMemory: memory 0 becomes an import with the limited limits; data, exports and grow work on the given memory", async () => {
  const bytes = await wat(`
    (module
      (import "env" "f" (func $f (result i32)))
      (memory (export "memory") 2)
      (data (i32.const 70000) "hello")
      (func (export "read") (param i32) (result i32) (i32.load8_u (local.get 0)))
      (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0)))
      (func (export "size") (result i32) (memory.size)))`);
  const info = parseModule(bytes);
  assert.ok(canImportMemory(info));
  const { bytes: rewritten, initial, maximum } = limitAndImportMemory(bytes, info, 4);
  assert.deepEqual([initial, maximum], [2, 4]);
  assert.ok(WebAssembly.validate(rewritten));
  const reparsed = parseModule(rewritten);
  assert.deepEqual(reparsed.memories, []);
  assert.deepEqual(reparsed.importedMemories, [{ min: 2, max: 4, shared: false, memory64: false }]);
  // The guest's function import keeps its index: memory imports are another index space.
  assert.deepEqual(reparsed.imports.map((i) => [i.module, i.name, i.kind]), [
    ["env", "f", "func"],
    [MEMORY_IMPORT.module, MEMORY_IMPORT.name, "memory"],
  ]);

  const memory = new WebAssembly.Memory({ initial, maximum });
  const instance = new WebAssembly.Instance(new WebAssembly.Module(rewritten), {
    env: { f: () => 0 },
    [MEMORY_IMPORT.module]: { [MEMORY_IMPORT.name]: memory },
  });
  const guest = instance.exports as unknown as Grower & { read(at: number): number };
  assert.equal(guest.memory, memory); // the export is the memory the host gave
  assert.equal(new TextDecoder().decode(new Uint8Array(memory.buffer, 70000, 5)), "hello");
  assert.equal(guest.read(70001), "e".charCodeAt(0));
  assert.equal(guest.grow(2), 2);
  assert.equal(guest.grow(1), -1); // the limit holds
  assert.equal(guest.size(), 4);

  // A memory with a larger maximum than the import allows does not link.
  assert.throws(
    () =>
      new WebAssembly.Instance(new WebAssembly.Module(rewritten), {
        env: { f: () => 0 },
        [MEMORY_IMPORT.module]: {
          [MEMORY_IMPORT.name]: new WebAssembly.Memory({ initial: 2, maximum: 5 }),
        },
      }),
    WebAssembly.LinkError,
  );
});

Deno.test("limitAndImportMemory: a module without imports gets an import section; other memories stay defined", async () => {
  const single = await wat(`(module (memory 1) (func (export "size") (result i32) (memory.size)))`);
  const { bytes } = limitAndImportMemory(single, parseModule(single), 3);
  assert.ok(WebAssembly.validate(bytes));
  assert.deepEqual(parseModule(bytes).importedMemories, [
    { min: 1, max: 3, shared: false, memory64: false },
  ]);

  const multi = await wat(
    `(module (memory 1) (memory 2 3)
       (func (export "size1") (result i32) (memory.size 1)))`,
    "--enable-multi-memory",
  );
  const rewritten = limitAndImportMemory(multi, parseModule(multi), 40);
  assert.ok(WebAssembly.validate(rewritten.bytes));
  const reparsed = parseModule(rewritten.bytes);
  assert.deepEqual(reparsed.importedMemories.map((m) => [m.min, m.max]), [[1, 40]]);
  assert.deepEqual(reparsed.memories.map((m) => [m.min, m.max]), [[2, 3]]);
  const instance = new WebAssembly.Instance(new WebAssembly.Module(rewritten.bytes), {
    [MEMORY_IMPORT.module]: {
      [MEMORY_IMPORT.name]: new WebAssembly.Memory({ initial: 1, maximum: 40 }),
    },
  });
  assert.equal((instance.exports.size1 as () => number)(), 2); // memory 1 is still the second
});

Deno.test("limitAndImportMemory: shared, 64-bit, imported or missing memories are refused", async () => {
  const cases = [
    await wat(`(module (memory 1 10 shared))`, "--enable-threads"),
    await wat(`(module (memory i64 1))`, "--enable-memory64"),
    await wat(`(module (import "env" "m" (memory 1)) (memory 2))`, "--enable-multi-memory"),
    await wat(`(module)`),
  ];
  for (const bytes of cases) {
    const info = parseModule(bytes);
    assert.equal(canImportMemory(info), false);
    assert.throws(() => limitAndImportMemory(bytes, info, 10), {
      name: "RangeError",
      message: "the module has no single private 32-bit memory 0 to import",
    });
  }
});

Deno.test("limitMemory: custom sections and the name section survive byte-for-byte", async () => {
  const base = await wat(GROWER_WAT("1"));
  const payload = Uint8Array.from({ length: 300 }, (_, i) => i % 251);
  const bytes = withCustomSection(base, "lunatic.metadata", payload);
  const info = parseModule(bytes);
  const limited = limitMemory(bytes, info, 3);
  const reparsed = parseModule(limited);

  const module = new WebAssembly.Module(limited);
  const [kept] = WebAssembly.Module.customSections(module, "lunatic.metadata");
  assert.deepEqual(new Uint8Array(kept), payload);
  assert.equal(reparsed.moduleName, "grower");
  assert.deepEqual(reparsed.functionNames, info.functionNames);
  assert.equal(reparsed.functionNames.get(0), "grow");

  // Every section but the memory section is identical, in the same order.
  assert.deepEqual(
    reparsed.sections.map((s) => s.name ?? s.id),
    info.sections.map((s) => s.name ?? s.id),
  );
  for (let i = 0; i < info.sections.length; i++) {
    const before = info.sections[i];
    const after = reparsed.sections[i];
    if (before.id === SectionId.memory) continue;
    assert.deepEqual(
      limited.subarray(after.start, after.end),
      bytes.subarray(before.start, before.end),
    );
  }
});

Deno.test("limitMemory: real clang output still validates, instantiates and is limited", async () => {
  const bytes = await clang(`
    #include <stdlib.h>
    #include <stdio.h>
    int main(void) { char *p = malloc(1 << 20); printf("%p\\n", (void *)p); return 0; }
  `);
  const info = parseModule(bytes);
  const min = memoryMinimumPages(info)!;
  assert.ok(min >= 2);
  const limited = limitMemory(bytes, info, min + 4);
  assert.ok(WebAssembly.validate(limited));
  const reparsed = parseModule(limited);
  assert.equal(reparsed.memories[0].max, min + 4);
  assert.deepEqual(reparsed.functionNames, info.functionNames);
  assert.deepEqual(reparsed.exports, info.exports);
  assert.equal(reparsed.codeBodies.length, info.codeBodies.length);
  // Only the memory section's bytes changed (its size did not), so everything else lines up.
  assert.equal(limited.length, bytes.length + 1);
  const memory = instantiate(limited).memory as WebAssembly.Memory;
  assert.equal(growUntilRefused(memory), min + 4);
});

Deno.test("rewriteSections: edits re-encode only their sections, additions go in section order", async () => {
  const bytes = await wat(`
    (module
      (type (func (result i32)))
      (func (export "answer") (result i32) (i32.const 42))
      (memory 1))`);
  const info = parseModule(bytes);
  assert.equal(info.sections.some((s) => s.id === SectionId.global), false);

  // Add a global section (which must go between memory and export) and export the global.
  const globals = new ByteWriter().u32(1).u8(0x7f).u8(0).u8(0x41).s32(-7).u8(0x0b).finish();
  const seen: string[] = [];
  const rewritten = rewriteSections(
    bytes,
    info,
    {
      [SectionId.export]: (content) => {
        const reader = new ByteReader(content);
        const count = reader.u32();
        const rest = content.subarray(reader.pos);
        return new ByteWriter().u32(count + 1).bytes(rest).name("seven").u8(3).u32(0).finish();
      },
      [SectionId.custom]: (_content, section) => {
        seen.push(section.name!);
        return null; // keep
      },
    },
    { [SectionId.global]: globals },
  );
  assert.deepEqual(seen, ["name"]);
  const reparsed = parseModule(rewritten);
  assert.deepEqual(reparsed.sections.map((s) => s.name ?? s.id), [1, 3, 5, 6, 7, 10, "name"]);
  const exports = instantiate(rewritten);
  assert.equal((exports.answer as () => number)(), 42);
  assert.equal((exports.seven as WebAssembly.Global).value, -7);

  // No edit changed anything: the input itself comes back.
  assert.equal(rewriteSections(bytes, info, { [SectionId.type]: (content) => content }), bytes);
  assert.equal(rewriteSections(bytes, info, {}), bytes);

  // An addition after every existing section lands at the end (here: a data section).
  const data = new ByteWriter().u32(1).u8(0).u8(0x41).s32(0).u8(0x0b).name("hi").finish();
  const withData = rewriteSections(bytes, info, {}, { [SectionId.data]: data });
  assert.ok(WebAssembly.validate(withData));
  assert.deepEqual(parseModule(withData).sections.map((s) => s.name ?? s.id), [
    1,
    3,
    5,
    7,
    10,
    "name",
    11,
  ]);

  assert.throws(
    () => rewriteSections(bytes, info, {}, { [SectionId.memory]: globals }),
    /already has one/,
  );
  assert.throws(
    () => rewriteSections(bytes, info, {}, { [SectionId.custom]: globals }),
    RangeError,
  );
});

Deno.test("rewriteSections: a replaced section's size may change its LEB128 length", async () => {
  const bytes = await wat(`(module (func (export "f")))`);
  const info = parseModule(bytes);
  // Grow the name section past 127 bytes so its size takes two LEB128 bytes.
  const moduleName = new ByteWriter().name("m".repeat(200)).finish();
  const nameSection = new ByteWriter().name("name").u8(0).u32(moduleName.length).bytes(moduleName);
  const rewritten = rewriteSections(bytes, info, {
    [SectionId.custom]: () => nameSection.finish(),
  });
  const reparsed = parseModule(rewritten);
  assert.equal(reparsed.moduleName, "m".repeat(200));
  assert.ok(WebAssembly.validate(rewritten));
});

Deno.test("importMemory: memory 0 is imported with the limits the module declared; each instance's memory sets its own maximum", async () => {
  const source = (memory: string) => `
    (module
      (memory (export "memory") ${memory})
      (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0)))
      (func (export "size") (result i32) (memory.size)))`;
  const unbounded = await wat(source("2"));
  const rewritten = importMemory(unbounded, parseModule(unbounded));
  assert.deepEqual(parseModule(rewritten).importedMemories, [
    { min: 2, max: null, shared: false, memory64: false },
  ]);
  assert.deepEqual(parseModule(rewritten).memories, []);
  const compiled = new WebAssembly.Module(rewritten);
  // One compiled module, two processes with different limits: each memory's maximum holds.
  for (const maximum of [3, 6]) {
    const memory = new WebAssembly.Memory({ initial: 2, maximum });
    const guest = new WebAssembly.Instance(compiled, {
      [MEMORY_IMPORT.module]: { [MEMORY_IMPORT.name]: memory },
    }).exports as unknown as Grower;
    assert.equal(guest.grow(maximum - 2), 2);
    assert.equal(guest.grow(1), -1);
    assert.equal(guest.size(), maximum);
  }
  // A declared maximum stays in the import: a memory that could grow past it does not link.
  const bounded = await wat(source("2 5"));
  const boundedImport = importMemory(bounded, parseModule(bounded));
  assert.equal(parseModule(boundedImport).importedMemories[0].max, 5);
  assert.throws(
    () =>
      new WebAssembly.Instance(new WebAssembly.Module(boundedImport), {
        [MEMORY_IMPORT.module]: {
          [MEMORY_IMPORT.name]: new WebAssembly.Memory({ initial: 2, maximum: 6 }),
        },
      }),
    WebAssembly.LinkError,
  );
});

Deno.test("stripDebugSections: DWARF sections go, the code and every other custom section stay byte-for-byte", async () => {
  const bytes = await wat(`(module (func $f (export "f") (result i32) (i32.const 7)))`);
  let module: Uint8Array = withCustomSection(bytes, ".debug_info", new Uint8Array(1000).fill(1));
  module = withCustomSection(module, "producers", Uint8Array.of(0));
  module = withCustomSection(module, ".debug_line", new Uint8Array(500).fill(2));
  const info = parseModule(module);
  const stripped = stripDebugSections(module, info);
  const kept = parseModule(stripped).sections.filter((s) => s.id === SectionId.custom)
    .map((s) => s.name);
  assert.deepEqual(kept, ["name", "producers"]);
  // Each section: its id, a 2-byte size, the name's length and 11 bytes of name, the payload.
  assert.equal(stripped.length, module.length - 1000 - 500 - 2 * (1 + 2 + 1 + 11));
  // Everything before the first removed section is unchanged, offsets included.
  const firstDebug = info.sections.find((s) => s.name === ".debug_info")!;
  assert.deepEqual(stripped.subarray(0, firstDebug.start), module.subarray(0, firstDebug.start));
  assert.equal((instantiate(stripped as Uint8Array<ArrayBuffer>).f as () => number)(), 7);
  assert.equal(stripDebugSections(bytes, parseModule(bytes)), bytes, "nothing to strip");
});

Deno.test("rewriteSections: an edit that returns REMOVE_SECTION drops its section", async () => {
  const bytes = await wat(`(module (memory 1) (func (export "f")))`);
  const info = parseModule(bytes);
  const out = rewriteSections(bytes, info, { [SectionId.export]: () => REMOVE_SECTION });
  assert.ok(WebAssembly.validate(out as Uint8Array<ArrayBuffer>));
  assert.deepEqual(parseModule(out).exports, []);
});
