/**
 * Host functions that link but are not implemented yet: calling one fails the process with
 * `not supported yet: <module>::<function>`, so programs that never call them still run.
 */
import { trap } from "../runtime/errors.ts";
import { hostFn, type HostFunction, type ValType } from "../runtime/host_api.ts";

/** Signatures written compactly: "i64,i32 -> i32". */
export function notSupported(
  module: string,
  signatures: Record<string, string>,
): Record<string, HostFunction> {
  const functions: Record<string, HostFunction> = {};
  for (const [name, signature] of Object.entries(signatures)) {
    const [params, results] = signature.split("->").map(parseTypes);
    const message = `not supported yet: ${module}::${name}`;
    functions[name] = hostFn(params, results, () => trap(message));
  }
  return functions;
}

function parseTypes(list: string): ValType[] {
  return list.split(",").map((t) => t.trim()).filter((t) => t !== "") as ValType[];
}
