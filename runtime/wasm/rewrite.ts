/**
 * Module rewriting by sections: a module is copied section by section, and only the sections
 * being changed are re-encoded. Everything else (custom sections included) is copied
 * byte-for-byte, so offsets inside untouched sections keep their meaning.
 */
import { ByteReader, ByteWriter, encodeU32Leb } from "./bytes.ts";
import {
  type Limits,
  MAX_MEMORY32_PAGES,
  MAX_MEMORY64_PAGES,
  type ModuleInfo,
  SECTION_ORDER,
  SectionId,
  type SectionInfo,
} from "./module_info.ts";

/** What a {@link SectionEdit} returns to drop its section from the output. */
export const REMOVE_SECTION: unique symbol = Symbol("remove section");

/**
 * New contents for one section, given its current contents (after the size; for custom
 * sections this includes the name). Returning null, or the same array, keeps the section;
 * {@link REMOVE_SECTION} drops it.
 */
export type SectionEdit = (
  content: Uint8Array,
  section: SectionInfo,
) => Uint8Array | null | typeof REMOVE_SECTION;

/** Edits by section id. An edit for id 0 sees every custom section (check `section.name`). */
export type SectionEdits = Partial<Record<number, SectionEdit>>;

/**
 * Copies `bytes` (parsed as `info`) with `edits` applied to the sections they name, and with
 * `additions` (contents by section id) inserted in their place in the section order for
 * known sections the module lacks. Returns `bytes` itself when nothing changed.
 */
export function rewriteSections<Bytes extends Uint8Array>(
  bytes: Bytes,
  info: ModuleInfo,
  edits: SectionEdits,
  additions: Partial<Record<number, Uint8Array>> = {},
): Bytes | Uint8Array<ArrayBuffer> {
  // Sections to add, in section order; each goes in before the first existing section after it.
  const pending: { id: number; order: number; content: Uint8Array }[] = [];
  for (const [key, content] of Object.entries(additions)) {
    const id = Number(key);
    const order = SECTION_ORDER[id];
    if (content === undefined) continue;
    if (order === undefined) throw new RangeError(`cannot add a section with id ${id}`);
    if (info.sections.some((s) => s.id === id)) {
      throw new RangeError(`cannot add section ${id}: the module already has one`);
    }
    pending.push({ id, order, content });
  }
  pending.sort((a, b) => a.order - b.order);

  // The output as pieces: views of unchanged runs of `bytes`, and newly encoded sections.
  const pieces: Uint8Array[] = [];
  let changed = pending.length > 0;
  let copyStart = 0; // start of the current run of unchanged bytes (header included)
  const flushCopy = (upTo: number) => {
    if (upTo > copyStart) pieces.push(bytes.subarray(copyStart, upTo));
    copyStart = upTo;
  };
  const pushSection = (id: number, content: Uint8Array) => {
    pieces.push(Uint8Array.of(id), encodeU32Leb(content.length), content);
  };
  const insertPendingBefore = (order: number, at: number) => {
    if (pending.length === 0 || pending[0].order >= order) return;
    flushCopy(at);
    while (pending.length > 0 && pending[0].order < order) {
      const { id, content } = pending.shift()!;
      pushSection(id, content);
    }
  };

  for (const section of info.sections) {
    const order = SECTION_ORDER[section.id];
    if (order !== undefined) insertPendingBefore(order, section.start);
    const edit = edits[section.id];
    if (edit === undefined) continue;
    const content = bytes.subarray(section.contentStart, section.end);
    const replacement = edit(content, section);
    if (replacement === null || replacement === content) continue;
    changed = true;
    flushCopy(section.start);
    if (replacement !== REMOVE_SECTION) pushSection(section.id, replacement);
    copyStart = section.end;
  }
  flushCopy(bytes.length);
  insertPendingBefore(Infinity, bytes.length);

  if (!changed) return bytes;
  let total = 0;
  for (const piece of pieces) total += piece.length;
  const output = new Uint8Array(total);
  let offset = 0;
  for (const piece of pieces) {
    output.set(piece, offset);
    offset += piece.length;
  }
  return output;
}

/**
 * The module without its DWARF (custom sections named `.debug_*`), which engines do not use:
 * in a debug build of a Rust program it is most of the file (25 of 28 MB), and every copy
 * and compilation of the module would carry it. Returns `bytes` itself when it has none.
 */
export function stripDebugSections<Bytes extends Uint8Array>(
  bytes: Bytes,
  info: ModuleInfo,
): Bytes | Uint8Array<ArrayBuffer> {
  if (!info.sections.some(isDebugSection)) return bytes;
  return rewriteSections(bytes, info, {
    [SectionId.custom]: (_, section) => isDebugSection(section) ? REMOVE_SECTION : null,
  });
}

function isDebugSection(section: SectionInfo): boolean {
  return section.id === SectionId.custom && section.name !== undefined &&
    section.name.startsWith(".debug_");
}

/** Where {@link limitAndImportMemory} imports the module's memory from. */
export const MEMORY_IMPORT = { module: "lunatic::internal", name: "memory" } as const;

