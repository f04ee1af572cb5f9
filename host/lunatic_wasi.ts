/**
 * `lunatic::wasi`: edits the WASI part of a config (spec §1.6). A preopen must lie inside one
 * of the calling process's own preopened directories, so a config never sees more of the
 * filesystem than its creator.
 */
import { insideDirectories } from "../runtime/directories.ts";
import { trap } from "../runtime/errors.ts";
import { hostFn, type HostNamespace } from "../runtime/host_api.ts";
import type { Process } from "../runtime/process.ts";
import { configResource } from "./process.ts";

export const lunaticWasiNamespace: HostNamespace<Process> = {
  module: "lunatic::wasi",
  functions: {
    config_add_environment_variable: hostFn(
      ["i64", "i32", "i32", "i32", "i32"],
      [],
      (
        configId: bigint,
        keyPtr: number,
        keyLen: number,
        valPtr: number,
        valLen: number,
        p: Process,
      ) => {
        const config = configResource(p, configId);
        const key = p.memory.readString(keyPtr, keyLen, "environment variable name");
        const value = p.memory.readString(valPtr, valLen, "environment variable value");
        config.env.push([key, value]);
      },
    ),
    config_add_command_line_argument: hostFn(
      ["i64", "i32", "i32"],
      [],
      (configId: bigint, ptr: number, len: number, p: Process) => {
        configResource(p, configId).args.push(p.memory.readString(ptr, len, "argument"));
      },
    ),
    config_preopen_dir: hostFn(
      ["i64", "i32", "i32"],
      [],
      (configId: bigint, ptr: number, len: number, p: Process) => {
        const config = configResource(p, configId);
        const dir = p.memory.readString(ptr, len, "directory");
        const own = p.config.preopenedDirs.map((preopen) => preopen.host);
        if (!insideDirectories(dir, own)) {
          trap(
            `permission denied: cannot preopen "${dir}", which is outside this process's preopened directories`,
          );
        }
        config.preopenedDirs.push({ host: dir, guest: dir });
      },
    ),
  },
};
