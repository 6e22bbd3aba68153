/** `cellule service install pool|worker`: the systemd unit and its environment file (src/ops/service-install.ts). */
import type { Command } from "commander";
import { installService } from "../ops/service-install.js";
import { CliError } from "../shared/errors.js";
import { action } from "./run.js";

const collect = (value: string, previous: string[]) => [...previous, value];

export function registerServiceCommand(program: Command): Command {
  const service = program.command("service").description("Run Cellule as a system service (systemd)");
  service
    .command("install")
    .description("Install cellule-pool.service or cellule-worker.service: unit, env file (0600), user, enable --now")
    .argument("<role>", "pool or worker")
    .option("--root <dir>", "install under this prefix (packagers, tests): files only, no user, no systemctl", "/")
    .option("--no-start", "install and enable nothing: write the files and daemon-reload only")
    .option("--user <name>", "the dedicated user the service runs as (created if missing)", "cellule")
    .option("--bin <path>", "the cellule command for ExecStart (default: this installation, node + its main.js)")
    .option("--data-dir <dir>", "pool: data directory (default /var/lib/cellule)")
    .option("--config <file>", "worker: its config file (default /opt/cellule/config.json)")
    .option("--home <dir>", "worker: its install directory (default: the config file's directory)")
    .option("--env <KEY=VALUE>", "a variable for the environment file (repeatable)", collect, [] as string[])
    .action(
      action(async (role: string, opts: Record<string, unknown>) => {
        if (role !== "pool" && role !== "worker") throw new CliError(`Unknown role ${role}: pool or worker.`);
        const env: Record<string, string> = {};
        for (const pair of opts.env as string[]) {
          const m = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(pair);
          if (!m) throw new CliError(`--env ${pair}: expected KEY=VALUE`);
          env[m[1]!] = m[2]!;
        }
        installService({
          role,
          root: String(opts.root),
          user: String(opts.user),
          start: opts.start !== false,
          bin: opts.bin as string | undefined,
          dataDir: opts.dataDir as string | undefined,
          config: opts.config as string | undefined,
          home: opts.home as string | undefined,
          env,
          progress: (line) => process.stderr.write(`${line}\n`),
        });
        await Promise.resolve();
      }),
    );
  return service;
}
