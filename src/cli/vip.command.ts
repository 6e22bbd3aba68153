/** `cellule vip sidecar [--pool URL] [--data-dir DIR] [--run-dir DIR]`: keepalived beside a pool (src/vip-sidecar/). */
import { join } from "node:path";
import type { Command } from "commander";
import { readSidecarToken } from "../pool/vip/sidecar-token.js";
import { CliError } from "../shared/errors.js";
import { moduleLogger } from "../shared/logger.js";
import { Sidecar } from "../vip-sidecar/sidecar.js";
import { action } from "./run.js";

export function registerVipCommand(program: Command): Command {
  const vip = program.command("vip").description("The HA virtual IP (keepalived VRRP, admin guide §4.7)");
  vip
    .command("sidecar")
    .description("Run keepalived for the local pool: settings from its /v1/cluster/vip-self, reloaded when they change (run as root: it binds the VIP)")
    .option("--pool <url>", "the local pool's URL", process.env.CELLULE_VIP_POOL_URL ?? "http://127.0.0.1:18080")
    .option("--data-dir <dir>", "the pool's data dir (holds vip-sidecar.token)", process.env.CELLULE_DATA_DIR ?? "./data")
    .option("--run-dir <dir>", "where keepalived.conf, its scripts and pid files go (default DATA_DIR/vip-sidecar)")
    .option("--keepalived <path>", "the keepalived binary", "keepalived")
    .option("--interval-ms <ms>", "how often the settings are fetched", "2000")
    .action(
      action(async (opts: { pool: string; dataDir: string; runDir?: string; keepalived: string; intervalMs: string }) => {
        let token: string;
        try {
          token = readSidecarToken(opts.dataDir);
        } catch (err) {
          throw new CliError(`cannot read the sidecar token in ${opts.dataDir} (start the pool once first, and run the sidecar as a user who can read its data dir): ${(err as Error).message}`);
        }
        const intervalMs = Number(opts.intervalMs);
        if (!Number.isInteger(intervalMs) || intervalMs < 200) throw new CliError("--interval-ms must be an integer ≥ 200");
        const sidecar = new Sidecar({ poolUrl: opts.pool, token, runDir: opts.runDir ?? join(opts.dataDir, "vip-sidecar"), keepalived: opts.keepalived, intervalMs });
        const log = moduleLogger("vip.sidecar");
        log.info({ pool: opts.pool }, "vip sidecar started");
        sidecar.run();
        await new Promise<void>((resolve) => {
          const onSignal = (signal: string) => {
            log.info({ signal }, "vip sidecar: stopping keepalived");
            sidecar.stop().then(resolve, resolve);
          };
          process.once("SIGTERM", onSignal);
          process.once("SIGINT", onSignal);
        });
        log.info("vip sidecar stopped");
      }),
    );
  return vip;
}
