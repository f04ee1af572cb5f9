/** `lunatic::version`: the lunatic ABI version this runtime implements (spec §1.7). */
import { hostFn, type HostNamespace } from "../runtime/host_api.ts";

export const LUNATIC_VERSION = { major: 0, minor: 13, patch: 2 } as const;

export const versionNamespace: HostNamespace = {
  module: "lunatic::version",
  functions: {
    major: hostFn([], ["i32"], () => LUNATIC_VERSION.major),
    minor: hostFn([], ["i32"], () => LUNATIC_VERSION.minor),
    patch: hostFn([], ["i32"], () => LUNATIC_VERSION.patch),
  },
};