/**
 * Returns a module in which every defined memory's maximum is `min(declared max ?? maxPages,
 * maxPages)` (also capped at the format's limit), so the guest can never grow past the
 * process's memory limit. Imported memories are left alone: whoever provides them sets
 * their limits. Returns `bytes` itself if every maximum is already that value.
 * The caller must first check that the minimum fits ({@link memoryMinimumPages}).
 */
export function limitMemory<Bytes extends Uint8Array>(
  bytes: Bytes,
  info: ModuleInfo,
  maxPages: number,
): Bytes | Uint8Array<ArrayBuffer> {
  const limited = limitedMemories(info, maxPages);
  if (limited.every((memory, i) => info.memories[i].max === memory.max)) return bytes;
  return rewriteSections(bytes, info, { [SectionId.memory]: () => encodeMemories(limited) });
}

/**
 * {@link limitMemory}, and memory 0 (which must be defined, 32-bit and not shared, with no
 * imported memory) becomes an import of {@link MEMORY_IMPORT} with the limited limits, so
 * that the host can hand each instance a memory it keeps when the instance is gone. Memory
 * indices do not change: the import is the only imported memory, so it is memory 0.
 */
export function limitAndImportMemory<Bytes extends Uint8Array>(
  bytes: Bytes,
  info: ModuleInfo,
  maxPages: number,
): { bytes: Uint8Array<ArrayBuffer>; initial: number; maximum: number } {
  const [first, ...rest] = limitedMemories(info, maxPages);
  const bytesOut = importFirstMemory(bytes, info, first, rest);
  return { bytes: bytesOut, initial: first.min, maximum: first.max };
}

/**
 * Memory 0 (which must be defined, 32-bit and not shared, with no imported memory) becomes an
 * import of {@link MEMORY_IMPORT} with the limits the module declared (no maximum if it
 * declared none), and other memories are left alone: one compiled module then serves
 * processes with any memory limit, each instance being given a memory whose maximum is its
 * process's limit. Memory indices do not change.
 */
export function importMemory<Bytes extends Uint8Array>(
  bytes: Bytes,
  info: ModuleInfo,
): Uint8Array<ArrayBuffer> {
  const [first, ...rest] = info.memories;
  return importFirstMemory(bytes, info, first, rest);
}

function importFirstMemory<Bytes extends Uint8Array>(
  bytes: Bytes,
  info: ModuleInfo,
  first: Limits | undefined,
  rest: readonly Limits[],
): Uint8Array<ArrayBuffer> {
  if (!canImportMemory(info) || first === undefined) {
    throw new RangeError("the module has no single private 32-bit memory 0 to import");
  }
  const writer = new ByteWriter(48).name(MEMORY_IMPORT.module).name(MEMORY_IMPORT.name).u8(0x02);
  if (first.max === null) writer.u8(0x00).unsigned(first.min);
  else writer.u8(0x01).unsigned(first.min).unsigned(first.max);
  const entry = writer.finish();
  const importSection = info.sections.some((s) => s.id === SectionId.import);
  const rewritten = rewriteSections(
    bytes,
    info,
    {
      [SectionId.memory]: () => encodeMemories(rest),
      [SectionId.import]: (content) => {
        const reader = new ByteReader(content);
        const count = reader.u32();
        return new ByteWriter(content.length + entry.length + 5).unsigned(count + 1)
          .bytes(content.subarray(reader.pos)).bytes(entry).finish();
      },
    },
    importSection
      ? {}
      : { [SectionId.import]: new ByteWriter(entry.length + 1).u32(1).bytes(entry).finish() },
  );
  return rewritten as Uint8Array<ArrayBuffer>;
}

/** Whether {@link limitAndImportMemory} applies: memory 0 is defined, 32-bit and not shared. */
export function canImportMemory(info: ModuleInfo): boolean {
  const first = info.memories[0];
  return info.importedMemories.length === 0 && first !== undefined && !first.shared &&
    !first.memory64;
}

function limitedMemories(info: ModuleInfo, maxPages: number): (Limits & { max: number })[] {
  if (!Number.isSafeInteger(maxPages) || maxPages < 0) {
    throw new RangeError(`invalid memory page limit: ${maxPages}`);
  }
  return info.memories.map((memory) => {
    const cap = Math.min(maxPages, memory.memory64 ? MAX_MEMORY64_PAGES : MAX_MEMORY32_PAGES);
    const max = Math.min(memory.max ?? cap, cap);
    if (memory.min > max) {
      throw new RangeError(`memory minimum ${memory.min} pages exceeds the limit of ${max} pages`);
    }
    return { ...memory, max };
  });
}

function encodeMemories(memories: readonly Limits[]): Uint8Array {
  const writer = new ByteWriter(4 + memories.length * 12);
  writer.u32(memories.length);
  for (const memory of memories) {
    // Keep the shared and 64-bit bits, and the has-maximum bit when there is one.
    const hasMax = memory.max !== null;
    writer.u8((hasMax ? 0x01 : 0) | (memory.shared ? 0x02 : 0) | (memory.memory64 ? 0x04 : 0));
    writer.unsigned(memory.min);
    if (hasMax) writer.unsigned(memory.max!);
  }
  return writer.finish();
}

/** The minimum size in pages of memory 0 (imported memories come first), or null if none. */
export function memoryMinimumPages(info: ModuleInfo): number | null {
  return info.importedMemories[0]?.min ?? info.memories[0]?.min ?? null;
}
