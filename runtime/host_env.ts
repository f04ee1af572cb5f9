/**
 * The environment this OS process was started with, which a guest inherits by default.
 *
 * `Deno.env` is not quite it: when `node` is not on PATH, Deno puts its own shim directory
 * (`<DENO_DIR>/node_compat_bin`) in front of PATH and sets `DENO_NODE_SHIM_ACTIVE=1` in its
 * own environment as it starts, and `deno task` adds `INIT_CWD`, `npm_config_user_agent` and
 * `PWD` (as `npm run` does). None of that is the user's: a guest must see what the user's
 * shell gave.
 */

const SHIM_FLAG = "DENO_NODE_SHIM_ACTIVE";
const SHIM_DIR = /[\\/]node_compat_bin$/;

/** The user's environment: as this process was started, less what Deno and `deno task` add. */
export function hostEnvironment(): Record<string, string> {
  const env = startupEnvironment("self") ?? Deno.env.toObject();
  if (startedByDenoTask(env)) removeTaskAdditions(env);
  return withoutNodeShim(env);
}

/**
 * `deno task` runs its commands itself, so its own startup block shows what it added on top
 * of the user's: PWD, and directories in front of PATH. A variable the task's command line
 * sets itself stays.
 */
function removeTaskAdditions(env: Record<string, string>): void {
  delete env.npm_config_user_agent;
  delete env.INIT_CWD;
  const parent = startupEnvironment(String(Deno.ppid));
  if (parent === null) return;
  if (parent.PWD === undefined) delete env.PWD;
  if (parent.PATH !== undefined && env.PATH?.endsWith(`:${parent.PATH}`)) env.PATH = parent.PATH;
}

/** `deno task` marks the environment it passes on with its user agent, as `npm run` does. */
function startedByDenoTask(env: Record<string, string>): boolean {
  return env.npm_config_user_agent?.startsWith("deno/") ?? false;
}

/**
 * The environment block the kernel gave a process (`/proc/<pid>/environ`): later changes
 * to its environment (Deno's shim) do not show in it. Null where there is no such file.
 */
function startupEnvironment(pid: string): Record<string, string> | null {
  let text: string;
  try {
    text = Deno.readTextFileSync(`/proc/${pid}/environ`);
  } catch {
    return null;
  }
  const env: Record<string, string> = {};
  for (const entry of text.split("\0")) {
    const at = entry.indexOf("=");
    if (at > 0) env[entry.slice(0, at)] = entry.slice(at + 1);
  }
  return env;
}

/**
 * `env` without Deno's node shim: the flag it sets and its directory on PATH (the flag is
 * also passed on to a `deno task` command, and a `deno run` started by one inherits both).
 */
function withoutNodeShim(env: Record<string, string>): Record<string, string> {
  if (env[SHIM_FLAG] !== "1") return env;
  delete env[SHIM_FLAG];
  const separator = Deno.build.os === "windows" ? ";" : ":";
  const path = (env.PATH ?? "").split(separator).filter((dir) => !SHIM_DIR.test(dir));
  if (path.length === 0 || (path.length === 1 && path[0] === "")) delete env.PATH;
  else env.PATH = path.join(separator);
  return env;
}
