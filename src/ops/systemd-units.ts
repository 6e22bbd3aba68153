/**
 * The systemd units of Cellule, rendered from appliance/systemd/*.service: those files are the one
 * source of truth for the unit text (`cellule service install` and the workers' provisioning
 * start.sh, which calls it, both render them); only the lines that depend on the host change.
 */
import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** dist/ops/ and src/ops/ both sit two levels under the package root. */
export const UNITS_DIR = resolve(dirname(fileURLToPath(import.meta.url)), "../../appliance/systemd");

export type ServiceRole = "pool" | "worker";
export const unitName = (role: ServiceRole) => `cellule-${role}.service`;

export interface UnitValues {
  /** The service user (its primary group applies: no Group= line, which a distribution may not have made). */
  user: string;
  /** The command line (already quoted where needed). */
  execStart: string;
  workingDirectory: string;
  environmentFile: string;
  /** The paths the service may write (ProtectSystem=strict makes the rest read-only). */
  readWritePaths: string[];
  /** PATH for the service: the node binary's directory first (ExecStart may be a `#!/usr/bin/env node` script). */
  path: string;
  /** Pool only: CELLULE_DATA_DIR (the env file may still set another). */
  dataDir?: string | undefined;
}

/** Quotes a word for a unit's command line when it needs it. */
export const quoteWord = (w: string) => (/^[\w@%+=:,./-]+$/.test(w) ? w : `"${w.replace(/(["\\])/g, "\\$1")}"`);

/** The unit text of `role` with the host's values in place of the template's defaults. */
export function renderUnit(role: ServiceRole, v: UnitValues, template = readFileSync(resolve(UNITS_DIR, unitName(role)), "utf8")): string {
  const lines = template.split("\n").map((line) => {
    const key = /^([A-Za-z]+)=/.exec(line)?.[1] ?? "";
    switch (key) {
      case "User":
        return `User=${v.user}`;
      case "ExecStart":
        return `ExecStart=${v.execStart}`;
      case "WorkingDirectory":
        return `WorkingDirectory=${v.workingDirectory}`;
      case "EnvironmentFile":
        return `EnvironmentFile=-${v.environmentFile}`;
      case "ReadWritePaths":
        return `ReadWritePaths=${v.readWritePaths.map(quoteWord).join(" ")}`;
      case "StateDirectory":
      case "StateDirectoryMode":
        // Only for the default /var/lib/cellule: another data dir is created by the installer.
        return v.readWritePaths.includes("/var/lib/cellule") ? line : undefined;
      case "Environment":
        if (line.startsWith("Environment=PATH=")) return `Environment=${quoteWord(`PATH=${v.path}`)}`;
        if (line.startsWith("Environment=CELLULE_DATA_DIR=") && v.dataDir) return `Environment=${quoteWord(`CELLULE_DATA_DIR=${v.dataDir}`)}`;
        return line;
      default:
        return line;
    }
  });
  const out = lines.filter((l): l is string => l !== undefined);
  // The pool's template has no PATH line: add one after its EnvironmentFile.
  if (!out.some((l) => l.startsWith("Environment=PATH="))) {
    const at = out.findIndex((l) => l.startsWith("EnvironmentFile="));
    out.splice(at + 1, 0, `Environment=${quoteWord(`PATH=${v.path}`)}`);
  }
  return out.join("\n");
}
