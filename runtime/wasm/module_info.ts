/**
 * A single pass over a module's sections that records what the runtime needs before compiling:
 * signatures of imports and exports, memory limits, function names, and where every section
 * and function body lies. Function bodies, element and data segments are not decoded, only
 * located, so parsing stays cheap for large modules; the engine validates them at compile time.
 */
import type { ValType } from "../host_api.ts";
import { ByteReader, WasmFormatError } from "./bytes.ts";

export { WasmFormatError } from "./bytes.ts";

export interface FuncType {
  params: ValType[];
  results: ValType[];
}

/** Memory (or table) limits, in pages (or elements). */
export interface Limits {
  min: number;
  max: number | null;
  shared: boolean;
  memory64: boolean;
}

export type ExternKind = "func" | "table" | "memory" | "global" | "tag";

export interface ImportInfo {
  module: string;
  name: string;
  kind: ExternKind;
  /** Functions and tags: their signature. */
  type?: FuncType;
  /** Memories: their limits. */
  limits?: Limits;
}

export interface ExportInfo {
  name: string;
  kind: ExternKind;
  /** Index in the kind's index space (imports first, then definitions). */
  index: number;
}

export interface SectionInfo {
  id: number;
  /** Custom sections (id 0): their name. */
  name?: string;
  /** Offset of the section's id byte. */
  start: number;
  /** Offset of the first content byte (after the size, and for custom sections before the name). */
  contentStart: number;
  /** Offset just past the section. */
  end: number;
}

export interface ModuleInfo {
  types: FuncType[];
  imports: ImportInfo[];
  importedFunctionCount: number;
  /** Type index of each defined function. */
  functionTypes: number[];
  /** Defined memories (not imported). */
  memories: Limits[];
  importedMemories: Limits[];
  exports: ExportInfo[];
  start: number | null;
  /** Function index -> name, from the custom "name" section. */
  functionNames: Map<number, string>;
  moduleName: string | null;
  sections: SectionInfo[];
  /** Byte range of each defined function's body (locals and code, after its size). */
  codeBodies: { start: number; end: number }[];
  /** Where each type's parameter and result vectors lie in the module (for rewriters). */
  typeEncodings: TypeEncoding[];
  /** Each function import's type index, and where its encoding lies (for rewriters). */
  functionImportTypes: { index: number; start: number; end: number }[];
}

/** Offsets of a function type's encoding: its parameter vector, its result vector, its end. */
export interface TypeEncoding {
  paramsAt: number;
  resultsAt: number;
  end: number;
}

/** Section ids of the binary format. */
export const SectionId = {
  custom: 0,
  type: 1,
  import: 2,
  function: 3,
  table: 4,
  memory: 5,
  global: 6,
  export: 7,
  start: 8,
  element: 9,
  code: 10,
  data: 11,
  dataCount: 12,
  tag: 13,
} as const;

const SECTION_NAMES = [
  "custom",
  "type",
  "import",
  "function",
  "table",
  "memory",
  "global",
  "export",
  "start",
  "element",
  "code",
  "data",
  "data count",
  "tag",
];

/** `the import section`, for messages. */
export function sectionDescription(id: number, customName?: string): string {
  if (id === SectionId.custom) {
    return customName === undefined ? "a custom section" : `the custom section "${customName}"`;
  }
  return `the ${SECTION_NAMES[id] ?? `unknown (id ${id})`} section`;
}

/**
 * Where each known section must appear relative to the others. Ids are not in order: the tag
 * section sits between memory and global, the data count section between element and code.
 */
export const SECTION_ORDER: Readonly<Record<number, number>> = {
  1: 1,
  2: 2,
  3: 3,
  4: 4,
  5: 5,
  13: 6,
  6: 7,
  7: 8,
  8: 9,
  9: 10,
  12: 11,
  10: 12,
  11: 13,
};

const EXTERN_KINDS: readonly ExternKind[] = ["func", "table", "memory", "global", "tag"];

const WASM_MAGIC = 0x6d736100; // "\0asm", little-endian
const WASM_VERSION = 1;
/** A 32-bit memory holds at most 65536 pages of 64 KiB (4 GiB). */
export const MAX_MEMORY32_PAGES = 65536;
/** A 64-bit memory holds at most 2^48 pages (2^64 bytes). */
export const MAX_MEMORY64_PAGES = 2 ** 48;

