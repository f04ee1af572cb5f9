/**
 * What a control server keeps across restarts, in its state directory: its certificate
 * authority (made at first start; lunatic ships a fixed test CA whose key is public, so any
 * one could join or impersonate a node of any cluster) and the modules nodes uploaded.
 *
 *   <state>/ca.pem          the CA certificate (nodes trust it)
 *   <state>/ca.key          its private key (mode 0600)
 *   <state>/modules/<id>.wasm
 */
import { join } from "node:path";
import {
  type CertificateAuthority,
  createCertificateAuthority,
  loadCertificateAuthority,
} from "./x509.ts";

/**
 * Where `lunatic control` keeps its state unless told: the user's data directory
 * (`$XDG_DATA_HOME` or `~/.local/share`; `~/Library/Application Support` on macOS;
 * `%APPDATA%` on Windows), under `lunatic/control`.
 */
export function defaultStateDir(env: (name: string) => string | undefined = Deno.env.get): string {
  const home = env("HOME") ?? env("USERPROFILE") ?? ".";
  switch (Deno.build.os) {
    case "darwin":
      return join(home, "Library", "Application Support", "lunatic", "control");
    case "windows":
      return join(env("APPDATA") ?? join(home, "AppData", "Roaming"), "lunatic", "control");
    default:
      return join(env("XDG_DATA_HOME") ?? join(home, ".local", "share"), "lunatic", "control");
  }
}

export class ControlStore {
  readonly #dir: string;
  readonly ca: CertificateAuthority;
  #nextModuleId: number;

  private constructor(dir: string, ca: CertificateAuthority, nextModuleId: number) {
    this.#dir = dir;
    this.ca = ca;
    this.#nextModuleId = nextModuleId;
  }

  /** Opens (or creates) the state in `dir`. */
  static open(dir: string): ControlStore {
    Deno.mkdirSync(join(dir, "modules"), { recursive: true });
    const certPath = join(dir, "ca.pem");
    const keyPath = join(dir, "ca.key");
    let ca: CertificateAuthority;
    if (exists(certPath) || exists(keyPath)) {
      try {
        ca = loadCertificateAuthority(
          Deno.readTextFileSync(certPath),
          Deno.readTextFileSync(keyPath),
        );
      } catch (error) {
        throw new Error(`the CA in ${dir} cannot be used: ${(error as Error).message}`);
      }
    } else {
      ca = createCertificateAuthority("lunatic control CA");
      // The key first, private from its creation; then the certificate that makes it usable.
      Deno.writeTextFileSync(keyPath, ca.key.keyPem, { mode: 0o600, createNew: true });
      Deno.writeTextFileSync(certPath, ca.certPem);
    }
    let highest = 0;
    for (const entry of Deno.readDirSync(join(dir, "modules"))) {
      const id = entry.name.match(/^(\d+)\.wasm$/)?.[1];
      if (id !== undefined) highest = Math.max(highest, Number(id));
    }
    return new ControlStore(dir, ca, highest + 1);
  }

  /** Stores module bytes under the next module ID (IDs start at 1). */
  addModule(bytes: Uint8Array): number {
    const id = this.#nextModuleId++;
    const path = this.#modulePath(id);
    // Written aside and renamed, so a crash never leaves half a module under its ID.
    Deno.writeFileSync(`${path}.partial`, bytes);
    Deno.renameSync(`${path}.partial`, path);
    return id;
  }

  /** A module's bytes, or null when there is no module `id`. */
  module(id: number): Uint8Array | null {
    if (!Number.isSafeInteger(id) || id < 1) return null;
    try {
      return Deno.readFileSync(this.#modulePath(id));
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return null;
      throw error;
    }
  }

  #modulePath(id: number): string {
    return join(this.#dir, "modules", `${id}.wasm`);
  }
}

function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}
