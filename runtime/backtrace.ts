/**
 * Wasm backtraces for failed processes, from the frames V8 records in an error's stack,
 * named from the module's name section (Rust's mangled names demangled).
 */

/** What the backtrace needs to know about the module the frames belong to. */
export interface BacktraceSource {
  /** Display name of the module, e.g. `app.wasm`. */
  readonly displayName: string;
  /**
   * The name of the function whose code contains byte `offset` of the module as compiled.
   * (V8 15 reports every frame as `wasm-function[0]`, so frames are located by offset.)
   */
  functionNameAt(offset: number): string | null;
  /** Maps an offset in the compiled (rewritten) module back to the original file. */
  originalOffset(offset: number): number;
}

const WASM_FRAME =
  /at (?:(\S.*?) \()?wasm:\/\/wasm\/[0-9a-f]+:wasm-function\[(\d+)\]:(0x[0-9a-f]+)\)?/;

/** Formats the wasm frames of `error` innermost first, or returns undefined if it has none. */
export function formatBacktrace(error: unknown, source: BacktraceSource): string | undefined {
  const stack = error instanceof Error ? error.stack : undefined;
  if (stack === undefined) return undefined;
  const lines: string[] = [];
  for (const line of stack.split("\n")) {
    const frame = WASM_FRAME.exec(line);
    if (frame === null) continue;
    const offset = source.originalOffset(Number(frame[3]));
    const name = source.functionNameAt(offset) ?? frame[1] ?? `<wasm function ${frame[2]}>`;
    const hex = `0x${offset.toString(16)}`;
    lines.push(
      `  ${String(lines.length).padStart(3)}: ${hex.padStart(8)} - ${source.displayName}!${
        demangle(name)
      }`,
    );
  }
  return lines.length > 0 ? lines.join("\n") : undefined;
}

/**
 * Demangles Rust's legacy symbol scheme (`_ZN4core9panicking5panic17h0123456789abcdefE`
 * -> `core::panicking::panic`). Other names are returned unchanged.
 */
export function demangle(name: string): string {
  if (!name.startsWith("_ZN") || !name.endsWith("E")) return name;
  const parts: string[] = [];
  let i = 3;
  while (i < name.length - 1) {
    let j = i;
    while (j < name.length && name[j] >= "0" && name[j] <= "9") j++;
    if (j === i) return name;
    const length = Number(name.slice(i, j));
    const part = name.slice(j, j + length);
    if (part.length !== length) return name;
    parts.push(part);
    i = j + length;
  }
  if (parts.length > 1 && /^h[0-9a-f]{16}$/.test(parts[parts.length - 1])) parts.pop();
  return parts.map(unescapeRustSegment).join("::");
}

const RUST_ESCAPES: Record<string, string> = {
  "$SP$": "@",
  "$BP$": "*",
  "$RF$": "&",
  "$LT$": "<",
  "$GT$": ">",
  "$LP$": "(",
  "$RP$": ")",
  "$C$": ",",
};

function unescapeRustSegment(segment: string): string {
  return segment
    .replace(/^_\$/, "$")
    .replace(/\$(SP|BP|RF|LT|GT|LP|RP|C)\$/g, (m) => RUST_ESCAPES[m])
    .replace(/\$u([0-9a-f]+)\$/g, (_, hex) => String.fromCodePoint(parseInt(hex, 16)))
    .replace(/\.\./g, "::");
}