/** Parses and checks the structure of a module. Throws {@link WasmFormatError}. */
export function parseModule(bytes: Uint8Array): ModuleInfo {
  const info: ModuleInfo = {
    types: [],
    imports: [],
    importedFunctionCount: 0,
    functionTypes: [],
    memories: [],
    importedMemories: [],
    exports: [],
    start: null,
    functionNames: new Map(),
    moduleName: null,
    sections: [],
    codeBodies: [],
    typeEncodings: [],
    functionImportTypes: [],
  };

  readHeader(bytes);
  const header = new ByteReader(bytes, 8, bytes.length, "a section header");
  let lastOrder = 0;
  let lastId = 0;
  let sawCode = false;
  let sawNameSection = false;

  while (!header.atEnd()) {
    const start = header.pos;
    const id = header.u8();
    const order = SECTION_ORDER[id];
    if (id !== SectionId.custom) {
      if (order === undefined) header.fail(`unknown section id ${id}`, start);
      if (order === lastOrder) header.fail(`duplicate ${SECTION_NAMES[id]} section`, start);
      if (order < lastOrder) {
        header.fail(
          `the ${SECTION_NAMES[id]} section must come before the ${SECTION_NAMES[lastId]} section`,
          start,
        );
      }
      lastOrder = order;
      lastId = id;
    }
    header.context = sectionDescription(id);
    const size = header.u32();
    const contentStart = header.pos;
    if (size > bytes.length - contentStart) header.fail("unexpected end of module", bytes.length);
    const end = contentStart + size;
    header.pos = end;
    header.context = "a section header";

    const section: SectionInfo = { id, start, contentStart, end };
    const reader = new ByteReader(bytes, contentStart, end, sectionDescription(id));
    switch (id) {
      case SectionId.custom: {
        section.name = reader.name();
        reader.context = sectionDescription(id, section.name);
        // Only the first name section counts, and a broken one is ignored, as engines do.
        if (section.name === "name" && !sawNameSection) {
          sawNameSection = true;
          readNameSection(reader, info);
        }
        reader.pos = end;
        break;
      }
      case SectionId.type:
        readTypeSection(reader, info);
        break;
      case SectionId.import:
        readImportSection(reader, info);
        break;
      case SectionId.function:
        readFunctionSection(reader, info);
        break;
      case SectionId.table:
        readVector(reader, () => readTableType(reader));
        break;
      case SectionId.memory:
        readVector(reader, () => info.memories.push(readLimits(reader, "memory")));
        break;
      case SectionId.tag:
        readVector(reader, () => readTagType(reader, info));
        break;
      case SectionId.global:
        readVector(reader, () => {
          readValType(reader);
          readMutability(reader);
          skipConstExpr(reader);
        });
        break;
      case SectionId.export:
        readExportSection(reader, info);
        break;
      case SectionId.start:
        info.start = reader.u32();
        break;
      case SectionId.dataCount:
        reader.u32();
        break;
      case SectionId.code:
        sawCode = true;
        readCodeSection(reader, info);
        break;
      case SectionId.element:
      case SectionId.data:
        // Located only; the engine validates their contents.
        reader.pos = end;
        break;
    }
    if (reader.pos !== end) {
      reader.fail(`${end - reader.pos} bytes left over at the end of the section`);
    }
    info.sections.push(section);
  }

  if (!sawCode && info.functionTypes.length > 0) {
    throw new WasmFormatError(
      `function and code section have inconsistent lengths (${info.functionTypes.length} functions, no code section)`,
      bytes.length,
    );
  }
  return info;
}

function readHeader(bytes: Uint8Array): void {
  const reader = new ByteReader(bytes, 0, bytes.length, "the module header");
  if (bytes.length < 4) reader.fail("not a WebAssembly module (too short)", 0);
  const magic = (bytes[0] | (bytes[1] << 8) | (bytes[2] << 16) | (bytes[3] << 24)) >>> 0;
  if (magic !== WASM_MAGIC) reader.fail("not a WebAssembly module (bad magic number)", 0);
  if (bytes.length < 8) reader.fail("unexpected end of module", bytes.length);
  const version = (bytes[4] | (bytes[5] << 8) | (bytes[6] << 16) | (bytes[7] << 24)) >>> 0;
  if (version !== WASM_VERSION) {
    // Version 0x1000d is a component (component model), not a core module.
    const what = version === 0x1000d ? " (a component, not a core module)" : "";
    reader.fail(`unsupported WebAssembly version ${version}${what}`, 4);
  }
}

/** Reads a u32 count, then calls `readItem` that many times. */
function readVector(reader: ByteReader, readItem: (index: number) => void): void {
  const count = reader.u32();
  // Every item takes at least one byte; a larger count means a truncated or garbage section.
  if (count > reader.remaining) reader.fail(`count ${count} exceeds the section's size`);
  for (let i = 0; i < count; i++) readItem(i);
}

