/**
 * Resolves guest paths inside a preopened directory, one component at a time, the way
 * `openat2(RESOLVE_BENEATH)` (and so cap-std, under wasmtime) does: `..` may not climb above
 * the directory the call names (its fd's directory, not merely its preopen), absolute paths
 * are refused, and every symlink met on the way is expanded and checked the same way (an
 * absolute link target, or one whose `..` climbs out, is refused).
 *
 * Refusals return EPERM: that is what wasmtime 8 (cap-std's "a path led outside of the
 * filesystem") gives the guest. The check runs on paths, not on open handles, so a concurrent
 * host process swapping a directory for a symlink between the check and the use could race it.
 */
import { join } from "node:path";
import { Errno } from "./constants.ts";
import { fail } from "./errno.ts";

/** Linux's limit on symlinks followed in one lookup (ELOOP beyond it). */
const MAX_SYMLINK_EXPANSIONS = 40;

export interface SandboxedPath {
  /** The host path: `root` joined with `parts`. */
  readonly hostPath: string;
  /** Components from the root to the target; empty for the root itself. */
  readonly parts: readonly string[];
  /** The guest path ended in `/`, so the target must be a directory. */
  readonly trailingSlash: boolean;
}

/**
 * Resolves `guestPath` relative to the directory at `start` (components below `root`), never
 * above it.
 * Intermediate symlinks are always followed; the last component is followed only when
 * `followFinal` is set (or the path ends in `/`). A missing last component is fine (the caller
 * may be about to create it); a missing intermediate one is ENOENT.
 */
export function resolveInSandbox(
  root: string,
  start: readonly string[],
  guestPath: string,
  followFinal: boolean,
): SandboxedPath {
  if (guestPath.length === 0) fail(Errno.NOENT);
  if (guestPath.includes("\0")) fail(Errno.INVAL, "path contains a NUL byte");
  if (guestPath.startsWith("/")) fail(Errno.PERM, `absolute path ${guestPath} refused`);

  const trailingSlash = guestPath.endsWith("/");
  const follow = followFinal || trailingSlash;
  const parts = [...start];
  const floor = start.length;
  // A stack of components still to walk, next one last.
  const pending = components(guestPath).reverse();
  let expansions = 0;
  let finalInfo: Deno.FileInfo | null = null;

  while (pending.length > 0) {
    const name = pending.pop()!;
    const isLast = pending.length === 0;
    if (name === "..") {
      if (parts.length === floor) fail(Errno.PERM, `${guestPath} leads outside its directory`);
      parts.pop();
      continue;
    }
    if (isLast && !follow) {
      parts.push(name);
      break;
    }
    const hostPath = join(root, ...parts, name);
    let info: Deno.FileInfo;
    try {
      info = Deno.lstatSync(hostPath);
    } catch (error) {
      if (isLast && error instanceof Deno.errors.NotFound) {
        parts.push(name);
        break;
      }
      throw error;
    }
    if (info.isSymlink) {
      if (++expansions > MAX_SYMLINK_EXPANSIONS) fail(Errno.LOOP);
      const target = Deno.readLinkSync(hostPath);
      if (target.startsWith("/")) fail(Errno.PERM, `symlink ${name} points outside its directory`);
      pending.push(...components(target).reverse());
      continue;
    }
    if (!isLast && !info.isDirectory) fail(Errno.NOTDIR);
    parts.push(name);
    if (isLast) finalInfo = info;
  }

  if (trailingSlash && finalInfo !== null && !finalInfo.isDirectory) fail(Errno.NOTDIR);
  return { hostPath: join(root, ...parts), parts, trailingSlash };
}

/**
 * The components of a relative path, without empty ones and `.`. On Windows a backslash would
 * be a separator the walk never saw (so `..\\..` could slip past it): such names are refused.
 */
function components(path: string): string[] {
  if (Deno.build.os === "windows" && path.includes("\\")) fail(Errno.INVAL);
  return path.split("/").filter((part) => part !== "" && part !== ".");
}
