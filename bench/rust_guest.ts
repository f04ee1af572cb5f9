/**
 * The Rust guest of bench:compare (bench/guests/rust_spawn.rs), built on first use with
 * Debian's `rustc` (`rustc` with the `libstd-rust-dev-wasm32` package) into
 * tests/guests/build/rust_spawn.wasm. Null when no such rustc is installed.
 */
import { fileURLToPath } from "node:url";

const here = (path: string) => fileURLToPath(new URL(path, import.meta.url));

export async function rustGuest(): Promise<Uint8Array | null> {
  const output = here("../tests/guests/build/rust_spawn.wasm");
  const source = here("./guests/rust_spawn.rs");
  try {
    if (Deno.statSync(output).mtime! >= Deno.statSync(source).mtime!) {
      return Deno.readFileSync(output);
    }
  } catch {
    // not built yet
  }
  for (const rustc of ["/usr/bin/rustc", "rustc"]) {
    try {
      const built = await new Deno.Command(rustc, {
        args: ["--target", "wasm32-wasi", "-O", "-C", "strip=debuginfo", "-o", output, source],
        stderr: "inherit",
      }).output();
      if (built.success) return Deno.readFileSync(output);
    } catch {
      // this rustc is not there
    }
  }
  return null;
}