// --- types --------------------------------------------------------------------------------

/** Abstract heap types (and their reference type shorthands) that map onto our ValTypes. */
const FUNC_HEAP_TYPES = new Set([0x70, /* func */ 0x73 /* nofunc */]);
const EXTERN_HEAP_TYPES = new Set([0x6f, /* extern */ 0x72 /* noextern */]);

const REF_TYPE_NAMES: Record<number, string> = {
  0x6e: "anyref",
  0x6d: "eqref",
  0x6c: "i31ref",
  0x6b: "structref",
  0x6a: "arrayref",
  0x71: "nullref",
  0x69: "exnref",
  0x74: "nullexnref",
};

function readValType(reader: ByteReader): ValType {
  const at = reader.pos;
  const byte = reader.u8();
  switch (byte) {
    case 0x7f:
      return "i32";
    case 0x7e:
      return "i64";
    case 0x7d:
      return "f32";
    case 0x7c:
      return "f64";
    case 0x7b:
      return "v128";
    case 0x63: // (ref null ht)
    case 0x64: // (ref ht)
      return readHeapType(reader);
  }
  return refTypeFromHeapType(reader, byte, at);
}

/**
 * Typed references (function-references / GC proposals) collapse onto funcref or externref.
 * A concrete type index names a function type, because struct and array types are rejected.
 */
function readHeapType(reader: ByteReader): ValType {
  const at = reader.pos;
  const heapType = reader.s33();
  if (heapType >= 0) return "funcref";
  // Abstract heap types are single negative bytes: -0x10 is 0x70 (func), and so on.
  return refTypeFromHeapType(reader, heapType + 0x80, at);
}

function refTypeFromHeapType(reader: ByteReader, code: number, at: number): ValType {
  if (FUNC_HEAP_TYPES.has(code)) return "funcref";
  if (EXTERN_HEAP_TYPES.has(code)) return "externref";
  const name = REF_TYPE_NAMES[code];
  if (name !== undefined) return reader.fail(`unsupported reference type ${name}`, at);
  return reader.fail(`invalid value type 0x${code.toString(16)}`, at);
}

function readResultTypes(reader: ByteReader): ValType[] {
  const count = reader.u32();
  if (count > reader.remaining) reader.fail(`count ${count} exceeds the section's size`);
  const types: ValType[] = new Array(count);
  for (let i = 0; i < count; i++) types[i] = readValType(reader);
  return types;
}

function readTypeSection(reader: ByteReader, info: ModuleInfo): void {
  readVector(reader, () => {
    const at = reader.pos;
    const form = reader.u8();
    if (form === 0x4e) {
      // rec group (GC proposal): each subtype in it takes the next type index.
      const count = reader.u32();
      for (let i = 0; i < count; i++) {
        info.types.push(readSubType(reader, reader.pos, reader.u8(), info.typeEncodings));
      }
    } else {
      info.types.push(readSubType(reader, at, form, info.typeEncodings));
    }
  });
}

/**
 * A subtype (GC proposal) or a plain function type; `form` is its first byte, already read.
 * Where its vectors lie goes to `encodings`.
 */
function readSubType(
  reader: ByteReader,
  at: number,
  form: number,
  encodings: TypeEncoding[],
): FuncType {
  if (form === 0x50 || form === 0x4f) {
    // sub / sub final: declared supertypes, then the composite type.
    readVector(reader, () => reader.u32());
    at = reader.pos;
    form = reader.u8();
  }
  if (form === 0x60) {
    const paramsAt = reader.pos;
    const params = readResultTypes(reader);
    const resultsAt = reader.pos;
    const results = readResultTypes(reader);
    encodings.push({ paramsAt, resultsAt, end: reader.pos });
    return { params, results };
  }
  if (form === 0x5f || form === 0x5e) {
    return reader.fail(
      `${form === 0x5f ? "struct" : "array"} types (the GC proposal) are not supported`,
      at,
    );
  }
  return reader.fail(`invalid type form 0x${form.toString(16)}`, at);
}

function typeAt(reader: ByteReader, info: ModuleInfo, index: number, at: number): FuncType {
  const type = info.types[index];
  if (type === undefined) {
    reader.fail(`type index ${index} out of range (${info.types.length} types)`, at);
  }
  return type;
}

