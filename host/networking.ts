/**
 * `lunatic::networking` (spec §1.9–§1.12): DNS, TCP, TLS and UDP on Deno. Each part lives in
 * `host/networking/`; the resources they make are per process, and sockets are shared by
 * their handles (host/networking/resources.ts).
 */
import type { HostNamespace } from "../runtime/host_api.ts";
import type { Process } from "../runtime/process.ts";
import { dnsFunctions } from "./networking/dns.ts";
import { tcpFunctions } from "./networking/tcp.ts";
import { tlsFunctions } from "./networking/tls.ts";
import { udpFunctions } from "./networking/udp.ts";

export { openNetworkResources } from "./networking/resources.ts";

export const networkingNamespace: HostNamespace<Process> = {
  module: "lunatic::networking",
  functions: { ...dnsFunctions, ...tcpFunctions, ...tlsFunctions, ...udpFunctions },
};
