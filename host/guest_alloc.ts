/**
 * Results that lunatic hands back in memory the guest allocates (spec §1.15, §1.16): the host
 * calls the guest's export `lunatic_alloc(len) -> ptr`, copies the bytes there, writes the
 * length at `len_ptr` and returns the pointer. lunatic writes the length as a host `usize`
 * (8 bytes) where lunatic-rs reserves a u32 (§9.1); 4 bytes are what every reader reads, and
 * nothing after them is clobbered.
 *
 * `lunatic_alloc` is guest code, instrumented like the rest, so it may be preempted: it runs
 * on a stack of its own (a `promising` wrapper) while the host call waits.
 */
import { trap } from "../runtime/errors.ts";
import { promising } from "../runtime/jspi.ts";
import type { Process } from "../runtime/process.ts";

const ALLOC_EXPORT = "lunatic_alloc";
const ALLOC = Symbol("lunatic_alloc");

/**
 * Copies `bytes` into a fresh guest allocation; resolves with its pointer. For a suspending
 * host function to return (like trap::catch, the nested guest call is not a suspension of
 * the process: it runs, and may itself wait, on its own stack).
 */
export async function writeToGuest(p: Process, bytes: Uint8Array, lenPtr: number): Promise<number> {
  p.memory.check(lenPtr, 4);
  // Made for the current instance (an upgrade brings another).
  const cached = p.hostState(ALLOC, () => ({
    instance: null as WebAssembly.Instance | null,
    alloc: null as ((len: number) => Promise<unknown>) | null,
  }));
  if (cached.instance !== p.instance || cached.alloc === null) {
    const exported = p.instance?.exports[ALLOC_EXPORT];
    if (typeof exported !== "function") {
      trap(`this call returns memory from the guest's \`${ALLOC_EXPORT}\` export, which it lacks`);
    }
    cached.instance = p.instance;
    cached.alloc = promising(exported as (len: number) => number);
  }
  const ptr = Number(await cached.alloc(bytes.length)) >>> 0;
  p.memory.write(ptr, bytes);
  p.memory.writeU32(lenPtr, bytes.length);
  return ptr;
}

/** bincode of a `String`: its u64 LE length, then its UTF-8 bytes. */
export function bincodeString(text: string): Uint8Array {
  const utf8 = new TextEncoder().encode(text);
  const out = new Uint8Array(8 + utf8.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(utf8.length), true);
  out.set(utf8, 8);
  return out;
}

/** bincode of a tuple: its fields one after the other. */
export function bincodeTuple(...fields: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(fields.reduce((sum, field) => sum + field.length, 0));
  let at = 0;
  for (const field of fields) {
    out.set(field, at);
    at += field.length;
  }
  return out;
}