/** Limits of a memory or table. Flag bits: 0x01 has max, 0x02 shared, 0x04 64-bit. */
function readLimits(reader: ByteReader, what: "memory" | "table"): Limits {
  const at = reader.pos;
  const flags = reader.u8();
  const valid = what === "memory" ? flags <= 0x07 : flags <= 0x05 && (flags & 0x02) === 0;
  if (!valid) reader.fail(`invalid ${what} limits flags 0x${flags.toString(16)}`, at);
  const memory64 = (flags & 0x04) !== 0;
  const shared = (flags & 0x02) !== 0;
  const readSize = () => (memory64 ? reader.u64AsNumber() : reader.u32());
  const min = readSize();
  const max = (flags & 0x01) !== 0 ? readSize() : null;
  if (max !== null && max < min) {
    reader.fail(`${what} maximum ${max} is less than its minimum ${min}`, at);
  }
  if (shared && max === null) reader.fail("a shared memory must declare a maximum", at);
  if (what === "memory") {
    const limit = memory64 ? MAX_MEMORY64_PAGES : MAX_MEMORY32_PAGES;
    if (min > limit || (max !== null && max > limit)) {
      reader.fail(`memory size must be at most ${limit} pages`, at);
    }
  }
  return { min, max, shared, memory64 };
}

function readTableType(reader: ByteReader): void {
  // 0x40 0x00: a table with an initialiser expression (function-references proposal).
  const withInit = reader.bytes[reader.pos] === 0x40 && reader.pos < reader.end;
  if (withInit) {
    reader.u8();
    const at = reader.pos;
    if (reader.u8() !== 0x00) reader.fail("invalid table encoding", at);
  }
  readValType(reader);
  readLimits(reader, "table");
  if (withInit) skipConstExpr(reader);
}

function readMutability(reader: ByteReader): void {
  const at = reader.pos;
  const mutability = reader.u8();
  if (mutability > 1) reader.fail(`invalid global mutability 0x${mutability.toString(16)}`, at);
}

function readTagType(reader: ByteReader, info: ModuleInfo): FuncType {
  const at = reader.pos;
  if (reader.u8() !== 0x00) reader.fail("invalid tag attribute", at);
  const typeAtPos = reader.pos;
  return typeAt(reader, info, reader.u32(), typeAtPos);
}

/**
 * Skips a constant expression up to its `end`. Covers the MVP constant instructions, extended
 * constant arithmetic, v128.const, ref.null/ref.func and the GC proposal's allocation forms.
 */
function skipConstExpr(reader: ByteReader): void {
  for (;;) {
    const at = reader.pos;
    const opcode = reader.u8();
    switch (opcode) {
      case 0x0b: // end
        return;
      case 0x41: // i32.const
        reader.s32();
        break;
      case 0x42: // i64.const
        reader.s64();
        break;
      case 0x43: // f32.const
        reader.skipF32();
        break;
      case 0x44: // f64.const
        reader.skipF64();
        break;
      case 0x23: // global.get
      case 0xd2: // ref.func
        reader.u32();
        break;
      case 0xd0: // ref.null
        reader.s33();
        break;
      case 0x6a: // i32.add
      case 0x6b: // i32.sub
      case 0x6c: // i32.mul
      case 0x7c: // i64.add
      case 0x7d: // i64.sub
      case 0x7e: // i64.mul
        break;
      case 0xfd: { // SIMD prefix
        const sub = reader.u32();
        if (sub !== 12) reader.fail(`instruction 0xfd ${sub} is not constant`, at);
        reader.skip(16); // v128.const
        break;
      }
      case 0xfb: // GC prefix
        skipGcConstInstruction(reader, at);
        break;
      default:
        reader.fail(
          `instruction 0x${opcode.toString(16)} is not allowed in a constant expression`,
          at,
        );
    }
  }
}

function skipGcConstInstruction(reader: ByteReader, at: number): void {
  const sub = reader.u32();
  switch (sub) {
    case 0: // struct.new
    case 1: // struct.new_default
    case 6: // array.new
    case 7: // array.new_default
      reader.u32();
      return;
    case 8: // array.new_fixed
      reader.u32();
      reader.u32();
      return;
    case 0x1a: // any.convert_extern
    case 0x1b: // extern.convert_any
    case 0x1c: // ref.i31
      return;
  }
  reader.fail(`instruction 0xfb ${sub} is not allowed in a constant expression`, at);
}

// --- imports, functions, exports, code ----------------------------------------------------

function readExternKind(reader: ByteReader): ExternKind {
  const at = reader.pos;
  const code = reader.u8();
  const kind = EXTERN_KINDS[code];
  if (kind === undefined) reader.fail(`invalid external kind 0x${code.toString(16)}`, at);
  return kind;
}

