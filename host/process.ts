/**
 * `lunatic::process`: spawning, identity, kill, sleep, links and monitors (spec §1.3, §2).
 */
import type { ProcessConfig } from "../runtime/config.ts";
import { LunaticError, trap } from "../runtime/errors.ts";
import { hostFn, type HostNamespace, suspendingFn } from "../runtime/host_api.ts";
import { ProcessDiedMessage } from "../runtime/message.ts";
import type { LunaticModule } from "../runtime/module.ts";
import type { EntryArgument, Process } from "../runtime/process.ts";
import { childStdio } from "../runtime/stdio.ts";
import { after } from "../runtime/timers.ts";
import { errorId } from "./error.ts";

/** A spawn parameter record's size and type bytes (spec §2.3): `[type u8][value u128 LE]`. */
export const PARAM_RECORD = 17;
export const TYPE_I32 = 0x7f;
export const TYPE_I64 = 0x7e;
export const TYPE_V128 = 0x7b;

/** Decodes spawn parameter records: `[type u8][value u128 LE]` each (spec §2.3 step 8). */
export function decodeParams(process: Process, ptr: number, len: number): EntryArgument[] {
  const bytes = process.memory.bytes(ptr, len);
  if (bytes.byteLength % PARAM_RECORD !== 0) {
    trap(`spawn parameters are ${bytes.byteLength} bytes, not a multiple of ${PARAM_RECORD}`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const args: EntryArgument[] = [];
  for (let offset = 0; offset < bytes.byteLength; offset += PARAM_RECORD) {
    const type = bytes[offset];
    if (type === TYPE_I32) args.push(view.getInt32(offset + 1, true));
    else if (type === TYPE_I64) args.push(view.getBigInt64(offset + 1, true));
    else if (type === TYPE_V128) {
      trap("v128 spawn parameters are not supported by this runtime (JavaScript cannot pass them)");
    } else trap(`unknown spawn parameter type 0x${type.toString(16).padStart(2, "0")}`);
  }
  return args;
}

/** The config a spawn uses: the caller's own for -1, else a snapshot of a config resource. */
export function spawnConfig(process: Process, configId: bigint): ProcessConfig {
  if (configId === -1n) return process.config;
  const config = process.configs.get(configId);
  if (config === undefined) trap(`unknown config id ${BigInt.asUintN(64, configId)}`);
  return config.clone();
}

/** A config resource of the calling process; traps on an unknown ID. */
export function configResource(process: Process, configId: bigint): ProcessConfig {
  const config = process.configs.get(configId);
  if (config === undefined) trap(`unknown config id ${BigInt.asUintN(64, configId)}`);
  return config;
}

/** A permission setter that refuses to grant what the calling process does not have. */
function permissionSetter(
  permission: "canCompileModules" | "canCreateConfigs" | "canSpawnProcesses",
  name: string,
) {
  return hostFn(["i64", "i32"], [], (configId: bigint, can: number, p: Process) => {
    const config = configResource(p, configId);
    if (can !== 0 && !p.config[permission]) {
      trap(`permission denied: cannot grant ${name}, which this process does not have`);
    }
    config[permission] = can !== 0;
  });
}

function permissionGetter(
  permission: "canCompileModules" | "canCreateConfigs" | "canSpawnProcesses",
) {
  return hostFn(["i64"], ["i32"], (configId: bigint, p: Process) => {
    return configResource(p, configId)[permission] ? 1 : 0;
  });
}

/** The module a spawn uses: the caller's own for -1, else a module resource. */
export function spawnModule(process: Process, moduleId: bigint): LunaticModule {
  if (moduleId === -1n) return process.module;
  const module = process.modules.get(moduleId);
  if (module === undefined) trap(`unknown module id ${BigInt.asUintN(64, moduleId)}`);
  return module;
}

export interface SpawnCall {
  link: bigint;
  configId: bigint;
  moduleId: bigint;
  funcPtr: number;
  funcLen: number;
  paramsPtr: number;
  paramsLen: number;
}

/** Traps unless the caller's config may spawn processes (spec §4.4: a trap, not an error). */
export function requireSpawnPermission(process: Process): void {
  if (!process.config.canSpawnProcesses) {
    trap("Process doesn't have permissions to spawn sub-processes");
  }
}

/**
 * `spawn` as spec §2.3 orders its checks: permission, config, module, spawn-time checks and
 * argument decoding trap; only creating the instance reports an error (`{ error }`).
 */
export function spawnFromGuest(
  process: Process,
  call: SpawnCall,
): { processId: number } | { error: string } {
  requireSpawnPermission(process);
  const config = spawnConfig(process, call.configId);
  const module = spawnModule(process, call.moduleId);
  try {
    module.prepare(config);
  } catch (error) {
    if (error instanceof LunaticError) trap(error.message);
    throw error;
  }
  const entry = process.memory.readString(call.funcPtr, call.funcLen, "function name");
  const args = decodeParams(process, call.paramsPtr, call.paramsLen);
  try {
    const child = process.runtime.spawn({
      environment: process.environment,
      module,
      config,
      entry,
      args,
      stdio: childStdio(process.stdio),
      link: call.link !== 0n ? { parent: process, tag: call.link } : undefined,
    });
    return { processId: child.id };
  } catch (error) {
    if (error instanceof LunaticError) return { error: error.message };
    throw error;
  }
}

/**
 * {@link spawnFromGuest}, writing to `idPtr` (already checked) the new process's ID, or the ID
 * of an error saying why it could not be created. Returns the process ID, or null on an error.
 */
export function spawnReportingTo(process: Process, call: SpawnCall, idPtr: number): number | null {
  const result = spawnFromGuest(process, call);
  if ("error" in result) {
    process.memory.writeU64(idPtr, errorId(process, result.error));
    return null;
  }
  process.memory.writeU64(idPtr, result.processId);
  return result.processId;
}

/** Links `p` with `processId` of its environment; false if there is no such process. */
export function linkLocal(p: Process, tag: bigint, processId: bigint): boolean {
  const target = p.environment.get(processId);
  if (target === undefined) {
    // Linking to a process that does not exist is an immediate link death (spec §1.3).
    p.linkDied(Number(BigInt.asUintN(64, processId)), tag, "no_process");
    return false;
  }
  if (target === p) return true;
  p.addLink(target.id, tag);
  target.addLink(p.id, tag);
  return true;
}

export function unlinkLocal(p: Process, processId: bigint): void {
  const target = p.environment.get(processId);
  if (target === undefined) return p.removeLink(Number(BigInt.asUintN(64, processId)));
  p.removeLink(target.id);
  target.removeLink(p.id);
}

/** `p` monitors `processId` of its environment; false if there is no such process. */
export function monitorLocal(p: Process, processId: bigint): boolean {
  const target = p.environment.get(processId);
  // lunatic ignores a monitor of a missing process and never reports it; like Erlang's
  // monitor, we answer at once that it is gone (README: differences from lunatic).
  if (target === undefined) p.deliver(new ProcessDiedMessage(BigInt.asUintN(64, processId)));
  else if (target !== p) target.addMonitor(p.id);
  return target !== undefined;
}

export const processNamespace: HostNamespace<Process> = {
  module: "lunatic::process",
  functions: {
    // Validates, links and compiles; the memory limit applies when a process is spawned from
    // it, so a module may be compiled for (and sent to) a process with a larger limit. The
    // engine compiles on background threads while the caller waits: a big module must not
    // stall every other process.
    compile_module: suspendingFn(
      ["i32", "i32", "i32"],
      ["i32"],
      async (dataPtr: number, dataLen: number, idPtr: number, p: Process) => {
        if (!p.config.canCompileModules) return -1;
        const bytes = p.memory.copy(dataPtr, dataLen);
        p.memory.check(idPtr, 8);
        let result: bigint;
        let status: number;
        try {
          const module = await p.suspend(
            p.runtime.modules.loadAndCompile(bytes, `module from process ${p.id}`, 65_535),
          );
          result = BigInt(p.modules.add(module));
          status = 0;
        } catch (error) {
          if (!(error instanceof LunaticError)) throw error;
          result = BigInt(errorId(p, error.message));
          status = 1;
        }
        p.memory.writeU64(idPtr, result);
        return status;
      },
    ),
    drop_module: hostFn(["i64"], [], (moduleId: bigint, p: Process) => {
      if (p.modules.take(moduleId) === undefined) {
        trap(`unknown module id ${BigInt.asUintN(64, moduleId)}`);
      }
    }),
    create_config: hostFn([], ["i64"], (p: Process) => {
      if (!p.config.canCreateConfigs) return -1n;
      return BigInt(p.configs.add(p.config.derive()));
    }),
    drop_config: hostFn(["i64"], [], (configId: bigint, p: Process) => {
      if (p.configs.take(configId) === undefined) {
        trap(`unknown config id ${BigInt.asUintN(64, configId)}`);
      }
    }),
    config_set_max_memory: hostFn(
      ["i64", "i64"],
      [],
      (configId: bigint, bytes: bigint, p: Process) => {
        const config = configResource(p, configId);
        const limit = BigInt.asUintN(64, bytes);
        if (limit > p.config.maxMemory) {
          trap(
            `permission denied: cannot raise max memory to ${limit} bytes, above this process's limit of ${p.config.maxMemory}`,
          );
        }
        config.maxMemory = limit;
      },
    ),
    config_get_max_memory: hostFn(["i64"], ["i64"], (configId: bigint, p: Process) => {
      return configResource(p, configId).maxMemory;
    }),
    config_set_max_fuel: hostFn(
      ["i64", "i64"],
      [],
      (configId: bigint, units: bigint, p: Process) => {
        const config = configResource(p, configId);
        const fuel = BigInt.asUintN(64, units);
        const own = p.config.maxFuel;
        if (own !== 0n && (fuel === 0n || fuel > own)) {
          trap(
            `permission denied: cannot raise max fuel to ${
              fuel === 0n ? "unlimited" : fuel
            }, above this process's limit of ${own}`,
          );
        }
        config.maxFuel = fuel;
      },
    ),
    config_get_max_fuel: hostFn(["i64"], ["i64"], (configId: bigint, p: Process) => {
      return configResource(p, configId).maxFuel;
    }),
    config_can_compile_modules: permissionGetter("canCompileModules"),
    config_set_can_compile_modules: permissionSetter("canCompileModules", "can_compile_modules"),
    config_can_create_configs: permissionGetter("canCreateConfigs"),
    config_set_can_create_configs: permissionSetter("canCreateConfigs", "can_create_configs"),
    config_can_spawn_processes: permissionGetter("canSpawnProcesses"),
    config_set_can_spawn_processes: permissionSetter("canSpawnProcesses", "can_spawn_processes"),
    config_allow_namespace: hostFn(
      ["i64", "i32", "i32"],
      [],
      (configId: bigint, ptr: number, len: number, p: Process) => {
        const config = configResource(p, configId);
        config.allowNamespace(p.memory.readString(ptr, len, "namespace"));
      },
    ),
    get_or_spawn: hostFn(
      ["i32", "i32", "i64", "i64", "i64", "i32", "i32", "i32", "i32", "i32", "i32"],
      ["i32"],
      (
        namePtr: number,
        nameLen: number,
        link: bigint,
        configId: bigint,
        moduleId: bigint,
        funcPtr: number,
        funcLen: number,
        paramsPtr: number,
        paramsLen: number,
        nodeIdPtr: number,
        idPtr: number,
        p: Process,
      ) => {
        const name = p.memory.readString(namePtr, nameLen, "registry name");
        p.memory.check(nodeIdPtr, 8);
        p.memory.check(idPtr, 8);
        const registry = p.environment.registry;
        const existing = registry.get(name);
        if (existing !== undefined) {
          p.memory.writeU64(nodeIdPtr, existing.nodeId);
          p.memory.writeU64(idPtr, existing.processId);
          return 2;
        }
        const call = { link, configId, moduleId, funcPtr, funcLen, paramsPtr, paramsLen };
        const processId = spawnReportingTo(p, call, idPtr);
        p.memory.writeU64(nodeIdPtr, 0n);
        // lunatic registers the name even when the spawn failed; we do not.
        if (processId === null) return 1;
        registry.set(name, { nodeId: 0n, processId: BigInt(processId) });
        return 0;
      },
    ),
    spawn: hostFn(
      ["i64", "i64", "i64", "i32", "i32", "i32", "i32", "i32"],
      ["i32"],
      (
        link: bigint,
        configId: bigint,
        moduleId: bigint,
        funcPtr: number,
        funcLen: number,
        paramsPtr: number,
        paramsLen: number,
        idPtr: number,
        p: Process,
      ) => {
        p.memory.check(idPtr, 8);
        const call = { link, configId, moduleId, funcPtr, funcLen, paramsPtr, paramsLen };
        return spawnReportingTo(p, call, idPtr) === null ? 1 : 0;
      },
    ),
    process_id: hostFn([], ["i64"], (p: Process) => BigInt(p.id)),
    environment_id: hostFn([], ["i64"], (p: Process) => BigInt(p.environment.id)),
    exists: hostFn(["i64"], ["i32"], (processId: bigint, p: Process) => {
      return p.environment.get(processId) !== undefined ? 1 : 0;
    }),
    kill: hostFn(["i64"], [], (processId: bigint, p: Process) => {
      p.environment.get(processId)?.kill();
    }),
    sleep_ms: suspendingFn(["i64"], [], (ms: bigint, p: Process) => {
      let cancel = () => {};
      const slept = new Promise<void>((resolve) => cancel = after(BigInt.asUintN(64, ms), resolve));
      return p.suspend(slept, () => cancel());
    }),
    die_when_link_dies: hostFn(["i32"], [], (flag: number, p: Process) => {
      p.dieWhenLinkDies = flag !== 0;
    }),
    link: hostFn(["i64", "i64"], [], (tag: bigint, processId: bigint, p: Process) => {
      linkLocal(p, tag, processId);
    }),
    unlink: hostFn(["i64"], [], (processId: bigint, p: Process) => {
      unlinkLocal(p, processId);
    }),
    monitor: hostFn(["i64"], [], (processId: bigint, p: Process) => {
      monitorLocal(p, processId);
    }),
    stop_monitoring: hostFn(["i64"], [], (processId: bigint, p: Process) => {
      p.environment.get(processId)?.removeMonitor(p.id);
    }),
  },
};
