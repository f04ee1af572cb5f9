/**
 * A process config as it travels with a remote spawn: lunatic's MessagePack layout of its
 * config struct, `[max_memory, max_fuel (nil: none), can_compile_modules, can_create_configs,
 * can_spawn_processes, preopened_dirs, command_line_arguments, environment_variables]`, and two
 * fields of ours after them: the allowed namespaces (nil: all) and the namespace lists of the
 * configs it was derived from, so a remote process is never allowed more than here.
 */
import { decode, encode } from "@msgpack/msgpack";
import { ProcessConfig } from "../config.ts";
import { WireError } from "./wire.ts";

export function encodeConfig(config: ProcessConfig): Uint8Array<ArrayBuffer> {
  return encode([
    Number(config.maxMemory),
    config.maxFuel === 0n ? null : Number(config.maxFuel),
    config.canCompileModules,
    config.canCreateConfigs,
    config.canSpawnProcesses,
    config.preopenedDirs.map((preopen) => preopen.host),
    config.args,
    config.env,
    config.allowedNamespaces,
    config.namespaceCeiling,
  ]);
}

export function decodeConfig(bytes: Uint8Array): ProcessConfig {
  let value: unknown;
  try {
    value = decode(bytes, { useBigInt64: true });
  } catch (error) {
    throw new WireError(`the spawn's config is not MessagePack (${(error as Error).message})`);
  }
  if (!Array.isArray(value) || value.length < 8) throw new WireError("the config needs 8 fields");
  const [memory, fuel, compile, configs, spawn, dirs, args, env, allowed, ceiling] = value;
  const strings = (list: unknown, what: string): string[] => {
    if (!Array.isArray(list) || !list.every((item) => typeof item === "string")) {
      throw new WireError(`config ${what} is not a list of strings`);
    }
    return list;
  };
  const integer = (n: unknown, what: string): bigint => {
    if ((typeof n === "number" && Number.isSafeInteger(n) && n >= 0) || typeof n === "bigint") {
      return BigInt.asUintN(64, BigInt(n));
    }
    throw new WireError(`config ${what} is not an integer`);
  };
  if (![compile, configs, spawn].every((flag) => typeof flag === "boolean")) {
    throw new WireError("config permissions are not booleans");
  }
  if (!Array.isArray(env) || !env.every((pair) => Array.isArray(pair) && pair.length === 2)) {
    throw new WireError("config environment_variables is not a list of pairs");
  }
  return new ProcessConfig({
    maxMemory: integer(memory, "max_memory"),
    maxFuel: fuel === null || fuel === undefined ? 0n : integer(fuel, "max_fuel"),
    canCompileModules: compile as boolean,
    canCreateConfigs: configs as boolean,
    canSpawnProcesses: spawn as boolean,
    preopenedDirs: strings(dirs, "preopened_dirs"),
    args: strings(args, "command_line_arguments"),
    env: (env as unknown[][]).map(([k, v]) => {
      if (typeof k !== "string" || typeof v !== "string") {
        throw new WireError("config environment_variables holds a non-string");
      }
      return [k, v] as [string, string];
    }),
    allowedNamespaces: allowed === null || allowed === undefined
      ? null
      : strings(allowed, "allowed namespaces"),
    namespaceCeiling: Array.isArray(ceiling)
      ? ceiling.map((list) => strings(list, "namespace ceiling"))
      : [],
  });
}