function readImportSection(reader: ByteReader, info: ModuleInfo): void {
  readVector(reader, () => {
    const module = reader.name();
    const name = reader.name();
    const kind = readExternKind(reader);
    const entry: ImportInfo = { module, name, kind };
    switch (kind) {
      case "func": {
        const at = reader.pos;
        const index = reader.u32();
        entry.type = typeAt(reader, info, index, at);
        info.functionImportTypes.push({ index, start: at, end: reader.pos });
        info.importedFunctionCount++;
        break;
      }
      case "table":
        readTableType(reader);
        break;
      case "memory":
        entry.limits = readLimits(reader, "memory");
        info.importedMemories.push(entry.limits);
        break;
      case "global":
        readValType(reader);
        readMutability(reader);
        break;
      case "tag":
        entry.type = readTagType(reader, info);
        break;
    }
    info.imports.push(entry);
  });
}

function readFunctionSection(reader: ByteReader, info: ModuleInfo): void {
  readVector(reader, () => {
    const at = reader.pos;
    const typeIndex = reader.u32();
    typeAt(reader, info, typeIndex, at);
    info.functionTypes.push(typeIndex);
  });
}

function readExportSection(reader: ByteReader, info: ModuleInfo): void {
  const seen = new Set<string>();
  readVector(reader, () => {
    const at = reader.pos;
    const name = reader.name();
    if (seen.has(name)) reader.fail(`duplicate export name "${name}"`, at);
    seen.add(name);
    const kind = readExternKind(reader);
    const index = reader.u32();
    info.exports.push({ name, kind, index });
  });
}

function readCodeSection(reader: ByteReader, info: ModuleInfo): void {
  const at = reader.pos;
  const count = reader.u32();
  if (count !== info.functionTypes.length) {
    reader.fail(
      `function and code section have inconsistent lengths (${info.functionTypes.length} functions, ${count} bodies)`,
      at,
    );
  }
  const bodies: { start: number; end: number }[] = new Array(count);
  for (let i = 0; i < count; i++) {
    const size = reader.u32();
    const start = reader.pos;
    reader.skip(size);
    bodies[i] = { start, end: start + size };
  }
  info.codeBodies = bodies;
}

// --- the custom "name" section ------------------------------------------------------------

const NAME_SUBSECTION_MODULE = 0;
const NAME_SUBSECTION_FUNCTIONS = 1;

/**
 * Reads the module and function names. Engines treat names as debug information and ignore a
 * malformed name section, so any format error here leaves the names unset instead of failing.
 */
function readNameSection(reader: ByteReader, info: ModuleInfo): void {
  let moduleName: string | null = null;
  const functionNames = new Map<number, string>();
  try {
    // The first subsection of each kind counts; their order is not checked.
    const seen = new Set<number>();
    while (!reader.atEnd()) {
      const id = reader.u8();
      const size = reader.u32();
      const sub = reader.sub(size, "the name section");
      const first = !seen.has(id);
      seen.add(id);
      if (id === NAME_SUBSECTION_MODULE && first) {
        moduleName = sub.name();
      } else if (id === NAME_SUBSECTION_FUNCTIONS && first) {
        sub.prepareForManyNames();
        const count = sub.u32();
        for (let i = 0; i < count; i++) {
          const index = sub.u32();
          functionNames.set(index, sub.name());
        }
      } else {
        continue; // local, label, type... names: not needed
      }
      if (!sub.atEnd()) sub.fail("bytes left over at the end of a name subsection");
    }
  } catch (error) {
    if (error instanceof WasmFormatError) return;
    throw error;
  }
  info.moduleName = moduleName;
  info.functionNames = functionNames;
}

// --- queries ------------------------------------------------------------------------------

/** The signature of function `index` (imports first, then defined functions), or null. */
export function functionType(info: ModuleInfo, index: number): FuncType | null {
  if (index < info.importedFunctionCount) {
    let seen = 0;
    for (const entry of info.imports) {
      if (entry.kind !== "func") continue;
      if (seen === index) return entry.type ?? null;
      seen++;
    }
    return null;
  }
  const typeIndex = info.functionTypes[index - info.importedFunctionCount];
  return typeIndex === undefined ? null : info.types[typeIndex] ?? null;
}

/** The signature of the function exported as `name`, or null if there is no such function export. */
export function exportedFunctionType(info: ModuleInfo, name: string): FuncType | null {
  const entry = info.exports.find((e) => e.name === name && e.kind === "func");
  return entry === undefined ? null : functionType(info, entry.index);
}

/** The name of function `index` from the name section, or null. */
export function functionName(info: ModuleInfo, index: number): string | null {
  return info.functionNames.get(index) ?? null;
}
