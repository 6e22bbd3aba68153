/**
 * `cellule service install pool|worker`: writes the rendered unit (systemd-units.ts) and its
 * environment file (mode 0600: it may hold secrets), creates the service user and its directories,
 * then daemon-reload and enable --now when systemd runs. `--root` installs under a prefix (tests,
 * packagers): files only, no user, no systemctl. The host is reached through `HostOps` so the steps
 * are testable.
 */
import { execFileSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { CliError } from "../shared/errors.js";
import { quoteWord, renderUnit, unitName, type ServiceRole } from "./systemd-units.js";

export interface HostOps {
  isRoot(): boolean;
  systemdRunning(): boolean;
  userExists(name: string): boolean;
  /** Runs a command, throwing CliError with its stderr on failure. */
  run(cmd: string, args: string[]): void;
}

export const realHost: HostOps = {
  isRoot: () => process.getuid?.() === 0,
  systemdRunning: () => existsSync("/run/systemd/system"),
  userExists(name) {
    try {
      execFileSync("id", ["-u", name], { stdio: "ignore" });
      return true;
    } catch {
      return false;
    }
  },
  run(cmd, args) {
    try {
      execFileSync(cmd, args, { stdio: ["ignore", "ignore", "pipe"] });
    } catch (err) {
      const stderr = String((err as { stderr?: Buffer }).stderr ?? "").trim();
      throw new CliError(`${cmd} ${args.join(" ")} failed${stderr ? `: ${stderr}` : ""}`);
    }
  },
};

export interface InstallOptions {
  role: ServiceRole;
  /** Install prefix ("/" for the real system). */
  root: string;
  user: string;
  start: boolean;
  /** The cellule command to run; default this very install (node + its dist/cli/main.js). */
  bin?: string | undefined;
  /** Pool: its data dir (default /var/lib/cellule). */
  dataDir?: string | undefined;
  /** Worker: its config file (default /opt/cellule/config.json) and home (default the config's dir). */
  config?: string | undefined;
  home?: string | undefined;
  /** Variables to set in the environment file (merged into an existing one). */
  env: Record<string, string>;
  progress: (line: string) => void;
}

export interface Installed {
  unitPath: string;
  envPath: string;
  started: boolean;
}

const CLI_MAIN = resolve(dirname(fileURLToPath(import.meta.url)), "../cli/main.js");

/** KEY=VALUE lines of an environment file (comments and blanks skipped). */
export function parseEnvFile(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split("\n")) {
    const m = /^\s*([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line);
    if (m) out[m[1]!] = m[2]!.replace(/^"(.*)"$/, "$1");
  }
  return out;
}

const under = (root: string, path: string) => (root === "/" ? path : join(root, path));

export function installService(opts: InstallOptions, host: HostOps = realHost): Installed {
  const { role, root, user, progress } = opts;
  if (!/^[a-z_][a-z0-9_-]*$/.test(user)) throw new CliError(`Invalid user name: ${user}`);
  const system = root === "/";
  if (system && !host.isRoot()) throw new CliError("Installing a service needs root (sudo cellule service install …), or --root DIR to write the files under a prefix.");
  const envPath = `/etc/cellule/${role}.env`;
  const unitPath = `/etc/systemd/system/${unitName(role)}`;

  const envFile = under(root, envPath);
  const env = { ...(existsSync(envFile) ? parseEnvFile(readFileSync(envFile, "utf8")) : {}), ...opts.env };
  const command = opts.bin ? [quoteWord(opts.bin)] : [quoteWord(process.execPath), quoteWord(CLI_MAIN)];
  const nodeDir = dirname(process.execPath);
  const path = `${nodeDir}:/usr/local/bin:/usr/bin:/bin`;
  let writable: string[];
  let workingDirectory: string;
  let execStart: string;
  let dataDir: string | undefined;
  if (role === "pool") {
    dataDir = resolve(opts.dataDir ?? env.CELLULE_DATA_DIR ?? "/var/lib/cellule");
    env.CELLULE_DATA_DIR = dataDir;
    // Documents and keys may live elsewhere (CELLULE_STORAGE_DIR, CELLULE_FED_KEY_DIR): writable too.
    writable = [dataDir, env.CELLULE_STORAGE_DIR, env.CELLULE_FED_KEY_DIR].filter((p): p is string => !!p).map((p) => resolve(p));
    workingDirectory = dataDir;
    execStart = [...command, "pool"].join(" ");
  } else {
    const config = resolve(opts.config ?? "/opt/cellule/config.json");
    const home = resolve(opts.home ?? dirname(config));
    writable = [...new Set([home, dirname(config)])];
    workingDirectory = home;
    execStart = [...command, "worker", "--config", quoteWord(config)].join(" ");
  }
  const unit = renderUnit(role, { user, execStart, workingDirectory, environmentFile: envPath, readWritePaths: writable, path, dataDir });

  mkdirSync(dirname(under(root, unitPath)), { recursive: true });
  writeFileSync(under(root, unitPath), unit, { mode: 0o644 });
  chmodSync(under(root, unitPath), 0o644);
  progress(`service: wrote ${under(root, unitPath)}`);
  mkdirSync(dirname(envFile), { recursive: true, mode: 0o755 });
  const envText = `# Environment of ${unitName(role)} (written by cellule service install; mode 0600: it may hold secrets)\n${Object.entries(env)
    .map(([k, v]) => `${k}=${v}`)
    .join("\n")}\n`;
  writeFileSync(envFile, envText, { mode: 0o600 });
  chmodSync(envFile, 0o600);
  progress(`service: wrote ${envFile} (0600)`);
  for (const dir of writable) mkdirSync(under(root, dir), { recursive: true, mode: 0o700 });

  if (!system) {
    progress(`service: installed under ${root} (no user created, systemctl not called)`);
    return { unitPath: under(root, unitPath), envPath: envFile, started: false };
  }
  const started = activateService(role, { user, writable, workingDirectory, start: opts.start }, host, progress);
  return { unitPath, envPath, started };
}

/** The system part of an install: the user, the ownership of its paths, systemctl. True once started. */
export function activateService(
  role: ServiceRole,
  opts: { user: string; writable: string[]; workingDirectory: string; start: boolean },
  host: HostOps,
  progress: (line: string) => void,
): boolean {
  const { user } = opts;
  if (!host.userExists(user)) {
    host.run("useradd", ["--system", "--user-group", "--home-dir", opts.workingDirectory, "--no-create-home", "--shell", "/usr/sbin/nologin", user]);
    progress(`service: created the system user ${user}`);
  }
  for (const dir of opts.writable) host.run("chown", ["-R", `${user}:`, dir]);
  if (!host.systemdRunning()) {
    progress(`service: systemd is not running here; start it later with: systemctl enable --now ${unitName(role)}`);
    return false;
  }
  host.run("systemctl", ["daemon-reload"]);
  if (!opts.start) {
    progress(`service: installed, not started (--no-start): systemctl enable --now ${unitName(role)}`);
    return false;
  }
  host.run("systemctl", ["enable", "--now", unitName(role)]);
  progress(`service: started. Status: systemctl status ${unitName(role)}   Logs: journalctl -u ${unitName(role)} -f`);
  return true;
}
