/** `cellule backup --out FILE` and `cellule restore --from FILE --data-dir DIR` (src/ops/). */
import type { Command } from "commander";
import { keyDirOf, loadPoolConfig, poolConfigPathOf, storageDirOf } from "../config/pool.config.js";
import { createBackup } from "../ops/backup.service.js";
import { restoreBackup } from "../ops/restore.service.js";
import { configureLogging } from "../shared/logger.js";
import { action, givenFlags } from "./run.js";

const progress = (line: string) => process.stderr.write(`${line}\n`);

export function registerBackupCommand(program: Command): Command {
  return program
    .command("backup")
    .description("Write one archive (mode 0600) of the pool's database, documents, keys and config file; works while the pool runs and serves")
    .requiredOption("--out <file>", "archive to write (.tar.gz); never overwritten")
    .option("--data-dir <dir>", "pool data directory (env CELLULE_DATA_DIR, default ./data)")
    .option("--config <file>", "pool JSON config file (env CELLULE_CONFIG); archived too")
    .action(
      action(async (opts: Record<string, unknown>) => {
        configureLogging("warn");
        const configFile = poolConfigPathOf(process.env, opts.config as string | undefined);
        const config = loadPoolConfig({ flags: givenFlags(opts, ["dataDir"]), env: process.env, configFile });
        const manifest = await createBackup({ out: String(opts.out), config, configFile, progress });
        process.stdout.write(`${String(opts.out)}: pool ${manifest.poolId ?? "(no keys)"}, schema ${manifest.schemaVersion ?? "?"}, ${manifest.files.length} file(s)\n`);
      }),
    );
}

export function registerRestoreCommand(program: Command): Command {
  return program
    .command("restore")
    .description("Restore a `cellule backup` archive into a data dir; the pool must be stopped")
    .requiredOption("--from <file>", "archive written by `cellule backup`")
    .requiredOption("--data-dir <dir>", "data directory to restore into (created if missing)")
    .option("--force", "replace the content of a non-empty data dir (and documents/keys dirs)")
    .action(
      action(async (opts: Record<string, unknown>) => {
        configureLogging("warn");
        const config = loadPoolConfig({ flags: givenFlags(opts, ["dataDir"]), env: process.env, configFile: poolConfigPathOf(process.env) });
        const result = await restoreBackup({
          from: String(opts.from),
          dataDir: config.dataDir,
          force: opts.force === true,
          databaseUrl: config.databaseUrl,
          storageDir: storageDirOf(config),
          keyDir: keyDirOf(config),
          progress,
        });
        process.stdout.write(`Restored into ${config.dataDir}: pool ${result.poolId ?? "(no keys)"}, schema ${result.schemaVersion ?? "?"}. Start the pool on it (cellule pool --data-dir ${config.dataDir}); newer migrations run at boot.\n`);
      }),
    );
}
