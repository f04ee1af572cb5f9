/** Whether a host directory lies inside others, as configs and remote spawns check it. */
import { resolve, sep } from "node:path";

/** The real path of `path` (symlinks resolved), or its absolute path if it does not exist. */
function realPath(path: string): string {
  try {
    return Deno.realPathSync(path);
  } catch {
    return resolve(path);
  }
}

/**
 * True when host directory `dir` is one of `allowed` or inside one of them, after resolving
 * symlinks (a link inside a preopen may point anywhere).
 */
export function insideDirectories(dir: string, allowed: readonly string[]): boolean {
  const target = realPath(dir);
  return allowed.some((root) => {
    const base = realPath(root);
    return target === base || target.startsWith(base.endsWith(sep) ? base : base + sep);
  });
}
