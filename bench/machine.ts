/**
 * The machine a benchmark ran on, for the line above its table: CPU model and cores, the
 * hypervisor if there is one, whether it is a container, and the runtimes' versions. Figures
 * move with the machine kind, so every table says which it was.
 */

async function text(path: string): Promise<string> {
  try {
    return await Deno.readTextFile(path);
  } catch {
    return "";
  }
}

async function hypervisor(): Promise<string | null> {
  try {
    const { stdout } = await new Deno.Command("lscpu", { stdout: "piped", stderr: "null" })
      .output();
    const vendor = new TextDecoder().decode(stdout).match(/Hypervisor vendor:\s*(.+)/)?.[1];
    if (vendor) return vendor.trim();
  } catch {
    // no lscpu: fall back to the cpu flag
  }
  return /\bhypervisor\b/.test(await text("/proc/cpuinfo")) ? "a hypervisor" : null;
}

async function inContainer(): Promise<boolean> {
  try {
    await Deno.stat("/.dockerenv");
    return true;
  } catch {
    return /docker|containerd|kubepods|lxc/.test(await text("/proc/1/cgroup"));
  }
}

/** E.g. `AMD EPYC, 2 cores, under KVM, in a container; Deno 2.9.6, V8 15.0`. */
export async function machineDescription(): Promise<string> {
  const cpuinfo = await text("/proc/cpuinfo");
  const model = cpuinfo.match(/model name\s*:\s*(.+)/)?.[1]?.trim() ?? Deno.build.arch;
  const cores = navigator.hardwareConcurrency;
  const parts = [`${model}, ${cores} cores`];
  const vm = await hypervisor();
  if (vm !== null) parts.push(`under ${vm}`);
  if (await inContainer()) parts.push("in a container");
  return `${parts.join(", ")}; Deno ${Deno.version.deno}, V8 ${Deno.version.v8}`;
}
